import { ChargingEvent } from '../../schemas/events';
import { variableKey } from '../../schemas/device-capabilities';
import { ConfigBody, ConfigEvent, LimitEventScheduled, PanelConfigured } from '../../schemas/fleet-config';
import { SiteMeterReading } from '../../schemas/site-meter-record';
import { BuildingHistory, withConnectionReading } from './building-history';
import { observeSample, SessionSpan } from './efficiency';
import { withHistory } from './forecast-fold';
import { VehicleHistory } from '../../streams/projections/vehicle-forecast/fold';
import { PMap } from './pmap';
import { ampsToKw, Protocol, SocSource } from './snapshot';

/** The optimizer's view of the fleet, folded from fleet.config, charging.events and telematics.readings, plus what the
 *  optimizer itself commanded (to compare meters with plans; restored from ocpp.commands). `evolve` is pure and keeps
 *  the indexes a record needs (session by connector, by vehicle, by charger; site load), so no record scans the fleet.
 *  The re-plan policy is replan.ts, the LP's input site-snapshot.ts. The state is checkpointed as it is (checkpoint.ts):
 *  when a value's shape changes, bump CHECKPOINT_SHAPE there. */

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
  | { readonly kind: 'composite'; readonly chargePointId: string; readonly connectorId: number; readonly limitKw: number | null; readonly at: number }
  /** A site meter reading (site.meter-readings). */
  | { readonly kind: 'meter'; readonly reading: SiteMeterReading };

/** Limits an energy management system set on a charger (NotifyChargingLimit, external-constraints profiles). */
export interface ExternalLimit {
  readonly chargePointId: string;
  readonly evseId: number;
  readonly source: string;
  readonly limits: readonly { readonly from: number; readonly to: number | null; readonly limitKw: number }[];
}

type Conf<T extends ConfigBody['type']> = Extract<ConfigBody, { type: T }>;
export type ChargerConfig = Conf<'ChargerConfigured'>;

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
  /** When the latest command was sent. */
  readonly commandedAt: number;
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
  readonly sites: PMap<Conf<'SiteConfigured'>>;
  readonly tariffs: PMap<Conf<'TariffConfigured'>>;
  readonly chargers: PMap<Conf<'ChargerConfigured'>>;
  readonly protocols: PMap<Protocol>;
  /** When each charger last connected or booted (ChargerConnected, ChargerBooted): the profiles it held before may be
   *  gone, so its fallback caps are due again (caps-policy.ts). */
  readonly connectedAt: PMap<number>;
  /** Faulted connectors, key `${chargePointId}:${connectorId}` (few at a time). */
  readonly faulted: ReadonlySet<string>;
  readonly vehicles: PMap<Conf<'VehicleConfigured'>>;
  readonly departures: PMap<Conf<'DepartureScheduled'>>;
  readonly sessions: PMap<Session>;
  readonly soc: PMap<SocReading>;
  readonly telematics: PMap<TelematicsReading>;
  /** Key `${chargePointId}:${connectorId}`. */
  readonly control: PMap<Control>;
  /** Highest measured site load this month (kW), per site and month `YYYY-MM`. */
  readonly peaks: PMap<{ month: string; kw: number }>;
  /** Trusted SoC readings against metered energy, per session (the latest MAX_SPANS to a quarter more), to learn the
   *  site's efficiency. */
  readonly charged: PMap<{ readonly siteId: string; readonly span: SessionSpan }>;
  /** Indexes: the session on a connector (`${chargePointId}:${connectorId}`), a vehicle's and a charger's sessions. */
  readonly sessionAt: PMap<string>;
  readonly vehicleSessions: PMap<readonly string[]>;
  readonly chargerSessions: PMap<readonly string[]>;
  /** Metered load of a charger's sessions and of a site's chargers, in whole mW: integers add up to the same sum in
   *  any order, so a restore that interleaves chargers differently finds the same load. */
  readonly chargerMw: PMap<number>;
  readonly siteMw: PMap<number>;
  /** Panels by `${siteId}:${panelId}`, limit events by id, external limits by `${chargePointId}:${evseId}:${source}`,
   *  the building's load history by site (building-history.ts). */
  readonly panels: PMap<PanelConfigured>;
  readonly limitEvents: PMap<LimitEventScheduled>;
  readonly externalLimits: PMap<ExternalLimit>;
  readonly building: PMap<BuildingHistory>;
  /** Reservations by `${chargePointId}:${reservationId}` (fleet.config ReservationMade, until cancelled). */
  readonly reservations: PMap<Conf<'ReservationMade'>>;
  /** What each charger reported about itself (charging.events DeviceModelReported), by chargePointId. */
  readonly deviceModel: PMap<ReportedModel>;
  /** Each configured vehicle's comings and goings, for its forecast (forecast-fold.ts), by vehicleId. */
  readonly histories: PMap<VehicleHistory>;
}

