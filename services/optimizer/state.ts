import { ChargingEvent } from '../../schemas/events';
import { ConfigBody, ConfigEvent, TariffPeriod } from '../../schemas/fleet-config';
import { OptimizerConfig } from './config';
import { learnedEfficiency, observeSample, SessionSpan } from './efficiency';
import { ChargerSnapshot, CurrentType, Protocol, RateUnit, SiteSnapshot, SocSource, VehicleSnapshot, defaultTaper, defaultWeights } from './snapshot';

/** The optimizer's view of the fleet, folded from fleet.config, charging.events and telematics.readings, plus what the
 *  optimizer itself commanded (to compare meters with plans). `evolve` is pure; `replanReason` says whether an input
 *  should re-plan its site; `snapshotOf` derives the LP's input for one site. */

export interface TelematicsReading {
  readonly readingId: string;
  readonly vehicleId: string;
  readonly readingAt: number;
  readonly socPct: number | null;
  readonly pluggedIn: boolean | null;
  readonly etaAt: number | null;
  readonly batteryCapacityKwh: number | null;
}

export type Input =
  | { readonly kind: 'config'; readonly event: ConfigEvent }
  | { readonly kind: 'event'; readonly event: ChargingEvent }
  | { readonly kind: 'reading'; readonly reading: TelematicsReading }
  /** The optimizer sent a TxProfile whose slot-0 limit is `limitKw` (its own output, fed back). */
  | { readonly kind: 'commanded'; readonly chargePointId: string; readonly connectorId: number; readonly commandId: string; readonly limitKw: number; readonly at: number }
  /** A GetCompositeSchedule read-back: the limit (kW) the charger says applies now. */
  | { readonly kind: 'composite'; readonly chargePointId: string; readonly connectorId: number; readonly limitKw: number | null; readonly at: number };

type Conf<T extends ConfigBody['type']> = Extract<ConfigBody, { type: T }>;

export interface Session {
  readonly sessionId: string;
  readonly transactionId: string;
  readonly chargePointId: string;
  readonly connectorId: number;
  readonly startedAt: number;
  /** Last event of the session: sessions silent for a day are ignored (their end was lost). */
  readonly lastSeenAt: number;
  readonly vehicleId: string | null;
  readonly meterStartWh: number;
  readonly meterWh: number;
  readonly powerKw: number;
  readonly reportedSocPct: number | null;
  readonly needs: { energyWh: number | null; departAt: number | null; maxPowerW: number | null } | null;
}

export interface Control {
  /** Last commanded slot-0 limit (kW) and since when. */
  readonly limitKw: number | null;
  readonly since: number;
  readonly commandIds: readonly string[];
  /** Consecutive meter samples (or read-backs) well above the commanded limit. */
  readonly strikes: number;
  readonly rejections: number;
  readonly uncontrollable: boolean;
}

export interface SocReading {
  readonly socPct: number;
  readonly source: SocSource;
  readonly uncertaintyPct: number;
  readonly at: number;
}

export interface FleetState {
  readonly sites: ReadonlyMap<string, Conf<'SiteConfigured'>>;
  readonly tariffs: ReadonlyMap<string, Conf<'TariffConfigured'>>;
  readonly chargers: ReadonlyMap<string, Conf<'ChargerConfigured'>>;
  readonly protocols: ReadonlyMap<string, Protocol>;
  readonly faulted: ReadonlySet<string>;
  readonly vehicles: ReadonlyMap<string, Conf<'VehicleConfigured'>>;
  readonly departures: ReadonlyMap<string, Conf<'DepartureScheduled'>>;
  readonly sessions: ReadonlyMap<string, Session>;
  readonly soc: ReadonlyMap<string, SocReading>;
  readonly telematics: ReadonlyMap<string, TelematicsReading>;
  /** Key `${chargePointId}:${connectorId}`. */
  readonly control: ReadonlyMap<string, Control>;
  /** Highest measured site load this month (kW), per site and month `YYYY-MM`. */
  readonly peaks: ReadonlyMap<string, { month: string; kw: number }>;
  /** Trusted SoC readings against metered energy, per session (the latest MAX_SPANS), to learn the site's efficiency. */
  readonly charged: ReadonlyMap<string, { readonly siteId: string; readonly span: SessionSpan }>;
}

