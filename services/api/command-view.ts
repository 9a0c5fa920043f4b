import { Pool } from 'pg';
import { quoteIdent } from '../common/db';

/** A command as the API answers it (contract: GET /api/v1/commands/{commandId}), read from the projection
 *  `commands` (streams/projections/commands.ts). */
export type CommandStatus = 'pending' | 'accepted' | 'rejected' | 'callerror' | 'timeout' | 'offline' | 'invalid' | 'expired';

export interface CommandView {
  readonly commandId: string;
  readonly chargePointId: string;
  readonly action: string;
  readonly status: CommandStatus;
  readonly response?: unknown;
  readonly error?: string;
  readonly issuedBy: string;
  readonly issuedAt: string;
  readonly completedAt?: string;
}

/** The SQL of a CommandView's fields, over the projection table aliased `c` (shared with the history endpoint). */
export const commandViewSelect = `c.command_id AS "commandId", c.charge_point_id AS "chargePointId", c.action AS "action",
  COALESCE(lower(c.outcome), 'pending') AS "status", c.response AS "response",
  CASE WHEN c.outcome <> 'ACCEPTED' THEN COALESCE(c.detail, c.status) END AS "error",
  c.issued_by AS "issuedBy", c.issued_at AS "issuedAt", c.completed_at AS "completedAt"`;

interface ViewRow {
  commandId: string;
  chargePointId: string;
  action: string;
  status: CommandStatus;
  response: unknown;
  error: string | null;
  issuedBy: string;
  issuedAt: Date;
  completedAt: Date | null;
}

const present = (r: ViewRow): CommandView => ({
  commandId: r.commandId,
  chargePointId: r.chargePointId,
  action: r.action,
  status: r.status,
  ...(r.completedAt !== null && r.response !== null ? { response: r.response } : {}),
  ...(r.error !== null ? { error: r.error } : {}),
  issuedBy: r.issuedBy,
  issuedAt: r.issuedAt.toISOString(),
  ...(r.completedAt !== null ? { completedAt: r.completedAt.toISOString() } : {}),
});

/** The command once the projection holds its ocpp.commands record (its outcome may still be pending). */
export const readCommand = async (pool: Pool, projections: string, commandId: string): Promise<CommandView | undefined> => {
  const { rows } = await pool.query<ViewRow>(`SELECT ${commandViewSelect} FROM ${quoteIdent(projections)}.commands c WHERE c.command_id = $1 AND c.issued_at IS NOT NULL`, [commandId]);
  return rows[0] && present(rows[0]);
};

/** The OCPP version a charger speaks (its last connection or boot, from projections.charger_status) and whether it
 *  is configured at all (projections.fleet_chargers). */
export const chargerProtocol = async (pool: Pool, projections: string, chargePointId: string): Promise<{ configured: boolean; protocol: string | null }> => {
  const s = quoteIdent(projections);
  const { rows } = await pool.query<{ configured: boolean; protocol: string | null }>(
    `SELECT EXISTS (SELECT 1 FROM ${s}.fleet_chargers WHERE charge_point_id = $1) AS configured,
            (SELECT protocol FROM ${s}.charger_status WHERE charge_point_id = $1) AS protocol`,
    [chargePointId],
  );
  return rows[0] ?? { configured: false, protocol: null };
};
