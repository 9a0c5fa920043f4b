import * as E from 'fp-ts/Either';
import { ChargingEvent, EventBody, LimitSchedule, MeterSample, SourceRef } from '../../schemas/events';
import { CommandResult, OcppFrame } from './frame';
import { energyRegister, isTransactionBoundaryRegister, sample16, sample201, SampledValue16, SampledValue201 } from './units';
import { Protocol, protocols } from '../../services/ocpp-gateway/protocol';
import { validatePayload } from '../../services/ocpp-gateway/schemas';
import { configurationReport, notifyReport, outboundKey, tokenDecision, tokenOfCall } from './authorization-and-model';

/** The normalizer as a decider over one charger's frames: `decide(state, frame, source) => facts` and
 *  `evolve(state, fact) => state`, kept apart. Facts are the charging.events the frame means (published) and the
 *  charger's own bookkeeping the events don't carry (a CALL waiting for its answer, the last energy register of a
 *  session). Pure: no I/O, no clock; event ids come from the source record (`<topic>:<partition>:<offset>:<n>`), so
 *  running it twice over the same log yields the same events. OCPP 1.6J and 2.0.1 map to one vocabulary, and a 1.6
 *  StartTransaction/StopTransaction session and the equivalent 2.0.1 TransactionEvent sequence yield the same events
 *  (apart from ids and the protocol field). */

export interface OpenSession {
  readonly sessionId: string;
  readonly transactionId: string;
  readonly connectorId: number;
  readonly meterStartWh: number;
  readonly lastRegisterWh: number | null;
}

export interface PendingCall {
  readonly action: string;
  readonly payload: unknown;
  readonly at: number;
}

export interface ChargerState {
  /** Charger-initiated CALLs waiting for the central system's CALLRESULT (1.6 StartTransaction needs the
   *  transactionId of the answer; BootNotification the status and interval). */
  readonly pending: Readonly<Record<string, PendingCall>>;
  /** Open sessions by transaction id. */
  readonly sessions: Readonly<Record<string, OpenSession>>;
  /** Last status emitted per connector (statuses are emitted on change only). */
  readonly status: Readonly<Record<string, string>>;
  /** Transaction id open on each connector. */
  readonly onConnector: Readonly<Record<string, string>>;
}

export const initialCharger: ChargerState = { pending: {}, sessions: {}, status: {}, onConnector: {} };

/** What a frame means: a published event, or bookkeeping only the charger's state keeps. */
export type ChargerFact =
  | { readonly kind: 'published'; readonly event: ChargingEvent }
  | { readonly kind: 'callPending'; readonly uniqueId: string; readonly call: PendingCall }
  | { readonly kind: 'callAnswered'; readonly uniqueId: string }
  | { readonly kind: 'registerRead'; readonly transactionId: string; readonly registerWh: number };

export const sessionIdOf = (chargePointId: string, transactionId: string): string => `${chargePointId}:${transactionId}`;

const omit = <T>(r: Readonly<Record<string, T>>, key: string | number): Record<string, T> => {
  const { [String(key)]: _gone, ...rest } = r;
  return rest;
};

const evolveEvent = (s: ChargerState, b: EventBody): ChargerState => {
  switch (b.type) {
    case 'ChargerDisconnected':
      // A CALL in flight when the connection dropped gets no answer; the charger will retry it.
      return Object.keys(s.pending).length === 0 ? s : { ...s, pending: {} };
    case 'ConnectorStatusChanged':
      return s.status[b.connectorId] === b.status ? s : { ...s, status: { ...s.status, [b.connectorId]: b.status } };
    case 'SessionStarted':
      return {
        ...s,
        sessions: { ...s.sessions, [b.transactionId]: { sessionId: b.sessionId, transactionId: b.transactionId, connectorId: b.connectorId, meterStartWh: b.meterStartWh, lastRegisterWh: null } },
        onConnector: { ...s.onConnector, [b.connectorId]: b.transactionId },
      };
    case 'SessionEnded': {
      const onConnector = s.onConnector[b.connectorId] === b.transactionId ? omit(s.onConnector, b.connectorId) : s.onConnector;
      return { ...s, sessions: omit(s.sessions, b.transactionId), onConnector };
    }
    default:
      return s;
  }
};