export const initial: FleetState = {
  sites: new Map(),
  tariffs: new Map(),
  chargers: new Map(),
  protocols: new Map(),
  faulted: new Set(),
  vehicles: new Map(),
  departures: new Map(),
  sessions: new Map(),
  soc: new Map(),
  telematics: new Map(),
  control: new Map(),
  peaks: new Map(),
  charged: new Map(),
};

const put = <K, V>(m: ReadonlyMap<K, V>, k: K, v: V): ReadonlyMap<K, V> => new Map(m).set(k, v);
const del = <K, V>(m: ReadonlyMap<K, V>, k: K): ReadonlyMap<K, V> => {
  const n = new Map(m);
  n.delete(k);
  return n;
};
export const controlKey = (chargePointId: string, connectorId: number): string => `${chargePointId}:${connectorId}`;

const sessionOn = (s: FleetState, chargePointId: string, connectorId: number): Session | undefined =>
  [...s.sessions.values()].find((x) => x.chargePointId === chargePointId && x.connectorId === connectorId);
const sessionOf = (s: FleetState, vehicleId: string): Session | undefined => [...s.sessions.values()].find((x) => x.vehicleId === vehicleId);

const MAX_SPANS = 1000;

/** A trusted SoC of a vehicle that is charging: a sample of its session's efficiency span. */
const withSocSample = (s: FleetState, vehicleId: string, socPct: number): FleetState => {
  const x = sessionOf(s, vehicleId);
  const capacityKwh = s.vehicles.get(vehicleId)?.batteryCapacityKwh;
  const siteId = x ? s.chargers.get(x.chargePointId)?.siteId : undefined;
  if (!x || !capacityKwh || !siteId) return s;
  const span = observeSample(s.charged.get(x.sessionId)?.span, capacityKwh, { socPct, gridKwh: (x.meterWh - x.meterStartWh) / 1000 });
  const charged = new Map(s.charged).set(x.sessionId, { siteId, span });
  if (charged.size > MAX_SPANS) charged.delete(charged.keys().next().value!);
  return { ...s, charged };
};

/** Samples that mean "power now" in kW, from the sampled values of one MeterSampled. */
const powerOf = (samples: readonly { measurand: string; phase: string | null; unit: string; value: number }[]): number | null => {
  const total = samples.find((x) => x.measurand === 'Power.Active.Import' && x.phase === null && x.unit === 'W');
  if (total) return total.value / 1000;
  const phases = samples.filter((x) => x.measurand === 'Power.Active.Import' && x.unit === 'W');
  return phases.length ? phases.reduce((m, x) => m + x.value, 0) / 1000 : null;
};
const energyOf = (samples: readonly { measurand: string; phase: string | null; unit: string; value: number }[]): number | null =>
  samples.find((x) => x.measurand === 'Energy.Active.Import.Register' && x.phase === null && x.unit === 'Wh')?.value ?? null;

/** A charger drawing this much more than commanded (kW and share) is ignoring its profile. */
const IGNORE_ABS_KW = 1;
const IGNORE_REL = 0.1;
const STRIKES = 3;
const GRACE_MS = 120000;
const MAX_REJECTIONS = 3;

const ignoring = (measuredKw: number, limitKw: number): boolean => measuredKw > limitKw * (1 + IGNORE_REL) + IGNORE_ABS_KW;

