import { Plan } from './formulation';
import { planSite } from './planner';
import { createInProcessSolver, Solver } from './solver';
import { heuristicPlan } from './baselines';
import { charger, site, vehicle, SLOT_MS, T0 } from './fixtures';
import { isBlind, plannedBaseLoadKw } from './building-load';
import { fallbackShareKw, panelPath, siteLimitKw } from './limits';
import { assignPhases, rotationOf } from './phases';
import { safeCapCommands, txProfileCommands } from './profiles';
import { BuildingLoad, SiteSnapshot, kwToAmps } from './snapshot';

/** The whole site's limits (issue 17): panels, phases, external limits and the building's load, given/when/then, no I/O. */
let solver: Solver;
beforeAll(async () => {
  solver = await createInProcessSolver();
});

const solve = async (s: SiteSnapshot): Promise<Plan> => {
  const { plan, fallbackReason } = await planSite(s, solver);
  expect(fallbackReason).toBeNull();
  return plan;
};
const power = (p: Plan, id: string) => p.vehicles.find((v) => v.vehicleId === id)!.powerKw;
const EPS = 1e-6;
const hungry = (id: string, o: Parameters<typeof vehicle>[1] = {}) => vehicle(id, { chargePointId: id, targetKwh: 100, socPct: 0, taper: { kneeSocPct: 100, endPowerFraction: 1 }, ...o });

describe('panels', () => {
  test('given nested panels, when every vehicle wants full power, then each panel carries at most its limit, children counted in the parent', async () => {
    // Given: feeder f (15 kW) feeds board b (8 kW); a and b1 on board b, c on feeder f, d on the connection.
    const s = site({
      gridLimitKw: 100,
      panels: [
        { panelId: 'f', limitKw: 15 },
        { panelId: 'b', limitKw: 8, parentPanelId: 'f' },
      ],
      chargers: [charger('a', { panelId: 'b' }), charger('b1', { panelId: 'b' }), charger('c', { panelId: 'f' }), charger('d')],
      vehicles: ['a', 'b1', 'c', 'd'].map((id) => hungry(id)),
    });
    // When
    const plan = await solve(s);
    // Then
    for (let t = 0; t < 8; t++) {
      const onB = power(plan, 'a')[t]! + power(plan, 'b1')[t]!;
      expect(onB).toBeLessThanOrEqual(8 + EPS);
      expect(onB + power(plan, 'c')[t]!).toBeLessThanOrEqual(15 + EPS);
      expect(onB + power(plan, 'c')[t]!).toBeGreaterThan(15 - 1e-3);
      expect(power(plan, 'd')[t]!).toBeCloseTo(11, 6);
    }
    // and the heuristic fallback holds the same limits
    const edf = heuristicPlan(s, 'edf');
    for (let t = 0; t < 8; t++) expect(power(edf, 'a')[t]! + power(edf, 'b1')[t]! + power(edf, 'c')[t]!).toBeLessThanOrEqual(15 + EPS);
  });

  test('a cycle in the configuration ends the walk up the hierarchy', () => {
    const panels = new Map([
      ['x', { panelId: 'x', limitKw: 1, parentPanelId: 'y' }],
      ['y', { panelId: 'y', limitKw: 1, parentPanelId: 'x' }],
    ]);
    expect(panelPath(panels, 'x')).toEqual(['x', 'y']);
    expect(panelPath(panels, 'unknown')).toEqual([]);
  });
});

