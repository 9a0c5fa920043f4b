import { migrate } from '../../infra/database/migrate';
import { detectDialect } from '../../infra/database/dialect';
import { LOAD_AGGREGATE, loadAggregateSelect, refreshLoadAggregate } from '../../streams/projections/load-aggregate';
import { projectionMigrations } from '../../streams/projections/migrations';
import { meterValues } from '../../streams/projections/tables';
import { insertRows } from '../../streams/sink/sql';
import { freshPgSchema } from '../support/stack';

/** The load aggregate on plain PostgreSQL: a table refreshed from the earliest changed sample on, which must hold
 *  exactly what a recomputation over the whole history gives. */
describe('load aggregate on plain PostgreSQL', () => {
  const T0 = Date.UTC(2026, 2, 2, 8, 0, 0);
  const min = 60_000;
  const samples = (cp: string, from: number, n: number, w: number, tag: string) =>
    Array.from({ length: n }, (_, i) => ({ at: from + i * 5 * min, charge_point_id: cp, connector_id: 1, measurand: 'Power.Active.Import', unit: 'W', value: w + i, event_id: `${tag}-${i}`, idx: 0 }));

  const write = async (pool: import('pg').Pool, schema: string, rows: Record<string, unknown>[]) => {
    const client = await pool.connect();
    try {
      await client.query(`SET search_path TO "${schema}", public`);
      await insertRows(client, meterValues, rows, { copy: true });
    } finally {
      client.release();
    }
  };

  /** Rows of the aggregate that a full recomputation does not give, and the other way round. */
  const drift = async (pool: import('pg').Pool, schema: string) => {
    const client = await pool.connect();
    try {
      await client.query(`SET search_path TO "${schema}", public`);
      const full = loadAggregateSelect(await detectDialect(client));
      const a = await client.query(`SELECT * FROM ${LOAD_AGGREGATE} EXCEPT ${full}`);
      const b = await client.query(`${full} EXCEPT SELECT * FROM ${LOAD_AGGREGATE}`);
      return [...a.rows, ...b.rows];
    } finally {
      client.release();
    }
  };

  it('refreshed from a time on, equals a recomputation of the whole history, late samples included', async () => {
    const s = await freshPgSchema('load_agg');
    try {
      const { dialect } = await migrate(s.pool, s.schema, projectionMigrations);
      const kind = await s.pool.query(`SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, [s.schema, LOAD_AGGREGATE]);
      expect(kind.rows).toEqual([{ relkind: 'r' }]);
      await write(s.pool, s.schema, [...samples('CP-A', T0, 12, 7000, 'a1'), ...samples('CP-B', T0, 12, 11000, 'b1')]);
      await refreshLoadAggregate(s.pool, dialect, s.schema, null);
      expect((await s.pool.query(`SELECT count(*)::int AS n FROM "${s.schema}".${LOAD_AGGREGATE}`)).rows[0].n).toBe(8);
      expect(await drift(s.pool, s.schema)).toEqual([]);
      // New samples in the last bucket and after it, and one late sample in the middle of the first hour: a refresh
      // from the late sample's time on brings every bucket back in line.
      const late = T0 + 20 * min;
      await write(s.pool, s.schema, [...samples('CP-A', T0 + 55 * min, 6, 9000, 'a2'), ...samples('CP-B', late, 1, 22000, 'b2')]);
      expect((await drift(s.pool, s.schema)).length).toBeGreaterThan(0);
      await refreshLoadAggregate(s.pool, dialect, s.schema, late);
      expect(await drift(s.pool, s.schema)).toEqual([]);
      const b = await s.pool.query(`SELECT max_power_w, samples::int FROM "${s.schema}".${LOAD_AGGREGATE} WHERE charge_point_id = 'CP-B' AND bucket = $1`, [new Date(T0 + 15 * min)]);
      expect(b.rows).toEqual([{ max_power_w: 22000, samples: 4 }]);
    } finally {
      await s.drop();
    }
  });

  it('an existing materialized view becomes the table, keeping its rows and the views built on site_load_15m', async () => {
    const s = await freshPgSchema('load_agg_mv');
    try {
      const before = projectionMigrations.filter((m) => m.id < 'streams-005');
      await migrate(s.pool, s.schema, before);
      const kind = `SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`;
      expect((await s.pool.query(kind, [s.schema, LOAD_AGGREGATE])).rows).toEqual([{ relkind: 'm' }]);
      await write(s.pool, s.schema, samples('CP-A', T0, 12, 7000, 'a1'));
      await s.pool.query(`REFRESH MATERIALIZED VIEW "${s.schema}".${LOAD_AGGREGATE}`);
      // Like the analytics schema's view over the projections.
      await s.pool.query(`CREATE VIEW "${s.schema}".site_load_for_analysts AS SELECT * FROM "${s.schema}".site_load_15m`);
      const applied = await migrate(s.pool, s.schema, projectionMigrations);
      // The conversion first; migrations added since (later tables, columns) follow it.
      expect(applied.applied[0]).toBe('streams-005-load-aggregate-table');
      expect((await s.pool.query(kind, [s.schema, LOAD_AGGREGATE])).rows).toEqual([{ relkind: 'r' }]);
      expect((await s.pool.query(kind, [s.schema, 'site_load_for_analysts'])).rows).toEqual([{ relkind: 'v' }]);
      expect((await s.pool.query(`SELECT count(*)::int AS n FROM "${s.schema}".${LOAD_AGGREGATE}`)).rows[0].n).toBe(4);
      expect(await drift(s.pool, s.schema)).toEqual([]);
    } finally {
      await s.drop();
    }
  });
});
