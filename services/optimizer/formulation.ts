import { batteryCareCaps } from './battery-care';
import { plannedBaseLoadKw } from './building-load';
import { limitRows, siteLimitKw } from './limits';
import { phasesOn } from './phases';
import { ampsToKw, ChargerSnapshot, isConnected, SiteSnapshot, VehicleSnapshot, Weights } from './snapshot';

/** The charging LP, pure: `buildModel(snapshot)` gives HiGHS' sparse model data, `interpret(...)` turns the solver's
 *  column values back into a Plan. No I/O here; solver.ts runs HiGHS (in a worker thread in the service).
 *
 *  Slots t = 0..T-1 of Δ = slotMinutes/60 h from `now`; T reaches the last departure, at most `maxSlots`. On large
 *  sites (more than AUTO_EXACT_COLUMNS power variables) the slots after the first four hours are planned in two-hour
 *  blocks: a vehicle there for a whole block gets one power variable for it (see ModelOptions.blocking).
 *
 *  Variables (all ≥ 0, continuous)
 *    p[v,t]  grid-side charging power of vehicle v in slot t while it is plugged in (kW), for the slots v is (or is
 *            expected to be) there; upper bound pmax_v. It delivers η·Δ·avail[v,t]·p[v,t] (avail = fraction of the
 *            slot the vehicle is there: late arrival, early departure mid-slot) and is what its charger is told, so the
 *            site row, on the powers themselves, holds at every instant of the slot, not only on its average.
 *            pmax_v = min(charger max, vehicle max AC or DC for the charger's current type); an expected arrival
 *            (telematics ETA, no charger yet) gets the best charger of the site.
 *    s_v     departure shortfall (kWh in the battery)            cost W_s · (1 + priority_v + b·K/(K + need_v))
 *    r_v     readiness shortfall (kWh missing from the safe SoC)  cost W_r · (1 + priority_v)
 *    L_t     controllable site load (kW) ∈ [0, limit_t − baseLoad_t − fixedLoad_t]; limit_t is the grid limit or the
 *            lowest limit event in force during the slot (demand response), baseLoad_t the building (building-load.ts)
 *    peak    site peak above the peak already billed this month (kW), cost demandChargePerKwMonth
 *    e[v,t]  energy delivered into v's battery before slot t (only for vehicles whose taper can bind)
 *    d±_v    change of v's slot-0 power from what it is commanded now, cost stickiness (1e-3 per kW: ties only)
 *    c[v,k]  battery care: kWh in v's battery above its care cap at the end of span k, cost batteryCare·slots(k)
 *    u_t     reserve eaten: kW of the reserve for vehicles not back yet used in slot t, cost reservePerKwh·Δ
 *    flat    the plan's own peak, cost flatteningShare·demandCharge (0.5): even below the billed peak a flat plan
 *            keeps slack for surprises (when it was added it cut the benchmark's receding-horizon cost gap at a 30 %
 *            limit from 40 % to 18 %; with the benchmark's outage model since aligned with the service's, and the
 *            efficiency learned, it matters much less); L_t − u_t − flat ≤ −baseLoad_t − fixedLoad_t − reserve_t
 *
 *  Constraints
 *    site       Σ_v p[v,t] − L_t = 0                                  (the grid limit is L_t's upper bound)
 *    limits     Σ_v coef·p[v,t] ≤ capacity_t   (limits.ts): a panel's kW over the chargers under it (nested panels);
 *               per-phase current at the connection and panels, coef = 1000/(n_v·230) A per kW on each grid phase v
 *               draws on (phases.ts: n_v phases, the charger's rotation); an EMS limit over a charger's vehicles
 *    peak       L_t − u_t − peak ≤ billedPeak − baseLoad_t − fixedLoad_t − reserve_t   (only with a demand charge; u_t
               and reserve_t only in slots with a reserve: the load of vehicles not back yet counts in the peak, or
               each return raises the plan's flat level and the peak billed with it; the same in the flat row)
 *    energy     Σ_t η·Δ·avail·p[v,t] + s_v = need_v                    (never charges beyond the target)
 *               need_v = min(capacity, target + capacity·uncertainty%) − energy now
 *    readiness  Σ_{t < R_v} η·Δ·avail·p[v,t] + r_v ≥ safe_v − energy now  R_v = readinessMinutes after plug-in
 *    care       E[v,k] − c[v,k] ≤ careCap[v,k] − E0_v, E[v,k] the energy delivered by the end of span k (a chain of
 *               columns like the taper's): the SoC ceiling until the climb to the departure's need (battery-care.ts);
 *               only when the ceiling is on (OPTIMIZER_BATTERY_CEILING_PCT < 100) and v's target is above it
 *    reserve    L_t − u_t ≤ cap_t − reserve_t (departure-reserve.ts), only in slots with a reserve
 *    taper      e[v,t+1] − e[v,t] − η·Δ·p[v,t] = 0,
 *               p[v,t] + b_v·e[v,t] ≤ a_v − b_v·E0_v                    (power ≤ a − b·energy in battery: linear,
 *               full power up to the knee SoC, falling linearly to endPowerFraction·pmax at 100 %)
 *
 *  Objective (minimise)
 *    Σ Δ·p[v,t]·(price_t + lateBias·(T−1−t)/(T−1))  +  demandCharge·peak  +  Σ W_s(1+prio_v)·s_v  +  Σ W_r(1+prio_v)·r_v
 *
 *  Weights (snapshot.ts defaultWeights): with C = max price + demandCharge·60/slotMinutes + 1 (an upper bound of what
 *  one kWh can cost, energy plus the peak it can add), W_s = 100·C and W_r = 10·C, so no saving ever buys a shortfall,
 *  readiness comes before cost, and one priority step (W_s) outweighs any cost: the shortfall falls on the lowest
 *  priority. Within one priority the shortfall falls on the fewest vehicles: a kWh short costs a little more (b =
 *  fewestShortBias 0.05 of a priority step at most, K = 10 kWh) on a vehicle with a small remaining need, so the
 *  largest needs give way and as many vehicles as possible leave ready for their route; without it the LP picks among
 *  equal-priority vehicles arbitrarily, and the receding horizon spread shortfalls over more of them than the offline
 *  optimum (benchmark, 15 % limit, seeds 4-9: 72/85 of the offline optimum's feasible vehicles at their SoC, 83/92 with
 *  it; costs unchanged). lateBias = 1e-4 per kWh at most, below any real tariff step: among equal prices, charge later
 *  (lower average SoC, battery care) while readiness still gets every vehicle to the safe SoC early. */

