import { randomUUID } from 'node:crypto';
import { Config } from '../../../services/common/config';
import { createKafka } from '../../../services/common/kafka';
import { plainRegistryClient } from '../../support/stack';

/** Reads a whole topic (up to its high watermark at call time) with a plain registry client: what any outside tool
 *  would see in the log. Transactional topics end in commit markers the consumer never sees, so a partition also counts
 *  as read once nothing new arrived for two seconds. A read that fails (a broker connection dropped on a loaded
 *  machine: 'Broker not connected') is tried again from the start, twice. */
export const readWholeTopic = async <T = Record<string, unknown>>(config: Config, topic: string, filter: (key: string | null) => boolean = () => true): Promise<T[]> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readWholeTopicOnce<T>(config, topic, filter);
    } catch (e) {
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
};

const readWholeTopicOnce = async <T>(config: Config, topic: string, filter: (key: string | null) => boolean): Promise<T[]> => {
  const kafka = createKafka(config, `e2e-reader-${randomUUID().slice(0, 8)}`);
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  await admin.disconnect();
  const remaining = new Set([...ends].filter(([, high]) => high > 0).map(([p]) => p));
  const out: { partition: number; offset: number; value: T }[] = [];
  if (remaining.size === 0) return [];
  const registry = plainRegistryClient();
  const consumer = kafka.consumer({ groupId: `e2e-reader-${randomUUID()}`, maxWaitTimeInMs: 100, maxBytesPerPartition: 8 * 1024 * 1024 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), 60000);
      let last = Date.now();
      const idle = setInterval(() => {
        if (Date.now() - last > 2000) {
          clearInterval(idle);
          clearTimeout(timer);
          resolve();
        }
      }, 250);
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            last = Date.now();
            for (const m of batch.messages) {
              const key = m.key?.toString() ?? null;
              if (filter(key) && m.value) out.push({ partition: batch.partition, offset: Number(m.offset), value: (await registry.decode(m.value)) as T });
              if (Number(m.offset) + 1 >= (ends.get(batch.partition) ?? 0)) remaining.delete(batch.partition);
            }
            if (remaining.size === 0) {
              clearTimeout(timer);
              clearInterval(idle);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset).map((x) => x.value);
};
