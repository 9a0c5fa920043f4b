import * as E from 'fp-ts/Either';
import { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { TopicSerde } from '../../schemas/registry';
import { Logger } from '../../services/common/log';
import { consumerDied } from '../../services/common/supervise';
import { fetchedOffsetOf } from '../sink/consumer';
import { committedMessagesOf } from './committed-records';
import { inputDecoder } from './decode-input';
import { InputTopics, Received } from './fold';

/** A follower: one consumer that reads ALL partitions of a few topics into one in-memory view, folded by `evolve`,
 *  and keeps following them. It commits nothing (its group is its own and deleted when it stops): its positions live
 *  here, one next offset per partition. What the global table (./global-table.ts) and the views of a log (the
 *  dashboard, the telematics vehicle registry) are built on.
 *
 *  Every record is folded exactly once into the view, in offset order per partition. kafkajs forgets a consumer's
 *  positions whenever it joins its group again (a rebalance, an internal restart after a retriable crash, a session
 *  lost to a starved event loop) and, with nothing committed, starts over from the beginning: so at every join the
 *  follower seeks each partition back to its own position, and a record below that position that is fetched anyway
 *  is skipped. A record that does not decode (through its catalog entry) or whose evolve throws is logged, with
 *  topic, partition and offset, and skipped. */
export interface Follower<T> {
  current(): T;
  /** Resolves when the follower has read at least up to its topics' end offsets as of the call (false: not within
   *  `timeoutMs`). A catch-up started less than a second before is shared. */
  catchUp(timeoutMs?: number): Promise<boolean>;
  /** Next offset per `topic:partition` (for the lag monitor, and for a replacement to resume from). */
  positions(): ReadonlyMap<string, number>;
  readonly topics: readonly string[];
  readonly groupId: string;
  readonly consumers: readonly Consumer[];
  /** Settles when its consumer crashed for good (kafkajs gave up restarting it). */
  readonly died: Promise<Error>;
  stop(): Promise<void>;
}

export interface FollowerOptions<I extends InputTopics, T> {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly log: Logger;
  readonly name: string;
  readonly inputs: I;
  /** Unique per instance; deleted when the follower stops. */
  readonly groupId: string;
  readonly initial: T;
  readonly evolve: (view: T, input: Received<I>) => T;
  /** Where to start an input that has no resume position: epoch ms (the first record at or after it); default its
   *  beginning. */
  readonly since?: Partial<Record<keyof I & string, number>>;
  /** The positions of the view (next offset by `topic:partition`), kept in this map: a replacement that continues
   *  the view a crashed follower built (folding into the same `initial`) passes that follower's map and resumes
   *  exactly where it stopped. Default: a new map, every input from its beginning or `since`. */
  readonly positions?: Map<string, number>;
  /** Read every input up to its end offsets as of the start before resolving, reporting progress. */
  readonly readToEnd?: boolean;
  readonly progress?: (done: number, total: number) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const yieldToLoop = () => new Promise((r) => setImmediate(r));

/** Pure: whether a record at `offset` is still to fold, given the partition's next offset. */
export const toFold = (position: number | undefined, offset: number): boolean => offset >= (position ?? 0);

export const startFollower = async <I extends InputTopics, T>(o: FollowerOptions<I, T>): Promise<Follower<T>> => {
  let view = o.initial;
  const topics = Object.values(o.inputs).map((i) => i.name);
  const next = o.positions ?? new Map<string, number>();
  const decode = inputDecoder(o.inputs, o.serde);
  const admin: Admin = o.kafka.admin();
  await admin.connect();
  const ends = async (): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) out.set(`${topic}:${p.partition}`, Number(p.high));
    return out;
  };
  const reached = (target: ReadonlyMap<string, number>) => [...target].every(([tp, high]) => high === 0 || (next.get(tp) ?? 0) >= high);

  const consumer: Consumer = o.kafka.consumer({ groupId: o.groupId, maxWaitTimeInMs: 100, maxBytesPerPartition: 4 * 1024 * 1024, readUncommitted: false });
  const died = consumerDied(consumer);
  const close = async () => {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([o.groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  };

  const seekToPositions = (assigned: readonly string[]) => {
    for (const tp of assigned) {
      const at = next.get(tp);
      if (at === undefined) continue;
      const i = tp.lastIndexOf(':');
      try {
        consumer.seek({ topic: tp.slice(0, i), partition: Number(tp.slice(i + 1)), offset: String(at) });
      } catch {
        // Before run(): seeked again once it has resolved. Records below the position are skipped either way.
      }
    }
  };
  let assigned: string[] = [];
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    assigned = Object.entries(payload.memberAssignment).flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`));
    seekToPositions(assigned);
  });
  // A fetch of transaction markers only never reaches eachBatch: its end still counts as read.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const tp = `${payload.topic}:${payload.partition}`;
    if (payload.batchSize === 0 && payload.lastOffset !== null && toFold(next.get(tp), Number(payload.firstOffset ?? payload.lastOffset))) next.set(tp, Math.max(next.get(tp) ?? 0, Number(payload.lastOffset) + 1));
  });

  const eachBatch = async ({ batch, heartbeat, isStale }: EachBatchPayload): Promise<void> => {
    const tp = `${batch.topic}:${batch.partition}`;
    // A fetch from the position or before it skipped nothing: its tail of markers and aborted records (kafkajs may
    // have handed those out as records) counts as read too.
    const contiguous = fetchedOffsetOf(batch) <= (next.get(tp) ?? 0);
    let n = 0;
    for (const m of committedMessagesOf(batch)) {
      if (isStale()) return;
      const offset = Number(m.offset);
      if (!toFold(next.get(tp), offset)) continue;
      if (++n % 500 === 0) {
        await yieldToLoop();
        await heartbeat();
      }
      const input = await decode(batch.topic, batch.partition, m);
      if (E.isLeft(input)) o.log.error('followed record does not decode; skipped', { follower: o.name, reason: input.left });
      else {
        try {
          view = o.evolve(view, input.right);
        } catch (e) {
          o.log.error('followed record not folded; skipped', { follower: o.name, topic: batch.topic, partition: batch.partition, offset, err: e as Error });
        }
      }
      next.set(tp, offset + 1);
    }
    if (contiguous) next.set(tp, Math.max(next.get(tp) ?? 0, Number(batch.lastOffset()) + 1));
    await heartbeat();
  };

  const waitFor = async (target: ReadonlyMap<string, number>, timeoutMs: number): Promise<boolean> => {
    const end = Date.now() + timeoutMs;
    while (!reached(target)) {
      if (Date.now() > end) return false;
      await sleep(20);
    }
    return true;
  };
  const total = (m: ReadonlyMap<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

  try {
    for (const [role, at] of Object.entries(o.since ?? {}) as [string, number | undefined][]) {
      const input = o.inputs[role];
      if (!input || at === undefined) continue;
      for (const p of await admin.fetchTopicOffsetsByTimestamp(input.name, at)) {
        const tp = `${input.name}:${p.partition}`;
        if (!next.has(tp)) next.set(tp, Number(p.offset));
      }
    }
    await consumer.connect();
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch });
    // The first join may have come before run() resolved, when seek is not yet allowed.
    seekToPositions(assigned);
    if (o.readToEnd) {
      const atStart = await ends();
      while (!(await Promise.race([waitFor(atStart, 1000), died.then(() => 'died' as const)]))) o.progress?.(total(next), total(atStart));
      if (!reached(atStart)) throw await died;
      o.progress?.(total(atStart), total(atStart));
    }
  } catch (e) {
    await close();
    throw e;
  }

  let last: { startedAt: number; done: Promise<boolean> } | undefined;
  return {
    current: () => view,
    catchUp: (timeoutMs = 5000) => {
      if (last && last.startedAt >= Date.now() - 1000) return last.done;
      const startedAt = Date.now();
      const done = ends().then((target) => waitFor(target, timeoutMs), () => false);
      last = { startedAt, done };
      return done;
    },
    positions: () => next,
    topics,
    groupId: o.groupId,
    consumers: [consumer],
    died,
    stop: close,
  };
};
