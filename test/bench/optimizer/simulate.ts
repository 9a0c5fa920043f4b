import { buildModel, Plan, planFromPowers } from '../../../services/optimizer/formulation';
import { heuristicPowers, Heuristic } from '../../../services/optimizer/baselines';
import { planSite } from '../../../services/optimizer/planner';
import { applyMinCurrentAndHysteresis, defaultProfileOptions, fromLimit, toLimit, txProfileCommands } from '../../../services/optimizer/profiles';
import { SiteSnapshot } from '../../../services/optimizer/snapshot';
import { learnedEfficiency, observeSample, SessionSpan } from '../../../services/optimizer/efficiency';
import { Solver } from '../../../services/optimizer/solver';
import { controlKey } from '../../../services/optimizer/state';
import { estimateUncertaintyPct } from '../../../streams/vehicle-tracker/decide';
import { phasesOn } from '../../../services/optimizer/phases';
import { DAY_SLOTS, DAY_START, DepotDay, SLOT_MS, Belief, siteSnapshot, vehicleSnapshot } from './depot';
import { limitsExceeded } from './over-limit';

/** Receding-horizon simulation of one depot day, slot by slot. The controller sees what the service would see
 *  (connected vehicles, telematics SoC or, during an outage, an estimate from the meter with growing uncertainty,
 *  ETAs once telematics reports them, the peak reached so far, the charging efficiency learned from metered energy and
 *  SoC readings once there is enough, the configured 0.92 until then); the world applies the commanded power through the
 *  vehicle's true taper and efficiency (0.90 where the controller assumes 0.92). The offline optimum is the same LP
 *  with perfect foresight (every arrival, SoC and the true efficiency known at the start), executed in the same world. */
export const TRUE_EFFICIENCY = 0.9;
export const ASSUMED_EFFICIENCY = 0.92;
/** The depot's typical overnight dwell, as its operator configures it (OPTIMIZER_FORECAST_DWELL_HOURS; the service's
 *  default is a cautious 6 h): vehicles out on their routes are expected back this long before their departure. */
export const FORECAST_DWELL_MS = 10 * 3600000;
export const FORECAST_SOC_PCT = 30;

export type ControllerName = 'uncontrolled' | 'edf' | 'llf' | 'optimizer' | 'offline';

export interface DayResult {
  readonly controller: ControllerName;
  readonly energyCost: number;
  readonly peakKw: number;
  readonly demandCharge: number;
  readonly totalCost: number;
  readonly deliveredKwh: number;
  readonly shortfallKwh: ReadonlyMap<string, number>;
  readonly slotsOverLimit: number;
  /** Mean periods per TxProfile sent (optimizer only). */
  readonly profilePeriods: number;
  /** Pause/resume transitions while plugged in, summed over vehicles. */
  readonly toggles: number;
  readonly solveMs: readonly number[];
  /** Site load per slot (kW). */
  readonly loadKw: readonly number[];
}

type Decide = (snap: SiteSnapshot, k: number) => Promise<ReadonlyMap<string, number>>;

const taperLimit = (socPct: number, pmax: number) => (socPct <= 80 ? pmax : pmax * (1 - (0.8 * (socPct - 80)) / 20));

/** How the controller plans a vehicle that is out and has not reported an ETA yet:
 *  - 'dwell': expected FORECAST_DWELL_MS before its departure with FORECAST_SOC_PCT (the service's
 *    OPTIMIZER_FORECAST_DWELL_HOURS for a vehicle with a scheduled departure);
 *  - a function: left out of the plan, with the capacity the function keeps for such vehicles per slot (kW from `now`),
 *    as the service's departure reserve does from their learned forecasts (history.ts). */
export type Unannounced = 'dwell' | ((now: number, absent: readonly string[], efficiency: number) => readonly number[]);

