import * as t from 'io-ts';
import { pipe } from 'fp-ts/function';
import * as E from 'fp-ts/Either';
import { formatErrors } from './decode';
import { hostPort, hostToReach } from './addresses';

/** Environment of every Voltstream process, decoded once at the edge. Defaults follow ../shared/CONTRACT.md. */
const IntFromString = new t.Type<number, string, unknown>(
  'IntFromString',
  (u): u is number => typeof u === 'number' && Number.isInteger(u),
  (u, c) => {
    if (typeof u !== 'string' || !/^\d+$/.test(u.trim())) return t.failure(u, c, 'expected a whole number');
    return t.success(Number(u));
  },
  String,
);

const Env = t.partial({
  KAFKA_BROKERS: t.string,
  SCHEMA_REGISTRY_URL: t.string,
  DATABASE_URL: t.string,
  OCPP_PORT: IntFromString,
  API_PORT: IntFromString,
  VOLTSTREAM_ADMIN_KEY: t.string,
  VOLTSTREAM_HOME: t.string,
  KAFKA_PARTITIONS: IntFromString,
  KAFKA_REPLICATION_FACTOR: IntFromString,
  KAFKA_MIN_INSYNC_REPLICAS: IntFromString,
  KAFKA_PARTNER_PORT: IntFromString,
  KAFKA_CONTROLLER_PORT: IntFromString,
  KAFKA_LISTEN_HOSTS: t.string,
  REGISTRY_HOST: t.string,
  EMBEDDED_DB_HOST: t.string,
  OCPP_HOST: t.string,
  API_HOST: t.string,
  HEALTH_HOST: t.string,
  EMBEDDED_DB_PORT: IntFromString,
  GATEWAY_ID: t.string,
  LOG_LEVEL: t.keyof({ debug: null, info: null, warn: null, error: null }),
  VOLTSTREAM_MODE: t.keyof({ development: null, production: null }),
  KAFKA_SASL_MECHANISM: t.keyof({ 'SCRAM-SHA-256': null, 'SCRAM-SHA-512': null, 'scram-sha-256': null, 'scram-sha-512': null }),
  KAFKA_SASL_USERNAME: t.string,
  KAFKA_SASL_PASSWORD: t.string,
  KAFKA_TLS: t.keyof({ '0': null, '1': null, true: null, false: null }),
  KAFKA_TLS_CA_FILE: t.string,
});
type Env = t.TypeOf<typeof Env>;

/** development: the local stack's conveniences (anonymous Kafka listener, default keys) are allowed, and said aloud.
 *  production (the default when VOLTSTREAM_MODE is unset): services authenticate to Kafka and refuse default secrets. */
export type Mode = 'development' | 'production';

