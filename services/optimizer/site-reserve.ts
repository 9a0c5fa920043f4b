import { forecastSome, HistoryOf, localTime, VehicleForecast } from '../../streams/projections/vehicle-forecast/stats';
import { DepartureReserve, departureReserve, ExpectedVehicle } from './departure-reserve';
import { ChargerSnapshot } from './snapshot';
import { FleetState } from './state';

/** The reserve a site keeps for its vehicles the plan does not see (neither plugged in nor expected by an ETA or a
 *  scheduled departure), from their forecasts, pure: `siteReserve(state, input)` → departure-reserve.ts's per-slot kW
 *  and the vehicles at risk.
 *
 *  A vehicle is in the reserve only when its forecast is trusted: its coming return (unless from an ETA) and departure
 *  (unless scheduled) come from a pool of at least `minSamples` observations (its own, its group's or its site's, per
 *  stats.ts), and the forecast knows its energy need. The statistics are computed once per call, for the absent
 *  vehicles only; the pools they fall back to are built from every vehicle of the site with a history. */

export const FORECAST_MIN_SAMPLES = 5;

export interface SiteReserveInput {
  readonly siteId: string;
  readonly timeZone: string;
  readonly now: number;
  readonly slotMinutes: number;
  readonly slots: number;
  readonly efficiency: number;
  readonly chargers: readonly ChargerSnapshot[];
  /** The site's vehicles the plan does not see. */
  readonly absent: readonly string[];
  readonly minSamples?: number;
}

/** The coming return, departure and need of a forecast, when trusted (see above). */
export const expectedOf = (f: VehicleForecast, maxKw: number, minSamples: number): ExpectedVehicle | null => {
  const n = f.next;
  if (n.atDepot || !n.returnAt || !n.departAt || !n.energyNeedKwh) return null;
  const weekday = (at: number) => f.weekdays[localTime(at, f.timeZone).weekday]!;
  const samples = (d: { samples: number } | null) => d?.samples ?? 0;
  if (n.returnSource !== 'eta' && samples(weekday(n.returnAt.p50).returnMinute) < minSamples) return null;
  if (n.departureSource !== 'scheduled' && samples(weekday(n.departAt.p50).departureMinute) < minSamples) return null;
  return { vehicleId: f.vehicleId, returnAt: n.returnAt, departAt: n.departAt, energyNeedKwh: n.energyNeedKwh, maxKw };
};

/** The most a vehicle can draw on the site's chargers (grid side), kW. */
const maxKwOn = (chargers: readonly ChargerSnapshot[], maxAcKw: number, maxDcKw: number): number =>
  chargers.reduce((m, c) => Math.max(m, Math.min(c.maxPowerKw, c.currentType === 'DC' ? maxDcKw : maxAcKw)), 0);

const none = (slots: number): DepartureReserve => ({ reserveKw: new Array<number>(slots).fill(0), vehicles: [], atRisk: [] });

export const siteReserve = (s: FleetState, r: SiteReserveInput): DepartureReserve => {
  const absent = r.absent.filter((v) => s.histories.has(v));
  if (absent.length === 0) return none(r.slots);
  const histories: HistoryOf[] = [];
  for (const v of s.vehicles.values()) {
    const history = v.siteId === r.siteId ? s.histories.get(v.vehicleId) : undefined;
    if (history) histories.push({ vehicleId: v.vehicleId, history });
  }
  const minSamples = r.minSamples ?? FORECAST_MIN_SAMPLES;
  const of = absent.map((vehicleId) => ({ vehicleId, history: s.histories.get(vehicleId)! }));
  const expected = forecastSome(of, histories, { timeZone: r.timeZone, now: r.now, minSamples }).flatMap((f) => {
    const v = s.vehicles.get(f.vehicleId)!;
    const e = expectedOf(f, maxKwOn(r.chargers, v.maxAcPowerKw, v.maxDcPowerKw), minSamples);
    return e ? [e] : [];
  });
  return departureReserve(expected, { now: r.now, slotMinutes: r.slotMinutes, slots: r.slots, efficiency: r.efficiency });
};
