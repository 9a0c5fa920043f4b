import { randomUUID } from 'node:crypto';
import { Client, Pool } from 'pg';
import { migrate } from '../../infra/database/migrate';
import { projectionMigrations } from '../../streams/projections/migrations';
import { projectionTables } from '../../streams/projections/tables';
import { insertRows } from '../../streams/sink/sql';
import { refreshLoadAggregate } from '../../streams/projections/load-aggregate';
import * as E from 'fp-ts/Either';
import { optimizerPlansProjection } from '../../streams/projections/plans';
import { decodePlanRecord } from '../../schemas/plan-record';
import { quoteIdent } from '../../services/common/db';
import { freshPgSchema, testConfig, uniq } from '../support/stack';
import { startTestApi, TestApi, TestResponse } from './harness';

/** History, state and SQL access over projection tables in a fresh schema (migrated with streams/projections'
 *  migrations, rows written as the projections' sink writes them), plans through optimizer.plans on the real broker. */
jest.setTimeout(120_000);

let t: TestApi;
let db: { pool: Pool; schema: string; drop(): Promise<void> };
const analyticsSchema = uniq('analytics_h').replace(/-/g, '_');
const site = uniq('site');
const cp1 = uniq('CP1');
const cp2 = uniq('CP2');
const veh = uniq('VEH');
const T0 = Date.parse('2026-03-01T06:00:00Z');
const min = 60_000;
let reader: string;

/** Rows written the way the sink writes them (a column a row leaves out is NULL). */
const insert = async (table: string, rows: Record<string, unknown>[]) => {
  const def = projectionTables.find((d) => d.name === table)!;
  const client = await db.pool.connect();
  try {
    await insertRows(client, { ...def, name: `${quoteIdent(db.schema)}.${table}` }, rows);
  } finally {
    client.release();
  }
};

// Seven status rows of cp1, two pairs sharing a timestamp (the cursor must break ties on the event id).
const statusRows = [0, 5, 5, 10, 20, 20, 30].map((m, i) => ({
  at: T0 + m * min, charge_point_id: cp1, connector_id: i === 0 ? 0 : 1, status: ['Online', 'Available', 'Preparing', 'Charging', 'SuspendedEV', 'Charging', 'Finishing'][i], error_code: null, info: null,
  event_id: `ev-${String.fromCharCode(97 + ((i * 3) % 7))}-${i}`,
}));

const plan = (planId: string, decidedAt: number) => ({
  planId, siteId: site, decidedAt, trigger: 'test', horizonStart: T0, slotMinutes: 15, status: 'Optimal', objective: 12.5, solveMs: 3.2, gridLimitKw: 100,
  siteKw: [40, 30, 20], vehicles: [{ vehicleId: veh, chargePointId: cp1, connectorId: 1, powerKw: [40, 30, 20], targetKwh: 30, plannedKwh: 22.5, shortfallKwh: 7.5, departAt: null }],
  inputsJson: JSON.stringify({ vehicles: 1 }),
});