export const evolve = (s: ChargerState, f: ChargerFact): ChargerState => {
  switch (f.kind) {
    case 'published':
      return evolveEvent(s, f.event.body);
    case 'callPending':
      return { ...s, pending: { ...s.pending, [f.uniqueId]: f.call } };
    case 'callAnswered':
      return s.pending[f.uniqueId] ? { ...s, pending: omit(s.pending, f.uniqueId) } : s;
    case 'registerRead': {
      const open = s.sessions[f.transactionId];
      return open ? { ...s, sessions: { ...s.sessions, [f.transactionId]: { ...open, lastRegisterWh: f.registerWh } } } : s;
    }
  }
};

const parse = (json: string | null): unknown => {
  if (json === null) return undefined;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
};

const time = (iso: unknown, fallback: number): number => {
  if (typeof iso !== 'string') return fallback;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? fallback : t;
};

/** The facts decided from one source record, numbering its events; `state` is the state as the facts so far leave it
 *  (a later fact of the same frame depends on an earlier one, e.g. a stop after the last meter sample). */
class Facts {
  readonly facts: ChargerFact[] = [];
  private published = 0;
  constructor(
    public state: ChargerState,
    private readonly chargePointId: string,
    private readonly source: SourceRef,
  ) {}
  private add(f: ChargerFact): void {
    this.facts.push(f);
    this.state = evolve(this.state, f);
  }
  push(occurredAt: number, body: EventBody): void {
    const s = this.source;
    this.add({ kind: 'published', event: { eventId: `${s.topic}:${s.partition}:${s.offset}:${this.published++}`, chargePointId: this.chargePointId, occurredAt, source: s, body } });
  }
  pending(uniqueId: string, call: PendingCall): void {
    this.add({ kind: 'callPending', uniqueId, call });
  }
  answered(uniqueId: string): void {
    if (this.state.pending[uniqueId]) this.add({ kind: 'callAnswered', uniqueId });
  }
  register(transactionId: string, registerWh: number): void {
    this.add({ kind: 'registerRead', transactionId, registerWh });
  }
}

const setStatus = (out: Facts, at: number, connectorId: number, status: string, errorCode: string | null = null, info: string | null = null): void => {
  if (out.state.status[connectorId] === status && errorCode === null) return;
  out.push(at, { type: 'ConnectorStatusChanged', connectorId, status, errorCode, info });
};

const openSession = (out: Facts, cp: string, at: number, transactionId: string, connectorId: number, idTag: string | null, meterStartWh: number): void => {
  out.push(at, { type: 'SessionStarted', sessionId: sessionIdOf(cp, transactionId), transactionId, connectorId, idTag, meterStartWh });
};

const closeSession = (out: Facts, cp: string, at: number, transactionId: string, meterStopWh: number | undefined, reason: string | null, connectorHint: number): void => {
  const open = out.state.sessions[transactionId];
  const connectorId = open?.connectorId ?? connectorHint;
  const start = open?.meterStartWh ?? meterStopWh ?? 0;
  const stop = meterStopWh ?? open?.lastRegisterWh ?? start;
  out.push(at, { type: 'SessionEnded', sessionId: sessionIdOf(cp, transactionId), transactionId, connectorId, meterStopWh: stop, energyWh: Math.max(0, stop - start), reason });
};

/** One MeterSampled per sampled instant, plus ChargerReportedSoc when the charger sent a SoC. Remembers the last
 *  energy register of the session, for a stop without a meter reading. */
const meterSamples = (out: Facts, at: number, connectorId: number, transactionId: string | undefined, samples: MeterSample[], cp: string): void => {
  const sessionId = transactionId !== undefined ? sessionIdOf(cp, transactionId) : null;
  const kept = samples.filter((x) => !isTransactionBoundaryRegister(x));
  if (kept.length > 0) out.push(at, { type: 'MeterSampled', sessionId, connectorId, samples: kept });
  const soc = [...samples].reverse().find((x) => x.measurand === 'SoC');
  if (soc) out.push(at, { type: 'ChargerReportedSoc', sessionId, connectorId, socPct: soc.value });
  const reg = energyRegister(samples);
  if (transactionId !== undefined && out.state.sessions[transactionId] && reg !== undefined) out.register(transactionId, reg);
};

// ---- OCPP 1.6J -------------------------------------------------------------------------------------------------

