import { Pool } from 'pg';
import { quoteIdent } from '../../common/db';
import { RouteParams, sendJson, sendProblem } from '../../common/http';
import { ApiRoute, QueryParam } from '../server';
import { maxLimit, parseRange, toCsv, wantsCsv } from '../pagination';
import { signCursor, verifyCursor } from '../cursor';
import { signingKey } from '../signing-key';
import { isSafeId } from '../codecs';

/** History for data teams (scope history:read), over the projection tables (streams/projections) and the API's own
 *  plans projection: a time range (`from`, `to`), ids, keyset pagination (`limit`, `cursor` → `nextCursor`), JSON or
 *  CSV (`Accept: text/csv`; the next cursor travels in the `Link` and `X-Next-Cursor` headers). */
export interface Schemas {
  readonly projections: string;
  readonly api: string;
}

interface Key {
  readonly sql: string;
  readonly type: 'text' | 'int';
}

interface Filter {
  readonly where: string[];
  readonly values: unknown[];
  readonly problems: string[];
}

export interface Endpoint {
  readonly path: string;
  readonly summary: string;
  readonly description: string;
  readonly columns: readonly string[];
  readonly query?: readonly QueryParam[];
  readonly from: (s: Schemas) => string;
  readonly time: string;
  readonly keys: readonly Key[];
  /** SQL select list, each aliased to a column name in `columns`. */
  readonly select: string;
  readonly filter: (params: RouteParams, url: URL) => Filter;
}

const q = quoteIdent;

/** Filter helper: adds `sql` (with `?` for the value's placeholder) when the query parameter is present. */
export const filters = (url: URL, params: RouteParams, spec: { path?: [string, string]; query?: [string, string, 'text' | 'int' | 'bool'][] }): Filter => {
  const where: string[] = [];
  const values: unknown[] = [];
  const problems: string[] = [];
  const add = (sql: string, v: unknown) => {
    values.push(v);
    where.push(sql.replace('?', `$${values.length}`));
  };
  if (spec.path) {
    const [name, sql] = spec.path;
    const v = params[name] ?? '';
    if (!isSafeId(v)) problems.push(`${name}: expected 1-128 letters, digits or . _ : @ -, got ${JSON.stringify(v)}`);
    add(sql, v);
  }
  for (const [name, sql, type] of spec.query ?? []) {
    const v = url.searchParams.get(name);
    if (v === null || v === '') continue;
    if (type === 'int' && !/^\d+$/.test(v)) problems.push(`${name}: expected a whole number, got ${JSON.stringify(v)}`);
    else if (type === 'bool' && v !== 'true' && v !== 'false') problems.push(`${name}: expected true or false, got ${JSON.stringify(v)}`);
    else add(sql, type === 'int' ? Number(v) : type === 'bool' ? v === 'true' : v);
  }
  return { where, values, problems };
};