/** Extra shortfall cost per kWh, in priority steps, for a vehicle with `needKwh` still to go (see the header). */
const NEED_SCALE_KWH = 10;
const fewestShortBias = (w: Weights, needKwh: number): number => (w.fewestShortBias * NEED_SCALE_KWH) / (NEED_SCALE_KWH + Math.max(0, needKwh));

export interface LpModel {
  readonly numCols: number;
  readonly numRows: number;
  readonly colCost: Float64Array;
  readonly colLower: Float64Array;
  readonly colUpper: Float64Array;
  readonly rowLower: Float64Array;
  readonly rowUpper: Float64Array;
  readonly matrix: {
    readonly format: 'csr';
    readonly numRows: number;
    readonly numCols: number;
    readonly starts: Int32Array;
    readonly indices: Int32Array;
    readonly values: Float64Array;
  };
}

export interface VehicleWindow {
  readonly vehicle: VehicleSnapshot;
  /** Planned by the LP (false: not connected to a controllable charger and not expected, or nothing to charge). */
  readonly planned: boolean;
  readonly pmaxKw: number;
  readonly avail: Float64Array;
  readonly e0Kwh: number;
  readonly needKwh: number;
  readonly effectiveTargetKwh: number;
  /** Column of p[v,t] for each slot, -1 where the vehicle is not there (with move blocking one column can cover the
   *  slots of a block: the vehicle's power in each of them). */
  readonly pCol: Int32Array;
  readonly sCol: number;
  /** Fixed load (kW per slot) of a vehicle on an uncontrollable charger. */
  readonly fixedKw: number;
}

export interface Layout {
  readonly slots: number;
  readonly slotHours: number;
  readonly windows: readonly VehicleWindow[];
  readonly lCol: number;
  readonly peakCol: number;
  readonly baseKw: Float64Array;
  readonly fixedKw: Float64Array;
  readonly capKw: Float64Array;
  readonly prices: Float64Array;
}

const INF = Infinity;

