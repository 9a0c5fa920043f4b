/** A projection table described once: the migration creates it from this, the sink writes rows with it and the
 *  replay digests it. Rows in the domain are plain objects; times are epoch milliseconds in JS, timestamptz in SQL. */
export type ColumnType = 'text' | 'int' | 'bigint' | 'double' | 'bool' | 'timestamptz' | 'jsonb';

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable?: boolean;
  readonly doc: string;
}

export interface TableDef {
  readonly name: string;
  readonly doc: string;
  readonly columns: readonly Column[];
  /** Primary key columns (for time series it includes the time column, as TimescaleDB requires). */
  readonly key: readonly string[];
  /** False: the key identifies and orders rows (digests, pages) but no unique index enforces it. For an append-only
   *  time series of many rows per event that only the exactly-once sink writes: its stored offsets already keep a
   *  record from being applied twice, and the index cost as much as the rest of the insert. Default true. */
  readonly keyIndexed?: boolean;
  /** Time column of a time series (hypertable with TimescaleDB, BRIN index otherwise). */
  readonly time?: string;
  /** Column that time-series queries filter on besides time (segment-by / composite index). */
  readonly segmentBy?: string;
}

export type Row = Record<string, unknown>;

export const sqlType = (t: ColumnType): string =>
  ({ text: 'text', int: 'integer', bigint: 'bigint', double: 'double precision', bool: 'boolean', timestamptz: 'timestamptz', jsonb: 'jsonb' })[t];

export const createTableSql = (t: TableDef): string =>
  `CREATE TABLE IF NOT EXISTS ${t.name} (\n  ${t.columns
    .map((c) => `${c.name} ${sqlType(c.type)}${c.nullable ? '' : ' NOT NULL'}`)
    .join(',\n  ')}${t.keyIndexed === false ? '' : `,\n  PRIMARY KEY (${t.key.join(', ')})`}\n)`;

export const commentSql = (t: TableDef): string[] => [
  `COMMENT ON TABLE ${t.name} IS ${literal(t.doc)}`,
  ...t.columns.map((c) => `COMMENT ON COLUMN ${t.name}.${c.name} IS ${literal(c.doc)}`),
];

const literal = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** A value read back by node-postgres → the JS domain value. */
export const fromSql = (c: Column, v: unknown): unknown => {
  if (v === undefined || v === null) return null;
  switch (c.type) {
    case 'timestamptz':
      return v instanceof Date ? v.getTime() : new Date(String(v)).getTime();
    case 'bigint':
      return Number(v);
    case 'double':
      return Number(v);
    default:
      return v;
  }
};