const endpoints: readonly Endpoint[] = [
  {
    path: '/api/v1/chargers/{chargePointId}/status',
    summary: "A charger's status history: connector status changes and charger Online/Offline/Booted (connector 0)",
    description: 'From projections.charger_status_history, ordered by time.',
    columns: ['at', 'chargePointId', 'connectorId', 'status', 'errorCode', 'info', 'eventId'],
    query: [{ name: 'connectorId', description: 'only this connector (0: the charger itself)', schema: { type: 'integer' } }],
    from: (s) => `${q(s.projections)}.charger_status_history h`,
    time: 'h.at',
    keys: [{ sql: 'h.event_id', type: 'text' }],
    select: `h.at AS "at", h.charge_point_id AS "chargePointId", h.connector_id AS "connectorId", h.status AS "status", h.error_code AS "errorCode", h.info AS "info", h.event_id AS "eventId"`,
    filter: (p, u) => filters(u, p, { path: ['chargePointId', 'h.charge_point_id = ?'], query: [['connectorId', 'h.connector_id = ?', 'int']] }),
  },
  {
    path: '/api/v1/sessions',
    summary: 'Charging sessions that started in the range, with energy and the matched vehicle',
    description: 'From projections.sessions, ordered by start time. Filter by chargePointId, vehicleId, siteId, active.',
    columns: ['sessionId', 'chargePointId', 'connectorId', 'transactionId', 'idTag', 'startedAt', 'endedAt', 'active', 'energyWh', 'meterStartWh', 'meterStopWh', 'stopReason', 'vehicleId', 'matchConfidence', 'matchMethod', 'chargerSocPct'],
    query: [
      { name: 'chargePointId', description: 'only sessions of this charger' },
      { name: 'vehicleId', description: 'only sessions matched to this vehicle' },
      { name: 'siteId', description: "only sessions on this site's chargers" },
      { name: 'active', description: 'true: running sessions; false: ended ones', schema: { type: 'boolean' } },
    ],
    from: (s) => `${q(s.projections)}.sessions s`,
    time: 's.started_at',
    keys: [{ sql: 's.session_id', type: 'text' }],
    select: `s.session_id AS "sessionId", s.charge_point_id AS "chargePointId", s.connector_id AS "connectorId", s.transaction_id AS "transactionId",
      s.id_tag AS "idTag", s.started_at AS "startedAt", s.ended_at AS "endedAt", s.active AS "active", s.energy_wh AS "energyWh",
      s.meter_start_wh AS "meterStartWh", s.meter_stop_wh AS "meterStopWh", s.stop_reason AS "stopReason", s.vehicle_id AS "vehicleId",
      s.match_confidence AS "matchConfidence", s.match_method AS "matchMethod", s.charger_soc_pct AS "chargerSocPct"`,
    filter: (p, u) => filters(u, p, {
      query: [
        ['chargePointId', 's.charge_point_id = ?', 'text'],
        ['vehicleId', 's.vehicle_id = ?', 'text'],
        ['siteId', 's.charge_point_id IN (SELECT charge_point_id FROM __P__.fleet_chargers WHERE site_id = ?)', 'text'],
        ['active', 's.active = ?', 'bool'],
      ],
    }),
  },
  {
    path: '/api/v1/chargers/{chargePointId}/meter-values',
    summary: "A charger's meter values: every sampled measurand, phase and location, units normalized",
    description: 'From projections.meter_values. Filter by measurand (e.g. Energy.Active.Import.Register, Power.Active.Import, SoC), connectorId, sessionId.',
    columns: ['at', 'connectorId', 'sessionId', 'measurand', 'phase', 'location', 'context', 'unit', 'value', 'eventId', 'idx'],
    query: [
      { name: 'measurand', description: 'only this OCPP measurand' },
      { name: 'connectorId', description: 'only this connector', schema: { type: 'integer' } },
      { name: 'sessionId', description: 'only samples of this session' },
    ],
    from: (s) => `${q(s.projections)}.meter_values m`,
    time: 'm.at',
    keys: [{ sql: 'm.event_id', type: 'text' }, { sql: 'm.idx', type: 'int' }],
    select: `m.at AS "at", m.connector_id AS "connectorId", m.session_id AS "sessionId", m.measurand AS "measurand", m.phase AS "phase", m.location AS "location",
      m.context AS "context", m.unit AS "unit", m.value AS "value", m.event_id AS "eventId", m.idx AS "idx"`,
    filter: (p, u) => filters(u, p, {
      path: ['chargePointId', 'm.charge_point_id = ?'],
      query: [['measurand', 'm.measurand = ?', 'text'], ['connectorId', 'm.connector_id = ?', 'int'], ['sessionId', 'm.session_id = ?', 'text']],
    }),
  },
  {
    path: '/api/v1/vehicles/{vehicleId}/soc',
    summary: "A vehicle's state of charge over time, each value with its source (telematics, charger or estimate)",
    description: 'From projections.vehicle_soc_history (charger-reported SoC attributed through the matched session).',
    columns: ['at', 'vehicleId', 'source', 'socPct', 'uncertaintyPct', 'sessionId', 'chargePointId', 'eventId'],
    query: [{ name: 'source', description: 'only telematics, charger or estimate' }],
    from: (s) => `${q(s.projections)}.vehicle_soc_history v`,
    time: 'v.at',
    keys: [{ sql: 'v.event_id', type: 'text' }],
    select: `v.at AS "at", v.vehicle_id AS "vehicleId", v.source AS "source", v.soc_pct AS "socPct", v.uncertainty_pct AS "uncertaintyPct",
      v.session_id AS "sessionId", v.charge_point_id AS "chargePointId", v.event_id AS "eventId"`,
    filter: (p, u) => filters(u, p, { path: ['vehicleId', 'v.vehicle_id = ?'], query: [['source', 'v.source = ?', 'text']] }),
  },
  {
    path: '/api/v1/sites/{siteId}/load',
    summary: 'Site load per 15-minute bucket: average and peak power (kW), energy (kWh), chargers, grid limit',
    description: "From projections.site_load_15m (sum of the site's chargers' Power.Active.Import).",
    columns: ['at', 'siteId', 'avgPowerKw', 'peakPowerKwUpperBound', 'energyKwh', 'chargers', 'gridLimitKw'],
    from: (s) => `${q(s.projections)}.site_load_15m l`,
    time: 'l.bucket',
    keys: [],
    select: `l.bucket AS "at", l.site_id AS "siteId", l.avg_power_kw AS "avgPowerKw", l.peak_power_kw_upper_bound AS "peakPowerKwUpperBound",
      l.energy_kwh AS "energyKwh", l.chargers AS "chargers", l.grid_limit_kw AS "gridLimitKw"`,
    filter: (p, u) => filters(u, p, { path: ['siteId', 'l.site_id = ?'] }),
  },
  {
    path: '/api/v1/sites/{siteId}/building-load',
    summary: "Building load per 15-minute bucket: the grid-connection meter's import minus the site's chargers (kW)",
    description:
      'From projections.building_load_15m (site.meter-readings of the connection meter, services/site-meters, minus site_load_15m). ' +
      'Buckets without a connection-meter reading are absent. The history the base-load forecast is built from (streams/site-load/forecast.ts).',
    columns: ['at', 'siteId', 'connectionKw', 'connectionPeakKw', 'chargersKw', 'buildingKw', 'readings'],
    from: (s) => `${q(s.projections)}.building_load_15m b`,
    time: 'b.bucket',
    keys: [],
    select: `b.bucket AS "at", b.site_id AS "siteId", b.connection_kw AS "connectionKw", b.connection_peak_kw AS "connectionPeakKw",
      b.chargers_kw AS "chargersKw", b.building_kw AS "buildingKw", b.readings::int AS "readings"`,
    filter: (p, u) => filters(u, p, { path: ['siteId', 'b.site_id = ?'] }),
  },
  {
    path: '/api/v1/sites/{siteId}/plans',
    summary: "The optimizer's plans for a site: planned site load per slot, per-vehicle power, solver status",
    description: 'From the projection of optimizer.plans (streams/projections). `include=inputs` adds the snapshot each plan was decided from.',
    columns: ['decidedAt', 'planId', 'siteId', 'trigger', 'status', 'objective', 'solveMs', 'gridLimitKw', 'horizonStart', 'slotMinutes', 'siteKw', 'vehicles', 'atRisk', 'inputs'],
    query: [{ name: 'include', description: '`inputs` to include each plan\'s input snapshot', schema: { enum: ['inputs'] } }],
    from: (s) => `${q(s.projections)}.optimizer_plans p`,
    time: 'p.decided_at',
    keys: [{ sql: 'p.plan_id', type: 'text' }],
    select: `p.decided_at AS "decidedAt", p.plan_id AS "planId", p.site_id AS "siteId", p.trigger AS "trigger", p.status AS "status", p.objective AS "objective",
      p.solve_ms AS "solveMs", p.grid_limit_kw AS "gridLimitKw", p.horizon_start AS "horizonStart", p.slot_minutes AS "slotMinutes",
      p.site_kw AS "siteKw", p.vehicles AS "vehicles", COALESCE(p.at_risk, '[]'::jsonb) AS "atRisk", p.inputs AS "inputs"`,
    filter: (p, u) => {
      const f = filters(u, p, { path: ['siteId', 'p.site_id = ?'] });
      const inc = u.searchParams.get('include');
      return inc !== null && inc !== 'inputs' ? { ...f, problems: [...f.problems, `include: expected inputs, got ${JSON.stringify(inc)}`] } : f;
    },
  },
];