export const evolve = (s: FleetState, i: Input): FleetState => {
  switch (i.kind) {
    case 'config': {
      const b = i.event.body;
      switch (b.type) {
        case 'SiteConfigured':
          return { ...s, sites: put(s.sites, b.siteId, b) };
        case 'TariffConfigured':
          return { ...s, tariffs: put(s.tariffs, b.siteId, b) };
        case 'ChargerConfigured':
          return { ...s, chargers: put(s.chargers, b.chargePointId, b) };
        case 'VehicleConfigured':
          return { ...s, vehicles: put(s.vehicles, b.vehicleId, b) };
        case 'DepartureScheduled':
          return { ...s, departures: put(s.departures, b.vehicleId, b) };
      }
      return s;
    }
    case 'reading': {
      const r = i.reading;
      // Only configured vehicles are planned: readings of others are not kept (the topic is the fleet's busiest).
      if (!s.vehicles.has(r.vehicleId)) return s;
      const prev = s.telematics.get(r.vehicleId);
      if (prev && prev.readingAt > r.readingAt) return s;
      let next: FleetState = { ...s, telematics: put(s.telematics, r.vehicleId, r) };
      const soc = s.soc.get(r.vehicleId);
      if (r.socPct !== null && (!soc || soc.at <= r.readingAt)) next = { ...next, soc: put(next.soc, r.vehicleId, { socPct: r.socPct, source: 'telematics', uncertaintyPct: MEASURED_SOC_UNCERTAINTY, at: r.readingAt }) };
      return r.socPct !== null ? withSocSample(next, r.vehicleId, r.socPct) : next;
    }
    case 'commanded': {
      const k = controlKey(i.chargePointId, i.connectorId);
      const c = s.control.get(k);
      const control: Control = {
        limitKw: i.limitKw,
        since: c?.limitKw === i.limitKw ? c.since : i.at,
        commandIds: [...(c?.commandIds ?? []).slice(-7), i.commandId],
        strikes: c?.strikes ?? 0,
        rejections: c?.rejections ?? 0,
        uncontrollable: c?.uncontrollable ?? false,
      };
      return { ...s, control: put(s.control, k, control) };
    }
    case 'composite': {
      const k = controlKey(i.chargePointId, i.connectorId);
      const c = s.control.get(k);
      if (!c || c.limitKw === null) return s;
      // The charger's composite schedule is above what we commanded: the profile did not take.
      const off = i.limitKw === null || ignoring(i.limitKw, c.limitKw);
      const strikes = off ? c.strikes + 1 : 0;
      return { ...s, control: put(s.control, k, { ...c, strikes, uncontrollable: c.uncontrollable || strikes >= STRIKES }) };
    }
    case 'event':
      return evolveEvent(s, i.event);
  }
};

