import { Client, Pool, PoolClient } from 'pg';

/** The projection database: one pool per process. The embedded TimescaleDB is one PGlite backend behind a session
 *  front that runs one transaction at a time (infra/database/session-front.ts): more connections than a few add
 *  only waiting, so its pools default to EMBEDDED_POOL_MAX. */
export interface DbOptions {
  readonly url: string;
  readonly embedded: boolean;
  /** search_path for every connection: projections live in a schema so a replay can build a fresh one beside them. */
  readonly schema?: string;
  readonly max?: number;
  /** application_name of every connection (pg_stat_activity on PostgreSQL; the embedded database serves a gateway's
   *  sessions ahead of bulk writers by it: infra/database/session-front.ts). */
  readonly application?: string;
}

export const EMBEDDED_POOL_MAX = 4;

export const createPool = (opts: DbOptions): Pool => {
  const pool = new Pool({
    connectionString: opts.url,
    max: opts.max ?? (opts.embedded ? EMBEDDED_POOL_MAX : 10),
    idleTimeoutMillis: 30000,
    ...(opts.application ? { application_name: opts.application } : {}),
  });
  // An idle client whose server went away (PostgreSQL restarted, a failover) makes the pool emit 'error'; unhandled,
  // that ends the process. The pool has already dropped the client: the next query connects again.
  pool.on('error', () => undefined);
  if (opts.schema) {
    const schema = quoteIdent(opts.schema);
    pool.on('connect', (client) => {
      client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}, public`).catch(() => undefined);
    });
  }
  return pool;
};

export const quoteIdent = (name: string): string => {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`not a safe SQL identifier: ${name}`);
  return `"${name}"`;
};

/** `begin`: the statement that opens the transaction, e.g. 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' for one
 *  consistent snapshot of several reads. */
export const withTransaction = async <T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> => {
  const client = await pool.connect();
  // Checked out, the client has no error listener of the pool's: its server going away would end the process (the
  // transaction's queries fail on their own).
  const lost = () => undefined;
  client.on('error', lost);
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.off('error', lost);
    client.release();
  }
};

/** Whether a database answers a query at `url` (readiness probes of the local stack). */
export const databaseReady = async (url: string): Promise<boolean> => {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
};