export interface KafkaSasl {
  readonly mechanism: 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

export interface KafkaTls {
  /** PEM file of the CA that signed the brokers' certificates; undefined: the system's trusted CAs. */
  readonly caFile: string | undefined;
}

export interface Config {
  readonly kafkaBrokers: readonly string[];
  readonly schemaRegistryUrl: string;
  /** undefined: use the embedded TimescaleDB. */
  readonly databaseUrl: string | undefined;
  readonly ocppPort: number;
  /** Bind address of the charger-facing listeners (OCPP_HOST). */
  readonly ocppHost: string;
  readonly apiPort: number;
  /** Bind address of the HTTP API (API_HOST). */
  readonly apiHost: string;
  /** Bind address of every service's health listener (HEALTH_HOST); `voltstream start` dials them there. */
  readonly healthHost: string;
  readonly adminKey: string;
  /** Where local state lives: broker data, embedded database, pid files, logs. */
  readonly home: string;
  readonly partitions: number;
  /** undefined: min(3, brokers in the cluster), asked of the cluster when topics are created. */
  readonly replicationFactor: number | undefined;
  /** undefined: min(2, the topic's replication factor). */
  readonly minInsyncReplicas: number | undefined;
  readonly partnerKafkaPort: number;
  readonly kafkaControllerPort: number;
  /** Bind addresses of the local brokers' listeners, one per broker or one for all (KAFKA_LISTEN_HOSTS); empty: each
   *  broker binds to the host it is advertised at (its KAFKA_BROKERS entry). */
  readonly kafkaListenHosts: readonly string[];
  /** Bind address of the local schema registry (REGISTRY_HOST). */
  readonly registryHost: string;
  readonly embeddedDbPort: number;
  /** Bind address of the embedded database (EMBEDDED_DB_HOST). */
  readonly embeddedDbHost: string;
  readonly gatewayId: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly mode: Mode;
  /** undefined: no explicit credentials (createKafka then uses the local stack's service user, if it has one). */
  readonly kafkaSasl: KafkaSasl | undefined;
  /** undefined: plain TCP to the brokers. */
  readonly kafkaTls: KafkaTls | undefined;
}

export const defaultAdminKey = 'dev-admin-key';

const decodeSasl = (e: Env): E.Either<string, KafkaSasl | undefined> => {
  const given = (['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const).filter((k) => e[k]);
  if (given.length === 0) return e.KAFKA_SASL_MECHANISM ? E.left('invalid environment: KAFKA_SASL_MECHANISM is set but KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are not') : E.right(undefined);
  if (given.length === 1) return E.left(`invalid environment: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD go together, only ${given[0]} is set`);
  const mechanism = (e.KAFKA_SASL_MECHANISM ?? 'SCRAM-SHA-512').toLowerCase() as KafkaSasl['mechanism'];
  return E.right({ mechanism, username: e.KAFKA_SASL_USERNAME!, password: e.KAFKA_SASL_PASSWORD! });
};

const decodeTls = (e: Env): KafkaTls | undefined =>
  e.KAFKA_TLS === '1' || e.KAFKA_TLS === 'true' || (e.KAFKA_TLS_CA_FILE && e.KAFKA_TLS !== '0' && e.KAFKA_TLS !== 'false') ? { caFile: e.KAFKA_TLS_CA_FILE || undefined } : undefined;

export const defaultRegistryUrl = 'http://127.0.0.1:8081/apis/ccompat/v7';
/** Without SCHEMA_REGISTRY_URL, the registry this machine's stack runs, where REGISTRY_HOST binds it. */
const localRegistryUrl = (registryHost: string): string => `http://${hostPort(hostToReach(registryHost), 8081)}/apis/ccompat/v7`;

const checkReplication = (e: Env): E.Either<string, Env> => {
  if (e.KAFKA_REPLICATION_FACTOR === 0) return E.left('invalid environment: KAFKA_REPLICATION_FACTOR must be at least 1');
  if (e.KAFKA_MIN_INSYNC_REPLICAS === 0) return E.left('invalid environment: KAFKA_MIN_INSYNC_REPLICAS must be at least 1');
  if (e.KAFKA_REPLICATION_FACTOR !== undefined && e.KAFKA_MIN_INSYNC_REPLICAS !== undefined && e.KAFKA_MIN_INSYNC_REPLICAS > e.KAFKA_REPLICATION_FACTOR)
    return E.left(
      `invalid environment: KAFKA_MIN_INSYNC_REPLICAS (${e.KAFKA_MIN_INSYNC_REPLICAS}) exceeds KAFKA_REPLICATION_FACTOR (${e.KAFKA_REPLICATION_FACTOR}): no durable write could ever be acknowledged`,
    );
  return E.right(e);
};

const list = (s: string | undefined): string[] => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);

export const decodeConfig = (env: NodeJS.ProcessEnv): E.Either<string, Config> =>
  pipe(
    Env.decode(env),
    E.mapLeft((errors) => `invalid environment: ${formatErrors(errors).join('; ')}`),
    E.chain(checkReplication),
    E.chain((e) => pipe(decodeSasl(e), E.map((kafkaSasl) => ({ e, kafkaSasl })))),
    E.map(({ e, kafkaSasl }) => ({
      kafkaBrokers: list(e.KAFKA_BROKERS ?? '127.0.0.1:9092'),
      schemaRegistryUrl: e.SCHEMA_REGISTRY_URL ?? localRegistryUrl(e.REGISTRY_HOST || '127.0.0.1'),
      databaseUrl: e.DATABASE_URL || undefined,
      ocppPort: e.OCPP_PORT ?? 9000,
      ocppHost: e.OCPP_HOST || '127.0.0.1',
      apiPort: e.API_PORT ?? 8080,
      apiHost: e.API_HOST || '127.0.0.1',
      healthHost: e.HEALTH_HOST || '127.0.0.1',
      adminKey: e.VOLTSTREAM_ADMIN_KEY ?? defaultAdminKey,
      home: e.VOLTSTREAM_HOME ?? `${process.cwd()}/.voltstream`,
      partitions: e.KAFKA_PARTITIONS ?? 6,
      replicationFactor: e.KAFKA_REPLICATION_FACTOR,
      minInsyncReplicas: e.KAFKA_MIN_INSYNC_REPLICAS,
      partnerKafkaPort: e.KAFKA_PARTNER_PORT ?? 9094,
      kafkaControllerPort: e.KAFKA_CONTROLLER_PORT ?? 9093,
      kafkaListenHosts: list(e.KAFKA_LISTEN_HOSTS),
      registryHost: e.REGISTRY_HOST || '127.0.0.1',
      embeddedDbPort: e.EMBEDDED_DB_PORT ?? 5433,
      embeddedDbHost: e.EMBEDDED_DB_HOST || '127.0.0.1',
      gatewayId: e.GATEWAY_ID ?? `gw-${process.pid}`,
      logLevel: e.LOG_LEVEL ?? 'info',
      mode: e.VOLTSTREAM_MODE ?? 'production',
      kafkaSasl,
      kafkaTls: decodeTls(e),
    })),
  );

/** For entry points only: a process with a broken environment cannot do anything useful. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): Config =>
  pipe(
    decodeConfig(env),
    E.getOrElseW((message) => {
      throw new Error(message);
    }),
  );
