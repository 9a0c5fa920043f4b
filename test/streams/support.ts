import { Pool } from 'pg';
import { startEmbeddedDb, EmbeddedDb } from '../../infra/database/embedded';
import { createPool } from '../../services/common/db';
import { Kafka, Producer } from 'kafkajs';
import { ensureTopics } from '../../services/common/kafka';
import { createLogger } from '../../services/common/log';
import { createTopicSerde, TopicSerde } from '../../schemas/registry';
import { Topics } from '../../schemas/topics';
import { committedOffsets, RunningProcessor, startKafkaProcessor } from '../../streams/sink/kafka-processor';
import { createNormalizer } from '../../streams/normalizer/processor';
import { endOffsets } from '../../streams/sink/pg-sink';
import { freePort, testConfig, testKafka, uniq } from '../support/stack';

export const embeddedTimescale = async (): Promise<{ db: EmbeddedDb; pool: Pool; stop(): Promise<void> }> => {
  const db = await startEmbeddedDb({ port: await freePort() });
  const pool = createPool({ url: db.url, embedded: true });
  return {
    db,
    pool,
    stop: async () => {
      await pool.end();
      await db.stop();
    },
  };
};

export const quietLog = createLogger('test', 'warn');

/** Uniquely named topics in the roles of the real ones, so a test reads nothing but its own records. */
export interface TestTopics {
  readonly frames: string;
  readonly commandResults: string;
  readonly events: string;
  readonly readings: string;
  readonly config: string;
}

export const createTestTopics = async (kafka: Kafka, partitions = 3): Promise<TestTopics> => {
  const id = uniq('t');
  const topics: TestTopics = {
    frames: `test.${id}.ocpp.frames`,
    commandResults: `test.${id}.ocpp.command-results`,
    events: `test.${id}.charging.events`,
    readings: `test.${id}.telematics.readings`,
    config: `test.${id}.fleet.config`,
  };
  const admin = kafka.admin();
  await admin.connect();
  try {
    const spec = (name: string, p?: number) => ({ name, schemaFile: '', key: '', producer: 'test', configs: {}, ...(p ? { partitions: p } : {}) });
    await ensureTopics(admin, { partitions, replicationFactor: 1 }, [spec(topics.frames), spec(topics.commandResults), spec(topics.events), spec(topics.readings), spec(topics.config, 1)]);
  } finally {
    await admin.disconnect();
  }
  return topics;
};

export const deleteTestTopics = async (kafka: Kafka, t: TestTopics): Promise<void> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: Object.values(t) }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
};

export const testSerde = (): TopicSerde => createTopicSerde(testConfig().schemaRegistryUrl);

/** Produces values encoded with the schema of `schemaTopic` (e.g. ocpp.frames) to `topic`. */
export const produce = async (kafka: Kafka, serde: TopicSerde, topic: string, schemaTopic: string, records: readonly { key: string; value: unknown }[]): Promise<void> => {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const messages = [];
    for (const r of records) messages.push({ key: r.key, value: await serde.encode(schemaTopic, r.value) });
    for (let i = 0; i < messages.length; i += 2000) await producer.send({ topic, messages: messages.slice(i, i + 2000), acks: -1 });
  } finally {
    await producer.disconnect();
  }
};

/** Waits until a consumer group has committed every partition of `topics` up to the current end of the log. */
export const waitForGroup = async (kafka: Kafka, groupId: string, topics: readonly string[], timeoutMs = 60_000): Promise<void> => {
  const targets = await endOffsets(kafka, topics);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = await committedOffsets(kafka, groupId, topics);
    if ([...targets].every(([tp, end]) => end === 0 || (done.get(tp) ?? -1) >= end)) return;
    if (Date.now() > deadline) throw new Error(`group ${groupId} did not catch up: ${JSON.stringify([...done])} vs ${JSON.stringify([...targets])}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

export { Topics, testKafka };

/** The normalizer as a transactional Kafka processor over a test's own topics. */
export const startTestNormalizer = (kafka: Kafka, serde: TopicSerde, topics: TestTopics, groupId: string): Promise<RunningProcessor> =>
  startKafkaProcessor({
    name: 'normalizer',
    groupId,
    transactionalId: uniq('normalizer-tx'),
    inputs: [topics.frames, topics.commandResults],
    output: topics.events,
    kafka,
    serde,
    log: quietLog,
    processor: createNormalizer({ frames: topics.frames, commandResults: topics.commandResults }),
  });

/** A topic of one partition and a connected transactional producer per id (transactional id `<topic>-<id>`), for
 *  tests of reads across open and aborted transactions; `remove` disconnects them and deletes the topic. */
export const transactionalProducers = async (kafka: Kafka, topic: string, ids: readonly string[]): Promise<{ producers: Producer[]; remove: () => Promise<void> }> => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
  await admin.disconnect();
  const producers: Producer[] = [];
  for (const id of ids) {
    const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1, transactionalId: `${topic}-${id}` });
    await p.connect();
    producers.push(p);
  }
  const remove = async () => {
    for (const p of producers) await p.disconnect();
    const a = kafka.admin();
    await a.connect();
    await a.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await a.disconnect();
  };
  return { producers, remove };
};
