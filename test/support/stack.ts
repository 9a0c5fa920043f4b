import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Pool } from 'pg';
import { Config, loadConfig } from '../../services/common/config';
import { createKafka } from '../../services/common/kafka';
import { createPool, quoteIdent } from '../../services/common/db';
import { committedMessagesOf } from '../../streams/runtime/committed-records';

/** Shared helpers for integration tests against the real stack. Tests share one broker and one PostgreSQL with each
 *  other (and with developers' runs), so everything a test creates carries a unique suffix. */
export const testConfig = (overrides: Partial<Config> = {}): Config => ({
  ...loadConfig({ ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' }),
  ...overrides,
});

export const uniq = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export const testKafka = (name = 'test'): Kafka => createKafka(testConfig(), uniq(name));

/** A registry client that knows nothing but the URL, as a partner's or data engineer's would. */
export const plainRegistryClient = (): SchemaRegistry => new SchemaRegistry({ host: testConfig().schemaRegistryUrl });

export interface ReadRecord<T> {
  readonly key: string | null;
  readonly value: T;
  readonly partition: number;
  readonly offset: string;
  readonly headers: KafkaMessage['headers'];
}

/** Reads `topic` from the beginning with a throw-away group until `until(records)` holds, the timeout passes, or
 *  (with `idleMs`) nothing more came for that long after the first record, decoding each value with a plain registry client. To read a whole
 *  topic, give `idleMs`: a fixed timeout reads only part of it on a loaded machine. */
export const readTopicUntil = async <T = Record<string, unknown>>(
  topic: string,
  until: (records: ReadRecord<T>[]) => boolean,
  opts: {
    timeoutMs?: number;
    idleMs?: number;
    filter?: (r: ReadRecord<T>) => boolean;
    /** Start these partitions at these offsets and the others at their end, instead of reading everything from the
     *  beginning: shared topics such as ocpp.frames grow with every test and benchmark run. */
    startAt?: ReadonlyMap<number, string>;
  } = {},
): Promise<ReadRecord<T>[]> => {
  const registry = plainRegistryClient();
  const kafka = testKafka('reader');
  const consumer: Consumer = kafka.consumer({ groupId: uniq('test-reader'), maxWaitTimeInMs: 200 });
  const out: ReadRecord<T>[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: opts.startAt === undefined });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => resolve(), opts.timeoutMs ?? 20000);
      let idle: NodeJS.Timeout | undefined;
      const stillComing = () => {
        if (opts.idleMs === undefined) return;
        clearTimeout(idle);
        idle = setTimeout(() => {
          clearTimeout(timer);
          resolve();
        }, opts.idleMs);
      };
      consumer
        .run({
          // Read committed as the runtime reads it (kafkajs alone hands out aborted records: committed-records.ts).
          eachBatch: async ({ batch }) => {
            const partition = batch.partition;
            for (const message of committedMessagesOf(batch)) {
              stillComing();
              const value = (await registry.decode(message.value!)) as T;
              const rec: ReadRecord<T> = { key: message.key?.toString() ?? null, value, partition, offset: message.offset, headers: message.headers };
              if (!opts.filter || opts.filter(rec)) out.push(rec);
              if (until(out)) {
                clearTimeout(timer);
                clearTimeout(idle);
                resolve();
              }
            }
          },
        })
        .catch(reject);
      for (const [partition, offset] of opts.startAt ?? []) consumer.seek({ topic, partition, offset });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
};

/** A fresh PostgreSQL schema on the machine's PostgreSQL, dropped by `drop()`. */
export const freshPgSchema = async (prefix = 'test'): Promise<{ pool: Pool; schema: string; drop(): Promise<void> }> => {
  const schema = uniq(prefix).replace(/-/g, '_');
  const config = testConfig();
  const pool = createPool({ url: config.databaseUrl!, embedded: false, schema, max: 4 });
  return {
    pool,
    schema,
    drop: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await pool.end();
    },
  };
};

/** A loopback port nothing listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });

/** Polls `probe` every `everyMs` until it gives a value (a probe that throws counts as "not yet"), and returns it. */
export const waitForValue = async <T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 250): Promise<T> => {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
};
