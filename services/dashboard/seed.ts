import * as t from 'io-ts';
import { charger, DashboardState, evolvePlan, firstLimit, LIMITS, planViewOf, sample, site, toKw, toWh, vehicle } from './model';

/** What the dashboard's state is seeded from at start: rows of the projection tables (streams/projections), read in one
 *  snapshot together with the offsets the projections had applied (stream_offsets), so that the feed follows the
 *  topics from exactly there. Pure: rows in, state out; the query is ./seed-query.ts.
 *
 *  The rows are what the log's last `lookbackMs` would have shown (as the feed's look-back did), but read per live
 *  charger and vehicle: the latest meter samples, the running sessions, the latest plan per site. Departures from a
 *  fold of the look-back, all named in the README: a connector shows its status even when it has not changed within
 *  the look-back (the look-back showed Unknown); the site load before the start is the 15-minute average of
 *  charger_load_15m (the fold keeps a point per 5 s); a vehicle's measured power counts from its session's start (the
 *  fold: from its match); a profile sent before the frames' tail has no uniqueId and is timed by its command. */

const nullable = <C extends t.Mixed>(c: C) => t.union([c, t.null]);

export const ChargerRow = t.type({ chargePointId: t.string, online: nullable(t.boolean), protocol: nullable(t.string), lastSeenAt: t.number, meterAt: nullable(t.number) });
export const ConnectorRow = t.type({ chargePointId: t.string, connectorId: t.number, status: t.string, since: t.number, sessionId: nullable(t.string) });
export const SessionRow = t.type({
  sessionId: t.string,
  chargePointId: t.string,
  vehicleId: nullable(t.string),
  startedAt: t.number,
  endedAt: nullable(t.number),
  chargerSocPct: nullable(t.number),
  chargerSocAt: nullable(t.number),
});
/** One sampled value of a MeterSampled event (meter_values; units as the projection normalized them). */
export const MeterRow = t.type({ chargePointId: t.string, eventId: t.string, at: t.number, measurand: t.string, phase: nullable(t.string), unit: t.string, value: t.number });
export const VehicleActualRow = t.intersection([MeterRow, t.type({ vehicleId: t.string })]);
export const VehicleSocRow = t.type({
  vehicleId: t.string,
  telematicsSocPct: nullable(t.number),
  telematicsAt: nullable(t.number),
  estimateSocPct: nullable(t.number),
  estimateUncertaintyPct: nullable(t.number),
  estimateAt: nullable(t.number),
});
const PlanVehicle = t.type({ vehicleId: t.string, chargePointId: nullable(t.string), powerKw: t.array(t.number), targetKwh: t.number, plannedKwh: t.number, shortfallKwh: t.number });
const AtRisk = t.type({ vehicleId: t.string, reason: t.string, detail: t.string, shortKwh: nullable(t.number) });
export const PlanRow = t.type({
  planId: t.string,
  siteId: t.string,
  decidedAt: t.number,
  trigger: t.string,
  status: t.string,
  horizonStart: t.number,
  slotMinutes: t.number,
  gridLimitKw: t.number,
  siteKw: t.array(t.number),
  vehicles: t.array(PlanVehicle),
  atRisk: nullable(t.array(AtRisk)),
});
export const LoadRow = t.type({ siteId: t.string, bucket: t.number, kw: t.number });
/** The latest SetChargingProfile command of a charger (commands) and what became of it. */
export const ProfileRow = t.type({ chargePointId: t.string, payload: t.unknown, issuedAt: t.number, outcome: nullable(t.string), status: nullable(t.string) });
export const PositionRow = t.type({ topic: t.string, partition: t.number, nextOffset: t.number });

export const Seed = t.type({
  positions: t.array(PositionRow),
  chargers: t.array(ChargerRow),
  connectors: t.array(ConnectorRow),
  /** The latest session of each charger, and the recent sessions of each vehicle. */
  sessions: t.array(SessionRow),
  meters: t.array(MeterRow),
  vehicleSoc: t.array(VehicleSocRow),
  actual: t.array(VehicleActualRow),
  plans: t.array(PlanRow),
  load: t.array(LoadRow),
  profiles: t.array(ProfileRow),
});
export type Seed = t.TypeOf<typeof Seed>;
type MeterRow = t.TypeOf<typeof MeterRow>;
type SessionRow = t.TypeOf<typeof SessionRow>;