beforeAll(async () => {
  db = await freshPgSchema('proj_h');
  const { dialect } = await migrate(db.pool, db.schema, projectionMigrations);
  await insert('fleet_sites', [{ site_id: site, name: 'Depot H', grid_limit_kw: 100, latitude: 52.5, longitude: 13.4, timezone: 'Europe/Berlin', configured_at: T0 - 60 * min }]);
  await insert('fleet_chargers', [cp1, cp2].map((cp) => ({ charge_point_id: cp, site_id: site, max_power_kw: 50, owner_partner_id: null, phases: 3, current_type: 'AC', configured_at: T0 - 60 * min })));
  await insert('fleet_vehicles', [{ vehicle_id: veh, battery_capacity_kwh: 75, max_ac_power_kw: 11, max_dc_power_kw: 150, consumption_kwh_per_km: 0.2, id_tags: ['T1'], telematics_provider: null, site_id: site, configured_at: T0 - 60 * min }]);
  await insert('charger_status_history', statusRows);
  await insert('charger_status', [{ charge_point_id: cp1, online: true, protocol: 'ocpp1.6', gateway_id: 'gw', vendor: 'Acme', model: 'X1', heartbeat_interval_s: 300, connected_at: Date.now() - 10 * min, last_seen_at: Date.now() - 1000 }]);
  await insert('connector_status', [{ charge_point_id: cp1, connector_id: 1, status: 'Charging', since: Date.now() - 5 * min, session_id: `${cp1}:7` }]);
  await insert('sessions', [
    { session_id: `${cp1}:5`, charge_point_id: cp1, connector_id: 1, transaction_id: '5', started_at: T0 + 1 * min, ended_at: T0 + 40 * min, active: false, meter_start_wh: 0, meter_stop_wh: 12000, energy_wh: 12000, match_corrections: 0, vehicle_id: veh, match_confidence: 1, match_method: 'idTag' },
    { session_id: `${cp2}:1`, charge_point_id: cp2, connector_id: 1, transaction_id: '1', started_at: T0 + 2 * min, ended_at: T0 + 30 * min, active: false, meter_start_wh: 0, meter_stop_wh: 8000, energy_wh: 8000, match_corrections: 0 },
    { session_id: `${cp1}:7`, charge_point_id: cp1, connector_id: 1, transaction_id: '7', started_at: T0 + 50 * min, active: true, meter_start_wh: 12000, energy_wh: 3000, match_corrections: 0, vehicle_id: veh, match_confidence: 0.9, match_method: 'telematics', charger_soc_pct: 55, charger_soc_at: T0 + 55 * min },
  ]);
  // Power samples every 5 minutes on both chargers, plus an energy register on cp1.
  const mv: Record<string, unknown>[] = [];
  for (let i = 0; i < 6; i++) {
    for (const [cp, w] of [[cp1, 11000], [cp2, 7000]] as const) {
      const eventId = `mv-${cp}-${i}`;
      mv.push({ at: T0 + i * 5 * min, charge_point_id: cp, connector_id: 1, measurand: 'Power.Active.Import', unit: 'W', value: w, event_id: eventId, idx: 0 });
      if (cp === cp1) mv.push({ at: T0 + i * 5 * min, charge_point_id: cp, connector_id: 1, measurand: 'Energy.Active.Import.Register', unit: 'Wh', value: 1000 * i, event_id: eventId, idx: 1 });
    }
  }
  await insert('meter_values', mv);
  await refreshLoadAggregate(db.pool, dialect, db.schema, null);
  await insert('soc_history', [
    { at: T0 + 0 * min, vehicle_id: veh, source: 'telematics', soc_pct: 20, event_id: 's1' },
    { at: T0 + 20 * min, vehicle_id: veh, session_id: `${cp1}:5`, source: 'estimate', soc_pct: 35, uncertainty_pct: 3, event_id: 's2' },
    { at: T0 + 30 * min, session_id: `${cp1}:5`, charge_point_id: cp1, source: 'charger', soc_pct: 41, event_id: 's3' },
  ]);
  await insert('vehicle_state', [{ vehicle_id: veh, telematics_soc_pct: 50, telematics_at: Date.now() - 2 * min, plugged_in: true }]);
  await insert('command_outcomes', [{ at: Date.now() - min, charge_point_id: cp1, command_id: 'c1', action: 'SetChargingProfile', outcome: 'ACCEPTED', event_id: 'co1' }]);

  await insert('optimizer_plans', [plan(randomUUID(), T0 + 1 * min), plan(randomUUID(), T0 + 2 * min), { ...plan(randomUUID(), Date.now()), horizonStart: Date.now() - 16 * min }].flatMap((p) =>
    optimizerPlansProjection.rows({ kind: 'plan', plan: E.getOrElseW((why: string) => { throw new Error(why); })(decodePlanRecord(p)) }),
  ));
  t = await startTestApi({ projectionSchema: db.schema, analyticsSchema });
  reader = await t.issueKey(['history:read']);

});

