/** Unit tests of the gateway's pure modules: framing, error codes, schema faults, answers, fleet fold, command checks,
 *  frame chain. No broker, no database. */
import * as E from 'fp-ts/Either';
import { GENESIS_HASH, frameHash } from '../../schemas/frame-chain';
import { answerCall } from './answers';
import { checkCommand } from './command-check';
import { emptyFleet, evolveFleet, authorizeIdTag, ChargerConfig } from './fleet';
import { chainFrame, connectionDraft, genesis } from './frames';
import { errorCode, parseFrame, sniff } from './protocol';
import { validatePayload } from './schemas';
import { outcomeOf } from './connection';

const charger: ChargerConfig = {
  chargePointId: 'cp1',
  siteId: 's',
  maxPowerKw: 22,
  securityProfile: 1,
  passwordHash: null,
  ownerPartnerId: null,
  phases: 3,
  currentType: 'AC',
  rateUnit: 'A',
  maxSchedulePeriods: 2,
};

describe('parseFrame', () => {
  test('CALL, CALLRESULT, CALLERROR', () => {
    expect(parseFrame('[2,"a","Heartbeat",{}]')).toEqual(E.right({ kind: 'CALL', messageTypeId: 2, uniqueId: 'a', action: 'Heartbeat', payload: {} }));
    expect(parseFrame('[3,"a",{"x":1}]')).toEqual(E.right({ kind: 'CALLRESULT', messageTypeId: 3, uniqueId: 'a', payload: { x: 1 } }));
    expect(parseFrame('[4,"a","GenericError","d",{}]')).toMatchObject(E.right({ kind: 'CALLERROR', errorCode: 'GenericError' }));
  });
  test.each([
    ['nope', 'RpcFramework', '-1'],
    ['{}', 'RpcFramework', '-1'],
    ['[2]', 'RpcFramework', '-1'],
    ['[9,"i","A",{}]', 'MessageType', 'i'],
    ['[2,"i","A"]', 'Protocol', 'i'],
    ['[2,"i",1,{}]', 'Formation', 'i'],
    ['[2,"i","A",3]', 'Formation', 'i'],
  ])('%s → %s', (text, fault, id) => {
    const r = parseFrame(text);
    expect(E.isLeft(r) && r.left.fault).toBe(fault);
    expect(E.isLeft(r) && r.left.uniqueId).toBe(id);
  });
  test('responses are never answered', () => {
    const r = parseFrame('[3,"i"]');
    expect(E.isLeft(r) && r.left.answer).toBe(false);
  });
  test('sniff', () => {
    expect(sniff('[2, "abc", "Heartbeat", {"x": "...')).toEqual({ uniqueId: 'abc', answer: true });
    expect(sniff('[3,"abc",{')).toEqual({ uniqueId: 'abc', answer: false });
    expect(sniff('garbage')).toEqual({ uniqueId: '-1', answer: true });
  });
});

test('error codes per version', () => {
  expect(errorCode('ocpp1.6', 'OccurrenceConstraint')).toBe('OccurenceConstraintViolation');
  expect(errorCode('ocpp2.0.1', 'OccurrenceConstraint')).toBe('OccurrenceConstraintViolation');
  expect(errorCode('ocpp1.6', 'Formation')).toBe('FormationViolation');
  expect(errorCode('ocpp2.0.1', 'Formation')).toBe('FormatViolation');
  expect(errorCode('ocpp2.0.1', 'MessageType')).toBe('MessageTypeNotSupported');
});

test('schema faults', () => {
  const fault = (p: 'ocpp1.6' | 'ocpp2.0.1', a: string, payload: unknown) => {
    const r = validatePayload(p, a, 'req', payload);
    return E.isLeft(r) ? r.left.fault : 'ok';
  };
  expect(fault('ocpp1.6', 'Authorize', {})).toBe('OccurrenceConstraint');
  expect(fault('ocpp1.6', 'Authorize', { idTag: 5 })).toBe('TypeConstraint');
  expect(fault('ocpp1.6', 'Authorize', { idTag: 'x'.repeat(21) })).toBe('PropertyConstraint');
  expect(fault('ocpp1.6', 'Heartbeat', { a: 1 })).toBe('Formation');
  expect(fault('ocpp2.0.1', 'Heartbeat', {})).toBe('ok');
});

