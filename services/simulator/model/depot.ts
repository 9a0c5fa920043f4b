import { charge } from './battery';
import { ChargerSpec, chargerPower, electrical } from './charger';
import { ClearCriteria, Profile, TxContext, clearProfiles, compositeSchedule, installProfile, RateUnit, SchedulePeriod, toAmps } from './profile';
import { Scenario, VehicleSpec, Visit, planVisit, socAfterTrip } from './fleet';

/** The whole depot as one value, and `step(state, dt)` → new state + what the chargers and vehicles would tell the
 *  world. No I/O: the OCPP and telematics edges (../ocpp-charger.ts, ../telematics.ts) turn effects into messages. */
export type ChargerStatus = 'Available' | 'Preparing' | 'Charging' | 'SuspendedEV' | 'SuspendedEVSE' | 'Finishing';

export interface Transaction {
  /** The charger's own id (2.0.1 transactionId; for 1.6 a local reference). */
  readonly localId: string;
  /** What the CSMS calls it: 1.6 transactionId from StartTransaction.conf; for 2.0.1 the same as localId. */
  readonly transactionId: string | undefined;
  readonly startedAt: number;
  readonly meterStartWh: number;
  readonly idTag: string;
  readonly seqNo: number;
}

export interface ChargerState {
  readonly spec: ChargerSpec;
  readonly vehicleId: string | undefined;
  readonly status: ChargerStatus;
  readonly energyWh: number;
  readonly powerKw: number;
  readonly limitW: number | undefined;
  readonly profiles: readonly Profile[];
  readonly tx: Transaction | undefined;
  readonly txCount: number;
}

export type Whereabouts = 'away' | 'queued' | 'plugged' | 'parked';

export interface VehicleState {
  readonly spec: VehicleSpec;
  readonly socPct: number;
  readonly odometerKm: number;
  readonly where: Whereabouts;
  readonly chargerId: string | undefined;
  readonly visit: Visit;
  /** SoC the vehicle left with on its previous trip (for the arrival SoC). */
  readonly departedSocPct: number | undefined;
}

export interface DepartureRecord {
  readonly vehicleId: string;
  readonly visit: Visit;
  readonly arrivedSocPct: number;
  readonly socPct: number;
}

export interface DepotState {
  readonly scenario: Scenario;
  readonly t: number;
  readonly meterIntervalMs: number;
  readonly chargers: Readonly<Record<string, ChargerState>>;
  readonly vehicles: Readonly<Record<string, VehicleState>>;
  readonly queue: readonly string[];
  readonly departures: readonly DepartureRecord[];
  /** Per vehicle: SoC and energy at arrival of the current visit. */
  readonly arrivals: Readonly<Record<string, { socPct: number; at: number }>>;
}

export type Effect =
  | { kind: 'visitPlanned'; at: number; vehicleId: string; visit: Visit }
  | { kind: 'arrived'; at: number; vehicleId: string; socPct: number }
  | { kind: 'plugIn'; at: number; chargerId: string; vehicleId: string; idTag: string; meterStartWh: number; tx: Transaction }
  | { kind: 'status'; at: number; chargerId: string; status: ChargerStatus }
  | { kind: 'meter'; at: number; chargerId: string; tx: Transaction | undefined; energyWh: number; powerW: number; currentA: number; socPct: number | undefined }
  | { kind: 'unplug'; at: number; chargerId: string; vehicleId: string; tx: Transaction; meterStopWh: number; reason: 'EVDisconnected' | 'Local' }
  | { kind: 'departed'; at: number; vehicleId: string; record: DepartureRecord };

export const initialState = (scenario: Scenario, meterIntervalMs: number): { state: DepotState; effects: Effect[] } => {
  const effects: Effect[] = [];
  const vehicles: Record<string, VehicleState> = {};
  for (const v of scenario.vehicles) {
    const visit = planVisit(scenario, v, 0, undefined);
    vehicles[v.id] = { spec: v, socPct: v.initialSocPct, odometerKm: v.initialOdometerKm, where: 'away', chargerId: undefined, visit, departedSocPct: undefined };
    effects.push({ kind: 'visitPlanned', at: scenario.startMs, vehicleId: v.id, visit });
  }
  const chargers: Record<string, ChargerState> = {};
  for (const c of scenario.chargers) {
    chargers[c.id] = { spec: c, vehicleId: undefined, status: 'Available', energyWh: 0, powerKw: 0, limitW: undefined, profiles: [], tx: undefined, txCount: 0 };
  }
  return { state: { scenario, t: scenario.startMs, meterIntervalMs, chargers, vehicles, queue: [], departures: [], arrivals: {} }, effects };
};