const at = (xs: readonly number[], t: number, fallback: number): number =>
  xs.length === 0 ? fallback : (xs[Math.min(t, xs.length - 1)] ?? fallback);

/** The most a vehicle takes on a charger (kW): the charger's max and the vehicle's AC or DC max, whichever is lower. */
export const maxKwOn = (v: VehicleSnapshot, c: ChargerSnapshot): number => {
  if (c.currentType === 'DC') return Math.min(c.maxPowerKw, v.maxDcKw);
  // On fewer phases than the charger has, a vehicle gets the charger's current on those phases only.
  const n = phasesOn(v, c);
  const chargerKw = n >= c.phases ? c.maxPowerKw : (c.maxPowerKw * n) / c.phases;
  return Math.min(chargerKw, c.maxCurrentA != null ? ampsToKw(c.maxCurrentA, n) : Infinity, v.maxAcKw);
};

export const horizonSlots = (s: SiteSnapshot): number => {
  const slotMs = s.slotMinutes * 60000;
  const last = s.vehicles.reduce((m, v) => Math.max(m, v.departAt), s.now);
  return Math.max(1, Math.min(s.maxSlots, Math.ceil((last - s.now) / slotMs)));
};

/** Growing triplet store for the constraint matrix, compressed to CSR at the end. */
class Rows {
  lower: number[] = [];
  upper: number[] = [];
  rowOf: number[] = [];
  colOf: number[] = [];
  val: number[] = [];
  add(entries: readonly (readonly [number, number])[], lo: number, hi: number): number {
    const r = this.lower.length;
    this.lower.push(lo);
    this.upper.push(hi);
    for (const [c, v] of entries) {
      if (v === 0) continue;
      this.rowOf.push(r);
      this.colOf.push(c);
      this.val.push(v);
    }
    return r;
  }
  csr(numCols: number): LpModel['matrix'] {
    const n = this.lower.length;
    const starts = new Int32Array(n + 1);
    for (const r of this.rowOf) starts[r + 1]!++;
    for (let i = 0; i < n; i++) starts[i + 1]! += starts[i]!;
    const fill = starts.slice(0, n);
    const indices = new Int32Array(this.val.length);
    const values = new Float64Array(this.val.length);
    for (let k = 0; k < this.val.length; k++) {
      const pos = fill[this.rowOf[k]!]!++;
      indices[pos] = this.colOf[k]!;
      values[pos] = this.val[k]!;
    }
    return { format: 'csr', numRows: n, numCols, starts, indices, values };
  }
}

class Cols {
  cost: number[] = [];
  lower: number[] = [];
  upper: number[] = [];
  add(cost: number, lo: number, hi: number): number {
    this.cost.push(cost);
    this.lower.push(lo);
    this.upper.push(hi);
    return this.cost.length - 1;
  }
}

export interface ModelOptions {
  /** 'exact': the taper rows above (e[v,t] chain); 'bound': no rows, each p[v,t] bounded by the taper at the energy
   *  the vehicle would have if it had charged as fast as possible until t. The bound is never looser than physics and
   *  exact along the fastest charge, so a need that can be met still can; it only forbids deferring the last kWh at
   *  full power. In a receding horizon the first slots, the ones executed, are exact. 'auto': exact up to
   *  AUTO_EXACT_COLUMNS power variables, bound above (the chains dominate the model's size). */
  readonly taper: 'exact' | 'bound' | 'auto';
  /** Move blocking: 'none' gives every vehicle a power variable per slot; { fineSlots, blockSlots } keeps that for the
   *  first fineSlots slots and later gives a vehicle one variable per block of blockSlots slots, its power over the
   *  whole block, where it is there for the whole block (where it arrives or leaves inside the block it keeps one
   *  variable per slot). The site, peak and panel rows stay per slot, so every plan is feasible slot by slot: blocking
   *  only restricts the far future to flat power per vehicle and block, which the receding horizon re-plans slot by
   *  slot long before it is executed. Block prices are the mean of their slots (exact for hourly tariffs). 'auto' (the
   *  default): none up to AUTO_EXACT_COLUMNS power variables, AUTO_BLOCKING above. */
  readonly blocking?: 'none' | 'auto' | { readonly fineSlots: number; readonly blockSlots: number };
}

