import { Migration } from '../../infra/database/migrate';
import { commentSql, createTableSql, Row, TableDef } from '../sink/table';
import { AppendProjection, DocumentProjection } from './projection';
import { capabilitiesOf, variableKey } from '../../schemas/device-capabilities';

/** What each charger can do and who was let charge, from charging.events: device_model (each charger's reported
 *  configuration keys / variables and the capabilities read from them), device_model_changes (every value that
 *  changed, for the history API) and token_decisions (every TokenAuthorized). */

const t = (name: string, type: TableDef['columns'][number]['type'], doc: string, nullable = false) => ({ name, type, doc, nullable });
const n = (name: string, type: TableDef['columns'][number]['type'], doc: string) => t(name, type, doc, true);

export const deviceModelTable: TableDef = {
  name: 'device_model',
  doc: "Each charger's configuration as it last reported it (1.6 GetConfiguration, 2.0.1 NotifyReport) and the capabilities read from it.",
  key: ['charge_point_id'],
  columns: [
    t('charge_point_id', 'text', 'charger'),
    t('protocol', 'text', 'OCPP version of the report'),
    t('variables', 'jsonb', 'key (1.6) or component/variable (2.0.1) → { value, readonly }'),
    n('rate_unit', 'text', 'charging rate units it accepts: A, W or A,W'),
    n('max_schedule_periods', 'int', 'most periods in one charging schedule'),
    n('max_profiles', 'int', 'most charging profiles installed'),
    n('max_stack_level', 'int', 'highest profile stack level'),
    n('phases', 'int', 'phases it can supply'),
    n('connectors', 'int', 'number of connectors / EVSEs'),
    n('connector_types', 'jsonb', 'connector types where it reports them'),
    n('firmware_version', 'text', 'firmware version (ChargerBooted, or the report)'),
    t('reported_at', 'timestamptz', 'time of the latest report'),
  ],
};

export const deviceModelChangesTable: TableDef = {
  name: 'device_model_changes',
  doc: 'Every reported configuration entry, in log order: the history of what a charger said it can do.',
  key: ['reported_at', 'event_id', 'key'],
  time: 'reported_at',
  segmentBy: 'charge_point_id',
  columns: [
    t('reported_at', 'timestamptz', 'time of the report'),
    t('charge_point_id', 'text', 'charger'),
    t('key', 'text', 'key (1.6) or component/variable (2.0.1)'),
    n('value', 'text', 'reported value'),
    n('readonly', 'bool', 'read-only on the charger'),
    t('source', 'text', 'GetConfiguration or NotifyReport'),
    t('event_id', 'text', 'charging.events eventId'),
  ],
};

export const tokenDecisionsTable: TableDef = {
  name: 'token_decisions',
  doc: "Every decision the central system gave on an id token (charging.events TokenAuthorized): each Authorize, each refused start.",
  key: ['decided_at', 'event_id'],
  time: 'decided_at',
  segmentBy: 'id_tag',
  columns: [
    t('decided_at', 'timestamptz', 'when the answer was sent'),
    t('charge_point_id', 'text', 'charger'),
    t('id_tag', 'text', 'id token'),
    t('status', 'text', 'Accepted, Blocked, Expired, Invalid, NotAtThisTime, ...'),
    t('action', 'text', 'Authorize, StartTransaction or TransactionEvent'),
    n('connector_id', 'int', 'connector / EVSE of a start'),
    t('event_id', 'text', 'charging.events eventId'),
  ],
};

export const deviceModelMigration: Migration = {
  id: 'streams-device-model-001-tables',
  up: () => [deviceModelTable, deviceModelChangesTable, tokenDecisionsTable].flatMap((table) => [createTableSql(table), ...commentSql(table)]),
};

export const deviceModelProjection: DocumentProjection = {
  kind: 'document',
  table: deviceModelTable,
  keyOf: (i) => (i.kind === 'event' && (i.event.body.type === 'DeviceModelReported' || i.event.body.type === 'ChargerBooted') ? [i.event.chargePointId] : undefined),
  evolve: (row, i) => {
    if (i.kind !== 'event') return row;
    const b = i.event.body;
    if (b.type === 'ChargerBooted') return row ? { ...row, firmware_version: b.firmwareVersion ?? row.firmware_version } : row;
    if (b.type !== 'DeviceModelReported') return row;
    // A 2.0.1 report comes in parts (NotifyReport seqNo): each adds to what is known; a 1.6 GetConfiguration answer too.
    const variables: Record<string, { value: string | null; readonly: boolean | null }> = { ...((row?.variables as Row | undefined) ?? {}) } as never;
    for (const e of b.entries) variables[variableKey(e)] = { value: e.value, readonly: e.readonly };
    const c = capabilitiesOf(b.protocol, variables);
    return {
      charge_point_id: i.event.chargePointId,
      protocol: b.protocol,
      variables,
      rate_unit: c.rateUnit,
      max_schedule_periods: c.maxSchedulePeriods,
      max_profiles: c.maxProfiles,
      max_stack_level: c.maxStackLevel,
      phases: c.phases,
      connectors: c.connectors,
      connector_types: c.connectorTypes,
      firmware_version: c.firmwareVersion ?? (row?.firmware_version as string | null | undefined) ?? null,
      reported_at: i.event.occurredAt,
    };
  },
};

export const deviceModelChangesProjection: AppendProjection = {
  kind: 'append',
  table: deviceModelChangesTable,
  rows: (i) => {
    if (i.kind !== 'event' || i.event.body.type !== 'DeviceModelReported') return [];
    const e = i.event;
    const b = i.event.body;
    return b.entries.map((x) => ({ reported_at: e.occurredAt, charge_point_id: e.chargePointId, key: variableKey(x), value: x.value, readonly: x.readonly, source: b.source, event_id: e.eventId }));
  },
};

export const tokenDecisionsProjection: AppendProjection = {
  kind: 'append',
  table: tokenDecisionsTable,
  rows: (i) => {
    if (i.kind !== 'event' || i.event.body.type !== 'TokenAuthorized') return [];
    const b = i.event.body;
    return [{ decided_at: i.event.occurredAt, charge_point_id: i.event.chargePointId, id_tag: b.idTag, status: b.status, action: b.action, connector_id: b.connectorId, event_id: i.event.eventId }];
  },
};
