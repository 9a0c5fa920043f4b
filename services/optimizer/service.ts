/** `voltstream service optimizer`: plans every site's charging and sends the profiles to the chargers.
 *
 *  One consumer (its own group per life, nothing committed) folds fleet.config, charging.events, telematics.readings,
 *  ocpp.command-results and the optimizer's own ocpp.commands into the in-memory fold (state.ts). At start it restores:
 *  it reads its inputs' end offsets and folds up to them (configuration first) with every output suppressed, reporting
 *  progress on its health part; only then does it send caps and plan every site, and from there on an input that
 *  matters (replan.ts) re-plans its site after a quiet time, and every slot boundary re-plans every busy site. A plan
 *  goes to optimizer.plans (with its snapshot), then a TxProfile per connected vehicle and a GetCompositeSchedule
 *  read-back to ocpp.commands. The fold is checkpointed to the database (checkpoint.ts) every few minutes, after a
 *  restore and at stop (when: checkpointing.ts); a restore resumes from the latest checkpoint, or folds from the log
 *  start when there is none of this code's shape. The consumer runs under the supervisor: one that dies is replaced by
 *  a new one, whose fold restores again. */
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn, setTimeout as wait } from 'node:timers/promises';
import { Consumer, KafkaMessage, Producer } from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import { pipe } from 'fp-ts/function';
import * as E from 'fp-ts/Either';
import { Topics } from '../../schemas/topics';
import { committedMessagesOf } from '../../streams/runtime/committed-records';
import { fetchedOffsetOf } from '../../streams/sink/consumer';
import { createDurableProducer, DURABLE_ACKS } from '../common/kafka';
import { ServiceContext, ServiceDefinition } from '../common/service';
import { consumerDied, supervise, Supervisable } from '../common/supervise';
import { decodeOptimizerConfig, OptimizerConfig } from './config';
import { Plan } from './formulation';
import { commandedOf, compositeLimitKw, decodeInput, Decoded, inputTime, inputTopics, InputTopic } from './inputs';
import { commandRecord, planRecord } from './outputs';
import { commandId, compositeScheduleCommand, OcppCommandDraft, safeCapCommands, txProfileCommands } from './profiles';
import { replanReason } from './replan';
import { plannedBaseLoadKw } from './building-load';
import { capsDue, CapsDue } from './caps-policy';
import { acceptMarkers, progressOf, reached, RestorePlan, tp } from './restore';
import { decodeCheckpoint, encodeCheckpoint, FoldCheckpoint, resumeFrom } from './checkpoint';
import { atConsistentCut, checkpointAtStop, checkpointDue, checkpointWantedAtStop, FoldMoment, restoreFinished, startSchedule } from './checkpointing';
import { checkpointKey, createCheckpointStore } from './checkpoint-store';
import { createSitePlanner } from './site-planner';
import { chargerSnapshotOf, snapshotOf } from './site-snapshot';
import { SiteSnapshot } from './snapshot';
import { createWorkerSolver, Solver } from './solver';
import { controlKey, evolve, FleetState, initial, Input, sessionOf, siteOf } from './state';

/** Site meter readings older than this cannot matter (the building forecast's history). */
const SITE_METER_LOOKBACK_MS = 28 * 24 * 3600000;

export interface Optimizer {
  /** Plans `siteId` now, once restored (tests, CLI); resolves with the plan, or null when there is nothing to plan. */
  planNow(siteId: string, trigger: string): Promise<Plan | null>;
  state(): FleetState;
  /** Resolves when the current consumer's fold has caught up with the end offsets its inputs had at its start. */
  restored(): Promise<void>;
  stop(): Promise<void>;
}

export interface OptimizerOptions {
  readonly solver?: Solver;
  readonly instanceId?: string;
  /** Epoch ms now (tests run two optimizers on one fixed instant). */
  readonly clock?: () => number;
  /** The health part it reports to (default `optimizer`). */
  readonly part?: string;
}

