import { Pool } from 'pg';
import { quoteIdent } from '../../services/common/db';
import { detectDialect, Dialect } from './dialect';

/** A migration is a function of the dialect, so one list serves TimescaleDB and plain PostgreSQL alike. */
export interface Migration {
  readonly id: string;
  readonly up: (d: Dialect) => readonly string[];
}

/** Applies, in order, the migrations not yet recorded in `<schema>.schema_migrations`. Idempotent. */
export const migrate = async (pool: Pool, schema: string, migrations: readonly Migration[]): Promise<{ dialect: Dialect; applied: string[] }> => {
  const client = await pool.connect();
  // The pool's connection goes back with the search_path it came with (the pool sets its own on connect).
  const searchPath = (await client.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path;
  // Instances that start together (two projections processes) migrate one after the other: CREATE ... IF NOT EXISTS
  // run at the same moment in two sessions can still collide on the catalog's unique indexes.
  const lock = `voltstream-migrate:${schema}`;
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [lock]);
  try {
    const s = quoteIdent(schema);
    const dialect = await detectDialect(client);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`SET search_path TO ${s}, public`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ id: string }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      // No surrounding transaction: TimescaleDB refuses continuous aggregates inside one. Statements must be idempotent
      // (IF NOT EXISTS), so a migration interrupted half-way is simply run again.
      try {
        for (const sql of m.up(dialect)) await client.query(sql);
        await client.query('INSERT INTO schema_migrations (id) VALUES ($1)', [m.id]);
      } catch (e) {
        throw new Error(`migration ${m.id} failed: ${(e as Error).message}`);
      }
      applied.push(m.id);
    }
    return { dialect, applied };
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lock]).catch(() => undefined);
    await client.query('SELECT pg_catalog.set_config($1, $2, false)', ['search_path', searchPath]).catch(() => undefined);
    client.release();
  }
};