export interface ReportedModel {
  readonly protocol: string;
  readonly variables: Readonly<Record<string, { readonly value: string | null }>>;
}

export const initial: FleetState = {
  sites: PMap.empty(),
  tariffs: PMap.empty(),
  chargers: PMap.empty(),
  protocols: PMap.empty(),
  connectedAt: PMap.empty(),
  faulted: new Set(),
  vehicles: PMap.empty(),
  departures: PMap.empty(),
  sessions: PMap.empty(),
  soc: PMap.empty(),
  telematics: PMap.empty(),
  control: PMap.empty(),
  peaks: PMap.empty(),
  charged: PMap.empty(),
  sessionAt: PMap.empty(),
  vehicleSessions: PMap.empty(),
  chargerSessions: PMap.empty(),
  chargerMw: PMap.empty(),
  siteMw: PMap.empty(),
  panels: PMap.empty(),
  limitEvents: PMap.empty(),
  externalLimits: PMap.empty(),
  building: PMap.empty(),
  reservations: PMap.empty(),
  deviceModel: PMap.empty(),
  histories: PMap.empty(),
};

export const controlKey = (chargePointId: string, connectorId: number): string => `${chargePointId}:${connectorId}`;

export const sessionOn = (s: FleetState, chargePointId: string, connectorId: number): Session | undefined => {
  const id = s.sessionAt.get(controlKey(chargePointId, connectorId));
  return id === undefined ? undefined : s.sessions.get(id);
};
export const sessionOf = (s: FleetState, vehicleId: string): Session | undefined => {
  const id = s.vehicleSessions.get(vehicleId)?.[0];
  return id === undefined ? undefined : s.sessions.get(id);
};
/** The sessions on a charger, oldest first. */
export const sessionsOn = (s: FleetState, chargePointId: string): Session[] => (s.chargerSessions.get(chargePointId) ?? []).map((id) => s.sessions.get(id)!);

const without = (ids: readonly string[] | undefined, id: string): readonly string[] => (ids ?? []).filter((x) => x !== id);
const setList = (m: PMap<readonly string[]>, k: string, ids: readonly string[]): PMap<readonly string[]> => (ids.length ? m.set(k, ids) : m.delete(k));

/** The charger's load recomputed from its sessions, and its site's load moved by the difference. */
const reload = (s: FleetState, cp: string): FleetState => {
  const mw = sessionsOn(s, cp).reduce((m, x) => m + Math.round(x.powerKw * 1e6), 0);
  const delta = mw - (s.chargerMw.get(cp) ?? 0);
  if (delta === 0) return s;
  const siteId = s.chargers.get(cp)?.siteId;
  const siteMw = siteId === undefined ? s.siteMw : s.siteMw.set(siteId, (s.siteMw.get(siteId) ?? 0) + delta);
  return { ...s, chargerMw: mw ? s.chargerMw.set(cp, mw) : s.chargerMw.delete(cp), siteMw };
};

