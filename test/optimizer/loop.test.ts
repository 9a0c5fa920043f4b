import { createLogger } from '../../services/common/log';
import { ampsToKw } from '../../services/optimizer/snapshot';
import { Topics } from '../../schemas/topics';
import { createScenario } from '../../services/simulator/model/fleet';
import { createSimulator, Simulator } from '../../services/simulator/simulator';
import { Traffic } from '../../services/simulator/ocpp-charger';
import { uniq, waitForValue } from '../support/stack';
import { readWholeTopic } from '../e2e/support/log';
import { startSystem, System } from '../e2e/support/system';

/** The optimizer's loop on the real stack: a simulated OCPP 1.6J charger (a third-party client library) and its
 *  vehicle plug in, the optimizer's SetChargingProfile reaches the charger through the gateway, the charger's metered
 *  power follows the profile's limit, and the plan is on optimizer.plans. The site limit (7 kW) is below the
 *  charger's 11 kW, so following the profile is visible in the meter values. */
jest.setTimeout(240000);

interface TxProfile16 {
  chargingProfilePurpose: string;
  chargingSchedule: { chargingRateUnit: 'A' | 'W'; numberPhases?: number; chargingSchedulePeriod: { startPeriod: number; limit: number }[] };
}

const powerKwOf = (t: Traffic): number | undefined => {
  const p = t.params as { meterValue?: { sampledValue: { measurand?: string; value: string }[] }[] };
  const w = p.meterValue?.flatMap((m) => m.sampledValue).find((s) => s.measurand === 'Power.Active.Import');
  return w ? Number(w.value) / 1000 : undefined;
};

describe('optimizer loop through the gateway', () => {
  let sys: System;
  let sim: Simulator;
  beforeAll(async () => {
    sys = await startSystem();
    const now = Date.now();
    // The simulated day starts at 02:00 (cheap night tariff), so the optimizer has a reason to charge now.
    const scenario = createScenario({ seed: 3, chargers: 1, vehicles: 1, startMs: now, dayStartMs: now - 2 * 3600_000, initialArrivalsWithinMs: 3000, idPrefix: uniq('LOOP'), share201: 0, dcChargers: 0, gridLimitKw: 7 });
    sim = createSimulator({ scenario, ocppUrl: sys.ocppUrl, api: { url: sys.apiUrl, adminKey: sys.config.adminKey }, meterIntervalS: 2, log: createLogger('simulator', 'warn') });
    await sim.start();
  });
  afterAll(async () => {
    await sim?.stop();
    await sys?.stop();
  });

  test('the TxProfile arrives at the charger, its power follows it, and the plan is on optimizer.plans', async () => {
    const cp = sim.scenario.chargers[0]!.id;
    const vehicle = sim.scenario.vehicles[0]!.id;
    // 1. The optimizer's TxProfile, delivered by the gateway to the charger and accepted.
    const delivered = await waitForValue(
      'an accepted TxProfile at the charger',
      () => sim.traffic.find((t) => t.chargerId === cp && t.direction === 'in' && t.method === 'SetChargingProfile' && (t.params as { csChargingProfiles: TxProfile16 }).csChargingProfiles.chargingProfilePurpose === 'TxProfile' && t.ok),
      120000,
    );
    const profile = (delivered.params as { csChargingProfiles: TxProfile16 }).csChargingProfiles.chargingSchedule;
    const first = profile.chargingSchedulePeriod[0]!.limit;
    const limitKw = profile.chargingRateUnit === 'A' ? ampsToKw(first, profile.numberPhases ?? 3) : first / 1000;
    expect(limitKw).toBeLessThanOrEqual(7 + 1e-6);

    // 2. The charger's metered power follows the limit (after it applied it; below 6 A a charger pauses).
    const following = await waitForValue(
      'meter values after the profile',
      () => {
        const after = sim.traffic.filter((t) => t.chargerId === cp && t.direction === 'out' && t.method === 'MeterValues' && t.wallAt > delivered.wallAt + 2500).map(powerKwOf).filter((kw): kw is number => kw !== undefined);
        return after.length >= 3 ? after : undefined;
      },
      60000,
    );
    const latestLimitKw = (() => {
      const last = sim.traffic.filter((t) => t.chargerId === cp && t.direction === 'in' && t.method === 'SetChargingProfile' && t.ok && (t.params as { csChargingProfiles: TxProfile16 }).csChargingProfiles.chargingProfilePurpose === 'TxProfile').pop()!;
      const s = (last.params as { csChargingProfiles: TxProfile16 }).csChargingProfiles.chargingSchedule;
      return s.chargingRateUnit === 'A' ? ampsToKw(s.chargingSchedulePeriod[0]!.limit, s.numberPhases ?? 3) : s.chargingSchedulePeriod[0]!.limit / 1000;
    })();
    for (const kw of following) expect(kw).toBeLessThanOrEqual(Math.max(limitKw, latestLimitKw) + 0.05);
    const lastKw = following[following.length - 1]!;
    const expected = latestLimitKw < ampsToKw(6, 3) ? 0 : latestLimitKw;
    expect(Math.abs(lastKw - expected)).toBeLessThanOrEqual(Math.max(0.3, 0.05 * expected));

    // 3. The plan that decided it, on optimizer.plans, names the vehicle on this charger, within the grid limit.
    const plans = await readWholeTopic<{ siteId: string; gridLimitKw: number; siteKw: number[]; vehicles: { vehicleId: string; chargePointId: string | null }[] }>(sys.config, Topics.optimizerPlans, (k) => k === sim.scenario.siteId);
    const mine = plans.filter((p) => p.vehicles.some((v) => v.chargePointId === cp));
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.some((p) => p.vehicles.some((v) => v.chargePointId === cp && v.vehicleId === vehicle))).toBe(true);
    for (const p of mine) for (const kw of p.siteKw) expect(kw).toBeLessThanOrEqual(p.gridLimitKw + 1e-6);
  });
});
