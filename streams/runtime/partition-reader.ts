import { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { Logger } from '../../services/common/log';
import { fetchedOffsetOf } from '../sink/consumer';
import { committedMessagesOf } from './committed-records';

/** Reads chosen partitions of a few topics between two offsets (restores from a changelog, rebuilds from an input's
 *  history), read committed, on one consumer of its own: its group has this instance as its only member, so it holds
 *  every partition and reads only those asked for (the others stay paused). */
export interface PartitionReader {
  /** Calls `onRecords` with the committed records of `topic`/`partition` from `from` up to `until` (exclusive). */
  read(topic: string, partition: number, from: number, until: number, onRecords: (records: readonly KafkaMessage[]) => Promise<void> | void): Promise<void>;
  readonly died: Promise<Error>;
  stop(): Promise<void>;
}

interface Reading {
  next: number;
  readonly until: number;
  readonly onRecords: (records: readonly KafkaMessage[]) => Promise<void> | void;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export const startPartitionReader = async (o: { kafka: Kafka; groupId: string; topics: readonly string[]; log: Logger }): Promise<PartitionReader> => {
  const readings = new Map<string, Reading>();
  const consumer: Consumer = o.kafka.consumer({ groupId: o.groupId, maxWaitTimeInMs: 50, maxBytesPerPartition: 4 * 1024 * 1024, maxBytes: 64 * 1024 * 1024, readUncommitted: false });
  const died = new Promise<Error>((resolve) =>
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return;
      const e = payload.error instanceof Error ? payload.error : new Error(String(payload.error));
      for (const r of readings.values()) r.reject(e);
      resolve(e);
    }),
  );
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));

  const finish = (topic: string, partition: number, r: Reading) => {
    readings.delete(`${topic}:${partition}`);
    consumer.pause([{ topic, partitions: [partition] }]);
    r.resolve();
  };

  // A fetch holding only transaction markers or aborted records never reaches eachBatch: step over it, if it starts
  // at or before our position (a batch holding no committed record cannot skip one).
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const r = readings.get(`${payload.topic}:${payload.partition}`);
    if (!r || payload.batchSize !== 0 || payload.firstOffset === null) return;
    if (Number(payload.firstOffset) > r.next) return;
    r.next = Math.max(r.next, Number(payload.lastOffset) + 1);
    if (r.next >= r.until) finish(payload.topic, payload.partition, r);
  });

  const eachBatch = async ({ batch, isStale }: EachBatchPayload): Promise<void> => {
    const r = readings.get(`${batch.topic}:${batch.partition}`);
    if (!r) {
      consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
      return;
    }
    if (isStale() || fetchedOffsetOf(batch) > r.next) return;
    const records = committedMessagesOf(batch).filter((m) => Number(m.offset) >= r.next && Number(m.offset) < r.until);
    try {
      if (records.length > 0) await r.onRecords(records);
    } catch (e) {
      readings.delete(`${batch.topic}:${batch.partition}`);
      consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
      r.reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    r.next = Math.max(r.next, Number(batch.lastOffset()) + 1);
    if (r.next >= r.until) finish(batch.topic, batch.partition, r);
  };

  await consumer.connect();
  for (const topic of o.topics) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ autoCommit: false, partitionsConsumedConcurrently: 4, eachBatch });
  consumer.pause(o.topics.map((topic) => ({ topic })));
  await joined;

  return {
    died,
    read: (topic, partition, from, until, onRecords) => {
      if (from >= until) return Promise.resolve();
      const key = `${topic}:${partition}`;
      if (readings.has(key)) return Promise.reject(new Error(`${key} is being read already`));
      return new Promise<void>((resolve, reject) => {
        readings.set(key, { next: from, until, onRecords, resolve, reject });
        consumer.seek({ topic, partition, offset: String(from) });
        consumer.resume([{ topic, partitions: [partition] }]);
        o.log.debug('reading partition', { topic, partition, from, until });
      });
    },
    stop: async () => {
      for (const r of readings.values()) r.reject(new Error('reader stopped'));
      readings.clear();
      await consumer.disconnect();
    },
  };
};
