import { Kafka, KafkaMessage, Producer } from 'kafkajs';
import { startPartitionReader } from '../../streams/runtime/partition-reader';
import { uniq } from '../support/stack';
import { quietLog, testKafka, transactionalProducers } from './support';

/** kafkajs 2.2.4's read-committed filter against the broker's own: a fetch that starts inside two aborted
 *  transactions (what a SIGKILL mid-batch leaves on a partition several transactional producers write) hands out an
 *  aborted record; the runtime's readers judge records by their markers (streams/runtime/committed-records.ts). */
jest.setTimeout(120_000);

describe('read committed across aborted transactions', () => {
  let kafka: Kafka;
  const topic = `test.${uniq('aborted')}`;
  let remove = async (): Promise<void> => undefined;

  beforeAll(async () => {
    kafka = testKafka('aborted');
    const made = await transactionalProducers(kafka, topic, ['outer', 'inner', 'committed']);
    remove = made.remove;
    const [outer, inner, committed] = made.producers as [Producer, Producer, Producer];
    // Two aborted transactions, one inside the other, then a committed one.
    const o = await outer.transaction();
    await o.send({ topic, messages: [{ key: 'outer', value: 'aborted 1' }] });
    const i = await inner.transaction();
    await i.send({ topic, messages: [{ key: 'inner', value: 'aborted 2' }] });
    await i.abort();
    await o.send({ topic, messages: [{ key: 'outer', value: 'aborted 3' }] });
    await o.abort();
    const c = await committed.transaction();
    await c.send({ topic, messages: [{ key: 'committed', value: 'committed' }] });
    await c.commit();
  });

  afterAll(async () => {
    await remove();
  });

  /** What a plain kafkajs consumer (read committed) hands its eachBatch from `from` on. */
  const kafkajsReads = async (from: number): Promise<string[]> => {
    const consumer = kafka.consumer({ groupId: uniq('aborted-plain'), maxWaitTimeInMs: 100, readUncommitted: false });
    const seen: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let done = () => undefined as void;
      const read = new Promise<void>((resolve) => (done = resolve));
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) seen.push(m.value!.toString());
          if (batch.messages.some((m) => m.value?.toString() === 'committed')) done();
        },
      });
      consumer.seek({ topic, partition: 0, offset: String(from) });
      await Promise.race([read, new Promise((r) => setTimeout(r, 15_000))]);
    } finally {
      await consumer.disconnect();
    }
    return seen;
  };

  it("from every offset, the runtime's reader returns the committed record only", async () => {
    const admin = kafka.admin();
    await admin.connect();
    const high = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)?.high ?? '0';
    await admin.disconnect();
    expect(Number(high)).toBe(7);
    const reader = await startPartitionReader({ kafka, groupId: uniq('aborted-reader'), topics: [topic], log: quietLog });
    try {
      for (let from = 0; from < Number(high) - 2; from++) {
        const records: KafkaMessage[] = [];
        await reader.read(topic, 0, from, Number(high), (rs) => void records.push(...rs));
        const plain = await kafkajsReads(from);
        process.stderr.write(`from offset ${from}: kafkajs hands out ${JSON.stringify(plain)}, the runtime's reader ${JSON.stringify(records.map((m) => m.value?.toString()))}\n`);
        expect(records.map((m) => m.value?.toString())).toEqual(['committed']);
      }
    } finally {
      await reader.stop();
    }
  });
});
