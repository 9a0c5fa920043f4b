import { ChargingEvent } from '../../schemas/events';
import { frameHash, GENESIS_HASH } from '../../schemas/frame-chain';
import { OcppFrame } from './frame';

/** Recorded-style frame sequences of one real-world session, in OCPP 1.6J and in 2.0.1, as the gateway writes them
 *  to ocpp.frames (raw text, parsed fields, seq, hash chain). Used by unit tests, integration tests and benchmarks.
 *  `t0` is the plug-in time; the session draws `energyWh` at a constant power over `minutes`. */
export interface SessionScript {
  chargePointId: string;
  t0: number;
  idTag: string;
  meterStartWh: number;
  energyWh: number;
  minutes: number;
  /** Meter sample interval, minutes. */
  every?: number;
  connectorId?: number;
  transactionId?: string;
  socStartPct?: number;
  /** Units the charger uses for energy and power: 1.6 'kWh'/'kW' or default Wh/W. */
  kilo?: boolean;
}

const iso = (t: number) => new Date(t).toISOString();

class Recorder {
  private seq = 0;
  private prev = GENESIS_HASH;
  private uid = 0;
  readonly frames: OcppFrame[] = [];
  constructor(
    private readonly cp: string,
    private readonly protocol: string,
  ) {}
  private add(f: Omit<OcppFrame, 'frameId' | 'chargePointId' | 'gatewayId' | 'protocol' | 'seq' | 'prevHash' | 'hash' | 'commandId' | 'errorCode' | 'errorDescription'> & Partial<OcppFrame>): void {
    const seq = ++this.seq;
    const base = {
      chargePointId: this.cp, seq, direction: f.direction, kind: f.kind, uniqueId: f.uniqueId, action: f.action, payloadJson: f.payloadJson, errorCode: f.errorCode ?? null, raw: f.raw, receivedAt: f.receivedAt,
      gatewayId: 'gw-test', protocol: this.protocol, messageTypeId: f.messageTypeId, errorDescription: f.errorDescription ?? null, commandId: null,
    };
    const hash = frameHash(this.prev, base);
    this.frames.push({
      frameId: `${this.cp}-${seq}`,
      prevHash: this.prev,
      hash,
      ...base,
    });
    this.prev = hash;
  }
  connected(at: number) {
    this.add({ direction: 'IN', kind: 'CONNECTED', messageTypeId: null, uniqueId: null, action: null, payloadJson: null, raw: '', receivedAt: at });
  }
  disconnected(at: number, reason: string) {
    this.add({ direction: 'IN', kind: 'DISCONNECTED', messageTypeId: null, uniqueId: null, action: null, payloadJson: null, raw: '', receivedAt: at, errorDescription: reason });
  }
  /** A charger CALL and the central system's CALLRESULT. */
  exchange(at: number, action: string, payload: object, result: object) {
    const id = `${this.protocol}-${++this.uid}`;
    const p = JSON.stringify(payload);
    const r = JSON.stringify(result);
    this.add({ direction: 'IN', kind: 'CALL', messageTypeId: 2, uniqueId: id, action, payloadJson: p, raw: `[2,"${id}","${action}",${p}]`, receivedAt: at });
    this.add({ direction: 'OUT', kind: 'CALLRESULT', messageTypeId: 3, uniqueId: id, action, payloadJson: r, raw: `[3,"${id}",${r}]`, receivedAt: at + 5 });
  }
}

const minute = 60_000;

