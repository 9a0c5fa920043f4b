import { ClientBase } from 'pg';
import { Column, fromSql, Row, sqlType, TableDef } from './table';

/** Batched writes: one statement per table and batch, every column passed as one array parameter and spread by
 *  unnest(), so a statement carries any number of rows with a fixed number of parameters. Each column's array literal
 *  is built here in one pass (node-postgres would convert element by element); times travel as epoch milliseconds
 *  and become timestamptz in SQL. */
const columnsAsArrays = (t: TableDef, rows: readonly Row[]) => ({
  params: t.columns.map((c) => arrayLiteral(c, rows)),
  source: `SELECT ${t.columns.map((c, i) => (c.type === 'timestamptz' ? `to_timestamp(c${i} / 1000.0)` : `c${i}`)).join(', ')} FROM unnest(${t.columns
    .map((c, i) => `$${i + 1}::${c.type === 'timestamptz' ? 'double precision' : sqlType(c.type)}[]`)
    .join(', ')}) AS u(${t.columns.map((_c, i) => `c${i}`).join(', ')})`,
});

const quoted = (s: string): string => `"${s.replace(/[\\"]/g, '\\$&')}"`;

/** PostgreSQL array literal of one column's values. */
const arrayLiteral = (c: Column, rows: readonly Row[]): string => {
  const parts = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]![c.name];
    if (v === undefined || v === null) parts[i] = 'NULL';
    else if (c.type === 'text') parts[i] = quoted(String(v));
    else if (c.type === 'jsonb') parts[i] = quoted(JSON.stringify(v));
    else if (c.type === 'bool') parts[i] = v ? 't' : 'f';
    else parts[i] = String(v);
  }
  return `{${parts.join(',')}}`;
};

/** Insert rows; rows whose key exists are left alone (append-only tables; makes a re-applied batch harmless). */
export const insertRows = async (client: ClientBase, t: TableDef, rows: readonly Row[]): Promise<void> => {
  if (rows.length === 0) return;
  const { params, source } = columnsAsArrays(t, rows);
  await client.query(`INSERT INTO ${t.name} (${t.columns.map((c) => c.name).join(', ')}) ${source} ON CONFLICT (${t.key.join(', ')}) DO NOTHING`, params);
};

/** Insert or replace rows by key (current-state tables). Keys must be unique within `rows`. */
export const upsertRows = async (client: ClientBase, t: TableDef, rows: readonly Row[]): Promise<void> => {
  if (rows.length === 0) return;
  const { params, source } = columnsAsArrays(t, rows);
  const set = t.columns.filter((c) => !t.key.includes(c.name)).map((c) => `${c.name} = EXCLUDED.${c.name}`);
  await client.query(
    `INSERT INTO ${t.name} (${t.columns.map((c) => c.name).join(', ')}) ${source} ON CONFLICT (${t.key.join(', ')}) ${set.length ? `DO UPDATE SET ${set.join(', ')}` : 'DO NOTHING'}`,
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