export const AUTO_EXACT_COLUMNS = 20000;
export const AUTO_BLOCKING = { fineSlots: 16, blockSlots: 8 } as const;

/** Slots [first, first + len) planned together; len 1 everywhere without blocking. */
export interface Period {
  readonly first: number;
  readonly len: number;
}

export const periodGrid = (slots: number, blocking: { readonly fineSlots: number; readonly blockSlots: number } | null): Period[] => {
  const out: Period[] = [];
  const fine = blocking ? Math.max(1, blocking.fineSlots) : slots;
  const block = blocking ? Math.max(1, blocking.blockSlots) : 1;
  for (let t = 0; t < slots; ) {
    const len = t < fine ? 1 : Math.min(block, slots - t);
    out.push({ first: t, len });
    t += len;
  }
  return out;
};

export const buildModel = (s: SiteSnapshot, options: ModelOptions = { taper: 'auto' }): { model: LpModel; layout: Layout } => {
  const T = horizonSlots(s);
  const small = s.vehicles.length * T <= AUTO_EXACT_COLUMNS;
  const opts = { taper: options.taper === 'auto' ? (small ? 'exact' : 'bound') : options.taper };
  const blocking = options.blocking ?? 'auto';
  const periods = periodGrid(T, blocking === 'none' || (blocking === 'auto' && small) ? null : blocking === 'auto' ? AUTO_BLOCKING : blocking);
  const dt = s.slotMinutes / 60;
  const slotMs = s.slotMinutes * 60000;
  const eta = s.efficiency;
  const w = s.weights;
  const chargers = new Map(s.chargers.map((c) => [c.chargePointId, c]));
  const controllable = s.chargers.filter((c) => c.controllable);

  const prices = new Float64Array(T);
  const baseKw = new Float64Array(T);
  const fixedKw = new Float64Array(T);
  const plannedBase = plannedBaseLoadKw(s, T);
  for (let t = 0; t < T; t++) {
    prices[t] = at(s.pricePerKwh, t, 0);
    baseKw[t] = plannedBase[t]!;
  }

  const cols = new Cols();
  const rows = new Rows();
  const windows: VehicleWindow[] = [];
  const busyChargers = new Set<string>();
  /** Block columns (a vehicle's power over a whole block), and per period the block columns in it. */
  const blockCols = new Set<number>();
  const blockMembers: number[][] = periods.map(() => []);

  for (const v of s.vehicles) {
    const charger = v.chargePointId ? chargers.get(v.chargePointId) : undefined;
    const connected = isConnected(v, s.now);
    if (charger && connected) busyChargers.add(charger.chargePointId);
    const start = connected ? s.now : (v.arrivalAt ?? Infinity);
    const avail = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      const a = s.now + t * slotMs;
      const b = a + slotMs;
      avail[t] = Math.max(0, Math.min(b, v.departAt) - Math.max(a, start)) / slotMs;
    }
    const pmaxKw = charger ? maxKwOn(v, charger) : controllable.reduce((m, c) => Math.max(m, maxKwOn(v, c)), 0) || v.maxAcKw;
    const cap = v.batteryCapacityKwh;
    const e0 = (cap * Math.min(100, Math.max(0, v.socPct))) / 100;
    const effectiveTarget = Math.min(cap, v.targetKwh + (cap * Math.max(0, v.socUncertaintyPct)) / 100);
    const need = Math.max(0, effectiveTarget - e0);
    const pCol = new Int32Array(T).fill(-1);

    // A vehicle on a charger that ignores its profiles: its measured load is fixed, not planned.
    if (charger && connected && !charger.controllable) {
      for (let t = 0; t < T; t++) if (avail[t]! > 0) fixedKw[t]! += charger.measuredKw;
      windows.push({ vehicle: v, planned: false, pmaxKw, avail, e0Kwh: e0, needKwh: need, effectiveTargetKwh: effectiveTarget, pCol, sCol: -1, fixedKw: charger.measuredKw });
      continue;
    }
    const expected = !connected && v.arrivalAt !== null;
    const planned = ((charger !== undefined && charger.controllable) || expected) && need > 1e-9 && pmaxKw > 0 && avail.some((x) => x > 0);
    if (!planned) {
      windows.push({ vehicle: v, planned: false, pmaxKw, avail, e0Kwh: e0, needKwh: need, effectiveTargetKwh: effectiveTarget, pCol, sCol: -1, fixedKw: 0 });
      continue;
    }
    const denom = Math.max(1, T - 1);
    const knee = (cap * v.taper.kneeSocPct) / 100;
    const tapered = v.taper.kneeSocPct < 100 && e0 + need > knee;
    const f = v.taper.endPowerFraction;
    const kf = v.taper.kneeSocPct / 100;
    const ta = pmaxKw * (1 + ((1 - f) * kf) / (1 - kf));
    const tb = (pmaxKw * (1 - f)) / ((1 - kf) * cap);
    let fastest = e0; // battery energy along the fastest possible charge (bound mode)
    // The vehicle's power variables in time order: one per slot, or one per block it is there for entirely.
    const spans: { col: number; first: number; len: number; hours: number }[] = [];
    for (const [k, per] of periods.entries()) {
      const whole = per.len > 1 && avail.subarray(per.first, per.first + per.len).every((a) => a === avail[per.first]);
      // The whole block as one span, or each of its slots (no span objects made for the slots a vehicle is not there).
      for (let j = 0; j < (whole ? 1 : per.len); j++) {
        const part = whole ? per : { first: per.first + j, len: 1 };
        const a = avail[part.first]!;
        if (a <= 0) continue;
        const hours = dt * part.len * a; // plugged-in hours the span's power applies to
        let ub = pmaxKw;
        if (tapered && opts.taper === 'bound') {
          ub = Math.max(0, Math.min(ub, ta - tb * fastest));
          fastest = Math.min(e0 + need, fastest + eta * hours * ub);
        }
        let price = 0;
        for (let t = part.first; t < part.first + part.len; t++) price += prices[t]! + (w.lateBiasPerKwh * (T - 1 - t)) / denom;
        const col = cols.add(dt * a * price, 0, ub);
        pCol.fill(col, part.first, part.first + part.len);
        spans.push({ col, first: part.first, len: part.len, hours });
        if (part.len > 1) {
          blockCols.add(col);
          blockMembers[k]!.push(col);
        }
      }
    }
    // Stickiness in slot 0: p[v,0] − d⁺ + d⁻ = currentKw, cost stickinessPerKw·(d⁺ + d⁻).
    if (connected && pCol[0]! >= 0 && w.stickinessPerKw > 0) {
      const up = cols.add(w.stickinessPerKw, 0, INF);
      const down = cols.add(w.stickinessPerKw, 0, INF);
      rows.add([[pCol[0]!, 1], [up, -1], [down, 1]], v.currentKw, v.currentKw);
    }
    const prio = 1 + Math.max(0, v.priority);
    const sCol = cols.add(w.shortfallPerKwh * (prio + fewestShortBias(w, need)), 0, need);
    const energy: [number, number][] = [];
    for (const sp of spans) energy.push([sp.col, eta * sp.hours]);
    rows.add([...energy, [sCol, 1]], need, need);

    // Readiness: the safe SoC within readinessMinutes of plug-in (or of now).
    const safe = Math.min(effectiveTarget, (cap * w.readinessSocPct) / 100);
    if (safe - e0 > 1e-9) {
      const readyBy = Math.max(start, s.now) + w.readinessMinutes * 60000;
      const entries: [number, number][] = [];
      for (const sp of spans) if (s.now + sp.first * slotMs < readyBy) entries.push([sp.col, (eta * sp.hours * Math.min(sp.len, Math.ceil((readyBy - s.now) / slotMs) - sp.first)) / sp.len]);
      if (entries.length > 0) {
        const rCol = cols.add(w.readinessPerKwh * prio, 0, safe - e0);
        rows.add([...entries, [rCol, 1]], safe - e0, INF);
      }
    }

    // Taper (exact): p ≤ a − b·(E0 + e_t), only from the first slot where the knee can be reached.
    if (tapered && opts.taper === 'exact') {
      const a = ta;
      const b = tb;
      let eCol = -1; // e of the current slot; -1 = zero (nothing delivered yet)
      let reach = e0;
      for (const sp of spans) {
        const pc = sp.col;
        const hours = sp.hours;
        if (reach > knee) rows.add(eCol >= 0 ? [[pc, 1], [eCol, b]] : [[pc, 1]], -INF, a - b * e0);
        reach += eta * hours * pmaxKw;
        const next = cols.add(0, 0, INF);
        rows.add(eCol >= 0 ? [[next, 1], [eCol, -1], [pc, -eta * hours]] : [[next, 1], [pc, -eta * hours]], 0, 0);
        eCol = next;
      }
    }
    // Battery care: what is in the battery at the end of each span stays under the care cap (the ceiling until the
    // departure needs more, then a climb; battery-care.ts), or pays care per kWh above it and slot.
    if (w.batteryCeilingPct < 100 && e0 + need > (cap * w.batteryCeilingPct) / 100 + 1e-9) {
      const care = batteryCareCaps({
        batteryCapacityKwh: cap, socPct: (100 * e0) / cap, ceilingPct: w.batteryCeilingPct, departAt: v.departAt,
        requiredSocPct: (100 * (e0 + need)) / cap, maxKw: pmaxKw, efficiency: eta, now: s.now, slotMinutes: s.slotMinutes, slots: T,
      });
      let inBattery = -1; // column of the energy delivered by the end of the previous span; -1 = none yet
      for (const sp of spans) {
        const capKwh = care.capKwh[sp.first + sp.len - 1]!;
        // The cap never falls (the ceiling, then the climb, then none): once it no longer binds, no later span does.
        if (capKwh >= e0 + need - 1e-9) break;
        const delivered = cols.add(0, 0, INF);
        rows.add(inBattery >= 0 ? [[delivered, 1], [inBattery, -1], [sp.col, -eta * sp.hours]] : [[delivered, 1], [sp.col, -eta * sp.hours]], 0, 0);
        inBattery = delivered;
        const above = cols.add(w.batteryCarePerKwh * sp.len, 0, INF);
        rows.add([[delivered, 1], [above, -1]], -INF, Math.max(0, capKwh - e0));
      }
    }
    windows.push({ vehicle: v, planned: true, pmaxKw, avail, e0Kwh: e0, needKwh: need, effectiveTargetKwh: effectiveTarget, pCol, sCol, fixedKw: 0 });
  }

  // Block columns by index: the rows below ask of every column in every slot whether it is one.
  const isBlock = new Uint8Array(cols.cost.length);
  for (const c of blockCols) isBlock[c] = 1;

  // Chargers without a vehicle of ours that ignore profiles still draw what they draw.
  for (const c of s.chargers) if (!c.controllable && !busyChargers.has(c.chargePointId)) for (let t = 0; t < T; t++) fixedKw[t]! += c.measuredKw;

  const capKw = new Float64Array(T);
  const limitKw = siteLimitKw(s, T);
  const lCol = cols.cost.length;
  for (let t = 0; t < T; t++) {
    capKw[t] = Math.max(0, limitKw[t]! - baseKw[t]! - fixedKw[t]!);
    cols.add(0, 0, capKw[t]!);
  }
  // The reserve for vehicles not back yet (departure-reserve.ts): L_t − u_t ≤ capKw[t] − reserve_t, u_t priced above
  // any cost and below the readiness and departures of the vehicles present. What is kept (reserve_t − u_t) is load
  // that will come, so the peak and flattening rows below count it too.
  const reserveKw = s.reserveKw ?? [];
  const keptKw = new Float64Array(T);
  const eatenCol = new Int32Array(T).fill(-1);
  for (let t = 0; t < T && t < reserveKw.length; t++) {
    if (!(reserveKw[t]! > 0)) continue;
    keptKw[t] = Math.min(reserveKw[t]!, capKw[t]!);
    eatenCol[t] = cols.add(w.reservePerKwh * dt, 0, keptKw[t]!);
    rows.add([[lCol + t, 1], [eatenCol[t]!, -1]], -INF, Math.max(0, capKw[t]! - reserveKw[t]!));
  }
  const withDemand = s.demandChargePerKwMonth > 0;
  const peakCol = withDemand ? cols.add(s.demandChargePerKwMonth, 0, INF) : -1;
  // Flattening: a share of the demand charge on the planned peak even below the billed one.
  const flatCol = withDemand && w.flatteningShare > 0 ? cols.add(w.flatteningShare * s.demandChargePerKwMonth, 0, INF) : -1;

  // Per block, the sum of its block columns (one row), so each slot's site row has one entry for all of them.
  const blockSumCol = new Map<number, number>();
  blockMembers.forEach((members, k) => {
    if (members.length === 0) return;
    const sumCol = cols.add(0, 0, INF);
    rows.add([...members.map((c): [number, number] => [c, 1]), [sumCol, -1]], 0, 0);
    blockSumCol.set(k, sumCol);
  });
  let period = 0;
  for (let t = 0; t < T; t++) {
    while (periods[period]!.first + periods[period]!.len <= t) period++;
    const entries: [number, number][] = [];
    for (const wdw of windows) {
      const c = wdw.pCol[t]!;
      if (c >= 0 && isBlock[c] !== 1) entries.push([c, 1]);
    }
    if (blockSumCol.has(period)) entries.push([blockSumCol.get(period)!, 1]);
    entries.push([lCol + t, -1]);
    rows.add(entries, 0, 0);
    // The site load the slot will see: L_t, the building and fixed load, and the reserve still kept (reserve_t − u_t).
    const load: [number, number][] = eatenCol[t]! >= 0 ? [[lCol + t, 1], [eatenCol[t]!, -1]] : [[lCol + t, 1]];
    const notPlannedKw = baseKw[t]! + fixedKw[t]! + keptKw[t]!;
    if (withDemand) rows.add([...load, [peakCol, -1]], -INF, s.billedPeakKw - notPlannedKw);
    if (flatCol >= 0) rows.add([...load, [flatCol, -1]], -INF, -notPlannedKw);
  }
  // A limit row per slot; its block columns enter through one sum column per block (as the site rows do), not a
  // copy of every block column in each slot of the block: with blocking on (large sites) the phase and panel rows were
  // most of the matrix (1,000 vehicles, 10 panels, three phases: 560,000 nonzeros).
  for (const row of limitRows(s, windows, T, baseKw)) {
    const sumCols = new Map<number, number>();
    const blockSum = (k: number): number => {
      const known = sumCols.get(k);
      if (known !== undefined) return known;
      const per = periods[k]!;
      const members: [number, number][] = [];
      for (const m of row.members) {
        const c = windows[m.vehicle]!.pCol[per.first]!;
        if (c >= 0 && isBlock[c] === 1) members.push([c, m.coef]);
      }
      const col = members.length > 0 ? cols.add(0, 0, INF) : -1;
      if (col >= 0) rows.add([...members, [col, -1]], 0, 0);
      sumCols.set(k, col);
      return col;
    };
    let k = 0;
    for (let t = 0; t < T; t++) {
      while (periods[k]!.first + periods[k]!.len <= t) k++;
      if (!Number.isFinite(row.capacity[t]!)) continue;
      const entries: [number, number][] = [];
      for (const m of row.members) {
        const c = windows[m.vehicle]!.pCol[t]!;
        if (c >= 0 && isBlock[c] !== 1) entries.push([c, m.coef]);
      }
      const sum = periods[k]!.len > 1 ? blockSum(k) : -1;
      if (sum >= 0) entries.push([sum, 1]);
      if (entries.length) rows.add(entries, -INF, row.capacity[t]!);
    }
  }

  const numCols = cols.cost.length;
  const model: LpModel = {
    numCols,
    numRows: rows.lower.length,
    colCost: Float64Array.from(cols.cost),
    colLower: Float64Array.from(cols.lower),
    colUpper: Float64Array.from(cols.upper),
    rowLower: Float64Array.from(rows.lower),
    rowUpper: Float64Array.from(rows.upper),
    matrix: rows.csr(numCols),
  };
  return { model, layout: { slots: T, slotHours: dt, windows, lCol, peakCol, baseKw, fixedKw, capKw, prices } };
};