/** A new or changed session, with its indexes and its charger's load. */
const withSession = (s: FleetState, x: Session): FleetState => {
  const prev = s.sessions.get(x.sessionId);
  let next: FleetState = { ...s, sessions: s.sessions.set(x.sessionId, x) };
  if (!prev) {
    next = {
      ...next,
      sessionAt: next.sessionAt.set(controlKey(x.chargePointId, x.connectorId), x.sessionId),
      chargerSessions: next.chargerSessions.set(x.chargePointId, [...(next.chargerSessions.get(x.chargePointId) ?? []), x.sessionId]),
    };
  }
  if (prev?.vehicleId !== x.vehicleId) {
    let vehicleSessions = next.vehicleSessions;
    if (prev?.vehicleId) vehicleSessions = setList(vehicleSessions, prev.vehicleId, without(vehicleSessions.get(prev.vehicleId), x.sessionId));
    if (x.vehicleId) vehicleSessions = vehicleSessions.set(x.vehicleId, [...without(vehicleSessions.get(x.vehicleId), x.sessionId), x.sessionId]);
    next = { ...next, vehicleSessions };
  }
  return prev?.powerKw === x.powerKw ? next : reload(next, x.chargePointId);
};

const withoutSession = (s: FleetState, sessionId: string): FleetState => {
  const x = s.sessions.get(sessionId);
  if (!x) return s;
  const at = controlKey(x.chargePointId, x.connectorId);
  const next: FleetState = {
    ...s,
    sessions: s.sessions.delete(sessionId),
    sessionAt: s.sessionAt.get(at) === sessionId ? s.sessionAt.delete(at) : s.sessionAt,
    chargerSessions: setList(s.chargerSessions, x.chargePointId, without(s.chargerSessions.get(x.chargePointId), sessionId)),
    vehicleSessions: x.vehicleId ? setList(s.vehicleSessions, x.vehicleId, without(s.vehicleSessions.get(x.vehicleId), sessionId)) : s.vehicleSessions,
  };
  return reload(next, x.chargePointId);
};

/** A charger (re)configured: its load moves to its new site. */
const withCharger = (s: FleetState, b: Conf<'ChargerConfigured'>): FleetState => {
  const before = s.chargers.get(b.chargePointId)?.siteId;
  const next: FleetState = { ...s, chargers: s.chargers.set(b.chargePointId, b) };
  const mw = s.chargerMw.get(b.chargePointId) ?? 0;
  if (before === b.siteId || mw === 0) return next;
  let siteMw = next.siteMw;
  if (before !== undefined) siteMw = siteMw.set(before, (siteMw.get(before) ?? 0) - mw);
  siteMw = siteMw.set(b.siteId, (siteMw.get(b.siteId) ?? 0) + mw);
  return { ...next, siteMw };
};

const MAX_SPANS = 1000;

/** A measured SoC (telematics, charger) is good to about a percent point; the target is widened by that much, so
 *  model errors (efficiency) found late do not leave a vehicle just short. */
export const MEASURED_SOC_UNCERTAINTY = 1;

/** A trusted SoC of a vehicle that is charging: a sample of its session's efficiency span. */
const withSocSample = (s: FleetState, vehicleId: string, socPct: number): FleetState => {
  const x = sessionOf(s, vehicleId);
  const capacityKwh = s.vehicles.get(vehicleId)?.batteryCapacityKwh;
  const siteId = x ? s.chargers.get(x.chargePointId)?.siteId : undefined;
  if (!x || !capacityKwh || !siteId) return s;
  const span = observeSample(s.charged.get(x.sessionId)?.span, capacityKwh, { socPct, gridKwh: (x.meterWh - x.meterStartWh) / 1000 });
  const charged = s.charged.set(x.sessionId, { siteId, span });
  // Trimmed a quarter at a time: with more sessions than MAX_SPANS, trimming one per sample scanned them all each time.
  return { ...s, charged: charged.size > MAX_SPANS * 1.25 ? charged.keys().slice(0, charged.size - MAX_SPANS).reduce((m, k) => m.delete(k), charged) : charged };
};

/** Samples that mean "power now" in kW, from the sampled values of one MeterSampled. */
export const powerOf = (samples: readonly { measurand: string; phase: string | null; unit: string; value: number }[]): number | null => {
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
  const next = evolveFleet(s, i);
  const histories = withHistory(next.histories, (v) => next.vehicles.has(v), i);
  return histories === next.histories ? next : { ...next, histories };
};

