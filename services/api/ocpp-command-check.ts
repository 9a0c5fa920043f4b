/** Is this a command the central system may send to a charger of this OCPP version, with a payload the official
 *  schema of that version accepts? Pure apart from compiling the schemas once. The schemas are the ones the gateway
 *  validates with (services/ocpp-gateway/schemas.ts: ocpp-rpc's official 1.6 and 2.0.1 JSON schemas), compiled here
 *  with every error reported, not only the first, so that a 400 names each problem. */
import * as E from 'fp-ts/Either';
import { knownAction } from '../ocpp-gateway/schemas';
import { Protocol, protocols } from '../ocpp-gateway/protocol';

export const isProtocol = (s: unknown): s is Protocol => protocols.includes(s as Protocol);

/** Actions a charger sends to the central system (OCPP 1.6 edition 2 with the security whitepaper; OCPP 2.0.1).
 *  Every other action of the version is one the central system sends; DataTransfer goes both ways. */
const chargerInitiated: Record<Protocol, ReadonlySet<string>> = {
  'ocpp1.6': new Set([
    'Authorize', 'BootNotification', 'DiagnosticsStatusNotification', 'FirmwareStatusNotification', 'Heartbeat', 'LogStatusNotification', 'MeterValues',
    'SecurityEventNotification', 'SignCertificate', 'SignedFirmwareStatusNotification', 'StartTransaction', 'StatusNotification', 'StopTransaction',
  ]),
  'ocpp2.0.1': new Set([
    'Authorize', 'BootNotification', 'ClearedChargingLimit', 'FirmwareStatusNotification', 'Get15118EVCertificate', 'GetCertificateStatus', 'Heartbeat',
    'LogStatusNotification', 'MeterValues', 'NotifyChargingLimit', 'NotifyCustomerInformation', 'NotifyDisplayMessages', 'NotifyEVChargingNeeds',
    'NotifyEVChargingSchedule', 'NotifyEvent', 'NotifyMonitoringReport', 'NotifyReport', 'PublishFirmwareStatusNotification', 'ReportChargingProfiles',
    'ReservationStatusUpdate', 'SecurityEventNotification', 'SignCertificate', 'StatusNotification', 'TransactionEvent',
  ]),
};

export const isChargerInitiated = (p: Protocol, action: string): boolean => chargerInitiated[p].has(action);

/** Why the central system can't send `action` to a charger speaking `p`, or nothing. */
export const actionProblem = (p: Protocol, action: string): string | undefined => {
  if (!knownAction(p, action)) {
    const other = protocols.find((q) => q !== p && knownAction(q, action));
    return other
      ? `action: ${action} is an ${other} action; this charger speaks ${p}`
      : `action: ${action} is not an OCPP action of ${p}`;
  }
  if (isChargerInitiated(p, action)) return `action: ${action} is sent by chargers to the central system, not to chargers`;
  return undefined;
};

interface AjvError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly message?: string;
  readonly params?: Record<string, unknown>;
}
interface ValidateFn {
  (data: unknown): boolean;
  errors?: AjvError[] | null;
}
interface Ajv {
  addSchema(schemas: unknown): unknown;
  getSchema(id: string): ValidateFn | undefined;
}

const schemaFiles: Record<Protocol, string> = { 'ocpp1.6': 'ocpp-rpc/lib/schemas/ocpp1_6.json', 'ocpp2.0.1': 'ocpp-rpc/lib/schemas/ocpp2_0_1.json' };
// The ajv and ajv-formats ocpp-rpc itself validates with, whichever copy the install placed beside it.
const rpcDir = require.resolve('ocpp-rpc');
const AjvClass = require(require.resolve('ajv', { paths: [rpcDir] })) as { new (o: unknown): Ajv; default?: new (o: unknown) => Ajv };
const addFormats = require(require.resolve('ajv-formats', { paths: [rpcDir] })) as ((ajv: Ajv) => void) & { default?: (ajv: Ajv) => void };

const compiled = new Map<Protocol, Ajv>();
const ajvFor = (p: Protocol): Ajv => {
  let ajv = compiled.get(p);
  if (!ajv) {
    const Ctor = AjvClass.default ?? AjvClass;
    ajv = new Ctor({ strictSchema: false, allErrors: true });
    (addFormats.default ?? addFormats)(ajv);
    ajv.addSchema(require(schemaFiles[p]));
    compiled.set(p, ajv);
  }
  return ajv;
};

const describe = (e: AjvError): string => {
  const where = `payload${e.instancePath.replace(/\//g, '.')}`;
  if (e.keyword === 'additionalProperties') return `${where}: unknown field ${String(e.params?.additionalProperty)}`;
  if (e.keyword === 'enum') return `${where}: must be one of ${(e.params?.allowedValues as unknown[] | undefined)?.join(', ') ?? 'the allowed values'}`;
  return `${where}: ${e.message ?? e.keyword}`;
};

/** Every problem of `payload` as the request of `action` in version `p` (the action must be one of `p`). */
export const payloadProblems = (p: Protocol, action: string, payload: unknown): string[] => {
  const validate = ajvFor(p).getSchema(`urn:${action}.req`);
  if (!validate) return [`action: no schema for ${action} in ${p}`];
  return validate(payload) ? [] : (validate.errors ?? []).map(describe);
};

/** The central system may send this command to a charger speaking `p`: every problem, or nothing. */
export const checkCommandFor = (p: Protocol, action: string, payload: unknown): E.Either<string[], void> => {
  const wrong = actionProblem(p, action);
  if (wrong) return E.left([wrong]);
  const problems = payloadProblems(p, action, payload);
  return problems.length ? E.left(problems) : E.right(undefined);
};