interface MeterValue16 {
  timestamp: string;
  sampledValue: SampledValue16[];
}

const call16 = (out: Facts, f: OcppFrame, p: Record<string, unknown>): void => {
  const cp = f.chargePointId;
  const s = out.state;
  switch (f.action) {
    case 'Heartbeat':
      out.push(f.receivedAt, { type: 'HeartbeatReceived' });
      return;
    case 'StatusNotification': {
      const errorCode = p.errorCode === 'NoError' || typeof p.errorCode !== 'string' ? null : p.errorCode;
      const info = typeof p.info === 'string' ? p.info : typeof p.vendorErrorCode === 'string' ? p.vendorErrorCode : null;
      return setStatus(out, time(p.timestamp, f.receivedAt), Number(p.connectorId), String(p.status), errorCode, info);
    }
    case 'MeterValues': {
      const connectorId = Number(p.connectorId);
      const tx = p.transactionId !== undefined && p.transactionId !== null ? String(p.transactionId) : s.onConnector[connectorId];
      for (const mv of (p.meterValue as MeterValue16[] | undefined) ?? []) {
        const samples = (mv.sampledValue ?? []).map(sample16).filter((x): x is MeterSample => x !== undefined);
        meterSamples(out, time(mv.timestamp, f.receivedAt), connectorId, tx, samples, cp);
      }
      return;
    }
    case 'StopTransaction': {
      const tx = String(p.transactionId);
      const connectorHint = s.sessions[tx]?.connectorId ?? 0;
      for (const mv of (p.transactionData as MeterValue16[] | undefined) ?? []) {
        const samples = (mv.sampledValue ?? []).map(sample16).filter((x): x is MeterSample => x !== undefined);
        meterSamples(out, time(mv.timestamp, f.receivedAt), connectorHint, tx, samples, cp);
      }
      return closeSession(out, cp, time(p.timestamp, f.receivedAt), tx, Number(p.meterStop), typeof p.reason === 'string' ? p.reason : 'Local', connectorHint);
    }
    case 'BootNotification':
    case 'StartTransaction':
    case 'Authorize':
      return out.pending(f.uniqueId ?? '', { action: f.action, payload: p, at: f.receivedAt });
    default:
      return;
  }
};

const result16 = (out: Facts, f: OcppFrame, r: Record<string, unknown>): void => {
  const call = out.state.pending[f.uniqueId ?? ''];
  if (!call) return;
  out.answered(f.uniqueId ?? '');
  const p = call.payload as Record<string, unknown>;
  const decision = tokenDecision(call.action, p, r);
  if (decision) out.push(f.receivedAt, decision);
  switch (call.action) {
    case 'BootNotification':
      out.push(f.receivedAt, {
        type: 'ChargerBooted',
        protocol: f.protocol,
        vendor: String(p.chargePointVendor ?? ''),
        model: String(p.chargePointModel ?? ''),
        serialNumber: typeof p.chargePointSerialNumber === 'string' ? p.chargePointSerialNumber : typeof p.chargeBoxSerialNumber === 'string' ? p.chargeBoxSerialNumber : null,
        firmwareVersion: typeof p.firmwareVersion === 'string' ? p.firmwareVersion : null,
        accepted: r.status === 'Accepted',
        heartbeatIntervalS: Number(r.interval ?? 0),
      });
      return;
    case 'StartTransaction':
      if (r.transactionId === undefined || r.transactionId === null) return;
      return openSession(out, f.chargePointId, time(p.timestamp, call.at), String(r.transactionId), Number(p.connectorId), typeof p.idTag === 'string' ? p.idTag : null, Number(p.meterStart ?? 0));
    default:
      return;
  }
};

// ---- OCPP 2.0.1 ------------------------------------------------------------------------------------------------

interface MeterValue201 {
  timestamp: string;
  sampledValue: SampledValue201[];
}

const samples201 = (mvs: MeterValue201[] | undefined): { at: string; samples: MeterSample[] }[] =>
  (mvs ?? []).map((mv) => ({ at: mv.timestamp, samples: (mv.sampledValue ?? []).map(sample201).filter((x): x is MeterSample => x !== undefined) }));

/** 2.0.1 chargingState → the 1.6 connector status vocabulary. */
const chargingStateStatus: Record<string, string> = { Charging: 'Charging', EVConnected: 'SuspendedEV', SuspendedEV: 'SuspendedEV', SuspendedEVSE: 'SuspendedEVSE', Idle: 'Available' };

