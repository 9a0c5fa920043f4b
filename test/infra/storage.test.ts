import { Pool } from 'pg';
import { createPool, quoteIdent } from '../../services/common/db';
import { startEmbeddedDb, EmbeddedDb } from '../../infra/database/embedded';
import { migrate, Migration } from '../../infra/database/migrate';
import { Dialect } from '../../infra/database/dialect';
import { freePort, testConfig, uniq } from '../support/stack';
import { createTableSql, Row, TableDef } from '../../streams/sink/table';
import { acceptsCopyFromStdin, insertRows, keyString, loadRows, upsertRows } from '../../streams/sink/sql';

const migrations: Migration[] = [
  {
    id: '001-samples',
    up: (d: Dialect) => [
      `CREATE TABLE IF NOT EXISTS samples (charge_point_id text NOT NULL, at timestamptz NOT NULL, power_w double precision NOT NULL, PRIMARY KEY (charge_point_id, at))`,
      ...d.timeSeries('samples', 'at', { segmentBy: 'charge_point_id', compressAfter: '7 days', retainFor: '400 days' }),
    ],
  },
  {
    id: '002-load-15m',
    up: (d: Dialect) =>
      d.aggregateView('load_15m', `SELECT charge_point_id, ${d.timeBucket('15 minutes', 'at')} AS bucket, avg(power_w) AS avg_w, max(power_w) AS max_w FROM samples GROUP BY charge_point_id, bucket`),
  },
];

/** The same migrations and queries on the embedded TimescaleDB and on the machine's plain PostgreSQL 15. */
const cases: [string, () => Promise<{ pool: Pool; schema: string; close(): Promise<void> }>][] = [
  [
    'embedded TimescaleDB',
    async () => {
      const db: EmbeddedDb = await startEmbeddedDb({ port: await freePort() });
      const schema = 'projections';
      const pool = createPool({ url: db.url, embedded: true, schema });
      return { pool, schema, close: async () => { await pool.end(); await db.stop(); } };
    },
  ],
  [
    'PostgreSQL 15 without TimescaleDB',
    async () => {
      const schema = uniq('storage').replace(/-/g, '_');
      const pool = createPool({ url: testConfig().databaseUrl!, embedded: false, schema, max: 2 });
      return { pool, schema, close: async () => { await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`); await pool.end(); } };
    },
  ],
];

describe.each(cases)('storage on %s', (name, open) => {
  let db: Awaited<ReturnType<(typeof cases)[0][1]>>;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => db && db.close());

  test('migrations detect the dialect, apply once, and are idempotent', async () => {
    const first = await migrate(db.pool, db.schema, migrations);
    expect(first.dialect.timescale).toBe(name.includes('TimescaleDB') && !name.includes('without'));
    expect(first.applied).toEqual(['001-samples', '002-load-15m']);
    const second = await migrate(db.pool, db.schema, migrations);
    expect(second.applied).toEqual([]);
    if (first.dialect.timescale) {
      const ht = await db.pool.query(`SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema = $1`, [db.schema]);
      expect(ht.rows.map((r) => r.hypertable_name)).toContain('samples');
      const jobs = await db.pool.query(`SELECT proc_name FROM timescaledb_information.jobs WHERE hypertable_schema = $1 ORDER BY proc_name`, [db.schema]);
      expect(jobs.rows.map((r) => r.proc_name)).toEqual(expect.arrayContaining(['policy_compression', 'policy_retention']));
    } else {
      const idx = await db.pool.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'samples'`, [db.schema]);
      expect(idx.rows.map((r) => r.indexname)).toContain('samples_at_brin');
    }
  });

  test('time buckets and the 15-minute aggregate give the same answers on both', async () => {
    const { dialect } = await migrate(db.pool, db.schema, migrations);
    const base = Date.parse('2026-01-05T08:00:00Z');
    const rows = Array.from({ length: 12 }, (_, i) => ['CP-1', new Date(base + i * 5 * 60000).toISOString(), 1000 * (i + 1)]);
    await db.pool.query(
      `INSERT INTO samples (charge_point_id, at, power_w) SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::float8[]) ON CONFLICT DO NOTHING`,
      [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])],
    );
    const direct = await db.pool.query(`SELECT ${dialect.timeBucket('15 minutes', 'at')} AS bucket, avg(power_w)::float8 AS avg_w FROM samples GROUP BY bucket ORDER BY bucket`);
    expect(direct.rows.map((r) => [new Date(r.bucket).toISOString(), r.avg_w])).toEqual([
      ['2026-01-05T08:00:00.000Z', 2000],
      ['2026-01-05T08:15:00.000Z', 5000],
      ['2026-01-05T08:30:00.000Z', 8000],
      ['2026-01-05T08:45:00.000Z', 11000],
    ]);
    await db.pool.query(dialect.refreshAggregate('load_15m'));
    const agg = await db.pool.query(`SELECT bucket, max_w::float8 AS max_w FROM load_15m ORDER BY bucket`);
    expect(agg.rows.map((r) => r.max_w)).toEqual([3000, 6000, 9000, 12000]);
  });

  test("the sink's batched writes keep every value exactly: quoting, NULL, JSON, times to the millisecond", async () => {
    const table: TableDef = {
      name: 'awkward_values',
      doc: 'sink round trip',
      key: ['id'],
      columns: [
        { name: 'id', type: 'int', doc: '' },
        { name: 'label', type: 'text', nullable: true, doc: '' },
        { name: 'doc', type: 'jsonb', nullable: true, doc: '' },
        { name: 'at', type: 'timestamptz', nullable: true, doc: '' },
        { name: 'value', type: 'double', nullable: true, doc: '' },
        { name: 'count', type: 'bigint', nullable: true, doc: '' },
        { name: 'ok', type: 'bool', nullable: true, doc: '' },
      ],
    };
    await db.pool.query(createTableSql(table));
    const labels = ['plain', 'with "quotes"', 'back\\slash\\', '{braces},commas', 'NULL', '', ' spaced ', 'ünïcødé ⚡', 'new\nline', 'tab\tand\rreturn', '\\N'];
    const rows: Row[] = labels.map((label, id) => ({
      id,
      label,
      doc: { label, n: id, nested: { q: '"\\' } },
      at: Date.UTC(2026, 0, 5, 8, 0, 0, 1) + id * 1001,
      value: id === 3 ? 1e-7 : id * 0.1,
      count: 2 ** 40 + id,
      ok: id % 2 === 0,
    }));
    rows.push({ id: 99, label: null, doc: null, at: null, value: null, count: null, ok: null });
    const client = await db.pool.connect();
    try {
      await upsertRows(client, table, rows);
      const back = await loadRows(client, table, rows.map((r) => [r.id as number]));
      expect(rows.map((r) => back.get(keyString([r.id])))).toEqual(rows);
      // A table whose key has no index is written by COPY where the server takes it (not the embedded PGlite).
      const copy = await acceptsCopyFromStdin(client);
      expect(copy).toBe(!name.startsWith('embedded'));
      const appended: TableDef = { ...table, name: 'awkward_values_appended', keyIndexed: false };
      await client.query(createTableSql(appended));
      await insertRows(client, appended, rows, { copy });
      const copied = await loadRows(client, appended, rows.map((r) => [r.id as number]));
      expect(rows.map((r) => copied.get(keyString([r.id])))).toEqual(rows);
    } finally {
      client.release();
    }
  });
});
