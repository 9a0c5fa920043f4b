import { acceptanceKw, charge, defaultBattery, drive } from './battery';
import { chargerPower, ChargerSpec } from './charger';
import { createClock, simNow, wallDelayUntil } from './clock';
import { createScenario, DAY_MS, planVisit } from './fleet';
import { compositeLimitW, compositeSchedule, fromOcpp16, fromOcpp201, installProfile, Profile } from './profile';
import { createRng } from './rng';
import { depotTariff, priceAt } from './tariff';
import { advance, initialState, setProfile, clearProfile, transactionAccepted, composite, siteLoadKw, Effect } from './depot';

const ac11: ChargerSpec = { id: 'CP1', protocol: 'ocpp1.6', maxPowerKw: 11, phases: 3, currentType: 'AC', iso15118: false, password: 'x', maxSchedulePeriods: 24, rateUnit: 'A' };
const e = { phases: 3, voltage: 230, ac: true };
const t0 = Date.parse('2026-03-02T16:00:00Z');
const tx = { connectorId: 1, transactionId: '42', startedAt: t0 };

const profile = (over: Partial<Profile>): Profile => ({
  id: 1, connectorId: 1, stackLevel: 0, purpose: 'TxProfile', kind: 'Absolute', startSchedule: t0, rateUnit: 'A',
  periods: [{ startPeriod: 0, limit: 16 }], receivedAt: t0, ...over,
});

describe('battery', () => {
  const b = defaultBattery(60, 11, 100, 0.2);
  test('accepts full power below the taper and tapers linearly to 10 % at 100 %', () => {
    expect(acceptanceKw(b, 50, false)).toBe(11);
    expect(acceptanceKw(b, 80, true)).toBe(100);
    expect(acceptanceKw(b, 90, true)).toBeCloseTo(55);
    expect(acceptanceKw(b, 100, false)).toBe(0);
  });
  test('charging adds energy after losses; driving consumes per km', () => {
    expect(charge(b, 50, 11, 3600000)).toBeCloseTo(50 + (11 * 0.92 * 100) / 60);
    expect(charge(b, 99, 11, 3600000)).toBe(100);
    expect(drive(b, 80, 150)).toBeCloseTo(30);
    expect(drive(b, 20, 500)).toBe(5);
  });
});

