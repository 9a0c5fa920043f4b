import { Plan, VehiclePlan } from './formulation';
import {
  applyMinCurrentAndHysteresis,
  compositeScheduleCommand,
  defaultProfileOptions,
  fromLimit,
  safeCapCommands,
  safeShareKw,
  toLimit,
  toPeriods,
  txProfileCommands,
} from './profiles';
import { planSite } from './planner';
import { createInProcessSolver } from './solver';
import { charger, site, vehicle, SLOT_MS, T0 } from './fixtures';
import { ampsToKw, SiteSnapshot } from './snapshot';

/** The official OCPP JSON schemas, as shipped by ocpp-rpc. */
const validators = require('ocpp-rpc/lib/standard-validators') as { subprotocol: string; validate(schemaId: string, payload: unknown): boolean }[];
const validate = (protocol: string, action: string, payload: unknown): boolean => validators.find((v) => v.subprotocol === protocol)!.validate(`urn:${action}.req`, payload);

const MIN3 = ampsToKw(6, 3); // 4.14 kW

const vp = (id: string, cp: string, powerKw: number[], o: Partial<VehiclePlan> = {}): VehiclePlan => ({
  vehicleId: id,
  known: true,
  chargePointId: cp,
  connectorId: 1,
  transactionId: '42',
  arrivalAt: null,
  powerKw,
  targetKwh: 10,
  plannedKwh: 10,
  shortfallKwh: 0,
  departAt: T0 + 8 * SLOT_MS,
  priority: 1,
  ...o,
});

const planOf = (s: SiteSnapshot, vehicles: VehiclePlan[]): Plan => {
  const slots = vehicles[0]!.powerKw.length;
  const siteKw = Array.from({ length: slots }, (_, t) => vehicles.reduce((m, v) => m + v.powerKw[t]!, 0));
  return {
    siteId: s.siteId,
    horizonStart: s.now,
    slotMinutes: 15,
    status: 'Optimal',
    objective: 0,
    solveMs: 0,
    gridLimitKw: s.gridLimitKw,
    siteKw,
    vehicles,
    energyCost: 0,
    peakKw: Math.max(...siteKw),
  };
};
const round = (xs: number[]) => xs.map((x) => Math.round(x * 100) / 100);

describe('the 6 A rule', () => {
  test('three vehicles planned at 3 kW on an 11 kW site: two lifted to 6 A, one paused, never over the limit', () => {
    const s = site({ gridLimitKw: 11, chargers: ['a', 'b', 'c'].map((id) => charger(id)) });
    const plan = planOf(s, [vp('x', 'a', [3]), vp('y', 'b', [3.2]), vp('z', 'c', [3])]);
    const p = applyMinCurrentAndHysteresis(s, plan, { ...defaultProfileOptions, profileSlots: 1 });
    // Largest first (y), then by order (x); z pays with its 3 kW.
    expect(round(p.map((x) => x[0]!))).toEqual(round([MIN3, MIN3, 0]));
    expect(p.reduce((m, x) => m + x[0]!, 0)).toBeLessThanOrEqual(11);
  });

  test('a small allocation is lifted from headroom; a DC charger has no minimum; above the minimum nothing moves', () => {
    const s = site({ gridLimitKw: 50, chargers: [charger('a'), charger('dc', { currentType: 'DC', rateUnit: 'W', maxPowerKw: 50 }), charger('b')] });
    const plan = planOf(s, [vp('x', 'a', [2]), vp('y', 'dc', [1]), vp('z', 'b', [7])]);
    const p = applyMinCurrentAndHysteresis(s, plan, { ...defaultProfileOptions, profileSlots: 1 });
    expect(round(p.map((x) => x[0]!))).toEqual(round([MIN3, 1, 7]));
  });
});

