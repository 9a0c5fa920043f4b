/** OCPP-J framing, pure: text in, a typed message or a refusal (with the spec's error code for the version) out. */
import * as E from 'fp-ts/Either';

export type Protocol = 'ocpp1.6' | 'ocpp2.0.1';
export const protocols: readonly Protocol[] = ['ocpp1.6', 'ocpp2.0.1'];

export type Call = { readonly kind: 'CALL'; readonly messageTypeId: 2; readonly uniqueId: string; readonly action: string; readonly payload: Record<string, unknown> };
export type CallResult = { readonly kind: 'CALLRESULT'; readonly messageTypeId: 3; readonly uniqueId: string; readonly payload: Record<string, unknown> };
export type CallError = {
  readonly kind: 'CALLERROR';
  readonly messageTypeId: 4;
  readonly uniqueId: string;
  readonly errorCode: string;
  readonly errorDescription: string;
  readonly errorDetails: Record<string, unknown>;
};
export type Message = Call | CallResult | CallError;

/** What went wrong, independent of the version; `errorCode` maps it to the version's code. */
export type Fault =
  | 'RpcFramework' // not an RPC message at all (not JSON, not an array, no readable id)
  | 'Formation' // structure of the message or payload is wrong
  | 'Protocol' // incomplete message, or an RPC rule broken (duplicate id, second outstanding CALL)
  | 'MessageType' // messageTypeId not 2, 3 or 4
  | 'NotImplemented' // action unknown to the version
  | 'NotSupported' // action known but not one a charger may send us
  | 'PropertyConstraint'
  | 'TypeConstraint'
  | 'OccurrenceConstraint'
  | 'Internal' // we could not process it (Kafka down, ...): the charger should retry
  | 'Security'
  | 'Generic'; // rate limit and other policy refusals

export interface Refusal {
  readonly fault: Fault;
  /** The id to answer with: the frame's own when readable, else "-1" (OCPP 2.0.1 part 4, 4.2.3). */
  readonly uniqueId: string;
  readonly action: string | null;
  readonly reason: string;
  /** Whether the refused frame was a CALL we must answer; responses are never answered. */
  readonly answer: boolean;
}

/** The spec's error code for a fault, per version. OCPP 1.6 spells "OccurenceConstraintViolation" and uses
 *  "FormationViolation"; 2.0.1 corrected both and added RpcFrameworkError and MessageTypeNotSupported. */
export const errorCode = (p: Protocol, f: Fault): string => {
  const v16 = p === 'ocpp1.6';
  switch (f) {
    case 'RpcFramework':
      return v16 ? 'FormationViolation' : 'RpcFrameworkError';
    case 'Formation':
      return v16 ? 'FormationViolation' : 'FormatViolation';
    case 'Protocol':
      return v16 ? 'ProtocolError' : 'RpcFrameworkError';
    case 'MessageType':
      return v16 ? 'ProtocolError' : 'MessageTypeNotSupported';
    case 'NotImplemented':
      return 'NotImplemented';
    case 'NotSupported':
      return 'NotSupported';
    case 'PropertyConstraint':
      return 'PropertyConstraintViolation';
    case 'TypeConstraint':
      return 'TypeConstraintViolation';
    case 'OccurrenceConstraint':
      return v16 ? 'OccurenceConstraintViolation' : 'OccurrenceConstraintViolation';
    case 'Internal':
      return 'InternalError';
    case 'Security':
      return 'SecurityError';
    case 'Generic':
      return 'GenericError';
  }
};

const refuse = (fault: Fault, uniqueId: string | null, action: string | null, reason: string, answer = true): E.Either<Refusal, never> =>
  E.left({ fault, uniqueId: uniqueId ?? '-1', action, reason, answer });

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u);

/** OCPP-J: unique ids are strings of at most 36 characters. */
const MAX_ID = 36;

export const parseFrame = (text: string): E.Either<Refusal, Message> => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return refuse('RpcFramework', null, null, `not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(json)) return refuse('RpcFramework', null, null, 'frame is not a JSON array');
  const [type, id] = json as unknown[];
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID)
    return refuse('RpcFramework', null, null, `unique id must be a string of 1..${MAX_ID} characters, got ${JSON.stringify(id) ?? 'nothing'}`);
  switch (type) {
    case 2: {
      if (json.length !== 4) return refuse('Protocol', id, null, `CALL must have 4 elements, got ${json.length}`);
      const [, , action, payload] = json as unknown[];
      if (typeof action !== 'string' || action.length === 0) return refuse('Formation', id, null, 'action must be a non-empty string');
      if (!isObject(payload)) return refuse('Formation', id, action, 'payload must be a JSON object');
      return E.right({ kind: 'CALL', messageTypeId: 2, uniqueId: id, action, payload });
    }
    case 3: {
      if (json.length !== 3) return refuse('Protocol', id, null, `CALLRESULT must have 3 elements, got ${json.length}`, false);
      const payload = json[2] as unknown;
      if (!isObject(payload)) return refuse('Formation', id, null, 'CALLRESULT payload must be a JSON object', false);
      return E.right({ kind: 'CALLRESULT', messageTypeId: 3, uniqueId: id, payload });
    }
    case 4: {
      if (json.length !== 5) return refuse('Protocol', id, null, `CALLERROR must have 5 elements, got ${json.length}`, false);
      const [, , code, description, details] = json as unknown[];
      if (typeof code !== 'string' || typeof description !== 'string' || !isObject(details))
        return refuse('Formation', id, null, 'CALLERROR needs errorCode (string), errorDescription (string), errorDetails (object)', false);
      return E.right({ kind: 'CALLERROR', messageTypeId: 4, uniqueId: id, errorCode: code, errorDescription: description, errorDetails: details });
    }
    default:
      return refuse('MessageType', id, null, `messageTypeId must be 2, 3 or 4, got ${JSON.stringify(type)}`);
  }
};

/** Best effort for frames refused before parsing (oversized, rate-limited): whether it looks like a CALL and its
 *  unique id. Only CALLs are answered; something unreadable is answered with id "-1". */
export const sniff = (text: string): { uniqueId: string; answer: boolean } => {
  const m = /^\s*\[\s*([234])\s*,\s*"([^"\\]{1,36})"/.exec(text.slice(0, 128));
  return m ? { uniqueId: m[2]!, answer: m[1] === '2' } : { uniqueId: '-1', answer: true };
};

export const serialize = (m: Message): string => {
  switch (m.kind) {
    case 'CALL':
      return JSON.stringify([2, m.uniqueId, m.action, m.payload]);
    case 'CALLRESULT':
      return JSON.stringify([3, m.uniqueId, m.payload]);
    case 'CALLERROR':
      return JSON.stringify([4, m.uniqueId, m.errorCode, m.errorDescription, m.errorDetails]);
  }
};

export const callError = (p: Protocol, r: Pick<Refusal, 'fault' | 'uniqueId' | 'reason'>): CallError => ({
  kind: 'CALLERROR',
  messageTypeId: 4,
  uniqueId: r.uniqueId,
  errorCode: errorCode(p, r.fault),
  // OCPP-J limits nothing here, but a charger's buffer is small: keep the description short.
  errorDescription: r.reason.slice(0, 255),
  errorDetails: {},
});
