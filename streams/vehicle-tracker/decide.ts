import { ChargingEvent, EventBody } from '../../schemas/events';
import { ConfigEvent } from '../../schemas/fleet-config';
import { TelematicsReadingRecord } from '../../schemas/records';
import { TrackerInput } from '../../schemas/site-routed';

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

/** What happened, as evolve folds it: an input the state takes in (a session, a reading, a configuration), or a
 *  decision published to charging.events (VehicleMatched, SocEstimated, SocEstimateChecked). */
export type TrackerFact = { readonly kind: 'observed'; readonly input: TrackerInput } | { readonly kind: 'published'; readonly event: ChargingEvent };

export const publishedEvents = (facts: readonly TrackerFact[]): ChargingEvent[] => facts.flatMap((f) => (f.kind === 'published' ? [f.event] : []));

const day = 24 * 3600_000;

const distanceM = (a: { lat: number; lon: number }, b: { lat: number; lon: number }): number => {
  const r = 6371e3;
  const toRad = (d: number) => (d * Math.PI) / 180;
  const dLat = toRad(b.lat - a.lat);
  const dLon = toRad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(toRad(a.lat)) * Math.cos(toRad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(h));
};

/** One decision being made: the facts so far and the state they lead to (decide looks at the state its own earlier
 *  decisions of the same input left, e.g. a vehicle matched to one session is busy for the next). */
