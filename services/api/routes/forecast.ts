import { Pool } from 'pg';
import { quoteIdent } from '../../common/db';
import { sendJson, sendProblem } from '../../common/http';
import { fromSql, Row } from '../../../streams/sink/table';
import { historyOfRow, vehicleForecastHistoryTable } from '../../../streams/projections/vehicle-forecast/projection';
import { Distribution, forecastSite, ForecastOptions, forecastVehicle, HistoryOf, Quantiles, VehicleForecast } from '../../../streams/projections/vehicle-forecast/stats';
import { ApiRoute, QueryParam } from '../server';
import { isSafeId } from '../codecs';
import { Schemas } from './history';

/** Forecasts from history (issue 18): when a vehicle comes back, with what SoC, and when it leaves next, learned from
 *  the log (projection vehicle_forecast_history, streams/projections/vehicle-forecast) by weekday and time of day in
 *  the site's time zone, falling back to the vehicle's group and site while its own history is short. Scope
 *  history:read. Computed per request from the site's rows (1,000 vehicles × 8 weeks: about 0.5 s of CPU). */

const weekdayNames = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const hhmm = (minute: number): string => {
  const m = Math.round(minute);
  return `${String(Math.floor(m / 60) % 24).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
};
const iso = (ms: number) => new Date(ms).toISOString();
const r1 = (x: number) => Math.round(x * 10) / 10;
const clock = (d: Distribution | null) => (d ? { p10: hhmm(d.p10), p50: hhmm(d.p50), p90: hhmm(d.p90), samples: d.samples, level: d.level, days: d.days } : null);
const pct = (d: Distribution | null) => (d ? { p10: r1(d.p10), p50: r1(d.p50), p90: r1(d.p90), samples: d.samples, level: d.level, days: d.days } : null);
const instants = (q: Quantiles | null) => (q ? { p10: iso(q.p10), p50: iso(q.p50), p90: iso(q.p90) } : null);
const numbers = (q: Quantiles | null) => (q ? { p10: r1(q.p10), p50: r1(q.p50), p90: r1(q.p90) } : null);

/** The JSON of a forecast: clock times (HH:MM, local) per weekday, instants (ISO 8601) for the next occurrence. */
export const presentForecast = (f: VehicleForecast, h: HistoryOf['history'], at: number) => ({
  vehicleId: f.vehicleId,
  siteId: f.siteId,
  groupId: f.groupId,
  timeZone: f.timeZone,
  at: iso(at),
  minSamples: f.minSamples,
  batteryCapacityKwh: f.batteryCapacityKwh,
  observations: { returns: h.arrivals.length, departures: h.departures.length, since: h.arrivals.length + h.departures.length ? iso(Math.min(...h.arrivals.map((a) => a.at), ...h.departures.map((d) => d.at))) : null },
  weekdays: f.weekdays.map((w) => ({
    weekday: weekdayNames[w.weekday],
    returnTime: clock(w.returnMinute),
    socAtReturnPct: pct(w.socAtReturnPct),
    departureTime: clock(w.departureMinute),
    requiredSocPct: pct(w.requiredSocPct),
  })),
  next: {
    atDepot: f.next.atDepot,
    returnAt: instants(f.next.returnAt),
    returnSource: f.next.returnSource,
    socAtReturnPct: numbers(f.next.socAtReturnPct),
    departAt: instants(f.next.departAt),
    departureSource: f.next.departureSource,
    requiredSocPct: numbers(f.next.requiredSocPct),
    energyNeedKwh: numbers(f.next.energyNeedKwh),
  },
});

const query: QueryParam[] = [
  { name: 'at', description: 'forecast as of this instant (ISO 8601); default now', schema: { type: 'string', format: 'date-time' } },
  { name: 'minSamples', description: "observations a vehicle's own history (then its group's) needs before it is trusted over the next level; default 5", schema: { type: 'integer', minimum: 1, maximum: 100 } },
];

const optionsOf = (url: URL): { at: number; minSamples: number; problems: string[] } => {
  const problems: string[] = [];
  const atText = url.searchParams.get('at');
  const at = atText === null ? Date.now() : Date.parse(atText);
  if (!Number.isFinite(at)) problems.push(`at: expected an ISO 8601 instant, got ${JSON.stringify(atText)}`);
  const msText = url.searchParams.get('minSamples');
  const minSamples = msText === null ? 5 : Number(msText);
  if (!Number.isInteger(minSamples) || minSamples < 1 || minSamples > 100) problems.push(`minSamples: expected an integer 1..100, got ${JSON.stringify(msText)}`);
  return { at, minSamples, problems };
};

const idProblem = (name: string, v: string | undefined): string[] => (isSafeId(v ?? '') ? [] : [`${name}: expected 1-128 letters, digits or . _ : @ -, got ${JSON.stringify(v)}`]);

export const forecastRoutes = (pool: Pool, schemas: Schemas): ApiRoute[] => {
  const p = quoteIdent(schemas.projections);
  const histories = async (where: string, value: string): Promise<HistoryOf[]> => {
    const { rows } = await pool.query<Record<string, unknown>>(`SELECT * FROM ${p}.${vehicleForecastHistoryTable.name} WHERE ${where} = $1 ORDER BY vehicle_id`, [value]);
    return rows.map((raw) => {
      const row: Row = {};
      for (const c of vehicleForecastHistoryTable.columns) row[c.name] = fromSql(c, raw[c.name]);
      return { vehicleId: row.vehicle_id as string, history: historyOfRow(row) };
    });
  };
  const timeZoneOf = async (siteId: string | null): Promise<string> => {
    if (siteId === null) return 'UTC';
    const { rows } = await pool.query<{ timezone: string }>(`SELECT timezone FROM ${p}.fleet_sites WHERE site_id = $1`, [siteId]);
    return rows[0]?.timezone ?? 'UTC';
  };
  const options = (timeZone: string, o: { at: number; minSamples: number }): ForecastOptions => ({ timeZone, now: o.at, minSamples: o.minSamples });
  return [
    {
      method: 'GET',
      path: '/api/v1/vehicles/{vehicleId}/forecast',
      scope: 'history:read',
      tag: 'forecast',
      summary: "A vehicle's forecast from history: return time, SoC at return and departure by weekday, and its next return, departure and energy need",
      description:
        'Learned from the log (projection vehicle_forecast_history: sessions matched to the vehicle, telematics plug-ins and unplugs, scheduled departures; the last 8 weeks). ' +
        'Per weekday (site time zone) p10/p50/p90 of return time (HH:MM), SoC at return, departure time and required SoC, each with its sample count and level: the vehicle, ' +
        'its group (same site and battery size) or its site, on that weekday or all weekdays, the first with at least minSamples observations. ' +
        'next: the coming return (a telematics ETA when there is one), SoC at return, departure (the scheduled one when known) and energy need (kWh; p90 = high requirement with low SoC). ' +
        '404 when the vehicle is neither configured nor in the history.',
      query,
      handle: async (_req, res, params, url) => {
        const o = optionsOf(url);
        const problems = [...idProblem('vehicleId', params.vehicleId), ...o.problems];
        if (problems.length) return sendProblem(res, 400, 'Invalid request', problems);
        const vehicleId = params.vehicleId!;
        let own = (await histories('vehicle_id', vehicleId))[0];
        if (!own) {
          const { rows } = await pool.query<{ site_id: string | null; battery_capacity_kwh: number }>(`SELECT site_id, battery_capacity_kwh FROM ${p}.fleet_vehicles WHERE vehicle_id = $1`, [vehicleId]);
          if (!rows[0]) return sendProblem(res, 404, 'Unknown vehicle', [`vehicleId: no vehicle ${vehicleId} in the fleet or its history`]);
          own = { vehicleId, history: historyOfRow({ site_id: rows[0].site_id, battery_capacity_kwh: Number(rows[0].battery_capacity_kwh) }) };
        }
        const site = own.history.siteId === null ? [] : (await histories('site_id', own.history.siteId)).filter((x) => x.vehicleId !== vehicleId);
        const f = forecastVehicle(vehicleId, [own, ...site], options(await timeZoneOf(own.history.siteId), o))!;
        sendJson(res, 200, presentForecast(f, own.history, o.at));
      },
    },
    {
      method: 'GET',
      path: '/api/v1/sites/{siteId}/forecast',
      scope: 'history:read',
      tag: 'forecast',
      summary: "Every vehicle's forecast of a site (as GET /api/v1/vehicles/{vehicleId}/forecast), by vehicle id",
      description: 'The vehicles whose history names this site (their latest VehicleConfigured). 404 when the site is not configured.',
      query,
      handle: async (_req, res, params, url) => {
        const o = optionsOf(url);
        const problems = [...idProblem('siteId', params.siteId), ...o.problems];
        if (problems.length) return sendProblem(res, 400, 'Invalid request', problems);
        const siteId = params.siteId!;
        const { rows } = await pool.query<{ timezone: string }>(`SELECT timezone FROM ${p}.fleet_sites WHERE site_id = $1`, [siteId]);
        if (!rows[0]) return sendProblem(res, 404, 'Unknown site', [`siteId: no site ${siteId}`]);
        const hs = await histories('site_id', siteId);
        const byId = new Map(hs.map((x) => [x.vehicleId, x.history]));
        const fs = forecastSite(hs, options(rows[0].timezone, o));
        sendJson(res, 200, { siteId, timeZone: rows[0].timezone, at: iso(o.at), vehicles: fs.map((f) => presentForecast(f, byId.get(f.vehicleId)!, o.at)) });
      },
    },
  ];
};
