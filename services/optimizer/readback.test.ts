import { compositeLimitKw } from './inputs';
import { planRecord } from './outputs';
import { charger, site, vehicle } from './fixtures';
import { heuristicPlan } from './baselines';

describe('closing the loop', () => {
  test('GetCompositeSchedule answers of 1.6 and 2.0.1 → the limit in force, in kW', () => {
    const ac = charger('a');
    const r16 = { status: 'Accepted', connectorId: 1, scheduleStart: '2026-01-05T00:00:00Z', chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16, numberPhases: 3 }] } };
    expect(compositeLimitKw(ac, JSON.stringify(r16))).toBeCloseTo(11.04);
    const r201 = { status: 'Accepted', schedule: { evseId: 1, duration: 900, scheduleStart: '2026-01-05T00:00:00Z', chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7400 }] } };
    expect(compositeLimitKw(ac, JSON.stringify(r201))).toBeCloseTo(7.4);
    expect(compositeLimitKw(ac, JSON.stringify({ status: 'Rejected' }))).toBeNull();
    expect(compositeLimitKw(ac, 'not json')).toBeNull();
  });

  test('the optimizer.plans record carries the plan and the snapshot it came from', () => {
    const s = site({ chargers: [charger('a')], vehicles: [vehicle('v', { chargePointId: 'a' })] });
    const r = planRecord('p1', 'plug-in', s.now, heuristicPlan(s, 'edf'), s);
    expect(r).toMatchObject({ planId: 'p1', siteId: 'site', trigger: 'plug-in', slotMinutes: 15, status: 'edf', objective: 0 });
    expect(JSON.parse(r.inputsJson as string)).toEqual(JSON.parse(JSON.stringify(s)));
  });
});
