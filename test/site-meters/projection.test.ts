import { Pool } from 'pg';
import { Kafka } from 'kafkajs';
import { quoteIdent } from '../../services/common/db';
import { digestSchema } from '../../streams/replay/digest';
import { RunningProjections, startProjections } from '../../streams/projections/run';
import { projectionTables } from '../../streams/projections/tables';
import { insertRows } from '../../streams/sink/sql';
import { refreshLoadAggregate } from '../../streams/projections/load-aggregate';
import { buildingLoadBySlot } from '../../streams/site-load/building-load';
import { readBuildingLoadHistory } from '../../streams/site-load/history';
import { buildForecast, forecastAt } from '../../streams/site-load/forecast';
import { catalog } from '../../schemas/catalog';
import { freshPgSchema, uniq, waitForValue } from '../support/stack';
import { createTestTopics, deleteTestTopics, quietLog, testKafka, testSerde, TestTopics } from '../streams/support';
import { apiKey, iso, post } from '../telematics/support';
import { startTestApi, TestApi } from '../api/harness';
import { SiteMetersHarness, startSiteMetersHarness } from './support';

/** Building load end to end on the real stack: readings pushed to services/site-meters → site.meter-readings (Kafka) →
 *  the projections service → site_meter_readings and the building_load_15m view (PostgreSQL) → the API's history
 *  route. The chargers' load comes from meter_values rows written as the sink writes them; the building load must be
 *  what the pure rule (streams/site-load/building-load.ts) gives for the same samples. */
jest.setTimeout(90_000);

const site = uniq('depot');
const cp1 = uniq('CP');
const cp2 = uniq('CP');
const key = 'test-projection-key';
const min = 60_000;
// Two full 15-minute buckets, an hour ago (inside the push's 7-day window).
const T0 = Math.floor((Date.now() - 60 * min) / (15 * min)) * 15 * min;

let kafka: Kafka;
let topics: TestTopics;
let db: { pool: Pool; schema: string; drop(): Promise<void> };
let meters: SiteMetersHarness;
let projections: RunningProjections;
let api: TestApi;
const analyticsSchema = uniq('analytics_sm').replace(/-/g, '_');

const insert = async (table: string, rows: Record<string, unknown>[]) => {
  const def = projectionTables.find((d) => d.name === table)!;
  const client = await db.pool.connect();
  try {
    await insertRows(client, { ...def, name: `${quoteIdent(db.schema)}.${table}` }, rows);
  } finally {
    client.release();
  }
};

// Connection meter every 5 minutes; cp1 draws 11 kW, cp2 7 kW in the first bucket and nothing in the second.
const connection = [0, 5, 10, 15, 20, 25].map((m, i) => ({ at: T0 + m * min, kw: [60, 70, 65, 40, 42, 44][i]! }));
const chargerSamples = new Map([
  [cp1, [0, 5, 10, 15, 20, 25].map((m) => ({ at: T0 + m * min, kw: 11 }))],
  [cp2, [0, 5, 10].map((m) => ({ at: T0 + m * min, kw: 7 }))],
]);

beforeAll(async () => {
  kafka = testKafka('site-meters-projection');
  topics = await createTestTopics(kafka, 1);
  db = await freshPgSchema('site_meters_proj');
  meters = await startSiteMetersHarness({
    sites: { [site]: { push: { type: 'api-key', keys: [key] }, meters: { grid: { role: 'connection' }, hall: { role: 'submeter', panelId: 'hall' } } } },
  });
  projections = await startProjections({
    kafka,
    serde: testSerde(),
    pool: db.pool,
    log: quietLog,
    schema: db.schema,
    groupId: uniq('site-meters-proj'),
    topics: { events: topics.events, readings: topics.readings, config: topics.config, siteMeterReadings: catalog.siteMeterReadings.name },
  });
  api = await startTestApi({ projectionSchema: db.schema, analyticsSchema });
});

afterAll(async () => {
  await api?.stop();
  await projections?.stop();
  await meters?.stop();
  await db?.drop();
  await deleteTestTopics(kafka, topics);
});