const transactionEvent = (out: Facts, f: OcppFrame, p: Record<string, unknown>): void => {
  const cp = f.chargePointId;
  const at = time(p.timestamp, f.receivedAt);
  const info = (p.transactionInfo ?? {}) as { transactionId: string; chargingState?: string; stoppedReason?: string };
  const tx = String(info.transactionId);
  const evse = (p.evse ?? undefined) as { id: number } | undefined;
  const open = out.state.sessions[tx];
  const connectorId = evse?.id ?? open?.connectorId ?? 0;
  const mvs = samples201(p.meterValue as MeterValue201[] | undefined);
  if (p.eventType === 'Started' || (p.eventType === 'Updated' && !open)) {
    const all = mvs.flatMap((m) => m.samples);
    const idToken = (p.idToken ?? undefined) as { idToken?: string } | undefined;
    openSession(out, cp, at, tx, connectorId, idToken?.idToken ?? null, energyRegister(all, 'Transaction.Begin') ?? 0);
  }
  if (p.eventType === 'Ended') {
    for (const m of mvs) meterSamples(out, time(m.at, at), connectorId, tx, m.samples, cp);
    const stop = energyRegister(mvs.flatMap((m) => m.samples), 'Transaction.End');
    closeSession(out, cp, at, tx, stop, info.stoppedReason ?? 'Local', connectorId);
    // After the transaction the EV may still be plugged in: Finishing, as a 1.6 charger says.
    if (info.chargingState && info.chargingState !== 'Idle') return setStatus(out, at, connectorId, 'Finishing');
    if (info.chargingState === 'Idle') return setStatus(out, at, connectorId, 'Available');
    return;
  }
  if (info.chargingState) {
    const status = chargingStateStatus[info.chargingState];
    // EVConnected before energy flows is Preparing (1.6), and SuspendedEV once a transaction is running.
    if (status) setStatus(out, at, connectorId, info.chargingState === 'EVConnected' && !out.state.sessions[tx] ? 'Preparing' : status);
  }
  for (const m of mvs) meterSamples(out, time(m.at, at), connectorId, tx, m.samples, cp);
};