const world = async (day: DepotDay, controller: ControllerName, decide: Decide, extra: { periods: number[]; solveMs: number[] }, unannounced: Unannounced = 'dwell'): Promise<DayResult> => {
  const dt = SLOT_MS / 3600000;
  const energy = new Map(day.vehicles.map((v) => [v.vehicleId, (v.capacityKwh * v.arrivalSocPct) / 100]));
  // What the controller believes during an outage: SoC at its start plus metered energy at the assumed efficiency.
  const outageBase = new Map<string, { socPct: number; at: number; gridKwh: number }>();
  // What the service learns its charging efficiency from: metered grid energy per session and trusted SoC readings.
  const metered = new Map<string, number>();
  const spans = new Map<string, SessionSpan>();
  const lastOn = new Map<string, boolean>();
  let lastCommanded: ReadonlyMap<string, number> = new Map();
  const shortfall = new Map<string, number>();
  let energyCost = 0;
  let peak = 0;
  let delivered = 0;
  let over = 0;
  let toggles = 0;
  const loads: number[] = new Array<number>(DAY_SLOTS).fill(0);
  const chargers = new Map(day.chargers.map((c) => [c.chargePointId, c]));
  const limits = { gridLimitKw: day.gridLimitKw, panels: day.panels ?? [], chargers, ...(day.siteMaxCurrentA !== undefined ? { maxCurrentA: day.siteMaxCurrentA } : {}) };
  for (let k = 0; k < DAY_SLOTS; k++) {
    const now = DAY_START + k * SLOT_MS;
    for (const v of day.vehicles) {
      if (v.departAt === now) shortfall.set(v.vehicleId, Math.max(0, (v.capacityKwh * v.targetSocPct) / 100 - energy.get(v.vehicleId)!));
    }
    const present = day.vehicles.filter((v) => v.arrivalAt <= now && v.departAt > now);
    // Not here yet: with a telematics ETA at its true arrival and SoC; otherwise forecast from the fleet schedule
    // (departure known; arrival assumed FORECAST_DWELL_MS before it, not before the next slot; SoC 30 %).
    const expected = day.vehicles.filter((v) => v.arrivalAt > now);
    if (present.length === 0 && expected.length === 0) continue;
    const belief = (v: (typeof day.vehicles)[number]): Belief => {
      const trueSoc = (100 * energy.get(v.vehicleId)!) / v.capacityKwh;
      const silent = v.outage && now >= v.outage.from && now < v.outage.to;
      if (!silent) {
        outageBase.delete(v.vehicleId);
        const gridKwh = metered.get(v.vehicleId);
        if (gridKwh !== undefined) spans.set(v.vehicleId, observeSample(spans.get(v.vehicleId), v.capacityKwh, { socPct: trueSoc, gridKwh }));
        return { socPct: trueSoc, source: 'telematics', uncertaintyPct: 1 };
      }
      const base = outageBase.get(v.vehicleId) ?? { socPct: trueSoc, at: now, gridKwh: 0 };
      outageBase.set(v.vehicleId, base);
      const hours = (now - base.at) / 3600000;
      const rise = (100 * base.gridKwh * ASSUMED_EFFICIENCY) / v.capacityKwh;
      // The vehicle tracker's estimate and its uncertainty.
      return { socPct: Math.min(100, base.socPct + rise), source: 'estimated', uncertaintyPct: estimateUncertaintyPct(hours, rise) };
    };
    for (const v of present) if (!metered.has(v.vehicleId)) metered.set(v.vehicleId, 0);
    const announced = expected.filter((v) => unannounced === 'dwell' || v.etaKnownAt <= now);
    const vehicles = [...present.map((v) => vehicleSnapshot(v, now, true, belief(v), k, lastCommanded.get(v.vehicleId) ?? 0)), ...announced.map((v) =>
        v.etaKnownAt <= now
          ? vehicleSnapshot(v, now, false, belief(v), k)
          : vehicleSnapshot({ ...v, arrivalAt: Math.max(now + SLOT_MS, v.departAt - FORECAST_DWELL_MS) }, now, false, { socPct: FORECAST_SOC_PCT, source: 'telematics', uncertaintyPct: 0 }, k),
      )];
    const efficiency = learnedEfficiency(spans.values()) ?? ASSUMED_EFFICIENCY;
    const absent = expected.filter((v) => !announced.includes(v)).map((v) => v.vehicleId);
    const reserveKw = typeof unannounced === 'function' && absent.length > 0 ? unannounced(now, absent, efficiency) : [];
    const snap = { ...siteSnapshot(day, now, vehicles, efficiency), billedPeakKw: peak, ...(reserveKw.some((kw) => kw > 0) ? { reserveKw } : {}) };
    const commanded = await decide(snap, k);
    lastCommanded = commanded;
    let load = 0;
    const applied = new Map<string, number>();
    for (const v of present) {
      const c = chargers.get(v.chargePointId)!;
      const e = energy.get(v.vehicleId)!;
      const pmax = c.currentType === 'DC' ? Math.min(c.maxPowerKw, v.maxDcKw) : Math.min((c.maxPowerKw * phasesOn(v, c)) / c.phases, v.maxAcKw);
      const room = (v.capacityKwh - e) / (TRUE_EFFICIENCY * dt);
      const p = Math.max(0, Math.min(commanded.get(v.vehicleId) ?? 0, taperLimit((100 * e) / v.capacityKwh, pmax), room));
      energy.set(v.vehicleId, e + p * dt * TRUE_EFFICIENCY);
      applied.set(v.vehicleId, p);
      const base = outageBase.get(v.vehicleId);
      if (base) base.gridKwh += p * dt;
      metered.set(v.vehicleId, (metered.get(v.vehicleId) ?? 0) + p * dt);
      load += p;
      const on = p > 0.05;
      if (lastOn.has(v.vehicleId) && lastOn.get(v.vehicleId) !== on) toggles++;
      lastOn.set(v.vehicleId, on);
    }
    for (const v of day.vehicles) if (v.departAt <= now) lastOn.delete(v.vehicleId);
    loads[k] = load;
    energyCost += load * dt * day.prices[k]!;
    delivered += load * dt;
    // Issue 17: the connection carries the building too, and each panel its own chargers.
    const building = day.building?.trueKw[k] ?? 0;
    peak = Math.max(peak, load + building);
    const draws = present.map((v) => ({ chargePointId: v.chargePointId, kw: applied.get(v.vehicleId) ?? 0, ...(v.acPhases !== undefined ? { acPhases: v.acPhases } : {}) }));
    if (limitsExceeded(draws, building, limits).length > 0) over++;
  }
  for (const v of day.vehicles) if (!shortfall.has(v.vehicleId)) shortfall.set(v.vehicleId, Math.max(0, (v.capacityKwh * v.targetSocPct) / 100 - energy.get(v.vehicleId)!));
  const demandCharge = peak * day.demandChargePerKwMonth;
  const mean = (xs: number[]) => (xs.length ? xs.reduce((m, x) => m + x, 0) / xs.length : NaN);
  return { controller, energyCost, peakKw: peak, demandCharge, totalCost: energyCost + demandCharge, deliveredKwh: delivered, shortfallKwh: shortfall, slotsOverLimit: over, profilePeriods: mean(extra.periods), toggles, solveMs: extra.solveMs, loadKw: loads };
};

