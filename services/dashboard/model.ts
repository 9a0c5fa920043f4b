import { ChargingEvent } from '../../schemas/events';
import { ConfigEvent, TariffPeriod } from '../../schemas/fleet-config';

/** The dashboard's view of the depot, folded from the log (no I/O here): fleet.config for sites, chargers, vehicles,
 *  tariffs and departures; charging.events for charger status, sessions, power and SoC; telematics.readings for SoC
 *  from the vehicles; optimizer.plans for the plan; ocpp.frames for the recent OCPP traffic and the profiles sent.
 *  `evolve*` mutate the state in place (O(1) per record, the feed applies thousands per second); `snapshot` copies. */
export interface ChargerView {
  chargePointId: string;
  siteId: string | null;
  maxPowerKw: number | null;
  protocol: string | null;
  connected: boolean;
  status: string;
  sessionId: string | null;
  vehicleId: string | null;
  powerKw: number;
  energyWh: number | null;
  meterAt: number | null;
  socPct: number | null;
  /** Latest SetChargingProfile sent to the charger: its first limit, unit, purpose, when, and the charger's answer. */
  profile: { limit: number; unit: string; purpose: string; at: number; status: string | null; uniqueId: string | null } | null;
}

export interface VehicleView {
  vehicleId: string;
  siteId: string | null;
  batteryCapacityKwh: number | null;
  socPct: number | null;
  socSource: string | null;
  socAt: number | null;
  departAt: number | null;
  requiredSocPct: number | null;
  chargePointId: string | null;
  /** Measured power per sample while charging: [t, kW]. */
  actual: [number, number][];
}

export interface PlanView {
  planId: string;
  decidedAt: number;
  trigger: string;
  status: string;
  horizonStart: number;
  slotMinutes: number;
  gridLimitKw: number;
  siteKw: number[];
  vehicles: { vehicleId: string; chargePointId: string | null; powerKw: number[]; targetKwh: number; plannedKwh: number; shortfallKwh: number }[];
  /** Vehicles not back yet that may leave short, and why (optimizer.plans atRisk). */
  atRisk?: { vehicleId: string; reason: string; detail: string; shortKwh: number | null }[];
}

/** What a plan view is made of: an optimizer.plans record, or its projection row (services/dashboard/seed.ts). */
export interface PlanSource {
  readonly planId: string;
  readonly siteId: string;
  readonly decidedAt: number;
  readonly trigger: string;
  readonly status: string;
  readonly horizonStart: number;
  readonly slotMinutes: number;
  readonly gridLimitKw: number;
  readonly siteKw: number[];
  readonly vehicles: readonly { vehicleId: string; chargePointId: string | null; powerKw: number[]; targetKwh: number; plannedKwh: number; shortfallKwh: number }[];
  readonly atRisk?: readonly { vehicleId: string; reason: string; detail: string; shortKwh: number | null }[] | null;
}

export const planViewOf = (p: PlanSource): PlanView & { siteId: string } => ({
  planId: p.planId,
  siteId: p.siteId,
  decidedAt: p.decidedAt,
  trigger: p.trigger,
  status: p.status,
  horizonStart: p.horizonStart,
  slotMinutes: p.slotMinutes,
  gridLimitKw: p.gridLimitKw,
  siteKw: p.siteKw,
  vehicles: p.vehicles.map((v) => ({ vehicleId: v.vehicleId, chargePointId: v.chargePointId, powerKw: v.powerKw, targetKwh: v.targetKwh, plannedKwh: v.plannedKwh, shortfallKwh: v.shortfallKwh })),
  atRisk: (p.atRisk ?? []).map((r) => ({ vehicleId: r.vehicleId, reason: r.reason, detail: r.detail, shortKwh: r.shortKwh })),
});

export interface SiteView {
  siteId: string;
  name: string;
  gridLimitKw: number;
  timezone: string;
  currency: string | null;
  tariff: TariffPeriod[];
  /** Site load from meter samples: [t, kW], one point per distinct sample instant (bucketed). */
  load: [number, number][];
  plan: PlanView | null;
}

export interface TrafficView {
  t: number;
  chargePointId: string;
  direction: string;
  kind: string;
  action: string | null;
  payload: string;
}