describe('the 6 A rule under a demand charge', () => {
  const oneSlot = { ...defaultProfileOptions, profileSlots: 1 };
  test('a small allocation is lifted only below the higher of the plan peak and the billed peak, not up to the grid limit', () => {
    const chargers = [charger('a'), charger('b')];
    const plan = (s: SiteSnapshot) => planOf(s, [vp('x', 'a', [2]), vp('z', 'b', [7])]);
    const free = site({ gridLimitKw: 50, chargers });
    expect(round(applyMinCurrentAndHysteresis(free, plan(free), oneSlot).map((x) => x[0]!))).toEqual(round([MIN3, 7]));
    const billed = site({ gridLimitKw: 50, chargers, demandChargePerKwMonth: 15, billedPeakKw: 0 });
    expect(round(applyMinCurrentAndHysteresis(billed, plan(billed), oneSlot).map((x) => x[0]!))).toEqual([0, 7]);
    const underBilled = site({ gridLimitKw: 50, chargers, demandChargePerKwMonth: 15, billedPeakKw: 20 });
    expect(round(applyMinCurrentAndHysteresis(underBilled, plan(underBilled), oneSlot).map((x) => x[0]!))).toEqual(round([MIN3, 7]));
  });

  test('the power of a dropped vehicle goes to one already charging, earliest departure first, pulled from its later slots', () => {
    const s = site({ gridLimitKw: 50, demandChargePerKwMonth: 15, chargers: [charger('a'), charger('b'), charger('c')] });
    const plan = planOf(s, [
      vp('x', 'a', [3, 0, 0]),
      vp('late', 'b', [5, 5, 5], { departAt: T0 + 8 * SLOT_MS }),
      vp('soon', 'c', [5, 1, 0], { departAt: T0 + 3 * SLOT_MS }),
    ]);
    const p = applyMinCurrentAndHysteresis(s, plan, oneSlot).map((x) => x[0]!);
    // x's 3 kW cannot become 6 A under the 13 kW plan peak; 'soon' has 1 kW to pull forward, 'late' takes the other 2.
    expect(round(p)).toEqual([0, 7, 6]);
    expect(p.reduce((m, x) => m + x, 0)).toBeCloseTo(13, 6);
  });
});

describe('hysteresis', () => {
  const s = site({ gridLimitKw: 50, chargers: [charger('a')] });
  test('a one-slot pause between charging periods is bridged at the minimum current', () => {
    const p = applyMinCurrentAndHysteresis(s, planOf(s, [vp('x', 'a', [11, 0, 11, 0, 0, 0, 11, 0])]), defaultProfileOptions);
    expect(round(p[0]!)).toEqual(round([11, MIN3, 11, 0, 0, 0, 11, 0]));
  });
  test('the previous command counts as slot −1', () => {
    const plan = planOf(s, [vp('x', 'a', [0, 11, 11, 11])]);
    expect(round(applyMinCurrentAndHysteresis(s, plan, defaultProfileOptions, new Map([['a:1', 7]]))[0]!)).toEqual(round([MIN3, 11, 11, 11]));
    expect(applyMinCurrentAndHysteresis(s, plan, defaultProfileOptions, new Map())[0]).toEqual([0, 11, 11, 11]);
  });
  test('no bridge without headroom', () => {
    const tight = site({ gridLimitKw: 11, chargers: [charger('a'), charger('b')] });
    const p = applyMinCurrentAndHysteresis(tight, planOf(tight, [vp('x', 'a', [11, 0, 11]), vp('y', 'b', [0, 11, 0], { connectorId: 1 })]), defaultProfileOptions);
    expect(p[0]).toEqual([11, 0, 11]);
  });
});

describe('units, rounding and periods', () => {
  test('A per phase at 230 V, rounded down to 0.1 A; W rounded down to 1 W; DC always in W', () => {
    expect(toLimit(charger('a'), 11)).toBe(15.9);
    expect(toLimit(charger('a', { phases: 1 }), 7.4)).toBe(32.1);
    expect(toLimit(charger('a'), MIN3)).toBe(6);
    expect(toLimit(charger('a', { rateUnit: 'W' }), 10.9876)).toBe(10987);
    expect(toLimit(charger('d', { currentType: 'DC', rateUnit: 'A' }), 50)).toBe(50000);
    expect(fromLimit(charger('a'), 16)).toBeCloseTo(11.04);
  });

  test('equal neighbours merge; within maxSchedulePeriods no slot gets more than planned', () => {
    const limits = [16, 16, 8, 8, 0, 0, 16, 16, 12, 6, 7, 6];
    expect(toPeriods(limits.slice(0, 8), 900, 24, 3)).toEqual([
      { startPeriod: 0, limit: 16, numberPhases: 3 },
      { startPeriod: 1800, limit: 8, numberPhases: 3 },
      { startPeriod: 3600, limit: 0, numberPhases: 3 },
      { startPeriod: 5400, limit: 16, numberPhases: 3 },
    ]);
    for (const max of [1, 2, 3, 5]) {
      const periods = toPeriods(limits, 900, max);
      expect(periods.length).toBeLessThanOrEqual(max);
      expect(periods[0]!.startPeriod).toBe(0);
      limits.forEach((limit, t) => {
        const active = [...periods].reverse().find((p) => p.startPeriod <= t * 900)!;
        expect(active.limit).toBeLessThanOrEqual(limit);
      });
    }
  });
});

