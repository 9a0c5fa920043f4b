import { ClientBase } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
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

/** PostgreSQL text cannot hold U+0000 (it refuses the whole statement), and chargers can send it: it becomes U+FFFD
 *  in the projections. The log keeps the original (ocpp.frames raw text). */
export const pgText = (s: string): string => (s.includes('\u0000') ? s.split('\u0000').join('\uFFFD') : s);

/** The same inside JSON text, where U+0000 is the escape \u0000 (jsonb refuses it); an escaped backslash before it is no escape. */
const pgJson = (json: string): string => (json.includes('\\u0000') ? json.replace(/(?<=(?:^|[^\\])(?:\\\\)*)\\u0000/g, '\\ufffd') : json);

/** A key value as the projections' tables hold it. */
export const pgKeyValue = <V>(v: V): V => (typeof v === 'string' ? (pgText(v) as V) : v);

const quoted = (s: string): string => `"${s.replace(/[\\"]/g, '\\$&')}"`;

/** PostgreSQL array literal of one column's values. */
const arrayLiteral = (c: Column, rows: readonly Row[]): string => {
  const parts = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]![c.name];
    if (v === undefined || v === null) parts[i] = 'NULL';
    else if (c.type === 'text') parts[i] = quoted(pgText(String(v)));
    else if (c.type === 'jsonb') parts[i] = quoted(pgJson(JSON.stringify(v)));
    else if (c.type === 'bool') parts[i] = v ? 't' : 'f';
    else parts[i] = String(v);
  }
  return `{${parts.join(',')}}`;
};

export interface InsertOptions {
  /** The server takes COPY FROM STDIN (see acceptsCopyFromStdin). */
  readonly copy: boolean;
}

/** Insert rows; rows whose key exists are left alone (append-only tables; makes a re-applied batch harmless). A table
 *  whose key has no index (keyIndexed false) takes the rows as they come, by COPY where the server can: half the
 *  database's work of an INSERT from arrays. */
export const insertRows = async (client: ClientBase, t: TableDef, rows: readonly Row[], o: InsertOptions = { copy: false }): Promise<void> => {
  if (rows.length === 0) return;
  if (t.keyIndexed === false && o.copy) return copyRows(client, t, rows);
  const { params, source } = columnsAsArrays(t, rows);
  const onConflict = t.keyIndexed === false ? '' : ` ON CONFLICT (${t.key.join(', ')}) DO NOTHING`;
  await client.query(`INSERT INTO ${t.name} (${t.columns.map((c) => c.name).join(', ')}) ${source}${onConflict}`, params);
};

/** PGlite (the embedded TimescaleDB, PostgreSQL compiled to WebAssembly) behind pglite-socket drops the connection on
 *  COPY FROM STDIN (test/infra/embedded-sink.test.ts saw it); every other PostgreSQL takes it. */
export const acceptsCopyFromStdin = async (db: Pick<ClientBase, 'query'>): Promise<boolean> => {
  const r = await db.query<{ v: string }>('SELECT version() AS v');
  return !/emscripten/i.test(r.rows[0]?.v ?? '');
};

/** COPY's text format: a row a line, columns separated by tabs, \N for NULL, backslash escapes. One formatter per
 *  column and COPY, remembering its last value: the rows of one event (four meter samples, say) repeat most fields,
 *  and a table of millions of rows spends its client time here. */
const copyFormatter = (c: Column): ((v: unknown) => string) => {
  let last: unknown;
  let lastText = '';
  const format = (v: unknown): string => {
    switch (c.type) {
      case 'timestamptz': {
        // Beyond what a JS Date holds: left for PostgreSQL to refuse as data (22007) rather than thrown here.
        const d = new Date(Number(v));
        return Number.isNaN(d.getTime()) ? String(v) : d.toISOString();
      }
      case 'bool':
        return v ? 't' : 'f';
      case 'text':
        return copyEscape(pgText(String(v)));
      case 'jsonb':
        return copyEscape(pgJson(JSON.stringify(v)));
      default:
        return String(v);
    }
  };
  return (v) => {
    if (v === undefined || v === null) return '\\N';
    if (v !== last) {
      last = v;
      lastText = format(v);
    }
    return lastText;
  };
};

const copyEscape = (s: string): string => (/[\\\t\n\r]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s);

const copyRows = async (client: ClientBase, t: TableDef, rows: readonly Row[]): Promise<void> => {
  const names = t.columns.map((c) => c.name);
  const formats = t.columns.map(copyFormatter);
  let text = '';
  for (const row of rows) {
    let line = formats[0]!(row[names[0]!]);
    for (let i = 1; i < names.length; i++) line += `\t${formats[i]!(row[names[i]!])}`;
    text += `${line}\n`;
  }
  const stream = client.query(copyFrom(`COPY ${t.name} (${names.join(', ')}) FROM STDIN`));
  await new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
    stream.end(text);
  });
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

/** Locks `keys` (keyString) of table `t` until the end of the transaction. One statement takes them all in the order
 *  of their lock ids, so transactions locking overlapping keys wait in line and never in a circle. */
export const lockKeys = async (client: ClientBase, t: TableDef, keys: readonly string[]): Promise<void> => {
  if (keys.length === 0) return;
  await client.query(
    `SELECT count(pg_advisory_xact_lock(id)) FROM (SELECT DISTINCT hashtextextended($1 || k, 0) AS id FROM unnest($2::text[]) AS k ORDER BY id) ids`,
    [`${t.name}:`, keys],
  );
};

/** The current rows of `keys` (each the values of t.key in order), by keyString. */
export const loadRows = async (client: ClientBase, t: TableDef, keys: readonly (readonly unknown[])[]): Promise<Map<string, Row>> => {
  const out = new Map<string, Row>();
  if (keys.length === 0) return out;
  const keyCols = t.key.map((k) => t.columns.find((c) => c.name === k)!);
  const params = keyCols.map((_c, i) => keys.map((k) => pgKeyValue(k[i])));
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