export interface DashboardState {
  sites: Map<string, SiteView>;
  chargers: Map<string, ChargerView>;
  vehicles: Map<string, VehicleView>;
  sessions: Map<string, { chargePointId: string; vehicleId: string | null }>;
  /** Recent frames per charger (the page merges those of the site's chargers). */
  traffic: Map<string, TrafficView[]>;
  /** uniqueId of an outgoing SetChargingProfile CALL → charger, to attach the charger's answer. */
  pendingProfiles: Map<string, string>;
  lastEventAt: number;
}

export const LIMITS = { traffic: 60, trafficPerCharger: 30, loadPoints: 2880, actualPoints: 720, bucketMs: 5000 };

export const initialDashboard = (): DashboardState => ({
  sites: new Map(),
  chargers: new Map(),
  vehicles: new Map(),
  sessions: new Map(),
  traffic: new Map(),
  pendingProfiles: new Map(),
  lastEventAt: 0,
});

export const charger = (s: DashboardState, id: string): ChargerView => {
  let c = s.chargers.get(id);
  if (!c) {
    c = { chargePointId: id, siteId: null, maxPowerKw: null, protocol: null, connected: false, status: 'Unknown', sessionId: null, vehicleId: null, powerKw: 0, energyWh: null, meterAt: null, socPct: null, profile: null };
    s.chargers.set(id, c);
  }
  return c;
};

export const vehicle = (s: DashboardState, id: string): VehicleView => {
  let v = s.vehicles.get(id);
  if (!v) {
    v = { vehicleId: id, siteId: null, batteryCapacityKwh: null, socPct: null, socSource: null, socAt: null, departAt: null, requiredSocPct: null, chargePointId: null, actual: [] };
    s.vehicles.set(id, v);
  }
  return v;
};

export const site = (s: DashboardState, id: string): SiteView => {
  let x = s.sites.get(id);
  if (!x) {
    x = { siteId: id, name: id, gridLimitKw: 0, timezone: 'UTC', currency: null, tariff: [], load: [], plan: null };
    s.sites.set(id, x);
  }
  return x;
};

export const push = <T>(arr: T[], item: T, max: number) => {
  arr.push(item);
  if (arr.length > max * 1.2) arr.splice(0, arr.length - max);
};

export const evolveConfig = (s: DashboardState, e: ConfigEvent): DashboardState => {
  const b = e.body;
  switch (b.type) {
    case 'SiteConfigured':
      Object.assign(site(s, b.siteId), { name: b.name, gridLimitKw: b.gridLimitKw, timezone: b.timezone });
      break;
    case 'TariffConfigured':
      Object.assign(site(s, b.siteId), { currency: b.currency, tariff: b.periods });
      break;
    case 'ChargerConfigured':
      Object.assign(charger(s, b.chargePointId), { siteId: b.siteId, maxPowerKw: b.maxPowerKw });
      break;
    case 'VehicleConfigured':
      Object.assign(vehicle(s, b.vehicleId), { siteId: b.siteId, batteryCapacityKwh: b.batteryCapacityKwh });
      break;
    case 'DepartureScheduled':
      Object.assign(vehicle(s, b.vehicleId), { departAt: b.departAt, requiredSocPct: b.requiredSocPct });
      break;
  }
  return s;
};

/** Site load: the sum of the chargers' latest power, recorded at each meter instant (bucketed to LIMITS.bucketMs). */
const recordLoad = (s: DashboardState, siteId: string | null, t: number) => {
  if (!siteId) return;
  const x = site(s, siteId);
  let kw = 0;
  for (const c of s.chargers.values()) if (c.siteId === siteId) kw += c.powerKw;
  const bucket = Math.floor(t / LIMITS.bucketMs) * LIMITS.bucketMs;
  const last = x.load[x.load.length - 1];
  if (last && last[0] === bucket) last[1] = Math.round(kw * 100) / 100;
  else if (!last || bucket > last[0]) push(x.load, [bucket, Math.round(kw * 100) / 100], LIMITS.loadPoints);
};

