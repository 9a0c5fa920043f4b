import { createHash } from 'node:crypto';
import { Pool } from 'pg';
import { quoteIdent } from '../common/db';
import { migrate, Migration } from '../../infra/database/migrate';

/** Idempotency keys of command requests: `<schema>.command_requests` (the API's own schema) reserves a key per
 *  charger before the command is written to ocpp.commands, so a retried request (same key, same body) gets the first
 *  request's command id and writes nothing, even when two copies arrive at once. A table rather than events: a
 *  request key is no fact about the fleet, and the command itself is on the log. */
export const commandRequestMigrations: readonly Migration[] = [
  {
    id: 'api-commands-0001-requests',
    up: () => [
      `CREATE TABLE IF NOT EXISTS command_requests (
         charge_point_id text NOT NULL,
         idempotency_key text NOT NULL,
         request_hash text NOT NULL,
         command_id text NOT NULL,
         reserved_at timestamptz NOT NULL DEFAULT now(),
         written_at timestamptz,
         PRIMARY KEY (charge_point_id, idempotency_key)
       )`,
    ],
  },
];

/** A request reserved but never written (its API process died in between) may be taken over after this long. */
export const ABANDONED_AFTER_S = 60;

export type Reservation =
  /** Write the command now (a new key, or one whose first request died before writing), then call written(). */
  | { readonly kind: 'write'; readonly commandId: string }
  /** Already written: answer with this command id and write nothing. */
  | { readonly kind: 'replay'; readonly commandId: string }
  | { readonly kind: 'conflict'; readonly problem: string };

export interface CommandRequests {
  reserve(chargePointId: string, key: string, request: unknown, commandId: string): Promise<Reservation>;
  written(chargePointId: string, key: string): Promise<void>;
  /** The command could not be written: the key is free again. */
  release(chargePointId: string, key: string): Promise<void>;
}

/** Same JSON, same hash, whatever the order of the object's keys. */
export const requestHash = (request: unknown): string => {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v;
  return createHash('sha256').update(JSON.stringify(canonical(request))).digest('hex');
};

export const createCommandRequests = (pool: Pool, schema: string): CommandRequests => {
  const table = `${quoteIdent(schema)}.command_requests`;
  let migrated: Promise<unknown> | undefined;
  const ready = () => {
    migrated ??= migrate(pool, schema, commandRequestMigrations).catch((e: unknown) => {
      migrated = undefined;
      throw e;
    });
    return migrated;
  };
  return {
    reserve: async (chargePointId, key, request, commandId) => {
      await ready();
      const hash = requestHash(request);
      const inserted = await pool.query<{ command_id: string }>(
        `INSERT INTO ${table} (charge_point_id, idempotency_key, request_hash, command_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (charge_point_id, idempotency_key) DO NOTHING RETURNING command_id`,
        [chargePointId, key, hash, commandId],
      );
      if (inserted.rows[0]) return { kind: 'write', commandId };
      const { rows } = await pool.query<{ request_hash: string; command_id: string; written: boolean; abandoned: boolean }>(
        `SELECT request_hash, command_id, written_at IS NOT NULL AS written, reserved_at < now() - make_interval(secs => $3) AS abandoned
         FROM ${table} WHERE charge_point_id = $1 AND idempotency_key = $2`,
        [chargePointId, key, ABANDONED_AFTER_S],
      );
      const row = rows[0];
      // Released between our INSERT and SELECT: the caller may simply retry.
      if (!row) return { kind: 'conflict', problem: `idempotencyKey: a request with this key was just withdrawn; retry` };
      if (row.request_hash !== hash) return { kind: 'conflict', problem: `idempotencyKey: already used for charger ${chargePointId} with a different request (command ${row.command_id})` };
      if (row.written) return { kind: 'replay', commandId: row.command_id };
      if (row.abandoned) {
        const taken = await pool.query(
          `UPDATE ${table} SET reserved_at = now() WHERE charge_point_id = $1 AND idempotency_key = $2 AND written_at IS NULL AND reserved_at < now() - make_interval(secs => $3)`,
          [chargePointId, key, ABANDONED_AFTER_S],
        );
        if ((taken.rowCount ?? 0) > 0) return { kind: 'write', commandId: row.command_id };
      }
      return { kind: 'conflict', problem: `idempotencyKey: a request with this key is still being processed (command ${row.command_id}); retry` };
    },
    written: async (chargePointId, key) => {
      await pool.query(`UPDATE ${table} SET written_at = now() WHERE charge_point_id = $1 AND idempotency_key = $2`, [chargePointId, key]);
    },
    release: async (chargePointId, key) => {
      await pool.query(`DELETE FROM ${table} WHERE charge_point_id = $1 AND idempotency_key = $2 AND written_at IS NULL`, [chargePointId, key]);
    },
  };
};
