import { Consumer } from 'kafkajs';
import { PartHandle } from './health';
import { Logger } from './log';

/** A component the supervisor runs: `died` settles when it stops by itself (a consumer that crashed for good, a
 *  processor whose loop threw), never because `stop` was called. */
export interface Supervisable {
  readonly died: Promise<Error>;
  stop(): Promise<void>;
}

export interface SupervisorOptions {
  readonly name: string;
  readonly part: PartHandle;
  readonly log: Logger;
  /** Builds a fresh instance: a new consumer, never the crashed one again. */
  start(): Promise<Supervisable>;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long a dead instance may take to stop before a new one starts anyway (default 30 s). */
  readonly stopTimeoutMs?: number;
}

export interface Supervisor {
  /** The instance running now, if any. */
  current(): Supervisable | undefined;
  stop(): Promise<void>;
}

const sleep = (ms: number, signal: { stopped: boolean; wake?: () => void }) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });

/** Runs `start` and restarts what it built whenever it dies, with exponential backoff (reset after a minute of good
 *  running), reporting every state to the part: nothing that crashes is left dead, and `/ready` names it while it is
 *  down. Resolves once the first attempt has succeeded or failed; a failed first attempt is retried like a crash. */
export const supervise = async (o: SupervisorOptions): Promise<Supervisor> => {
  const min = o.minBackoffMs ?? 500;
  const max = o.maxBackoffMs ?? 30000;
  const signal: { stopped: boolean; wake?: () => void } = { stopped: false };
  let current: Supervisable | undefined;
  let backoff = min;

  const attempt = async (): Promise<Supervisable | Error> => {
    o.part.starting();
    try {
      return await o.start();
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  };

  const fail = async (why: Error) => {
    o.part.down(why.message);
    o.log.error('part down; restarting', { part: o.name, inMs: backoff, err: why });
    await sleep(backoff, signal);
    backoff = Math.min(max, backoff * 2);
  };

  const loop = async (first: Supervisable | Error) => {
    let next = first;
    while (!signal.stopped) {
      if (next instanceof Error) {
        await fail(next);
        if (signal.stopped) break;
        o.part.restarted();
        next = await attempt();
        continue;
      }
      current = next;
      const startedAt = Date.now();
      const why = await Promise.race([next.died, new Promise<null>((r) => (stopWaiters.push(() => r(null))))]);
      if (why === null || signal.stopped) break;
      current = undefined;
      // A stalled instance may never finish stopping (kafkajs waits for a handler that does not return): it is left
      // behind after stopTimeoutMs, and a fresh one started; its group drops it once its session times out.
      const stopped = await Promise.race([next.stop().then(() => true, () => true), new Promise<false>((r) => setTimeout(() => r(false), o.stopTimeoutMs ?? 30000).unref())]);
      if (!stopped) o.log.warn('part did not stop in time; starting a new one beside it', { part: o.name, afterMs: o.stopTimeoutMs ?? 30000 });
      if (Date.now() - startedAt > 60000) backoff = min;
      next = why;
    }
  };
  const stopWaiters: (() => void)[] = [];

  const first = await attempt();
  const done = loop(first);
  return {
    current: () => current,
    stop: async () => {
      signal.stopped = true;
      signal.wake?.();
      for (const w of stopWaiters.splice(0)) w();
      await done;
      const c = current;
      current = undefined;
      if (c) await c.stop();
      o.part.remove();
    },
  };
};

/** Settles when a kafkajs consumer has crashed and will not restart itself (kafkajs restarts on retriable errors and
 *  reports `restart: false` when it gives up, leaving the consumer dead). */
export const consumerDied = (consumer: Consumer): Promise<Error> =>
  new Promise((resolve) => {
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) resolve(payload.error instanceof Error ? payload.error : new Error(String(payload.error)));
    });
  });
