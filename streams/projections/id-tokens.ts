import { Migration } from '../../infra/database/migrate';
import { commentSql, createTableSql, TableDef } from '../sink/table';
import { AppendProjection, DocumentProjection } from './projection';

/** Who may charge (fleet.config IdTokenConfigured, ReservationMade, ReservationCancelled): the id-token registry as
 *  last configured, every change to it, and each charger's reservations. Read by /api/v1/id-tokens and
 *  /api/v1/chargers/{id}/reservations (services/api/routes/id-tokens.ts, reservations.ts). */

const t = (name: string, type: TableDef['columns'][number]['type'], doc: string, nullable = false) => ({ name, type, doc, nullable });
const n = (name: string, type: TableDef['columns'][number]['type'], doc: string) => t(name, type, doc, true);

const tokenColumns = [
  t('id_token', 'text', 'RFID uid, app token or vehicle tag (1.6 idTag)'),
  t('token_type', 'text', '2.0.1 IdTokenEnumType: ISO14443, Central, eMAID, KeyCode, Local, ...'),
  t('status', 'text', 'Accepted, Blocked or Expired as configured (an Accepted token past expires_at is refused as Expired)'),
  n('expires_at', 'timestamptz', 'after this the token is Expired'),
  n('parent_id_tag', 'text', 'group: the parent id tag'),
  n('vehicle_id', 'text', 'vehicle the token belongs to'),
  n('driver_id', 'text', 'driver the token belongs to'),
  t('configured_at', 'timestamptz', 'time of the configuration event'),
  t('configured_by', 'text', 'who changed it (api:<keyId>, ...)'),
] as const;

export const idTokensTable: TableDef = { name: 'id_tokens', doc: 'The id-token registry as last configured (fleet.config IdTokenConfigured).', key: ['id_token'], columns: [...tokenColumns] };

export const idTokenChangesTable: TableDef = {
  name: 'id_token_changes',
  doc: 'Every change to the id-token registry, in log order (fleet.config IdTokenConfigured).',
  key: ['configured_at', 'event_id'],
  time: 'configured_at',
  segmentBy: 'id_token',
  columns: [...tokenColumns, t('event_id', 'text', 'fleet.config eventId')],
};

export const reservationsTable: TableDef = {
  name: 'reservations',
  doc: 'Reservations a charger accepted (ReserveNow), until cancelled; expired ones stay with their expires_at.',
  key: ['charge_point_id', 'reservation_id'],
  columns: [
    t('charge_point_id', 'text', 'charger'),
    t('reservation_id', 'int', 'OCPP reservation id'),
    t('connector_id', 'int', '1.6 connectorId / 2.0.1 evseId; 0 = the whole charger'),
    t('id_tag', 'text', 'the token it is held for'),
    t('expires_at', 'timestamptz', 'held until'),
    t('command_id', 'text', 'the ReserveNow command'),
    t('reserved_at', 'timestamptz', 'time of ReservationMade'),
    n('cancelled_at', 'timestamptz', 'time of ReservationCancelled'),
    n('cancel_command_id', 'text', 'the CancelReservation command'),
  ],
};

export const idTokenMigration: Migration = {
  id: 'streams-id-tokens-001-tables',
  up: () => [
    ...[idTokensTable, idTokenChangesTable, reservationsTable].flatMap((table) => [createTableSql(table), ...commentSql(table)]),
    `CREATE INDEX IF NOT EXISTS id_token_changes_token_idx ON id_token_changes (id_token, configured_at, event_id)`,
  ],
};

const tokenRow = (i: { config: { at: number; actor: string; body: unknown } }) => {
  const b = i.config.body as import('../../schemas/fleet-config').IdTokenConfigured;
  return {
    id_token: b.idToken,
    token_type: b.tokenType,
    status: b.status,
    expires_at: b.expiresAt,
    parent_id_tag: b.parentIdTag,
    vehicle_id: b.vehicleId,
    driver_id: b.driverId,
    configured_at: i.config.at,
    configured_by: i.config.actor,
  };
};

export const idTokensProjection: DocumentProjection = {
  kind: 'document',
  table: idTokensTable,
  keyOf: (i) => (i.kind === 'config' && i.config.body.type === 'IdTokenConfigured' ? [i.config.body.idToken] : undefined),
  evolve: (row, i) => (i.kind === 'config' && i.config.body.type === 'IdTokenConfigured' ? tokenRow(i) : row),
};

export const idTokenChangesProjection: AppendProjection = {
  kind: 'append',
  table: idTokenChangesTable,
  rows: (i) => (i.kind === 'config' && i.config.body.type === 'IdTokenConfigured' ? [{ ...tokenRow(i), event_id: i.config.eventId }] : []),
};

export const reservationsProjection: DocumentProjection = {
  kind: 'document',
  table: reservationsTable,
  keyOf: (i) =>
    i.kind === 'config' && (i.config.body.type === 'ReservationMade' || i.config.body.type === 'ReservationCancelled') ? [i.config.body.chargePointId, i.config.body.reservationId] : undefined,
  evolve: (row, i) => {
    if (i.kind !== 'config') return row;
    const b = i.config.body;
    if (b.type === 'ReservationMade') {
      return {
        charge_point_id: b.chargePointId,
        reservation_id: b.reservationId,
        connector_id: b.connectorId,
        id_tag: b.idTag,
        expires_at: b.expiresAt,
        command_id: b.commandId,
        reserved_at: i.config.at,
        cancelled_at: null,
        cancel_command_id: null,
      };
    }
    if (b.type === 'ReservationCancelled' && row) return { ...row, cancelled_at: i.config.at, cancel_command_id: b.commandId };
    return row;
  },
};
