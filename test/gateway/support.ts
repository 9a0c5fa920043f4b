/** Helpers for the gateway's integration tests: a service context per gateway instance, chargers and vehicles
 *  configured through fleet.config, and reading topics back from a known offset with a plain registry client. */
import { randomBytes, randomUUID } from 'node:crypto';
import { Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { Config } from '../../services/common/config';
import { createKafka, ensureTopics } from '../../services/common/kafka';
import { createLogger } from '../../services/common/log';
import { createPool, quoteIdent } from '../../services/common/db';
import { loadConfig } from '../../services/common/config';
import { credentialPepper } from '../../services/common/credential-pepper';
import { hashChargerSecret, hashSecret } from '../../services/common/password';
import { ServiceContext } from '../../services/common/service';
import { createHealth } from '../../services/common/health';
import { createTopicSerde, TopicSerde } from '../../schemas/registry';
import { ConfigBody, configKey, configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { plainRegistryClient, testConfig, uniq } from '../support/stack';
import { GENESIS_HASH, frameHash } from '../../schemas/frame-chain';

export const gatewayContext = (overrides: Partial<Config> = {}, pool?: Pool): ServiceContext => {
  const config = testConfig(overrides);
  const metrics = new Registry();
  return {
    config,
    log: createLogger('ocpp-gateway-test', (process.env.GATEWAY_TEST_LOG as 'debug' | undefined) ?? 'error'),
    kafka: createKafka(config, uniq('gw-test')),
    serde: createTopicSerde(config.schemaRegistryUrl),
    pool: pool ?? createPool({ url: config.databaseUrl!, embedded: false, max: 8 }),
    embeddedDb: false,
    metrics,
    health: createHealth(metrics),
  };
};

export const pgSchemaName = (prefix: string) => uniq(prefix).replace(/-/g, '_');

export const dropSchema = async (pool: Pool, schema: string) => {
  await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
};

export const ensureContractTopics = async (kafka: Kafka) => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, { partitions: 6, replicationFactor: 1 });
  } finally {
    await admin.disconnect();
  }
};

export interface ChargerSpec {
  readonly id: string;
  readonly password?: string;
  /** How the password is stored: as the API stores it now (default), or as a scrypt hash made before 2026-12-07. */
  readonly passwordScheme?: 'hmac-sha256' | 'scrypt';
  readonly securityProfile?: number;
  readonly maxSchedulePeriods?: number;
  readonly rateUnit?: string;
}

/** Publishes ChargerConfigured / VehicleConfigured events the way services/api does. */
/** `home`: where the gateway under test finds its credential pepper (its config's home), so the passwords hash as
 *  the API would hash them for that deployment. */
export const configureFleet = async (kafka: Kafka, serde: TopicSerde, chargers: readonly ChargerSpec[], vehicles: readonly { id: string; idTags: string[] }[] = [], home = loadConfig().home) => {
  const bodies: ConfigBody[] = [];
  for (const c of chargers) {
    bodies.push({
      type: 'ChargerConfigured',
      chargePointId: c.id,
      siteId: 'site-test',
      maxPowerKw: 22,
      securityProfile: c.securityProfile ?? 1,
      passwordHash: c.password ? (c.passwordScheme === 'scrypt' ? await hashSecret(c.password) : hashChargerSecret(c.password, credentialPepper(home))) : null,
      ownerPartnerId: null,
      phases: 3,
      currentType: 'AC',
      rateUnit: c.rateUnit ?? 'A',
      maxSchedulePeriods: c.maxSchedulePeriods ?? 24,
    });
  }
  for (const v of vehicles) {
    bodies.push({
      type: 'VehicleConfigured',
      vehicleId: v.id,
      batteryCapacityKwh: 60,
      maxAcPowerKw: 11,
      maxDcPowerKw: 50,
      consumptionKwhPerKm: 0.2,
      idTags: v.idTags,
      telematicsProvider: null,
      providerVehicleId: null,
      siteId: null,
    });
  }
  const producer = kafka.producer();
  await producer.connect();
  try {
    const messages = [];
    for (const body of bodies) messages.push({ key: configKey(body), value: await serde.encode(Topics.fleetConfig, configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'test', body })) });
    await producer.send({ topic: Topics.fleetConfig, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
};

export const topicEnds = async (kafka: Kafka, topic: string): Promise<Map<number, number>> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  } finally {
    await admin.disconnect();
  }
};