export interface VehiclePlan {
  readonly vehicleId: string;
  readonly known: boolean;
  readonly chargePointId: string | null;
  readonly connectorId: number | null;
  readonly transactionId: string | null;
  /** Expected plug-in time when not connected yet (no transaction, no profile). */
  readonly arrivalAt: number | null;
  /** Grid-side power per slot (kW). */
  readonly powerKw: readonly number[];
  /** Energy to add to the battery by departure (after the uncertainty margin), planned, and missing (kWh). */
  readonly targetKwh: number;
  readonly plannedKwh: number;
  readonly shortfallKwh: number;
  readonly departAt: number;
  readonly priority: number;
}

export interface Plan {
  readonly siteId: string;
  readonly horizonStart: number;
  readonly slotMinutes: number;
  readonly status: string;
  readonly objective: number;
  readonly solveMs: number;
  readonly gridLimitKw: number;
  /** Planned site load per slot, including base and fixed load (kW). */
  readonly siteKw: readonly number[];
  readonly vehicles: readonly VehiclePlan[];
  readonly energyCost: number;
  readonly peakKw: number;
}

/** A simplex basis (HiGHS status per column and row): a later solve of a model of the same shape starts from it. */
export interface SimplexBasis {
  readonly colStatus: Int32Array;
  readonly rowStatus: Int32Array;
}