const txContext = (c: ChargerState): TxContext => ({ connectorId: 1, transactionId: c.tx?.transactionId, startedAt: c.tx?.startedAt });

const statusFor = (c: ChargerState, powerKw: number, paused: boolean, socPct: number): ChargerStatus => {
  if (!c.vehicleId) return 'Available';
  if (!c.tx) return 'Preparing';
  if (paused) return 'SuspendedEVSE';
  if (powerKw <= 0) return socPct >= 99.9 ? 'SuspendedEV' : 'SuspendedEVSE';
  return 'Charging';
};

/** Re-evaluates the power every plugged charger delivers from `t` on (after a profile change or a step). */
const settle = (s: DepotState, effects: Effect[]): DepotState => {
  const chargers: Record<string, ChargerState> = { ...s.chargers };
  for (const c of Object.values(s.chargers)) {
    const v = c.vehicleId ? s.vehicles[c.vehicleId] : undefined;
    if (!v || !c.tx) {
      const limitW = undefined;
      if (c.powerKw !== 0 || c.limitW !== limitW) chargers[c.spec.id] = { ...c, powerKw: 0, limitW };
      continue;
    }
    const d = chargerPower(c.spec, c.profiles, txContext(c), s.t, v.spec.battery, v.socPct);
    const status = statusFor(c, d.powerKw, d.paused, v.socPct);
    if (status !== c.status) effects.push({ kind: 'status', at: s.t, chargerId: c.spec.id, status });
    chargers[c.spec.id] = { ...c, powerKw: d.powerKw, limitW: d.limitW, status };
  }
  return { ...s, chargers };
};

const meterEffects = (s: DepotState): Effect[] =>
  Object.values(s.chargers)
    .filter((c) => c.tx)
    .map((c) => {
      const v = c.vehicleId ? s.vehicles[c.vehicleId] : undefined;
      return {
        kind: 'meter' as const,
        at: s.t,
        chargerId: c.spec.id,
        tx: c.tx,
        energyWh: Math.round(c.energyWh),
        powerW: Math.round(c.powerKw * 1000),
        currentA: Math.round(toAmps(c.powerKw * 1000, electrical(c.spec)) * 10) / 10,
        socPct: c.spec.iso15118 && v ? Math.round(v.socPct * 10) / 10 : undefined,
      };
    });

const unplug = (s: DepotState, chargerId: string, reason: 'EVDisconnected' | 'Local', effects: Effect[]): DepotState => {
  const c = s.chargers[chargerId]!;
  const vehicleId = c.vehicleId!;
  const v = s.vehicles[vehicleId]!;
  if (c.tx) effects.push({ kind: 'unplug', at: s.t, chargerId, vehicleId, tx: c.tx, meterStopWh: Math.round(c.energyWh), reason });
  effects.push({ kind: 'status', at: s.t, chargerId, status: 'Available' });
  const profiles = c.profiles.filter((p) => p.purpose !== 'TxProfile');
  return {
    ...s,
    chargers: { ...s.chargers, [chargerId]: { ...c, vehicleId: undefined, tx: undefined, status: 'Available', powerKw: 0, limitW: undefined, profiles } },
    vehicles: { ...s.vehicles, [vehicleId]: { ...v, where: 'parked', chargerId: undefined } },
  };
};

const plugIn = (s: DepotState, chargerId: string, vehicleId: string, effects: Effect[]): DepotState => {
  const c = s.chargers[chargerId]!;
  const v = s.vehicles[vehicleId]!;
  const seq = c.txCount + 1;
  const localId = `${chargerId}-${s.t.toString(36)}-${seq}`;
  const tx: Transaction = {
    localId,
    transactionId: c.spec.protocol === 'ocpp2.0.1' ? localId : undefined,
    startedAt: s.t,
    meterStartWh: Math.round(c.energyWh),
    idTag: v.spec.idTag,
    seqNo: 0,
  };
  effects.push({ kind: 'status', at: s.t, chargerId, status: 'Preparing' });
  effects.push({ kind: 'plugIn', at: s.t, chargerId, vehicleId, idTag: v.spec.idTag, meterStartWh: tx.meterStartWh, tx });
  return {
    ...s,
    chargers: { ...s.chargers, [chargerId]: { ...c, vehicleId, tx, status: 'Preparing', txCount: seq } },
    vehicles: { ...s.vehicles, [vehicleId]: { ...v, where: 'plugged', chargerId } },
    queue: s.queue.filter((id) => id !== vehicleId),
  };
};

