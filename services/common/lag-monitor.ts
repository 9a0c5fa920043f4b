import { Admin, Consumer, Kafka } from 'kafkajs';
import { PartHandle } from './health';
import { Logger } from './log';

/** Where a consumer stands: `position(topic:partition)` is its next offset (undefined: not known yet). */
export type Positions = () => ReadonlyMap<string, number>;

export interface CatchUp {
  /** Records behind the end offsets the consumer must reach before it counts as caught up. */
  readonly remaining: number;
  readonly total: number;
  readonly lag: number;
}

/** Pure: how far a consumer is from the end offsets of its start (`targets`) and from the current high watermarks. A
 *  partition without a known position counts from its log start (`lows`). */
export const catchUp = (targets: ReadonlyMap<string, number>, lows: ReadonlyMap<string, number>, highs: ReadonlyMap<string, number>, positions: ReadonlyMap<string, number>): CatchUp => {
  let remaining = 0;
  let total = 0;
  let lag = 0;
  for (const [tp, target] of targets) {
    const low = lows.get(tp) ?? 0;
    const at = Math.max(positions.get(tp) ?? low, low);
    total += Math.max(0, target - low);
    remaining += Math.max(0, target - at);
  }
  for (const [tp, high] of highs) lag += Math.max(0, high - Math.max(positions.get(tp) ?? lows.get(tp) ?? 0, lows.get(tp) ?? 0));
  return { remaining, total, lag };
};

const offsetsOf = async (admin: Admin, topics: readonly string[]) => {
  const lows = new Map<string, number>();
  const highs = new Map<string, number>();
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      lows.set(`${topic}:${p.partition}`, Number(p.low));
      highs.set(`${topic}:${p.partition}`, Number(p.high));
    }
  }
  return { lows, highs };
};

/** Committed offsets of a consumer group (for consumers that commit to Kafka and keep no positions of their own). */
export const committedPositions = async (admin: Admin, groupId: string, topics: readonly string[]): Promise<Map<string, number>> => {
  const out = new Map<string, number>();
  for (const t of await admin.fetchOffsets({ groupId, topics: [...topics] })) {
    for (const p of t.partitions) if (Number(p.offset) >= 0) out.set(`${t.topic}:${p.partition}`, Number(p.offset));
  }
  return out;
};

export interface LagMonitor {
  stop(): Promise<void>;
}

/** Reports a consumer's state to its part: restoring (with progress) until it has reached the end offsets its inputs
 *  had when it started, running after that, with its lag; down while one of its consumers has crashed (until it
 *  joins its group again, whether kafkajs restarted it or the supervisor replaced it) or while Kafka does not answer
 *  the lag poll for `downAfterMs`. Polls every `everyMs`. A tail that only transaction markers fill (invisible to a
 *  consumer) counts as reached when the position stays one short of it. */
export const monitorLag = async (o: {
  kafka: Kafka;
  topics: readonly string[];
  part: PartHandle;
  log: Logger;
  /** The consumer group (its committed offsets) and, where the consumer knows better (offsets stored elsewhere,
   *  commits that trail), its own positions: the larger of the two counts. */
  groupId: string;
  positions?: Positions;
  consumers?: readonly Consumer[];
  everyMs?: number;
  downAfterMs?: number;
  /** Called once when the consumers have not fetched for `stallAfterMs` (default 180 s) while there is input to read:
   *  a kafkajs consumer that rejoined its group after a long stall has been seen never to fetch again, alive and a
   *  member, its part 'restoring' for ever. The supervisor replaces it. */
  onStall?: (reason: string) => void;
  stallAfterMs?: number;
}): Promise<LagMonitor> => {
  const admin = o.kafka.admin();
  await admin.connect();
  const start = await offsetsOf(admin, o.topics);
  const targets = new Map(start.highs);
  let caughtUp = false;
  let stopped = false;
  let crashed: string | undefined;
  let failingSince: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastFetchAt = Date.now();
  let stallReported = false;
  for (const c of o.consumers ?? []) {
    c.on(c.events.FETCH_START, () => {
      lastFetchAt = Date.now();
    });
    c.on(c.events.CRASH, ({ payload }) => {
      crashed = `consumer crashed: ${(payload.error as Error)?.message ?? String(payload.error)}`;
      o.part.down(crashed);
    });
    c.on(c.events.GROUP_JOIN, () => {
      crashed = undefined;
    });
  }
  const positions = async (): Promise<ReadonlyMap<string, number>> => {
    const at = await committedPositions(admin, o.groupId, o.topics);
    for (const [tp, p] of o.positions?.() ?? []) at.set(tp, Math.max(p, at.get(tp) ?? -1));
    return at;
  };
  const tick = async () => {
    const now = await offsetsOf(admin, o.topics);
    const at = await positions();
    failingSince = undefined;
    // A target one past the position that has not moved is a transaction marker the consumer never sees.
    const adjusted = new Map([...targets].map(([tp, t]) => [tp, (at.get(tp) ?? -2) === t - 1 ? t - 1 : t]));
    const c = catchUp(adjusted, now.lows, now.highs, at);
    o.part.lag(c.lag);
    if (crashed) return o.part.down(crashed);
    const quietMs = Date.now() - lastFetchAt;
    if (o.onStall && !stallReported && (o.consumers?.length ?? 0) > 0 && c.lag > 0 && quietMs >= (o.stallAfterMs ?? 180_000)) {
      stallReported = true;
      const reason = `stalled: no fetch for ${Math.round(quietMs / 1000)} s with ${c.lag} record(s) to read`;
      o.part.down(reason);
      o.onStall(reason);
      return;
    }
    if (!caughtUp && c.remaining === 0) caughtUp = true;
    if (caughtUp) o.part.running();
    else o.part.restoring({ done: c.total - c.remaining, total: c.total }, 'catching up with its inputs');
  };
  const loop = () => {
    timer = setTimeout(() => {
      tick()
        .catch((e: unknown) => {
          failingSince ??= Date.now();
          if (Date.now() - failingSince >= (o.downAfterMs ?? 5000)) o.part.down(`Kafka does not answer: ${(e as Error).message}`);
        })
        .finally(() => {
          if (!stopped) loop();
        });
    }, o.everyMs ?? 1000);
    timer.unref();
  };
  await tick().catch(() => undefined);
  loop();
  return {
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await admin.disconnect().catch(() => undefined);
    },
  };
};