/** The charger's unit and rounding applied to a kW value (what the charger is actually told). */
const asCommanded = (snap: SiteSnapshot, cp: string | null, kw: number): number => {
  const c = snap.chargers.find((x) => x.chargePointId === cp);
  return c ? fromLimit(c, toLimit(c, kw)) : kw;
};

export const simulateHeuristic = (day: DepotDay, kind: Heuristic): Promise<DayResult> =>
  world(day, kind, async (snap) => {
    const { layout } = buildModel(snap);
    const powers = heuristicPowers(snap, layout, kind);
    if (kind === 'uncontrolled') return new Map(layout.windows.map((w, i) => [w.vehicle.vehicleId, powers[i]![0] ?? 0]));
    // The 6 A rule is physics for every controller; hysteresis is the optimizer's own.
    const plan = planFromPowers(snap, layout, powers, kind, NaN, 0);
    const p = applyMinCurrentAndHysteresis(snap, plan, { profileSlots: 1, minPauseSlots: 0 });
    return new Map(plan.vehicles.map((v, i) => [v.vehicleId, asCommanded(snap, v.chargePointId, p[i]![0] ?? 0)]));
  }, { periods: [], solveMs: [] });

export const simulateOptimizer = (day: DepotDay, solver: Solver, o: { observe?: (k: number, snap: SiteSnapshot, plan: Plan) => void; unannounced?: Unannounced } = {}): Promise<DayResult> => {
  const extra = { periods: [] as number[], solveMs: [] as number[] };
  const previous = new Map<string, number>();
  return world(day, 'optimizer', async (snap, k) => {
    const t0 = performance.now();
    const { plan } = await planSite(snap, solver);
    extra.solveMs.push(performance.now() - t0);
    o.observe?.(k, snap, plan);
    const opts = defaultProfileOptions;
    for (const cmd of txProfileCommands(snap, plan, `p${k}`, opts, previous)) {
      const p = cmd.payload as { csChargingProfiles?: { chargingSchedule: { chargingSchedulePeriod: unknown[] } }; chargingProfile?: { chargingSchedule: { chargingSchedulePeriod: unknown[] }[] } };
      extra.periods.push((p.csChargingProfiles?.chargingSchedule ?? p.chargingProfile!.chargingSchedule[0]!).chargingSchedulePeriod.length);
    }
    const powers = applyMinCurrentAndHysteresis(snap, plan, opts, previous);
    const out = new Map<string, number>();
    plan.vehicles.forEach((v, i) => {
      const kw = asCommanded(snap, v.chargePointId, powers[i]![0] ?? 0);
      out.set(v.vehicleId, kw);
      if (v.chargePointId) previous.set(controlKey(v.chargePointId, v.connectorId ?? 1), kw);
    });
    return out;
  }, extra, o.unannounced);
};

/** Perfect foresight: one LP over the whole day from its start, executed as planned. */
export const simulateOffline = async (day: DepotDay, solver: Solver): Promise<DayResult> => {
  const vehicles = day.vehicles.map((v) => vehicleSnapshot(v, DAY_START, false, { socPct: v.arrivalSocPct, source: 'telematics', uncertaintyPct: 0 }, 0));
  const base = siteSnapshot(day, DAY_START, vehicles, TRUE_EFFICIENCY, true);
  // The bound is pure cost: no flattening (a robustness device for the receding horizon).
  const snap = { ...base, weights: { ...base.weights, flatteningShare: 0 } };
  const t0 = performance.now();
  const { plan } = await planSite(snap, solver);
  const ms = performance.now() - t0;
  const byVehicle = new Map(plan.vehicles.map((v) => [v.vehicleId, v.powerKw]));
  return world(day, 'offline', async (_snap, k) => new Map([...byVehicle].map(([id, p]) => [id, p[k] ?? 0])), { periods: [], solveMs: [ms] });
};
