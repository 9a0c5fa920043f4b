import { Quantiles } from '../../streams/projections/vehicle-forecast/stats';
import { TimedLimit } from './snapshot';

/** Capacity kept for vehicles not back yet, pure: `departureReserve(expected, horizon)` → per slot the power (kW)
 *  to keep free for them, and the vehicles at risk with the reason.
 *
 *  A vehicle the planner does not see yet (no session, no telematics ETA) is expected from its forecast
 *  (streams/projections/vehicle-forecast/stats.ts `next`). The reserve is robust against its quantiles: it comes back
 *  late (return p90), leaves early (departure p10) and needs much (energy p90). Its need spread evenly over that
 *  window is the least power that serves it whatever else charges: need / (efficiency × window hours), at most the
 *  power it can draw; it is kept in every slot the window touches, since a slot's site limit holds at every instant.
 *  When the late-and-early window is empty, the window from the late return to the median departure is used, then
 *  median to median.
 *
 *  At risk, as early as the forecast says so:
 *  - `late-return`: its late return (p90) is not before its early departure (p10): it may have no time to charge;
 *  - `window-too-short`: even at its full power its large need does not fit its window (the shortfall in kWh);
 *  - `over-headroom`: with `headroomKw` given (what the site leaves for charging per slot), the reserves of a slot its
 *    window touches add up to more than that slot's headroom.
 *
 *  Where it plugs in (not wired yet, see the report of issue 18): services/optimizer/formulation.ts buildModel, where
 *  `capKw[t]` bounds L_t (the controllable site load): L_t ≤ capKw[t] − reserveKw[t], softened by a slack column per
 *  slot priced between the readiness weight and the shortfall weight, so a vehicle present is never left short for
 *  one that may come. `asLimitEvents` gives the hard form through the snapshot's limit events, with no model change. */

export interface ExpectedVehicle {
  readonly vehicleId: string;
  /** Epoch ms. */
  readonly returnAt: Quantiles;
  readonly departAt: Quantiles;
  /** Energy into the battery by the departure, kWh. */
  readonly energyNeedKwh: Quantiles;
  /** The most it can draw on the site's chargers (grid side), kW. */
  readonly maxKw: number;
}

export interface ReserveHorizon {
  /** Start of slot 0, epoch ms. */
  readonly now: number;
  readonly slotMinutes: number;
  readonly slots: number;
  /** Battery energy per grid kWh. */
  readonly efficiency: number;
  /** Power the site leaves for charging per slot (kW), after the building and the vehicles present; optional. */
  readonly headroomKw?: readonly number[];
}

export type RiskReason = 'late-return' | 'window-too-short' | 'over-headroom';

export interface VehicleAtRisk {
  readonly vehicleId: string;
  readonly reason: RiskReason;
  readonly detail: string;
  /** Energy that would be missing at its departure in the robust case (kWh), where known. */
  readonly shortKwh: number | null;
}

export interface VehicleReserve {
  readonly vehicleId: string;
  /** Power kept (kW) from `from` to `to` (epoch ms). */
  readonly kw: number;
  readonly from: number;
  readonly to: number;
  readonly energyKwh: number;
}

export interface DepartureReserve {
  /** Power to keep free per slot, kW. */
  readonly reserveKw: readonly number[];
  readonly vehicles: readonly VehicleReserve[];
  readonly atRisk: readonly VehicleAtRisk[];
}

const HOUR = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const round = (x: number) => Math.round(x * 100) / 100;

export const departureReserve = (expected: readonly ExpectedVehicle[], h: ReserveHorizon): DepartureReserve => {
  const slotMs = h.slotMinutes * 60_000;
  const reserveKw = new Array<number>(h.slots).fill(0);
  const slotsOf = new Map<string, [number, number]>();
  const vehicles: VehicleReserve[] = [];
  const atRisk: VehicleAtRisk[] = [];
  for (const v of [...expected].sort((a, b) => (a.vehicleId < b.vehicleId ? -1 : a.vehicleId > b.vehicleId ? 1 : 0))) {
    const need = Math.max(0, v.energyNeedKwh.p90);
    const windows: [number, number][] = [
      [v.returnAt.p90, v.departAt.p10],
      [v.returnAt.p90, v.departAt.p50],
      [v.returnAt.p50, v.departAt.p50],
    ];
    const robust = windows[0]![1] > windows[0]![0];
    if (!robust)
      atRisk.push({ vehicleId: v.vehicleId, reason: 'late-return', detail: `may return (p90 ${iso(v.returnAt.p90)}) after it is due to leave (p10 ${iso(v.departAt.p10)})`, shortKwh: null });
    const w = windows.find(([a, b]) => b > a);
    if (!w || need <= 1e-9 || v.maxKw <= 0) continue;
    const from = Math.max(w[0], h.now);
    const to = w[1];
    if (to <= from) continue;
    const hours = (to - from) / HOUR;
    const wanted = need / (h.efficiency * hours);
    const kw = Math.min(wanted, v.maxKw);
    if (wanted > v.maxKw + 1e-9) {
      const shortKwh = need - v.maxKw * h.efficiency * hours;
      atRisk.push({ vehicleId: v.vehicleId, reason: 'window-too-short', detail: `needs ${round(need)} kWh (p90) in ${round(hours)} h: ${round(wanted)} kW, it can draw ${round(v.maxKw)} kW`, shortKwh: round(shortKwh) });
    }
    const first = Math.max(0, Math.floor((from - h.now) / slotMs));
    const last = Math.min(h.slots - 1, Math.ceil((to - h.now) / slotMs) - 1);
    for (let t = first; t <= last; t++) reserveKw[t]! += kw;
    if (first <= last) slotsOf.set(v.vehicleId, [first, last]);
    vehicles.push({ vehicleId: v.vehicleId, kw, from, to, energyKwh: need });
  }
  if (h.headroomKw) {
    const headroom = h.headroomKw;
    const over = reserveKw.map((r, t) => r > (headroom[Math.min(t, headroom.length - 1)] ?? Infinity) + 1e-9);
    for (const [vehicleId, [first, last]] of slotsOf) {
      const t = over.findIndex((o, k) => o && k >= first && k <= last);
      if (t < 0) continue;
      const room = headroom[Math.min(t, headroom.length - 1)]!;
      atRisk.push({ vehicleId, reason: 'over-headroom', detail: `the reserves of the slot from ${iso(h.now + t * slotMs)} add up to ${round(reserveKw[t]!)} kW, the site leaves ${round(room)} kW`, shortKwh: null });
    }
  }
  return { reserveKw, vehicles, atRisk };
};

/** The hard form of the reserve, with no change to the model: per slot with a reserve, a limit event lowering the
 *  connection limit by it (the lowest limit in force holds; building load still counts against it). */
export const asLimitEvents = (r: DepartureReserve, gridLimitKw: number, now: number, slotMinutes: number): TimedLimit[] =>
  r.reserveKw.flatMap((kw, t) =>
    kw > 0 ? [{ from: now + t * slotMinutes * 60_000, to: now + (t + 1) * slotMinutes * 60_000, limitKw: Math.max(0, gridLimitKw - kw), source: 'departure-reserve' }] : [],
  );
