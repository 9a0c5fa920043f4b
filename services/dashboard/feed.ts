import { randomUUID } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { Pool } from 'pg';
import { catalog } from '../../schemas/catalog';
import { Follower, startFollower } from '../../streams/runtime/follower';
import { Received } from '../../streams/runtime/fold';
import { ServiceContext } from '../common/service';
import { superviseConsumer } from '../common/supervised-consumer';
import { projectionsSchema } from '../../streams/projections/service';
import { framesTail } from './frames-tail';
import { emptySeed, Seed, seedDashboard } from './seed';
import { readSeed, seedSize } from './seed-query';
import { DashboardState, evolveConfig, evolveEvent, evolveFrame, evolvePlan, evolveReading, initialDashboard, planViewOf } from './model';

/** The dashboard's live folds of the log: a follower of the fold runtime (streams/runtime/follower.ts: one consumer,
 *  nothing committed, every API process folds for itself), live within a Kafka fetch (~100 ms).
 *
 *  Restore is bounded by live chargers and vehicles, not by the log: at its first start the state is seeded from the
 *  projection tables (./seed.ts, ./seed-query.ts), read in one snapshot with the offsets the projections had applied,
 *  and charging.events, telematics.readings and optimizer.plans are followed from exactly those offsets (nothing
 *  between seed and follow is lost or folded twice); ocpp.frames from a tail of a few frames per live charger
 *  (./frames-tail.ts); fleet.config, the configuration (tariffs are in no table), from the beginning. A partition the
 *  projections have not applied yet, or no projections at all, is read from `lookbackMs` ago, as before.
 *
 *  Supervised as the part `dashboard-feed` of its process: restarted with backoff when its consumer dies, and named by
 *  `/ready` while it is down or still reading what its inputs held when it started. A replacement folds into the same
 *  state from where the last follower stopped. */
export interface DashboardFeed {
  readonly state: DashboardState;
  /** Increases with every record folded: the SSE loop pushes when it changed. */
  version(): number;
  ready(): boolean;
  /** What the restore read: projection rows, and records folded so far (all of them, restore and follow). */
  restored(): { seedRows: number; seedMs: number; seededPartitions: number; recordsFolded: number };
  stop(): Promise<void>;
}

export interface DashboardFeedOptions {
  readonly lookbackMs?: number;
  readonly partName?: string;
  /** The topics (tests use their own, renamed catalog entries). */
  readonly inputs?: typeof feedInputs;
  /** Where the projections are: default the process's database, PROJECTIONS_SCHEMA and the projections' consumer
   *  name in stream_offsets; null: no seed, the look-back only. */
  readonly projections?: { readonly pool: Pool; readonly schema: string; readonly consumer: string } | null;
}

export const feedInputs = {
  config: catalog.fleetConfig,
  events: catalog.chargingEvents,
  frames: catalog.ocppFrames,
  readings: catalog.telematicsReadings,
  plans: catalog.optimizerPlans,
};
type FeedInput = Received<typeof feedInputs>;


/** One record into the dashboard's state (in place: the model's folds mutate). */
export const evolveFeed = (s: DashboardState, r: FeedInput): DashboardState => {
  switch (r.from) {
    case 'config':
      return evolveConfig(s, r.value);
    case 'events':
      return evolveEvent(s, r.value);
    case 'frames':
      return evolveFrame(s, r.value);
    case 'readings':
      return evolveReading(s, r.value);
    case 'plans':
      return evolvePlan(s, planViewOf(r.value));
  }
};

/** The seed's positions of the followed topics, unless one lies beyond its partition's end: then the projections were
 *  written from another log (another broker, a recreated topic) and nothing of them is used. */