afterAll(async () => {
  await t?.stop();
  await db?.drop();
});

const get = (path: string, headers: Record<string, string> = {}) => t.call('GET', path, { key: reader, headers });
const range = `from=${encodeURIComponent(new Date(T0 - 60 * min).toISOString())}&to=${encodeURIComponent(new Date(T0 + 120 * min).toISOString())}`;

const allPages = async (path: string, headers: Record<string, string> = {}): Promise<TestResponse[]> => {
  const pages: TestResponse[] = [];
  let url = path;
  for (;;) {
    const r = await get(url, headers);
    expect(r.status).toBe(200);
    pages.push(r);
    const next = r.json?.nextCursor ?? r.headers.get('x-next-cursor');
    if (!next) return pages;
    url = `${path}&cursor=${next}`;
  }
};

test('status history pages through more than one page with a stable cursor, in (time, id) order', async () => {
  const pages = await allPages(`/api/v1/chargers/${cp1}/status?${range}&limit=3`);
  expect(pages.map((p) => p.json.items.length)).toEqual([3, 3, 1]);
  const got = pages.flatMap((p) => p.json.items);
  const expected = [...statusRows].sort((a, b) => a.at - b.at || a.event_id.localeCompare(b.event_id));
  expect(got.map((r: { eventId: string }) => r.eventId)).toEqual(expected.map((r) => r.event_id));
  expect(got[0]).toEqual({ at: new Date(expected[0]!.at).toISOString(), chargePointId: cp1, connectorId: expected[0]!.connector_id, status: expected[0]!.status, errorCode: null, info: null, eventId: expected[0]!.event_id });
  expect(pages[2]!.json.nextCursor).toBeNull();
  expect(pages[0]!.headers.get('link')).toMatch(/^<\/api\/v1\/chargers\/.+\/status\?.*cursor=.+>; rel="next"$/);
});

test('a cursor stays valid when rows arrive before it: the next page neither repeats nor skips', async () => {
  const first = await get(`/api/v1/chargers/${cp1}/status?${range}&limit=3`);
  await insert('charger_status_history', [{ at: T0 + 1 * min, charge_point_id: cp1, connector_id: 1, status: 'Late', event_id: `late-${randomUUID()}` }]);
  const second = await get(`/api/v1/chargers/${cp1}/status?${range}&limit=3&cursor=${first.json.nextCursor}`);
  const sorted = [...statusRows].sort((a, b) => a.at - b.at || a.event_id.localeCompare(b.event_id));
  expect(second.json.items.map((r: { eventId: string }) => r.eventId)).toEqual(sorted.slice(3, 6).map((r) => r.event_id));
});

test('CSV: header and rows, the next cursor in a header', async () => {
  const pages = await allPages(`/api/v1/chargers/${cp1}/meter-values?${range}&measurand=Energy.Active.Import.Register&limit=4`, { Accept: 'text/csv' });
  expect(pages).toHaveLength(2);
  expect(pages[0]!.headers.get('content-type')).toBe('text/csv; charset=utf-8');
  const lines = pages.flatMap((p, i) => p.text.trim().split('\r\n').slice(i === 0 ? 0 : 1));
  expect(lines[0]).toBe('at,connectorId,sessionId,measurand,phase,location,context,unit,value,eventId,idx');
  expect(lines.slice(1)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `${new Date(T0 + i * 5 * min).toISOString()},1,,Energy.Active.Import.Register,,,,Wh,${1000 * i},mv-${cp1}-${i},1`));
  expect(pages[1]!.headers.get('x-next-cursor')).toBeNull();
});