const evolveFleet = (s: FleetState, i: Input): FleetState => {
  switch (i.kind) {
    case 'config': {
      const b = i.event.body;
      switch (b.type) {
        case 'SiteConfigured':
          return { ...s, sites: s.sites.set(b.siteId, b) };
        case 'TariffConfigured':
          return { ...s, tariffs: s.tariffs.set(b.siteId, b) };
        case 'ChargerConfigured':
          return withCharger(s, b);
        case 'VehicleConfigured':
          return { ...s, vehicles: s.vehicles.set(b.vehicleId, b) };
        case 'DepartureScheduled':
          return { ...s, departures: s.departures.set(b.vehicleId, b) };
        case 'PanelConfigured':
          return { ...s, panels: s.panels.set(`${b.siteId}:${b.panelId}`, b) };
        case 'LimitEventScheduled':
          return { ...s, limitEvents: withoutEnded(s.limitEvents, i.event.at).set(b.limitEventId, b) };
        case 'LimitEventCancelled':
          return { ...s, limitEvents: s.limitEvents.delete(b.limitEventId) };
        case 'ReservationMade':
          return { ...s, reservations: s.reservations.set(`${b.chargePointId}:${b.reservationId}`, b) };
        case 'ReservationCancelled':
          return { ...s, reservations: s.reservations.delete(`${b.chargePointId}:${b.reservationId}`) };
      }
      return s;
    }
    case 'meter': {
      const r = i.reading;
      if (r.role !== 'connection' || !s.sites.has(r.siteId)) return s;
      const chargersKw = (s.siteMw.get(r.siteId) ?? 0) / 1e6;
      return { ...s, building: s.building.set(r.siteId, withConnectionReading(s.building.get(r.siteId), r.measuredAt, r.importKw - chargersKw)) };
    }
    case 'reading': {
      const r = i.reading;
      // Only configured vehicles are planned: readings of others are not kept (the topic is the fleet's busiest).
      if (!s.vehicles.has(r.vehicleId)) return s;
      const prev = s.telematics.get(r.vehicleId);
      if (prev && prev.readingAt > r.readingAt) return s;
      let next: FleetState = { ...s, telematics: s.telematics.set(r.vehicleId, r) };
      const soc = s.soc.get(r.vehicleId);
      if (r.socPct !== null && (!soc || soc.at <= r.readingAt)) next = { ...next, soc: next.soc.set(r.vehicleId, { socPct: r.socPct, source: 'telematics', uncertaintyPct: MEASURED_SOC_UNCERTAINTY, at: r.readingAt }) };
      return r.socPct !== null ? withSocSample(next, r.vehicleId, r.socPct) : next;
    }
    case 'commanded': {
      const k = controlKey(i.chargePointId, i.connectorId);
      const c = s.control.get(k);
      // A command folded again (sent, then read back from ocpp.commands after a checkpoint), or one older than the last
      // folded, changes nothing.
      if (c && (c.commandIds.includes(i.commandId) || i.at < c.commandedAt)) return s;
      const control: Control = {
        limitKw: i.limitKw,
        since: c?.limitKw === i.limitKw ? c.since : i.at,
        commandedAt: Math.max(c?.commandedAt ?? i.at, i.at),
        commandIds: [...(c?.commandIds ?? []).slice(-7), i.commandId],
        strikes: c?.strikes ?? 0,
        rejections: c?.rejections ?? 0,
        uncontrollable: c?.uncontrollable ?? false,
      };
      return { ...s, control: s.control.set(k, control) };
    }
    case 'composite': {
      const k = controlKey(i.chargePointId, i.connectorId);
      const c = s.control.get(k);
      if (!c || c.limitKw === null) return s;
      // The charger's composite schedule is above what we commanded: the profile did not take.
      const off = i.limitKw === null || ignoring(i.limitKw, c.limitKw);
      const strikes = off ? c.strikes + 1 : 0;
      return { ...s, control: s.control.set(k, { ...c, strikes, uncontrollable: c.uncontrollable || strikes >= STRIKES }) };
    }
    case 'event':
      return evolveEvent(s, i.event);
  }
};