describe('OCPP payloads', () => {
  const s = site({
    gridLimitKw: 40,
    chargers: [
      charger('ac16', { protocol: 'ocpp1.6' }),
      charger('ac201', { protocol: 'ocpp2.0.1', maxSchedulePeriods: 2 }),
      charger('dc201', { protocol: 'ocpp2.0.1', currentType: 'DC', rateUnit: 'W', maxPowerKw: 50 }),
    ],
    pricePerKwh: [0.3, 0.3, 0.1, 0.1, 0.1, 0.3, 0.1, 0.1],
    vehicles: [
      vehicle('v16', { chargePointId: 'ac16', connectorId: 1, transactionId: '17', targetKwh: 56 }),
      vehicle('v201', { chargePointId: 'ac201', connectorId: 1, transactionId: 'b6f1c3a0-tx', targetKwh: 57 }),
      vehicle('vdc', { chargePointId: 'dc201', connectorId: 2, transactionId: 'dc-tx', targetKwh: 70 }),
    ],
  });

  test('TxProfiles from an LP plan conform to the OCPP 1.6 and 2.0.1 JSON schemas', async () => {
    const { plan } = await planSite(s, await createInProcessSolver());
    const cmds = txProfileCommands(s, plan, 'plan-1');
    expect(cmds).toHaveLength(3);
    for (const c of cmds) {
      const protocol = s.chargers.find((x) => x.chargePointId === c.chargePointId)!.protocol!;
      expect(validate(protocol, 'SetChargingProfile', c.payload)).toBe(true);
    }
    const p16 = cmds.find((c) => c.chargePointId === 'ac16')!.payload as { connectorId: number; csChargingProfiles: Record<string, unknown> & { chargingSchedule: { chargingRateUnit: string; startSchedule: string } } };
    expect(p16.connectorId).toBe(1);
    expect(p16.csChargingProfiles).toMatchObject({ transactionId: 17, chargingProfilePurpose: 'TxProfile', chargingProfileKind: 'Absolute', stackLevel: 2 });
    expect(p16.csChargingProfiles.chargingSchedule.chargingRateUnit).toBe('A');
    expect(p16.csChargingProfiles.chargingSchedule.startSchedule).toBe(new Date(T0).toISOString());
    const p201 = cmds.find((c) => c.chargePointId === 'ac201')!.payload as { evseId: number; chargingProfile: { transactionId: string; chargingSchedule: { chargingSchedulePeriod: unknown[] }[] } };
    expect(p201.evseId).toBe(1);
    expect(p201.chargingProfile.transactionId).toBe('b6f1c3a0-tx');
    expect(p201.chargingProfile.chargingSchedule[0]!.chargingSchedulePeriod.length).toBeLessThanOrEqual(2);
    const pdc = cmds.find((c) => c.chargePointId === 'dc201')!.payload as { chargingProfile: { chargingSchedule: { chargingRateUnit: string; chargingSchedulePeriod: Record<string, unknown>[] }[] } };
    expect(pdc.chargingProfile.chargingSchedule[0]!.chargingRateUnit).toBe('W');
    expect(pdc.chargingProfile.chargingSchedule[0]!.chargingSchedulePeriod[0]).not.toHaveProperty('numberPhases');
    // Deterministic command ids: the same plan gives the same commands.
    expect(txProfileCommands(s, plan, 'plan-1').map((c) => c.commandId)).toEqual(cmds.map((c) => c.commandId));
    expect(txProfileCommands(s, plan, 'plan-2')[0]!.commandId).not.toBe(cmds[0]!.commandId);
  });

  test('safe caps: schema-valid, and all TxDefault shares together stay within the grid limit', () => {
    let totalKw = 0;
    for (const c of s.chargers) {
      const cmds = safeCapCommands(s, c, T0);
      expect(cmds).toHaveLength(2);
      for (const cmd of cmds) expect(validate(c.protocol!, 'SetChargingProfile', cmd.payload)).toBe(true);
      totalKw += safeShareKw(s, c);
    }
    expect(totalKw).toBeLessThanOrEqual(40 + 1e-9);
    // A share below the 6 A minimum becomes 0 rather than an illegal current.
    const crowded = site({ gridLimitKw: 10, chargers: ['a', 'b', 'c', 'd'].map((id) => charger(id)) });
    expect(safeShareKw(crowded, crowded.chargers[0]!)).toBe(0);
  });

  test('GetCompositeSchedule requests conform to both schemas', () => {
    for (const c of s.chargers) expect(validate(c.protocol!, 'GetCompositeSchedule', compositeScheduleCommand(c, 1, 900, 'p').payload)).toBe(true);
  });
});
