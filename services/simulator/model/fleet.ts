import { BatterySpec, defaultBattery, drive } from './battery';
import { ChargerSpec, Protocol } from './charger';
import { Tariff, depotTariff } from './tariff';
import { derive } from './rng';

/** The simulated depot: chargers, vehicles and their schedule (arrivals, departures, routes), all drawn from a seed.
 *  A "day" may be compressed (dayMs < 24 h): the schedule keeps its shape and batteries shrink by the same factor,
 *  so the physics (power, taper, the 6 A rule) stay real while a depot day passes in minutes. */
export const DAY_MS = 86400000;

export interface VehicleSpec {
  readonly id: string;
  readonly index: number;
  readonly model: string;
  readonly battery: BatterySpec;
  readonly idTag: string;
  readonly telematicsId: string;
  readonly initialSocPct: number;
  readonly initialOdometerKm: number;
}

export interface Visit {
  readonly index: number;
  readonly arriveAt: number;
  /** Planned departure, as the fleet manager tells the system. */
  readonly plannedDepartAt: number;
  /** When the vehicle really leaves (early departures happen). */
  readonly departAt: number;
  readonly lateReturn: boolean;
  readonly earlyDeparture: boolean;
  readonly routeKm: number;
  readonly requiredSocPct: number;
}

export interface ScenarioOptions {
  readonly seed: number;
  readonly chargers: number;
  readonly vehicles: number;
  /** Simulated instant the run starts at. */
  readonly startMs: number;
  readonly dayMs?: number;
  /** Midnight of the first simulated day; defaults to the UTC midnight before startMs (real days) or startMs. */
  readonly dayStartMs?: number;
  /** First arrivals spread over this long after the start instead of following the evening schedule. */
  readonly initialArrivalsWithinMs?: number;
  readonly siteId?: string;
  /** Prefix of every charger, vehicle and id tag: unique per test run. */
  readonly idPrefix?: string;
  readonly gridLimitKw?: number;
  readonly lateReturnProbability?: number;
  readonly earlyDepartureProbability?: number;
  /** Share of chargers speaking OCPP 2.0.1 (the rest 1.6J). */
  readonly share201?: number;
  readonly dcChargers?: number;
  /** Panels (feeders) under the connection, each carrying the next `chargers` chargers in order; the rest hang on
   *  the connection directly. */
  readonly panels?: readonly { readonly panelId: string; readonly limitKw: number; readonly maxCurrentA?: number; readonly chargers: number }[];
}

export interface PanelSpec {
  readonly panelId: string;
  readonly limitKw: number;
  /** Per-phase current limit (A), where given. */
  readonly maxCurrentA?: number;
}

export interface Scenario {
  readonly seed: number;
  readonly siteId: string;
  readonly startMs: number;
  readonly dayMs: number;
  readonly dayStartMs: number;
  /** dayMs / 24 h: how much smaller batteries and route energies are. */
  readonly energyScale: number;
  readonly gridLimitKw: number;
  readonly tariff: Tariff;
  readonly chargers: readonly ChargerSpec[];
  readonly vehicles: readonly VehicleSpec[];
  readonly panels: readonly PanelSpec[];
  readonly initialArrivalsWithinMs: number | undefined;
  readonly lateReturnProbability: number;
  readonly earlyDepartureProbability: number;
}

const models = [
  { model: 'e-van L', capacityKwh: 75, maxAcKw: 11, maxDcKw: 100, consumption: 0.26 },
  { model: 'e-van M', capacityKwh: 55, maxAcKw: 11, maxDcKw: 80, consumption: 0.22 },
  { model: 'e-car', capacityKwh: 64, maxAcKw: 11, maxDcKw: 120, consumption: 0.17 },
  { model: 'e-van XL', capacityKwh: 110, maxAcKw: 22, maxDcKw: 150, consumption: 0.32 },
] as const;

