import { Migration } from '../../infra/database/migrate';
import { commentSql, createTableSql, Row, TableDef } from '../sink/table';
import { DocumentProjection, newer, ProjectionInput } from './projection';

/** commands: one row per command for a charger, folded from ocpp.commands (what was asked, by whom) and
 *  ocpp.command-results (what became of it). The two topics are read independently, so either part may arrive
 *  first: each fills its own columns, and the fold gives the same row in any interleaving. Read by
 *  GET /api/v1/commands/{commandId} and GET /api/v1/chargers/{id}/commands (services/api/routes/commands.ts). */

const t = (name: string, type: TableDef['columns'][number]['type'], doc: string, nullable = false) => ({ name, type, doc, nullable });
const n = (name: string, type: TableDef['columns'][number]['type'], doc: string) => t(name, type, doc, true);

export const commandsTable: TableDef = {
  name: 'commands',
  doc: 'Every command sent to a charger (ocpp.commands) with its outcome (ocpp.command-results), one row per command id.',
  key: ['command_id'],
  columns: [
    t('command_id', 'text', 'ocpp.commands commandId'),
    t('charge_point_id', 'text', 'charger'),
    t('action', 'text', 'OCPP action'),
    n('payload', 'jsonb', 'request payload as sent (null until the ocpp.commands record is folded)'),
    n('issued_by', 'text', 'who issued it: optimizer, api:<keyId>, ...'),
    n('issued_at', 'timestamptz', 'when it was issued'),
    n('expires_at', 'timestamptz', 'deadline for delivery, if any'),
    n('plan_id', 'text', 'optimizer plan the command came from'),
    n('outcome', 'text', 'ACCEPTED, REJECTED, CALLERROR, TIMEOUT, OFFLINE, INVALID, EXPIRED; null while pending'),
    n('status', 'text', "status field of the charger's answer"),
    n('response', 'jsonb', "the charger's answer payload"),
    n('detail', 'text', 'why: CALLERROR code and description, validation failure, ...'),
    n('gateway_id', 'text', 'gateway instance that recorded the outcome'),
    n('completed_at', 'timestamptz', 'when the outcome was recorded'),
  ],
};

export const commandsMigration: Migration = {
  id: 'streams-commands-001-table',
  up: () => [
    createTableSql(commandsTable),
    ...commentSql(commandsTable),
    `CREATE INDEX IF NOT EXISTS commands_charger_issued_idx ON commands (charge_point_id, issued_at, command_id)`,
  ],
};

/** JSON text from the log; text that does not parse is kept rather than lost. */
const parsedJson = (text: string | null): unknown => {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { unparsed: text };
  }
};

const emptyRow = (commandId: string, chargePointId: string, action: string): Row => ({
  command_id: commandId,
  charge_point_id: chargePointId,
  action,
  payload: null,
  issued_by: null,
  issued_at: null,
  expires_at: null,
  plan_id: null,
  outcome: null,
  status: null,
  response: null,
  detail: null,
  gateway_id: null,
  completed_at: null,
});

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export const evolveCommand = (row: Row | undefined, i: ProjectionInput): Row | undefined => {
  if (i.kind === 'command') {
    const c = i.command;
    const base = row ?? emptyRow(c.commandId, c.chargePointId, c.action);
    // A command id written twice (a re-emitted plan command): the earliest issue is the command.
    const prevAt = num(base.issued_at);
    if (prevAt !== null && !(c.issuedAt < prevAt || (c.issuedAt === prevAt && c.issuedBy < String(base.issued_by)))) return row;
    return {
      ...base,
      charge_point_id: c.chargePointId,
      action: c.action,
      payload: parsedJson(c.payloadJson),
      issued_by: c.issuedBy,
      issued_at: c.issuedAt,
      expires_at: c.expiresAt,
      plan_id: c.planId,
    };
  }
  if (i.kind === 'commandResult') {
    const r = i.result;
    const base = row ?? emptyRow(r.commandId, r.chargePointId, r.action);
    // Delivery is at least once (a command routed again after a reconnect): the latest outcome stands.
    if (!newer(r.completedAt, `${r.gatewayId}/${r.outcome}`, num(base.completed_at), base.completed_at === null ? null : `${String(base.gateway_id)}/${String(base.outcome)}`)) return row;
    return {
      ...base,
      outcome: r.outcome,
      status: r.status,
      response: parsedJson(r.responseJson),
      detail: r.detail,
      gateway_id: r.gatewayId,
      completed_at: r.completedAt,
    };
  }
  return row;
};

export const commandsProjection: DocumentProjection = {
  kind: 'document',
  table: commandsTable,
  keyOf: (i) => (i.kind === 'command' ? [i.command.commandId] : i.kind === 'commandResult' ? [i.result.commandId] : undefined),
  evolve: evolveCommand,
  // The command and its outcome come from two topics, so two partitions may change the same row.
  keysSpanPartitions: true,
};
