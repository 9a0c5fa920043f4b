import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Pool } from 'pg';
import { EmbeddedDb, startEmbeddedDb } from '../../infra/database/embedded';
import { migrate } from '../../infra/database/migrate';
import { analyticsMigrations } from '../../services/api/analytics';
import { createPool } from '../../services/common/db';
import { projectionMigrations } from '../../streams/projections/migrations';
import { freePort } from '../support/stack';

/** An analyst's psql on the embedded database, as services/api/ANALYTICS.md describes, while a service writes. */
jest.setTimeout(180_000);

const run = promisify(execFile);
const psql = (url: string, sql: string) => run('psql', [url, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { timeout: 30_000 });

let db: EmbeddedDb;
let pool: Pool;
beforeAll(async () => {
  db = await startEmbeddedDb({ port: await freePort() });
  pool = createPool({ url: db.url, embedded: true, schema: 'projections' });
  await migrate(pool, 'projections', projectionMigrations);
  await migrate(pool, 'analytics', analyticsMigrations({ analytics: 'analytics', projections: 'projections', api: 'api' }));
});
afterAll(async () => {
  await pool?.end();
  await db?.stop();
});

test('psql as voltstream_analyst reads analytics.sites while a writer writes, and may not write', async () => {
  const analyst = new URL(db.url);
  analyst.username = 'voltstream_analyst';
  let written = 0;
  let writing = true;
  const writer = (async () => {
    while (writing) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO fleet_sites VALUES ($1, 'depot', 150, 52.37, 4.89, 'Europe/Amsterdam', now())`, [`site-${written}`]);
        await client.query('COMMIT');
        written++;
      } finally {
        client.release();
      }
    }
  })();
  try {
    const counts: number[] = [];
    for (let i = 0; i < 4; i++) {
      while (written <= (counts.at(-1) ?? -1)) await new Promise((r) => setTimeout(r, 10));
      const { stdout } = await psql(analyst.toString(), 'SELECT count(*) FROM analytics.sites');
      counts.push(Number(stdout.trim()));
    }
    // Each read saw the writer's committed rows so far: the reads went on while the writes did.
    expect(counts.every((n, i) => i === 0 || n > counts[i - 1]!)).toBe(true);
    const { stdout: who } = await psql(analyst.toString(), 'SELECT current_user');
    expect(who.trim()).toBe('voltstream_analyst');
    await expect(psql(analyst.toString(), `DELETE FROM analytics.sites`)).rejects.toThrow(/permission denied/);
    await expect(psql(analyst.toString(), `SELECT count(*) FROM projections.fleet_sites`)).rejects.toThrow(/permission denied/);
  } finally {
    writing = false;
    await writer;
  }
  expect(written).toBeGreaterThan(3);
});