class Decision {
  readonly facts: TrackerFact[] = [];
  private published = 0;
  constructor(
    public state: TrackerState,
    private readonly ref: InputRef,
  ) {}
  private add(f: TrackerFact) {
    this.facts.push(f);
    this.state = evolve(this.state, f);
  }
  observe(input: TrackerInput) {
    this.add({ kind: 'observed', input });
  }
  publish(chargePointId: string, occurredAt: number, body: EventBody) {
    const r = this.ref;
    this.add({ kind: 'published', event: { eventId: `vt:${r.topic}:${r.partition}:${r.offset}:${this.published++}`, chargePointId, occurredAt, source: { ...r }, body } });
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

const withMatch = (st: TrackerState, sessionId: string, vehicleId: string, method: string): TrackerState => {
  const s = st.sessions[sessionId];
  if (!s) return st;
  const v = st.vehicles[vehicleId] ?? emptyVehicle;
  return { ...st, sessions: { ...st.sessions, [sessionId]: { ...s, vehicleId, method } }, vehicles: { ...st.vehicles, [vehicleId]: { ...v, lastSessionCp: s.chargePointId } } };
};

const match = (d: Decision, sessionId: string, vehicleId: string, confidence: number, method: string, at: number): void => {
  const s = d.state.sessions[sessionId]!;
  d.publish(s.chargePointId, at, { type: 'VehicleMatched', sessionId, vehicleId, confidence, method, replacesVehicleId: s.vehicleId });
};

/** Matches every open session whose id tag maps to a vehicle and that is not matched by id tag yet (a telematics or
 *  energy match it contradicts is corrected: replacesVehicleId). Independent of the order in which the session and the
 *  vehicle's configuration were folded. */
const settleByTag = (d: Decision, at: number): void => {
  for (const [sessionId, s] of Object.entries(d.state.sessions)) {
    if (!s.active || s.idTag === null || s.method === 'idTag') continue;
    const vehicleId = d.state.idTags[s.idTag];
    if (!vehicleId) continue;
    match(d, sessionId, vehicleId, 1, 'idTag', Math.max(at, s.startedAt));
  }
};

/** Tries to settle the match of every open, unsettled session (and to correct telematics matches energy contradicts). */
const settle = (d: Decision, at: number, p: TrackerParams): void => {
  settleByTag(d, at);
  for (const [sessionId, s] of Object.entries(d.state.sessions)) {
    if (!s.active || s.method === 'idTag' || s.method === 'energy') continue;
    if (s.vehicleId === null && d.state.telematicsWatermark >= s.startedAt + p.windowMs) {
      const c = candidatesOf(d.state, sessionId, s, p);
      if (c.length === 1) match(d, sessionId, c[0]!.vehicleId, 0.8 - (0.3 * c[0]!.dt) / p.windowMs, 'telematics', at);
      else if (c.length > 1 && c[1]!.dt - c[0]!.dt >= p.marginMs) match(d, sessionId, c[0]!.vehicleId, 0.7 - (0.3 * c[0]!.dt) / p.windowMs, 'telematics', at);
      if (d.state.sessions[sessionId]!.vehicleId !== null) continue;
    }
    // Energy consistency: among the candidates (and the current telematics match), one fits and the others don't.
    const st = d.state;
    const cur = st.sessions[sessionId]!;
    if (cur.deliveredWh < p.energyEvidenceWh) continue;
    const names = new Set(candidatesOf(st, sessionId, cur, p).map((c) => c.vehicleId));
    if (cur.vehicleId) names.add(cur.vehicleId);
    if (names.size < 2 && cur.vehicleId !== null) continue;
    const fits = [...names].map((vehicleId) => ({ vehicleId, err: energyFit(st, cur, vehicleId, p) })).filter((f): f is { vehicleId: string; err: number } => f.err !== undefined);
    const good = fits.filter((f) => f.err <= p.energyTolerancePct);
    const bad = fits.filter((f) => f.err > p.energyTolerancePct * 2.5);
    if (good.length === 1 && bad.length === fits.length - 1 && fits.length === names.size && good[0]!.vehicleId !== cur.vehicleId) {
      match(d, sessionId, good[0]!.vehicleId, names.size > 1 ? 0.9 : 0.75, 'energy', at);
    }
  }
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

/** The vehicle after a reading (its estimate untouched: a SocEstimateChecked clears it). */
const withReading = (v0: VehicleTrack, r: TelematicsReadingRecord): VehicleTrack => {
  const connectedNow = r.pluggedIn === true || r.chargingState === 'CHARGING';
  const newer = v0.lastReadingAt === null || r.readingAt > v0.lastReadingAt;
  const transitions = newer && connectedNow && !v0.connected ? [...v0.transitions, { at: r.readingAt, lat: r.latitude, lon: r.longitude }].filter((t) => t.at > r.readingAt - day) : v0.transitions;
  const socs = r.socPct !== null ? [...v0.socs, { at: r.readingAt, soc: r.socPct }].sort((a, b) => a.at - b.at).filter((x) => x.at > r.readingAt - day) : v0.socs;
  return {
    ...v0,
    capacityKwh: v0.capacityKwh ?? r.batteryCapacityKwh,
    lastReadingAt: newer ? r.readingAt : v0.lastReadingAt,
    connected: newer ? (r.pluggedIn === null && r.chargingState === null ? v0.connected : connectedNow) : v0.connected,
    socPct: r.socPct !== null && (v0.socAt === null || r.readingAt >= v0.socAt) ? r.socPct : v0.socPct,
    socAt: r.socPct !== null && (v0.socAt === null || r.readingAt >= v0.socAt) ? r.readingAt : v0.socAt,
    transitions,
    socs,
  };
};

const withConfig = (st: TrackerState, c: ConfigEvent): TrackerState => {
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
      return { ...st, idTags, vehicles: { ...st.vehicles, [b.vehicleId]: { ...v, capacityKwh: b.batteryCapacityKwh } } };
    }
    default:
      return st;
  }
};

/** A charging event the state takes in (sessions, their energy and the charger's SoC). */
const withEvent = (st: TrackerState, e: ChargingEvent): TrackerState => {
  const b = e.body;
  switch (b.type) {
    case 'SessionStarted': {
      if (st.sessions[b.sessionId]) return st;
      const s: SessionTrack = { chargePointId: e.chargePointId, startedAt: e.occurredAt, meterStartWh: b.meterStartWh, deliveredWh: 0, deliveries: [], active: true, idTag: b.idTag, vehicleId: null, method: null, chargerSoc: null };
      return { ...st, sessions: { ...st.sessions, [b.sessionId]: s } };
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
    case 'MeterSampled': {
      const s = b.sessionId ? st.sessions[b.sessionId] : undefined;
      const reg = registerOf(e);
      if (!s || !b.sessionId || !s.active || reg === undefined) return st;
      const wh = Math.max(0, reg - s.meterStartWh);
      return { ...st, sessions: { ...st.sessions, [b.sessionId]: { ...s, deliveredWh: wh, deliveries: [...s.deliveries, { at: e.occurredAt, wh }] } } };
    }
    default:
      return st;
  }
};

const registerOf = (e: ChargingEvent): number | undefined =>
  e.body.type === 'MeterSampled' ? e.body.samples.find((x) => x.measurand === 'Energy.Active.Import.Register' && x.phase === null && x.unit === 'Wh')?.value : undefined;

/** A decision of ours, as the state keeps it. */
const withPublished = (st: TrackerState, e: ChargingEvent): TrackerState => {
  const b = e.body;
  switch (b.type) {
    case 'VehicleMatched':
      return withMatch(st, b.sessionId, b.vehicleId, b.method);
    case 'SocEstimated': {
      const v = st.vehicles[b.vehicleId] ?? emptyVehicle;
      return { ...st, vehicles: { ...st.vehicles, [b.vehicleId]: { ...v, estimate: { socPct: b.socPct, at: e.occurredAt, sessionId: b.sessionId ?? '' } } } };
    }
    case 'SocEstimateChecked': {
      const v = st.vehicles[b.vehicleId];
      return v ? { ...st, vehicles: { ...st.vehicles, [b.vehicleId]: { ...v, estimate: null } } } : st;
    }
    default:
      return st;
  }
};

/** The state after one fact. Returns `st` itself when the fact changes nothing (the runtime then writes no change). */
export const evolve = (st: TrackerState, f: TrackerFact): TrackerState => {
  if (f.kind === 'published') return withPublished(st, f.event);
  const i = f.input;
  switch (i.kind) {
    case 'event':
      return withEvent(st, i.event);
    case 'reading':
      return { ...st, vehicles: { ...st.vehicles, [i.reading.vehicleId]: withReading(st.vehicles[i.reading.vehicleId] ?? emptyVehicle, i.reading) }, telematicsWatermark: Math.max(st.telematicsWatermark, i.reading.readingAt) };
    case 'config':
      return withConfig(st, i.config);
  }
};

const onReading = (d: Decision, input: TrackerInput & { kind: 'reading' }, p: TrackerParams): void => {
  const r = input.reading;
  const v0 = d.state.vehicles[r.vehicleId] ?? emptyVehicle;
  // Telematics is back: how good was the estimate, extrapolated to this reading? (From the vehicle before it.)
  const s = v0.estimate ? d.state.sessions[v0.estimate.sessionId] : undefined;
  const check = v0.estimate && r.socPct !== null && r.readingAt >= v0.estimate.at ? { estimated: (s ? estimateFor(v0, s, r.readingAt, p) : undefined)?.socPct ?? v0.estimate.socPct, socPct: r.socPct } : undefined;
  d.observe(input);
  if (check) d.publish(s?.chargePointId ?? v0.lastSessionCp ?? '', r.readingAt, { type: 'SocEstimateChecked', vehicleId: r.vehicleId, estimatedSocPct: check.estimated, reportedSocPct: check.socPct, errorPct: check.estimated - check.socPct });
  settle(d, r.readingAt, p);
};

const onConfig = (d: Decision, input: TrackerInput & { kind: 'config' }): void => {
  const c = input.config;
  if (c.body.type !== 'SiteConfigured' && c.body.type !== 'ChargerConfigured' && c.body.type !== 'VehicleConfigured') return;
  d.observe(input);
  // Sessions started with one of these tags before this configuration was folded are settled now.
  if (c.body.type === 'VehicleConfigured') settleByTag(d, c.at);
};

/** The charging events the tracker folds. Our own decisions coming back on charging.events (VehicleMatched,
 *  SocEstimated, SocEstimateChecked) are not among them: the state took them in when they were decided. */
const trackedEvents: ReadonlySet<string> = new Set(['SessionStarted', 'SessionEnded', 'ChargerReportedSoc', 'MeterSampled']);
export const tracksEvent = (e: ChargingEvent): boolean => trackedEvents.has(e.body.type);

const onEvent = (d: Decision, input: TrackerInput & { kind: 'event' }, p: TrackerParams): void => {
  const e = input.event;
  const b = e.body;
  switch (b.type) {
    case 'SessionStarted':
      if (d.state.sessions[b.sessionId]) return;
      d.observe(input);
      return settle(d, e.occurredAt, p);
    case 'SessionEnded':
    case 'ChargerReportedSoc':
      if (d.state.sessions[b.sessionId ?? ''] === undefined) return;
      return d.observe(input);
    case 'MeterSampled': {
      const s0 = b.sessionId ? d.state.sessions[b.sessionId] : undefined;
      if (!s0 || !b.sessionId || !s0.active || registerOf(e) === undefined) return;
      d.observe(input);
      settle(d, e.occurredAt, p);
      const cur = d.state.sessions[b.sessionId]!;
      if (!cur.vehicleId) return;
      const v = d.state.vehicles[cur.vehicleId] ?? emptyVehicle;
      const silentSince = v.lastReadingAt ?? cur.startedAt;
      const chargerFresh = cur.chargerSoc !== null && e.occurredAt - cur.chargerSoc.at <= p.staleMs;
      if (e.occurredAt - silentSince <= p.staleMs || chargerFresh) return;
      if (v.estimate && e.occurredAt - v.estimate.at < p.estimateEveryMs) return;
      const est = estimateFor(v, cur, e.occurredAt, p);
      if (!est) return;
      return d.publish(e.chargePointId, e.occurredAt, { type: 'SocEstimated', vehicleId: cur.vehicleId, sessionId: b.sessionId, ...est });
    }
    default:
      return;
  }
};

/** What an input means for the tracker: the facts to fold, observed input first, then the decisions published. `ref`
 *  is where the input was first read (its decisions' event ids derive from it). */
export const decide = (st: TrackerState, input: TrackerInput, ref: InputRef, p: TrackerParams = defaultParams): readonly TrackerFact[] => {
  const d = new Decision(st, ref);
  if (input.kind === 'event') onEvent(d, input, p);
  else if (input.kind === 'reading') onReading(d, input, p);
  else onConfig(d, input);
  return d.facts;
};