export interface SolveOutput {
  readonly status: string;
  readonly colValue: Float64Array | null;
  readonly objective: number;
  readonly solveMs: number;
  /** The optimal basis, when solved by simplex or asked for (SolveOptions.withBasis). */
  readonly basis?: SimplexBasis | null;
}

const clean = (x: number): number => (Math.abs(x) < 1e-7 ? 0 : x);

/** Solver columns → Plan. Without a solution (solver failure) the caller falls back to a heuristic plan (baselines.ts). */
export const interpret = (s: SiteSnapshot, layout: Layout, out: SolveOutput & { colValue: Float64Array }): Plan => {
  const T = layout.slots;
  const powers = layout.windows.map((wdw) => {
    const p = new Array<number>(T).fill(0);
    for (let t = 0; t < T; t++) {
      if (wdw.planned && wdw.pCol[t]! >= 0) p[t] = clean(Math.max(0, out.colValue[wdw.pCol[t]!]!));
      else if (!wdw.planned && wdw.fixedKw > 0 && wdw.avail[t]! > 0) p[t] = wdw.fixedKw;
    }
    return p;
  });
  return planFromPowers(s, layout, powers, out.status, out.objective, out.solveMs);
};

/** A Plan from per-vehicle power series (aligned with layout.windows): shared by the LP and the heuristics. */
export const planFromPowers = (s: SiteSnapshot, layout: Layout, powers: readonly number[][], status: string, objective: number, solveMs: number): Plan => {
  const T = layout.slots;
  const dt = layout.slotHours;
  const siteKw = Array.from({ length: T }, (_, t) => layout.baseKw[t]! + (layout.fixedKw[t] ?? 0));
  let controllableKw = new Array<number>(T).fill(0);
  // Energy is bought only while a vehicle is plugged in; the planned load is the powers themselves (every instant).
  const energyKwh = new Array<number>(T).fill(0);
  const vehicles = layout.windows.map((wdw, i) => {
    const p = powers[i]!;
    let delivered = 0;
    for (let t = 0; t < T; t++) {
      if (wdw.planned) controllableKw[t]! += p[t]!;
      delivered += s.efficiency * dt * wdw.avail[t]! * p[t]!;
      energyKwh[t]! += dt * wdw.avail[t]! * p[t]!;
    }
    const plannedKwh = Math.min(delivered, wdw.needKwh);
    return {
      vehicleId: wdw.vehicle.vehicleId,
      known: wdw.vehicle.known,
      chargePointId: wdw.vehicle.chargePointId,
      connectorId: wdw.vehicle.connectorId,
      transactionId: wdw.vehicle.transactionId,
      arrivalAt: isConnected(wdw.vehicle, s.now) ? null : wdw.vehicle.arrivalAt,
      powerKw: p,
      targetKwh: wdw.needKwh,
      plannedKwh,
      shortfallKwh: clean(Math.max(0, wdw.needKwh - delivered)),
      departAt: wdw.vehicle.departAt,
      priority: wdw.vehicle.priority,
    };
  });
  controllableKw = controllableKw.map(clean);
  for (let t = 0; t < T; t++) siteKw[t]! += controllableKw[t]!;
  const energyCost = energyKwh.reduce((m, kwh, t) => m + clean(kwh) * layout.prices[t]!, 0);
  const peakKw = siteKw.reduce((m, kw) => Math.max(m, kw), 0);
  return { siteId: s.siteId, horizonStart: s.now, slotMinutes: s.slotMinutes, status, objective, solveMs, gridLimitKw: s.gridLimitKw, siteKw, vehicles, energyCost, peakKw };
};
