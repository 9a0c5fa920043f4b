import { createHash, randomUUID } from 'node:crypto';
import { Kafka, Producer } from 'kafkajs';
import { createContext } from '../../services/common/context';
import { ServiceContext } from '../../services/common/service';
import { Config } from '../../services/common/config';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { Topics } from '../../schemas/topics';
import { ConfigBody, configKey, configToAvro } from '../../schemas/fleet-config';
import { decodeProviders, Providers } from '../../services/telematics-ingest/providers';
import { RunningTelematics, startTelematics } from '../../services/telematics-ingest/service';
import { signedHeaders } from '../../services/telematics-ingest/auth';
import { plainRegistryClient, ReadRecord, testConfig, testKafka, uniq } from '../support/stack';
import { TelematicsReading } from '../../streams/projections/projection';

/** Test helpers: an ingest on a random port, vehicles configured through fleet.config, posting in each shape. */
export const secrets = { voltstream: 'test-voltstream-key', fleet: 'test-fleet-key', webhook: 'test-webhook-secret' } as const;

export const testProviders = (extra: Record<string, unknown> = {}): Providers => {
  const p = decodeProviders({
    providers: {
      voltstream: { shape: 'voltstream', push: { type: 'api-key', keys: [secrets.voltstream] } },
      'webhook-demo': { shape: 'consumer-car', push: { type: 'hmac-sha256', secrets: [secrets.webhook] } },
      'fleet-demo': { shape: 'fleet-diagnostics', push: { type: 'api-key', keys: [`sha256:${createHash('sha256').update(secrets.fleet).digest('hex')}`] } },
      ...extra,
    },
  });
  if (p._tag === 'Left') throw new Error(p.left.join('; '));
  return p.right;
};

export interface Harness {
  readonly ctx: ServiceContext;
  readonly telematics: RunningTelematics;
  readonly url: (provider: string) => string;
  configureVehicle(provider: string, providerVehicleId: string, vehicleId?: string): Promise<string>;
  stop(): Promise<void>;
}

export const startHarness = async (
  opts: { config?: Partial<Config>; providers?: Providers; produceTimeoutMs?: number } = {},
): Promise<Harness> => {
  const ctx = createContext(testConfig(opts.config), uniq('telematics-test'));
  const telematics = await startTelematics(ctx, { providers: opts.providers ?? testProviders(), port: 0, produceTimeoutMs: opts.produceTimeoutMs, pull: true });
  const producer: Producer = createDurableProducer(ctx.kafka);
  await producer.connect();
  return {
    ctx,
    telematics,
    url: (provider) => `http://127.0.0.1:${telematics.server!.port}/api/v1/telematics/${provider}`,
    configureVehicle: async (provider, providerVehicleId, vehicleId = uniq('veh')) => {
      const body: ConfigBody = {
        type: 'VehicleConfigured',
        vehicleId,
        batteryCapacityKwh: 77,
        maxAcPowerKw: 11,
        maxDcPowerKw: 150,
        consumptionKwhPerKm: 0.18,
        idTags: [],
        telematicsProvider: provider,
        providerVehicleId,
        siteId: null,
      };
      await producer.send({
        topic: Topics.fleetConfig,
        acks: DURABLE_ACKS,
        messages: [{ key: configKey(body), value: await ctx.serde.encode(Topics.fleetConfig, configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'test', body })) }],
      });
      return vehicleId;
    },
    stop: async () => {
      await producer.disconnect();
      await telematics.stop();
      await ctx.pool.end().catch(() => undefined);
    },
  };
};

export interface Posted {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

export const post = async (url: string, body: unknown, headers: Record<string, string> = {}): Promise<Posted> => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: text });
  const raw = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    parsed = { raw };
  }
  return { status: res.status, headers: res.headers, body: parsed };
};

export const apiKey = (key: string) => ({ 'X-Api-Key': key });

export const signed = (body: unknown, nowMs = Date.now(), secret: string = secrets.webhook) => {
  const text = JSON.stringify(body);
  return { text, headers: signedHeaders({ secret }, text, nowMs) };
};

/** A decoded telematics.readings record: the same type the projections fold. */
export type ReadingRecord = TelematicsReading;

/** Offsets of every partition of `topic` now: take a mark before acting, read what was written after it. */
export const markTopic = async (topic: string, kafka: Kafka = testKafka('mark')): Promise<Map<number, number>> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
};

/** Every record of `topic` between `from` (a mark) and the end of the log at call time, decoded with a plain registry
 *  client. Exact: a doubled record would show, and nothing written before the mark is read. */
export const readSince = async <T>(
  topic: string,
  from: Map<number, number>,
  filter: (r: ReadRecord<T>) => boolean = () => true,
  kafka: Kafka = testKafka('reader'),
): Promise<ReadRecord<T>[]> => {
  const to = await markTopic(topic, kafka);
  const todo = new Map([...to].filter(([p, high]) => high > (from.get(p) ?? 0)));
  const out: ReadRecord<T>[] = [];
  if (todo.size === 0) return out;
  const registry = plainRegistryClient();
  const consumer = kafka.consumer({ groupId: uniq('telematics-test-reader'), maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: false });
    // No committed offsets: start each partition at the mark once the group is joined.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const p of todo.keys()) consumer.seek({ topic, partition: p, offset: String(from.get(p) ?? 0) });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), 30000);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ message, partition }) => {
            const end = todo.get(partition);
            const offset = Number(message.offset);
            if (end === undefined || offset < (from.get(partition) ?? 0) || offset >= end) return;
            const value = (await registry.decode(message.value!)) as T;
            const rec: ReadRecord<T> = { key: message.key?.toString() ?? null, value, partition, offset: message.offset, headers: message.headers };
            if (filter(rec)) out.push(rec);
            if (offset === end - 1) todo.delete(partition);
            if (todo.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
};

export type Rejection = { rejectionId: string; provider: string; raw: Buffer; problems: string[]; httpStatus: number; receivedAt: number };

export const rawText = (r: Rejection) => Buffer.from(r.raw).toString('utf8');

export const iso = (ms: number) => new Date(ms).toISOString();