const evolveEvent = (s: FleetState, e: ChargingEvent): FleetState => {
  const b = e.body;
  const cp = e.chargePointId;
  switch (b.type) {
    case 'DeviceModelReported': {
      const prev = s.deviceModel.get(cp);
      const variables = { ...(prev?.protocol === b.protocol ? prev.variables : {}), ...Object.fromEntries(b.entries.map((x) => [variableKey(x), { value: x.value }])) };
      return { ...s, deviceModel: s.deviceModel.set(cp, { protocol: b.protocol, variables }) };
    }
    case 'ChargerConnected':
    case 'ChargerBooted': {
      const connectedAt = Math.max(s.connectedAt.get(cp) ?? 0, e.occurredAt);
      const next = connectedAt === s.connectedAt.get(cp) ? s : { ...s, connectedAt: s.connectedAt.set(cp, connectedAt) };
      return b.protocol === 'ocpp1.6' || b.protocol === 'ocpp2.0.1' ? { ...next, protocols: next.protocols.set(cp, b.protocol) } : next;
    }
    case 'ConnectorStatusChanged': {
      const key = controlKey(cp, b.connectorId);
      const faulted = new Set(s.faulted);
      if (b.status === 'Faulted') faulted.add(key);
      else faulted.delete(key);
      return { ...s, faulted };
    }
    case 'SessionStarted': {
      // A new transaction on the connector ends whatever we thought was there, and resets the control record unless it
      // was commanded after the start (a restore folds ocpp.commands beside charging.events, in no order between them).
      const k = controlKey(cp, b.connectorId);
      const old = s.sessionAt.get(k);
      const cleared = old === undefined ? s : withoutSession(s, old);
      const c = s.control.get(k);
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
      const next = withSession(cleared, session);
      return c && c.commandedAt < e.occurredAt ? { ...next, control: next.control.delete(k) } : next;
    }
    case 'SessionEnded':
      return withoutSession(s, b.sessionId);
    case 'VehicleMatched': {
      const x = s.sessions.get(b.sessionId);
      return x ? withSession(s, { ...x, vehicleId: b.vehicleId }) : s;
    }
    case 'MeterSampled': {
      const x = (b.sessionId ? s.sessions.get(b.sessionId) : undefined) ?? sessionOn(s, cp, b.connectorId);
      if (!x) return s;
      const power = powerOf(b.samples);
      const energy = energyOf(b.samples);
      const soc = b.samples.find((m) => m.measurand === 'SoC')?.value ?? null;
      const session: Session = { ...x, lastSeenAt: Math.max(x.lastSeenAt, e.occurredAt), powerKw: power ?? x.powerKw, meterWh: energy ?? x.meterWh, reportedSocPct: soc ?? x.reportedSocPct };
      let next = withSession(s, session);
      const k = controlKey(cp, b.connectorId);
      const c = s.control.get(k);
      if (c && c.limitKw !== null && power !== null && e.occurredAt - c.since > GRACE_MS) {
        const strikes = ignoring(power, c.limitKw) ? c.strikes + 1 : 0;
        next = { ...next, control: next.control.set(k, { ...c, strikes, uncontrollable: c.uncontrollable || strikes >= STRIKES }) };
      }
      const siteId = s.chargers.get(cp)?.siteId;
      if (siteId && power !== null) next = withPeak(next, siteId, e.occurredAt);
      return next;
    }
    case 'ChargerReportedSoc': {
      const x = (b.sessionId ? s.sessions.get(b.sessionId) : undefined) ?? sessionOn(s, cp, b.connectorId);
      if (!x) return s;
      let next = withSession(s, { ...x, reportedSocPct: b.socPct });
      if (x.vehicleId) next = withSocSample({ ...next, soc: next.soc.set(x.vehicleId, { socPct: b.socPct, source: 'charger', uncertaintyPct: MEASURED_SOC_UNCERTAINTY, at: e.occurredAt }) }, x.vehicleId, b.socPct);
      return next;
    }
    case 'EvChargingNeedsReported': {
      const x = sessionOn(s, cp, b.connectorId);
      if (!x) return s;
      return withSession(s, { ...x, needs: { energyWh: b.energyAmountWh, departAt: b.departureTime, maxPowerW: b.evMaxPowerW } });
    }
    case 'ExternalLimitReported': {
      // Our own limits (CSO) are what we command; the others' are kept per EVSE and source, the latest replacing.
      if (b.source === 'CSO') return s;
      const phases = s.chargers.get(cp)?.phases ?? 3;
      const limits = b.schedules.flatMap((x) => {
        const start = x.startAt ?? e.occurredAt;
        const end = x.durationS !== null ? start + x.durationS * 1000 : null;
        return x.periods.map((q, k) => {
          const next = x.periods[k + 1];
          const to = next ? start + next.startS * 1000 : end;
          return { from: start + q.startS * 1000, to: end !== null && to !== null ? Math.min(to, end) : to, limitKw: x.unit === 'W' ? q.limit / 1000 : ampsToKw(q.limit, q.numberPhases ?? phases) };
        });
      });
      const k = `${cp}:${b.evseId}:${b.source}`;
      return { ...s, externalLimits: limits.length ? s.externalLimits.set(k, { chargePointId: cp, evseId: b.evseId, source: b.source, limits }) : s.externalLimits.delete(k) };
    }
    case 'ExternalLimitCleared': {
      const k = `${cp}:${b.evseId}:${b.source}`;
      return s.externalLimits.has(k) ? { ...s, externalLimits: s.externalLimits.delete(k) } : s;
    }
    case 'SocEstimated': {
      const prev = s.soc.get(b.vehicleId);
      if (prev && prev.at > e.occurredAt) return s;
      return { ...s, soc: s.soc.set(b.vehicleId, { socPct: b.socPct, source: 'estimated', uncertaintyPct: b.uncertaintyPct, at: e.occurredAt }) };
    }
    case 'CommandCompleted': {
      if (b.action !== 'SetChargingProfile' || b.outcome === 'ACCEPTED') return s;
      for (const [k, c] of s.control) {
        if (!c.commandIds.includes(b.commandId)) continue;
        const rejections = c.rejections + 1;
        return { ...s, control: s.control.set(k, { ...c, rejections, uncontrollable: c.uncontrollable || (b.outcome === 'REJECTED' && rejections >= MAX_REJECTIONS) }) };
      }
      return s;
    }
    default:
      return s;
  }
};

