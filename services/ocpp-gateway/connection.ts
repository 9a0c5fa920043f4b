/** One charger's conversation on one WebSocket: RPC framing rules (one outstanding CALL per direction, unique ids,
 *  timeouts), answers after the durable write, commands as outbound CALLs. Inbound frames are processed in order
 *  through a mailbox; an outbound CALL waiting for the charger never blocks it (the two directions have separate
 *  slots, and the mailbox only ever waits for our own durable write, never for the charger). */
import { randomInt, randomUUID } from 'node:crypto';
import * as E from 'fp-ts/Either';
import WebSocket, { RawData } from 'ws';
import { answerCall, needsTransactionId } from './answers';
import { GatewaySettings } from './config';
import { FleetView } from './fleet';
import { FrameDraft, messageDraft } from './frames';
import { FrameLog } from './frame-log';
import { GatewayMetrics } from './metrics';
import { Call, CallError, CallResult, Fault, Message, Protocol, Refusal, callError, errorCode, parseFrame, serialize, sniff } from './protocol';
import { knownAction, validatePayload } from './schemas';
import { Logger } from '../common/log';
import { deviceModelRequest } from '../../schemas/device-model-request';

export interface Command {
  readonly commandId: string;
  readonly chargePointId: string;
  readonly action: string;
  readonly payloadJson: string;
  readonly issuedBy: string;
  readonly issuedAt: number;
  readonly expiresAt: number | null;
  readonly planId: string | null;
}

export type Outcome = 'ACCEPTED' | 'REJECTED' | 'CALLERROR' | 'TIMEOUT' | 'OFFLINE' | 'INVALID' | 'EXPIRED';

export type Delivery =
  | { readonly kind: 'done'; readonly outcome: Outcome; readonly status: string | null; readonly responseJson: string | null; readonly detail: string | null }
  /** The connection went away before the charger answered: the router may deliver it again elsewhere. */
  | { readonly kind: 'disconnected'; readonly sent: boolean };

export interface Rejection {
  readonly chargePointId: string;
  readonly protocol: Protocol | null;
  readonly stage: 'HANDSHAKE' | 'FRAME' | 'COMMAND';
  readonly raw: Buffer;
  readonly uniqueId: string | null;
  readonly action: string | null;
  readonly errorCode: string;
  readonly reason: string;
  readonly receivedAt: number;
}

export interface ConnectionDeps {
  readonly gatewayId: string;
  readonly settings: GatewaySettings;
  readonly fleet: FleetView;
  readonly frameLog: FrameLog;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  nextTransactionId(): Promise<number>;
  reject(r: Rejection): void;
}

interface Outstanding {
  readonly uniqueId: string;
  readonly action: string;
  readonly commandId: string;
  sentAt: number;
  timer: NodeJS.Timeout | undefined;
  resolve(d: Delivery): void;
}

interface Queued {
  readonly command: Command;
  readonly payload: Record<string, unknown>;
  resolve(d: Delivery): void;
}

/** Status of a charger's answer → command outcome. Answers without a status (GetVariables, ...) count as accepted. */
export const outcomeOf = (payload: Record<string, unknown>): { outcome: Outcome; status: string | null } => {
  const status = typeof payload.status === 'string' ? payload.status : null;
  if (status === null || status === 'Accepted') return { outcome: 'ACCEPTED', status };
  return { outcome: 'REJECTED', status };
};

export class ChargerConnection {
  private mailbox: Promise<void>;
  private inboundPending: string | null = null;
  private outbound: Outstanding | null = null;
  private readonly queue: Queued[] = [];
  private tokens: number;
  private lastRefill = Date.now();
  private refusedInRow = 0;
  /** Inbound work queued in the mailbox and not yet done: at most settings.mailboxMax records of refused frames, plus
   *  the one CALL and the one command answer the protocol allows. */
  private depth = 0;
  private closedFlag = false;
  private readonly base: Pick<FrameDraft, 'chargePointId' | 'gatewayId' | 'protocol'>;
  private readonly log: Logger;
  private readonly ready: Promise<void>;