export const createScenario = (o: ScenarioOptions): Scenario => {
  const dayMs = o.dayMs ?? DAY_MS;
  const energyScale = dayMs / DAY_MS;
  const prefix = o.idPrefix ?? 'SIM';
  const dayStartMs = o.dayStartMs ?? (dayMs === DAY_MS ? Math.floor(o.startMs / DAY_MS) * DAY_MS : o.startMs);
  const dcCount = o.dcChargers ?? Math.floor(o.chargers / 10);
  const share201 = o.share201 ?? 0.4;
  const panelOf = (o.panels ?? []).flatMap((p) => Array.from({ length: p.chargers }, () => p.panelId));
  const chargers: ChargerSpec[] = Array.from({ length: o.chargers }, (_, i) => {
    const r = derive(o.seed, 'charger', i);
    const panelId = panelOf[i];
    const dc = i >= o.chargers - dcCount;
    const protocol: Protocol = Math.floor((i + 1) * share201) > Math.floor(i * share201) ? 'ocpp2.0.1' : 'ocpp1.6';
    return {
      id: `${prefix}-CP${String(i + 1).padStart(3, '0')}`,
      protocol,
      maxPowerKw: dc ? 50 : 11,
      phases: 3,
      currentType: dc ? 'DC' : 'AC',
      iso15118: dc || r.chance(0.1),
      password: `pw-${Math.floor(r.next() * 1e12).toString(36)}-${i}`,
      maxSchedulePeriods: 24,
      rateUnit: dc ? 'W' : 'A',
      ...(panelId !== undefined ? { panelId } : {}),
    };
  });
  const vehicles: VehicleSpec[] = Array.from({ length: o.vehicles }, (_, i) => {
    const r = derive(o.seed, 'vehicle', i);
    const m = r.pick(models);
    return {
      id: `${prefix}-EV${String(i + 1).padStart(3, '0')}`,
      index: i,
      model: m.model,
      battery: defaultBattery(m.capacityKwh * energyScale, m.maxAcKw, m.maxDcKw, m.consumption * energyScale),
      idTag: `${prefix}-TAG${String(i + 1).padStart(3, '0')}`.slice(0, 20),
      telematicsId: `tm-${prefix}-${i + 1}`,
      initialSocPct: Math.round(r.range(18, 45)),
      initialOdometerKm: Math.round(r.range(5000, 90000)),
    };
  });
  const totalKw = chargers.reduce((s, c) => s + c.maxPowerKw, 0);
  return {
    seed: o.seed,
    siteId: o.siteId ?? `${prefix}-depot`,
    startMs: o.startMs,
    dayMs,
    dayStartMs,
    energyScale,
    gridLimitKw: o.gridLimitKw ?? Math.round(totalKw * 0.45),
    tariff: depotTariff({ dayMs, dayStartMs, days: 30 }),
    chargers,
    vehicles,
    panels: (o.panels ?? []).map((p) => ({ panelId: p.panelId, limitKw: p.limitKw, ...(p.maxCurrentA !== undefined ? { maxCurrentA: p.maxCurrentA } : {}) })),
    initialArrivalsWithinMs: o.initialArrivalsWithinMs,
    lateReturnProbability: o.lateReturnProbability ?? 0.15,
    earlyDepartureProbability: o.earlyDepartureProbability ?? 0.1,
  };
};

/** Fractions of a day from midnight. */
const ARRIVE = [16 / 24, 19 / 24] as const;
const DEPART = [5.5 / 24, 8 / 24] as const;
const MIN_DWELL = 6 / 24;
const MIN_TRIP = 5 / 24;

/** The first instant at time-of-day `frac` that is not before `notBefore`. */
const nextAt = (s: Scenario, frac: number, notBefore: number): number => {
  const n = Math.ceil((notBefore - s.dayStartMs) / s.dayMs - frac);
  return s.dayStartMs + (n + frac) * s.dayMs;
};

/** Visit `k` of a vehicle (k = 0 is its first arrival of the run). `prevDepartAt` is the actual departure of visit k-1. */
export const planVisit = (s: Scenario, v: VehicleSpec, k: number, prevDepartAt: number | undefined): Visit => {
  const r = derive(s.seed, 'vehicle', v.index, 'visit', k);
  const late = r.chance(s.lateReturnProbability);
  const early = r.chance(s.earlyDepartureProbability);
  const arrFrac = r.range(ARRIVE[0], ARRIVE[1]) + (late ? r.range(0.5, 2) / 24 : 0);
  const depFrac = r.range(DEPART[0], DEPART[1]);
  const routeKm = Math.round(r.range(60, 210));
  const initial = k === 0 && s.initialArrivalsWithinMs !== undefined;
  const arriveAt = initial
    ? s.startMs + r.next() * s.initialArrivalsWithinMs!
    : nextAt(s, arrFrac, k === 0 ? s.startMs : prevDepartAt! + MIN_TRIP * s.dayMs);
  // A run that starts with vehicles arriving finds a depot mid-day: about a third of them are between two shifts and
  // leave again 2-4 hours later, so some charging cannot wait for the cheap night.
  const shortTurn = initial && r.chance(0.35);
  const turnHours = r.range(2, 4);
  const plannedDepartAt = shortTurn ? arriveAt + (turnHours / 24) * s.dayMs : nextAt(s, depFrac, arriveAt + MIN_DWELL * s.dayMs);
  const departAt = early ? plannedDepartAt - r.range(20, 60) * 60000 * (s.dayMs / DAY_MS) : plannedDepartAt;
  const needPct = ((routeKm * v.battery.consumptionKwhPerKm) / v.battery.capacityKwh) * 100;
  const requiredSocPct = Math.min(90, Math.max(30, Math.ceil((needPct + 15) / 5) * 5));
  return { index: k, arriveAt, plannedDepartAt, departAt, lateReturn: late, earlyDeparture: early, routeKm, requiredSocPct };
};

/** SoC on arrival from a trip of `routeKm` that started at `departSocPct`. */
export const socAfterTrip = (v: VehicleSpec, departSocPct: number, routeKm: number): number => drive(v.battery, departSocPct, routeKm);