const evolveEvent = (s: FleetState, e: ChargingEvent): FleetState => {
  const b = e.body;
  const cp = e.chargePointId;
  switch (b.type) {
    case 'ChargerConnected':
    case 'ChargerBooted':
      return b.protocol === 'ocpp1.6' || b.protocol === 'ocpp2.0.1' ? { ...s, protocols: put(s.protocols, cp, b.protocol) } : s;
    case 'ConnectorStatusChanged': {
      const key = controlKey(cp, b.connectorId);
      const faulted = new Set(s.faulted);
      if (b.status === 'Faulted') faulted.add(key);
      else faulted.delete(key);
      return { ...s, faulted };
    }
    case 'SessionStarted': {
      // A new transaction on the connector ends whatever we thought was there, and resets the control record.
      let sessions = s.sessions;
      for (const x of s.sessions.values()) if (x.chargePointId === cp && x.connectorId === b.connectorId) sessions = del(sessions, x.sessionId);
      const session: Session = {
        sessionId: b.sessionId,
        transactionId: b.transactionId,
        chargePointId: cp,
        connectorId: b.connectorId,
        startedAt: e.occurredAt,
        lastSeenAt: e.occurredAt,
        vehicleId: null,
        meterStartWh: b.meterStartWh,
        meterWh: b.meterStartWh,
        powerKw: 0,
        reportedSocPct: null,
        needs: null,
      };
      return { ...s, sessions: put(sessions, b.sessionId, session), control: del(s.control, controlKey(cp, b.connectorId)) };
    }
    case 'SessionEnded':
      return { ...s, sessions: del(s.sessions, b.sessionId) };
    case 'VehicleMatched': {
      const x = s.sessions.get(b.sessionId);
      return x ? { ...s, sessions: put(s.sessions, b.sessionId, { ...x, vehicleId: b.vehicleId }) } : s;
    }
    case 'MeterSampled': {
      const x = (b.sessionId ? s.sessions.get(b.sessionId) : undefined) ?? sessionOn(s, cp, b.connectorId);
      if (!x) return s;
      const power = powerOf(b.samples);
      const energy = energyOf(b.samples);
      const soc = b.samples.find((m) => m.measurand === 'SoC')?.value ?? null;
      const session: Session = { ...x, lastSeenAt: Math.max(x.lastSeenAt, e.occurredAt), powerKw: power ?? x.powerKw, meterWh: energy ?? x.meterWh, reportedSocPct: soc ?? x.reportedSocPct };
      let next: FleetState = { ...s, sessions: put(s.sessions, x.sessionId, session) };
      const k = controlKey(cp, b.connectorId);
      const c = s.control.get(k);
      if (c && c.limitKw !== null && power !== null && e.occurredAt - c.since > GRACE_MS) {
        const strikes = ignoring(power, c.limitKw) ? c.strikes + 1 : 0;
        next = { ...next, control: put(next.control, k, { ...c, strikes, uncontrollable: c.uncontrollable || strikes >= STRIKES }) };
      }
      const siteId = s.chargers.get(cp)?.siteId;
      if (siteId && power !== null) next = withPeak(next, siteId, e.occurredAt);
      return next;
    }
    case 'ChargerReportedSoc': {
      const x = (b.sessionId ? s.sessions.get(b.sessionId) : undefined) ?? sessionOn(s, cp, b.connectorId);
      if (!x) return s;
      let next: FleetState = { ...s, sessions: put(s.sessions, x.sessionId, { ...x, reportedSocPct: b.socPct }) };
      if (x.vehicleId) next = withSocSample({ ...next, soc: put(next.soc, x.vehicleId, { socPct: b.socPct, source: 'charger', uncertaintyPct: MEASURED_SOC_UNCERTAINTY, at: e.occurredAt }) }, x.vehicleId, b.socPct);
      return next;
    }
    case 'EvChargingNeedsReported': {
      const x = sessionOn(s, cp, b.connectorId);
      if (!x) return s;
      return { ...s, sessions: put(s.sessions, x.sessionId, { ...x, needs: { energyWh: b.energyAmountWh, departAt: b.departureTime, maxPowerW: b.evMaxPowerW } }) };
    }
    case 'SocEstimated': {
      const prev = s.soc.get(b.vehicleId);
      if (prev && prev.at > e.occurredAt) return s;
      return { ...s, soc: put(s.soc, b.vehicleId, { socPct: b.socPct, source: 'estimated', uncertaintyPct: b.uncertaintyPct, at: e.occurredAt }) };
    }
    case 'CommandCompleted': {
      if (b.action !== 'SetChargingProfile' || b.outcome === 'ACCEPTED') return s;
      for (const [k, c] of s.control) {
        if (!c.commandIds.includes(b.commandId)) continue;
        const rejections = c.rejections + 1;
        return { ...s, control: put(s.control, k, { ...c, rejections, uncontrollable: c.uncontrollable || (b.outcome === 'REJECTED' && rejections >= MAX_REJECTIONS) }) };
      }
      return s;
    }
    default:
      return s;
  }
};

const monthOf = (at: number) => new Date(at).toISOString().slice(0, 7);

