import { Kafka } from 'kafkajs';
import { fromAvro } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { comparable, session16, session201 } from '../../streams/normalizer/fixtures';
import { RunningFold } from '../../streams/runtime/run-fold';
import { ChargerState } from '../../streams/normalizer/decide';
import { endOffsets } from '../../streams/sink/pg-sink';
import { RunningProjections, startProjections } from '../../streams/projections/run';
import { freshPgSchema, readTopicUntil, uniq } from '../support/stack';
import { createTestTopics, deleteTestTopics, produce, quietLog, testKafka, testSerde, TestTopics, waitForGroup } from './support';
import { deleteChangelog, startFoldNormalizer } from './fold-support';

jest.setTimeout(180_000);

describe('normalizer (fold runtime) → charging.events → projections (real Kafka, registry, PostgreSQL)', () => {
  let kafka: Kafka;
  let topics: TestTopics;
  const serde = testSerde();
  const cp16 = uniq('CP16');
  const cp201 = uniq('CP201');
  const t0 = Date.UTC(2026, 2, 2, 7, 0);
  const script = { t0, idTag: 'TAG-9', meterStartWh: 50_000, energyWh: 22_000, minutes: 90, socStartPct: 20 };
  let normalizer: RunningFold<ChargerState>;
  let projections: RunningProjections;
  let db: Awaited<ReturnType<typeof freshPgSchema>>;
  const groupId = uniq('normalizer');

  beforeAll(async () => {
    kafka = testKafka('streams');
    topics = await createTestTopics(kafka);
    db = await freshPgSchema('streams_e2e');
    const frames = [...session16({ ...script, chargePointId: cp16 }), ...session201({ ...script, chargePointId: cp201, kilo: true })];
    await produce(kafka, serde, topics.frames, Topics.ocppFrames, frames.map((f) => ({ key: f.chargePointId, value: f })));
    await produce(kafka, serde, topics.commandResults, Topics.ocppCommandResults, [
      { key: cp16, value: { commandId: 'cmd-1', chargePointId: cp16, action: 'SetChargingProfile', outcome: 'REJECTED', status: 'Rejected', responseJson: '{"status":"Rejected"}', detail: null, gatewayId: 'gw', completedAt: t0 + 5000 } },
    ]);
    normalizer = await startFoldNormalizer(kafka, serde, topics, groupId);
    await waitForGroup(kafka, groupId, [topics.frames, topics.commandResults]);
    projections = await startProjections({ kafka, serde, pool: db.pool, log: quietLog, schema: db.schema, topics: { events: topics.events, readings: topics.readings, config: topics.config } });
    await projections.sink.reached(await endOffsets(kafka, [topics.events]));
    await projections.refreshAggregates();
  });

  afterAll(async () => {
    await normalizer?.stop();
    await projections?.stop();
    await db?.drop();
    await deleteTestTopics(kafka, topics);
    await deleteChangelog(kafka, topics);
  });

  it('writes the same event sequence for the 1.6 and the 2.0.1 charger, exactly once', async () => {
    const disconnected = (r: { value: Record<string, unknown> }) => 'io.voltstream.events.ChargerDisconnected' in (r.value.body as object);
    // The command result comes from the other input topic: the normalizer may write it after both sessions' events.
    const completed = (r: { value: Record<string, unknown> }) => 'io.voltstream.events.CommandCompleted' in (r.value.body as object);
    const records = await readTopicUntil<Record<string, unknown>>(topics.events, (rs) => rs.filter(disconnected).length === 2 && rs.some(completed), { timeoutMs: 30_000 });
    const events = records.map((r) => fromAvro(r.value));
    const of = (cp: string) => events.filter((e) => e.chargePointId === cp && e.body.type !== 'CommandCompleted');
    expect(of(cp16).length).toBeGreaterThan(30);
    expect(of(cp201).map(comparable)).toEqual(of(cp16).map(comparable));
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    expect(events.find((e) => e.body.type === 'CommandCompleted')?.body).toEqual({ type: 'CommandCompleted', commandId: 'cmd-1', action: 'SetChargingProfile', outcome: 'REJECTED', detail: 'Rejected' });
  });

  it('projects sessions, meter values, statuses and the 15-minute load', async () => {
    const q = async (sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows;
    const sessions = await q(`SELECT session_id, charge_point_id, energy_wh, meter_start_wh, meter_stop_wh, id_tag, active, stop_reason, charger_soc_pct FROM sessions ORDER BY charge_point_id`);
    expect(sessions).toHaveLength(2);
    for (const s of sessions) expect(s).toMatchObject({ energy_wh: 22_000, meter_start_wh: 50_000, meter_stop_wh: 72_000, id_tag: 'TAG-9', active: false, stop_reason: 'EVDisconnected' });
    expect(sessions.map((s) => s.session_id).sort()).toEqual([`${cp16}:4242`, `${cp201}:b7c1e0f2`].sort());
    const meters = await q(`SELECT charge_point_id, count(*)::int AS n, count(DISTINCT measurand)::int AS measurands FROM meter_values GROUP BY 1 ORDER BY 1`);
    expect(meters.map((m) => [m.n, m.measurands])).toEqual([
      [17 * 5, 5],
      [17 * 5, 5],
    ]);
    const power = await q(`SELECT DISTINCT unit, value FROM meter_values WHERE measurand = 'Power.Active.Import'`);
    expect(power).toEqual([{ unit: 'W', value: (22_000 / 90) * 60 }]);
    const status = await q(`SELECT charge_point_id, online, protocol, vendor, heartbeat_interval_s FROM charger_status ORDER BY protocol`);
    expect(status).toEqual([
      { charge_point_id: cp16, online: false, protocol: 'ocpp1.6', vendor: 'Acme', heartbeat_interval_s: 300 },
      { charge_point_id: cp201, online: false, protocol: 'ocpp2.0.1', vendor: 'Acme', heartbeat_interval_s: 300 },
    ]);
    const connectors = await q(`SELECT status, session_id FROM connector_status`);
    expect(connectors).toEqual([
      { status: 'Available', session_id: null },
      { status: 'Available', session_id: null },
    ]);
    const history = await q(`SELECT status FROM charger_status_history WHERE charge_point_id = $1 ORDER BY at, event_id`, [cp201]);
    expect(history.map((h) => h.status)).toEqual(['Online', 'Booted', 'Available', 'Preparing', 'Charging', 'Finishing', 'Available', 'Offline']);
    const load = await q(`SELECT bucket, avg_power_w FROM charger_load_15m WHERE charge_point_id = $1 ORDER BY bucket`, [cp16]);
    expect(load.length).toBeGreaterThanOrEqual(5);
    for (const l of load) expect(l.avg_power_w).toBeCloseTo((22_000 / 90) * 60, 6);
    const outcomes = await q(`SELECT command_id, outcome FROM command_outcomes`);
    expect(outcomes).toEqual([{ command_id: 'cmd-1', outcome: 'REJECTED' }]);
  });
});