  constructor(
    readonly chargePointId: string,
    readonly protocol: Protocol,
    private readonly ws: WebSocket,
    private readonly deps: ConnectionDeps,
    ready: Promise<void>,
  ) {
    this.base = { chargePointId, gatewayId: deps.gatewayId, protocol };
    this.tokens = deps.settings.rateBurst;
    this.log = deps.log.child({ chargePointId });
    this.mailbox = ready;
    this.ready = ready;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Resolves when every inbound frame received so far has been handled. */
  drained(): Promise<void> {
    return this.mailbox.catch(() => undefined);
  }

  private enqueue(work: () => Promise<void>): void {
    this.depth++;
    this.mailbox = this.mailbox
      .then(work)
      .catch((e) => this.log.error('frame handling failed', { err: e as Error }))
      .finally(() => this.depth--);
  }

  private get full(): boolean {
    return this.depth >= this.deps.settings.mailboxMax;
  }

  private takeToken(now: number): boolean {
    const s = this.deps.settings;
    this.tokens = Math.min(s.rateBurst, this.tokens + ((now - this.lastRefill) / 1000) * s.ratePerSec);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const at = Date.now();
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    if (!this.takeToken(at)) {
      this.refusedInRow++;
      if (this.refusedInRow > this.deps.settings.rateBurst) {
        this.deps.reject({ ...this.rejectionBase(bytes, at), uniqueId: null, action: null, errorCode: '1008', reason: 'rate limit exceeded persistently; connection closed' });
        this.deps.metrics.rejected.inc({ stage: 'FRAME', reason: 'RateLimitClose' });
        this.ws.close(1008, 'rate limit exceeded');
        return;
      }
      const text = isBinary ? '' : bytes.toString('utf8');
      this.refuse({ fault: 'Generic', ...sniff(text), action: null, reason: `rate limit exceeded (${this.deps.settings.ratePerSec}/s, burst ${this.deps.settings.rateBurst})` }, bytes, at);
      return;
    }
    this.refusedInRow = 0;
    if (isBinary) {
      this.refuse({ fault: 'RpcFramework', uniqueId: '-1', action: null, reason: 'binary frame: OCPP-J uses text frames only', answer: true }, bytes, at);
      return;
    }
    const text = bytes.toString('utf8');
    if (bytes.length > this.deps.settings.maxFrameBytes) {
      this.refuse({ fault: 'Formation', ...sniff(text), action: null, reason: `frame of ${bytes.length} bytes exceeds the limit of ${this.deps.settings.maxFrameBytes}` }, bytes, at);
      return;
    }
    const parsed = parseFrame(text);
    if (E.isLeft(parsed)) {
      this.refuse(parsed.left, bytes, at);
      return;
    }
    const m = parsed.right;
    if (m.kind === 'CALL') {
      if (this.inboundPending !== null) {
        const reason =
          this.inboundPending === m.uniqueId
            ? `duplicate unique id ${m.uniqueId}: a CALL with this id is still pending`
            : `CALL ${this.inboundPending} is still pending: one outstanding CALL per direction`;
        this.refuse({ fault: 'Protocol', uniqueId: m.uniqueId, action: m.action, reason, answer: true }, bytes, at, messageDraft(this.base, 'IN', m, text, at));
        return;
      }
      this.inboundPending = m.uniqueId;
      this.enqueue(() => this.handleCall(m, text, at).finally(() => (this.inboundPending = null)));
      return;
    }
    this.enqueue(() => this.handleResponse(m, text, bytes, at));
  }

  private rejectionBase(bytes: Buffer, at: number) {
    return { chargePointId: this.chargePointId, protocol: this.protocol, stage: 'FRAME' as const, raw: bytes, receivedAt: at };
  }

  /** Refuses a frame: CALLERROR at once (for CALLs), ocpp.rejected, and the frames that crossed the wire in ocpp.frames.
   *  The refused frame's own record there carries the refusal (errorCode, errorDescription), so that readers of
   *  ocpp.frames (the normalizer) can tell a refused CALL from one that was taken, without waiting for the answer. */
  private refuse(r: Refusal, bytes: Buffer, at: number, inDraft?: FrameDraft): void {
    const code = errorCode(this.protocol, r.fault);
    this.deps.metrics.rejected.inc({ stage: 'FRAME', reason: code });
    this.deps.reject({ ...this.rejectionBase(bytes, at), uniqueId: r.uniqueId === '-1' ? null : r.uniqueId, action: r.action, errorCode: code, reason: r.reason });
    const drafts: FrameDraft[] = inDraft ? [{ ...inDraft, errorCode: code, errorDescription: r.reason }] : [];
    if (r.answer) {
      const err = callError(this.protocol, r);
      const text = serialize(err);
      this.send(text, err, r.action);
      drafts.push(messageDraft(this.base, 'OUT', err, text, Date.now(), { action: r.action }));
    }
    // A flood of refused frames would queue a record each behind the durable writes: beyond the bound they are answered
    // and in ocpp.rejected, but not in ocpp.frames. CALLs and answers to commands never wait behind more than this.
    if (drafts.length && !this.full) this.enqueue(() => this.record(drafts));
  }

  private async record(drafts: FrameDraft[]): Promise<void> {
    try {
      await this.deps.frameLog.append(this.chargePointId, drafts);
    } catch (e) {
      this.log.warn('frames not recorded', { err: e as Error, frames: drafts.length });
    }
  }

  private send(text: string, m: Message, action: string | null): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(text);
    this.deps.metrics.framesOut.inc({ action: action ?? 'unknown', kind: m.kind });
  }