const withPeak = (s: FleetState, siteId: string, at: number): FleetState => {
  let kw = 0;
  for (const x of s.sessions.values()) if (s.chargers.get(x.chargePointId)?.siteId === siteId) kw += x.powerKw;
  const month = monthOf(at);
  const prev = s.peaks.get(siteId);
  const peak = prev && prev.month === month ? Math.max(prev.kw, kw) : kw;
  return prev && prev.month === month && prev.kw === peak ? s : { ...s, peaks: put(s.peaks, siteId, { month, kw: peak }) };
};

/** The site an input concerns, when it has one. */
export const siteOf = (s: FleetState, i: Input): string | null => {
  const ofCharger = (cp: string) => s.chargers.get(cp)?.siteId ?? null;
  const ofVehicle = (v: string) => {
    const x = sessionOf(s, v);
    return x ? ofCharger(x.chargePointId) : (s.vehicles.get(v)?.siteId ?? null);
  };
  switch (i.kind) {
    case 'config': {
      const b = i.event.body;
      if (b.type === 'SiteConfigured' || b.type === 'TariffConfigured' || b.type === 'ChargerConfigured') return b.siteId;
      return ofVehicle(b.vehicleId);
    }
    case 'reading':
      return ofVehicle(i.reading.vehicleId);
    case 'event': {
      const b = i.event.body;
      if (b.type === 'SocEstimated') return ofVehicle(b.vehicleId);
      return ofCharger(i.event.chargePointId);
    }
    default:
      return ofCharger(i.chargePointId);
  }
};

const MIN15 = 15 * 60000;

/** Why `i` (already folded into `after`) should re-plan its site, or null. `plannedKw` gives the current plan's
 *  slot-0 power of a connector, for the 10 % meter deviation rule. */
export const replanReason = (before: FleetState, after: FleetState, i: Input, plannedKw: (chargePointId: string, connectorId: number) => number | undefined): string | null => {
  switch (i.kind) {
    case 'config': {
      const b = i.event.body;
      switch (b.type) {
        case 'SiteConfigured':
          return before.sites.get(b.siteId)?.gridLimitKw === b.gridLimitKw ? null : 'limit';
        case 'TariffConfigured':
          return 'price';
        case 'ChargerConfigured':
          return 'charger';
        case 'VehicleConfigured':
          return 'vehicle';
        case 'DepartureScheduled': {
          const p = before.departures.get(b.vehicleId);
          if (!p) return 'departure';
          const moved = Math.abs(p.departAt - b.departAt) > MIN15;
          const changed = p.requiredSocPct !== b.requiredSocPct || p.requiredEnergyKwh !== b.requiredEnergyKwh || p.routeKm !== b.routeKm || p.priority !== b.priority;
          return moved || changed ? 'departure' : null;
        }
      }
      return null;
    }
    case 'reading': {
      const r = i.reading;
      const p = before.telematics.get(r.vehicleId);
      if (after.telematics.get(r.vehicleId) !== r) return null;
      if (!p) return 'soc';
      if (r.socPct !== null && (p.socPct === null || Math.abs(r.socPct - p.socPct) >= 1)) return 'soc';
      if ((r.etaAt ?? 0) !== (p.etaAt ?? 0) && (r.etaAt === null || p.etaAt === null || Math.abs(r.etaAt - p.etaAt) > MIN15)) return 'eta';
      if (r.pluggedIn !== p.pluggedIn) return 'plug';
      return null;
    }
    case 'commanded':
      return null;
    case 'composite': {
      const k = controlKey(i.chargePointId, i.connectorId);
      return !before.control.get(k)?.uncontrollable && after.control.get(k)?.uncontrollable ? 'uncontrollable' : null;
    }
    case 'event': {
      const b = i.event.body;
      switch (b.type) {
        case 'SessionStarted':
          return 'plug-in';
        case 'SessionEnded':
          return 'unplug';
        case 'VehicleMatched':
          return 'match';
        case 'ConnectorStatusChanged':
          return b.status === 'Faulted' || before.faulted.has(controlKey(i.event.chargePointId, b.connectorId)) ? 'fault' : null;
        case 'SocEstimated': {
          const p = before.soc.get(b.vehicleId);
          return !p || Math.abs(p.socPct - b.socPct) >= 1 ? 'soc' : null;
        }
        case 'ChargerReportedSoc': {
          const x = before.sessions.get(b.sessionId ?? '') ?? sessionOn(before, i.event.chargePointId, b.connectorId);
          return !x || x.reportedSocPct === null || Math.abs(x.reportedSocPct - b.socPct) >= 1 ? 'soc' : null;
        }
        case 'EvChargingNeedsReported':
          return 'needs';
        case 'CommandCompleted':
          return b.action === 'SetChargingProfile' && b.outcome !== 'ACCEPTED' && before.control !== after.control ? 'rejected' : null;
        case 'MeterSampled': {
          const k = controlKey(i.event.chargePointId, b.connectorId);
          if (!before.control.get(k)?.uncontrollable && after.control.get(k)?.uncontrollable) return 'uncontrollable';
          const power = powerOf(b.samples);
          const planned = plannedKw(i.event.chargePointId, b.connectorId);
          if (power === null || planned === undefined) return null;
          return Math.abs(power - planned) > 0.1 * Math.max(planned, 1) ? 'meter' : null;
        }
        default:
          return null;
      }
    }
  }
};

