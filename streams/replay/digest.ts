import { ClientBase, Pool } from 'pg';
import { quoteIdent } from '../../services/common/db';
import { TableDef } from '../sink/table';
import { projectionTables } from '../projections/tables';

/** A table's digest: row count and the sum of a 64-bit hash of every row (md5 of the row's text, columns in their
 *  declared order). A sum does not depend on row order, so the digest is cheap (one scan, no sort) and two tables
 *  holding the same rows have the same digest whatever order they were written in. */
export interface TableDigest {
  readonly table: string;
  readonly rows: number;
  readonly digest: string;
}

const rowText = (t: TableDef, alias: string) => `ROW(${t.columns.map((c) => `${alias}.${c.name}`).join(', ')})::text`;

export const digestTable = async (client: ClientBase | Pool, schema: string, t: TableDef): Promise<TableDigest> => {
  const r = await client.query<{ rows: string; digest: string }>(
    `SELECT count(*)::text AS rows, COALESCE(sum(('x' || substr(md5(${rowText(t, 'r')}), 1, 15))::bit(60)::bigint::numeric), 0)::text AS digest
     FROM ${quoteIdent(schema)}.${t.name} r`,
  );
  return { table: t.name, rows: Number(r.rows[0]!.rows), digest: r.rows[0]!.digest };
};

export const digestSchema = async (client: ClientBase | Pool, schema: string, tables: readonly TableDef[] = projectionTables): Promise<TableDigest[]> => {
  const out: TableDigest[] = [];
  for (const t of tables) out.push(await digestTable(client, schema, t));
  return out;
};

export interface Difference {
  readonly table: string;
  readonly live: TableDigest | undefined;
  readonly rebuilt: TableDigest | undefined;
}

export const compareDigests = (live: readonly TableDigest[], rebuilt: readonly TableDigest[]): Difference[] => {
  const byName = new Map(rebuilt.map((d) => [d.table, d]));
  const out: Difference[] = [];
  for (const l of live) {
    const r = byName.get(l.table);
    if (!r || r.rows !== l.rows || r.digest !== l.digest) out.push({ table: l.table, live: l, rebuilt: r });
  }
  for (const r of rebuilt) if (!live.some((l) => l.table === r.table)) out.push({ table: r.table, live: undefined, rebuilt: r });
  return out;
};

/** Up to `limit` keys of rows present in one schema and not (identically) in the other, both ways. */
export const sampleDifferences = async (pool: Pool, t: TableDef, liveSchema: string, rebuiltSchema: string, limit = 5): Promise<{ onlyLive: unknown[]; onlyRebuilt: unknown[] }> => {
  const keys = t.key.join(', ');
  const side = (a: string, b: string) =>
    pool.query(
      `SELECT ${keys} FROM (SELECT ${keys}, md5(${rowText(t, 'x')}) AS h FROM ${quoteIdent(a)}.${t.name} x
        EXCEPT SELECT ${keys}, md5(${rowText(t, 'y')}) FROM ${quoteIdent(b)}.${t.name} y) d ORDER BY ${keys} LIMIT ${limit}`,
    );
  return { onlyLive: (await side(liveSchema, rebuiltSchema)).rows, onlyRebuilt: (await side(rebuiltSchema, liveSchema)).rows };
};

/** The live projections' positions and digests in one snapshot (REPEATABLE READ): the digests are exactly those of
 *  the log up to the positions, even while the live sink keeps writing. */
export const snapshotSchema = async (pool: Pool, schema: string, consumer = 'projections'): Promise<{ positions: Map<string, number>; digests: TableDigest[] }> => {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const rows = await client.query<{ topic: string; partition: number; next_offset: string }>(`SELECT topic, partition, next_offset FROM ${quoteIdent(schema)}.stream_offsets WHERE consumer = $1`, [consumer]);
    const digests = await digestSchema(client, schema);
    await client.query('COMMIT');
    return { positions: new Map(rows.rows.map((r) => [`${r.topic}:${r.partition}`, Number(r.next_offset)])), digests };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
};

export const schemaExists = async (pool: Pool, schema: string): Promise<boolean> =>
  (await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema])).rowCount === 1 &&
  (await pool.query(`SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'stream_offsets'`, [schema])).rowCount === 1;