  private async decide(m: Call): Promise<E.Either<{ fault: Fault; reason: string }, Record<string, unknown>>> {
    if (!knownAction(this.protocol, m.action)) return E.left({ fault: 'NotImplemented', reason: `unknown action ${m.action} in ${this.protocol}` });
    const valid = validatePayload(this.protocol, m.action, 'req', m.payload);
    if (E.isLeft(valid)) return valid;
    let transactionId: number | undefined;
    if (needsTransactionId(this.protocol, m.action)) {
      try {
        transactionId = await this.deps.nextTransactionId();
      } catch (e) {
        return E.left({ fault: 'Internal', reason: `could not allocate a transactionId: ${(e as Error).message}` });
      }
    }
    const answer = answerCall(this.protocol, m.action, m.payload, {
      chargePointId: this.chargePointId,
      fleet: this.deps.fleet,
      now: Date.now(),
      heartbeatIntervalS: this.deps.settings.heartbeatIntervalS,
      transactionId,
    });
    if (E.isRight(answer)) {
      const own = validatePayload(this.protocol, m.action, 'conf', answer.right);
      if (E.isLeft(own)) {
        this.log.error('own answer violates the schema', { action: m.action, reason: own.left.reason });
        return E.left({ fault: 'Internal', reason: 'the central system could not build a valid answer' });
      }
    }
    return answer;
  }

  private async handleCall(m: Call, raw: string, at: number): Promise<void> {
    this.deps.metrics.framesIn.inc({ action: m.action, kind: 'CALL' });
    const inDraft = messageDraft(this.base, 'IN', m, raw, at);
    const decided = await this.decide(m);
    if (E.isLeft(decided)) {
      this.refuse({ fault: decided.left.fault, uniqueId: m.uniqueId, action: m.action, reason: decided.left.reason, answer: true }, Buffer.from(raw), at, inDraft);
      return;
    }
    const reply: CallResult = { kind: 'CALLRESULT', messageTypeId: 3, uniqueId: m.uniqueId, payload: decided.right };
    const text = serialize(reply);
    try {
      await this.deps.frameLog.append(this.chargePointId, [inDraft, messageDraft(this.base, 'OUT', reply, text, Date.now(), { action: m.action })]);
    } catch (e) {
      // Not durable, so not acknowledged: the charger retries per the spec.
      const err: CallError = callError(this.protocol, { fault: 'Internal', uniqueId: m.uniqueId, reason: 'the central system could not store the message; retry later' });
      this.send(serialize(err), err, m.action);
      this.log.warn('CALL refused: not durable', { action: m.action, err: e as Error });
      return;
    }
    this.send(text, reply, m.action);
    this.deps.metrics.callLatency.observe({ action: m.action }, (Date.now() - at) / 1000);
    if (m.action === 'BootNotification' && decided.right.status === 'Accepted' && this.deps.settings.readDeviceModelOnBoot) this.readDeviceModel();
  }

  private async handleResponse(m: CallResult | CallError, raw: string, bytes: Buffer, at: number): Promise<void> {
    this.deps.metrics.framesIn.inc({ action: this.outbound?.action ?? 'unknown', kind: m.kind });
    const out = this.outbound;
    if (!out || out.uniqueId !== m.uniqueId || out.sentAt === 0) {
      // A response can't be answered (OCPP-J); it is kept in ocpp.frames and refused in ocpp.rejected.
      this.refuse({ fault: 'Protocol', uniqueId: m.uniqueId, action: null, reason: `${m.kind} ${m.uniqueId} matches no outstanding CALL`, answer: false }, bytes, at, messageDraft(this.base, 'IN', m, raw, at));
      return;
    }
    let delivery: Delivery;
    if (m.kind === 'CALLERROR') {
      delivery = { kind: 'done', outcome: 'CALLERROR', status: null, responseJson: null, detail: `${m.errorCode}: ${m.errorDescription}` };
    } else {
      const valid = validatePayload(this.protocol, out.action, 'conf', m.payload);
      if (E.isLeft(valid)) {
        const code = errorCode(this.protocol, valid.left.fault);
        this.deps.metrics.rejected.inc({ stage: 'FRAME', reason: code });
        this.deps.reject({ ...this.rejectionBase(bytes, at), uniqueId: m.uniqueId, action: out.action, errorCode: code, reason: valid.left.reason });
        delivery = { kind: 'done', outcome: 'CALLERROR', status: null, responseJson: JSON.stringify(m.payload), detail: `invalid CALLRESULT: ${valid.left.reason}` };
      } else {
        const o = outcomeOf(m.payload);
        delivery = { kind: 'done', outcome: o.outcome, status: o.status, responseJson: JSON.stringify(m.payload), detail: null };
      }
    }
    this.outbound = null;
    if (out.timer) clearTimeout(out.timer);
    this.deps.metrics.commandLatency.observe({ action: out.action }, (at - out.sentAt) / 1000);
    await this.record([messageDraft(this.base, 'IN', m, raw, at, { action: out.action, commandId: out.commandId })]);
    out.resolve(delivery);
    this.pump();
  }

