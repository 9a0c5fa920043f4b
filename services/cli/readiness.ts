/** Following every service process's `/ready` after `voltstream start`: the processes answer within seconds, but a
 *  part restoring its state (a projection re-reading its look-back, the audit checkpointer) is not ready for a minute
 *  or more after that. The user sees what is still catching up, then one line when everything is. */

export interface ReadyTarget {
  readonly name: string;
  /** A /ready URL; the API's answers for every process of the deployment (VOLTSTREAM_PEERS). */
  readonly readyUrl: string;
}

export type Waiting = readonly string[];

interface ReadyBody {
  readonly notReady?: readonly string[];
}

/** `audit-checkpoints: audit-checkpoints: restoring` (the process, then its part of the same name) said once. */
export const withoutRepeatedName = (line: string): string => line.replace(/^([^:\s]+): \1: /, '$1: ');

const probe = async (t: ReadyTarget): Promise<string[]> => {
  try {
    const res = await fetch(t.readyUrl, { signal: AbortSignal.timeout(2000) });
    if (res.ok) return [];
    const body = (await res.json().catch(() => ({}))) as ReadyBody;
    const parts = Array.isArray(body.notReady) ? body.notReady.filter((x): x is string => typeof x === 'string') : [];
    return parts.length ? parts.map(withoutRepeatedName) : [`${t.name}: not ready (HTTP ${res.status})`];
  } catch (e) {
    return [`${t.name}: not answering (${(e as Error).message})`];
  }
};

/** What is not ready, as each /ready names it (`projections: dashboard-feed: restoring …`). Empty: all ready. */
export const waitingFor = async (targets: readonly ReadyTarget[]): Promise<Waiting> => (await Promise.all(targets.map(probe))).flat();

/** The lines to print for one probe: the waiting list when it changed or `repeatMs` passed since it was printed, the
 *  final line once nothing waits. Pure, so that what the user sees is tested without processes. */
export const readinessLines = (
  prev: { printed: Waiting | null; printedAt: number },
  now: Waiting,
  at: number,
  repeatMs: number,
): { lines: string[]; printed: Waiting | null; printedAt: number } => {
  if (now.length === 0) return { lines: [], printed: now, printedAt: at };
  // Restore progress changes at every probe: repeat only after repeatMs unless the set of waiting processes changed.
  const names = (w: Waiting) => w.map((x) => x.split(':')[0]).join(',');
  if (prev.printed !== null && names(prev.printed) === names(now) && at - prev.printedAt < repeatMs) return { lines: [], printed: prev.printed, printedAt: prev.printedAt };
  return { lines: ['  still catching up:', ...now.map((x) => `    ${x}`)], printed: now, printedAt: at };
};

/** Probes every `everyMs` until every process is ready; says what waits on the way. Resolves true once all are
 *  ready, false if stopped first. */
export const followReadiness = (
  targets: readonly ReadyTarget[],
  o: { say: (line: string) => void; everyMs?: number; repeatMs?: number },
): { done: Promise<boolean>; stop(): void } => {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const done = (async () => {
    let state: { printed: Waiting | null; printedAt: number } = { printed: null, printedAt: 0 };
    while (!stopped) {
      const now = await waitingFor(targets);
      if (stopped) return false;
      if (now.length === 0) return true;
      const step = readinessLines(state, now, Date.now(), o.repeatMs ?? 15000);
      step.lines.forEach((l) => o.say(l));
      state = step;
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, o.everyMs ?? 2000);
      });
    }
    return false;
  })();
  return {
    done,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
    },
  };
};