/** Price per kWh at `at`: ISO-instant periods first, then HH:MM daily periods in the site's time zone. */
export const priceAt = (periods: readonly TariffPeriod[], timezone: string, at: number): number | null => {
  let local: number | null = null;
  for (const p of periods) {
    if (p.from.includes('T')) {
      if (Date.parse(p.from) <= at && at < Date.parse(p.to)) return p.pricePerKwh;
      continue;
    }
    local ??= localMinutes(at, timezone);
    const f = hhmm(p.from);
    const t = hhmm(p.to);
    if (f === null || t === null) continue;
    const inside = f < t ? local >= f && local < t : local >= f || local < t;
    if (inside || f === t) return p.pricePerKwh;
  }
  return null;
};

const hhmm = (s: string): number | null => {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
};

const formatters = new Map<string, Intl.DateTimeFormat>();
const localMinutes = (at: number, timezone: string): number => {
  let f = formatters.get(timezone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      f = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    }
    formatters.set(timezone, f);
  }
  const parts = f.formatToParts(new Date(at));
  return Number(parts.find((p) => p.type === 'hour')?.value ?? 0) * 60 + Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
};

const rateUnitOf = (configured: string, type: CurrentType): RateUnit => {
  const units = configured.split(',').map((u) => u.trim());
  if (type === 'AC' && units.includes('A')) return 'A';
  return units.includes('W') ? 'W' : 'A';
};

const STALE_TELEMATICS_MS = 30 * 60000;
/** A measured SoC (telematics, charger) is good to about a percent point; the target is widened by that much, so
 *  model errors (efficiency) found late do not leave a vehicle just short. */
export const MEASURED_SOC_UNCERTAINTY = 1;
const STALE_SESSION_MS = 24 * 3600000;