test('pushed connection and sub-meter readings become site_meter_readings and the building load, served by the API', async () => {
  await insert('fleet_chargers', [cp1, cp2].map((cp) => ({ charge_point_id: cp, site_id: site, max_power_kw: 22, owner_partner_id: null, phases: 3, current_type: 'AC', configured_at: T0 - 60 * min })));
  await insert(
    'meter_values',
    [...chargerSamples].flatMap(([cp, samples]) => samples.map((s, i) => ({ at: s.at, charge_point_id: cp, connector_id: 1, measurand: 'Power.Active.Import', unit: 'W', value: s.kw * 1000, event_id: `${cp}-${i}`, idx: 0 }))),
  );
  const readings = [
    ...connection.map((c) => ({ meterId: 'grid', measuredAt: iso(c.at), importKw: c.kw })),
    { meterId: 'hall', measuredAt: iso(T0 + 2 * min), importKw: 12, l1A: 20, l2A: 18, l3A: 17, voltageV: 230 },
  ];
  const res = await post(meters.url(site), { readings }, apiKey(key));
  expect(res.body).toMatchObject({ accepted: 7, rejected: 0 });
  // The same readings again are duplicates at the edge; nothing else reaches the table twice either.
  expect((await post(meters.url(site), { readings }, apiKey(key))).body).toMatchObject({ duplicates: 7 });

  const rows = await waitForValue(
    'the readings in site_meter_readings',
    async () => {
      const r = await db.pool.query(`SELECT meter_id, role, panel_id, import_kw, l1_a, voltage_v, source FROM ${quoteIdent(db.schema)}.site_meter_readings WHERE site_id = $1 ORDER BY measured_at, meter_id`, [site]);
      return r.rowCount === 7 ? r.rows : undefined;
    },
    60_000,
    100,
  );
  expect(rows.filter((r) => r.meter_id === 'hall')).toEqual([{ meter_id: 'hall', role: 'submeter', panel_id: 'hall', import_kw: 12, l1_a: 20, voltage_v: 230, source: 'push' }]);
  // The meter_values rows did not come through the sink, which refreshes the load aggregate only from where its own
  // samples changed it: bring all of it up to date.
  await refreshLoadAggregate(db.pool, projections.dialect, db.schema, null);

  const expected = buildingLoadBySlot(connection, chargerSamples.values());
  expect(expected.map((e) => e.kw)).toEqual([65 - 18, 42 - 11]);
  const key2 = await api.issueKey(['history:read']);
  const r = await api.call('GET', `/api/v1/sites/${site}/building-load?from=${iso(T0 - min)}&to=${iso(T0 + 30 * min)}`, { key: key2 });
  expect(r.status).toBe(200);
  expect(r.json.items).toEqual(
    expected.map((e, i) => ({ at: iso(e.at), siteId: site, connectionKw: [65, 42][i], connectionPeakKw: [70, 44][i], chargersKw: [18, 11][i], buildingKw: e.kw, readings: 3 })),
  );
  // The optimizer's read of the same history, and a forecast from it (two samples: the recent peak stands in).
  const history = await readBuildingLoadHistory(db.pool, db.schema, site, T0 - 60 * min, T0 + 60 * min);
  expect(history).toEqual(expected);
  expect(forecastAt(buildForecast(history, { timeZone: 'Europe/Berlin' }), T0)).toMatchObject({ basis: 'recent-peak', upperKw: 47 });
  const csv = await api.call('GET', `/api/v1/sites/${site}/building-load?from=${iso(T0 - min)}&to=${iso(T0 + 30 * min)}`, { key: key2, headers: { Accept: 'text/csv' } });
  expect(csv.text.split(/\r?\n/)[0]).toBe('at,siteId,connectionKw,connectionPeakKw,chargersKw,buildingKw,readings');

  // For analysts too, in the analytics schema.
  const sql = await db.pool.query(`SELECT building_kw FROM ${quoteIdent(analyticsSchema)}.building_load_15m WHERE site_id = $1 ORDER BY bucket`, [site]);
  expect(sql.rows.map((x) => x.building_kw)).toEqual(expected.map((e) => e.kw));

  // Documented in the OpenAPI document, and digested by a replay's comparison like every projection table.
  const spec = await api.call('GET', '/openapi.json', { key: null });
  expect(Object.keys(spec.json.paths)).toContain('/api/v1/sites/{siteId}/building-load');
  expect((await digestSchema(db.pool, db.schema)).find((d) => d.table === 'site_meter_readings')).toMatchObject({ rows: expect.any(Number) });
});
