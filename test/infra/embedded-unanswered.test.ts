import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { Client } from 'pg';

/** PGlite has dropped requests unanswered (a message on a 64 KiB boundary of its input: infra/database/wire-framing.ts).
 *  Whatever the cause, the client must not wait for ever inside its transaction, holding PGlite from every other
 *  session until the idle-in-transaction timeout (a projections batch did, 60 s, under a 1,000-charger burst): the
 *  session front notices the missing ReadyForQuery, rolls back and closes the session with an error. */
jest.setTimeout(60_000);

let child: ChildProcess;
let url: string;
const reported: Record<string, unknown>[] = [];

beforeAll(async () => {
  child = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), path.join(__dirname, 'support', 'lossy-embedded-main.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) {
        const m = /^listening (\d+)$/.exec(l);
        if (m) resolve(Number(m[1]));
        else if (l.startsWith('{')) reported.push(JSON.parse(l) as Record<string, unknown>);
      }
    });
    child.once('exit', (code) => reject(new Error(`lossy embedded database exited (${code})`)));
  });
  url = `postgres://postgres@127.0.0.1:${port}/postgres`;
});
afterAll(() => {
  child?.kill('SIGKILL');
});

test('given PGlite leaves a request in a transaction unanswered, then the client gets an error at once, its transaction is rolled back and others go on', async () => {
  const setup = new Client({ connectionString: url });
  await setup.connect();
  await setup.query('CREATE TABLE t (x int)');
  const victim = new Client({ connectionString: url, application_name: 'voltstream-projections' });
  victim.on('error', () => undefined);
  await victim.connect();
  await victim.query('BEGIN');
  await victim.query('INSERT INTO t VALUES (1)');
  const error = await victim.query(`SELECT 'lost_by_pglite' AS marker, $1::int AS n`, [1]).then(
    () => 'answered',
    (e: Error) => e.message,
  );
  expect(error).toMatch(/left part of this request unanswered/);
  const other = await setup.query<{ n: string }>('SELECT count(*) AS n FROM t');
  expect(other.rows[0]!.n).toBe('0');
  await setup.end();
  await new Promise((r) => setTimeout(r, 200));
  expect(reported).toEqual([expect.objectContaining({ application: 'voltstream-projections', messages: expect.stringMatching(/^P:\d+ B:\d+ D:\d+ E:\d+ S:5$/) })]);
});
