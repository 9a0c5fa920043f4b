import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import { migrate } from '../../infra/database/migrate';
import { matchRoute, sendProblem } from '../../services/common/http';
import { buildOpenApi } from '../../services/api/openapi';
import { forecastRoutes, presentForecast } from '../../services/api/routes/forecast';
import { projectionMigrations } from '../../streams/projections/migrations';
import { projections } from '../../streams/projections/index';
import { foldDocuments, ProjectionInput } from '../../streams/projections/projection';
import { historyOfRow, vehicleForecastHistoryProjection } from '../../streams/projections/vehicle-forecast/projection';
import { Routine, routineInputs } from '../../streams/projections/vehicle-forecast/history-fixture';
import { forecastVehicle, localInstant } from '../../streams/projections/vehicle-forecast/stats';
import { applyBatch } from '../../streams/sink/apply';
import { freshPgSchema, uniq } from '../support/stack';
import { startTestApi } from './harness';

/** The forecast projection written by the sink's own batch apply into a freshly migrated schema of the machine's
 *  PostgreSQL, read back by the forecast routes over HTTP: the routes alone on a loopback server (no broker needed),
 *  and once through the whole API (keys, OpenAPI). */
jest.setTimeout(120_000);

const tz = 'Europe/Berlin';
const DAY = 24 * 3600_000;
const monday = Date.UTC(2026, 10, 1, 23, 0);
const site = uniq('site');
const workday = (d: number) => (1 + d) % 7 >= 1 && (1 + d) % 7 <= 5;
const v1: Routine = {
  vehicleId: uniq('V1'), siteId: site, batteryCapacityKwh: 80, timeZone: tz, from: monday, days: 42,
  returnOn: (d) => (workday(d) ? { minute: 17 * 60 + 10 * Math.floor(d / 7), socPct: 40 - 2 * Math.floor(d / 7) } : null),
  departNextDay: (d) => (workday(d + 1) ? { minute: 6 * 60, requiredSocPct: 80 } : null),
};
const v2: Routine = { ...v1, vehicleId: uniq('V2'), from: monday + 28 * DAY, days: 14, returnOn: (d) => (workday(d) ? { minute: 18 * 60, socPct: 50 } : null) };
const at = localInstant(monday, 42, 12 * 60, tz);
const timeOf = (i: ProjectionInput) => (i.kind === 'reading' ? i.reading.readingAt : i.kind === 'event' ? i.event.occurredAt : i.kind === 'config' ? i.config.at : 0);
const inputs: ProjectionInput[] = [
  { kind: 'config', config: { eventId: 'c:site', at: monday - 2 * DAY, actor: 'test', body: { type: 'SiteConfigured', siteId: site, name: 'North', gridLimitKw: 100, latitude: 52.5, longitude: 13.4, timezone: tz } } },
  ...[...routineInputs(v1), ...routineInputs(v2)].filter((i) => timeOf(i) <= at).sort((a, b) => timeOf(a) - timeOf(b)),
];

let db: { pool: Pool; schema: string; drop(): Promise<void> };
let server: Server;
let base: string;

beforeAll(async () => {
  db = await freshPgSchema('proj_fc');
  await migrate(db.pool, db.schema, projectionMigrations);
  const client = await db.pool.connect();
  try {
    // As the sink applies a fetch: chunks, each in one transaction.
    for (let k = 0; k < inputs.length; k += 100) {
      await client.query('BEGIN');
      await applyBatch(client, projections, inputs.slice(k, k + 100));
      await client.query('COMMIT');
    }
  } finally {
    client.release();
  }
  const routes = forecastRoutes(db.pool, { projections: db.schema, api: 'unused' });
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    for (const r of routes) {
      const params = matchRoute(r, req.method ?? 'GET', url.pathname);
      if (params) return void r.handle(req, res, params, url).catch((e) => sendProblem(res, 500, String(e)));
    }
    sendProblem(res, 404, 'no route');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await db?.drop();
});

const get = async (path: string) => {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, json: await res.json() };
};

