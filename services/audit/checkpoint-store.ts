import { Pool } from 'pg';
import { quoteIdent } from '../common/db';
import { migrate, Migration } from '../../infra/database/migrate';
import { Checkpoint } from './checkpoint';

/** Where checkpoints live: the table `checkpoints` of its own schema (AUDIT_SCHEMA, default `audit`) in the projection
 *  database, outside Kafka. Rows are only ever inserted. Beside it, `latest_checkpoints` keeps each charger's newest
 *  one, written in the same transaction, so that a restart reads one row per charger instead of every checkpoint
 *  ever signed (1,000 chargers checkpointed every minute add 1.4 million rows a day). verify reads `checkpoints`. */
export const defaultAuditSchema = 'audit';

export const checkpointMigrations: readonly Migration[] = [
  {
    id: 'audit-0001-checkpoints',
    up: () => [
      `CREATE TABLE IF NOT EXISTS checkpoints (
         charge_point_id text NOT NULL,
         seq bigint NOT NULL,
         hash text NOT NULL,
         signed_at_ms bigint NOT NULL,
         key_id text NOT NULL,
         signature text NOT NULL,
         PRIMARY KEY (charge_point_id, seq, key_id)
       )`,
    ],
  },
  {
    id: 'audit-0002-latest-checkpoints',
    up: () => [
      `CREATE TABLE IF NOT EXISTS latest_checkpoints (
         charge_point_id text PRIMARY KEY,
         seq bigint NOT NULL,
         hash text NOT NULL,
         signed_at_ms bigint NOT NULL,
         key_id text NOT NULL,
         signature text NOT NULL
       )`,
      `INSERT INTO latest_checkpoints
       SELECT DISTINCT ON (charge_point_id) charge_point_id, seq, hash, signed_at_ms, key_id, signature
         FROM checkpoints ORDER BY charge_point_id, seq DESC
       ON CONFLICT DO NOTHING`,
    ],
  },
];

export const migrateCheckpoints = (pool: Pool, schema: string) => migrate(pool, schema, checkpointMigrations);

export const writeCheckpoints = async (pool: Pool, schema: string, cps: readonly Checkpoint[]): Promise<void> => {
  if (cps.length === 0) return;
  const values: unknown[] = [];
  const rows = cps.map((c) => {
    values.push(c.chargePointId, c.seq, c.hash, c.signedAt, c.keyId, c.signature);
    const n = values.length;
    return `($${n - 5}, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
  });
  const s = quoteIdent(schema);
  // One statement, so one transaction: the newest checkpoint per charger moves with the rows.
  await pool.query(
    `WITH added AS (
       INSERT INTO ${s}.checkpoints (charge_point_id, seq, hash, signed_at_ms, key_id, signature) VALUES ${rows.join(', ')}
       ON CONFLICT DO NOTHING RETURNING *
     )
     INSERT INTO ${s}.latest_checkpoints AS l
     SELECT DISTINCT ON (charge_point_id) * FROM added ORDER BY charge_point_id, seq DESC
     ON CONFLICT (charge_point_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, signed_at_ms = excluded.signed_at_ms,
       key_id = excluded.key_id, signature = excluded.signature
     WHERE l.seq < excluded.seq`,
    values,
  );
};

type Row = { charge_point_id: string; seq: string; hash: string; signed_at_ms: string; key_id: string; signature: string };
const toCheckpoint = (r: Row): Checkpoint => ({ chargePointId: r.charge_point_id, seq: Number(r.seq), hash: r.hash, signedAt: Number(r.signed_at_ms), keyId: r.key_id, signature: r.signature });

/** Every checkpoint (of one charger), or undefined when the store has no checkpoint table (none was ever written). */
export const readCheckpoints = async (pool: Pool, schema: string, chargePointId?: string): Promise<Checkpoint[] | undefined> => {
  const exists = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${quoteIdent(schema)}.checkpoints`]);
  if (!exists.rows[0]?.t) return undefined;
  const { rows } = await pool.query<Row>(
    `SELECT charge_point_id, seq::text, hash, signed_at_ms::text, key_id, signature FROM ${quoteIdent(schema)}.checkpoints
      WHERE $1::text IS NULL OR charge_point_id = $1 ORDER BY charge_point_id, seq`,
    [chargePointId ?? null],
  );
  return rows.map(toCheckpoint);
};

/** The latest checkpointed head per charger: where the checkpointer resumes. */
export const latestHeads = async (pool: Pool, schema: string): Promise<Checkpoint[]> => {
  const { rows } = await pool.query<Row>(`SELECT charge_point_id, seq::text, hash, signed_at_ms::text, key_id, signature FROM ${quoteIdent(schema)}.latest_checkpoints`);
  return rows.map(toCheckpoint);
};
