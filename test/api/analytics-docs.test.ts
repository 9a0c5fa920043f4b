import * as fs from 'node:fs';
import * as path from 'node:path';
import { Pool } from 'pg';
import { migrate } from '../../infra/database/migrate';
import { projectionMigrations } from '../../streams/projections/migrations';
import { analyticsMigrations } from '../../services/api/analytics';
import { testConfig, uniq } from '../support/stack';

/** Every example query of services/api/ANALYTICS.md runs against the views as documented (schemas projections, api,
 *  analytics in a database of its own), so the documentation cannot drift from the views. */
const dbName = uniq('analytics_docs').replace(/-/g, '_');
const adminUrl = testConfig().databaseUrl!;
const dbUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();
let pool: Pool;

beforeAll(async () => {
  const admin = new Pool({ connectionString: adminUrl, max: 1 });
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  pool = new Pool({ connectionString: dbUrl, max: 1 });
  await migrate(pool, 'projections', projectionMigrations);
  await migrate(pool, 'analytics', analyticsMigrations({ analytics: 'analytics', projections: 'projections', api: 'api' }));
});

afterAll(async () => {
  await pool?.end();
  const admin = new Pool({ connectionString: adminUrl, max: 1 });
  await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
  await admin.end();
});

const md = fs.readFileSync(path.join(__dirname, '..', '..', 'services', 'api', 'ANALYTICS.md'), 'utf8');
const queries = [...md.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((q) => /^\s*SELECT/.test(q));

test('ANALYTICS.md has example queries', () => {
  expect(queries.length).toBeGreaterThanOrEqual(5);
});

test.each(queries.map((q) => [q.split('\n')[0]!, q]))('runs: %s', async (_title, q) => {
  await expect(pool.query(q)).resolves.toBeDefined();
});

test('every documented view exists, with a comment', async () => {
  const documented = [...md.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]!);
  const { rows } = await pool.query<{ name: string; doc: string | null }>(
    `SELECT c.relname AS name, obj_description(c.oid) AS doc FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'analytics' AND c.relkind = 'v' ORDER BY 1`,
  );
  expect(rows.map((r) => r.name).sort()).toEqual([...documented].sort());
  expect(rows.every((r) => (r.doc ?? '').length > 10)).toBe(true);
});
