/** `voltstream service optimizer`: plans every site's charging and sends the profiles to the chargers.
 *
 *  Reads fleet.config, charging.events, telematics.readings and ocpp.command-results (for GetCompositeSchedule
 *  read-backs) from the beginning into one in-memory fold (state.ts; its own consumer group per instance, nothing
 *  committed: the state is rebuilt at every start). An input that matters (state.ts: replanReason) re-plans its site
 *  after a quiet time (debounce); every slot boundary re-plans every site with vehicles. A plan goes to
 *  optimizer.plans (with its snapshot), then a TxProfile per connected vehicle and a GetCompositeSchedule read-back to
 *  ocpp.commands; every charger also gets its safe caps (profiles.ts) when it connects or its site changes. */
import { randomUUID } from 'node:crypto';
import { Consumer, Producer } from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import { pipe } from 'fp-ts/function';
import * as E from 'fp-ts/Either';
import { fromAvro } from '../../schemas/events';
import { configFromAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { createDurableProducer, DURABLE_ACKS } from '../common/kafka';
import { ServiceContext, ServiceDefinition } from '../common/service';
import { decodeOptimizerConfig, OptimizerConfig } from './config';
import { Plan } from './formulation';
import { planSite } from './planner';
import { commandId, compositeScheduleCommand, fromLimit, OcppCommandDraft, safeCapCommands, txProfileCommands } from './profiles';
import { ChargerSnapshot, SiteSnapshot } from './snapshot';
import { createWorkerSolver, Solver } from './solver';
import { controlKey, evolve, FleetState, initial, Input, replanReason, siteOf, snapshotOf } from './state';

export interface Optimizer {
  /** Plans `siteId` now (tests, CLI); resolves with the plan, or null when there is nothing to plan. */
  planNow(siteId: string, trigger: string): Promise<Plan | null>;
  state(): FleetState;
  stop(): Promise<void>;
}

const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));
const msOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : ms(v));

const toInput = (topic: string, value: Record<string, unknown>): Input | { kind: 'result'; value: Record<string, unknown> } => {
  switch (topic) {
    case Topics.fleetConfig:
      return { kind: 'config', event: configFromAvro(value) };
    case Topics.telematicsReadings:
      return {
        kind: 'reading',
        reading: {
          readingId: String(value.readingId),
          vehicleId: String(value.vehicleId),
          readingAt: ms(value.readingAt),
          socPct: (value.socPct as number | null) ?? null,
          pluggedIn: (value.pluggedIn as boolean | null) ?? null,
          etaAt: msOrNull(value.etaAt),
          batteryCapacityKwh: (value.batteryCapacityKwh as number | null) ?? null,
        },
      };
    case Topics.ocppCommandResults:
      return { kind: 'result', value };
    default:
      return { kind: 'event', event: fromAvro(value) };
  }
};

/** GetCompositeSchedule.conf (1.6 or 2.0.1) → the limit in force at its start, in kW. */
export const compositeLimitKw = (c: ChargerSnapshot, responseJson: string | null): number | null =>
  pipe(
    E.tryCatch(() => JSON.parse(responseJson ?? 'null') as Record<string, unknown> | null, () => null),
    E.map((r) => {
      if (!r || r.status !== 'Accepted') return null;
      const schedule = (r.chargingSchedule ?? r.schedule) as { chargingRateUnit?: string; chargingSchedulePeriod?: { limit: number; numberPhases?: number }[] } | undefined;
      const first = schedule?.chargingSchedulePeriod?.[0];
      if (!schedule || !first) return null;
      if (schedule.chargingRateUnit === 'W') return first.limit / 1000;
      return fromLimit({ ...c, rateUnit: 'A', currentType: 'AC', phases: first.numberPhases ?? c.phases }, first.limit);
    }),
    E.getOrElseW(() => null),
  );

const METER_REPLAN_MS = 5 * 60000;
const CAPS_RECENT_MS = 3600000;
const inputTime = (i: Input): number => (i.kind === 'config' ? i.event.at : i.kind === 'event' ? i.event.occurredAt : i.kind === 'reading' ? i.reading.readingAt : i.at);