const call201 = (out: Facts, f: OcppFrame, p: Record<string, unknown>): void => {
  const s = out.state;
  switch (f.action) {
    case 'Heartbeat':
      out.push(f.receivedAt, { type: 'HeartbeatReceived' });
      return;
    case 'StatusNotification': {
      const evseId = Number(p.evseId);
      const at = time(p.timestamp, f.receivedAt);
      const cs = String(p.connectorStatus);
      if (cs !== 'Occupied') return setStatus(out, at, evseId, cs);
      // Occupied says less than 1.6: with a transaction the TransactionEvent's chargingState tells; without, an EV
      // was plugged in (Preparing) or is still plugged in after one (Finishing).
      if (s.onConnector[evseId] !== undefined) return;
      const prev = s.status[evseId];
      return setStatus(out, at, evseId, prev === 'Finishing' || prev === 'Preparing' ? prev : 'Preparing');
    }
    case 'TransactionEvent':
      if (tokenOfCall('TransactionEvent', p)) out.pending(f.uniqueId ?? '', { action: f.action, payload: p, at: f.receivedAt });
      return transactionEvent(out, f, p);
    case 'NotifyReport':
      out.push(f.receivedAt, notifyReport(p));
      return;
    case 'MeterValues': {
      const evseId = Number(p.evseId);
      for (const m of samples201(p.meterValue as MeterValue201[] | undefined)) meterSamples(out, time(m.at, f.receivedAt), evseId, s.onConnector[evseId], m.samples, f.chargePointId);
      return;
    }
    case 'NotifyEVChargingNeeds': {
      const evseId = Number(p.evseId);
      const needs = (p.chargingNeeds ?? {}) as {
        departureTime?: string;
        acChargingParameters?: { energyAmount?: number; evMaxCurrent?: number; evMaxVoltage?: number };
        dcChargingParameters?: { energyAmount?: number; evMaxPower?: number; stateOfCharge?: number };
      };
      const ac = needs.acChargingParameters;
      const dc = needs.dcChargingParameters;
      const energy = dc?.energyAmount ?? ac?.energyAmount;
      const maxPower = dc?.evMaxPower ?? (ac?.evMaxCurrent !== undefined && ac.evMaxVoltage !== undefined ? ac.evMaxCurrent * ac.evMaxVoltage : undefined);
      out.push(f.receivedAt, {
        type: 'EvChargingNeedsReported',
        connectorId: evseId,
        energyAmountWh: energy ?? null,
        departureTime: needs.departureTime ? time(needs.departureTime, f.receivedAt) : null,
        evMaxPowerW: maxPower ?? null,
      });
      if (dc?.stateOfCharge !== undefined) {
        const tx = s.onConnector[evseId];
        out.push(f.receivedAt, { type: 'ChargerReportedSoc', sessionId: tx !== undefined ? sessionIdOf(f.chargePointId, tx) : null, connectorId: evseId, socPct: dc.stateOfCharge });
      }
      return;
    }
    case 'NotifyChargingLimit': {
      const limit = (p.chargingLimit ?? {}) as { chargingLimitSource?: string; isGridCritical?: boolean };
      const schedules = ((p.chargingSchedule as Schedule201[] | undefined) ?? []).map((x) => limitSchedule(x, null));
      out.push(f.receivedAt, { type: 'ExternalLimitReported', evseId: Number(p.evseId ?? 0), source: String(limit.chargingLimitSource ?? 'Other'), isGridCritical: limit.isGridCritical ?? null, schedules });
      return;
    }
    case 'ClearedChargingLimit':
      out.push(f.receivedAt, { type: 'ExternalLimitCleared', evseId: Number(p.evseId ?? 0), source: String(p.chargingLimitSource ?? 'Other') });
      return;
    case 'ReportChargingProfiles': {
      // Only the limits others set: external-constraints profiles (the CSMS's own profiles are known from ocpp.commands).
      const source = String(p.chargingLimitSource ?? 'CSO');
      const profiles = ((p.chargingProfile as Profile201[] | undefined) ?? []).filter((x) => x.chargingProfilePurpose === 'ChargingStationExternalConstraints');
      if (source === 'CSO' && profiles.length === 0) return;
      const schedules = profiles.flatMap((x) => x.chargingSchedule.map((sc) => limitSchedule(sc, x.validTo ? time(x.validTo, NaN) : null, x.validFrom)));
      out.push(f.receivedAt, { type: 'ExternalLimitReported', evseId: Number(p.evseId ?? 0), source, isGridCritical: null, schedules });
      return;
    }
    case 'BootNotification':
    case 'Authorize':
      return out.pending(f.uniqueId ?? '', { action: f.action, payload: p, at: f.receivedAt });
    default:
      return;
  }
};

interface Schedule201 {
  startSchedule?: string;
  duration?: number;
  chargingRateUnit: string;
  chargingSchedulePeriod: { startPeriod: number; limit: number; numberPhases?: number }[];
}
interface Profile201 {
  chargingProfilePurpose: string;
  validFrom?: string;
  validTo?: string;
  chargingSchedule: Schedule201[];
}

/** A 2.0.1 ChargingSchedule as a limit: absolute when it has a start (or the profile a validFrom), else from when it was
 *  reported; a profile's validTo ends it. Recurring schedules are taken once, from their start. */
const limitSchedule = (x: Schedule201, validTo: number | null, validFrom?: string): LimitSchedule => {
  const startAt = x.startSchedule ? time(x.startSchedule, NaN) : validFrom ? time(validFrom, NaN) : NaN;
  const start = Number.isNaN(startAt) ? null : startAt;
  const untilValidTo = validTo !== null && !Number.isNaN(validTo) && start !== null ? Math.max(0, Math.floor((validTo - start) / 1000)) : null;
  const durationS = x.duration ?? untilValidTo;
  return { startAt: start, durationS: durationS === null ? null : Math.min(durationS, untilValidTo ?? durationS), unit: x.chargingRateUnit, periods: x.chargingSchedulePeriod.map((q) => ({ startS: q.startPeriod, limit: q.limit, numberPhases: q.numberPhases ?? null })) };
};