const rangeQuery: QueryParam[] = [
  { name: 'from', description: 'start of the range, inclusive (ISO 8601); default: 24 hours before `to`', schema: { type: 'string', format: 'date-time' } },
  { name: 'to', description: 'end of the range, exclusive (ISO 8601); default: now', schema: { type: 'string', format: 'date-time' } },
  { name: 'limit', description: `rows per page, 1..${maxLimit} (default 500)`, schema: { type: 'integer', minimum: 1, maximum: maxLimit } },
  { name: 'cursor', description: 'nextCursor of the previous page' },
];

const toJsonValue = (v: unknown): unknown => (v instanceof Date ? v.toISOString() : v);

/** `cursorKey` signs the cursors (default: the API's signing key for history cursors, see signing-key.ts). */
export const historyRoutes = (pool: Pool, schemas: Schemas, cursorKey: Buffer = signingKey('history-cursor')): ApiRoute[] =>
  endpoints.map((ep) => historyRoute(pool, schemas, ep, { cursorKey }));

/** One paged history endpoint (also used by routes/commands.ts). */
export const historyRoute = (pool: Pool, schemas: Schemas, ep: Endpoint, o: { cursorKey?: Buffer; scope?: string; tag?: string } = {}): ApiRoute => {
  const cursorKey = o.cursorKey ?? signingKey('history-cursor');
  return {
    method: 'GET' as const,
    path: ep.path,
    scope: o.scope ?? 'history:read',
    tag: o.tag ?? 'history',
    summary: ep.summary,
    description: ep.description,
    produces: ['text/csv'],
    query: [...rangeQuery, ...(ep.query ?? [])],
    handle: async (req, res, params, url) => {
      const range = parseRange(url, (c) => verifyCursor(cursorKey, ep.path, c, ep.keys.map((k) => k.type)));
      const f = ep.filter(params, url);
      const problems = [...(range.ok ? [] : range.problems), ...f.problems];
      if (!range.ok || problems.length) return sendProblem(res, 400, 'Invalid query', problems);
      const { from, to, limit, after } = range.query;
      const values = [...f.values, from.toISOString(), to.toISOString()];
      const where = [...f.where, `${ep.time} >= $${values.length - 1}`, `${ep.time} < $${values.length}`];
      if (after) {
        const [t, ...ks] = after;
        const placeholders: string[] = [];
        values.push(String(t));
        placeholders.push(`TIMESTAMPTZ 'epoch' + $${values.length}::bigint * INTERVAL '1 microsecond'`);
        ep.keys.forEach((k, i) => {
          values.push(ks[i]);
          placeholders.push(`$${values.length}::${k.type === 'int' ? 'integer' : 'text'}`);
        });
        where.push(`(${[ep.time, ...ep.keys.map((k) => k.sql)].join(', ')}) > (${placeholders.join(', ')})`);
      }
      values.push(limit + 1);
      const sql = `SELECT ${ep.select}, (EXTRACT(EPOCH FROM ${ep.time}) * 1000000)::bigint::text AS "_t"${ep.keys.map((k, i) => `, ${k.sql} AS "_k${i}"`).join('')}
        FROM ${ep.from(schemas)} WHERE ${where.join(' AND ')}
        ORDER BY ${[ep.time, ...ep.keys.map((k) => k.sql)].join(', ')} LIMIT $${values.length}`.replace(/__P__/g, q(schemas.projections));
      const { rows } = await pool.query<Record<string, unknown>>(sql, values);
      const page = rows.slice(0, limit);
      const lastRow = page[page.length - 1];
      const nextCursor = rows.length > limit && lastRow ? signCursor(cursorKey, ep.path, [lastRow._t as string, ...ep.keys.map((_k, i) => lastRow[`_k${i}`] as string | number)]) : null;
      const columns = ep.columns.filter((c) => c !== 'inputs' || url.searchParams.get('include') === 'inputs');
      const items = page.map((r) => Object.fromEntries(columns.map((c) => [c, toJsonValue(r[c])])));
      const headers: Record<string, string> = {};
      if (nextCursor) {
        const next = new URL(url.toString());
        next.searchParams.set('cursor', nextCursor);
        headers.Link = `<${next.pathname}${next.search}>; rel="next"`;
        headers['X-Next-Cursor'] = nextCursor;
      }
      if (wantsCsv(req.headers.accept, url)) {
        const text = toCsv(columns, items);
        res.writeHead(200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
        res.end(text);
        return;
      }
      sendJson(res, 200, { from: from.toISOString(), to: to.toISOString(), limit, items, nextCursor }, headers);
    },
  };
};
