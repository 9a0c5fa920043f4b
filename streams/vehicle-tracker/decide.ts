import { ChargingEvent, EventBody } from '../../schemas/events';
import { ConfigEvent } from '../../schemas/fleet-config';
import { ProjectionInput, TelematicsReading } from '../projections/projection';

/** Vehicle ↔ session matching and the SoC backup estimate, as one pure fold over charging.events,
 *  telematics.readings and fleet.config: `decide(state, input, ref) => { state, events }`. Its own outputs come back
 *  on charging.events and are folded like any event, so a restarted tracker knows what it already decided.
 *
 *  Matching: an id tag that maps to a vehicle settles it (confidence 1). Otherwise the candidates are vehicles whose
 *  telematics switched to plugged-in / charging within `windowMs` of the session start, near the charger's site; once
 *  telematics has been seen past the window, one clear candidate (the nearest in time by more than `marginMs`) is
 *  matched. Candidates too close to call stay unmatched until energy settles it: the candidate whose SoC rise fits the
 *  charger's energy (and no other does) is matched, or a telematics match it contradicts is corrected
 *  (replacesVehicleId).
 *
 *  SoC backup: while a matched vehicle charges and its telematics has been silent for more than `staleMs`, each meter
 *  sample (at most every `estimateEveryMs`) yields SocEstimated = base SoC + delivered energy × efficiency / capacity,
 *  from the last trusted reading (telematics, or the charger's own SoC, which beats any estimate); the uncertainty
 *  grows with time and energy. When telematics returns, SocEstimateChecked records the error. */
export interface TrackerParams {
  readonly windowMs: number;
  readonly marginMs: number;
  readonly radiusM: number;
  readonly staleMs: number;
  readonly estimateEveryMs: number;
  readonly efficiency: number;
  /** Energy delivered before an energy-consistency verdict, Wh. */
  readonly energyEvidenceWh: number;
  /** Max |SoC rise error| of a consistent candidate, percentage points; others must be off by 2.5 times that. */
  readonly energyTolerancePct: number;
}

export const defaultParams: TrackerParams = {
  windowMs: 10 * 60_000,
  marginMs: 2 * 60_000,
  radiusM: 1000,
  staleMs: 15 * 60_000,
  estimateEveryMs: 5 * 60_000,
  efficiency: 0.93,
  energyEvidenceWh: 3000,
  energyTolerancePct: 3,
};

interface Transition {
  readonly at: number;
  readonly lat: number | null;
  readonly lon: number | null;
}

export interface VehicleTrack {
  readonly capacityKwh: number | null;
  readonly lastReadingAt: number | null;
  readonly socPct: number | null;
  readonly socAt: number | null;
  readonly connected: boolean;
  /** Recent switches to plugged-in / charging (kept for a day). */
  readonly transitions: readonly Transition[];
  /** Recent SoC readings (for energy consistency). */
  readonly socs: readonly { at: number; soc: number }[];
  readonly estimate: { readonly socPct: number; readonly at: number; readonly sessionId: string } | null;
  readonly lastSessionCp: string | null;
}

export interface SessionTrack {
  readonly chargePointId: string;
  readonly startedAt: number;
  readonly meterStartWh: number;
  readonly deliveredWh: number;
  /** Delivered energy at each register sample (for energy at a reading time). */
  readonly deliveries: readonly { at: number; wh: number }[];
  readonly active: boolean;
  /** The id tag the session was started with: it settles the match whenever the tag maps to a vehicle, whether the
   *  VehicleConfigured that maps it is folded before or after the SessionStarted (topics interleave arbitrarily). */
  readonly idTag: string | null;
  readonly vehicleId: string | null;
  readonly method: string | null;
  readonly chargerSoc: { readonly soc: number; readonly at: number } | null;
}

export interface TrackerState {
  readonly vehicles: Readonly<Record<string, VehicleTrack>>;
  readonly idTags: Readonly<Record<string, string>>;
  readonly sites: Readonly<Record<string, { lat: number; lon: number }>>;
  readonly chargerSite: Readonly<Record<string, string>>;
  readonly sessions: Readonly<Record<string, SessionTrack>>;
  /** Latest telematics reading time seen across vehicles: how far matching can trust it knows every transition. */
  readonly telematicsWatermark: number;
}

