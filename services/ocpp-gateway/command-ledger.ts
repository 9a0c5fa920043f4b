/** The commands ledger (`command_ledger`, PostgreSQL): every command read from ocpp.commands, from before its offset
 *  is committed until its outcome is on ocpp.command-results. See commands.ts for the argument.
 *
 *  state: pending (owned by `owner_instance`, which routes it) → decided (the outcome, exactly once: the only way out
 *  of pending is a conditional UPDATE) → published (the outcome record acknowledged by Kafka). */
import { Pool } from 'pg';
import { quoteIdent } from '../common/db';
import { Command } from './connection';

/** An ocpp.command-results record, as stored once decided and published as stored (a re-publication is identical). */
export interface CommandResult {
  readonly commandId: string;
  readonly chargePointId: string;
  readonly action: string;
  readonly outcome: string;
  readonly status: string | null;
  readonly responseJson: string | null;
  readonly detail: string | null;
  readonly gatewayId: string;
  readonly completedAt: number;
}

export type OpenEntry =
  | { readonly state: 'pending'; readonly command: Command; readonly deadline: number }
  | { readonly state: 'decided'; readonly command: Command; readonly result: CommandResult };

export interface CommandLedger {
  /** Records a command just read (owner: this instance). False: it was already there (read again after a crash
   *  before the offset commit), and whoever owns it carries on. */
  admit(command: Command, owner: string, deadline: number): Promise<boolean>;
  /** Takes a forwarded command over (or records it, if its sender had not). False: already decided. */
  own(command: Command, owner: string, deadline: number): Promise<boolean>;
  /** The one decision of a command's outcome. False: another instance decided first. */
  decide(result: CommandResult): Promise<boolean>;
  published(commandId: string): Promise<void>;
  /** Moves the open entries of these (dead) instances to `owner` and returns them. */
  takeOver(deadInstances: readonly string[], owner: string): Promise<OpenEntry[]>;
  /** Decided entries of `owner` not yet published (the publication failed), decided at least `olderThanMs` ago. */
  unpublished(owner: string, olderThanMs: number): Promise<CommandResult[]>;
  /** Removes published entries older than `olderThanMs`. */
  prune(olderThanMs: number): Promise<number>;
  state(commandId: string): Promise<string | undefined>;
}

interface Row {
  command: Command;
  deadline: string;
  state: 'pending' | 'decided';
  result: CommandResult | null;
}

export const createCommandLedger = (pool: Pool, schema: string): CommandLedger => {
  const s = quoteIdent(schema);
  return {
    admit: async (c, owner, deadline) => {
      const r = await pool.query(
        `INSERT INTO ${s}.command_ledger (command_id, charge_point_id, command, owner_instance, deadline, state) VALUES ($1, $2, $3, $4, $5, 'pending')
         ON CONFLICT (command_id) DO NOTHING`,
        [c.commandId, c.chargePointId, JSON.stringify(c), owner, deadline],
      );
      return r.rowCount === 1;
    },
    own: async (c, owner, deadline) => {
      const r = await pool.query(
        `INSERT INTO ${s}.command_ledger AS l (command_id, charge_point_id, command, owner_instance, deadline, state) VALUES ($1, $2, $3, $4, $5, 'pending')
         ON CONFLICT (command_id) DO UPDATE SET owner_instance = excluded.owner_instance, deadline = GREATEST(l.deadline, excluded.deadline)
         WHERE l.state = 'pending'`,
        [c.commandId, c.chargePointId, JSON.stringify(c), owner, deadline],
      );
      return r.rowCount === 1;
    },
    decide: async (result) => {
      const r = await pool.query(`UPDATE ${s}.command_ledger SET state = 'decided', result = $2, decided_at = now() WHERE command_id = $1 AND state = 'pending'`, [
        result.commandId,
        JSON.stringify(result),
      ]);
      return r.rowCount === 1;
    },
    published: async (commandId) => {
      await pool.query(`UPDATE ${s}.command_ledger SET state = 'published' WHERE command_id = $1`, [commandId]);
    },
    takeOver: async (dead, owner) => {
      if (dead.length === 0) return [];
      const r = await pool.query<Row>(
        `UPDATE ${s}.command_ledger SET owner_instance = $2 WHERE owner_instance = ANY($1::text[]) AND state <> 'published'
         RETURNING command, deadline, state, result`,
        [dead, owner],
      );
      return r.rows.map((row) =>
        row.state === 'pending' ? { state: 'pending', command: row.command, deadline: Number(row.deadline) } : { state: 'decided', command: row.command, result: row.result! },
      );
    },
    unpublished: async (owner, olderThanMs) => {
      const r = await pool.query<{ result: CommandResult }>(
        `SELECT result FROM ${s}.command_ledger WHERE owner_instance = $1 AND state = 'decided' AND decided_at < now() - $2 * interval '1 millisecond'`,
        [owner, olderThanMs],
      );
      return r.rows.map((row) => row.result);
    },
    prune: async (olderThanMs) => {
      const r = await pool.query(`DELETE FROM ${s}.command_ledger WHERE state = 'published' AND decided_at < now() - $1 * interval '1 millisecond'`, [olderThanMs]);
      return r.rowCount ?? 0;
    },
    state: async (commandId) => {
      const r = await pool.query<{ state: string }>(`SELECT state FROM ${s}.command_ledger WHERE command_id = $1`, [commandId]);
      return r.rows[0]?.state;
    },
  };
};