test('sessions filtered by site, vehicle and state', async () => {
  const all = await get(`/api/v1/sessions?${range}&siteId=${site}`);
  expect(all.json.items.map((s: { sessionId: string }) => s.sessionId)).toEqual([`${cp1}:5`, `${cp2}:1`, `${cp1}:7`]);
  expect(all.json.items[0]).toMatchObject({ chargePointId: cp1, energyWh: 12000, vehicleId: veh, active: false, endedAt: new Date(T0 + 40 * min).toISOString() });
  const active = await get(`/api/v1/sessions?${range}&siteId=${site}&active=true`);
  expect(active.json.items.map((s: { sessionId: string }) => s.sessionId)).toEqual([`${cp1}:7`]);
  const byVehicle = await get(`/api/v1/sessions?${range}&vehicleId=${veh}&limit=1`);
  expect(byVehicle.json.items).toHaveLength(1);
  expect((await get(`/api/v1/sessions?${range}&vehicleId=${veh}&limit=1&cursor=${byVehicle.json.nextCursor}`)).json.items[0].sessionId).toBe(`${cp1}:7`);
});

test('vehicle SoC with its source, including charger values attributed through the session', async () => {
  const r = await get(`/api/v1/vehicles/${veh}/soc?${range}`);
  expect(r.json.items.map((x: { source: string; socPct: number }) => [x.source, x.socPct])).toEqual([['telematics', 20], ['estimate', 35], ['charger', 41]]);
  expect(r.json.items[1].uncertaintyPct).toBe(3);
});

test('site load per 15 minutes', async () => {
  const r = await get(`/api/v1/sites/${site}/load?${range}`);
  expect(r.json.items.map((x: { at: string; avgPowerKw: number; chargers: number }) => [x.at, x.avgPowerKw, Number(x.chargers)])).toEqual([
    [new Date(T0).toISOString(), 18, 2],
    [new Date(T0 + 15 * min).toISOString(), 18, 2],
  ]);
  expect(r.json.items[0].gridLimitKw).toBe(100);
});