/** Integrates charging over [t, t + dtMs] (power constant over the interval), then handles departures, arrivals,
 *  swaps (a full vehicle is unplugged by staff when others wait) and plug-ins at t + dtMs, then meter effects when a
 *  meter instant (a multiple of meterIntervalMs) is reached. */
export const step = (s0: DepotState, dtMs: number): { state: DepotState; effects: Effect[] } => {
  const effects: Effect[] = [];
  let s = settle(s0, effects);
  const t1 = s.t + dtMs;
  const chargers: Record<string, ChargerState> = { ...s.chargers };
  const vehicles: Record<string, VehicleState> = { ...s.vehicles };
  for (const c of Object.values(s.chargers)) {
    if (!c.vehicleId || c.powerKw <= 0) continue;
    const v = vehicles[c.vehicleId]!;
    chargers[c.spec.id] = { ...c, energyWh: c.energyWh + c.powerKw * 1000 * (dtMs / 3600000) };
    vehicles[v.spec.id] = { ...v, socPct: charge(v.spec.battery, v.socPct, c.powerKw, dtMs) };
  }
  s = { ...s, t: t1, chargers, vehicles };

  for (const v of Object.values(s.vehicles)) {
    if (v.where === 'away' || v.visit.departAt > t1) continue;
    if (v.where === 'plugged') s = unplug(s, v.chargerId!, 'EVDisconnected', effects);
    const left = s.vehicles[v.spec.id]!;
    const arrival = s.arrivals[v.spec.id];
    const record: DepartureRecord = {
      vehicleId: v.spec.id,
      visit: v.visit,
      arrivedSocPct: arrival?.socPct ?? v.socPct,
      socPct: left.socPct,
    };
    effects.push({ kind: 'departed', at: t1, vehicleId: v.spec.id, record });
    const next = planVisit(s.scenario, v.spec, v.visit.index + 1, v.visit.departAt);
    effects.push({ kind: 'visitPlanned', at: t1, vehicleId: v.spec.id, visit: next });
    s = {
      ...s,
      queue: s.queue.filter((id) => id !== v.spec.id),
      departures: [...s.departures, record],
      vehicles: { ...s.vehicles, [v.spec.id]: { ...left, where: 'away', chargerId: undefined, visit: next, departedSocPct: left.socPct } },
    };
  }

  for (const v of Object.values(s.vehicles)) {
    if (v.where !== 'away' || v.visit.arriveAt > t1) continue;
    const prevRoute = v.departedSocPct === undefined ? undefined : v.visit;
    const socPct = prevRoute ? socAfterTrip(v.spec, v.departedSocPct!, v.visit.routeKm) : v.socPct;
    const odometerKm = prevRoute ? v.odometerKm + v.visit.routeKm : v.odometerKm;
    effects.push({ kind: 'arrived', at: t1, vehicleId: v.spec.id, socPct });
    s = {
      ...s,
      queue: [...s.queue, v.spec.id],
      vehicles: { ...s.vehicles, [v.spec.id]: { ...v, socPct, odometerKm, where: 'queued' } },
      arrivals: { ...s.arrivals, [v.spec.id]: { socPct, at: t1 } },
    };
  }

  const free = () => Object.values(s.chargers).filter((c) => !c.vehicleId);
  if (s.queue.length > free().length) {
    const done = Object.values(s.vehicles).filter((v) => v.where === 'plugged' && v.socPct >= v.visit.requiredSocPct);
    for (const v of done.slice(0, s.queue.length - free().length)) s = unplug(s, v.chargerId!, 'Local', effects);
  }
  for (const vehicleId of [...s.queue]) {
    const c = free()[0];
    if (!c) break;
    s = plugIn(s, c.spec.id, vehicleId, effects);
  }

  s = settle(s, effects);
  if (Math.floor(t1 / s.meterIntervalMs) > Math.floor(s0.t / s.meterIntervalMs)) effects.push(...meterEffects(s));
  return { state: s, effects };
};