const METER_REPLAN_MS = 5 * 60000;
const CAPS_RECENT_MS = 3600000;
const RESULTS_MAX_AGE_MS = 3600000;
/** A long fold gives the event loop a turn this often (consumer heartbeats, HTTP, timers). */
const YIELD_MS = 20;
const TICK_MS = 1000;
const CHECKPOINT_AT_STOP_MS = 10000;

/** What one consumer's life folds and remembers; a restarted consumer starts a new one. */
interface Fold {
  state: FleetState;
  restoring: boolean;
  stopped: boolean;
  readonly restored: Promise<void>;
  readonly markRestored: () => void;
  readonly lastKw: Map<string, number>; // controlKey → slot-0 kW of the last TxProfile
  /** siteId → the building load (kW) the last plan counted in its slot 0. */
  readonly plannedBuildingKw: Map<string, number>;
  readonly sentCaps: Set<string>;
  readonly readBacks: Map<string, { chargePointId: string; connectorId: number }>;
  readonly lastReadBack: Map<string, number>;
  readonly pending: Map<string, { timer: NodeJS.Timeout; reasons: Set<string> }>;
  readonly lastMeterReplan: Map<string, number>;
  readonly unconfigured: Map<string, Buffer>;
  /** Sites whose chargers (re)connected or changed recently, found while restoring: their caps go out after it. */
  readonly capsSites: Set<string>;
  /** Caps due and not sent yet, by site: the chargers named, or every charger of the site ('all'). */
  readonly capsDue: Map<string, Set<string> | 'all'>;
  capsWorking: boolean;
}

const newFold = (): Fold => {
  let markRestored = () => {};
  const restored = new Promise<void>((resolve) => (markRestored = resolve));
  return {
    state: initial,
    restoring: true,
    stopped: false,
    restored,
    markRestored,
    lastKw: new Map(),
    plannedBuildingKw: new Map(),
    sentCaps: new Set(),
    readBacks: new Map(),
    lastReadBack: new Map(),
    pending: new Map(),
    lastMeterReplan: new Map(),
    unconfigured: new Map(),
    capsSites: new Set(),
    capsDue: new Map(),
    capsWorking: false,
  };
};

