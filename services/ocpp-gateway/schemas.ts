/** Payload validation against the official OCPP JSON schemas (shipped by the ocpp-rpc package for 1.6 and 2.0.1),
 *  compiled once with ajv through ocpp-rpc's createValidator. Pure apart from the one-time compilation. */
import * as E from 'fp-ts/Either';
import { Fault, Protocol } from './protocol';

interface AjvError {
  keyword: string;
  instancePath?: string;
  message?: string;
}
interface RpcValidator {
  validate(schemaId: string, params: unknown): boolean;
}
const rpc = require('ocpp-rpc') as { createValidator(subprotocol: string, json: unknown): RpcValidator };
const schemaFiles: Record<Protocol, string> = {
  'ocpp1.6': 'ocpp-rpc/lib/schemas/ocpp1_6.json',
  'ocpp2.0.1': 'ocpp-rpc/lib/schemas/ocpp2_0_1.json',
};

interface Compiled {
  readonly validator: RpcValidator;
  readonly ids: ReadonlySet<string>;
}
const compiled = new Map<Protocol, Compiled>();
const load = (p: Protocol): Compiled => {
  let c = compiled.get(p);
  if (!c) {
    const json = require(schemaFiles[p]) as { $id: string }[];
    c = { validator: rpc.createValidator(p, json), ids: new Set(json.map((s) => s.$id)) };
    compiled.set(p, c);
  }
  return c;
};

/** Every action the version defines (either direction). */
export const knownAction = (p: Protocol, action: string): boolean => load(p).ids.has(`urn:${action}.req`);

const faultOf = (keyword: string): Fault => {
  switch (keyword) {
    case 'required':
    case 'minItems':
    case 'maxItems':
    case 'minProperties':
    case 'maxProperties':
    case 'additionalItems':
      return 'OccurrenceConstraint';
    case 'type':
      return 'TypeConstraint';
    case 'enum':
    case 'const':
    case 'maxLength':
    case 'minLength':
    case 'maximum':
    case 'minimum':
    case 'exclusiveMaximum':
    case 'exclusiveMinimum':
    case 'multipleOf':
    case 'pattern':
    case 'format':
      return 'PropertyConstraint';
    default:
      // additionalProperties (a field the PDU does not have) and anything structural
      return 'Formation';
  }
};

export interface SchemaViolation {
  readonly fault: Fault;
  readonly reason: string;
}

/** kind 'req' for CALL payloads, 'conf' for CALLRESULT payloads. */
export const validatePayload = (p: Protocol, action: string, kind: 'req' | 'conf', payload: unknown): E.Either<SchemaViolation, void> => {
  try {
    load(p).validator.validate(`urn:${action}.${kind}`, payload);
    return E.right(undefined);
  } catch (e) {
    const errors = ((e as { details?: { errors?: AjvError[] } }).details?.errors ?? []) as AjvError[];
    const first = errors[0];
    if (!first) return E.left({ fault: 'Formation', reason: (e as Error).message });
    const where = first.instancePath ? first.instancePath : '(payload)';
    return E.left({ fault: faultOf(first.keyword), reason: `${action}.${kind} ${where} ${first.message ?? first.keyword}` });
  }
};
