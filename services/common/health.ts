import { Gauge, Registry } from 'prom-client';

/** The truth about one process's parts (consumers, processors, listeners): each part reports its own state here, and
 *  the process's `/health` and `/ready` are read from it. `/ready` is false, naming the part, while any part is
 *  starting, restoring or down; `/health` is false only while a part is down (a restoring process is alive). */
export type PartStatus = 'starting' | 'restoring' | 'running' | 'down';

export interface PartState {
  readonly status: PartStatus;
  /** Why it is down, or what it is restoring. */
  readonly detail?: string;
  /** Records not yet processed, summed over its partitions, as last reported. */
  readonly lag?: number;
  /** Restore progress, records done of total, while restoring. */
  readonly restore?: { readonly done: number; readonly total: number };
  /** Times the supervisor restarted it. */
  readonly restarts: number;
  /** Epoch ms of the last status change. */
  readonly since: number;
}

export interface PartHandle {
  starting(detail?: string): void;
  restoring(progress: { done: number; total: number }, detail?: string): void;
  running(): void;
  down(reason: string): void;
  lag(records: number): void;
  restarted(): void;
  /** Removes the part (a component that stopped on purpose). */
  remove(): void;
}

export interface HealthReport {
  readonly ready: boolean;
  readonly alive: boolean;
  /** Parts not ready, with why: `normalizer: down (Failed to find group coordinator)`. */
  readonly notReady: readonly string[];
  readonly parts: Readonly<Record<string, PartState>>;
}

export interface Health {
  part(name: string): PartHandle;
  report(): HealthReport;
}

const describe = (name: string, s: PartState): string =>
  `${name}: ${s.status}${s.restore ? ` ${s.restore.done}/${s.restore.total}` : ''}${s.detail ? ` (${s.detail})` : ''}`;

export const createHealth = (metrics?: Registry): Health => {
  const parts = new Map<string, PartState>();
  const up =
    metrics &&
    ((metrics.getSingleMetric('voltstream_part_up') as Gauge<'part'> | undefined) ??
      new Gauge({ name: 'voltstream_part_up', help: '1 while the part runs, 0 while it starts, restores or is down', labelNames: ['part'], registers: [metrics] }));
  const restarts =
    metrics &&
    ((metrics.getSingleMetric('voltstream_part_restarts') as Gauge<'part'> | undefined) ??
      new Gauge({ name: 'voltstream_part_restarts', help: 'Times the supervisor restarted the part', labelNames: ['part'], registers: [metrics] }));
  const set = (name: string, change: Partial<PartState>) => {
    const before = parts.get(name) ?? { status: 'starting' as const, restarts: 0, since: Date.now() };
    const statusChanged = change.status !== undefined && change.status !== before.status;
    const next: PartState = { ...before, ...change, since: statusChanged ? Date.now() : before.since };
    parts.set(name, next);
    up?.set({ part: name }, next.status === 'running' ? 1 : 0);
    restarts?.set({ part: name }, next.restarts);
  };
  return {
    part: (name) => {
      set(name, { status: 'starting' });
      return {
        starting: (detail) => set(name, { status: 'starting', detail, restore: undefined }),
        restoring: (restore, detail) => set(name, { status: 'restoring', restore, detail }),
        running: () => set(name, { status: 'running', detail: undefined, restore: undefined }),
        down: (reason) => set(name, { status: 'down', detail: reason, restore: undefined }),
        lag: (records) => set(name, { lag: records }),
        restarted: () => set(name, { restarts: (parts.get(name)?.restarts ?? 0) + 1 }),
        remove: () => {
          parts.delete(name);
          up?.remove({ part: name });
          restarts?.remove({ part: name });
        },
      };
    },
    report: () => {
      const entries = [...parts.entries()];
      const notReady = entries.filter(([, s]) => s.status !== 'running').map(([n, s]) => describe(n, s));
      return {
        ready: notReady.length === 0,
        alive: entries.every(([, s]) => s.status !== 'down'),
        notReady,
        parts: Object.fromEntries(entries),
      };
    },
  };
};