describe('phases', () => {
  test('given one-phase vehicles all on grid L1, when the connection allows 32 A per phase, then their current on L1 stays within 32 A', async () => {
    const s = site({
      gridLimitKw: 100,
      maxCurrentA: 32,
      chargers: ['a', 'b', 'c'].map((id) => charger(id, { maxPowerKw: 22 })),
      vehicles: ['a', 'b', 'c'].map((id) => hungry(id, { acPhases: 1, maxAcKw: 7.4 })),
    });
    const plan = await solve(s);
    for (let t = 0; t < 8; t++) {
      const amps = ['a', 'b', 'c'].reduce((m, id) => m + kwToAmps(power(plan, id)[t]!, 1), 0);
      expect(amps).toBeLessThanOrEqual(32 + 1e-4);
      expect(amps).toBeGreaterThan(32 - 1e-3);
    }
  });

  test('given the same vehicles on chargers rotated RST, STR, TRS, then each has a phase of its own and charges at the charger full current on it', async () => {
    const s = site({
      gridLimitKw: 100,
      maxCurrentA: 32,
      chargers: [charger('a', { maxPowerKw: 22, phaseRotation: 'RST' }), charger('b', { maxPowerKw: 22, phaseRotation: 'STR' }), charger('c', { maxPowerKw: 22, phaseRotation: 'TRS' })],
      vehicles: ['a', 'b', 'c'].map((id) => hungry(id, { acPhases: 1, maxAcKw: 7.4 })),
    });
    expect(assignPhases(s).get('b')!.gridPhases).toEqual([1]);
    const plan = await solve(s);
    for (const id of ['a', 'b', 'c']) expect(power(plan, id)[0]!).toBeCloseTo(22 / 3, 6);
  });

  test('a one-phase vehicle on an 11 kW three-phase charger gets one phase of it (15.9 A, 3.67 kW), and its profile says numberPhases 1', async () => {
    const s = site({ chargers: [charger('a')], vehicles: [hungry('a', { acPhases: 1 })] });
    const plan = await solve(s);
    expect(power(plan, 'a')[0]!).toBeCloseTo(11 / 3, 6);
    const [cmd] = txProfileCommands(s, plan, 'p');
    const periods = (cmd!.payload as { csChargingProfiles: { chargingSchedule: { chargingSchedulePeriod: { limit: number; numberPhases: number }[] } } }).csChargingProfiles.chargingSchedule.chargingSchedulePeriod;
    expect(periods[0]).toEqual({ startPeriod: 0, limit: 15.9, numberPhases: 1 });
  });

  test('given one-phase vehicles on 2.0.1 chargers that switch phases, then they are spread over the grid phases and told phaseToUse', async () => {
    const s = site({
      gridLimitKw: 100,
      maxCurrentA: 16,
      chargers: ['a', 'b', 'c'].map((id) => charger(id, { protocol: 'ocpp2.0.1', phaseSwitching: true })),
      vehicles: ['a', 'b', 'c'].map((id) => hungry(id, { acPhases: 1 })),
    });
    const use = assignPhases(s);
    expect(['a', 'b', 'c'].map((id) => use.get(id)!.gridPhases[0])).toEqual([0, 1, 2]);
    const plan = await solve(s);
    for (const id of ['a', 'b', 'c']) expect(power(plan, id)[0]!).toBeCloseTo(11 / 3, 6);
    const cmds = txProfileCommands(s, plan, 'p');
    const firstPeriod = (id: string) =>
      (cmds.find((c) => c.chargePointId === id)!.payload as { chargingProfile: { chargingSchedule: { chargingSchedulePeriod: Record<string, number>[] }[] } }).chargingProfile.chargingSchedule[0]!.chargingSchedulePeriod[0];
    expect(firstPeriod('c')).toEqual({ startPeriod: 0, limit: 15.9, numberPhases: 1, phaseToUse: 3 });
  });

  test('a rotation that is not a permutation of RST is read as RST', () => {
    expect(rotationOf(charger('a', { phaseRotation: 'RRT' }))).toEqual([0, 1, 2]);
    expect(rotationOf(charger('a', { phaseRotation: 'tsr' }))).toEqual([2, 1, 0]);
  });
});