describe('charging profiles', () => {
  test('an A limit is per phase at 230 V and the highest stack level wins', () => {
    const ps = [profile({ id: 1, stackLevel: 0, periods: [{ startPeriod: 0, limit: 16 }] }), profile({ id: 2, stackLevel: 1, periods: [{ startPeriod: 0, limit: 10 }, { startPeriod: 600, limit: 32 }] })];
    expect(compositeLimitW(ps, t0 + 1000, e, tx)).toBe(10 * 3 * 230);
    expect(compositeLimitW(ps, t0 + 601000, e, tx)).toBe(32 * 3 * 230);
  });
  test('TxProfile overrides TxDefaultProfile; ChargePointMaxProfile caps both; other transactions are ignored', () => {
    const def = profile({ id: 3, purpose: 'TxDefaultProfile', connectorId: 0, periods: [{ startPeriod: 0, limit: 8 }] });
    const max = profile({ id: 4, purpose: 'ChargePointMaxProfile', connectorId: 0, rateUnit: 'W', periods: [{ startPeriod: 0, limit: 9000 }] });
    const txp = profile({ id: 5, transactionId: '42', periods: [{ startPeriod: 0, limit: 16 }] });
    const other = profile({ id: 6, transactionId: '7', stackLevel: 5, periods: [{ startPeriod: 0, limit: 6 }] });
    expect(compositeLimitW([def], t0, e, tx)).toBe(8 * 690);
    expect(compositeLimitW([def, txp, other], t0, e, tx)).toBe(16 * 690);
    expect(compositeLimitW([def, txp, max], t0, e, tx)).toBe(9000);
    expect(compositeLimitW([def], t0, e, { ...tx, transactionId: undefined })).toBe(8 * 690);
  });
  test('Relative profiles start with the transaction, Recurring daily ones repeat, duration and validTo end them', () => {
    const rel = profile({ kind: 'Relative', startSchedule: undefined, periods: [{ startPeriod: 0, limit: 6 }, { startPeriod: 3600, limit: 20 }] });
    expect(compositeLimitW([rel], t0 + 3600000, e, tx)).toBe(20 * 690);
    const daily = profile({ kind: 'Recurring', recurrency: 'Daily', startSchedule: t0 - 3 * DAY_MS, duration: 3600, periods: [{ startPeriod: 0, limit: 7 }] });
    expect(compositeLimitW([daily], t0 + 1000, e, tx)).toBe(7 * 690);
    expect(compositeLimitW([daily], t0 + 2 * 3600000, e, tx)).toBeUndefined();
    expect(compositeLimitW([profile({ validTo: t0 + 1000 })], t0 + 2000, e, tx)).toBeUndefined();
  });
  test('parses both OCPP versions and computes the composite schedule', () => {
    const p16 = fromOcpp16({ connectorId: 1, csChargingProfiles: { chargingProfileId: 9, transactionId: 42, stackLevel: 1, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Absolute', chargingSchedule: { startSchedule: new Date(t0).toISOString(), chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }, { startPeriod: 900, limit: 16 }] } } }, t0);
    expect(p16).toMatchObject({ id: 9, transactionId: '42', purpose: 'TxProfile', startSchedule: t0 });
    const p201 = fromOcpp201({ evseId: 0, chargingProfile: { id: 3, stackLevel: 0, chargingProfilePurpose: 'ChargingStationMaxProfile', chargingProfileKind: 'Absolute', chargingSchedule: [{ id: 1, startSchedule: new Date(t0).toISOString(), chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 8000 }] }] } }, t0);
    expect(p201.purpose).toBe('ChargePointMaxProfile');
    const sched = compositeSchedule(installProfile([p201], p16), t0, 3600, e, tx, 'W', 11000);
    expect(sched).toEqual([{ startPeriod: 0, limit: 6900 }, { startPeriod: 900, limit: 8000 }]);
  });
});

describe('charger', () => {
  const b = defaultBattery(60);
  test('power is the minimum of acceptance, hardware and profile', () => {
    expect(chargerPower(ac11, [], tx, t0, b, 50).powerKw).toBe(11);
    expect(chargerPower(ac11, [profile({ periods: [{ startPeriod: 0, limit: 10 }] })], tx, t0, b, 50).powerKw).toBeCloseTo(6.9);
    expect(chargerPower(ac11, [profile({ periods: [{ startPeriod: 0, limit: 32 }] })], tx, t0, b, 95).powerKw).toBeCloseTo(11 * (1 - 0.75 * 0.9));
  });
  test('below 6 A per phase it pauses; exactly 6 A charges', () => {
    expect(chargerPower(ac11, [profile({ periods: [{ startPeriod: 0, limit: 5.9 }] })], tx, t0, b, 50)).toMatchObject({ powerKw: 0, paused: true });
    expect(chargerPower(ac11, [profile({ periods: [{ startPeriod: 0, limit: 6 }] })], tx, t0, b, 50).powerKw).toBeCloseTo(4.14);
    expect(chargerPower(ac11, [profile({ rateUnit: 'W', periods: [{ startPeriod: 0, limit: 3000 }] })], tx, t0, b, 50).paused).toBe(true);
  });
});

describe('tariff and clock', () => {
  test('a daily time-of-use pattern, and the same shape on a compressed day', () => {
    const daily = depotTariff({ dayMs: DAY_MS, dayStartMs: 0, days: 1 });
    expect(priceAt(daily, Date.parse('2026-03-02T03:00:00Z'))).toBe(0.12);
    expect(priceAt(daily, Date.parse('2026-03-02T17:30:00Z'))).toBe(0.38);
    expect(priceAt(daily, Date.parse('2026-03-02T23:59:00Z'))).toBe(0.18);
    const compressed = depotTariff({ dayMs: 240000, dayStartMs: t0, days: 1 });
    expect(priceAt(compressed, t0 + 240000 * (17 / 24))).toBe(0.38);
    expect(priceAt(compressed, t0 + 240000 * (1 + 2 / 24))).toBe(0.12);
  });
  test('simulated time runs factor times faster', () => {
    const c = createClock(t0, 60, 1000);
    expect(simNow(c, 2000)).toBe(t0 + 60000);
    expect(wallDelayUntil(c, t0 + 120000, 1000)).toBe(2000);
  });
});

describe('fleet schedule', () => {
  test('the same seed gives the same depot; another seed another one', () => {
    const a = createScenario({ seed: 7, chargers: 20, vehicles: 25, startMs: t0 });
    const b = createScenario({ seed: 7, chargers: 20, vehicles: 25, startMs: t0 });
    const c = createScenario({ seed: 8, chargers: 20, vehicles: 25, startMs: t0 });
    expect(a).toEqual(b);
    expect(a.vehicles.map((v) => v.initialSocPct)).not.toEqual(c.vehicles.map((v) => v.initialSocPct));
    expect(a.chargers.filter((x) => x.protocol === 'ocpp2.0.1')).toHaveLength(8);
    expect(a.chargers.filter((x) => x.currentType === 'DC')).toHaveLength(2);
    expect(createRng(1).next()).toBe(createRng(1).next());
  });
  test('evening arrivals, morning departures, with late returns and early departures', () => {
    const s = createScenario({ seed: 3, chargers: 4, vehicles: 200, startMs: t0 - 4 * 3600000 });
    const visits = s.vehicles.map((v) => planVisit(s, v, 0, undefined));
    for (const v of visits) {
      const arrH = new Date(v.arriveAt).getUTCHours();
      expect(arrH).toBeGreaterThanOrEqual(16);
      expect(arrH).toBeLessThanOrEqual(21);
      expect(v.departAt).toBeLessThanOrEqual(v.plannedDepartAt);
      expect(v.plannedDepartAt - v.arriveAt).toBeGreaterThan(6 * 3600000);
      expect(v.requiredSocPct).toBeGreaterThanOrEqual(30);
    }
    expect(visits.filter((v) => v.lateReturn).length).toBeGreaterThan(10);
    expect(visits.filter((v) => v.earlyDeparture).length).toBeGreaterThan(5);
    const next = planVisit(s, s.vehicles[0]!, 1, visits[0]!.departAt);
    expect(next.arriveAt).toBeGreaterThan(visits[0]!.departAt);
  });
  test('a run starting with arrivals has vehicles between two shifts leaving 2-4 hours later', () => {
    const s = createScenario({ seed: 4, chargers: 20, vehicles: 100, startMs: t0, initialArrivalsWithinMs: 90000 });
    const dwellH = s.vehicles.map((v) => planVisit(s, v, 0, undefined)).map((v) => (v.plannedDepartAt - v.arriveAt) / 3600000);
    const short = dwellH.filter((h) => h <= 4);
    expect(short.length).toBeGreaterThan(20);
    expect(short.length).toBeLessThan(50);
    expect(Math.min(...dwellH)).toBeGreaterThanOrEqual(2);
  });
  test('a compressed day shrinks batteries and keeps the shape', () => {
    const s = createScenario({ seed: 3, chargers: 2, vehicles: 2, startMs: t0, dayMs: 240000 });
    expect(s.vehicles[0]!.battery.capacityKwh).toBeLessThan(0.5);
    const v = planVisit(s, s.vehicles[0]!, 0, undefined);
    expect(v.plannedDepartAt - v.arriveAt).toBeGreaterThan(240000 * 0.25);
    expect(v.plannedDepartAt - t0).toBeLessThan(2 * 240000);
  });
});

describe('depot step', () => {
  const scenario = createScenario({ seed: 11, chargers: 2, vehicles: 3, startMs: t0, initialArrivalsWithinMs: 60000, dcChargers: 0 });
  const kinds = (es: Effect[]) => es.map((x) => x.kind);

  test('vehicles arrive and plug in, the third waits; meter values at every interval instant', () => {
    const { state } = initialState(scenario, 10000);
    const r = advance(state, t0 + 61000);
    expect(kinds(r.effects).filter((k) => k === 'plugIn')).toHaveLength(2);
    expect(r.state.queue).toHaveLength(1);
    const meters = r.effects.filter((x): x is Extract<Effect, { kind: 'meter' }> => x.kind === 'meter');
    expect(meters.every((m) => m.at % 10000 === 0)).toBe(true);
    expect(siteLoadKw(r.state)).toBeCloseTo(22);
  });

  test('the power follows a profile at once; a TxProfile without a transaction is rejected; clearing restores it', () => {
    const { state } = initialState(scenario, 10000);
    let s = advance(state, t0 + 61000).state;
    const cp = scenario.chargers[0]!.id;
    const onCp = s.chargers[cp]!;
    s = transactionAccepted(s, cp, onCp.tx!.localId, '77');
    const p = profile({ id: 20, transactionId: '77', startSchedule: s.t, periods: [{ startPeriod: 0, limit: 8 }] });
    const r = setProfile(s, cp, p);
    expect(r.status).toBe('Accepted');
    expect(r.state.chargers[cp]!.powerKw).toBeCloseTo(8 * 0.69);
    expect(composite(r.state, cp, 600, 'A')!.periods).toEqual([{ startPeriod: 0, limit: 8 }]);
    const cp2 = scenario.chargers[1]!.id;
    const s2 = transactionAccepted(s, cp2, s.chargers[cp2]!.tx!.localId, '78');
    expect(setProfile(s2, cp2, { ...p, transactionId: '999' }).status).toBe('Rejected');
    expect(setProfile(state, cp2, p).status).toBe('Rejected');
    const paused = setProfile(r.state, cp, { ...p, periods: [{ startPeriod: 0, limit: 4 }] });
    expect(paused.state.chargers[cp]!).toMatchObject({ powerKw: 0, status: 'SuspendedEVSE' });
    const cleared = clearProfile(paused.state, cp, { purpose: 'TxProfile' });
    expect(cleared.cleared).toBe(1);
    expect(cleared.state.chargers[cp]!.powerKw).toBe(11);
  });

  test('a day runs to departures; each departure records its SoC; deterministic', () => {
    const run = () => {
      const { state } = initialState(scenario, 60000);
      return advance(state, t0 + DAY_MS, 10000);
    };
    const a = run();
    const b = run();
    expect(a.state.departures.length).toBeGreaterThanOrEqual(3);
    expect(a.state.departures).toEqual(b.state.departures);
    for (const d of a.state.departures) expect(d.socPct).toBeGreaterThan(d.arrivedSocPct);
    expect(kinds(a.effects)).toContain('unplug');
  });
});
