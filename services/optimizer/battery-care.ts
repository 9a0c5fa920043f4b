/** Battery care, pure: `batteryCareCaps(input)` → per slot the most energy the battery may hold at the slot's end,
 *  so that its SoC stays at or below a ceiling (time at high SoC is what ages a battery) until the departure needs
 *  more.
 *
 *  Below the departure's need nothing changes: with the ceiling C = capacity × ceilingPct and the energy wanted at
 *  departure E* (required SoC; no more than the battery), a departure that needs no more than C gets C in every slot
 *  before it. One that needs more gets C until the climb to E* has to start, then a cap rising to E* at the
 *  departure: the climb is planned at `climbShare` (default ½) of the vehicle's full rate (efficiency × maxKw), so it
 *  opens twice as early as a charge at full power would need, leaving the plan room for prices, the site limit and
 *  other vehicles. A battery already above C is never asked to fall: the cap is at least its energy now. Slots that
 *  end at or after the departure have no cap (the battery's capacity).
 *
 *  Where it plugs in (not wired yet, see the report of issue 18): services/optimizer/formulation.ts buildModel, per
 *  planned vehicle, beside its energy row: for each slot t of its window, Σ_{spans ending by the end of t}
 *  η·hours·p[v,span] − care[v,t] ≤ capKwh[t] − E0_v, with care[v,t] ≥ 0 costing `weightPerKwh` per kWh and slot above
 *  the ceiling, the operator's weight of battery care against cost (0: off; above the shortfall weight: a hard
 *  ceiling). With the exact taper the rows are bounds on the e[v,t] columns that already exist. */

export interface BatteryCareInput {
  readonly batteryCapacityKwh: number;
  /** SoC now, percent. */
  readonly socPct: number;
  /** The configurable ceiling, percent (e.g. 80); 100 or more: no ceiling. */
  readonly ceilingPct: number;
  /** Epoch ms. */
  readonly departAt: number;
  /** SoC the departure needs, percent. */
  readonly requiredSocPct: number;
  /** Most grid-side power the vehicle takes, kW. */
  readonly maxKw: number;
  /** Battery energy per grid kWh. */
  readonly efficiency: number;
  /** Start of slot 0, epoch ms. */
  readonly now: number;
  readonly slotMinutes: number;
  readonly slots: number;
  /** Share of the full rate the climb above the ceiling is planned at (0 < climbShare ≤ 1); default 0.5. */
  readonly climbShare?: number;
}

export interface BatteryCare {
  /** Most energy in the battery at the end of each slot, kWh. */
  readonly capKwh: readonly number[];
  /** The same as SoC, percent. */
  readonly capSocPct: readonly number[];
  /** When the cap starts to rise above the ceiling (epoch ms); null when the departure needs no more than it. */
  readonly climbFrom: number | null;
}

const HOUR = 3600_000;

export const batteryCareCaps = (i: BatteryCareInput): BatteryCare => {
  const cap = i.batteryCapacityKwh;
  const e0 = (cap * Math.min(100, Math.max(0, i.socPct))) / 100;
  const ceiling = (cap * Math.min(100, Math.max(0, i.ceilingPct))) / 100;
  const wanted = (cap * Math.min(100, Math.max(0, i.requiredSocPct))) / 100;
  const rate = i.efficiency * i.maxKw * Math.min(1, Math.max(1e-6, i.climbShare ?? 0.5)); // kWh per hour
  const slotMs = i.slotMinutes * 60_000;
  const climbFrom = wanted > ceiling && rate > 0 ? i.departAt - ((wanted - ceiling) / rate) * HOUR : null;
  const capKwh: number[] = [];
  for (let t = 0; t < i.slots; t++) {
    const end = i.now + (t + 1) * slotMs;
    if (i.ceilingPct >= 100 || end >= i.departAt) {
      capKwh.push(cap);
      continue;
    }
    const climbing = climbFrom !== null && end > climbFrom ? wanted - (rate * (i.departAt - end)) / HOUR : ceiling;
    capKwh.push(Math.min(cap, Math.max(e0, ceiling, climbing)));
  }
  return { capKwh, capSocPct: capKwh.map((e) => (100 * e) / cap), climbFrom };
};
