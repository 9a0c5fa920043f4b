import { Kafka } from 'kafkajs';
import { ChargingEvent, fromAvro, toAvro } from '../../schemas/events';
import { configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { ProjectionInput } from '../../streams/projections/projection';
import { RunningProjections, startProjections } from '../../streams/projections/run';
import { endOffsets } from '../../streams/sink/pg-sink';
import { simulate, SimVehicle } from '../../streams/vehicle-tracker/simulation';
import { freshPgSchema, readTopicUntil, uniq } from '../support/stack';
import { produce, quietLog, testKafka, testSerde } from './support';
import { createTrackerTestTopics, deleteTrackerTestTopics, startTestTracker, TestTracker, TrackerTestTopics, waitForTracker } from './tracker-support';

jest.setTimeout(240_000);

const min = 60_000;
const day = 24 * 60 * min;
const t0 = Date.UTC(2026, 5, 1, 17, 0);

describe('vehicle tracker on the real stack (router + site tracker on the fold runtime): matching and SoC backup', () => {
  let kafka: Kafka;
  let topics: TrackerTestTopics;
  const serde = testSerde();
  const id = uniq('vt').replace(/-/g, '');
  const v = (name: string) => `${name}-${id}`;
  const cp = (name: string) => `${name}-${id}`;
  const groupId = uniq('tracker');
  let tracker: TestTracker;
  let projections: RunningProjections;
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  let events: ChargingEvent[] = [];
  const van = (vehicleId: string, extra: Partial<SimVehicle> = {}): SimVehicle => ({ vehicleId, capacityKwh: 60, socPct: 25, telematicsEveryMs: 2 * min, efficiency: 0.9, ...extra });

  // Day 1: three vans arrive minutes apart (no id tags). Day 2: a truly ambiguous pair. Day 3: a 2-hour telematics outage.
  const arrivals = simulate({
    prefix: `${id}a`,
    vehicles: [van(v('V1'), { telematicsPhaseMs: 10_000 }), van(v('V2'), { telematicsPhaseMs: 50_000 }), van(v('V3'), { telematicsPhaseMs: 90_000 })],
    sessions: [
      { vehicleId: v('V1'), chargePointId: cp('CPA'), plugAt: t0, startDelayMs: 40_000, durationMs: 60 * min, powerW: 11_000, idTag: 'FLEET' },
      { vehicleId: v('V2'), chargePointId: cp('CPB'), plugAt: t0 + 4 * min, startDelayMs: 30_000, durationMs: 60 * min, powerW: 11_000, idTag: 'FLEET' },
      { vehicleId: v('V3'), chargePointId: cp('CPC'), plugAt: t0 + 8 * min, startDelayMs: 50_000, durationMs: 60 * min, powerW: 11_000, idTag: 'FLEET' },
    ],
    from: t0 - 20 * min,
    to: t0 + 80 * min,
  });
  const pair = simulate({
    prefix: `${id}b`,
    vehicles: [van(v('P1')), van(v('P2'), { telematicsPhaseMs: 20_000 })],
    sessions: [
      { vehicleId: v('P1'), chargePointId: cp('CPD'), plugAt: t0 + day, startDelayMs: 30_000, durationMs: 90 * min, powerW: 11_000, idTag: 'FLEET' },
      { vehicleId: v('P2'), chargePointId: cp('CPE'), plugAt: t0 + day + 20_000, startDelayMs: 30_000, durationMs: 90 * min, powerW: 11_000, idTag: 'FLEET' },
    ],
    from: t0 + day - 20 * min,
    to: t0 + day + 110 * min,
  });
  const outage = { from: t0 + 2 * day + 30 * min, to: t0 + 2 * day + 150 * min };
  const battery = simulate({
    prefix: `${id}c`,
    vehicles: [van(v('B1'), { idTags: [`TAG-${id}`], telematicsEveryMs: 5 * min, outage, socPct: 10, capacityKwh: 77 })],
    sessions: [{ vehicleId: v('B1'), chargePointId: cp('CPF'), plugAt: t0 + 2 * day, startDelayMs: 30_000, durationMs: 170 * min, powerW: 11_000, idTag: `TAG-${id}` }],
    from: t0 + 2 * day - 20 * min,
    to: t0 + 2 * day + 180 * min,
  });

  const timeOf = (i: ProjectionInput) => (i.kind === 'event' ? i.event.occurredAt : i.kind === 'reading' ? i.reading.readingAt : i.kind === 'config' ? i.config.at : i.kind === 'plan' ? i.plan.decidedAt : i.kind === 'command' ? i.command.issuedAt : i.kind === 'commandResult' ? i.result.completedAt : i.meterReading.measuredAt);

  beforeAll(async () => {
    kafka = testKafka('tracker');
    topics = await createTrackerTestTopics(kafka, 1);
    db = await freshPgSchema('streams_vt');
    tracker = await startTestTracker(kafka, serde, topics, groupId, { transactionalIdPrefix: uniq('tracker-tx') });
    // Feed the log in 10-minute slices of simulated time, as it would arrive live, letting the tracker keep up.
    const all = [...arrivals.inputs, ...pair.inputs, ...battery.inputs].sort((a, b) => timeOf(a) - timeOf(b));
    let i = 0;
    while (i < all.length) {
      const end = timeOf(all[i]!) + 10 * min;
      const slice: ProjectionInput[] = [];
      while (i < all.length && timeOf(all[i]!) < end) slice.push(all[i++]!);
      const ev = slice.flatMap((x) => (x.kind === 'event' ? [{ key: x.event.chargePointId, value: toAvro(x.event) }] : []));
      const rd = slice.flatMap((x) => (x.kind === 'reading' ? [{ key: x.reading.vehicleId, value: x.reading }] : []));
      const cf = slice.flatMap((x) => (x.kind === 'config' ? [{ key: 'config', value: configToAvro(x.config) }] : []));
      if (cf.length) await produce(kafka, serde, topics.config, Topics.fleetConfig, cf);
      if (rd.length) await produce(kafka, serde, topics.readings, Topics.telematicsReadings, rd);
      if (ev.length) await produce(kafka, serde, topics.events, Topics.chargingEvents, ev);
      await waitForTracker(kafka, topics, groupId);
    }
    const records = await readTopicUntil<Record<string, unknown>>(topics.events, () => false, { idleMs: 5000, timeoutMs: 180_000 });
    events = records.map((r) => fromAvro(r.value)).filter((e) => e.eventId.startsWith('vt:'));
    projections = await startProjections({ kafka, serde, pool: db.pool, log: quietLog, schema: db.schema, topics: { events: topics.events, readings: topics.readings, config: topics.config } });
    await projections.sink.reached(await endOffsets(kafka, [topics.events, topics.readings, topics.config]));
  });

  afterAll(async () => {
    await tracker?.stop();
    await projections?.stop();
    await db?.drop();
    await deleteTrackerTestTopics(kafka, topics);
  });

  const matched = () =>
    events
      .filter((e) => e.body.type === 'VehicleMatched')
      .map((e) => {
        const b = e.body as { sessionId: string; vehicleId: string; method: string };
        return [b.sessionId.split('-')[0], b.vehicleId.split('-')[0], b.method];
      })
      .sort();

  it('matches each of three vans arriving minutes apart, leaves the ambiguous pair unmatched, matches the id tag', () => {
    expect(matched()).toEqual([
      ['CPA', 'V1', 'telematics'],
      ['CPB', 'V2', 'telematics'],
      ['CPC', 'V3', 'telematics'],
      ['CPF', 'B1', 'idTag'],
    ]);
  });

  it('sessions carry the matched vehicle; the ambiguous ones none', async () => {
    const rows = (await db.pool.query(`SELECT charge_point_id, vehicle_id, match_method FROM sessions ORDER BY charge_point_id`)).rows;
    expect(rows.map((r) => [r.charge_point_id.split('-')[0], r.vehicle_id?.split('-')[0] ?? null])).toEqual([
      ['CPA', 'V1'],
      ['CPB', 'V2'],
      ['CPC', 'V3'],
      ['CPD', null],
      ['CPE', null],
      ['CPF', 'B1'],
    ]);
  });

  it('estimates SoC during the 2-hour outage within 3 pp of the simulated battery, and records the error afterwards', async () => {
    const estimates = events.filter((e) => e.body.type === 'SocEstimated');
    expect(estimates.length).toBeGreaterThanOrEqual(18);
    for (const e of estimates) expect(Math.abs((e.body as { socPct: number }).socPct - battery.trueSoc(v('B1'), e.occurredAt))).toBeLessThan(3);
    const history = (await db.pool.query(`SELECT at, soc_pct FROM soc_history WHERE vehicle_id = $1 AND source = 'estimate' ORDER BY at`, [v('B1')])).rows;
    expect(history).toHaveLength(estimates.length);
    const checks = (await db.pool.query(`SELECT error_pct FROM soc_estimate_checks WHERE vehicle_id = $1`, [v('B1')])).rows;
    expect(checks).toHaveLength(1);
    expect(Math.abs(checks[0].error_pct)).toBeLessThan(3);
    const best = (await db.pool.query(`SELECT source, soc_pct FROM vehicle_soc WHERE vehicle_id = $1`, [v('B1')])).rows[0];
    expect(best.source).toBe('telematics');
    expect(Math.abs(best.soc_pct - battery.trueSoc(v('B1'), t0 + 2 * day + 180 * min))).toBeLessThan(0.2);
  });
});