export const createOptimizer = async (ctx: ServiceContext, cfg: OptimizerConfig, opts: OptimizerOptions = {}): Promise<Optimizer> => {
  const log = ctx.log.child({ service: 'optimizer' });
  const solver = opts.solver ?? createWorkerSolver({ timeoutMs: cfg.solveTimeoutMs });
  // Each site's re-plan starts from its last plan's basis (site-planner.ts).
  const planner = createSitePlanner(solver);
  const instance = opts.instanceId ?? ctx.config.gatewayId;
  const clock = opts.clock ?? Date.now;
  const part = ctx.health.part(opts.part ?? 'optimizer');
  const producer: Producer = createDurableProducer(ctx.kafka);
  const metric = <T>(name: string, make: () => T): T => (ctx.metrics.getSingleMetric(name) as T | undefined) ?? make();
  const plansTotal = metric('voltstream_optimizer_plans_total', () => new Counter({ name: 'voltstream_optimizer_plans_total', help: 'Plans decided', labelNames: ['status', 'trigger'], registers: [ctx.metrics] }));
  const solveSeconds = metric('voltstream_optimizer_solve_seconds', () => new Histogram({ name: 'voltstream_optimizer_solve_seconds', help: 'Snapshot to plan', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [ctx.metrics] }));

  const store = cfg.checkpointMinutes > 0 ? createCheckpointStore(ctx.pool, cfg.schema, checkpointKey(cfg.groupId, cfg.sites)) : null;
  let saving: Promise<void> = Promise.resolve();

  let fold = newFold();
  let stopped = false;
  const wanted = (siteId: string) => cfg.sites === null || cfg.sites.includes(siteId);
  let running: Promise<unknown> = Promise.resolve();
  const chain = (what: string, f: () => Promise<unknown>) => {
    running = running.then(f).catch((e) => log.error(`${what} failed`, { err: e as Error }));
  };

  const send = async (f: Fold, drafts: readonly OcppCommandDraft[], planId: string | null, expiresInMs: number) => {
    if (drafts.length === 0 || f.restoring || f.stopped) return;
    const now = clock();
    const messages = await Promise.all(drafts.map(async (d) => ({ key: d.chargePointId, value: await ctx.serde.encode(Topics.ocppCommands, commandRecord(d, planId, now, expiresInMs)) })));
    await producer.send({ topic: Topics.ocppCommands, acks: DURABLE_ACKS, messages });
  };

  const sendCaps = async (f: Fold, siteId: string, only: ReadonlySet<string> | 'all') => {
    const snap = snapshotOf(f.state, siteId, clock(), cfg, { reserve: false });
    if (!snap) return;
    const chargers = snap.chargers.filter((c) => c.protocol !== null && (only === 'all' || only.has(c.chargePointId)));
    const drafts = chargers.flatMap((c) => safeCapCommands(snap, c, snap.now - (snap.now % 60000)));
    const fresh = drafts.filter((d) => !f.sentCaps.has(d.commandId));
    for (const d of fresh) f.sentCaps.add(d.commandId);
    try {
      await send(f, fresh, null, 3600000);
    } catch (e) {
      for (const d of fresh) f.sentCaps.delete(d.commandId);
      throw e;
    }
  };

  /** Caps go out on their own queue, never behind a plan (a solve can take seconds): a charger that just booted holds
   *  no profile and would charge at its maximum. Dues that pile up while one site's caps are sent are merged, so a
   *  burst of reconnections costs one snapshot per site, not one per charger. */
  const queueCaps = (f: Fold, due: CapsDue) => {
    if (f.restoring || f.stopped || !wanted(due.siteId)) return;
    const pending = f.capsDue.get(due.siteId);
    if (due.chargePointId === null || pending === 'all') f.capsDue.set(due.siteId, 'all');
    else f.capsDue.set(due.siteId, new Set([...(pending ?? []), due.chargePointId]));
    if (f.capsWorking) return;
    f.capsWorking = true;
    void (async () => {
      try {
        while (f.capsDue.size > 0 && !f.stopped) {
          const [siteId, only] = f.capsDue.entries().next().value as [string, Set<string> | 'all'];
          f.capsDue.delete(siteId);
          await sendCaps(f, siteId, only).catch((e) => log.error('caps failed', { siteId, err: e as Error }));
        }
      } finally {
        f.capsWorking = false;
      }
    })();
  };

  const planNow = async (f: Fold, siteId: string, trigger: string): Promise<Plan | null> => {
    if (f.stopped) return null;
    const now = clock();
    const snap: SiteSnapshot | null = snapshotOf(f.state, siteId, now, cfg);
    if (!snap || snap.vehicles.length === 0) return null;
    const started = performance.now();
    const { plan, fallbackReason } = await planner.plan(snap, { timeLimitS: Math.max(1, cfg.solveTimeoutMs / 1000 - 1) });
    solveSeconds.observe((performance.now() - started) / 1000);
    plansTotal.inc({ status: plan.status, trigger });
    if (fallbackReason) log.warn('solver failed, EDF fallback', { siteId, reason: fallbackReason });
    const planId = commandId('plan', siteId, now, trigger);
    f.plannedBuildingKw.set(siteId, plannedBaseLoadKw(snap, 1)[0] ?? 0);
    await producer.send({
      topic: Topics.optimizerPlans,
      acks: DURABLE_ACKS,
      messages: [{ key: siteId, value: await ctx.serde.encode(Topics.optimizerPlans, planRecord(planId, trigger, now, plan, snap)) }],
    });
    const profiles = txProfileCommands(snap, plan, planId, { profileSlots: cfg.profileSlots, minPauseSlots: cfg.minPauseSlots }, f.lastKw);
    const chargers = new Map(snap.chargers.map((c) => [c.chargePointId, c]));
    const reads: OcppCommandDraft[] = [];
    for (const d of profiles) {
      const k = controlKey(d.chargePointId, d.connectorId);
      if (now - (f.lastReadBack.get(k) ?? 0) < cfg.slotMinutes * 60000) continue;
      const r = compositeScheduleCommand(chargers.get(d.chargePointId)!, d.connectorId, cfg.slotMinutes * 60, planId);
      reads.push(r);
      f.readBacks.set(r.commandId, { chargePointId: d.chargePointId, connectorId: d.connectorId });
      f.lastReadBack.set(k, now);
    }
    await send(f, profiles, planId, cfg.slotMinutes * 60000);
    await send(f, reads, planId, 60000);
    for (const d of profiles) {
      f.lastKw.set(controlKey(d.chargePointId, d.connectorId), d.firstKw ?? 0);
      f.state = evolve(f.state, { kind: 'commanded', chargePointId: d.chargePointId, connectorId: d.connectorId, commandId: d.commandId, limitKw: d.firstKw ?? 0, at: now });
    }
    log.info('planned', { siteId, trigger, planId, status: plan.status, vehicles: plan.vehicles.length, profiles: profiles.length, solveMs: Math.round(plan.solveMs) });
    // The fallback caps follow the building's recent peak, limit events, panels and phases (only new content is sent).
    queueCaps(f, { siteId, chargePointId: null });
    return plan;
  };

  const schedule = (f: Fold, siteId: string, reason: string) => {
    if (stopped || f.stopped || f.restoring || !wanted(siteId)) return;
    const p = f.pending.get(siteId);
    if (p) {
      p.reasons.add(reason);
      return;
    }
    const reasons = new Set([reason]);
    const timer = setTimeout(() => {
      f.pending.delete(siteId);
      chain('planning', () => planNow(f, siteId, [...reasons].sort().join(',')));
    }, cfg.debounceMs);
    f.pending.set(siteId, { timer, reasons });
  };

  const caresAboutVehicle = (s: FleetState, vehicleId: string): boolean => {
    const v = s.vehicles.get(vehicleId);
    if (!v) return false;
    if (cfg.sites === null || (v.siteId !== null && wanted(v.siteId))) return true;
    const x = sessionOf(s, vehicleId);
    return x !== undefined && wanted(s.chargers.get(x.chargePointId)?.siteId ?? '');
  };

  /** Restoring: fold only. Caps of recent (re)connections are remembered for after. */
  const restoreInput = (f: Fold, input: Input) => {
    const before = f.state;
    f.state = evolve(f.state, input);
    const due = capsDue(before, f.state, input);
    if (due && wanted(due.siteId) && clock() - inputTime(input) < CAPS_RECENT_MS) f.capsSites.add(due.siteId);
  };

  const handleInput = (f: Fold, input: Input) => {
    if (f.restoring) return restoreInput(f, input);
    const before = f.state;
    f.state = evolve(f.state, input);
    const now = clock();
    // Caps first: they do not wait for the quiet time or the plan.
    const due = capsDue(before, f.state, input);
    if (due && now - inputTime(input) < CAPS_RECENT_MS) queueCaps(f, due);
    const site = siteOf(f.state, input);
    if (!site) return;
    const reason = replanReason(before, f.state, input, (cp, conn) => f.lastKw.get(controlKey(cp, conn)), (siteId) => f.plannedBuildingKw.get(siteId));
    // A vehicle drawing less than its limit keeps deviating: meter-triggered re-plans at most every METER_REPLAN_MS.
    if (reason === 'meter' && now - (f.lastMeterReplan.get(site) ?? 0) < METER_REPLAN_MS) return;
    if (reason === 'meter') f.lastMeterReplan.set(site, now);
    if (reason) schedule(f, site, reason);
  };

  const handle = (f: Fold, d: Decoded) => {
    switch (d.kind) {
      case 'input':
        return handleInput(f, d.input);
      case 'command': {
        // Only while restoring: once running, the fold learns its commands as it sends them.
        const commanded = f.restoring ? commandedOf(d.command) : null;
        if (!commanded || commanded.kind !== 'commanded' || !wanted(f.state.chargers.get(commanded.chargePointId)?.siteId ?? '')) return;
        f.state = evolve(f.state, commanded);
        f.lastKw.set(controlKey(commanded.chargePointId, commanded.connectorId), commanded.limitKw);
        return;
      }
      case 'result': {
        // Read-backs sent before a restart are not known to this fold: their results change nothing.
        const where = f.readBacks.get(d.result.commandId);
        if (!where || f.restoring) return;
        f.readBacks.delete(d.result.commandId);
        const c = chargerSnapshotOf(f.state, where.chargePointId, clock());
        if (!c) return;
        const limitKw = d.result.outcome === 'ACCEPTED' ? compositeLimitKw(c, d.result.responseJson) : null;
        return handleInput(f, { kind: 'composite', ...where, limitKw, at: clock() });
      }
    }
  };

  /** Where each input starts and ends: old readings (beyond the lookback), results (an hour) and commands (a TxProfile's
   *  span) cannot matter and are skipped; the rest is read from the log start. */
  const restorePlan = async (): Promise<RestorePlan> => {
    const admin = ctx.kafka.admin();
    await admin.connect();
    try {
      const starts = new Map<string, number>();
      const targets = new Map<string, number>();
      const maxAge: Partial<Record<InputTopic, number>> = {
        [Topics.telematicsReadings]: cfg.readingsLookbackMinutes * 60000,
        [Topics.ocppCommandResults]: RESULTS_MAX_AGE_MS,
        [Topics.ocppCommands]: cfg.profileSlots * cfg.slotMinutes * 60000,
        [Topics.siteMeterReadings]: SITE_METER_LOOKBACK_MS,
      };
      for (const topic of inputTopics) {
        const ends = await admin.fetchTopicOffsets(topic);
        for (const p of ends) {
          starts.set(tp(topic, p.partition), Number(p.low));
          targets.set(tp(topic, p.partition), Number(p.high));
        }
        const age = maxAge[topic];
        if (age === undefined) continue;
        for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, clock() - age)) {
          const key = tp(topic, p.partition);
          const at = Number(p.offset);
          starts.set(key, Math.max(starts.get(key) ?? 0, at >= 0 ? at : (targets.get(key) ?? 0)));
        }
      }
      return { starts, targets };
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };

  /** The latest checkpoint and the plan that resumes from it, or the plan from the log start with the reason. */
  const resumePlan = async (full: RestorePlan): Promise<{ plan: RestorePlan; checkpoint: FoldCheckpoint | null }> => {
    if (!store) return { plan: full, checkpoint: null };
    const resumed = pipe(
      await store.load()(),
      E.chain((body) => (body === null ? E.left('no checkpoint yet') : decodeCheckpoint(body))),
      E.chain((checkpoint) => pipe(resumeFrom(full, checkpoint.positions), E.map((plan) => ({ plan, checkpoint })))),
    );
    if (E.isRight(resumed)) return resumed.right;
    log.info('folding the history from the log start', { reason: resumed.left });
    return { plan: full, checkpoint: null };
  };

  /** The fold as it stands (a consistent cut: no record half folded), written in the background; writes queue. */
  const writeCheckpoint = (f: Fold, positions: ReadonlyMap<string, number>): Promise<void> => {
    if (!store) return saving;
    const takenAt = clock();
    const started = performance.now();
    const body = encodeCheckpoint({ takenAt, state: f.state, positions, lastKw: f.lastKw, unconfigured: f.unconfigured });
    const encodeMs = Math.round(performance.now() - started);
    saving = saving.then(async () => {
      const written = await store.save(takenAt, body)();
      if (E.isLeft(written)) log.warn('checkpoint not written', { reason: written.left });
      else log.info('checkpoint written', { bytes: body.length, encodeMs, ms: Math.round(performance.now() - started) });
    });
    return saving;
  };

  const finishRestore = (f: Fold, started: number, records: number, from: string) => {
    f.restoring = false;
    part.running();
    log.info('restored', { from, records, ms: Math.round(performance.now() - started), sites: f.state.sites.size, sessions: f.state.sessions.size });
    f.markRestored();
    for (const siteId of f.capsSites) queueCaps(f, { siteId, chargePointId: null });
    for (const siteId of f.state.sites.keys()) if (wanted(siteId)) chain('planning', () => planNow(f, siteId, 'restored'));
  };

  /** One consumer's life: restore, then run. */
  const startRun = async (): Promise<Supervisable> => {
    const f = newFold();
    fold = f;
    const started = performance.now();
    part.restoring({ done: 0, total: 0 }, 'reading the end offsets of its inputs');
    const { plan, checkpoint } = await resumePlan(await restorePlan());
    const from = checkpoint ? `the checkpoint of ${new Date(checkpoint.takenAt).toISOString()}` : 'the log start';
    if (checkpoint) {
      f.state = checkpoint.state;
      for (const [k, kw] of checkpoint.lastKw) f.lastKw.set(k, kw);
      for (const [k, raw] of checkpoint.unconfigured) f.unconfigured.set(k, raw);
      // As a restore from the log start would: the caps of sites whose chargers (re)connected in the last hour.
      for (const [cp, at] of f.state.connectedAt) {
        const siteId = f.state.chargers.get(cp)?.siteId;
        if (siteId !== undefined && wanted(siteId) && clock() - at < CAPS_RECENT_MS) f.capsSites.add(siteId);
      }
    }
    const positions = new Map<string, number>();
    // Partitions with nothing read yet are where they started: a checkpoint names every partition.
    const reachedPositions = () => new Map([...plan.starts, ...positions]);
    const lags = new Map<string, number>();
    const others = inputTopics.filter((t) => t !== Topics.fleetConfig).map((topic) => ({ topic }));
    let configDone = reached(progressOf(plan, positions, [Topics.fleetConfig]));
    let records = 0;
    let lastYield = performance.now();
    const consumer: Consumer = ctx.kafka.consumer({ groupId: `${cfg.groupId}-${instance}-${randomUUID().slice(0, 8)}`, maxWaitTimeInMs: 200 });
    const died = consumerDied(consumer);

    let folding = false;
    const moment = (): FoldMoment => ({ restoring: f.restoring, stopped: f.stopped, folding });
    let checkpoints = startSchedule(store ? cfg.checkpointMinutes * 60000 : 0, performance.now());
    const checkpointIfDue = () => {
      const next = checkpointDue(checkpoints, moment(), performance.now());
      if (!next) return;
      checkpoints = next;
      // Behind any plan being sent: its commands are read (and skipped) before the plan folds them into the state.
      chain('checkpoint', async () => {
        while (folding) await nextTurn();
        if (atConsistentCut(moment())) void writeCheckpoint(f, reachedPositions());
      });
    };

    const check = (at: ReadonlyMap<string, number>) => {
      if (!f.restoring || f.stopped) return;
      if (!configDone && reached(progressOf(plan, at, [Topics.fleetConfig]))) {
        configDone = true;
        consumer.resume(others);
      }
      if (configDone && reached(progressOf(plan, at))) {
        finishRestore(f, started, records, from);
        checkpoints = restoreFinished(checkpoints);
      }
    };
    const advance = (key: string, next: number) => {
      if (next > (positions.get(key) ?? -1)) positions.set(key, next);
    };

    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const key = tp(payload.topic, payload.partition);
      lags.set(key, Math.max(0, Number(payload.offsetLag)));
      // A fetch of nothing but transaction markers or aborted records: its end is a position too.
      if (payload.batchSize === 0) advance(key, Number(payload.lastOffset) + 1);
      check(positions);
    });

    let lastDone = -1;
    let lastLog = performance.now();
    let tick: NodeJS.Timeout | undefined;
    const report = () => {
      if (f.stopped) return;
      const p = progressOf(plan, positions);
      if (f.restoring) {
        part.restoring(p, configDone ? 'catching up with its inputs' : 'restoring the configuration');
        if (performance.now() - lastLog > 10000) {
          lastLog = performance.now();
          log.info('restoring', { done: p.done, total: p.total, pct: Math.floor((100 * p.done) / Math.max(1, p.total)) });
        }
        // Unmoved since the last tick: a position one short of its target waits for a marker it will never see.
        if (p.done === lastDone && configDone) check(acceptMarkers(plan, positions));
        lastDone = p.done;
      }
      part.lag([...lags.values()].reduce((m, x) => m + x, 0));
      checkpointIfDue();
      tick = setTimeout(report, TICK_MS);
      tick.unref();
    };

    const stop = async () => {
      const restoring = f.restoring;
      f.stopped = true;
      if (tick) clearTimeout(tick);
      for (const p of f.pending.values()) clearTimeout(p.timer);
      f.pending.clear();
      await consumer.disconnect();
      // Disconnected: no record is being folded. Neither a plan still being sent nor a database that does not answer
      // holds the stop for long.
      if (!checkpointWantedAtStop({ restoring })) return;
      const deadline = performance.now() + CHECKPOINT_AT_STOP_MS;
      const settled = await Promise.race([running.then(() => true), wait(CHECKPOINT_AT_STOP_MS, false, { ref: false })]);
      const atStop = checkpointAtStop(settled);
      if (E.isLeft(atStop)) return log.warn(`no checkpoint at stop: ${atStop.left}`);
      await Promise.race([writeCheckpoint(f, reachedPositions()), wait(Math.max(0, deadline - performance.now()), undefined, { ref: false })]);
    };
    const foldMessage = async (topic: string, partition: number, message: KafkaMessage) => {
      const key = tp(topic, partition);
      const offset = Number(message.offset);
      if (f.stopped || offset < (plan.starts.get(key) ?? 0)) return;
      if (f.restoring && !configDone && topic !== Topics.fleetConfig) {
        // Fetched before the pause took: read again once the configuration is in.
        consumer.pause([{ topic }]);
        consumer.seek({ topic, partition, offset: message.offset });
        return 'paused';
      }
      records++;
      if (performance.now() - lastYield > YIELD_MS) {
        await nextTurn();
        lastYield = performance.now();
      }
      folding = true;
      try {
        await fold1(f, topic as InputTopic, message.key?.toString() ?? '', message.value, offset, partition);
      } finally {
        folding = false;
      }
      advance(key, offset + 1);
      if (f.restoring && offset + 1 >= (plan.targets.get(key) ?? 0)) check(positions);
      checkpointIfDue();
    };
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...inputTopics], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        // Resolved record by record, as eachMessage did: a batch left early (a seek, a pause) is fetched again from there.
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const { topic, partition } = batch;
          const key = tp(topic, partition);
          // Where the partition stood before this fetch (never below its start): a fetch from there or before it
          // skipped nothing, so its tail of markers and aborted records counts as read too.
          const from = positions.get(key) ?? plan.starts.get(key) ?? 0;
          const contiguous = fetchedOffsetOf(batch) <= from;
          for (const message of committedMessagesOf(batch)) {
            if (!isRunning() || isStale()) return;
            const folded = await foldMessage(topic, partition, message);
            if (folded === 'paused') return;
            resolveOffset(message.offset);
            await heartbeat();
          }
          if (!isRunning() || isStale()) return;
          resolveOffset(batch.lastOffset());
          const end = Number(batch.lastOffset()) + 1;
          if (!f.stopped && contiguous && end > from) advance(key, end);
        },
      });
      if (!configDone) consumer.pause(others);
      for (const [key, start] of plan.starts) {
        const [topic, partition] = [key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))];
        if (start > 0) consumer.seek({ topic, partition, offset: String(start) });
      }
    } catch (e) {
      await stop().catch(() => undefined);
      throw e;
    }
    report();
    check(positions);
    return { died, stop };
  };

  /** One record: skipped before decoding when it cannot matter here, else decoded and handled. */
  const fold1 = async (f: Fold, topic: InputTopic, key: string, value: Buffer | null, offset: number, partition: number) => {
    if (!value) return;
    if (topic === Topics.ocppCommands && !f.restoring) return;
    if (topic === Topics.telematicsReadings && !caresAboutVehicle(f.state, key)) {
      // Its configuration may still be on its way (topics are read side by side): keep the latest, undecoded.
      if (!f.state.vehicles.has(key)) f.unconfigured.set(key, value);
      return;
    }
    if (topic === Topics.chargingEvents && cfg.sites !== null && f.state.chargers.has(key) && !wanted(f.state.chargers.get(key)!.siteId)) return;
    const decode = async (t: InputTopic, v: Buffer): Promise<E.Either<string, Decoded>> => {
      const raw = await ctx.serde.decode<unknown>(v).then(
        (r) => ({ ok: true as const, r }),
        (e: Error) => ({ ok: false as const, reason: `undecodable: ${e.message}` }),
      );
      return raw.ok ? decodeInput(t, raw.r) : E.left(raw.reason);
    };
    const d = await decode(topic, value);
    if (E.isLeft(d)) {
      log.warn('input skipped', { topic, partition, offset, reason: d.left });
      return;
    }
    handle(f, d.right);
    const vehicleId = topic === Topics.fleetConfig && key.startsWith('vehicle:') ? key.slice('vehicle:'.length) : null;
    const raw = vehicleId !== null ? f.unconfigured.get(vehicleId) : undefined;
    if (vehicleId !== null && raw) {
      f.unconfigured.delete(vehicleId);
      if (!caresAboutVehicle(f.state, vehicleId)) return;
      const r = await decode(Topics.telematicsReadings, raw);
      if (E.isRight(r)) handle(f, r.right);
    }
  };

  await producer.connect();
  const supervisor = await supervise({ name: opts.part ?? 'optimizer', part, log, start: startRun });

  // Every slot boundary: re-plan every site with something to plan.
  const slotMs = cfg.slotMinutes * 60000;
  let slotTimer: NodeJS.Timeout;
  const arm = () => {
    slotTimer = setTimeout(() => {
      const f = fold;
      const busy = new Set(f.state.sessions.values().map((x) => f.state.chargers.get(x.chargePointId)?.siteId));
      for (const siteId of f.state.sites.keys()) if (busy.has(siteId)) schedule(f, siteId, 'slot');
      arm();
    }, slotMs - (Date.now() % slotMs) + 50);
    slotTimer.unref();
  };
  arm();

  return {
    planNow: async (siteId, trigger) => {
      const f = fold;
      await f.restored;
      const p = running.then(() => planNow(f, siteId, trigger));
      running = p.catch(() => undefined);
      return p;
    },
    state: () => fold.state,
    restored: () => fold.restored,
    stop: async () => {
      stopped = true;
      clearTimeout(slotTimer);
      await supervisor.stop();
      await running.catch(() => undefined);
      await producer.disconnect();
      if (!opts.solver) await solver.close();
    },
  };
};

export const service: ServiceDefinition = {
  name: 'optimizer',
  summary: 'Plans every vehicle’s charging (LP, HiGHS) and sends the profiles to the chargers via ocpp.commands',
  order: 40,
  start: async (ctx) => {
    const cfg = pipe(
      decodeOptimizerConfig(process.env),
      E.getOrElseW((message) => {
        throw new Error(message);
      }),
    );
    const optimizer = await createOptimizer(ctx, cfg);
    return { name: 'optimizer', stop: () => optimizer.stop() };
  },
};