describe('GET /api/v1/vehicles/{id}/forecast over the projection', () => {
  it('answers what the pure fold and statistics give for the same log (the row survives PostgreSQL unchanged)', async () => {
    const r = await get(`/api/v1/vehicles/${v1.vehicleId}/forecast?at=${new Date(at).toISOString()}`);
    expect(r.status).toBe(200);
    const rows = foldDocuments(vehicleForecastHistoryProjection, inputs);
    const hs = [...rows.values()].map((row) => ({ vehicleId: row.vehicle_id as string, history: historyOfRow(row) }));
    const expected = presentForecast(forecastVehicle(v1.vehicleId, hs, { timeZone: tz, now: at })!, hs.find((x) => x.vehicleId === v1.vehicleId)!.history, at);
    expect(r.json).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(r.json.weekdays[1]).toMatchObject({ weekday: 'Mon', returnTime: { p10: '17:05', p50: '17:25', p90: '17:45', samples: 6, level: 'vehicle' }, socAtReturnPct: { p50: 35 } });
    expect(r.json.next).toMatchObject({ atDepot: false, returnSource: 'history', returnAt: { p50: new Date(localInstant(at, 0, 17 * 60 + 25, tz)).toISOString() }, energyNeedKwh: { p50: 36 } });
  });

  it('a vehicle with little history of its own falls back to its group', async () => {
    const r = await get(`/api/v1/vehicles/${v2.vehicleId}/forecast?at=${new Date(at).toISOString()}`);
    expect(r.json.weekdays[1].returnTime).toMatchObject({ samples: 8, level: 'group' });
  });

  it('per site: every vehicle, by id; 404 for an unknown vehicle or site, 400 naming a bad parameter', async () => {
    const s = await get(`/api/v1/sites/${site}/forecast?at=${new Date(at).toISOString()}&minSamples=3`);
    expect(s.status).toBe(200);
    expect(s.json.vehicles.map((v: { vehicleId: string }) => v.vehicleId)).toEqual([v1.vehicleId, v2.vehicleId].sort());
    expect(s.json.vehicles[0].minSamples).toBe(3);
    expect((await get(`/api/v1/vehicles/nobody/forecast`)).status).toBe(404);
    expect((await get(`/api/v1/sites/nowhere/forecast`)).status).toBe(404);
    const bad = await get(`/api/v1/vehicles/${v1.vehicleId}/forecast?at=yesterday&minSamples=0`);
    expect(bad.status).toBe(400);
    expect(bad.json.problems).toEqual([expect.stringContaining('at:'), expect.stringContaining('minSamples:')]);
  });

  it('is in the OpenAPI document with its scope and query parameters', () => {
    const doc = buildOpenApi(forecastRoutes(db.pool, { projections: db.schema, api: 'unused' }), { serverUrl: 'http://x' }) as unknown as { paths: Record<string, { get: { 'x-scope': string; parameters: { name: string }[] } }> };
    for (const path of ['/api/v1/vehicles/{vehicleId}/forecast', '/api/v1/sites/{siteId}/forecast']) {
      expect(doc.paths[path]!.get['x-scope']).toBe('history:read');
      expect(doc.paths[path]!.get.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['at', 'minSamples']));
    }
  });

  it('the API serves it with a key of scope history:read and lists it in /openapi.json', async () => {
    const t = await startTestApi({ projectionSchema: db.schema });
    try {
      const reader = await t.issueKey(['history:read']);
      const r = await t.call('GET', `/api/v1/vehicles/${v1.vehicleId}/forecast?at=${new Date(at).toISOString()}`, { key: reader });
      expect(r.status).toBe(200);
      expect(r.json.weekdays[1].returnTime.p50).toBe('17:25');
      expect((await t.call('GET', `/api/v1/sites/${site}/forecast`, { key: null })).status).toBe(401);
      const doc = (await t.call('GET', '/openapi.json', { key: null })).json;
      expect(doc.paths['/api/v1/vehicles/{vehicleId}/forecast'].get['x-scope']).toBe('history:read');
    } finally {
      await t.stop();
    }
  });
});
