/** What the central system answers to each CALL a charger may send, per version. Pure: everything it needs
 *  (configuration view, time, an allocated 1.6 transactionId) is passed in. */
import * as E from 'fp-ts/Either';
import { FleetView, authorizeIdTag, bootStatus } from './fleet';
import { Fault, Protocol } from './protocol';

export interface AnswerInput {
  readonly chargePointId: string;
  readonly fleet: FleetView;
  readonly now: number;
  readonly heartbeatIntervalS: number;
  /** Allocated by the caller for 1.6 StartTransaction (see needsTransactionId). */
  readonly transactionId?: number;
}

type Payload = Record<string, unknown>;
type Answer = (p: Payload, i: AnswerInput) => Payload;

const empty: Answer = () => ({});
const iso = (ms: number) => new Date(ms).toISOString();

const idTagInfo16 = (idTag: unknown, i: AnswerInput) => ({ status: authorizeIdTag(i.fleet, String(idTag)) });
const idTokenInfo201 = (token: unknown, i: AnswerInput) => {
  const t = token as { idToken?: string; type?: string };
  // NoAuthorization tokens (free vend) carry no identity to check.
  if (t.type === 'NoAuthorization') return { status: 'Accepted' };
  return { status: authorizeIdTag(i.fleet, String(t.idToken ?? '')) };
};

/** Charger → central system actions of OCPP 1.6J (Core, Firmware, Smart Charging, Remote Trigger, Local Auth List
 *  profiles, plus the security whitepaper's notifications). */
const v16: Record<string, Answer> = {
  BootNotification: (_p, i) => ({ status: bootStatus(i.fleet, i.chargePointId), currentTime: iso(i.now), interval: i.heartbeatIntervalS }),
  Heartbeat: (_p, i) => ({ currentTime: iso(i.now) }),
  Authorize: (p, i) => ({ idTagInfo: idTagInfo16(p.idTag, i) }),
  StartTransaction: (p, i) => ({ transactionId: i.transactionId!, idTagInfo: idTagInfo16(p.idTag, i) }),
  StopTransaction: (p, i) => (typeof p.idTag === 'string' ? { idTagInfo: idTagInfo16(p.idTag, i) } : {}),
  StatusNotification: empty,
  MeterValues: empty,
  DataTransfer: () => ({ status: 'UnknownVendorId' }),
  DiagnosticsStatusNotification: empty,
  FirmwareStatusNotification: empty,
  SecurityEventNotification: empty,
  LogStatusNotification: empty,
  SignedFirmwareStatusNotification: empty,
};

const v201: Record<string, Answer> = {
  BootNotification: (_p, i) => ({ currentTime: iso(i.now), interval: i.heartbeatIntervalS, status: bootStatus(i.fleet, i.chargePointId) }),
  Heartbeat: (_p, i) => ({ currentTime: iso(i.now) }),
  StatusNotification: empty,
  Authorize: (p, i) => ({ idTokenInfo: idTokenInfo201(p.idToken, i) }),
  TransactionEvent: (p, i) => (p.idToken ? { idTokenInfo: idTokenInfo201(p.idToken, i) } : {}),
  MeterValues: empty,
  NotifyEVChargingNeeds: () => ({ status: 'Accepted' }),
  NotifyEVChargingSchedule: () => ({ status: 'Accepted' }),
  NotifyReport: empty,
  NotifyEvent: empty,
  NotifyMonitoringReport: empty,
  NotifyChargingLimit: empty,
  ClearedChargingLimit: empty,
  ReportChargingProfiles: empty,
  FirmwareStatusNotification: empty,
  PublishFirmwareStatusNotification: empty,
  LogStatusNotification: empty,
  SecurityEventNotification: empty,
  NotifyCustomerInformation: empty,
  NotifyDisplayMessages: empty,
  ReservationStatusUpdate: empty,
  DataTransfer: () => ({ status: 'UnknownVendorId' }),
};

const table: Record<Protocol, Record<string, Answer>> = { 'ocpp1.6': v16, 'ocpp2.0.1': v201 };

export const handlesAction = (p: Protocol, action: string): boolean => Object.hasOwn(table[p], action);

export const needsTransactionId = (p: Protocol, action: string): boolean => p === 'ocpp1.6' && action === 'StartTransaction';

export const answerCall = (p: Protocol, action: string, payload: Payload, input: AnswerInput): E.Either<{ fault: Fault; reason: string }, Payload> => {
  const answer = table[p][action];
  if (!answer) return E.left({ fault: 'NotSupported', reason: `${action} is not a charger-initiated action this central system handles` });
  if (needsTransactionId(p, action) && input.transactionId === undefined) return E.left({ fault: 'Internal', reason: 'no transactionId allocated' });
  return E.right(answer(payload, input));
};