/** The LP's input for one site at `now`, or null when the site is not configured. */
export const snapshotOf = (s: FleetState, siteId: string, now: number, cfg: OptimizerConfig): SiteSnapshot | null => {
  const site = s.sites.get(siteId);
  if (!site) return null;
  const slotMs = cfg.slotMinutes * 60000;
  const maxSlots = Math.round((cfg.maxHorizonHours * 60) / cfg.slotMinutes);
  const tariff = s.tariffs.get(siteId);
  const prices: number[] = [];
  let last = 0;
  for (let t = 0; t < maxSlots; t++) {
    // Time-weighted over the slot (five samples), so a tariff step inside a slot counts pro rata.
    let sum = 0;
    for (let k = 0; k < 5; k++) {
      const p = tariff ? priceAt(tariff.periods, site.timezone, now + t * slotMs + ((k + 0.5) * slotMs) / 5) : null;
      last = p ?? last;
      sum += p ?? last;
    }
    prices.push(sum / 5);
  }

  const chargers: ChargerSnapshot[] = [];
  for (const c of s.chargers.values()) {
    if (c.siteId !== siteId) continue;
    const currentType: CurrentType = c.currentType === 'DC' ? 'DC' : 'AC';
    const sessions = [...s.sessions.values()].filter((x) => x.chargePointId === c.chargePointId && now - x.lastSeenAt < STALE_SESSION_MS);
    const controls = sessions.map((x) => s.control.get(controlKey(c.chargePointId, x.connectorId)));
    const faulted = [...s.faulted].some((k) => k.startsWith(`${c.chargePointId}:`));
    chargers.push({
      chargePointId: c.chargePointId,
      siteId,
      maxPowerKw: faulted ? 0 : c.maxPowerKw,
      phases: c.phases,
      currentType,
      rateUnit: rateUnitOf(c.rateUnit, currentType),
      minCurrentA: 6,
      maxSchedulePeriods: c.maxSchedulePeriods,
      controllable: !controls.some((x) => x?.uncontrollable),
      measuredKw: sessions.reduce((m, x) => m + x.powerKw, 0),
      panelId: null,
      protocol: s.protocols.get(c.chargePointId) ?? null,
    });
  }

  const vehicles: VehicleSnapshot[] = [];
  const plugged = new Set<string>();
  for (const x of s.sessions.values()) {
    if (s.chargers.get(x.chargePointId)?.siteId !== siteId || now - x.lastSeenAt >= STALE_SESSION_MS) continue;
    if (x.vehicleId) plugged.add(x.vehicleId);
    vehicles.push(vehicleSnapshot(s, x.vehicleId, x, now, cfg));
  }
  for (const v of s.vehicles.values()) {
    if (v.siteId !== siteId || plugged.has(v.vehicleId)) continue;
    const r = s.telematics.get(v.vehicleId);
    const dep = s.departures.get(v.vehicleId);
    const horizonEnd = now + cfg.maxHorizonHours * 3600000;
    let arrival: number | null = null;
    if (r && r.etaAt !== null && r.etaAt >= now - slotMs && r.etaAt <= horizonEnd && r.pluggedIn !== true) arrival = Math.max(now, r.etaAt);
    // No ETA but a departure ahead: a forecast arrival keeps capacity (and peak) for it.
    else if (dep && dep.departAt > now && dep.departAt <= horizonEnd) arrival = Math.max(now + slotMs, dep.departAt - cfg.forecastDwellHours * 3600000);
    if (arrival === null) continue;
    const expected = vehicleSnapshot(s, v.vehicleId, null, now, cfg, arrival);
    if (expected.departAt > expected.arrivalAt!) vehicles.push(expected);
  }

  const maxPrice = prices.reduce((m, p) => Math.max(m, p), 0);
  const peak = s.peaks.get(siteId);
  return {
    siteId,
    now,
    slotMinutes: cfg.slotMinutes,
    maxSlots,
    gridLimitKw: site.gridLimitKw,
    panels: [],
    baseLoadKw: [],
    pricePerKwh: prices,
    currency: tariff?.currency ?? 'EUR',
    demandChargePerKwMonth: tariff?.demandChargePerKwMonth ?? 0,
    billedPeakKw: peak && peak.month === monthOf(now) ? peak.kw : 0,
    efficiency: learnedEfficiency([...s.charged.values()].filter((c) => c.siteId === siteId).map((c) => c.span)) ?? cfg.efficiency,
    chargers,
    vehicles,
    weights: defaultWeights(maxPrice, tariff?.demandChargePerKwMonth ?? 0, cfg.slotMinutes),
  };
};