export const emptySeed: Seed = { positions: [], chargers: [], connectors: [], sessions: [], meters: [], vehicleSoc: [], actual: [], plans: [], load: [], profiles: [] };

/** How many meter rows the query reads per charger, and per vehicle's session: a MeterSampled event cut off by the
 *  limit is dropped (its phases would not add up). */
export const METER_ROWS_PER_CHARGER = 24;
export const ACTUAL_ROWS_PER_SESSION = LIMITS.actualPoints * 4;

interface MeterEvent {
  readonly at: number;
  readonly samples: readonly MeterRow[];
}

/** Rows → their MeterSampled events, newest first; with `limit` rows read, the oldest event may be partial: dropped. */
export const meterEvents = (rows: readonly MeterRow[], limit?: number): MeterEvent[] => {
  const byEvent = new Map<string, { at: number; samples: MeterRow[] }>();
  for (const r of rows) {
    const e = byEvent.get(r.eventId) ?? { at: r.at, samples: [] };
    e.samples.push(r);
    byEvent.set(r.eventId, e);
  }
  const events = [...byEvent.values()].sort((a, b) => b.at - a.at);
  if (limit !== undefined && rows.length >= limit && events.length > 1) events.pop();
  return events;
};

const groupBy = <A>(rows: readonly A[], key: (a: A) => string): Map<string, A[]> => {
  const out = new Map<string, A[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
};

const latest = <A>(rows: readonly A[], at: (a: A) => number): A | undefined => rows.reduce<A | undefined>((best, r) => (best === undefined || at(r) > at(best) ? r : best), undefined);

/** A connector reporting (id > 0) decides the charger's status; the charger itself (0) only when none has. */
const chargerStatus = (connectors: readonly t.TypeOf<typeof ConnectorRow>[]): string | undefined =>
  (latest(connectors.filter((c) => c.connectorId > 0), (c) => c.since) ?? latest(connectors, (c) => c.since))?.status;

const profileStatus = (p: t.TypeOf<typeof ProfileRow>): string | null => {
  if (p.outcome === 'CALLERROR') return 'CALLERROR';
  if (p.outcome === 'ACCEPTED' || p.outcome === 'REJECTED') return p.status ?? 'CALLRESULT';
  return null;
};

/** The seeded rows into `s` (which holds the configuration already or gets it next: neither depends on the other). */
export const seedDashboard = (s: DashboardState, seed: Seed, since: number): DashboardState => {
  const connectorsOf = groupBy(seed.connectors, (c) => c.chargePointId);
  const metersOf = groupBy(seed.meters, (m) => m.chargePointId);
  const sessionsOf = groupBy(seed.sessions, (x) => x.chargePointId);
  const sessionsById = new Map(seed.sessions.map((x) => [x.sessionId, x]));
  const chargerSoc = new Map<string, { pct: number; at: number }>();

  for (const row of seed.chargers) {
    const c = charger(s, row.chargePointId);
    c.connected = row.online ?? false;
    c.protocol = row.protocol;
    s.lastEventAt = Math.max(s.lastEventAt, row.lastSeenAt);
    const connectors = connectorsOf.get(row.chargePointId) ?? [];
    c.status = chargerStatus(connectors) ?? c.status;

    const running = latest(
      connectors.flatMap((x) => (x.sessionId ? [sessionsById.get(x.sessionId)].filter((y): y is SessionRow => y !== undefined && y.endedAt === null) : [])),
      (x) => x.startedAt,
    );
    if (running) {
      c.sessionId = running.sessionId;
      s.sessions.set(running.sessionId, { chargePointId: row.chargePointId, vehicleId: running.vehicleId });
      if (running.vehicleId) {
        c.vehicleId = running.vehicleId;
        vehicle(s, running.vehicleId).chargePointId = row.chargePointId;
      }
    }
    // A session's end sets the power to 0 and forgets the SoC: only samples after the charger's last end count.
    const lastEnd = Math.max(-Infinity, ...(sessionsOf.get(row.chargePointId) ?? []).map((x) => x.endedAt ?? -Infinity));
    const events = meterEvents(metersOf.get(row.chargePointId) ?? [], METER_ROWS_PER_CHARGER);
    const powered = events.find((e) => sample([...e.samples], 'Power.Active.Import'));
    const metered = events.find((e) => sample([...e.samples], 'Energy.Active.Import.Register'));
    const socSampled = events.find((e) => sample([...e.samples], 'SoC'));
    if (powered && powered.at >= lastEnd) c.powerKw = Math.round(toKw(sample([...powered.samples], 'Power.Active.Import')!) * 1000) / 1000;
    if (metered) c.energyWh = toWh(sample([...metered.samples], 'Energy.Active.Import.Register')!);
    c.meterAt = row.meterAt;
    const socs = [
      ...(socSampled && socSampled.at >= lastEnd ? [{ pct: sample([...socSampled.samples], 'SoC')!.value, at: socSampled.at }] : []),
      ...(running && running.chargerSocPct !== null && running.chargerSocAt !== null && running.chargerSocAt >= since ? [{ pct: running.chargerSocPct, at: running.chargerSocAt }] : []),
    ];
    const soc = latest(socs, (x) => x.at);
    if (soc) {
      c.socPct = soc.pct;
      if (c.vehicleId) chargerSoc.set(c.vehicleId, soc);
    }
  }

  for (const x of seed.sessions) {
    if (!x.vehicleId || x.chargerSocPct === null || x.chargerSocAt === null || x.chargerSocAt < since) continue;
    const known = chargerSoc.get(x.vehicleId);
    if (!known || x.chargerSocAt > known.at) chargerSoc.set(x.vehicleId, { pct: x.chargerSocPct, at: x.chargerSocAt });
  }
  const socRows = new Map(seed.vehicleSoc.map((r) => [r.vehicleId, r]));
  for (const id of new Set([...socRows.keys(), ...chargerSoc.keys()])) {
    const r = socRows.get(id);
    const fromCharger = chargerSoc.get(id);
    const candidates = [
      ...(r && r.telematicsSocPct !== null && r.telematicsAt !== null && r.telematicsAt >= since ? [{ pct: r.telematicsSocPct, at: r.telematicsAt, source: 'telematics' }] : []),
      ...(fromCharger ? [{ ...fromCharger, source: 'charger' }] : []),
      ...(r && r.estimateSocPct !== null && r.estimateAt !== null && r.estimateAt >= since ? [{ pct: r.estimateSocPct, at: r.estimateAt, source: `estimated ±${(r.estimateUncertaintyPct ?? 0).toFixed(1)}` }] : []),
    ];
    // The estimates are charging.events too, the latest of which the page shows as the log's time.
    if (r && r.estimateAt !== null && r.estimateAt >= since) s.lastEventAt = Math.max(s.lastEventAt, r.estimateAt);
    const best = latest(candidates, (x) => x.at);
    if (best) Object.assign(vehicle(s, id), { socPct: best.pct, socSource: best.source, socAt: best.at });
  }

  for (const [id, rows] of groupBy(seed.actual, (r) => r.vehicleId)) {
    const points = meterEvents(rows)
      .flatMap((e): [number, number][] => {
        const p = sample([...e.samples], 'Power.Active.Import');
        return p ? [[e.at, Math.round(toKw(p) * 1000) / 1000]] : [];
      })
      .slice(0, LIMITS.actualPoints)
      .reverse();
    vehicle(s, id).actual = points;
  }

  for (const p of seed.plans) evolvePlan(s, planViewOf(p));
  for (const [id, rows] of groupBy(seed.load, (r) => r.siteId)) {
    site(s, id).load = rows
      .filter((r) => r.bucket >= since)
      .sort((a, b) => a.bucket - b.bucket)
      .map((r): [number, number] => [r.bucket, Math.round(r.kw * 100) / 100]);
  }
  for (const p of seed.profiles) {
    const lim = firstLimit(p.payload);
    if (lim) charger(s, p.chargePointId).profile = { ...lim, at: p.issuedAt, status: profileStatus(p), uniqueId: null };
  }
  return s;
};