const seedPositions = (seed: Seed, followed: readonly string[], highs: ReadonlyMap<string, number>): Map<string, number> | undefined => {
  const out = new Map<string, number>();
  for (const p of seed.positions) {
    if (!followed.includes(p.topic)) continue;
    const tp = `${p.topic}:${p.partition}`;
    const high = highs.get(tp);
    if (high === undefined || p.nextOffset > high) return undefined;
    out.set(tp, p.nextOffset);
  }
  return out;
};

export const startDashboardFeed = async (ctx: ServiceContext, opts: DashboardFeedOptions = {}): Promise<DashboardFeed> => {
  const state = initialDashboard();
  const log = ctx.log.child({ component: 'dashboard-feed' });
  const inputs = opts.inputs ?? feedInputs;
  const lookbackMs = opts.lookbackMs ?? 6 * 3600000;
  const projections = opts.projections === undefined ? { pool: ctx.pool, schema: projectionsSchema(), consumer: 'projections' } : opts.projections;
  /** Next offset per topic:partition, shared by the followers the supervisor starts one after another. */
  const positions = new Map<string, number>();
  let version = 0;
  let folded = 0;
  let seeded: { since: number; rows: number; ms: number; partitions: number } | undefined;
  let current: Follower<DashboardState> | undefined;

  /** Once: the state from the projections, and where each input continues from. */
  const seed = async (): Promise<number> => {
    const since = Date.now() - lookbackMs;
    const t0 = Date.now();
    // The feed needs only Kafka: a database that does not answer costs the seed, not the dashboard.
    const read = projections
      ? await readSeed(projections.pool, { ...projections, since }).catch((e: Error) => E.left(`the projections could not be read: ${e.message}`))
      : E.right(emptySeed);
    if (E.isLeft(read)) log.error('dashboard seed not used: the feed reads its look-back', { reason: read.left });
    const admin = ctx.kafka.admin();
    await admin.connect();
    try {
      const followed = [inputs.events.name, inputs.readings.name, inputs.plans.name];
      const highs = new Map<string, number>();
      for (const topic of followed) for (const p of await admin.fetchTopicOffsets(topic)) highs.set(`${topic}:${p.partition}`, Number(p.high));
      const rows = E.isRight(read) ? read.right : emptySeed;
      const stored = seedPositions(rows, followed, highs);
      if (!stored) log.warn('projection offsets lie beyond the topics\' ends (another log): the feed reads its look-back');
      const seed = stored ? rows : emptySeed;
      seedDashboard(state, seed, since);
      for (const [tp, at] of stored ?? []) positions.set(tp, at);
      if (stored && stored.size > 0) for (const [tp, at] of await framesTail(admin, inputs.frames.name, seed.chargers.length, since)) positions.set(tp, at);
      seeded = { since, rows: seedSize(seed), ms: Date.now() - t0, partitions: stored?.size ?? 0 };
      log.info('dashboard seeded from the projections', { rows: seeded.rows, ms: seeded.ms, partitions: seeded.partitions });
      version++;
      return since;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };

  const supervisor = await superviseConsumer(ctx, opts.partName ?? 'dashboard-feed', async () => {
    current = undefined;
    const since = seeded?.since ?? (await seed());
    const f = await startFollower({
      kafka: ctx.kafka,
      serde: ctx.serde,
      log,
      name: 'dashboard-feed',
      inputs,
      groupId: `dashboard-${randomUUID()}`,
      initial: state,
      evolve: (s, r) => {
        version++;
        folded++;
        return evolveFeed(s, r);
      },
      since: { events: since, frames: since, readings: since, plans: since },
      positions,
    });
    current = f;
    return { topics: f.topics, groupId: f.groupId, positions: f.positions, consumers: f.consumers, died: f.died, stop: f.stop };
  });
  return {
    state,
    version: () => version,
    ready: () => current !== undefined,
    restored: () => ({ seedRows: seeded?.rows ?? 0, seedMs: seeded?.ms ?? 0, seededPartitions: seeded?.partitions ?? 0, recordsFolded: folded }),
    stop: () => supervisor.stop(),
  };
};