/** The value of a measurand in one meter sample: its total when the charger sent one, else the sum of its phases. */
export const sample = (samples: { measurand: string; phase: string | null; unit: string; value: number }[], measurand: string): { unit: string; value: number } | undefined => {
  const all = samples.filter((x) => x.measurand === measurand);
  if (all.length === 0) return undefined;
  const total = all.find((x) => x.phase === null);
  if (total) return total;
  return { unit: all[0]!.unit, value: all.reduce((a, x) => a + x.value, 0) };
};

export const toKw = (v: { unit: string; value: number }) => (v.unit.toLowerCase() === 'kw' ? v.value : v.value / 1000);
export const toWh = (v: { unit: string; value: number }) => (v.unit.toLowerCase() === 'kwh' ? v.value * 1000 : v.value);

export const evolveEvent = (s: DashboardState, e: ChargingEvent): DashboardState => {
  const b = e.body;
  const c = charger(s, e.chargePointId);
  s.lastEventAt = Math.max(s.lastEventAt, e.occurredAt);
  switch (b.type) {
    case 'ChargerConnected':
      c.connected = true;
      c.protocol = b.protocol;
      break;
    case 'ChargerDisconnected':
      c.connected = false;
      break;
    case 'ChargerBooted':
      c.protocol = b.protocol;
      c.connected = true;
      break;
    case 'ConnectorStatusChanged':
      if (b.connectorId > 0 || c.status === 'Unknown') c.status = b.status;
      break;
    case 'SessionStarted':
      c.sessionId = b.sessionId;
      s.sessions.set(b.sessionId, { chargePointId: e.chargePointId, vehicleId: null });
      break;
    case 'SessionEnded': {
      const v = c.vehicleId ? s.vehicles.get(c.vehicleId) : undefined;
      if (v && v.chargePointId === e.chargePointId) v.chargePointId = null;
      c.sessionId = null;
      c.vehicleId = null;
      c.powerKw = 0;
      c.socPct = null;
      s.sessions.delete(b.sessionId);
      recordLoad(s, c.siteId, e.occurredAt);
      break;
    }
    case 'VehicleMatched': {
      const session = s.sessions.get(b.sessionId);
      if (b.replacesVehicleId) {
        const old = s.vehicles.get(b.replacesVehicleId);
        if (old && old.chargePointId === e.chargePointId) old.chargePointId = null;
      }
      if (session) session.vehicleId = b.vehicleId;
      if (c.sessionId === b.sessionId || !c.sessionId) {
        c.vehicleId = b.vehicleId;
        vehicle(s, b.vehicleId).chargePointId = e.chargePointId;
      }
      break;
    }
    case 'MeterSampled': {
      const p = sample(b.samples, 'Power.Active.Import');
      const en = sample(b.samples, 'Energy.Active.Import.Register');
      const soc = sample(b.samples, 'SoC');
      if (p) c.powerKw = Math.round(toKw(p) * 1000) / 1000;
      if (en) c.energyWh = toWh(en);
      if (soc) c.socPct = soc.value;
      c.meterAt = e.occurredAt;
      if (c.vehicleId) {
        const v = vehicle(s, c.vehicleId);
        if (p) push(v.actual, [e.occurredAt, c.powerKw], LIMITS.actualPoints);
        if (soc && (v.socAt === null || e.occurredAt >= v.socAt)) Object.assign(v, { socPct: soc.value, socSource: 'charger', socAt: e.occurredAt });
      }
      recordLoad(s, c.siteId, e.occurredAt);
      break;
    }
    case 'ChargerReportedSoc':
      c.socPct = b.socPct;
      if (c.vehicleId) {
        const v = vehicle(s, c.vehicleId);
        if (v.socAt === null || e.occurredAt >= v.socAt) Object.assign(v, { socPct: b.socPct, socSource: 'charger', socAt: e.occurredAt });
      }
      break;
    case 'SocEstimated': {
      const v = vehicle(s, b.vehicleId);
      if (v.socAt === null || e.occurredAt >= v.socAt) Object.assign(v, { socPct: b.socPct, socSource: `estimated ±${b.uncertaintyPct.toFixed(1)}`, socAt: e.occurredAt });
      break;
    }
    default:
      break;
  }
  return s;
};

export interface ReadingRecord {
  vehicleId: string;
  readingAt: number;
  socPct: number | null;
  pluggedIn: boolean | null;
}