export const session16 = (s: SessionScript): OcppFrame[] => {
  const rec = new Recorder(s.chargePointId, 'ocpp1.6');
  const c = s.connectorId ?? 1;
  const tx = Number(s.transactionId ?? 4242);
  const every = s.every ?? 5;
  const powerW = (s.energyWh / s.minutes) * 60;
  const k = s.kilo ? 1000 : 1;
  const eUnit = s.kilo ? 'kWh' : 'Wh';
  const pUnit = s.kilo ? 'kW' : 'W';
  rec.connected(s.t0 - 2 * minute);
  rec.exchange(s.t0 - 2 * minute + 100, 'BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'AC22', chargePointSerialNumber: 'SN-1', firmwareVersion: '1.2.3' }, { status: 'Accepted', currentTime: iso(s.t0), interval: 300 });
  rec.exchange(s.t0 - minute, 'StatusNotification', { connectorId: c, errorCode: 'NoError', status: 'Available', timestamp: iso(s.t0 - minute) }, {});
  rec.exchange(s.t0, 'StatusNotification', { connectorId: c, errorCode: 'NoError', status: 'Preparing', timestamp: iso(s.t0) }, {});
  rec.exchange(s.t0 + 1000, 'Authorize', { idTag: s.idTag }, { idTagInfo: { status: 'Accepted' } });
  rec.exchange(s.t0 + 2000, 'StartTransaction', { connectorId: c, idTag: s.idTag, meterStart: s.meterStartWh, timestamp: iso(s.t0 + 2000) }, { transactionId: tx, idTagInfo: { status: 'Accepted' } });
  rec.exchange(s.t0 + 3000, 'StatusNotification', { connectorId: c, errorCode: 'NoError', status: 'Charging', timestamp: iso(s.t0 + 3000) }, {});
  for (let m = every; m < s.minutes; m += every) {
    const at = s.t0 + m * minute;
    const reg = s.meterStartWh + powerW * (m / 60);
    const sampled: Record<string, string>[] = [
      { value: String(reg / k), measurand: 'Energy.Active.Import.Register', unit: eUnit, context: 'Sample.Periodic' },
      { value: String(powerW / k), measurand: 'Power.Active.Import', unit: pUnit, context: 'Sample.Periodic' },
      { value: String(powerW / 3 / 230), measurand: 'Current.Import', phase: 'L1', unit: 'A', context: 'Sample.Periodic' },
      { value: '230.1', measurand: 'Voltage', phase: 'L1-N', unit: 'V', context: 'Sample.Periodic' },
    ];
    if (s.socStartPct !== undefined) sampled.push({ value: String(Math.round(s.socStartPct + (m / s.minutes) * 40)), measurand: 'SoC', unit: 'Percent', location: 'EV', context: 'Sample.Periodic' });
    rec.exchange(at, 'MeterValues', { connectorId: c, transactionId: tx, meterValue: [{ timestamp: iso(at), sampledValue: sampled }] }, {});
    if (m % 10 === 0) rec.exchange(at + 500, 'Heartbeat', {}, { currentTime: iso(at + 500) });
  }
  const end = s.t0 + s.minutes * minute;
  rec.exchange(end, 'StopTransaction', { transactionId: tx, idTag: s.idTag, meterStop: Math.round(s.meterStartWh + s.energyWh), timestamp: iso(end), reason: 'EVDisconnected' }, { idTagInfo: { status: 'Accepted' } });
  rec.exchange(end + 1000, 'StatusNotification', { connectorId: c, errorCode: 'NoError', status: 'Finishing', timestamp: iso(end + 1000) }, {});
  rec.exchange(end + 60_000, 'StatusNotification', { connectorId: c, errorCode: 'NoError', status: 'Available', timestamp: iso(end + 60_000) }, {});
  rec.disconnected(end + 120_000, 'closed by charger');
  return rec.frames;
};

export const session201 = (s: SessionScript): OcppFrame[] => {
  const rec = new Recorder(s.chargePointId, 'ocpp2.0.1');
  const evse = s.connectorId ?? 1;
  const tx = s.transactionId ?? 'b7c1e0f2';
  const every = s.every ?? 5;
  const powerW = (s.energyWh / s.minutes) * 60;
  const mult = s.kilo ? 3 : 0;
  const eUnit = s.kilo ? 'kWh' : 'Wh';
  const pUnit = s.kilo ? 'kW' : 'W';
  let seqNo = 0;
  const txEvent = (at: number, eventType: string, extra: object) =>
    rec.exchange(at, 'TransactionEvent', { eventType, timestamp: iso(at), triggerReason: 'MeterValuePeriodic', seqNo: seqNo++, transactionInfo: { transactionId: tx }, ...extra }, {});
  rec.connected(s.t0 - 2 * minute);
  rec.exchange(s.t0 - 2 * minute + 100, 'BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Acme', model: 'AC22', serialNumber: 'SN-1', firmwareVersion: '1.2.3' } }, { status: 'Accepted', currentTime: iso(s.t0), interval: 300 });
  rec.exchange(s.t0 - minute, 'StatusNotification', { timestamp: iso(s.t0 - minute), connectorStatus: 'Available', evseId: evse, connectorId: 1 }, {});
  rec.exchange(s.t0, 'StatusNotification', { timestamp: iso(s.t0), connectorStatus: 'Occupied', evseId: evse, connectorId: 1 }, {});
  rec.exchange(s.t0 + 1000, 'Authorize', { idToken: { idToken: s.idTag, type: 'ISO14443' } }, { idTokenInfo: { status: 'Accepted' } });
  txEvent(s.t0 + 2000, 'Started', {
    triggerReason: 'Authorized',
    transactionInfo: { transactionId: tx, chargingState: 'Charging' },
    idToken: { idToken: s.idTag, type: 'ISO14443' },
    evse: { id: evse, connectorId: 1 },
    meterValue: [{ timestamp: iso(s.t0 + 2000), sampledValue: [{ value: s.meterStartWh / 10 ** mult, context: 'Transaction.Begin', measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: eUnit, multiplier: 0 } }] }],
  });
  for (let m = every; m < s.minutes; m += every) {
    const at = s.t0 + m * minute;
    const reg = s.meterStartWh + powerW * (m / 60);
    const sampled: object[] = [
      { value: reg / 10 ** mult, measurand: 'Energy.Active.Import.Register', context: 'Sample.Periodic', unitOfMeasure: { unit: eUnit } },
      { value: powerW / 10 ** mult, measurand: 'Power.Active.Import', context: 'Sample.Periodic', unitOfMeasure: { unit: pUnit } },
      { value: powerW / 3 / 230, measurand: 'Current.Import', phase: 'L1', context: 'Sample.Periodic', unitOfMeasure: { unit: 'A' } },
      { value: 230.1, measurand: 'Voltage', phase: 'L1-N', context: 'Sample.Periodic', unitOfMeasure: { unit: 'V' } },
    ];
    if (s.socStartPct !== undefined) sampled.push({ value: Math.round(s.socStartPct + (m / s.minutes) * 40), measurand: 'SoC', location: 'EV', context: 'Sample.Periodic', unitOfMeasure: { unit: 'Percent' } });
    txEvent(at, 'Updated', { meterValue: [{ timestamp: iso(at), sampledValue: sampled }] });
    if (m % 10 === 0) rec.exchange(at + 500, 'Heartbeat', {}, { currentTime: iso(at + 500) });
  }
  const end = s.t0 + s.minutes * minute;
  txEvent(end, 'Ended', {
    triggerReason: 'EVCommunicationLost',
    transactionInfo: { transactionId: tx, chargingState: 'EVConnected', stoppedReason: 'EVDisconnected' },
    meterValue: [{ timestamp: iso(end), sampledValue: [{ value: Math.round(s.meterStartWh + s.energyWh) / 10 ** mult, context: 'Transaction.End', measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: eUnit } }] }],
  });
  rec.exchange(end + 60_000, 'StatusNotification', { timestamp: iso(end + 60_000), connectorStatus: 'Available', evseId: evse, connectorId: 1 }, {});
  rec.disconnected(end + 120_000, 'closed by charger');
  return rec.frames;
};

/** What must be equal between the versions' events of one session: everything but ids, the protocol and the OCPP
 *  transaction id. */
export const comparable = (e: ChargingEvent): Record<string, unknown> => {
  const b = { ...e.body } as Record<string, unknown>;
  delete b.protocol;
  delete b.transactionId;
  if (typeof b.sessionId === 'string') b.sessionId = 'S';
  return b;
};
