import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedDb } from '../../infra/database/embedded';
import { freePort } from '../support/stack';

jest.setTimeout(180000);

/** `npm start` a second time reopens the embedded database's data directory: TimescaleDB's continuous aggregates
 *  must work there as on the first start (they failed with a license error before the library was loaded at start). */
test('the embedded TimescaleDB reopened on its data directory still creates continuous aggregates', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-embedded-'));
  const cagg = async (name: string) => {
    const db = await startEmbeddedDb({ dataDir, port: await freePort() });
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query(`CREATE TABLE IF NOT EXISTS m (at timestamptz NOT NULL, v float8)`);
      await c.query(`SELECT create_hypertable('m', 'at', if_not_exists => TRUE)`);
      await c.query(`CREATE MATERIALIZED VIEW ${name} WITH (timescaledb.continuous) AS SELECT time_bucket('15 minutes', at) AS b, avg(v) AS v FROM m GROUP BY 1 WITH NO DATA`);
      const r = await c.query(`SELECT view_name FROM timescaledb_information.continuous_aggregates ORDER BY view_name`);
      return r.rows.map((x: { view_name: string }) => x.view_name);
    } finally {
      await c.end();
      await db.stop();
    }
  };
  try {
    expect(await cagg('first_start')).toEqual(['first_start']);
    expect(await cagg('second_start')).toEqual(['first_start', 'second_start']);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