test('plans from optimizer.plans, with their inputs on request', async () => {
  let r: TestResponse | undefined;
  for (let i = 0; i < 100; i++) {
    r = await get(`/api/v1/sites/${site}/plans?from=${encodeURIComponent(new Date(T0 - min).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + min).toISOString())}&include=inputs`);
    if (r.json.items.length >= 3) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  expect(r!.json.items).toHaveLength(3);
  expect(r!.json.items[0]).toMatchObject({ siteId: site, status: 'Optimal', siteKw: [40, 30, 20], slotMinutes: 15, inputs: { vehicles: 1 }, decidedAt: new Date(T0 + min).toISOString() });
  expect(r!.json.items[0].vehicles[0]).toMatchObject({ vehicleId: veh, chargePointId: cp1, powerKw: [40, 30, 20] });
});

test('site state: chargers, connectors, connected vehicle with SoC source, active profile', async () => {
  for (let i = 0; i < 100; i++) {
    const p = await get(`/api/v1/sites/${site}/plans?from=${encodeURIComponent(new Date(T0 - min).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + min).toISOString())}`);
    if (p.json.items.length >= 3) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const r = await get(`/api/v1/sites/${site}/state`);
  expect(r.status).toBe(200);
  expect(r.json.site).toMatchObject({ name: 'Depot H', gridLimitKw: 100, timezone: 'Europe/Berlin' });
  // The latest plan started 16 minutes ago in 15-minute slots: its second slot (30 kW) is in force.
  const c1 = r.json.chargers.find((c: { chargePointId: string }) => c.chargePointId === cp1);
  expect(c1).toMatchObject({ online: true, vendor: 'Acme', connectors: [{ connectorId: 1, status: 'Charging', sessionId: `${cp1}:7` }] });
  expect(c1.activeProfile.plan).toMatchObject({ powerKw: 30, status: 'Optimal', vehicles: [{ vehicleId: veh, connectorId: 1, powerKw: 30 }] });
  expect(c1.activeProfile.lastCommand).toMatchObject({ action: 'SetChargingProfile', outcome: 'ACCEPTED' });
  expect(r.json.chargers.find((c: { chargePointId: string }) => c.chargePointId === cp2)).toMatchObject({ online: false, connectors: [], activeProfile: null });
  expect(r.json.connectedVehicles).toEqual([
    expect.objectContaining({ vehicleId: veh, sessionId: `${cp1}:7`, chargePointId: cp1, energyWh: 3000, soc: expect.objectContaining({ pct: 50, source: 'telematics' }) }),
  ]);
  expect((await get(`/api/v1/sites/${uniq('nosite')}/state`)).status).toBe(404);
});

test('history needs history:read; bad queries list every problem', async () => {
  const writer = await t.issueKey(['config:write']);
  expect((await t.call('GET', `/api/v1/sessions?${range}`, { key: writer })).status).toBe(403);
  expect((await t.call('GET', `/api/v1/sessions?${range}`, { key: null })).status).toBe(401);
  expect((await t.call('GET', `/api/v1/sites/${site}/state`, { key: writer })).status).toBe(403);
  const bad = await get(`/api/v1/chargers/${cp1}/status?from=yesterday&limit=0&cursor=zzz`);
  expect(bad.status).toBe(400);
  expect(bad.json.problems).toEqual([
    'from: expected an ISO 8601 instant with offset, e.g. 2026-01-31T06:00:00Z, got "yesterday"',
    'limit: expected a whole number from 1 to 5000, got "0"',
    'cursor: not a cursor of this endpoint (pass nextCursor from the previous page unchanged)',
  ]);
});

test('OpenAPI lists the history endpoints with their query parameters and CSV', async () => {
  const doc = (await t.call('GET', '/openapi.json', { key: null })).json;
  const op = doc.paths['/api/v1/chargers/{chargePointId}/meter-values'].get;
  expect(op['x-scope']).toBe('history:read');
  expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(['chargePointId', 'from', 'to', 'limit', 'cursor', 'measurand', 'connectorId', 'sessionId']);
  expect(Object.keys(op.responses['200'].content)).toEqual(['application/json', 'text/csv']);
  expect(doc.paths['/api/v1/partners/{partnerId}/feed'].get['x-scope']).toBe('partner:{partnerId}');
});

test('SQL access: a member of voltstream_analyst reads the analytics views and nothing else', async () => {
  const role = uniq('analyst').replace(/-/g, '_');
  await db.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'analyst-pw' IN ROLE voltstream_analyst`);
  const url = new URL(testConfig().databaseUrl!);
  url.username = role;
  url.password = 'analyst-pw';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const A = quoteIdent(analyticsSchema);
    const energy = await client.query(`SELECT charge_point_id, energy_kwh::float AS kwh, sessions::int AS n FROM ${A}.energy_per_charger_day WHERE site_id = $1 ORDER BY charge_point_id`, [site]);
    expect(energy.rows).toEqual([{ charge_point_id: cp1, kwh: 15, n: 2 }, { charge_point_id: cp2, kwh: 8, n: 1 }]);
    const peak = await client.query(`SELECT max(avg_power_kw)::float AS kw FROM ${A}.site_load_15m WHERE site_id = $1`, [site]);
    expect(peak.rows[0].kw).toBe(18);
    const curve = await client.query(`SELECT source, soc_pct::float AS soc FROM ${A}.soc_history WHERE vehicle_id = $1 ORDER BY at`, [veh]);
    expect(curve.rows.map((x) => x.source)).toEqual(['telematics', 'estimate', 'charger']);
    const plans = await client.query(`SELECT count(*)::int AS n FROM ${A}.optimizer_plans WHERE site_id = $1`, [site]);
    expect(plans.rows[0].n).toBe(3);
    await expect(client.query(`SELECT * FROM ${quoteIdent(db.schema)}.sessions`)).rejects.toThrow(/permission denied/);
    await expect(client.query(`DELETE FROM ${A}.sites`)).rejects.toThrow(/permission denied/);
    await expect(client.query(`CREATE TABLE ${A}.mine (x int)`)).rejects.toThrow(/permission denied/);
  } finally {
    await client.end();
    await db.pool.query(`DROP ROLE ${role}`);
  }
});
