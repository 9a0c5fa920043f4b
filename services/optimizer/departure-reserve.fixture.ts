import { departureReserve, ExpectedVehicle } from './departure-reserve';
import { charger, site, T0, vehicle } from './fixtures';
import { planSite } from './planner';
import { defaultWeights, SiteSnapshot } from './snapshot';
import { Solver } from './solver';

/** The late-vehicle scenario of the departure reserve, shared by departure-reserve.test.ts (reserves given by hand)
 *  and forecast-plan.test.ts (the reserve the optimizer's snapshot derives from a history). */

export const HOUR = 3600_000;
export const q = (p10: number, p50: number, p90: number) => ({ p10, p50, p90 });
export const horizon = { now: T0, slotMinutes: 15, slots: 48, efficiency: 0.9 };

/** Back between 2 and 6 h from now, leaving 10 to 11 h from now, needing 20 to 60 kWh, drawing up to 22 kW. */
export const late: ExpectedVehicle = { vehicleId: 'late', returnAt: q(T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 6 * HOUR), departAt: q(T0 + 10 * HOUR, T0 + 10.5 * HOUR, T0 + 11 * HOUR), energyNeedKwh: q(20, 40, 60), maxKw: 22 };

// 30 kW site, power cheap from 6 h to 10 h. Present: P, 60 kWh to charge by 10 h. Expected: the late vehicle, back
// at 6 h (p90) with 60 kWh (p90) to charge by 10 h, not in the snapshot yet (no session, no ETA).
const prices = Array.from({ length: 40 }, (_, t) => (t < 24 ? 0.3 : 0.1));
export const base = (o: Partial<SiteSnapshot>): SiteSnapshot =>
  site({ gridLimitKw: 30, efficiency: 0.9, pricePerKwh: prices, weights: { ...defaultWeights(0.3), readinessSocPct: 0 }, chargers: [charger('a', { maxPowerKw: 22 }), charger('b', { maxPowerKw: 22 })], ...o });
export const p = (o: Parameters<typeof vehicle>[1] = {}) => vehicle('P', { chargePointId: 'a', batteryCapacityKwh: 200, socPct: 25, targetKwh: 110, maxAcKw: 22, departAt: T0 + 10 * HOUR, ...o });

/** The late vehicle's reserve in this scenario, by hand: back at 6 h (p90), leaving at 10 h. */
export const scenarioReserve = () => departureReserve([{ ...late, returnAt: q(T0 + 4 * HOUR, T0 + 5 * HOUR, T0 + 6 * HOUR), departAt: q(T0 + 10 * HOUR, T0 + 10 * HOUR, T0 + 10 * HOUR) }], { ...horizon, slots: 40 });

/** Plans from T0 with what `kept` adds to the snapshot (a reserve, limit events, or nothing), runs P's plan until the
 *  late vehicle is back at 6 h, plans again with both; the energy both are short at 10 h. */
export const shortAtDeparture = async (solver: Solver, kept: Partial<SiteSnapshot>): Promise<{ short: number; firstPlanPKw: readonly number[] }> => {
  const first = await planSite(base({ vehicles: [p()], ...kept }), solver);
  const pKw = first.plan.vehicles.find((v) => v.vehicleId === 'P')!.powerKw;
  const delivered = pKw.slice(0, 24).reduce((s, kw) => s + kw * 0.25 * 0.9, 0);
  const second = await planSite(
    base({
      now: T0 + 6 * HOUR,
      pricePerKwh: [0.1],
      vehicles: [p({ socPct: 25 + (100 * delivered) / 200 }), vehicle('late', { chargePointId: 'b', batteryCapacityKwh: 200, socPct: 20, targetKwh: 100, maxAcKw: 22, departAt: T0 + 10 * HOUR })],
    }),
    solver,
  );
  return { short: second.plan.vehicles.reduce((s, v) => s + v.shortfallKwh, 0), firstPlanPKw: pKw };
};
