/** What the central system answers to each CALL a charger may send, per version. Pure: everything it needs
 *  (configuration view, time, an allocated 1.6 transactionId) is passed in. */
import * as E from 'fp-ts/Either';
import { FleetView, bootStatus, decideToken, heldFor } from './fleet';
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

/** Where a start happens: a reservation for another token on it refuses the start until the reservation expires. */
interface StartPlace {
  readonly connectorId: number | undefined;
}

const reservedElsewhere = (i: AnswerInput, idTag: string, at: StartPlace | undefined): boolean =>
  at !== undefined && heldFor(i.fleet, i.chargePointId, at.connectorId, idTag, i.now) !== undefined;

const idTagInfo16 = (idTag: unknown, i: AnswerInput, at?: StartPlace) => {
  const tag = String(idTag);
  const d = decideToken(i.fleet, tag, i.now);
  // 1.6 has no status for "reserved for someone else": Invalid, as a charger enforcing the reservation itself would.
  const status = d.status === 'Accepted' && reservedElsewhere(i, tag, at) ? 'Invalid' : d.status;
  return { status, ...(d.expiresAt !== undefined ? { expiryDate: iso(d.expiresAt) } : {}), ...(d.parentIdTag !== undefined ? { parentIdTag: d.parentIdTag } : {}) };
};

const idTokenInfo201 = (token: unknown, i: AnswerInput, at?: StartPlace) => {
  const t = token as { idToken?: string; type?: string };
  // NoAuthorization tokens (free vend) carry no identity to check.
  if (t.type === 'NoAuthorization') return { status: 'Accepted' };
  const tag = String(t.idToken ?? '');
  const d = decideToken(i.fleet, tag, i.now);
  const status = d.status === 'Accepted' && reservedElsewhere(i, tag, at) ? 'NotAtThisTime' : d.status;
  const group = d.parentIdTag !== undefined ? { groupIdToken: { idToken: d.parentIdTag, type: i.fleet.tokens.get(d.parentIdTag)?.tokenType ?? 'Central' } } : {};
  return { status, ...(d.expiresAt !== undefined ? { cacheExpiryDateTime: iso(d.expiresAt) } : {}), ...group };
};

const connectorOf = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** Charger → central system actions of OCPP 1.6J (Core, Firmware, Smart Charging, Remote Trigger, Local Auth List
 *  profiles, plus the security whitepaper's notifications). */
const v16: Record<string, Answer> = {
  BootNotification: (_p, i) => ({ status: bootStatus(i.fleet, i.chargePointId), currentTime: iso(i.now), interval: i.heartbeatIntervalS }),
  Heartbeat: (_p, i) => ({ currentTime: iso(i.now) }),
  Authorize: (p, i) => ({ idTagInfo: idTagInfo16(p.idTag, i) }),
  StartTransaction: (p, i) => ({ transactionId: i.transactionId!, idTagInfo: idTagInfo16(p.idTag, i, { connectorId: connectorOf(p.connectorId) }) }),
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
  TransactionEvent: (p, i) => (p.idToken ? { idTokenInfo: idTokenInfo201(p.idToken, i, { connectorId: connectorOf((p.evse as { id?: unknown } | undefined)?.id) }) } : {}),
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
