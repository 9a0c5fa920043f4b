import { DepotDay } from './depot';
import { ControllerName, DayResult } from './simulate';

/** The figures a table row reports for one controller over some depot days, pure. A vehicle is at its departure SoC
 *  when it is short by no more than TOL_KWH; it is feasible when the offline optimum (perfect foresight, the same
 *  world) gets it there: a vehicle nothing could serve does not count against a controller. Costs and kWh are summed
 *  over the days, the peak averaged, solve times pooled and sorted. */

export const TOL_KWH = 0.5;

export interface DayOutcome {
  readonly day: DepotDay;
  readonly result: DayResult;
  readonly offline: DayResult;
}

export interface Figures {
  readonly controller: string;
  readonly days: number;
  readonly energyCost: number;
  readonly demandCharge: number;
  readonly totalCost: number;
  readonly peakKw: number;
  readonly deliveredKwh: number;
  readonly vehicles: number;
  readonly reached: number;
  readonly feasible: number;
  readonly feasibleReached: number;
  readonly worstShortfallKwh: number;
  readonly slotsOver: number;
  /** Mean TxProfile periods (NaN where no profile was sent). */
  readonly periods: number;
  readonly toggles: number;
  readonly solveMs: readonly number[];
}

export const figuresOf = (controller: ControllerName | string, outcomes: readonly DayOutcome[]): Figures => {
  let vehicles = 0;
  let reached = 0;
  let feasible = 0;
  let feasibleReached = 0;
  let worst = 0;
  for (const { day, result, offline } of outcomes) {
    for (const v of day.vehicles) {
      const short = result.shortfallKwh.get(v.vehicleId) ?? 0;
      const ok = short <= TOL_KWH;
      vehicles++;
      if (ok) reached++;
      if ((offline.shortfallKwh.get(v.vehicleId) ?? 0) <= TOL_KWH) {
        feasible++;
        if (ok) feasibleReached++;
      }
      worst = Math.max(worst, short);
    }
  }
  const sum = (f: (r: DayResult) => number) => outcomes.reduce((m, x) => m + f(x.result), 0);
  const periods = outcomes.map((x) => x.result.profilePeriods).filter((x) => !Number.isNaN(x));
  return {
    controller,
    days: outcomes.length,
    energyCost: sum((r) => r.energyCost),
    demandCharge: sum((r) => r.demandCharge),
    totalCost: sum((r) => r.totalCost),
    peakKw: outcomes.length ? sum((r) => r.peakKw) / outcomes.length : NaN,
    deliveredKwh: sum((r) => r.deliveredKwh),
    vehicles,
    reached,
    feasible,
    feasibleReached,
    worstShortfallKwh: worst,
    slotsOver: sum((r) => r.slotsOverLimit),
    periods: periods.length ? periods.reduce((m, x) => m + x, 0) / periods.length : NaN,
    toggles: sum((r) => r.toggles),
    solveMs: outcomes.flatMap((x) => [...x.result.solveMs]).sort((a, b) => a - b),
  };
};

/** Cost against the offline optimum's, in % (positive: dearer). */
export const costGapPct = (f: Figures, offline: Figures): number => (100 * (f.totalCost - offline.totalCost)) / offline.totalCost;
