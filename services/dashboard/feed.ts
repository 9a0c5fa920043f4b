import { randomUUID } from 'node:crypto';
import { catalog } from '../../schemas/catalog';
import { PlanRecord } from '../../schemas/plan-record';
import { Follower, startFollower } from '../../streams/runtime/follower';
import { Received } from '../../streams/runtime/fold';
import { ServiceContext } from '../common/service';
import { superviseConsumer } from '../common/supervised-consumer';
import { DashboardState, evolveConfig, evolveEvent, evolveFrame, evolvePlan, evolveReading, initialDashboard, PlanView } from './model';

/** The dashboard's live folds of the log: a follower of the fold runtime (streams/runtime/follower.ts: one consumer,
 *  nothing committed, every API process folds for itself) reading fleet.config from the beginning and
 *  charging.events, ocpp.frames, telematics.readings and optimizer.plans from `lookbackMs` ago, then following them.
 *  Every record is decoded by its catalog entry and folded once. Reading the log instead of the projection tables
 *  keeps the page independent of the projections' layout and live within a Kafka fetch (~100 ms).
 *
 *  Supervised as the part `dashboard-feed` of its process: restarted with backoff when its consumer dies, and named by
 *  `/ready` while it is down or still reading what its inputs held when it started. A replacement folds into the same
 *  state from where the last follower stopped. */
export interface DashboardFeed {
  readonly state: DashboardState;
  /** Increases with every record folded: the SSE loop pushes when it changed. */
  version(): number;
  ready(): boolean;
  stop(): Promise<void>;
}

export const feedInputs = {
  config: catalog.fleetConfig,
  events: catalog.chargingEvents,
  frames: catalog.ocppFrames,
  readings: catalog.telematicsReadings,
  plans: catalog.optimizerPlans,
};
type FeedInput = Received<typeof feedInputs>;

const planView = (p: PlanRecord): PlanView & { siteId: string } => ({
  planId: p.planId,
  siteId: p.siteId,
  decidedAt: p.decidedAt,
  trigger: p.trigger,
  status: p.status,
  horizonStart: p.horizonStart,
  slotMinutes: p.slotMinutes,
  gridLimitKw: p.gridLimitKw,
  siteKw: p.siteKw,
  vehicles: p.vehicles.map((v) => ({ vehicleId: v.vehicleId, chargePointId: v.chargePointId, powerKw: v.powerKw, targetKwh: v.targetKwh, plannedKwh: v.plannedKwh, shortfallKwh: v.shortfallKwh })),
  atRisk: p.atRisk,
});

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
      return evolvePlan(s, planView(r.value));
  }
};

export const startDashboardFeed = async (ctx: ServiceContext, opts: { lookbackMs?: number; partName?: string } = {}): Promise<DashboardFeed> => {
  const state = initialDashboard();
  const log = ctx.log.child({ component: 'dashboard-feed' });
  const since = Date.now() - (opts.lookbackMs ?? 6 * 3600000);
  /** Next offset per topic:partition, shared by the followers the supervisor starts one after another. */
  const positions = new Map<string, number>();
  let version = 0;
  let current: Follower<DashboardState> | undefined;

  const supervisor = await superviseConsumer(ctx, opts.partName ?? 'dashboard-feed', async () => {
    current = undefined;
    const f = await startFollower({
      kafka: ctx.kafka,
      serde: ctx.serde,
      log,
      name: 'dashboard-feed',
      inputs: feedInputs,
      groupId: `dashboard-${randomUUID()}`,
      initial: state,
      evolve: (s, r) => {
        version++;
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
    stop: () => supervisor.stop(),
  };
};
