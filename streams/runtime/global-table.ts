import * as E from 'fp-ts/Either';
import { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { decodeRecord, describeUndecodable } from '../../schemas/catalog';
import { TopicSerde } from '../../schemas/registry';
import { Logger } from '../../services/common/log';
import { consumerDied } from '../../services/common/supervise';
import { InputTopic } from './fold';

/** A global table (Kafka Streams' GlobalKTable): every instance reads ALL partitions of a topic from its start into
 *  one value, folded by `evolve`, and keeps following it. No changelog of its own: the topic is the table's history
 *  (fleet.config: one partition, every configuration write, small). `started` resolves once the table holds
 *  everything the topic held when it started. */
export interface GlobalTable<T> {
  current(): T;
  /** Resolves when the table has read at least up to the topic's end offsets as of the call (false: not within
   *  `timeoutMs`). A catch-up started less than a second before is shared, so a run of unknown keys costs one offset
   *  fetch a second. */
  catchUp(timeoutMs?: number): Promise<boolean>;
  readonly died: Promise<Error>;
  stop(): Promise<void>;
}

export interface GlobalTableOptions<A, T> {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly log: Logger;
  readonly topic: InputTopic<A>;
  /** The table's own consumer group (it commits nothing): unique per instance. */
  readonly groupId: string;
  readonly initial: T;
  readonly evolve: (table: T, value: A) => T;
  /** Progress while reading the topic up to its end at start. */
  readonly progress?: (done: number, total: number) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const startGlobalTable = async <A, T>(o: GlobalTableOptions<A, T>): Promise<GlobalTable<T>> => {
  let table = o.initial;
  const next = new Map<number, number>();
  const admin: Admin = o.kafka.admin();
  await admin.connect();
  const ends = async (): Promise<Map<number, number>> => new Map((await admin.fetchTopicOffsets(o.topic.name)).map((p) => [p.partition, Number(p.high)]));
  const reached = (target: ReadonlyMap<number, number>) => [...target].every(([p, high]) => high === 0 || (next.get(p) ?? 0) >= high);

  const consumer: Consumer = o.kafka.consumer({ groupId: o.groupId, maxWaitTimeInMs: 100, readUncommitted: false });
  const died = consumerDied(consumer);
  // A fetch of transaction markers only never reaches eachBatch: its end still counts as read.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.batchSize === 0 && payload.lastOffset !== null) next.set(payload.partition, Math.max(next.get(payload.partition) ?? 0, Number(payload.lastOffset) + 1));
  });
  const eachBatch = async ({ batch }: EachBatchPayload): Promise<void> => {
    for (const m of batch.messages) {
      if (!m.value) continue;
      let raw: unknown;
      try {
        raw = await o.serde.decode(m.value);
      } catch (e) {
        o.log.error('global table record is not Avro of a registered schema; skipped', { topic: batch.topic, partition: batch.partition, offset: m.offset, err: e as Error });
        continue;
      }
      const decoded = decodeRecord({ name: batch.topic, decode: o.topic.decode }, { partition: batch.partition, offset: Number(m.offset) }, raw);
      if (E.isLeft(decoded)) o.log.error('global table record does not decode; skipped', { reason: describeUndecodable(decoded.left) });
      else table = o.evolve(table, decoded.right);
    }
    next.set(batch.partition, Math.max(next.get(batch.partition) ?? 0, Number(batch.lastOffset()) + 1));
  };

  const waitFor = async (target: ReadonlyMap<number, number>, timeoutMs: number): Promise<boolean> => {
    const end = Date.now() + timeoutMs;
    while (!reached(target)) {
      if (Date.now() > end) return false;
      await sleep(20);
    }
    return true;
  };

  // The group commits nothing and is this table's alone: gone with it, so restarts leave no groups behind.
  const close = async () => {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([o.groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  };
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: o.topic.name, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch });
    const atStart = await ends();
    const total = [...atStart.values()].reduce((a, b) => a + b, 0);
    while (!(await Promise.race([waitFor(atStart, 1000), died.then(() => 'died' as const)]))) {
      o.progress?.([...next.values()].reduce((a, b) => a + b, 0), total);
    }
    if (!reached(atStart)) throw await died;
    o.progress?.(total, total);
  } catch (e) {
    await close();
    throw e;
  }

  let last: { startedAt: number; done: Promise<boolean> } | undefined;
  return {
    current: () => table,
    catchUp: (timeoutMs = 5000) => {
      const askedAt = Date.now();
      if (last && last.startedAt >= askedAt - 1000) return last.done;
      const startedAt = Date.now();
      const done = ends().then((target) => waitFor(target, timeoutMs));
      last = { startedAt, done };
      return done;
    },
    died,
    stop: close,
  };
};