  /** Reads the charger's configuration after its boot: the CALL and its answer are in ocpp.frames, where the normalizer
   *  makes them DeviceModelReported; no command record (nobody asked), so nothing on ocpp.command-results. */
  private readDeviceModel(): void {
    const request = deviceModelRequest(this.protocol, randomInt(1, 2 ** 31 - 1));
    const now = Date.now();
    const command: Command = { commandId: `boot-device-model:${randomUUID()}`, chargePointId: this.chargePointId, action: request.action, payloadJson: JSON.stringify(request.payload), issuedBy: 'gateway', issuedAt: now, expiresAt: null, planId: null };
    void this.deliver(command, request.payload).then((d) => {
      if (d.kind !== 'done' || d.outcome !== 'ACCEPTED') this.log.info('device model not read at boot', { chargePointId: this.chargePointId, action: request.action, outcome: d.kind === 'done' ? d.outcome : d.kind });
    });
  }

  /** Sends a command as a CALL once the outbound slot is free; resolves with the charger's answer. */
  async deliver(command: Command, payload: Record<string, unknown>): Promise<Delivery> {
    // Not before the connection is set up (chain head known, CONNECTED written).
    const ok = await this.ready.then(
      () => true,
      () => false,
    );
    if (!ok || this.closedFlag) return { kind: 'disconnected', sent: false };
    return new Promise((resolve) => {
      this.queue.push({ command, payload, resolve });
      this.pump();
    });
  }

  private pump(): void {
    if (this.closedFlag || this.outbound || this.queue.length === 0) return;
    const next = this.queue.shift()!;
    const call: Call = { kind: 'CALL', messageTypeId: 2, uniqueId: randomUUID(), action: next.command.action, payload: next.payload };
    const text = serialize(call);
    const out: Outstanding = { uniqueId: call.uniqueId, action: call.action, commandId: next.command.commandId, sentAt: 0, timer: undefined, resolve: next.resolve };
    this.outbound = out;
    // Recorded before it is sent: the log never misses a command the charger may have acted on.
    this.deps.frameLog.append(this.chargePointId, [messageDraft(this.base, 'OUT', call, text, Date.now(), { commandId: next.command.commandId })]).then(
      () => {
        if (this.closedFlag || this.outbound !== out) {
          if (this.outbound === out) this.outbound = null;
          out.resolve({ kind: 'disconnected', sent: false });
          return;
        }
        this.send(text, call, call.action);
        out.sentAt = Date.now();
        out.timer = setTimeout(() => {
          if (this.outbound !== out) return;
          this.outbound = null;
          out.resolve({ kind: 'done', outcome: 'TIMEOUT', status: null, responseJson: null, detail: `no answer within ${this.deps.settings.callTimeoutMs} ms` });
          this.pump();
        }, this.deps.settings.callTimeoutMs);
      },
      (e: Error) => {
        if (this.outbound === out) this.outbound = null;
        out.resolve({ kind: 'done', outcome: 'CALLERROR', status: null, responseJson: null, detail: `not sent: the gateway could not record it (${e.message})` });
        this.pump();
      },
    );
  }

  /** Called when the socket closed: pending and queued commands go back to the router. */
  closed_(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const out = this.outbound;
    this.outbound = null;
    if (out) {
      if (out.timer) clearTimeout(out.timer);
      out.resolve({ kind: 'disconnected', sent: out.sentAt !== 0 });
    }
    for (const q of this.queue.splice(0)) q.resolve({ kind: 'disconnected', sent: false });
  }
}
