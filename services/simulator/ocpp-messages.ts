import { ChargerStatus, Effect, Transaction } from './model/depot';
import { Protocol } from './model/charger';

/** What a simulated charger says, as OCPP 1.6J and 2.0.1 payloads: pure functions from model effects to calls. */
export interface Call {
  readonly method: string;
  readonly params: Record<string, unknown>;
  /** Marks the call the plug-in → profile latency is measured from. */
  readonly plugIn?: boolean;
  /** 1.6 StartTransaction: the answer carries the transactionId for this local transaction. */
  readonly startsTx?: string;
}

const iso = (t: number) => new Date(t).toISOString();

export type MeterEffect = Extract<Effect, { kind: 'meter' }>;

const sampled16 = (m: MeterEffect, context: string) => [
  { value: String(m.energyWh), context, measurand: 'Energy.Active.Import.Register', location: 'Outlet', unit: 'Wh' },
  { value: String(m.powerW), context, measurand: 'Power.Active.Import', location: 'Outlet', unit: 'W' },
  { value: String(m.currentA), context, measurand: 'Current.Import', location: 'Outlet', unit: 'A' },
  ...(m.socPct !== undefined ? [{ value: String(Math.round(m.socPct)), context, measurand: 'SoC', location: 'EV', unit: 'Percent' }] : []),
];

const sampled201 = (m: MeterEffect, context: string) => [
  { value: m.energyWh, context, measurand: 'Energy.Active.Import.Register', location: 'Outlet', unitOfMeasure: { unit: 'Wh' } },
  { value: m.powerW, context, measurand: 'Power.Active.Import', location: 'Outlet', unitOfMeasure: { unit: 'W' } },
  { value: m.currentA, context, measurand: 'Current.Import', location: 'Outlet', unitOfMeasure: { unit: 'A' } },
  ...(m.socPct !== undefined ? [{ value: m.socPct, context, measurand: 'SoC', location: 'EV', unitOfMeasure: { unit: 'Percent' } }] : []),
];

export const bootCall = (protocol: Protocol, id: string, model: string): Call =>
  protocol === 'ocpp1.6'
    ? { method: 'BootNotification', params: { chargePointVendor: 'Voltstream Sim', chargePointModel: model, chargePointSerialNumber: `SN-${id}`.slice(0, 25), firmwareVersion: '1.0.0' } }
    : { method: 'BootNotification', params: { reason: 'PowerUp', chargingStation: { vendorName: 'Voltstream Sim', model, serialNumber: `SN-${id}`.slice(0, 25), firmwareVersion: '1.0.0' } } };

const connectorStatus201 = (s: ChargerStatus) => (s === 'Available' ? 'Available' : 'Occupied');
const chargingState201 = (s: ChargerStatus) => (s === 'Charging' ? 'Charging' : s === 'SuspendedEV' ? 'SuspendedEV' : s === 'SuspendedEVSE' ? 'SuspendedEVSE' : 'EVConnected');

export const statusCall = (protocol: Protocol, connectorId: number, status: ChargerStatus, at: number): Call =>
  protocol === 'ocpp1.6'
    ? { method: 'StatusNotification', params: { connectorId, errorCode: 'NoError', status, timestamp: iso(at) } }
    : { method: 'StatusNotification', params: { timestamp: iso(at), connectorStatus: connectorStatus201(status), evseId: Math.max(connectorId, 0), connectorId: Math.max(connectorId, 0) } };

/** 1.6: the numeric transactionId of the CSMS; 2.0.1: the charger's own transactionId string. */
export interface TxRef {
  readonly tx: Transaction;
  readonly seqNo: number;
}

export const meterCalls = (protocol: Protocol, m: MeterEffect, ref: TxRef | undefined): Call[] => {
  if (protocol === 'ocpp1.6') {
    const txId = m.tx?.transactionId !== undefined ? Number(m.tx.transactionId) : undefined;
    return [{ method: 'MeterValues', params: { connectorId: 1, ...(txId !== undefined && Number.isInteger(txId) ? { transactionId: txId } : {}), meterValue: [{ timestamp: iso(m.at), sampledValue: sampled16(m, 'Sample.Periodic') }] } }];
  }
  if (!ref) return [{ method: 'MeterValues', params: { evseId: 1, meterValue: [{ timestamp: iso(m.at), sampledValue: sampled201(m, 'Sample.Periodic') }] } }];
  return [
    {
      method: 'TransactionEvent',
      params: {
        eventType: 'Updated',
        timestamp: iso(m.at),
        triggerReason: 'MeterValuePeriodic',
        seqNo: ref.seqNo,
        transactionInfo: { transactionId: ref.tx.localId },
        evse: { id: 1, connectorId: 1 },
        meterValue: [{ timestamp: iso(m.at), sampledValue: sampled201(m, 'Sample.Periodic') }],
      },
    },
  ];
};

export const chargingStateCall201 = (ref: TxRef, status: ChargerStatus, at: number): Call => ({
  method: 'TransactionEvent',
  params: {
    eventType: 'Updated',
    timestamp: iso(at),
    triggerReason: 'ChargingStateChanged',
    seqNo: ref.seqNo,
    transactionInfo: { transactionId: ref.tx.localId, chargingState: chargingState201(status) },
    evse: { id: 1, connectorId: 1 },
  },
});

export const plugInCalls = (protocol: Protocol, e: Extract<Effect, { kind: 'plugIn' }>): Call[] =>
  protocol === 'ocpp1.6'
    ? [
        { method: 'Authorize', params: { idTag: e.idTag } },
        { method: 'StartTransaction', params: { connectorId: 1, idTag: e.idTag, meterStart: e.meterStartWh, timestamp: iso(e.at) }, plugIn: true, startsTx: e.tx.localId },
      ]
    : [
        {
          method: 'TransactionEvent',
          plugIn: true,
          params: {
            eventType: 'Started',
            timestamp: iso(e.at),
            triggerReason: 'CablePluggedIn',
            seqNo: 0,
            transactionInfo: { transactionId: e.tx.localId, chargingState: 'EVConnected' },
            evse: { id: 1, connectorId: 1 },
            idToken: { idToken: e.idTag, type: 'ISO14443' },
            meterValue: [{ timestamp: iso(e.at), sampledValue: [{ value: e.meterStartWh, context: 'Transaction.Begin', measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }],
          },
        },
      ];

export const unplugCalls = (protocol: Protocol, e: Extract<Effect, { kind: 'unplug' }>, seqNo: number): Call[] => {
  if (protocol === 'ocpp1.6') {
    const txId = e.tx.transactionId !== undefined ? Number(e.tx.transactionId) : undefined;
    if (txId === undefined || !Number.isInteger(txId)) return [];
    return [{ method: 'StopTransaction', params: { transactionId: txId, idTag: e.tx.idTag, meterStop: e.meterStopWh, timestamp: iso(e.at), reason: e.reason } }];
  }
  return [
    {
      method: 'TransactionEvent',
      params: {
        eventType: 'Ended',
        timestamp: iso(e.at),
        triggerReason: e.reason === 'EVDisconnected' ? 'EVCommunicationLost' : 'StopAuthorized',
        seqNo,
        transactionInfo: { transactionId: e.tx.localId, chargingState: 'Idle', stoppedReason: e.reason === 'EVDisconnected' ? 'EVDisconnected' : 'Local' },
        evse: { id: 1, connectorId: 1 },
        meterValue: [{ timestamp: iso(e.at), sampledValue: [{ value: e.meterStopWh, context: 'Transaction.End', measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }],
      },
    },
  ];
};
