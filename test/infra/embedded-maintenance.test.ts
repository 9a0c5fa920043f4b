import * as E from 'fp-ts/Either';
import { Pool } from 'pg';
import { EmbeddedDb, startEmbeddedDb } from '../../infra/database/embedded';
import { runMaintenancePass } from '../../infra/database/maintenance-run';
import { freePort, waitForValue } from '../support/stack';

/** PGlite has no autovacuum: without the maintenance no table is ever analyzed, and the planner reads every sample of
 *  a charger's window where the index would give the latest few (infra/database/maintenance.ts). */
jest.setTimeout(120_000);

const samples = `
  CREATE TABLE meter (charge_point_id text NOT NULL, at timestamptz NOT NULL, measurand text NOT NULL, value float8);
  CREATE INDEX meter_cp_at ON meter (charge_point_id, at);
  INSERT INTO meter SELECT 'cp-' || (i % 200), now() - (i || ' seconds')::interval, 'Energy.Active.Import.Register', i FROM generate_series(1, 60000) i`;

const latestOfOneCharger = `EXPLAIN SELECT * FROM meter WHERE charge_point_id = 'cp-7' AND at >= now() - interval '6 hours'
  AND measurand IN ('Power.Active.Import', 'Energy.Active.Import.Register', 'SoC') ORDER BY at DESC LIMIT 24`;

const analyzedRows = async (pool: Pool): Promise<number> => Number((await pool.query(`SELECT reltuples::float8 AS n FROM pg_class WHERE relname = 'meter'`)).rows[0].n);

describe('embedded database maintenance', () => {
  let db: EmbeddedDb | undefined;
  let pool: Pool | undefined;
  afterEach(async () => {
    await pool?.end();
    await db?.stop();
    pool = undefined;
    db = undefined;
  });

  it('given a table never analyzed, then a pass analyzes it, the latest samples of a charger come from the index, and the next pass has nothing to do', async () => {
    db = await startEmbeddedDb({ port: await freePort(), maintenanceEveryMs: 0 });
    pool = new Pool({ connectionString: db.url, max: 1 });
    await pool.query(samples);
    expect(await analyzedRows(pool)).toBe(-1);

    const first = await runMaintenancePass(pool);
    expect(E.isRight(first)).toBe(true);
    const steps = E.isRight(first) ? first.right : [];
    expect(steps.filter((d) => d.step.table === 'public.meter').map((d) => [d.step.kind, d.error])).toEqual([['vacuum analyze', undefined]]);
    expect(await analyzedRows(pool)).toBe(60000);
    const plan = (await pool.query(latestOfOneCharger)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index Scan Backward using meter_cp_at/);

    const second = await runMaintenancePass(pool);
    expect(E.isRight(second)).toBe(true);
    expect(E.isRight(second) ? second.right.map((d) => d.step.table) : []).not.toContain('public.meter');
  });

  it('given the database process runs its maintenance every second, then a table filled by a client is analyzed without anyone asking', async () => {
    db = await startEmbeddedDb({ port: await freePort(), maintenanceEveryMs: 1000 });
    pool = new Pool({ connectionString: db.url, max: 1 });
    await pool.query(samples);
    await waitForValue('the table analyzed', async () => ((await analyzedRows(pool!)) === 60000 ? true : undefined), 30_000, 200);
  });
});