export const initialTracker: TrackerState = { vehicles: {}, idTags: {}, sites: {}, chargerSite: {}, sessions: {}, telematicsWatermark: 0 };

const emptyVehicle: VehicleTrack = { capacityKwh: null, lastReadingAt: null, socPct: null, socAt: null, connected: false, transitions: [], socs: [], estimate: null, lastSessionCp: null };

export interface InputRef {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface TrackerDecision {
  readonly state: TrackerState;
  readonly events: ChargingEvent[];
}

const day = 24 * 3600_000;

const distanceM = (a: { lat: number; lon: number }, b: { lat: number; lon: number }): number => {
  const r = 6371e3;
  const toRad = (d: number) => (d * Math.PI) / 180;
  const dLat = toRad(b.lat - a.lat);
  const dLon = toRad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(toRad(a.lat)) * Math.cos(toRad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(h));
};

class Out {
  readonly events: ChargingEvent[] = [];
  constructor(private readonly ref: InputRef) {}
  push(chargePointId: string, occurredAt: number, body: EventBody) {
    const r = this.ref;
    this.events.push({ eventId: `vt:${r.topic}:${r.partition}:${r.offset}:${this.events.length}`, chargePointId, occurredAt, source: { ...r }, body });
  }
}

/** Energy delivered in a session up to time `at` (last register sample at or before it). */
const deliveredAt = (s: SessionTrack, at: number): number => {
  if (at <= s.startedAt) return 0;
  let wh = 0;
  for (const d of s.deliveries) if (d.at <= at) wh = d.wh;
  return wh;
};

/** SoC a vehicle's readings show at time `at` (latest reading at or before), or undefined. */
const socAt = (v: VehicleTrack, at: number): number | undefined => {
  let soc: number | undefined;
  for (const s of v.socs) if (s.at <= at) soc = s.soc;
  return soc;
};

const candidatesOf = (st: TrackerState, sessionId: string, s: SessionTrack, p: TrackerParams): { vehicleId: string; dt: number }[] => {
  const site = st.sites[st.chargerSite[s.chargePointId] ?? ''];
  const busy = new Set(Object.entries(st.sessions).filter(([id, o]) => id !== sessionId && o.active && o.vehicleId).map(([, o]) => o.vehicleId));
  const out: { vehicleId: string; dt: number }[] = [];
  for (const [vehicleId, v] of Object.entries(st.vehicles)) {
    if (busy.has(vehicleId)) continue;
    let best: number | undefined;
    for (const t of v.transitions) {
      const dt = Math.abs(t.at - s.startedAt);
      if (dt > p.windowMs) continue;
      if (site && t.lat !== null && t.lon !== null && distanceM(site, { lat: t.lat, lon: t.lon }) > p.radiusM) continue;
      if (best === undefined || dt < best) best = dt;
    }
    if (best !== undefined) out.push({ vehicleId, dt: best });
  }
  return out.sort((a, b) => a.dt - b.dt || a.vehicleId.localeCompare(b.vehicleId));
};

/** |SoC rise − expected rise| per candidate with SoC readings around the session, percentage points. */
const energyFit = (st: TrackerState, s: SessionTrack, vehicleId: string, p: TrackerParams): number | undefined => {
  const v = st.vehicles[vehicleId];
  if (!v || !v.capacityKwh || v.socs.length < 2) return undefined;
  const startSoc = socAt(v, s.startedAt) ?? v.socs.find((x) => x.at >= s.startedAt)?.soc;
  const last = v.socs[v.socs.length - 1]!;
  if (startSoc === undefined || last.at <= s.startedAt) return undefined;
  const expected = ((deliveredAt(s, last.at) * p.efficiency) / (v.capacityKwh * 1000)) * 100;
  return Math.abs(last.soc - startSoc - expected);
};

const match = (st: TrackerState, out: Out, sessionId: string, vehicleId: string, confidence: number, method: string, at: number): TrackerState => {
  const s = st.sessions[sessionId]!;
  out.push(s.chargePointId, at, { type: 'VehicleMatched', sessionId, vehicleId, confidence, method, replacesVehicleId: s.vehicleId });
  return withMatch(st, sessionId, vehicleId, method);
};

const withMatch = (st: TrackerState, sessionId: string, vehicleId: string, method: string): TrackerState => {
  const s = st.sessions[sessionId];
  if (!s) return st;
  const v = st.vehicles[vehicleId] ?? emptyVehicle;
  return { ...st, sessions: { ...st.sessions, [sessionId]: { ...s, vehicleId, method } }, vehicles: { ...st.vehicles, [vehicleId]: { ...v, lastSessionCp: s.chargePointId } } };
};

/** Matches every open session whose id tag maps to a vehicle and that is not matched by id tag yet (a telematics or
 *  energy match it contradicts is corrected: replacesVehicleId). Independent of the order in which the session and the
 *  vehicle's configuration were folded. */
const settleByTag = (st0: TrackerState, out: Out, at: number): TrackerState => {
  let st = st0;
  for (const [sessionId, s] of Object.entries(st0.sessions)) {
    if (!s.active || s.idTag === null || s.method === 'idTag') continue;
    const vehicleId = st.idTags[s.idTag];
    if (!vehicleId) continue;
    st = match(st, out, sessionId, vehicleId, 1, 'idTag', Math.max(at, s.startedAt));
  }
  return st;
};

/** Tries to settle the match of every open, unsettled session (and to correct telematics matches energy contradicts). */
const settle = (st0: TrackerState, out: Out, at: number, p: TrackerParams): TrackerState => {
  let st = settleByTag(st0, out, at);
  for (const [sessionId, s] of Object.entries(st.sessions)) {
    if (!s.active || s.method === 'idTag' || s.method === 'energy') continue;
    if (s.vehicleId === null && st.telematicsWatermark >= s.startedAt + p.windowMs) {
      const c = candidatesOf(st, sessionId, s, p);
      if (c.length === 1) st = match(st, out, sessionId, c[0]!.vehicleId, 0.8 - (0.3 * c[0]!.dt) / p.windowMs, 'telematics', at);
      else if (c.length > 1 && c[1]!.dt - c[0]!.dt >= p.marginMs) st = match(st, out, sessionId, c[0]!.vehicleId, 0.7 - (0.3 * c[0]!.dt) / p.windowMs, 'telematics', at);
      if (st.sessions[sessionId]!.vehicleId !== null) continue;
    }
    // Energy consistency: among the candidates (and the current telematics match), one fits and the others don't.
    const cur = st.sessions[sessionId]!;
    if (cur.deliveredWh < p.energyEvidenceWh) continue;
    const names = new Set(candidatesOf(st, sessionId, cur, p).map((c) => c.vehicleId));
    if (cur.vehicleId) names.add(cur.vehicleId);
    if (names.size < 2 && cur.vehicleId !== null) continue;
    const fits = [...names].map((vehicleId) => ({ vehicleId, err: energyFit(st, cur, vehicleId, p) })).filter((f): f is { vehicleId: string; err: number } => f.err !== undefined);
    const good = fits.filter((f) => f.err <= p.energyTolerancePct);
    const bad = fits.filter((f) => f.err > p.energyTolerancePct * 2.5);
    if (good.length === 1 && bad.length === fits.length - 1 && fits.length === names.size && good[0]!.vehicleId !== cur.vehicleId) {
      st = match(st, out, sessionId, good[0]!.vehicleId, names.size > 1 ? 0.9 : 0.75, 'energy', at);
    }
  }
  return st;
};

/** Uncertainty (percent points) of a SoC estimated from the meter: a point, growing with time since the trusted reading
 *  and with the rise estimated since (the efficiency's error scales with it). */
export const estimateUncertaintyPct = (hoursSinceTrusted: number, risePct: number): number => 1 + 0.5 * hoursSinceTrusted + 0.05 * risePct;

const estimateFor = (v: VehicleTrack, s: SessionTrack, at: number, p: TrackerParams) => {
  if (!v.capacityKwh) return undefined;
  // The last trusted SoC: the charger's own report or telematics, whichever is later.
  const tele = v.socPct !== null && v.socAt !== null ? { soc: v.socPct, at: v.socAt } : undefined;
  const base = s.chargerSoc && (!tele || s.chargerSoc.at >= tele.at) ? s.chargerSoc : tele;
  if (!base) return undefined;
  const delivered = deliveredAt(s, at) - deliveredAt(s, base.at);
  const rise = ((delivered * p.efficiency) / (v.capacityKwh * 1000)) * 100;
  const hours = Math.max(0, at - base.at) / 3600_000;
  return {
    socPct: Math.min(100, base.soc + rise),
    uncertaintyPct: estimateUncertaintyPct(hours, rise),
    baseSocPct: base.soc,
    baseAt: base.at,
    deliveredWhSinceBase: delivered,
  };
};

const onReading = (st0: TrackerState, r: TelematicsReading, out: Out, p: TrackerParams): TrackerState => {
  const v0 = st0.vehicles[r.vehicleId] ?? emptyVehicle;
  let st = st0;
  const connectedNow = r.pluggedIn === true || r.chargingState === 'CHARGING';
  const newer = v0.lastReadingAt === null || r.readingAt > v0.lastReadingAt;
  const transitions = newer && connectedNow && !v0.connected ? [...v0.transitions, { at: r.readingAt, lat: r.latitude, lon: r.longitude }].filter((t) => t.at > r.readingAt - day) : v0.transitions;
  const socs = r.socPct !== null ? [...v0.socs, { at: r.readingAt, soc: r.socPct }].sort((a, b) => a.at - b.at).filter((x) => x.at > r.readingAt - day) : v0.socs;
  let v: VehicleTrack = {
    ...v0,
    capacityKwh: v0.capacityKwh ?? r.batteryCapacityKwh,
    lastReadingAt: newer ? r.readingAt : v0.lastReadingAt,
    connected: newer ? (r.pluggedIn === null && r.chargingState === null ? v0.connected : connectedNow) : v0.connected,
    socPct: r.socPct !== null && (v0.socAt === null || r.readingAt >= v0.socAt) ? r.socPct : v0.socPct,
    socAt: r.socPct !== null && (v0.socAt === null || r.readingAt >= v0.socAt) ? r.readingAt : v0.socAt,
    transitions,
    socs,
  };
  if (v0.estimate && r.socPct !== null && r.readingAt >= v0.estimate.at) {
    // Telematics is back: how good was the estimate, extrapolated to this reading?
    const s = st.sessions[v0.estimate.sessionId];
    const est = s ? estimateFor({ ...v0 }, s, r.readingAt, p) : undefined;
    const estimated = est?.socPct ?? v0.estimate.socPct;
    out.push(s?.chargePointId ?? v0.lastSessionCp ?? '', r.readingAt, { type: 'SocEstimateChecked', vehicleId: r.vehicleId, estimatedSocPct: estimated, reportedSocPct: r.socPct, errorPct: estimated - r.socPct });
    v = { ...v, estimate: null };
  }
  st = { ...st, vehicles: { ...st.vehicles, [r.vehicleId]: v }, telematicsWatermark: Math.max(st.telematicsWatermark, r.readingAt) };
  return settle(st, out, r.readingAt, p);
};

const onConfig = (st: TrackerState, c: ConfigEvent, out: Out): TrackerState => {
  const b = c.body;
  switch (b.type) {
    case 'SiteConfigured':
      return { ...st, sites: { ...st.sites, [b.siteId]: { lat: b.latitude, lon: b.longitude } } };
    case 'ChargerConfigured':
      return { ...st, chargerSite: { ...st.chargerSite, [b.chargePointId]: b.siteId } };
    case 'VehicleConfigured': {
      const idTags = Object.fromEntries(Object.entries(st.idTags).filter(([, v]) => v !== b.vehicleId));
      for (const t of b.idTags) idTags[t] = b.vehicleId;
      const v = st.vehicles[b.vehicleId] ?? emptyVehicle;
      // Sessions started with one of these tags before this configuration was folded are settled now.
      return settleByTag({ ...st, idTags, vehicles: { ...st.vehicles, [b.vehicleId]: { ...v, capacityKwh: b.batteryCapacityKwh } } }, out, c.at);
    }
    default:
      return st;
  }
};

const onEvent = (st0: TrackerState, e: ChargingEvent, out: Out, p: TrackerParams): TrackerState => {
  const b = e.body;
  let st = st0;
  switch (b.type) {
    case 'SessionStarted': {
      if (st.sessions[b.sessionId]) return st;
      const s: SessionTrack = { chargePointId: e.chargePointId, startedAt: e.occurredAt, meterStartWh: b.meterStartWh, deliveredWh: 0, deliveries: [], active: true, idTag: b.idTag, vehicleId: null, method: null, chargerSoc: null };
      st = { ...st, sessions: { ...st.sessions, [b.sessionId]: s } };
      return settle(st, out, e.occurredAt, p);
    }
    case 'VehicleMatched': {
      // Our own decision coming back (or a correction from elsewhere): the log is the truth. But an earlier, weaker
      // match coming back after an id-tag match was decided (and not yet seen back) doesn't undo it.
      const s = st.sessions[b.sessionId];
      if (s && s.method === 'idTag' && b.method !== 'idTag') return st;
      return withMatch(st, b.sessionId, b.vehicleId, b.method);
    }
    case 'SessionEnded': {
      const s = st.sessions[b.sessionId];
      if (!s) return st;
      const sessions = Object.fromEntries(Object.entries(st.sessions).filter(([id, o]) => id === b.sessionId || o.active || o.startedAt > e.occurredAt - day));
      return { ...st, sessions: { ...sessions, [b.sessionId]: { ...s, active: false, deliveredWh: b.energyWh } } };
    }
    case 'ChargerReportedSoc': {
      const s = b.sessionId ? st.sessions[b.sessionId] : undefined;
      if (!s || !b.sessionId) return st;
      return { ...st, sessions: { ...st.sessions, [b.sessionId]: { ...s, chargerSoc: { soc: b.socPct, at: e.occurredAt } } } };
    }
    case 'SocEstimated': {
      const v = st.vehicles[b.vehicleId] ?? emptyVehicle;
      if (v.estimate && v.estimate.at >= e.occurredAt) return st;
      if (v.lastReadingAt !== null && v.lastReadingAt >= e.occurredAt) return st;
      return { ...st, vehicles: { ...st.vehicles, [b.vehicleId]: { ...v, estimate: { socPct: b.socPct, at: e.occurredAt, sessionId: b.sessionId ?? '' } } } };
    }
    case 'MeterSampled': {
      const s = b.sessionId ? st.sessions[b.sessionId] : undefined;
      if (!s || !b.sessionId || !s.active) return st;
      const reg = b.samples.find((x) => x.measurand === 'Energy.Active.Import.Register' && x.phase === null && x.unit === 'Wh');
      if (!reg) return st;
      const wh = Math.max(0, reg.value - s.meterStartWh);
      const updated: SessionTrack = { ...s, deliveredWh: wh, deliveries: [...s.deliveries, { at: e.occurredAt, wh }] };
      st = { ...st, sessions: { ...st.sessions, [b.sessionId]: updated } };
      st = settle(st, out, e.occurredAt, p);
      const cur = st.sessions[b.sessionId]!;
      if (!cur.vehicleId) return st;
      const v = st.vehicles[cur.vehicleId] ?? emptyVehicle;
      const silentSince = v.lastReadingAt ?? cur.startedAt;
      const chargerFresh = cur.chargerSoc !== null && e.occurredAt - cur.chargerSoc.at <= p.staleMs;
      if (e.occurredAt - silentSince <= p.staleMs || chargerFresh) return st;
      if (v.estimate && e.occurredAt - v.estimate.at < p.estimateEveryMs) return st;
      const est = estimateFor(v, cur, e.occurredAt, p);
      if (!est) return st;
      out.push(e.chargePointId, e.occurredAt, { type: 'SocEstimated', vehicleId: cur.vehicleId, sessionId: b.sessionId, ...est });
      return { ...st, vehicles: { ...st.vehicles, [cur.vehicleId]: { ...v, estimate: { socPct: est.socPct, at: e.occurredAt, sessionId: b.sessionId } } } };
    }
    default:
      return st;
  }
};

export const decide = (st: TrackerState, input: ProjectionInput, ref: InputRef, p: TrackerParams = defaultParams): TrackerDecision => {
  const out = new Out(ref);
  const state = input.kind === 'event' ? onEvent(st, input.event, out, p) : input.kind === 'reading' ? onReading(st, input.reading, out, p) : input.kind === 'config' ? onConfig(st, input.config, out) : st;
  return { state, events: out.events };
};