/** Reads `topic` from the given offsets (e.g. topicEnds() taken before the test) until `until` holds, decoding values
 *  with a registry client that knows nothing but the URL. Keeps only records whose key passes `keyFilter`. */
export const readFrom = async <T = Record<string, unknown>>(
  kafka: Kafka,
  topic: string,
  from: Map<number, number>,
  keyFilter: (key: string) => boolean,
  until: (records: T[]) => boolean,
  timeoutMs = 30000,
): Promise<T[]> => {
  const registry = plainRegistryClient();
  const groupId = uniq('gw-test-reader');
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  const out: T[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => resolve(), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            const key = message.key?.toString() ?? '';
            if (!keyFilter(key) || !message.value) return;
            out.push((await registry.decode(message.value)) as T);
            if (until(out)) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .then(() => {
          for (const [partition, offset] of from) consumer.seek({ topic, partition, offset: String(offset) });
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return out;
};

export const waitFor = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20000, everyMs = 50): Promise<void> => {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
};

/** Answers from the third-party client are plain JSON checked by expect(). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** ocpp-rpc's RPCClient, the third-party OCPP-J client the tests drive (its typings demand every option). */
export interface OcppClient {
  connect(): Promise<unknown>;
  call(method: string, params?: unknown, options?: { callTimeoutMs?: number }): Promise<Json>;
  handle(method: string, fn: (ctx: { params: Json; messageId: string }) => unknown): void;
  close(options?: { code?: number; force?: boolean; awaitPending?: boolean }): Promise<unknown>;
  sendRaw(message: string | Buffer): void;
  on(event: string, fn: (...args: Json[]) => void): void;
  readonly protocol: string;
}

export const ocppClient = (opts: { endpoint: string; identity: string; password?: string; protocols: string[]; reconnect?: boolean; wsOpts?: unknown; callTimeoutMs?: number }): OcppClient => {
  const { RPCClient } = require('ocpp-rpc') as { RPCClient: new (o: unknown) => OcppClient };
  return new RPCClient({ strictMode: true, reconnect: false, ...opts });
};

export interface FrameRec {
  chargePointId: string;
  gatewayId: string;
  protocol: string;
  direction: string;
  kind: string;
  messageTypeId: number | null;
  uniqueId: string | null;
  action: string | null;
  payloadJson: string | null;
  errorCode: string | null;
  errorDescription: string | null;
  commandId: string | null;
  raw: string;
  seq: number | bigint;
  receivedAt: number | Date;
  prevHash: string;
  hash: string;
}

const ms = (v: number | Date) => (v instanceof Date ? v.getTime() : Number(v));

/** Recomputes the chain exactly as `voltstream verify` does. */
export const checkChain = (frames: FrameRec[]) => {
  let prev = GENESIS_HASH;
  frames.forEach((f, i) => {
    expect(Number(f.seq)).toBe(i + 1);
    expect(f.prevHash).toBe(prev);
    const h = frameHash(prev, { ...f, seq: Number(f.seq), receivedAt: ms(f.receivedAt) });
    expect(f.hash).toBe(h);
    prev = f.hash;
  });
};


/** A MeterValues payload carrying the counter `n`, in either OCPP version (load loops of the outage and cluster tests). */
export const meterValuesPayload = (protocol: string, n: number) =>
  protocol === 'ocpp1.6'
    ? { connectorId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: String(n) }] }] }
    : { evseId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: n }] }] };

/** The bytes of an OCPP 1.6 WebSocket upgrade request for `cp` with Basic credentials, for raw-socket tests. */
export const rawUpgradeRequest = (url: string, cp: string, password: string): string => {
  const { hostname, port } = new URL(url);
  return [
    `GET /ocpp/${encodeURIComponent(cp)} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Protocol: ocpp1.6',
    `Authorization: Basic ${Buffer.from(`${cp}:${password}`).toString('base64')}`,
    '',
    '',
  ].join('\r\n');
};
