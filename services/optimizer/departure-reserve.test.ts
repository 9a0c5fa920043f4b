import { historyOf, Routine } from '../../streams/projections/vehicle-forecast/history-fixture';
import { forecastVehicle, localInstant } from '../../streams/projections/vehicle-forecast/stats';
import { asLimitEvents, departureReserve, ExpectedVehicle } from './departure-reserve';
import { base, horizon, HOUR, late, p, q, scenarioReserve, shortAtDeparture as shortWith } from './departure-reserve.fixture';
import { charger, SLOT_MS, T0 } from './fixtures';
import { planSite } from './planner';
import { createInProcessSolver, Solver } from './solver';

describe('departure reserve', () => {
  it('keeps capacity for a late, large need: its p90 need spread over late return to early departure', () => {
    const r = departureReserve([late], horizon);
    const kw = 60 / (0.9 * 4);
    r.reserveKw.forEach((x, t) => expect(x).toBeCloseTo(t >= 24 && t < 40 ? kw : 0));
    expect(r.vehicles).toEqual([{ vehicleId: 'late', kw: expect.closeTo(kw), from: T0 + 6 * HOUR, to: T0 + 10 * HOUR, energyKwh: 60 }]);
    expect(r.atRisk).toEqual([]);
  });

  it('adds up the vehicles’ reserves per slot, and names those at risk with the reason', () => {
    const big: ExpectedVehicle = { ...late, vehicleId: 'big', energyNeedKwh: q(60, 80, 100) };
    const crossed: ExpectedVehicle = { ...late, vehicleId: 'crossed', returnAt: q(T0 + 8 * HOUR, T0 + 9 * HOUR, T0 + 10.25 * HOUR), energyNeedKwh: q(5, 5, 5) };
    const r = departureReserve([late, big, crossed], { ...horizon, headroomKw: [35] });
    expect(r.reserveKw[30]).toBeCloseTo(60 / 3.6 + 22);
    // crossed: back at p90 after its p10 departure; planned from its late return to its median departure.
    expect(r.vehicles.find((v) => v.vehicleId === 'crossed')).toMatchObject({ from: T0 + 10.25 * HOUR, to: T0 + 10.5 * HOUR, kw: 22 });
    expect(r.atRisk.map((a) => [a.vehicleId, a.reason])).toEqual([
      ['big', 'window-too-short'],
      ['crossed', 'late-return'],
      ['crossed', 'window-too-short'],
      ['big', 'over-headroom'],
      ['late', 'over-headroom'],
    ]);
    expect(r.atRisk[0]!.shortKwh).toBeCloseTo(100 - 22 * 0.9 * 4);
  });

  it('reserves from a forecast learned from a history: a vehicle back late on Mondays is kept for from its p90 return', () => {
    const tz = 'Europe/Berlin';
    const monday = Date.UTC(2026, 10, 1, 23, 0);
    const workday = (d: number) => (1 + d) % 7 >= 1 && (1 + d) % 7 <= 5;
    const routine: Routine = {
      vehicleId: 'V1', siteId: 'north', batteryCapacityKwh: 80, timeZone: tz, from: monday, days: 42,
      // Back between 19:00 and 21:30 with 15-25 %, out at 05:00 needing 90 %.
      returnOn: (d) => (workday(d) ? { minute: 19 * 60 + 30 * Math.floor(d / 7), socPct: 25 - 2 * Math.floor(d / 7) } : null),
      departNextDay: (d) => (workday(d + 1) ? { minute: 5 * 60, requiredSocPct: 90 } : null),
    };
    const now = localInstant(monday, 42, 12 * 60, tz);
    const f = forecastVehicle('V1', [{ vehicleId: 'V1', history: historyOf(routine, now) }], { timeZone: tz, now })!.next;
    const expected: ExpectedVehicle = { vehicleId: 'V1', returnAt: f.returnAt!, departAt: f.departAt!, energyNeedKwh: f.energyNeedKwh!, maxKw: 11 };
    const r = departureReserve([expected], { now, slotMinutes: 15, slots: 96, efficiency: 0.9 });
    const from = localInstant(now, 0, 19 * 60 + 30 * 4.5, tz); // p90 of 19:00 … 21:30 = 21:15
    const to = localInstant(now, 1, 5 * 60, tz);
    expect(r.vehicles).toEqual([{ vehicleId: 'V1', from, to, kw: expect.closeTo(((90 - 16) * 0.8) / (0.9 * ((to - from) / HOUR))), energyKwh: expect.closeTo((90 - 16) * 0.8) }]);
    expect(r.reserveKw.findIndex((x) => x > 0)).toBe((from - now) / SLOT_MS);
  });
});

describe('departure reserve in the plan (hard form, limit events): the late vehicle leaves ready', () => {
  let solver: Solver;
  beforeAll(async () => {
    solver = await createInProcessSolver();
  });

  /** The scenario (departure-reserve.fixture.ts) with its reserve by hand: as limit events, in the LP, or none. */
  const shortAtDeparture = (withReserve: boolean | 'in-the-LP') => {
    const reserve = scenarioReserve();
    return shortWith(solver, withReserve === 'in-the-LP' ? { reserveKw: reserve.reserveKw } : { limitEvents: withReserve ? asLimitEvents(reserve, 30, T0, 15) : [] });
  };

  it('without the reserve P takes the cheap hours and the late vehicle is short; with it P leaves the reserve free and both leave ready', async () => {
    const without = await shortAtDeparture(false);
    expect(without.short).toBeGreaterThan(10);
    const kept = await shortAtDeparture(true);
    expect(kept.short).toBeLessThan(1e-6);
    const reserveKw = 60 / (0.9 * 4);
    for (let t = 24; t < 40; t++) expect(kept.firstPlanPKw[t]!).toBeLessThanOrEqual(30 - reserveKw + 1e-6);
  });

  it('the same kept by the LP itself (SiteSnapshot.reserveKw, priced above cost): both leave ready', async () => {
    const kept = await shortAtDeparture('in-the-LP');
    expect(kept.short).toBeLessThan(1e-6);
    const reserveKw = 60 / (0.9 * 4);
    for (let t = 24; t < 40; t++) expect(kept.firstPlanPKw[t]!).toBeLessThanOrEqual(30 - reserveKw + 1e-6);
  });

  it('a vehicle present is never left short for one that may come: the LP eats into the reserve instead', async () => {
    // From 6 h: P must take the whole 30 kW until 10 h to leave ready (108 kWh at 0.9), while a reserve of 16.7 kW is
    // asked for all of those slots.
    const reserveKw = Array.from({ length: 16 }, () => 60 / (0.9 * 4));
    const plan = await planSite(
      base({ now: T0 + 6 * HOUR, pricePerKwh: [0.1], reserveKw, chargers: [charger('a', { maxPowerKw: 30 })], vehicles: [p({ maxAcKw: 30, socPct: 20, targetKwh: 40 + 108 })] }),
      solver,
    );
    expect(plan.fallbackReason).toBeNull();
    const pv = plan.plan.vehicles.find((v) => v.vehicleId === 'P')!;
    expect(pv.shortfallKwh).toBeLessThan(1e-6);
    for (const kw of pv.powerKw.slice(0, 16)) expect(kw).toBeCloseTo(30, 6);
  });
});
