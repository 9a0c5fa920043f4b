import { ClientBase } from 'pg';
import { fromSql, Row, sqlType, TableDef, toSql } from './table';

/** Batched writes: one statement per table and batch, every column passed as one array parameter and spread by
 *  unnest(), so a statement carries any number of rows with a fixed number of parameters. */
const columnsAsArrays = (t: TableDef, rows: readonly Row[]) => ({
  params: t.columns.map((c) => rows.map((r) => toSql(c, r[c.name]))),
  unnest: `unnest(${t.columns.map((c, i) => `$${i + 1}::${sqlType(c.type)}[]`).join(', ')})`,
});

/** Insert rows; rows whose key exists are left alone (append-only tables; makes a re-applied batch harmless). */
export const insertRows = async (client: ClientBase, t: TableDef, rows: readonly Row[]): Promise<void> => {
  if (rows.length === 0) return;
  const { params, unnest } = columnsAsArrays(t, rows);
  await client.query(`INSERT INTO ${t.name} (${t.columns.map((c) => c.name).join(', ')}) SELECT * FROM ${unnest} ON CONFLICT (${t.key.join(', ')}) DO NOTHING`, params);
};

/** Insert or replace rows by key (current-state tables). Keys must be unique within `rows`. */
export const upsertRows = async (client: ClientBase, t: TableDef, rows: readonly Row[]): Promise<void> => {
  if (rows.length === 0) return;
  const { params, unnest } = columnsAsArrays(t, rows);
  const set = t.columns.filter((c) => !t.key.includes(c.name)).map((c) => `${c.name} = EXCLUDED.${c.name}`);
  await client.query(
    `INSERT INTO ${t.name} (${t.columns.map((c) => c.name).join(', ')}) SELECT * FROM ${unnest} ON CONFLICT (${t.key.join(', ')}) ${set.length ? `DO UPDATE SET ${set.join(', ')}` : 'DO NOTHING'}`,
    params,
  );
};

export const keyString = (values: readonly unknown[]): string => JSON.stringify(values);

/** The current rows of `keys` (each the values of t.key in order), by keyString. */
export const loadRows = async (client: ClientBase, t: TableDef, keys: readonly (readonly unknown[])[]): Promise<Map<string, Row>> => {
  const out = new Map<string, Row>();
  if (keys.length === 0) return out;
  const keyCols = t.key.map((k) => t.columns.find((c) => c.name === k)!);
  const params = keyCols.map((_c, i) => keys.map((k) => k[i]));
  const res = await client.query(
    `SELECT * FROM ${t.name} WHERE (${t.key.join(', ')}) IN (SELECT * FROM unnest(${keyCols.map((c, i) => `$${i + 1}::${sqlType(c.type)}[]`).join(', ')}))`,
    params,
  );
  for (const r of res.rows as Record<string, unknown>[]) {
    const row: Row = {};
    for (const c of t.columns) row[c.name] = fromSql(c, r[c.name]);
    out.set(keyString(t.key.map((k) => row[k])), row);
  }
  return out;
};
