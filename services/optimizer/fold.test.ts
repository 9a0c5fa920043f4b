import { EventBody } from '../../schemas/events';
import { ConfigBody } from '../../schemas/fleet-config';
import { defaultOptimizerConfig } from './config';
import { commandedOf } from './inputs';
import { PMap } from './pmap';
import { acceptMarkers, progressOf, reached, RestorePlan } from './restore';
import { snapshotOf } from './site-snapshot';
import { evolve, FleetState, initial, Input, sessionOf, sessionOn } from './state';

/** given inputs / when input / then state: the fold's indexes, its independence of how topics interleave, and the
 *  restore arithmetic. No broker. */
const T = Date.UTC(2026, 0, 5, 20, 0);
const MIN = 60000;
const cfg = defaultOptimizerConfig;
let n = 0;
const config = (body: ConfigBody, at = T): Input => ({ kind: 'config', event: { eventId: `c${n++}`, at, actor: 't', body } });
const event = (cp: string, body: EventBody, at = T): Input => ({ kind: 'event', event: { eventId: `e${n++}`, chargePointId: cp, occurredAt: at, source: null, body } });
const given = (...inputs: Input[]): FleetState => inputs.reduce(evolve, initial);
const charger = (cp: string, siteId = 'S') => config({ type: 'ChargerConfigured', chargePointId: cp, siteId, maxPowerKw: 11, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 });
const site = (siteId = 'S') => config({ type: 'SiteConfigured', siteId, name: siteId, gridLimitKw: 100, latitude: 0, longitude: 0, timezone: 'UTC' });
const started = (cp: string, sessionId: string, at = T) => event(cp, { type: 'SessionStarted', sessionId, transactionId: sessionId, connectorId: 1, idTag: null, meterStartWh: 0 }, at);
const matched = (cp: string, sessionId: string, vehicleId: string) => event(cp, { type: 'VehicleMatched', sessionId, vehicleId, confidence: 1, method: 'idTag', replacesVehicleId: null });
const meter = (cp: string, sessionId: string, kw: number, at: number) =>
  event(cp, { type: 'MeterSampled', sessionId, connectorId: 1, samples: [{ measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: kw * 1000 }] }, at);

describe('the fold’s indexes', () => {
  test('a new session on a connector replaces the old one in every index', () => {
    const s = given(site(), charger('CP1'), started('CP1', 'S1'), matched('CP1', 'S1', 'V1'), started('CP1', 'S2', T + MIN));
    expect(sessionOn(s, 'CP1', 1)?.sessionId).toBe('S2');
    expect(sessionOf(s, 'V1')).toBeUndefined();
    expect(s.sessions.keys()).toEqual(['S2']);
  });

  test('a vehicle matched again moves from its old session to the new one', () => {
    const s = given(site(), charger('CP1'), charger('CP2'), started('CP1', 'S1'), started('CP2', 'S2'), matched('CP1', 'S1', 'V1'), matched('CP2', 'S2', 'V1'), matched('CP1', 'S1', 'V2'));
    expect(sessionOf(s, 'V1')?.sessionId).toBe('S2');
    expect(sessionOf(s, 'V2')?.sessionId).toBe('S1');
  });

  test('the site load follows meters, ended sessions and a charger moved to another site; the peak keeps the month’s highest', () => {
    const base = given(site('A'), site('B'), charger('CP1', 'A'), charger('CP2', 'A'), started('CP1', 'S1'), started('CP2', 'S2'), meter('CP1', 'S1', 7, T + MIN), meter('CP2', 'S2', 4.5, T + 2 * MIN));
    expect(base.siteMw.get('A')).toBe(11.5e6);
    expect(base.peaks.get('A')?.kw).toBe(11.5);
    const s = [charger('CP2', 'B'), event('CP1', { type: 'SessionEnded', sessionId: 'S1', transactionId: 'S1', connectorId: 1, meterStopWh: 0, energyWh: 0, reason: null })].reduce(evolve, base);
    expect(s.siteMw.get('A')).toBe(0);
    expect(s.siteMw.get('B')).toBe(4.5e6);
    expect(evolve(s, meter('CP2', 'S2', 5, T + 3 * MIN)).peaks.get('B')?.kw).toBe(5);
    expect(s.peaks.get('A')?.kw).toBe(11.5);
  });

  test('a profile commanded after a session started survives that start folded late (restore order); one before it does not', () => {
    const commanded = (at: number): Input => ({ kind: 'commanded', chargePointId: 'CP1', connectorId: 1, commandId: `c${at}`, limitKw: 5, at });
    const before = given(site(), charger('CP1'), commanded(T - MIN), started('CP1', 'S1', T));
    expect(before.control.get('CP1:1')).toBeUndefined();
    const after = given(site(), charger('CP1'), commanded(T + MIN), started('CP1', 'S1', T));
    expect(after.control.get('CP1:1')?.limitKw).toBe(5);
  });

  test('the snapshot is the same however the chargers’ records interleave', () => {
    const perCharger = ['CP1', 'CP2', 'CP3'].map((cp, i) => [started(cp, `S${i}`), matched(cp, `S${i}`, `V${i}`), ...[0, 1, 2, 3].map((k) => meter(cp, `S${i}`, 3 + i + k * 0.1, T + (k + i) * MIN))]);
    const setup = [site(), charger('CP1'), charger('CP2'), charger('CP3')];
    const inOrder = given(...setup, ...perCharger.flat());
    const interleaved = given(...setup, ...[0, 1, 2, 3, 4, 5].flatMap((k) => [2, 0, 1].map((c) => perCharger[c]![k]!)));
    expect(snapshotOf(interleaved, 'S', T + 10 * MIN, cfg)).toEqual(snapshotOf(inOrder, 'S', T + 10 * MIN, cfg));
  });
});