export const evolveReading = (s: DashboardState, r: ReadingRecord): DashboardState => {
  if (r.socPct === null) return s;
  const v = vehicle(s, r.vehicleId);
  if (v.socAt === null || r.readingAt >= v.socAt) Object.assign(v, { socPct: r.socPct, socSource: 'telematics', socAt: r.readingAt });
  return s;
};

export const evolvePlan = (s: DashboardState, p: PlanView & { siteId: string }): DashboardState => {
  const x = site(s, p.siteId);
  if (!x.plan || p.decidedAt >= x.plan.decidedAt) {
    const { siteId: _siteId, ...plan } = p;
    x.plan = plan;
  }
  return s;
};

export interface FrameRecord {
  chargePointId: string;
  direction: string;
  kind: string;
  action: string | null;
  uniqueId: string | null;
  payloadJson: string | null;
  receivedAt: number;
  protocol: string;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
export const firstLimit = (payload: any): { limit: number; unit: string; purpose: string } | null => {
  const p16 = payload?.csChargingProfiles;
  if (p16) return { limit: p16.chargingSchedule?.chargingSchedulePeriod?.[0]?.limit ?? NaN, unit: p16.chargingSchedule?.chargingRateUnit ?? '?', purpose: p16.chargingProfilePurpose ?? '?' };
  const p201 = payload?.chargingProfile;
  if (p201) {
    const sch = Array.isArray(p201.chargingSchedule) ? p201.chargingSchedule[0] : p201.chargingSchedule;
    return { limit: sch?.chargingSchedulePeriod?.[0]?.limit ?? NaN, unit: sch?.chargingRateUnit ?? '?', purpose: p201.chargingProfilePurpose ?? '?' };
  }
  return null;
};

export const evolveFrame = (s: DashboardState, f: FrameRecord): DashboardState => {
  const c = charger(s, f.chargePointId);
  if (f.kind === 'CONNECTED') {
    c.connected = true;
    c.protocol = f.protocol;
  } else if (f.kind === 'DISCONNECTED') c.connected = false;
  else if (f.protocol) c.protocol = f.protocol;
  if (f.direction === 'OUT' && f.kind === 'CALL' && f.action === 'SetChargingProfile' && f.payloadJson) {
    try {
      const lim = firstLimit(JSON.parse(f.payloadJson));
      if (lim) {
        c.profile = { ...lim, at: f.receivedAt, status: null, uniqueId: f.uniqueId };
        if (f.uniqueId) s.pendingProfiles.set(f.uniqueId, f.chargePointId);
      }
    } catch {
      /* a payload that is not JSON is shown raw in the traffic list */
    }
  }
  if (f.direction === 'IN' && (f.kind === 'CALLRESULT' || f.kind === 'CALLERROR') && f.uniqueId && s.pendingProfiles.get(f.uniqueId) === f.chargePointId) {
    s.pendingProfiles.delete(f.uniqueId);
    if (c.profile && c.profile.uniqueId === f.uniqueId) {
      let status = f.kind;
      try {
        status = (JSON.parse(f.payloadJson ?? '{}') as any).status ?? f.kind;
      } catch {
        /* keep the frame kind */
      }
      c.profile.status = status;
    }
  }
  if (s.pendingProfiles.size > 10000) s.pendingProfiles.clear();
  let list = s.traffic.get(f.chargePointId);
  if (!list) s.traffic.set(f.chargePointId, (list = []));
  push(list, { t: f.receivedAt, chargePointId: f.chargePointId, direction: f.direction, kind: f.kind, action: f.action, payload: (f.payloadJson ?? '').slice(0, 240) }, LIMITS.trafficPerCharger);
  return s;
};
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Price per kWh at `t` for a tariff whose HH:MM periods are in `timezone`. */
export const priceAt = (tariff: readonly TariffPeriod[], timezone: string, t: number): number | null => {
  let minute: number | undefined;
  for (const p of tariff) {
    const a = /^(\d{2}):(\d{2})$/.exec(p.from);
    const b = /^(\d{2}):(\d{2})$/.exec(p.to);
    if (a && b) {
      if (minute === undefined) {
        const parts = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(t));
        minute = Number(parts.find((x) => x.type === 'hour')!.value) * 60 + Number(parts.find((x) => x.type === 'minute')!.value);
      }
      const from = Number(a[1]) * 60 + Number(a[2]);
      const to = Number(b[1]) * 60 + Number(b[2]) || 1440;
      if (from < to ? minute >= from && minute < to : minute >= from || minute < to) return p.pricePerKwh;
    } else if (t >= Date.parse(p.from) && t < Date.parse(p.to)) return p.pricePerKwh;
  }
  return null;
};