describe('answers', () => {
  const fleet = evolveFleet(evolveFleet(emptyFleet(), { eventId: '1', at: 0, actor: 't', body: { type: 'ChargerConfigured', ...charger } }), {
    eventId: '2',
    at: 0,
    actor: 't',
    body: { type: 'VehicleConfigured', vehicleId: 'v', batteryCapacityKwh: 1, maxAcPowerKw: 1, maxDcPowerKw: 1, consumptionKwhPerKm: 1, idTags: ['T1'], telematicsProvider: null, providerVehicleId: null, siteId: null },
  });
  const input = { chargePointId: 'cp1', fleet, now: 0, heartbeatIntervalS: 60 };
  test('boot from configuration', () => {
    expect(answerCall('ocpp1.6', 'BootNotification', {}, input)).toEqual(E.right({ status: 'Accepted', currentTime: '1970-01-01T00:00:00.000Z', interval: 60 }));
    expect(answerCall('ocpp2.0.1', 'BootNotification', {}, { ...input, chargePointId: 'other' })).toMatchObject(E.right({ status: 'Rejected' }));
  });
  test('authorize from configured idTags; a vehicle reconfigured without a tag loses it', () => {
    expect(authorizeIdTag(fleet, 'T1', 0)).toBe('Accepted');
    expect(authorizeIdTag(fleet, 'T2', 0)).toBe('Invalid');
    const later = evolveFleet(fleet, {
      eventId: '3',
      at: 0,
      actor: 't',
      body: { type: 'VehicleConfigured', vehicleId: 'v', batteryCapacityKwh: 1, maxAcPowerKw: 1, maxDcPowerKw: 1, consumptionKwhPerKm: 1, idTags: ['T2'], telematicsProvider: null, providerVehicleId: null, siteId: null },
    });
    expect(authorizeIdTag(later, 'T1', 0)).toBe('Invalid');
    expect(authorizeIdTag(later, 'T2', 0)).toBe('Accepted');
  });
  test('StartTransaction needs an allocated id; CSMS-side actions are NotSupported', () => {
    expect(E.isLeft(answerCall('ocpp1.6', 'StartTransaction', { idTag: 'T1' }, input))).toBe(true);
    expect(answerCall('ocpp1.6', 'StartTransaction', { idTag: 'T1' }, { ...input, transactionId: 42 })).toMatchObject(E.right({ transactionId: 42 }));
    expect(answerCall('ocpp1.6', 'Reset', {}, input)).toMatchObject(E.left({ fault: 'NotSupported' }));
  });
});

describe('checkCommand', () => {
  const profile = (kind: string, periods: number, unit = 'A', start = true) => ({
    connectorId: 1,
    csChargingProfiles: {
      chargingProfileId: 1,
      stackLevel: 0,
      chargingProfilePurpose: 'TxDefaultProfile',
      chargingProfileKind: kind,
      ...(kind === 'Recurring' ? { recurrencyKind: 'Daily' } : {}),
      chargingSchedule: { ...(start ? { startSchedule: '2026-01-01T00:00:00Z' } : {}), chargingRateUnit: unit, chargingSchedulePeriod: Array.from({ length: periods }, (_, i) => ({ startPeriod: i * 60, limit: 10 })) },
    },
  });
  test('valid', () => expect(checkCommand('ocpp1.6', 'SetChargingProfile', profile('Absolute', 2), charger)).toEqual(E.right(undefined)));
  test('Absolute without startSchedule', () => expect(checkCommand('ocpp1.6', 'SetChargingProfile', profile('Absolute', 1, 'A', false), charger)).toEqual(E.left(expect.stringMatching(/startSchedule/))));
  test('Relative without startSchedule is fine', () => expect(E.isRight(checkCommand('ocpp1.6', 'SetChargingProfile', profile('Relative', 1, 'A', false), charger))).toBe(true));
  test('too many periods', () => expect(checkCommand('ocpp1.6', 'SetChargingProfile', profile('Absolute', 3), charger)).toEqual(E.left(expect.stringMatching(/at most 2/))));
  test('unit', () => expect(checkCommand('ocpp1.6', 'SetChargingProfile', profile('Absolute', 1, 'W'), charger)).toEqual(E.left(expect.stringMatching(/rate unit W/))));
  test('2.0.1 shape', () =>
    expect(
      checkCommand('ocpp2.0.1', 'SetChargingProfile', { evseId: 0, chargingProfile: { id: 1, stackLevel: 0, chargingProfilePurpose: 'TxDefaultProfile', chargingProfileKind: 'Absolute', chargingSchedule: [{ id: 1, chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 6 }] }] } }, charger),
    ).toEqual(E.left(expect.stringMatching(/chargingSchedule\[0\]: an Absolute profile needs startSchedule/))));
});

test('outcome of an answer', () => {
  expect(outcomeOf({ status: 'Accepted' })).toEqual({ outcome: 'ACCEPTED', status: 'Accepted' });
  expect(outcomeOf({ status: 'NotSupported' })).toEqual({ outcome: 'REJECTED', status: 'NotSupported' });
  expect(outcomeOf({ getVariableResult: [] })).toEqual({ outcome: 'ACCEPTED', status: null });
});

test('frame chain: seq from 1, prevHash links, hash as schemas/frame-chain computes it', () => {
  const d = connectionDraft({ chargePointId: 'cp1', gatewayId: 'g', protocol: 'ocpp1.6' }, 'CONNECTED', 1000);
  const a = chainFrame(genesis, d);
  const b = chainFrame(a.head, { ...d, kind: 'DISCONNECTED', receivedAt: 2000 });
  expect(a.record).toMatchObject({ seq: 1, prevHash: GENESIS_HASH, hash: frameHash(GENESIS_HASH, { ...d, seq: 1 }) });
  expect(b.record).toMatchObject({ seq: 2, prevHash: a.record.hash });
});