const result201 = (out: Facts, f: OcppFrame, r: Record<string, unknown>): void => {
  const call = out.state.pending[f.uniqueId ?? ''];
  if (!call) return;
  out.answered(f.uniqueId ?? '');
  const decision = tokenDecision(call.action, call.payload as Record<string, unknown>, r);
  if (decision) out.push(f.receivedAt, decision);
  if (call.action !== 'BootNotification') return;
  const station = ((call.payload as Record<string, unknown>).chargingStation ?? {}) as Record<string, unknown>;
  out.push(f.receivedAt, {
    type: 'ChargerBooted',
    protocol: f.protocol,
    vendor: String(station.vendorName ?? ''),
    model: String(station.model ?? ''),
    serialNumber: typeof station.serialNumber === 'string' ? station.serialNumber : null,
    firmwareVersion: typeof station.firmwareVersion === 'string' ? station.firmwareVersion : null,
    accepted: r.status === 'Accepted',
    heartbeatIntervalS: Number(r.interval ?? 0),
  });
};

// ---- the fold --------------------------------------------------------------------------------------------------

/** The payload of an inbound CALL against its version's OCPP schema, as the gateway checks it. */
const isValidCall = (f: OcppFrame, payload: object): boolean =>
  protocols.includes(f.protocol as Protocol) && f.action !== null && E.isRight(validatePayload(f.protocol as Protocol, f.action, 'req', payload));

export const decide = (s: ChargerState, f: OcppFrame, source: SourceRef): ChargerFact[] => {
  const out = new Facts(s, f.chargePointId, source);
  const v201 = f.protocol.startsWith('ocpp2');
  switch (f.kind) {
    case 'CONNECTED':
      out.push(f.receivedAt, { type: 'ChargerConnected', protocol: f.protocol, gatewayId: f.gatewayId });
      break;
    case 'DISCONNECTED':
      out.push(f.receivedAt, { type: 'ChargerDisconnected', gatewayId: f.gatewayId, reason: f.errorDescription ?? f.errorCode ?? null });
      break;
    case 'CALL': {
      if (f.direction === 'OUT' && f.action === 'GetConfiguration' && f.uniqueId !== null) {
        out.pending(outboundKey(f.uniqueId), { action: f.action, payload: {}, at: f.receivedAt });
        break;
      }
      // A CALL the gateway refused (its record carries the refusal; the charger got a CALLERROR and will retry) changes
      // nothing, and neither does one that breaks the OCPP schema (records written before refusals were marked).
      if (f.direction !== 'IN' || f.errorCode !== null) break;
      const p = parse(f.payloadJson);
      if (typeof p !== 'object' || p === null || !isValidCall(f, p)) break;
      if (v201) call201(out, f, p as Record<string, unknown>);
      else call16(out, f, p as Record<string, unknown>);
      break;
    }
    case 'CALLRESULT': {
      if (f.direction === 'IN' && f.uniqueId !== null && out.state.pending[outboundKey(f.uniqueId)]) {
        out.answered(outboundKey(f.uniqueId));
        const answer = parse(f.payloadJson);
        if (typeof answer === 'object' && answer !== null) out.push(f.receivedAt, configurationReport(answer as Record<string, unknown>));
        break;
      }
      if (f.direction !== 'OUT') break;
      const r = parse(f.payloadJson);
      if (typeof r !== 'object' || r === null) break;
      if (v201) result201(out, f, r as Record<string, unknown>);
      else result16(out, f, r as Record<string, unknown>);
      break;
    }
    case 'CALLERROR':
      if (f.direction === 'OUT' && f.uniqueId !== null) out.answered(f.uniqueId);
      if (f.direction === 'IN' && f.uniqueId !== null) out.answered(outboundKey(f.uniqueId));
      break;
  }
  return out.facts;
};

/** The charging.events a list of facts publishes. */
export const publishedEvents = (facts: readonly ChargerFact[]): ChargingEvent[] => facts.flatMap((f) => (f.kind === 'published' ? [f.event] : []));

/** ocpp.command-results → CommandCompleted (profile accepted / rejected, remote start refused, ...). */
export const commandCompleted = (r: CommandResult, source: SourceRef): ChargingEvent => ({
  eventId: `${source.topic}:${source.partition}:${source.offset}:0`,
  chargePointId: r.chargePointId,
  occurredAt: r.completedAt,
  source,
  body: { type: 'CommandCompleted', commandId: r.commandId, action: r.action, outcome: r.outcome, detail: r.detail ?? r.status ?? null },
});