const vehicleSnapshot = (s: FleetState, vehicleId: string | null, x: Session | null, now: number, cfg: OptimizerConfig, arrivalAt: number | null = null): VehicleSnapshot => {
  const v = vehicleId ? s.vehicles.get(vehicleId) : undefined;
  const capacity = v?.batteryCapacityKwh ?? cfg.unknownCapacityKwh;
  const start = x?.startedAt ?? arrivalAt ?? now;
  // SoC: the most recent of telematics, charger and estimate; telematics silent for long → estimate from the meter.
  let soc: SocReading = { socPct: cfg.unknownSocPct, source: 'default', uncertaintyPct: 0, at: start };
  const known = vehicleId ? s.soc.get(vehicleId) : undefined;
  if (known) soc = known;
  else if (x?.reportedSocPct != null) soc = { socPct: x.reportedSocPct, source: 'charger', uncertaintyPct: MEASURED_SOC_UNCERTAINTY, at: now };
  if (soc.source === 'telematics' && x && now - soc.at > STALE_TELEMATICS_MS && soc.at >= x.startedAt) {
    // Energy since the reading is not known per reading here: use what the meter delivered since plug-in, scaled.
    const hours = (now - soc.at) / 3600000;
    const deliveredKwh = ((x.meterWh - x.meterStartWh) / 1000) * cfg.efficiency * Math.min(1, (now - soc.at) / Math.max(1, now - x.startedAt));
    soc = { socPct: Math.min(100, soc.socPct + (100 * deliveredKwh) / capacity), source: 'estimated', uncertaintyPct: Math.min(20, 2 + 3 * hours), at: now };
  }
  const dep = vehicleId ? s.departures.get(vehicleId) : undefined;
  const needs = x?.needs ?? null;
  const reserve = (capacity * cfg.reserveSocPct) / 100;
  let departAt = start + cfg.defaultDwellHours * 3600000;
  let targetKwh = (capacity * cfg.defaultTargetSocPct) / 100;
  let priority = 1;
  if (dep && dep.departAt > now) {
    departAt = dep.departAt;
    priority = dep.priority;
    if (dep.requiredSocPct !== null) targetKwh = (capacity * dep.requiredSocPct) / 100;
    else if (dep.requiredEnergyKwh !== null) targetKwh = dep.requiredEnergyKwh + reserve;
    else if (dep.routeKm !== null && v) targetKwh = dep.routeKm * v.consumptionKwhPerKm + reserve;
  } else if (needs) {
    if (needs.departAt !== null && needs.departAt > now) departAt = needs.departAt;
    if (needs.energyWh !== null) targetKwh = (capacity * soc.socPct) / 100 + needs.energyWh / 1000;
  }
  if (departAt <= now) departAt = now + cfg.slotMinutes * 60000;
  const maxAc = Math.min(v?.maxAcPowerKw ?? 22, needs?.maxPowerW ? needs.maxPowerW / 1000 : Infinity);
  const maxDc = Math.min(v?.maxDcPowerKw ?? 150, needs?.maxPowerW ? needs.maxPowerW / 1000 : Infinity);
  return {
    vehicleId: vehicleId ?? `unknown:${x?.sessionId ?? 'none'}`,
    known: v !== undefined,
    chargePointId: x?.chargePointId ?? null,
    connectorId: x?.connectorId ?? null,
    transactionId: x?.transactionId ?? null,
    arrivalAt: x ? null : arrivalAt,
    currentKw: x ? (s.control.get(controlKey(x.chargePointId, x.connectorId))?.limitKw ?? 0) : 0,
    socPct: soc.socPct,
    socSource: soc.source,
    socUncertaintyPct: soc.uncertaintyPct,
    batteryCapacityKwh: capacity,
    maxAcKw: maxAc,
    maxDcKw: maxDc,
    taper: defaultTaper,
    departAt,
    targetKwh: Math.min(capacity, targetKwh),
    priority,
  };
};