describe('external limits', () => {
  test('given an EMS limit of 4 kW on a charger for slots 2-3, then its vehicle is held to it there and the rest go elsewhere', async () => {
    const s = site({
      gridLimitKw: 15,
      chargers: [charger('a', { externalLimits: [{ from: T0 + 2 * SLOT_MS, to: T0 + 4 * SLOT_MS, limitKw: 4, source: 'EMS' }] }), charger('b')],
      vehicles: [hungry('a'), hungry('b')],
    });
    const plan = await solve(s);
    expect(power(plan, 'a')[2]!).toBeLessThanOrEqual(4 + EPS);
    expect(power(plan, 'a')[3]!).toBeLessThanOrEqual(4 + EPS);
    expect(power(plan, 'b')[2]!).toBeCloseTo(11, 6);
    expect(power(plan, 'a')[5]! + power(plan, 'b')[5]!).toBeCloseTo(15, 6);
  });

  test('given a demand-response event of 8 kW over part of slots 4-5, then the site stays under 8 kW in both, building included', async () => {
    const s = site({
      gridLimitKw: 30,
      baseLoadKw: [3],
      limitEvents: [{ from: T0 + 4 * SLOT_MS + 60000, to: T0 + 5 * SLOT_MS + 60000, limitKw: 8, source: 'demand-response' }],
      chargers: [charger('a'), charger('b')],
      vehicles: [hungry('a'), hungry('b')],
    });
    expect([...siteLimitKw(s, 7)]).toEqual([30, 30, 30, 30, 8, 8, 30]);
    const plan = await solve(s);
    expect(plan.siteKw[4]!).toBeLessThanOrEqual(8 + EPS);
    expect(plan.siteKw[5]!).toBeLessThanOrEqual(8 + EPS);
    expect(plan.siteKw[3]!).toBeCloseTo(25, 6);
  });
});

describe('safe when blind', () => {
  const building = (o: Partial<BuildingLoad> = {}): BuildingLoad => ({
    expectedKw: [5, 5, 12, 12],
    upperKw: [8, 8, 18, 18],
    measuredKw: 6,
    measuredAt: T0 - 60000,
    recentPeakKw: 20,
    blindAfterMs: 5 * 60000,
    ...o,
  });

  test('with the meter heard a minute ago, the plan counts the expected load, and in slot 0 what the meter says', () => {
    const s = site({ buildingLoad: building() });
    expect(isBlind(s)).toBe(false);
    expect([...plannedBaseLoadKw(s, 5)]).toEqual([6, 5, 12, 12, 12]);
  });

  test('with the meter silent for 10 minutes (or never heard), the plan counts the upper quantile', async () => {
    for (const b of [building({ measuredAt: T0 - 10 * 60000 }), building({ measuredAt: null, measuredKw: null })]) {
      const s = site({ gridLimitKw: 30, buildingLoad: b, chargers: [charger('a'), charger('b')], vehicles: [hungry('a'), hungry('b')] });
      expect(isBlind(s)).toBe(true);
      expect([...plannedBaseLoadKw(s, 4)]).toEqual([8, 8, 18, 18]);
      const plan = await solve(s);
      expect(plan.siteKw[2]!).toBeLessThanOrEqual(30 + EPS);
      expect(power(plan, 'a')[2]! + power(plan, 'b')[2]!).toBeCloseTo(12, 6);
    }
  });

  test('the fallback caps leave room for the building at its recent peak: the chargers together stay within the limit', () => {
    const s = site({ gridLimitKw: 40, buildingLoad: building(), chargers: [charger('a'), charger('b', { maxPowerKw: 22 })], vehicles: [] });
    const total = s.chargers.reduce((m, c) => m + fallbackShareKw(s, c), 0);
    expect(total).toBeCloseTo(20, 6);
    const caps = safeCapCommands(s, s.chargers[0]!, T0);
    const txDefault = caps[1]!.payload as { csChargingProfiles: { chargingProfilePurpose: string; chargingSchedule: { chargingSchedulePeriod: { limit: number }[] } } };
    expect(txDefault.csChargingProfiles.chargingProfilePurpose).toBe('TxDefaultProfile');
    // 20 kW × 11/33 = 6.67 kW = 9.6 A per phase
    expect(txDefault.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0]!.limit).toBe(9.6);
  });

  test('when blind, the caps leave room for the forecast upper quantile too; a limit event in force lowers them', () => {
    const blind = site({ gridLimitKw: 40, buildingLoad: building({ measuredAt: null, measuredKw: null, recentPeakKw: 0 }), chargers: [charger('a')] });
    expect(fallbackShareKw(blind, blind.chargers[0]!)).toBeCloseTo(11, 6);
    const squeezed = site({ ...blind, limitEvents: [{ from: T0, to: T0 + SLOT_MS, limitKw: 25, source: 'demand-response' }] });
    expect(fallbackShareKw(squeezed, squeezed.chargers[0]!)).toBeCloseTo(7, 6);
  });
});
