import { Kafka, Producer, ProducerRecord } from 'kafkajs';
import { createContext } from '../../services/common/context';
import { Health } from '../../services/common/health';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { ServiceContext } from '../../services/common/service';
import { ChargingEvent, EventBody, toAvro } from '../../schemas/events';
import { ConfigBody, configKey, configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { defaultOptimizerConfig, OptimizerConfig } from '../../services/optimizer/config';
import { planSite } from '../../services/optimizer/planner';
import { checkpointKey } from '../../services/optimizer/checkpoint-store';
import { createOptimizer, Optimizer } from '../../services/optimizer/service';
import { snapshotOf } from '../../services/optimizer/site-snapshot';
import { createWorkerSolver, Solver } from '../../services/optimizer/solver';
import { plainRegistryClient, testConfig, testKafka, uniq, waitForValue } from '../support/stack';

/** Issue 13's acceptance: an optimizer started on a long history sends nothing (no plan, no cap, no profile) before
 *  it has caught up with its inputs, reports its restore on its health part, and its first plan is the plan of an
 *  optimizer that never stopped: same inputs, same clock. Real broker and registry. */
jest.setTimeout(240000);

const CHARGERS = 8;
const SAMPLES = 500;

interface PlanRecord {
  planId: string;
  siteId: string;
  trigger: string;
  status: string;
  siteKw: number[];
  vehicles: { vehicleId: string; chargePointId: string | null; powerKw: number[] }[];
  inputsJson: string;
}

interface Sent {
  readonly topic: string;
  readonly messages: number;
  readonly status: string | undefined;
}

/** The context with every producer's sends recorded, and the named health part's status at the moment of each; `crash`
 *  tells the latest consumer's crash listeners what kafkajs tells them when it gives a consumer up. */
const watchedContext = (ctx: ServiceContext, part: string, sent: Sent[], crash: { now?: () => void }): ServiceContext => {
  const kafka = new Proxy(ctx.kafka, {
    get(target, prop) {
      if (prop === 'consumer') {
        return (...args: Parameters<Kafka['consumer']>) => {
          const c = target.consumer(...args);
          const on = c.on.bind(c) as (event: string, listener: (e: unknown) => void) => () => void;
          const listeners: ((e: unknown) => void)[] = [];
          (c as { on: unknown }).on = (event: string, listener: (e: unknown) => void) => {
            if (event === c.events.CRASH) listeners.push(listener);
            return on(event, listener);
          };
          crash.now = () => listeners.forEach((l) => l({ type: c.events.CRASH, payload: { error: new Error('test: consumer gave up'), groupId: 'g', restart: false } }));
          return c;
        };
      }
      if (prop === 'producer') {
        return (...args: Parameters<Kafka['producer']>) => {
          const p = target.producer(...args);
          const send = p.send.bind(p);
          p.send = (r: ProducerRecord) => {
            sent.push({ topic: r.topic, messages: r.messages.length, status: ctx.health.report().parts[part]?.status });
            return send(r);
          };
          return p;
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { ...ctx, kafka };
};

const planReader = async (siteId: string) => {
  const registry = plainRegistryClient();
  const consumer = testKafka('restore-plans').consumer({ groupId: uniq('restore-plans'), maxWaitTimeInMs: 200 });
  const plans: PlanRecord[] = [];
  await consumer.connect();
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.subscribe({ topics: [Topics.optimizerPlans], fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.key?.toString() !== siteId) return;
      plans.push((await registry.decode(message.value!)) as PlanRecord);
    },
  });
  await joined;
  await new Promise((r) => setTimeout(r, 1500));
  return { plans, stop: () => consumer.disconnect() };
};

/** The context whose producers send nothing: a reference optimizer that folds like any other and leaves no trace. */
const silentContext = (ctx: ServiceContext): ServiceContext => {
  const kafka = new Proxy(ctx.kafka, {
    get(target, prop) {
      if (prop === 'producer') {
        return (...args: Parameters<Kafka['producer']>) => {
          const p = target.producer(...args);
          p.send = () => Promise.resolve([]);
          return p;
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { ...ctx, kafka };
};

/** The context whose named health part remembers the most records it said it had to fold while restoring. Every
 *  report is seen: a poll of the health report can miss a restore from a checkpoint, over in a few milliseconds. */
const restoreTotal = (ctx: ServiceContext, part: string) => {
  let total = 0;
  const health: Health = {
    report: () => ctx.health.report(),
    part: (name) => {
      const handle = ctx.health.part(name);
      if (name !== part) return handle;
      return {
        ...handle,
        restoring: (progress, detail) => {
          total = Math.max(total, progress.total);
          handle.restoring(progress, detail);
        },
      };
    },
  };
  return { ctx: { ...ctx, health }, total: () => total };
};

describe('optimizer restore', () => {
  let ctx: ServiceContext;
  let producer: Producer;
  let solver: Solver;
  const stops: (() => Promise<unknown>)[] = [];
  const siteId = uniq('site');
  const cps = Array.from({ length: CHARGERS }, (_, i) => uniq(`rcp${i}`));
  const vehicles = Array.from({ length: CHARGERS + 2 }, (_, i) => uniq(`rveh${i}`));
  // One instant for both optimizers; the history lies before it.
  const T = Math.floor(Date.now() / 60000) * 60000;
  const clock = () => T;
  // The first two tests restore from the log start (a first start, or a checkpoint of another shape); the last one
  // from a checkpoint.
  const cfg: OptimizerConfig = { ...defaultOptimizerConfig, sites: [siteId], debounceMs: 300, groupId: uniq('restore-test'), checkpointMinutes: 0 };

  let b: Optimizer;
  let reader: Awaited<ReturnType<typeof planReader>>;
  const sent: Sent[] = [];
  const crash: { now?: () => void } = {};

  const send = async (topic: string, records: { key: string; value: unknown }[]) => {
    for (let i = 0; i < records.length; i += 500) {
      const chunk = records.slice(i, i + 500);
      await producer.send({ topic, acks: DURABLE_ACKS, messages: await Promise.all(chunk.map(async (r) => ({ key: r.key, value: await ctx.serde.encode(topic, r.value) }))) });
    }
  };
  const config = (body: ConfigBody) => ({ key: configKey(body), value: configToAvro({ eventId: uniq('cfg'), at: T - 4 * 3600000, actor: 'test', body }) });
  const event = (chargePointId: string, body: EventBody, occurredAt: number) => {
    const e: ChargingEvent = { eventId: uniq('ev'), chargePointId, occurredAt, source: null, body };
    return { key: chargePointId, value: toAvro(e) };
  };

  beforeAll(async () => {
    ctx = createContext(testConfig(), uniq('optimizer-restore'));
    producer = createDurableProducer(ctx.kafka);
    await producer.connect();
    solver = createWorkerSolver({ timeoutMs: 20000 });
  });

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await producer?.disconnect();
    await solver?.close();
  });

  test('restarted on a long history: no command before it caught up, and its first plan is the never-stopped plan', async () => {
    // Given an optimizer that runs while the history is written.
    const a: Optimizer = await createOptimizer(ctx, cfg, { clock, instanceId: uniq('a'), part: 'optimizer-a' });
    stops.push(() => a.stop());
    await a.restored();

    await send(Topics.fleetConfig, [
      config({ type: 'SiteConfigured', siteId, name: 'Restore depot', gridLimitKw: 60, latitude: 52.5, longitude: 13.4, timezone: 'Europe/Berlin' }),
      config({ type: 'TariffConfigured', siteId, currency: 'EUR', periods: [{ from: '00:00', to: '06:00', pricePerKwh: 0.12 }, { from: '06:00', to: '00:00', pricePerKwh: 0.3 }], demandChargePerKwMonth: 12 }),
      ...cps.map((chargePointId, i) =>
        config({ type: 'ChargerConfigured', chargePointId, siteId, maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: i % 2 ? 'A,W' : 'A', maxSchedulePeriods: 10 }),
      ),
      ...vehicles.map((vehicleId) => config({ type: 'VehicleConfigured', vehicleId, batteryCapacityKwh: 80, maxAcPowerKw: 11, maxDcPowerKw: 100, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId })),
      ...vehicles.map((vehicleId, i) => config({ type: 'DepartureScheduled', departureId: uniq('dep'), vehicleId, departAt: T + (4 + i) * 3600000, requiredSocPct: 70 + i, requiredEnergyKwh: null, routeKm: null, priority: 1 + (i % 3) })),
    ]);
    // Per charger: a session and SAMPLES meter samples (a constant power each, so the site peak is the same in any
    // interleaving), with SoC from the charger and the vehicle tracker along the way.
    const start = T - 3 * 3600000;
    const history = cps.flatMap((cp, i) => {
      const sessionId = uniq('rs');
      const kw = 3 + i;
      return [
        event(cp, { type: 'ChargerConnected', protocol: i % 2 ? 'ocpp2.0.1' : 'ocpp1.6', gatewayId: 'gw-test' }, start),
        event(cp, { type: 'SessionStarted', sessionId, transactionId: String(100 + i), connectorId: 1, idTag: null, meterStartWh: 0 }, start),
        event(cp, { type: 'VehicleMatched', sessionId, vehicleId: vehicles[i]!, confidence: 1, method: 'idTag', replacesVehicleId: null }, start + 1000),
        ...Array.from({ length: SAMPLES }, (_, k) => {
          const at = start + 2000 + k * 20000;
          const samples = [
            { measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: kw * 1000 },
            { measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: null, unit: 'Wh', value: Math.round((kw * 1000 * (at - start)) / 3600000) },
          ];
          return k % 50 === 25
            ? event(cp, { type: 'ChargerReportedSoc', sessionId, connectorId: 1, socPct: 20 + i + k / 25 }, at)
            : k % 50 === 40
              ? event(cp, { type: 'SocEstimated', vehicleId: vehicles[i]!, sessionId, socPct: 21 + i + k / 25, uncertaintyPct: 3, baseSocPct: 20, baseAt: start, deliveredWhSinceBase: k * 10 }, at)
              : event(cp, { type: 'MeterSampled', sessionId, connectorId: 1, samples }, at);
        }),
        // The charger reconnected a few minutes ago (a restart of the system): its caps are due, but only once caught up.
        event(cp, { type: 'ChargerConnected', protocol: i % 2 ? 'ocpp2.0.1' : 'ocpp1.6', gatewayId: 'gw-test' }, T - 5 * 60000),
      ];
    });
    await send(Topics.chargingEvents, history);
    // Two vehicles still out, coming back with an ETA.
    await send(
      Topics.telematicsReadings,
      vehicles.slice(CHARGERS).flatMap((vehicleId, i) =>
        Array.from({ length: 20 }, (_, k) => {
          const readingAt = start + k * 600000;
          return {
            key: vehicleId,
            value: {
              readingId: uniq('rr'), vehicleId, provider: 'test', providerReadingId: uniq('p'), readingAt, receivedAt: readingAt,
              socPct: 60 - k - i, rangeKm: null, odometerKm: null, latitude: null, longitude: null, chargingState: 'NOT_CHARGING', pluggedIn: false, batteryCapacityKwh: 80, etaAt: T + (1 + i) * 3600000,
            },
          };
        }),
      ),
    );
    const records = 2 + 2 * vehicles.length + CHARGERS + history.length + 2 * 20;

    // A has folded all of it, planned, and gone quiet.
    await waitForValue('A folded the whole history', () => (cps.every((cp) => a.state().sessions.values().some((x) => x.chargePointId === cp && x.lastSeenAt === start + 2000 + (SAMPLES - 1) * 20000)) ? true : undefined), 60000);
    let last = a.state();
    let quietSince = Date.now();
    await waitForValue(
      'A quiet for 3 s',
      () => {
        if (a.state() !== last) {
          last = a.state();
          quietSince = Date.now();
        }
        return Date.now() - quietSince > 3000 ? true : undefined;
      },
      60000,
      100,
    );
    expect(a.state().control.size).toBe(CHARGERS); // A commanded every connector: B must restore that too
    const expected = snapshotOf(a.state(), siteId, T, cfg)!;
    const expectedPlan = (await planSite(expected, solver)).plan;
    await a.stop();

    // When a second optimizer starts on that history (and A's commands).
    reader = await planReader(siteId);
    stops.push(() => reader.stop());
    const seen: { status: string; done?: number; total?: number }[] = [];
    const watch = setInterval(() => {
      const p = ctx.health.report().parts['optimizer-b'];
      if (p) seen.push({ status: p.status, done: p.restore?.done, total: p.restore?.total });
    }, 5);
    const t0 = performance.now();
    b = await createOptimizer(watchedContext(ctx, 'optimizer-b', sent, crash), cfg, { clock, instanceId: uniq('b'), part: 'optimizer-b' });
    stops.push(() => b.stop());
    await b.restored();
    const restoreMs = performance.now() - t0;
    const first = (await waitForValue('B’s first plan', () => reader.plans.find((p) => p.trigger === 'restored'), 60000))!;
    clearInterval(watch);

    // Then: nothing was sent while restoring; the plan and the profiles went out once running.
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.filter((s) => s.status !== 'running')).toEqual([]);
    expect(sent.some((s) => s.topic === Topics.ocppCommands)).toBe(true);
    expect(sent.some((s) => s.topic === Topics.optimizerPlans)).toBe(true);
    // It reported its restore: restoring with progress over at least this test's history, then running.
    const restoring = seen.filter((s) => s.status === 'restoring' && s.total !== undefined && s.total > 0);
    expect(restoring.length).toBeGreaterThan(0);
    expect(Math.max(...restoring.map((s) => s.total!))).toBeGreaterThanOrEqual(records);
    expect(seen[seen.length - 1]!.status).toBe('running');
    expect(ctx.health.report().parts['optimizer-b']?.lag).toBeDefined();

    // The first plan is the plan of the optimizer that never stopped: the same snapshot, the same powers.
    expect(reader.plans[0]!.planId).toBe(first.planId);
    expect(JSON.parse(first.inputsJson)).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(first.status).toBe(expectedPlan.status);
    expect(first.vehicles.map((v) => v.vehicleId)).toEqual(expectedPlan.vehicles.map((v) => v.vehicleId));
    first.vehicles.forEach((v, i) => v.powerKw.forEach((kw, t) => expect(kw).toBeCloseTo(expectedPlan.vehicles[i]!.powerKw[t]!, 6)));
    first.siteKw.forEach((kw, t) => expect(kw).toBeCloseTo(expectedPlan.siteKw[t]!, 6));
    console.log(`restored ${records} records of this test (and the shared topics' history) in ${Math.round(restoreMs)} ms`);
  });

  test('a consumer that crashes for good is replaced under the supervisor, and its fold restores again before acting', async () => {
    const part = () => ctx.health.report().parts['optimizer-b']!;
    const before = b.state();
    const plansBefore = reader.plans.length;
    sent.length = 0;
    crash.now!();
    await waitForValue('B restarted and restored', () => (part().restarts === 1 && part().status === 'running' ? true : undefined), 60000, 20);
    await b.restored();
    expect(b.state()).not.toBe(before);
    expect(b.state().sessions.values().filter((x) => cps.includes(x.chargePointId)).map((x) => x.sessionId).sort()).toEqual(before.sessions.values().filter((x) => cps.includes(x.chargePointId)).map((x) => x.sessionId).sort());
    const again = await waitForValue('the plan after the second restore', () => reader.plans.slice(plansBefore).find((p) => p.trigger === 'restored'), 60000);
    expect(again.vehicles.map((v) => v.vehicleId).sort()).toEqual([...vehicles].sort());
    expect(sent.filter((s) => s.status !== 'running')).toEqual([]);
  });

  test('restarted from its checkpoint: it folds only what came after, sends nothing before, and plans as a fold of the whole history', async () => {
    await b.stop();
    const checkpointed: OptimizerConfig = { ...cfg, checkpointMinutes: 5, groupId: uniq('restore-checkpoint') };
    const checkpointRow = async () =>
      (await ctx.pool.query<{ taken_at: Date }>(`SELECT taken_at FROM optimizer.fold_checkpoints WHERE checkpoint_key = $1`, [checkpointKey(checkpointed.groupId, checkpointed.sites)])).rows[0];

    // Given an optimizer that restored the history from the log start, checkpointed it, planned, and stopped.
    const plansBefore = reader.plans.length;
    const d = await createOptimizer(ctx, checkpointed, { clock, instanceId: uniq('d'), part: 'optimizer-d' });
    stops.push(() => d.stop());
    await d.restored();
    await waitForValue('D’s checkpoint after its restore', checkpointRow, 30000);
    await waitForValue('D’s first plan', () => reader.plans.slice(plansBefore).find((p) => p.trigger === 'restored'), 60000);
    await new Promise((r) => setTimeout(r, 2000));
    const atStop = d.state();
    await d.stop();

    // And records written while no optimizer ran: more samples (the same powers) and a SoC from each charger.
    const start = T - 3 * 3600000;
    const sessions = new Map(atStop.sessions.values().filter((x) => cps.includes(x.chargePointId)).map((x) => [x.chargePointId, x.sessionId]));
    const tail = cps.flatMap((cp, i) => {
      const sessionId = sessions.get(cp)!;
      return Array.from({ length: 30 }, (_, k) => {
        const at = start + 2000 + (SAMPLES + k) * 20000;
        const kw = 3 + i;
        return k === 29
          ? event(cp, { type: 'ChargerReportedSoc', sessionId, connectorId: 1, socPct: 60 + i }, at)
          : event(cp, {
              type: 'MeterSampled',
              sessionId,
              connectorId: 1,
              samples: [
                { measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: kw * 1000 },
                { measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: null, unit: 'Wh', value: Math.round((kw * 1000 * (at - start)) / 3600000) },
              ],
            }, at);
      });
    });
    await send(Topics.chargingEvents, tail);

    // The reference: an optimizer without checkpoints that folds the whole history and sends nothing.
    const fTotal = restoreTotal(ctx, 'optimizer-f');
    const f = await createOptimizer(silentContext(fTotal.ctx), { ...cfg, groupId: uniq('restore-reference') }, { clock, instanceId: uniq('f'), part: 'optimizer-f' });
    stops.push(() => f.stop());
    await f.restored();
    const expected = snapshotOf(f.state(), siteId, T, cfg)!;
    await f.stop();
    expect(expected).not.toEqual(snapshotOf(atStop, siteId, T, cfg));
    const expectedPlan = (await planSite(expected, solver)).plan;

    // When an optimizer with D's checkpoints starts.
    const sentE: Sent[] = [];
    const eTotal = restoreTotal(ctx, 'optimizer-e');
    const plansBeforeE = reader.plans.length;
    const e = await createOptimizer(watchedContext(eTotal.ctx, 'optimizer-e', sentE, {}), checkpointed, { clock, instanceId: uniq('e'), part: 'optimizer-e' });
    stops.push(() => e.stop());
    await e.restored();
    const first = await waitForValue('E’s first plan', () => reader.plans.slice(plansBeforeE).find((p) => p.trigger === 'restored'), 60000);

    // Then it folded the tail, not the history, and sent nothing until it had.
    expect(eTotal.total()).toBeGreaterThanOrEqual(tail.length);
    expect(eTotal.total()).toBeLessThan(fTotal.total() / 2);
    expect(sentE.filter((x) => x.status !== 'running')).toEqual([]);
    expect(sentE.some((x) => x.topic === Topics.ocppCommands)).toBe(true);
    // And its first plan is the plan of the whole history folded.
    expect(JSON.parse(first.inputsJson)).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(first.status).toBe(expectedPlan.status);
    first.vehicles.forEach((v, i) => v.powerKw.forEach((kw, t) => expect(kw).toBeCloseTo(expectedPlan.vehicles[i]!.powerKw[t]!, 6)));
    console.log(`from its checkpoint, E folded ${eTotal.total()} records; the reference folded ${fTotal.total()} from the log start`);
  });
});
