import * as t from 'io-ts';
import { pipe } from 'fp-ts/function';
import * as E from 'fp-ts/Either';
import { formatErrors } from './decode';

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
  KAFKA_PARTNER_PORT: IntFromString,
  EMBEDDED_DB_PORT: IntFromString,
  GATEWAY_ID: t.string,
  LOG_LEVEL: t.keyof({ debug: null, info: null, warn: null, error: null }),
});

export interface Config {
  readonly kafkaBrokers: readonly string[];
  readonly schemaRegistryUrl: string;
  /** undefined: use the embedded TimescaleDB. */
  readonly databaseUrl: string | undefined;
  readonly ocppPort: number;
  readonly apiPort: number;
  readonly adminKey: string;
  /** Where local state lives: broker data, embedded database, pid files, logs. */
  readonly home: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly partnerKafkaPort: number;
  readonly embeddedDbPort: number;
  readonly gatewayId: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export const defaultRegistryUrl = 'http://127.0.0.1:8081/apis/ccompat/v7';

export const decodeConfig = (env: NodeJS.ProcessEnv): E.Either<string, Config> =>
  pipe(
    Env.decode(env),
    E.mapLeft((errors) => `invalid environment: ${formatErrors(errors).join('; ')}`),
    E.map((e) => ({
      kafkaBrokers: (e.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean),
      schemaRegistryUrl: e.SCHEMA_REGISTRY_URL ?? defaultRegistryUrl,
      databaseUrl: e.DATABASE_URL || undefined,
      ocppPort: e.OCPP_PORT ?? 9000,
      apiPort: e.API_PORT ?? 8080,
      adminKey: e.VOLTSTREAM_ADMIN_KEY ?? 'dev-admin-key',
      home: e.VOLTSTREAM_HOME ?? `${process.cwd()}/.voltstream`,
      partitions: e.KAFKA_PARTITIONS ?? 6,
      replicationFactor: e.KAFKA_REPLICATION_FACTOR ?? 1,
      partnerKafkaPort: e.KAFKA_PARTNER_PORT ?? 9094,
      embeddedDbPort: e.EMBEDDED_DB_PORT ?? 5433,
      gatewayId: e.GATEWAY_ID ?? `gw-${process.pid}`,
      logLevel: e.LOG_LEVEL ?? 'info',
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
