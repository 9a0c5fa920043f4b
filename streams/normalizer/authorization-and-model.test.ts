import { EventBody } from '../../schemas/events';
import { specFor } from '../runtime/spec';
import { evolve, initialCharger, publishedEvents } from './decide';
import { decideNormalizer, NormalizerInput } from './fold';
import { OcppFrame } from './frame';

/** given frames / then the token decisions and device model reports they mean. */
const spec = specFor({ initial: initialCharger, decide: decideNormalizer, evolve });
const T = Date.UTC(2026, 0, 5, 8);

let n = 0;
const frame = (protocol: string, direction: 'IN' | 'OUT', kind: 'CALL' | 'CALLRESULT' | 'CALLERROR', uniqueId: string, action: string | null, payload: object): OcppFrame => ({
  frameId: `f${++n}`, chargePointId: 'CP', gatewayId: 'gw', protocol, direction, kind, messageTypeId: kind === 'CALL' ? 2 : kind === 'CALLRESULT' ? 3 : 4,
  uniqueId, action, payloadJson: JSON.stringify(payload), errorCode: null, errorDescription: null, commandId: null, raw: '', receivedAt: T + n, seq: n, prevHash: '', hash: '',
}) as OcppFrame;
const inputs = (fs: OcppFrame[]): NormalizerInput[] => fs.map((f, i) => ({ from: 'frames', value: f, key: 'CP', source: { topic: 'ocpp.frames', partition: 0, offset: i }, timestamp: f.receivedAt }));
const bodies = (fs: OcppFrame[]): EventBody[] => publishedEvents(spec.given().when(...inputs(fs)).events).map((e) => e.body);

describe('token decisions', () => {
  test('every Authorize answer, in both versions', () => {
    expect(bodies([frame('ocpp1.6', 'IN', 'CALL', 'a', 'Authorize', { idTag: 'CARD' }), frame('ocpp1.6', 'OUT', 'CALLRESULT', 'a', 'Authorize', { idTagInfo: { status: 'Blocked' } })])).toEqual([
      { type: 'TokenAuthorized', idTag: 'CARD', status: 'Blocked', action: 'Authorize', connectorId: null },
    ]);
    expect(bodies([frame('ocpp2.0.1', 'IN', 'CALL', 'a', 'Authorize', { idToken: { idToken: 'APP', type: 'Central' } }), frame('ocpp2.0.1', 'OUT', 'CALLRESULT', 'a', 'Authorize', { idTokenInfo: { status: 'Accepted' } })])).toEqual([
      { type: 'TokenAuthorized', idTag: 'APP', status: 'Accepted', action: 'Authorize', connectorId: null },
    ]);
  });

  test('a start refused at a reserved connector is recorded with its connector', () => {
    const start = { connectorId: 2, idTag: 'OTHER', meterStart: 0, timestamp: new Date(T).toISOString() };
    const out = bodies([frame('ocpp1.6', 'IN', 'CALL', 's', 'StartTransaction', start), frame('ocpp1.6', 'OUT', 'CALLRESULT', 's', 'StartTransaction', { transactionId: 9, idTagInfo: { status: 'Invalid' } })]);
    expect(out).toContainEqual({ type: 'TokenAuthorized', idTag: 'OTHER', status: 'Invalid', action: 'StartTransaction', connectorId: 2 });
  });
});

describe('device model reports', () => {
  test("a 1.6 GetConfiguration the central system sent: the charger's keys", () => {
    const answer = { configurationKey: [{ key: 'ChargingScheduleMaxPeriods', readonly: true, value: '1' }, { key: 'ChargingScheduleAllowedChargingRateUnit', readonly: true, value: 'Power' }], unknownKey: [] };
    expect(bodies([frame('ocpp1.6', 'OUT', 'CALL', 'g1', 'GetConfiguration', {}), frame('ocpp1.6', 'IN', 'CALLRESULT', 'g1', null, answer)])).toEqual([
      {
        type: 'DeviceModelReported', protocol: 'ocpp1.6', source: 'GetConfiguration', requestId: null,
        entries: [
          { component: null, variable: 'ChargingScheduleMaxPeriods', value: '1', readonly: true },
          { component: null, variable: 'ChargingScheduleAllowedChargingRateUnit', value: 'Power', readonly: true },
        ],
      },
    ]);
    // An answer to a CALL it did not see (another gateway's, before the log's start) means nothing.
    expect(bodies([frame('ocpp1.6', 'IN', 'CALLRESULT', 'g2', null, answer)])).toEqual([]);
  });

  test("a 2.0.1 NotifyReport: each variable's Actual value, component with its EVSE", () => {
    const report = {
      requestId: 5, generatedAt: new Date(T).toISOString(), seqNo: 0, tbc: false,
      reportData: [
        { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'RateUnit' }, variableAttribute: [{ type: 'Actual', value: 'W', mutability: 'ReadOnly' }] },
        { component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'Power' }, variableAttribute: [{ type: 'MaxSet', value: '22000' }] },
      ],
    };
    expect(bodies([frame('ocpp2.0.1', 'IN', 'CALL', 'r', 'NotifyReport', report)])).toEqual([
      { type: 'DeviceModelReported', protocol: 'ocpp2.0.1', source: 'NotifyReport', requestId: 5, entries: [{ component: 'SmartChargingCtrlr', variable: 'RateUnit', value: 'W', readonly: true }] },
    ]);
  });
});