export interface Snapshot {
  at: number;
  siteIds: string[];
  sites: (Omit<SiteView, 'tariff'> & { price: [number, number | null][] })[];
  chargers: ChargerView[];
  vehicles: (Omit<VehicleView, 'actual'> & { actual: [number, number][] })[];
  traffic: TrafficView[];
}

/** The site shown when the page names none: the one with the latest meter sample, else the most chargers. */
export const defaultSite = (s: DashboardState): string | undefined => {
  let best: { id: string; at: number; n: number } | undefined;
  const count = new Map<string, { at: number; n: number }>();
  for (const c of s.chargers.values()) {
    if (!c.siteId) continue;
    const x = count.get(c.siteId) ?? { at: 0, n: 0 };
    count.set(c.siteId, { at: Math.max(x.at, c.meterAt ?? 0), n: x.n + 1 });
  }
  for (const [id, x] of count) if (!best || x.at > best.at || (x.at === best.at && x.n > best.n)) best = { id, ...x };
  return best?.id ?? [...s.sites.keys()][0];
};

/** What the page gets for one site: plain JSON, the load window and price curve over [now - windowMs, now + aheadMs]. */
export const snapshot = (s: DashboardState, now: number, siteId = defaultSite(s), windowMs = 6 * 3600000, aheadMs = 12 * 3600000): Snapshot => {
  const from = now - windowMs;
  const x0 = siteId ? s.sites.get(siteId) : undefined;
  const inSite = new Set([...s.chargers.values()].filter((c) => c.siteId === siteId).map((c) => c.chargePointId));
  const sites = (x0 ? [x0] : []).map((x) => {
    const price: [number, number | null][] = [];
    const step = Math.max(60000, Math.round((windowMs + aheadMs) / 288));
    for (let t = Math.floor(from / step) * step; t <= now + aheadMs; t += step) price.push([t, priceAt(x.tariff, x.timezone, t)]);
    const { tariff: _tariff, ...rest } = x;
    return { ...rest, load: x.load.filter((p) => p[0] >= from), price };
  });
  return {
    at: now,
    siteIds: [...s.sites.keys()].sort(),
    sites,
    chargers: [...s.chargers.values()]
      .filter((c) => inSite.has(c.chargePointId))
      .sort((a, b) => a.chargePointId.localeCompare(b.chargePointId))
      .map((c) => ({ ...c, profile: c.profile ? { ...c.profile } : null })),
    vehicles: [...s.vehicles.values()]
      .filter((v) => v.siteId === siteId || (v.chargePointId !== null && inSite.has(v.chargePointId)))
      .sort((a, b) => a.vehicleId.localeCompare(b.vehicleId))
      .map((v) => ({ ...v, actual: v.actual.filter((p) => p[0] >= from) })),
    traffic: [...inSite]
      .flatMap((id) => s.traffic.get(id) ?? [])
      .sort((a, b) => b.t - a.t)
      .slice(0, LIMITS.traffic),
  };
};

/** The string values of id tag fields in an OCPP payload's JSON text, each replaced by `***`: idTag and parentIdTag
 *  (1.6), idToken and groupIdToken's idToken (2.0.1). Works on the traffic list's truncated text too (a value cut
 *  off at the end is masked to the end). */
export const maskIdTagsInJson = (json: string): string =>
  json.replace(/("(?:idTag|parentIdTag|idToken)"\s*:\s*")(?:[^"\\]|\\.)*("|\\?$)/g, (_m, head: string, end: string) => `${head}***${end === '"' ? '"' : ''}`);

/** A snapshot for a viewer who may not see id tags (an API key without history:read). */
export const maskIdTags = (s: Snapshot): Snapshot => ({ ...s, traffic: s.traffic.map((f) => ({ ...f, payload: maskIdTagsInJson(f.payload) })) });
