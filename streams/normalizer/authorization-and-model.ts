import { DeviceVariable, EventBody } from '../../schemas/events';

/** Two things the normalizer reads off frames beside sessions: the central system's decision on an id token (the
 *  answer to Authorize, 1.6 StartTransaction, 2.0.1 TransactionEvent carrying an idToken) and the configuration a
 *  charger reports (the answer to a 1.6 GetConfiguration, a 2.0.1 NotifyReport). Pure. */

type Payload = Record<string, unknown>;

/** Pending-call key of a central-system → charger CALL (its answer comes IN), apart from the charger's own CALLs. */
export const outboundKey = (uniqueId: string): string => `out:${uniqueId}`;

/** The token of a charger CALL whose answer carries a decision, with the connector it concerns. */
export const tokenOfCall = (action: string, p: Payload): { idTag: string; connectorId: number | null } | undefined => {
  if (action === 'Authorize') {
    const t = p.idToken as { idToken?: string; type?: string } | undefined;
    if (typeof p.idTag === 'string') return { idTag: p.idTag, connectorId: null };
    if (t && typeof t.idToken === 'string' && t.type !== 'NoAuthorization') return { idTag: t.idToken, connectorId: null };
    return undefined;
  }
  if (action === 'StartTransaction' && typeof p.idTag === 'string') return { idTag: p.idTag, connectorId: typeof p.connectorId === 'number' ? p.connectorId : null };
  if (action === 'TransactionEvent') {
    const t = p.idToken as { idToken?: string; type?: string } | undefined;
    if (!t || typeof t.idToken !== 'string' || t.type === 'NoAuthorization') return undefined;
    const evse = p.evse as { id?: number } | undefined;
    return { idTag: t.idToken, connectorId: typeof evse?.id === 'number' ? evse.id : null };
  }
  return undefined;
};

/** TokenAuthorized from the call and the central system's answer, when the answer carries a status: every Authorize
 *  answer, and a start refused (an accepted start is SessionStarted, which names its idTag; leaving it out keeps the
 *  1.6 and 2.0.1 event sequences of a session alike). */
export const tokenDecision = (action: string, call: Payload, answer: Payload): EventBody | undefined => {
  const token = tokenOfCall(action, call);
  const info = (answer.idTagInfo ?? answer.idTokenInfo) as { status?: unknown } | undefined;
  if (!token || typeof info?.status !== 'string') return undefined;
  if (action !== 'Authorize' && info.status === 'Accepted') return undefined;
  return { type: 'TokenAuthorized', idTag: token.idTag, status: info.status, action, connectorId: token.connectorId };
};

const text = (v: unknown): string | null => (typeof v === 'string' ? v : v === undefined || v === null ? null : String(v));

/** 1.6 GetConfiguration.conf → DeviceModelReported. */
export const configurationReport = (answer: Payload): EventBody => {
  const keys = (answer.configurationKey as { key?: string; readonly?: boolean; value?: string }[] | undefined) ?? [];
  const entries: DeviceVariable[] = keys
    .filter((k) => typeof k.key === 'string')
    .map((k) => ({ component: null, variable: k.key!, value: text(k.value), readonly: typeof k.readonly === 'boolean' ? k.readonly : null }));
  return { type: 'DeviceModelReported', protocol: 'ocpp1.6', source: 'GetConfiguration', requestId: null, entries };
};

interface ReportDatum {
  component?: { name?: string; evse?: { id?: number; connectorId?: number } };
  variable?: { name?: string; instance?: string };
  variableAttribute?: { type?: string; value?: string; mutability?: string }[];
}

/** 2.0.1 NotifyReport.req → DeviceModelReported: the Actual attribute of each variable (`component[:evseId]`,
 *  `variable[:instance]`). */
export const notifyReport = (p: Payload): EventBody => {
  const data = (p.reportData as ReportDatum[] | undefined) ?? [];
  const entries: DeviceVariable[] = data.flatMap((d) => {
    if (!d.component?.name || !d.variable?.name) return [];
    const attr = (d.variableAttribute ?? []).find((a) => (a.type ?? 'Actual') === 'Actual');
    if (!attr) return [];
    const component = d.component.evse?.id !== undefined ? `${d.component.name}:${d.component.evse.id}` : d.component.name;
    const variable = d.variable.instance ? `${d.variable.name}:${d.variable.instance}` : d.variable.name;
    return [{ component, variable, value: text(attr.value), readonly: attr.mutability === undefined ? null : attr.mutability === 'ReadOnly' }];
  });
  return { type: 'DeviceModelReported', protocol: 'ocpp2.0.1', source: 'NotifyReport', requestId: typeof p.requestId === 'number' ? p.requestId : null, entries };
};