describe('restoring what the optimizer commanded', () => {
  const record = (payload: unknown, issuedBy = 'optimizer') => ({ commandId: 'c1', chargePointId: 'CP1', action: 'SetChargingProfile', payloadJson: JSON.stringify(payload), issuedBy, issuedAt: T, expiresAt: null, planId: null });
  const schedule = (unit: string, limit: number) => ({ chargingRateUnit: unit, chargingSchedulePeriod: [{ startPeriod: 0, limit, numberPhases: 3 }] });

  test('a 1.6 TxProfile in A and a 2.0.1 one in W become the slot-0 limit in kW', () => {
    expect(commandedOf(record({ connectorId: 1, csChargingProfiles: { chargingProfilePurpose: 'TxProfile', chargingSchedule: schedule('A', 16) } }))).toMatchObject({ kind: 'commanded', connectorId: 1, limitKw: 11.04, at: T });
    expect(commandedOf(record({ evseId: 2, chargingProfile: { chargingProfilePurpose: 'TxProfile', chargingSchedule: [schedule('W', 7400)] } }))).toMatchObject({ connectorId: 2, limitKw: 7.4 });
  });

  test('caps, other issuers and broken payloads are not commands to restore', () => {
    expect(commandedOf(record({ connectorId: 0, csChargingProfiles: { chargingProfilePurpose: 'TxDefaultProfile', chargingSchedule: schedule('A', 16) } }))).toBeNull();
    expect(commandedOf(record({ connectorId: 1, csChargingProfiles: { chargingProfilePurpose: 'TxProfile', chargingSchedule: schedule('A', 16) } }, 'api'))).toBeNull();
    expect(commandedOf({ ...record({}), payloadJson: 'not json' })).toBeNull();
  });
});

describe('restore progress', () => {
  const plan: RestorePlan = {
    starts: new Map([['fleet.config:0', 0], ['charging.events:0', 0], ['telematics.readings:0', 900]]),
    targets: new Map([['fleet.config:0', 10], ['charging.events:0', 100], ['telematics.readings:0', 1000]]),
  };

  test('counts records from each partition’s start (old readings skipped) to its end offset', () => {
    expect(progressOf(plan, new Map())).toEqual({ done: 0, total: 210 });
    expect(progressOf(plan, new Map([['fleet.config:0', 10], ['telematics.readings:0', 950]]))).toEqual({ done: 60, total: 210 });
    expect(reached(progressOf(plan, new Map([['fleet.config:0', 10]]), ['fleet.config']))).toBe(true);
    expect(reached(progressOf(plan, new Map([['fleet.config:0', 10], ['charging.events:0', 100], ['telematics.readings:0', 1000]])))).toBe(true);
  });

  test('a position one short of its end is a transaction marker the consumer never sees', () => {
    const at = new Map([['fleet.config:0', 10], ['charging.events:0', 99], ['telematics.readings:0', 1000]]);
    expect(reached(progressOf(plan, at))).toBe(false);
    expect(reached(progressOf(plan, acceptMarkers(plan, at)))).toBe(true);
    expect(reached(progressOf(plan, acceptMarkers(plan, new Map([...at, ['charging.events:0', 98]]))))).toBe(false);
  });
});

describe('the persistent map', () => {
  test('changes leave the old map as it was, and iteration keeps insertion order', () => {
    const a = PMap.of([['x', 1], ['y', 2], ['z', 3]]);
    const b = a.set('y', 20).delete('x').set('w', 4);
    expect([...a]).toEqual([['x', 1], ['y', 2], ['z', 3]]);
    expect([...b]).toEqual([['y', 20], ['z', 3], ['w', 4]]);
    expect([a.size, b.size]).toEqual([3, 3]);
    const many = Array.from({ length: 1000 }, (_, i) => `k${i}`).reduce((m, k, i) => m.set(k, i), PMap.empty<number>());
    expect(many.keys().slice(0, 3)).toEqual(['k0', 'k1', 'k2']);
    expect(many.get('k999')).toBe(999);
  });
});
