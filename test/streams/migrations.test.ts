import { migrate } from '../../infra/database/migrate';
import { projectionMigrations } from '../../streams/projections/migrations';
import { projectionTables } from '../../streams/projections/tables';
import { freshPgSchema, uniq } from '../support/stack';
import { embeddedTimescale } from './support';

const expectViewsAndTables = async (pool: import('pg').Pool, schema: string) => {
  const rel = await pool.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`,
    [schema],
  );
  const names = new Set(rel.rows.map((r) => r.relname));
  for (const t of projectionTables) expect(names).toContain(t.name);
  for (const v of ['site_load_15m', 'vehicle_soc', 'vehicle_soc_history', 'charger_online', 'stream_offsets']) expect(names).toContain(v);
  await pool.query(`SELECT * FROM "${schema}".vehicle_soc`);
  await pool.query(`SELECT * FROM "${schema}".site_load_15m`);
};

describe('projection migrations', () => {
  it('apply twice on the machine PostgreSQL (plain dialect)', async () => {
    const s = await freshPgSchema('streams_mig');
    try {
      const first = await migrate(s.pool, s.schema, projectionMigrations);
      expect(first.dialect.timescale).toBe(false);
      expect(first.applied).toEqual(projectionMigrations.map((m) => m.id));
      expect((await migrate(s.pool, s.schema, projectionMigrations)).applied).toEqual([]);
      await expectViewsAndTables(s.pool, s.schema);
    } finally {
      await s.drop();
    }
  });

  it('apply on an embedded TimescaleDB: hypertables and a continuous aggregate', async () => {
    const ts = await embeddedTimescale();
    try {
      const schema = uniq('streams_mig').replace(/-/g, '_');
      const { dialect } = await migrate(ts.pool, schema, projectionMigrations);
      expect(dialect.timescale).toBe(true);
      await expectViewsAndTables(ts.pool, schema);
      const hyper = await ts.pool.query(`SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema = $1`, [schema]);
      expect(hyper.rows.map((r) => r.hypertable_name).sort()).toEqual(projectionTables.filter((t) => t.time).map((t) => t.name).sort());
      const caggs = await ts.pool.query(`SELECT view_name FROM timescaledb_information.continuous_aggregates WHERE view_schema = $1`, [schema]);
      expect(caggs.rows.map((r) => r.view_name)).toEqual(['charger_load_15m']);
    } finally {
      await ts.stop();
    }
  });
});