export const createOptimizer = async (ctx: ServiceContext, cfg: OptimizerConfig, opts: { solver?: Solver; instanceId?: string } = {}): Promise<Optimizer> => {
  const log = ctx.log.child({ service: 'optimizer' });
  const solver = opts.solver ?? createWorkerSolver({ timeoutMs: cfg.solveTimeoutMs });
  const instance = opts.instanceId ?? ctx.config.gatewayId;
  const producer: Producer = createDurableProducer(ctx.kafka);
  const consumer: Consumer = ctx.kafka.consumer({ groupId: `${cfg.groupId}-${instance}-${randomUUID().slice(0, 8)}`, maxWaitTimeInMs: 200 });
  const metric = <T>(name: string, make: () => T): T => (ctx.metrics.getSingleMetric(name) as T | undefined) ?? make();
  const plansTotal = metric('voltstream_optimizer_plans_total', () => new Counter({ name: 'voltstream_optimizer_plans_total', help: 'Plans decided', labelNames: ['status', 'trigger'], registers: [ctx.metrics] }));
  const solveSeconds = metric('voltstream_optimizer_solve_seconds', () => new Histogram({ name: 'voltstream_optimizer_solve_seconds', help: 'Snapshot to plan', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [ctx.metrics] }));

  let state = initial;
  let stopped = false;
  const wanted = (siteId: string) => cfg.sites === null || cfg.sites.includes(siteId);
  const lastKw = new Map<string, number>(); // controlKey → slot-0 kW of the last TxProfile
  const sentCaps = new Set<string>();
  const readBacks = new Map<string, { chargePointId: string; connectorId: number }>();
  const lastReadBack = new Map<string, number>();
  const pending = new Map<string, { timer: NodeJS.Timeout; reasons: Set<string> }>();
  const lastMeterReplan = new Map<string, number>();
  const unconfigured = new Map<string, Buffer>();
  let running: Promise<unknown> = Promise.resolve();

  const send = async (drafts: readonly OcppCommandDraft[], planId: string | null, expiresInMs: number) => {
    if (drafts.length === 0) return;
    const now = Date.now();
    const messages = await Promise.all(
      drafts.map(async (d) => ({
        key: d.chargePointId,
        value: await ctx.serde.encode(Topics.ocppCommands, {
          commandId: d.commandId,
          chargePointId: d.chargePointId,
          action: d.action,
          payloadJson: JSON.stringify(d.payload),
          issuedBy: 'optimizer',
          issuedAt: now,
          expiresAt: now + expiresInMs,
          planId,
        }),
      })),
    );
    await producer.send({ topic: Topics.ocppCommands, acks: DURABLE_ACKS, messages });
  };

  const sendCaps = async (siteId: string) => {
    const snap = snapshotOf(state, siteId, Date.now(), cfg);
    if (!snap) return;
    const drafts = snap.chargers.filter((c) => c.protocol !== null).flatMap((c) => safeCapCommands(snap, c, snap.now - (snap.now % 60000)));
    const fresh = drafts.filter((d) => !sentCaps.has(d.commandId));
    await send(fresh, null, 3600000);
    for (const d of fresh) sentCaps.add(d.commandId);
  };

  const planNow = async (siteId: string, trigger: string): Promise<Plan | null> => {
    const now = Date.now();
    const snap: SiteSnapshot | null = snapshotOf(state, siteId, now, cfg);
    if (!snap || snap.vehicles.length === 0) return null;
    const started = performance.now();
    const { plan, fallbackReason } = await planSite(snap, solver, { timeLimitS: Math.max(1, cfg.solveTimeoutMs / 1000 - 1) });
    solveSeconds.observe((performance.now() - started) / 1000);
    plansTotal.inc({ status: plan.status, trigger });
    if (fallbackReason) log.warn('solver failed, EDF fallback', { siteId, reason: fallbackReason });
    const planId = commandId('plan', siteId, now, trigger);
    await producer.send({
      topic: Topics.optimizerPlans,
      acks: DURABLE_ACKS,
      messages: [{ key: siteId, value: await ctx.serde.encode(Topics.optimizerPlans, planRecord(planId, trigger, now, plan, snap)) }],
    });
    const profiles = txProfileCommands(snap, plan, planId, { profileSlots: cfg.profileSlots, minPauseSlots: cfg.minPauseSlots }, lastKw);
    const chargers = new Map(snap.chargers.map((c) => [c.chargePointId, c]));
    const reads: OcppCommandDraft[] = [];
    for (const d of profiles) {
      const k = controlKey(d.chargePointId, d.connectorId);
      if (now - (lastReadBack.get(k) ?? 0) < cfg.slotMinutes * 60000) continue;
      const r = compositeScheduleCommand(chargers.get(d.chargePointId)!, d.connectorId, cfg.slotMinutes * 60, planId);
      reads.push(r);
      readBacks.set(r.commandId, { chargePointId: d.chargePointId, connectorId: d.connectorId });
      lastReadBack.set(k, now);
    }
    await send(profiles, planId, cfg.slotMinutes * 60000);
    await send(reads, planId, 60000);
    for (const d of profiles) {
      lastKw.set(controlKey(d.chargePointId, d.connectorId), d.firstKw ?? 0);
      state = evolve(state, { kind: 'commanded', chargePointId: d.chargePointId, connectorId: d.connectorId, commandId: d.commandId, limitKw: d.firstKw ?? 0, at: now });
    }
    log.info('planned', { siteId, trigger, planId, status: plan.status, vehicles: plan.vehicles.length, profiles: profiles.length, solveMs: Math.round(plan.solveMs) });
    return plan;
  };

  const schedule = (siteId: string, reason: string) => {
    if (stopped || !wanted(siteId)) return;
    const p = pending.get(siteId);
    if (p) {
      p.reasons.add(reason);
      return;
    }
    const reasons = new Set([reason]);
    const timer = setTimeout(() => {
      pending.delete(siteId);
      const trigger = [...reasons].sort().join(',');
      running = running
        .then(() => (stopped ? null : planNow(siteId, trigger)))
        .catch((e) => log.error('planning failed', { siteId, err: e as Error }));
    }, cfg.debounceMs);
    pending.set(siteId, { timer, reasons });
  };

  const capsFor = (i: Input, before: FleetState): string | null => {
    if (i.kind === 'event' && (i.event.body.type === 'ChargerConnected' || i.event.body.type === 'ChargerBooted')) return state.chargers.get(i.event.chargePointId)?.siteId ?? null;
    if (i.kind === 'config') {
      const b = i.event.body;
      if (b.type === 'ChargerConfigured') return b.siteId;
      if (b.type === 'SiteConfigured' && before.sites.get(b.siteId)?.gridLimitKw !== b.gridLimitKw) return b.siteId;
    }
    return null;
  };

  const caresAboutVehicle = (vehicleId: string): boolean => {
    const v = state.vehicles.get(vehicleId);
    if (!v) return false;
    if (cfg.sites === null || (v.siteId !== null && wanted(v.siteId))) return true;
    for (const x of state.sessions.values()) if (x.vehicleId === vehicleId && wanted(state.chargers.get(x.chargePointId)?.siteId ?? '')) return true;
    return false;
  };

  const handle = (topic: string, value: Record<string, unknown>) => {
    const input = toInput(topic, value);
    if (input.kind === 'result') {
      const where = readBacks.get(String(input.value.commandId));
      if (!where) return;
      readBacks.delete(String(input.value.commandId));
      const c = state.chargers.get(where.chargePointId);
      const snap = c ? snapshotOf(state, c.siteId, Date.now(), cfg)?.chargers.find((x) => x.chargePointId === where.chargePointId) : undefined;
      if (!snap) return;
      const limitKw = input.value.outcome === 'ACCEPTED' ? compositeLimitKw(snap, (input.value.responseJson as string | null) ?? null) : null;
      return handleInput({ kind: 'composite', ...where, limitKw, at: Date.now() });
    }
    return handleInput(input);
  };

  const handleInput = (input: Input) => {
    const before = state;
    state = evolve(state, input);
    const site = siteOf(state, input);
    if (!site) return;
    const reason = replanReason(before, state, input, (cp, conn) => lastKw.get(controlKey(cp, conn)));
    const now = Date.now();
    // A vehicle drawing less than its limit keeps deviating: meter-triggered re-plans at most every METER_REPLAN_MS.
    if (reason === 'meter' && now - (lastMeterReplan.get(site) ?? 0) < METER_REPLAN_MS) return;
    if (reason === 'meter') lastMeterReplan.set(site, now);
    if (reason) schedule(site, reason);
    const capsSite = capsFor(input, before);
    // History read at start-up does not re-send caps: chargers keep their profiles.
    if (capsSite && wanted(capsSite) && now - inputTime(input) < CAPS_RECENT_MS) running = running.then(() => sendCaps(capsSite)).catch((e) => log.error('caps failed', { err: e as Error }));
  };

  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [Topics.fleetConfig, Topics.chargingEvents, Topics.telematicsReadings, Topics.ocppCommandResults], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, message }) => {
      if (!message.value) return;
      // Skip before decoding what cannot matter here (the start-up replay reads every topic from the beginning).
      const key = message.key?.toString() ?? '';
      if (topic === Topics.telematicsReadings && !caresAboutVehicle(key)) {
        // Its configuration may still be on its way (topics are read side by side): keep the latest, undecoded.
        if (!state.vehicles.has(key)) unconfigured.set(key, message.value);
        return;
      }
      if (topic === Topics.chargingEvents && cfg.sites !== null && state.chargers.has(key) && !wanted(state.chargers.get(key)!.siteId)) return;
      try {
        handle(topic, await ctx.serde.decode<Record<string, unknown>>(message.value));
        const vehicleId = topic === Topics.fleetConfig && key.startsWith('vehicle:') ? key.slice('vehicle:'.length) : null;
        const raw = vehicleId !== null ? unconfigured.get(vehicleId) : undefined;
        if (vehicleId !== null && raw) {
          unconfigured.delete(vehicleId);
          if (caresAboutVehicle(vehicleId)) handle(Topics.telematicsReadings, await ctx.serde.decode<Record<string, unknown>>(raw));
        }
      } catch (e) {
        log.warn('input skipped', { topic, offset: message.offset, err: e as Error });
      }
    },
  });

  // Readings older than the lookback (a day) and command results older than an hour cannot matter: skip them at start-up (the
  // readings topic is the fleet's busiest). Records fetched before the seek lands are folded harmlessly.
  const admin = ctx.kafka.admin();
  try {
    await admin.connect();
    for (const [topic, ageMs] of [[Topics.telematicsReadings, cfg.readingsLookbackMinutes * 60000], [Topics.ocppCommandResults, 3600000]] as const) {
      for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - ageMs)) {
        if (Number(p.offset) >= 0) consumer.seek({ topic, partition: p.partition, offset: p.offset });
      }
    }
  } catch (e) {
    log.warn('could not skip old readings; replaying them all', { err: e as Error });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }

  // Every slot boundary: re-plan every site with something to plan.
  const slotMs = cfg.slotMinutes * 60000;
  let tick: NodeJS.Timeout;
  const arm = () => {
    tick = setTimeout(() => {
      for (const siteId of state.sites.keys()) {
        const busy = [...state.sessions.values()].some((x) => state.chargers.get(x.chargePointId)?.siteId === siteId);
        if (busy) schedule(siteId, 'slot');
      }
      arm();
    }, slotMs - (Date.now() % slotMs) + 50);
    tick.unref();
  };
  arm();

  return {
    planNow: (siteId, trigger) => {
      const p = running.then(() => planNow(siteId, trigger));
      running = p.catch(() => undefined);
      return p;
    },
    state: () => state,
    stop: async () => {
      stopped = true;
      clearTimeout(tick);
      for (const p of pending.values()) clearTimeout(p.timer);
      pending.clear();
      await running.catch(() => undefined);
      await consumer.disconnect();
      await producer.disconnect();
      if (!opts.solver) await solver.close();
    },
  };
};

/** The optimizer.plans record (schemas/avro/optimizer.plans.avsc). */
export const planRecord = (planId: string, trigger: string, decidedAt: number, plan: Plan, snapshot: SiteSnapshot): Record<string, unknown> => ({
  planId,
  siteId: plan.siteId,
  decidedAt,
  trigger,
  horizonStart: plan.horizonStart,
  slotMinutes: plan.slotMinutes,
  status: plan.status,
  objective: Number.isFinite(plan.objective) ? plan.objective : 0,
  solveMs: plan.solveMs,
  gridLimitKw: plan.gridLimitKw,
  siteKw: [...plan.siteKw],
  vehicles: plan.vehicles.map((v) => ({
    vehicleId: v.vehicleId,
    chargePointId: v.chargePointId,
    connectorId: v.connectorId,
    powerKw: [...v.powerKw],
    targetKwh: v.targetKwh,
    plannedKwh: v.plannedKwh,
    shortfallKwh: v.shortfallKwh,
    departAt: v.departAt,
  })),
  inputsJson: JSON.stringify(snapshot),
});

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
