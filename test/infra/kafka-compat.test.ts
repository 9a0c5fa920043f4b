import { Admin, Consumer, EachMessagePayload, Kafka } from 'kafkajs';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { testKafka, uniq } from '../support/stack';
import { KAFKA_VERSION } from '../../infra/versions';

/** Proves kafkajs 2.2.4 works with the broker version the stack runs (Kafka 4 removed old protocol versions, KIP-896). */
describe(`kafkajs against Apache Kafka ${KAFKA_VERSION} (KRaft)`, () => {
  let kafka: Kafka;
  let admin: Admin;
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    kafka = testKafka('compat');
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.disconnect().catch(() => undefined)));
    await admin.disconnect();
  });

  const createTopic = async (partitions: number): Promise<string> => {
    const topic = uniq('compat');
    const created = await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
    expect(created).toBe(true);
    return topic;
  };

  test('admin creates a topic with the requested partitions and config', async () => {
    const topic = uniq('compat-admin');
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] }],
    });
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]!.partitions).toHaveLength(3);
    const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['retention.ms'] }] });
    expect(configs.resources[0]!.configEntries[0]!.configValue).toBe('-1');
    // creating it again is refused, not silently accepted
    await expect(admin.createTopics({ topics: [{ topic }] })).resolves.toBe(false);
  });

  test('idempotent producer with acks from all in-sync replicas, read back in order', async () => {
    const topic = await createTopic(1);
    const producer = createDurableProducer(kafka);
    await producer.connect();
    for (let i = 0; i < 50; i++) {
      const [meta] = await producer.send({ topic, acks: DURABLE_ACKS, messages: [{ key: 'k', value: `m${i}` }] });
      expect(meta!.errorCode).toBe(0);
    }
    await producer.disconnect();
    const values: string[] = [];
    const consumer = kafka.consumer({ groupId: uniq('compat-read'), maxWaitTimeInMs: 100 });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value!.toString());
          if (values.length === 50) resolve();
        },
      });
    });
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });

  test('a consumer group rebalances partitions across two consumers, each message consumed once', async () => {
    const topic = await createTopic(4);
    const groupId = uniq('compat-group');
    const seen = new Map<string, string>();
    const assigned = new Map<string, number[]>();
    const handler = (name: string) => async ({ message }: EachMessagePayload) => {
      seen.set(message.value!.toString(), name);
    };
    const start = async (name: string) => {
      const c = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 10000, heartbeatInterval: 500 });
      consumers.push(c);
      c.on(c.events.GROUP_JOIN, (e) => assigned.set(name, e.payload.memberAssignment[topic] ?? []));
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({ eachMessage: handler(name) });
      return c;
    };
    await start('a');
    await waitFor(() => (assigned.get('a')?.length ?? 0) === 4);
    await start('b');
    await waitFor(() => (assigned.get('a')?.length ?? 0) > 0 && (assigned.get('b')?.length ?? 0) > 0 && (assigned.get('a')!.length + assigned.get('b')!.length) === 4);
    expect(new Set([...assigned.get('a')!, ...assigned.get('b')!]).size).toBe(4);

    const producer = createDurableProducer(kafka);
    await producer.connect();
    await producer.send({ topic, acks: DURABLE_ACKS, messages: Array.from({ length: 40 }, (_, i) => ({ key: `key-${i}`, value: `v${i}` })) });
    await producer.disconnect();
    await waitFor(() => seen.size === 40);
    expect(new Set(seen.values())).toEqual(new Set(['a', 'b']));
  });

  test('transactional produce with consumer offsets: committed visible, aborted not', async () => {
    const input = await createTopic(1);
    const output = await createTopic(1);
    const producer = createDurableProducer(kafka);
    await producer.connect();
    await producer.send({ topic: input, acks: DURABLE_ACKS, messages: [{ value: 'a' }, { value: 'b' }] });
    await producer.disconnect();

    const groupId = uniq('compat-tx');
    const tx = createDurableProducer(kafka, { transactionalId: uniq('compat-txid') });
    await tx.connect();
    const t1 = await tx.transaction();
    await t1.send({ topic: output, messages: [{ value: 'A' }] });
    await t1.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '1' }] }] });
    await t1.commit();
    const t2 = await tx.transaction();
    await t2.send({ topic: output, messages: [{ value: 'ABORTED' }] });
    await t2.abort();
    const t3 = await tx.transaction();
    await t3.send({ topic: output, messages: [{ value: 'B' }] });
    await t3.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '2' }] }] });
    await t3.commit();
    await tx.disconnect();

    const offsets = await admin.fetchOffsets({ groupId, topics: [input] });
    expect(offsets[0]!.partitions[0]!.offset).toBe('2');

    const values: string[] = [];
    const reader = kafka.consumer({ groupId: uniq('compat-rc'), readUncommitted: false, maxWaitTimeInMs: 100 });
    consumers.push(reader);
    await reader.connect();
    await reader.subscribe({ topic: output, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
    await waitFor(() => values.length >= 2);
    await new Promise((r) => setTimeout(r, 500));
    expect(values).toEqual(['A', 'B']);
  });
});

const waitFor = async (cond: () => boolean, timeoutMs = 30000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
};