const monthOf = (at: number) => new Date(at).toISOString().slice(0, 7);

const DAY_MS = 24 * 3600000;
/** Limit events that ended more than a day before `at` are dropped when another one comes. */
const withoutEnded = (m: PMap<LimitEventScheduled>, at: number): PMap<LimitEventScheduled> =>
  m.entries().reduce((acc, [k, e]) => (e.endAt < at - DAY_MS ? acc.delete(k) : acc), m);

const withPeak = (s: FleetState, siteId: string, at: number): FleetState => {
  const kw = (s.siteMw.get(siteId) ?? 0) / 1e6;
  const month = monthOf(at);
  const prev = s.peaks.get(siteId);
  const peak = prev && prev.month === month ? Math.max(prev.kw, kw) : kw;
  return prev && prev.month === month && prev.kw === peak ? s : { ...s, peaks: s.peaks.set(siteId, { month, kw: peak }) };
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
      if (b.type === 'PanelConfigured' || b.type === 'LimitEventScheduled' || b.type === 'LimitEventCancelled') return b.siteId;
      if (b.type === 'SiteConfigured' || b.type === 'TariffConfigured' || b.type === 'ChargerConfigured') return b.siteId;
      if (b.type === 'ReservationMade' || b.type === 'ReservationCancelled') return ofCharger(b.chargePointId);
      if (b.type === 'IdTokenConfigured') return null;
      return ofVehicle(b.vehicleId);
    }
    case 'reading':
      return ofVehicle(i.reading.vehicleId);
    case 'meter':
      return s.sites.has(i.reading.siteId) ? i.reading.siteId : null;
    case 'event': {
      const b = i.event.body;
      if (b.type === 'SocEstimated') return ofVehicle(b.vehicleId);
      return ofCharger(i.event.chargePointId);
    }
    default:
      return ofCharger(i.chargePointId);
  }
};

