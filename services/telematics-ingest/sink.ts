import { Message, Producer, TopicMessages } from 'kafkajs';
import { DURABLE_ACKS } from '../common/kafka';

/** Group commit into Kafka: requests queue their records; one sendBatch at a time (the idempotent producer wants one
 *  request in flight) takes everything queued so far, acks from all in-sync replicas, then settles every request in
 *  it. Under load, many small HTTP requests share one Kafka round trip. */
export class SinkFull extends Error {
  readonly retriable = true;
}

export interface Sink {
  write(topicMessages: readonly TopicMessages[]): Promise<void>;
  /** Records queued and not yet acknowledged. */
  readonly queued: number;
}

interface Pending {
  readonly topicMessages: readonly TopicMessages[];
  readonly count: number;
  resolve(): void;
  reject(e: Error): void;
}

export const createBatchingSink = (
  producer: Producer,
  opts: { maxBatchRecords?: number; maxQueuedRecords?: number; onSend?: (records: number, seconds: number, ok: boolean) => void } = {},
): Sink => {
  const maxBatch = opts.maxBatchRecords ?? 2000;
  const maxQueued = opts.maxQueuedRecords ?? 50_000;
  const queue: Pending[] = [];
  let queued = 0;
  let sending = false;

  const pump = async () => {
    if (sending) return;
    sending = true;
    try {
      while (queue.length) {
        const batch: Pending[] = [];
        let n = 0;
        while (queue.length && (batch.length === 0 || n + queue[0]!.count <= maxBatch)) {
          const p = queue.shift()!;
          batch.push(p);
          n += p.count;
        }
        const byTopic = new Map<string, Message[]>();
        for (const p of batch)
          for (const tm of p.topicMessages) {
            const list = byTopic.get(tm.topic) ?? [];
            for (const m of tm.messages) list.push(m);
            byTopic.set(tm.topic, list);
          }
        const t0 = process.hrtime.bigint();
        try {
          await producer.sendBatch({ acks: DURABLE_ACKS, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
          opts.onSend?.(n, Number(process.hrtime.bigint() - t0) / 1e9, true);
          batch.forEach((p) => p.resolve());
        } catch (e) {
          opts.onSend?.(n, Number(process.hrtime.bigint() - t0) / 1e9, false);
          batch.forEach((p) => p.reject(e as Error));
        } finally {
          queued -= n;
        }
      }
    } finally {
      sending = false;
    }
  };

  return {
    get queued() {
      return queued;
    },
    write: (topicMessages) => {
      const count = topicMessages.reduce((s, tm) => s + tm.messages.length, 0);
      if (count === 0) return Promise.resolve();
      if (queued + count > maxQueued) return Promise.reject(new SinkFull(`${queued} records already waiting for Kafka`));
      return new Promise<void>((resolve, reject) => {
        queue.push({ topicMessages, count, resolve, reject });
        queued += count;
        void pump();
      });
    },
  };
};