/** Advances to `toMs` in sub-steps no longer than `maxStepMs`, aligned so no meter instant is skipped. */
export const advance = (s0: DepotState, toMs: number, maxStepMs = 1000): { state: DepotState; effects: Effect[] } => {
  let s = s0;
  const effects: Effect[] = [];
  while (s.t < toMs) {
    const nextMeter = (Math.floor(s.t / s.meterIntervalMs) + 1) * s.meterIntervalMs;
    const dt = Math.min(maxStepMs, toMs - s.t, nextMeter - s.t);
    const r = step(s, dt);
    s = r.state;
    effects.push(...r.effects);
  }
  return { state: s, effects };
};

// ---- what the CSMS tells a charger -------------------------------------------------------------------------------

export const transactionAccepted = (s: DepotState, chargerId: string, localId: string, transactionId: string): DepotState => {
  const c = s.chargers[chargerId];
  if (!c?.tx || c.tx.localId !== localId) return s;
  return { ...s, chargers: { ...s.chargers, [chargerId]: { ...c, tx: { ...c.tx, transactionId } } } };
};

export const nextSeqNo = (s: DepotState, chargerId: string): { state: DepotState; seqNo: number } => {
  const c = s.chargers[chargerId];
  if (!c?.tx) return { state: s, seqNo: 0 };
  const seqNo = c.tx.seqNo + 1;
  return { state: { ...s, chargers: { ...s.chargers, [chargerId]: { ...c, tx: { ...c.tx, seqNo } } } }, seqNo };
};

export type ProfileAnswer = 'Accepted' | 'Rejected';

/** SetChargingProfile: a TxProfile needs a transaction on that connector (OCPP 1.6 §5.16.3, 2.0.1 K01.FR.09);
 *  too many periods are refused. The power follows at once. */
export const setProfile = (s: DepotState, chargerId: string, p: Profile): { state: DepotState; status: ProfileAnswer; effects: Effect[] } => {
  const c = s.chargers[chargerId];
  if (!c) return { state: s, status: 'Rejected', effects: [] };
  if (p.periods.length === 0 || p.periods.length > c.spec.maxSchedulePeriods) return { state: s, status: 'Rejected', effects: [] };
  if (p.purpose === 'TxProfile') {
    if (!c.tx || p.connectorId !== 1) return { state: s, status: 'Rejected', effects: [] };
    if (p.transactionId !== undefined && c.tx.transactionId !== undefined && p.transactionId !== c.tx.transactionId) return { state: s, status: 'Rejected', effects: [] };
  }
  const effects: Effect[] = [];
  const next = settle({ ...s, chargers: { ...s.chargers, [chargerId]: { ...c, profiles: installProfile(c.profiles, p) } } }, effects);
  return { state: next, status: 'Accepted', effects };
};

export const clearProfile = (s: DepotState, chargerId: string, criteria: ClearCriteria): { state: DepotState; cleared: number; effects: Effect[] } => {
  const c = s.chargers[chargerId];
  if (!c) return { state: s, cleared: 0, effects: [] };
  const r = clearProfiles(c.profiles, criteria);
  const effects: Effect[] = [];
  const next = settle({ ...s, chargers: { ...s.chargers, [chargerId]: { ...c, profiles: r.profiles } } }, effects);
  return { state: next, cleared: r.cleared, effects };
};

export const composite = (s: DepotState, chargerId: string, durationS: number, unit: RateUnit | undefined): { unit: RateUnit; periods: SchedulePeriod[] } | undefined => {
  const c = s.chargers[chargerId];
  if (!c) return undefined;
  const u = unit ?? c.spec.rateUnit;
  return { unit: u, periods: compositeSchedule(c.profiles, s.t, durationS, electrical(c.spec), txContext(c), u, c.spec.maxPowerKw * 1000) };
};

/** Site load now (kW): the sum of what every charger delivers. */
export const siteLoadKw = (s: DepotState): number => Object.values(s.chargers).reduce((a, c) => a + c.powerKw, 0);
