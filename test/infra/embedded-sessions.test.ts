import { Client } from 'pg';
import { EmbeddedDb, startEmbeddedDb } from '../../infra/database/embedded';
import { freePort, testConfig, uniq } from '../support/stack';

/** The embedded database serves many client connections at once over PGlite's one backend (infra/database/
 *  session-front.ts): the same concurrent transactions give the same results as on the machine's PostgreSQL, and
 *  nothing of one session (search_path, user, prepared statements, an open transaction) reaches another. */
jest.setTimeout(180_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const connect = async (url: string, schema?: string): Promise<Client> => {
  const c = new Client({ connectionString: url });
  await c.connect();
  if (schema) await c.query(`SET search_path TO "${schema}", public`);
  return c;
};
const errorOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'no error';
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).message;
  }
};

let db: EmbeddedDb;
beforeAll(async () => {
  db = await startEmbeddedDb({ port: await freePort(), idleInTransactionTimeoutMs: 2000 });
});
afterAll(async () => {
  await db?.stop();
});

/** Eight clients at once: transfers (writes), reads of an invariant, a rollback, a failed transaction, a long
 *  transaction, a repeatable-read one, savepoints and prepared statements. Returns what each client saw and the end
 *  state of the tables. Every observation is one that READ COMMITTED PostgreSQL makes deterministic. */
const scenario = async (url: string, schema: string) => {
  const admin = await connect(url);
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.query(`SET search_path TO "${schema}"`);
  await admin.query(`CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)`);
  await admin.query(`CREATE TABLE log (client int NOT NULL, seq int NOT NULL, note text)`);
  await admin.query(`INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 4) g`);
  const clients = await Promise.all(Array.from({ length: 8 }, () => connect(url, schema)));
  const transfers = async (c: Client, from: number, to: number, me: number) => {
    const seen: number[] = [];
    for (let i = 0; i < 15; i++) {
      await c.query('BEGIN');
      await c.query('UPDATE accounts SET balance = balance - 1 WHERE id = $1', [from]);
      await c.query('UPDATE accounts SET balance = balance + 1 WHERE id = $1', [to]);
      await c.query('INSERT INTO log VALUES ($1, $2, $3)', [me, i, 'transfer']);
      seen.push(Number((await c.query('SELECT count(*) FROM log WHERE client = $1', [me])).rows[0].count));
      await c.query('COMMIT');
    }
    return seen;
  };
  const work: (() => Promise<unknown>)[] = [
    () => transfers(clients[0]!, 1, 2, 0),
    () => transfers(clients[1]!, 3, 4, 1),
    async () => {
      // A rollback: its +1000 is never seen by anyone, not even the sum readers.
      const c = clients[2]!;
      const seen: unknown[] = [];
      for (let i = 0; i < 5; i++) {
        await c.query('BEGIN');
        await c.query('UPDATE accounts SET balance = balance + 1000 WHERE id = 1');
        seen.push((await c.query('SELECT balance >= 1000 AS big FROM accounts WHERE id = 1')).rows[0].big);
        await c.query('ROLLBACK');
        await sleep(5);
      }
      return seen;
    },
    async () => {
      // A long transaction: its rows appear at once, at commit.
      const c = clients[3]!;
      await c.query('BEGIN');
      for (let i = 0; i < 5; i++) {
        await c.query('INSERT INTO log VALUES (3, $1, $2)', [i, 'long']);
        await sleep(40);
      }
      const own = (await c.query('SELECT count(*)::int AS n FROM log WHERE client = 3')).rows[0].n;
      await c.query('COMMIT');
      return own;
    },
    async () => {
      // Reads: money only moves, so every committed state sums to 400.
      const c = clients[4]!;
      const sums = new Set<number>();
      for (let i = 0; i < 30; i++) sums.add(Number((await c.query('SELECT sum(balance) AS s FROM accounts')).rows[0].s));
      return [...sums];
    },
    async () => {
      // A failed transaction: a duplicate key, then statements refused until ROLLBACK.
      const c = clients[5]!;
      await c.query('BEGIN');
      await c.query(`INSERT INTO log VALUES (5, 0, 'lost')`);
      const dup = await errorOf(c.query('INSERT INTO accounts VALUES (1, 0)'));
      const aborted = await errorOf(c.query('SELECT 1'));
      await c.query('ROLLBACK');
      await c.query(`INSERT INTO log VALUES (5, 1, 'kept')`);
      return [dup, aborted];
    },
    async () => {
      // Repeatable read: one snapshot for the whole transaction.
      const c = clients[6]!;
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const first = (await c.query('SELECT sum(balance)::int AS s, count(*)::int AS n FROM accounts')).rows[0];
      await sleep(60);
      const again = (await c.query('SELECT sum(balance)::int AS s, count(*)::int AS n FROM accounts')).rows[0];
      await c.query('COMMIT');
      return [first, again];
    },
    async () => {
      // Savepoints, and a named prepared statement used many times.
      const c = clients[7]!;
      await c.query('BEGIN');
      await c.query(`INSERT INTO log VALUES (7, 1, 'before savepoint')`);
      await c.query('SAVEPOINT a');
      await c.query(`INSERT INTO log VALUES (7, 2, 'rolled back to savepoint')`);
      await c.query('ROLLBACK TO SAVEPOINT a');
      await c.query(`INSERT INTO log VALUES (7, 3, 'after savepoint')`);
      await c.query('COMMIT');
      const counts: number[] = [];
      for (let i = 0; i < 10; i++) counts.push((await c.query({ name: 'log-count', text: 'SELECT count(*)::int AS n FROM log WHERE client = $1', values: [7] })).rows[0].n);
      return counts;
    },
  ];
  try {
    const seen = await Promise.all(work.map((w) => w()));
    const accounts = (await admin.query('SELECT id, balance FROM accounts ORDER BY id')).rows;
    const log = (await admin.query(`SELECT client, count(*)::int AS n, string_agg(DISTINCT note, ',' ORDER BY note) AS notes FROM log GROUP BY client ORDER BY client`)).rows;
    return { seen, accounts, log };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
    await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
    await admin.end();
  }
};

test('eight concurrent clients get the same results on the embedded database as on PostgreSQL', async () => {
  const schema = uniq('sessions').replace(/-/g, '_');
  const [embedded, postgres] = await Promise.all([scenario(db.url, schema), scenario(testConfig().databaseUrl!, schema)]);
  expect(embedded).toEqual(postgres);
  // And both are right, not merely alike.
  const steps = Array.from({ length: 15 }, (_, i) => i + 1);
  expect(embedded.seen).toEqual([
    steps, steps, [true, true, true, true, true], 5, [400], ['23505', '25P02'],
    [{ s: 400, n: 4 }, { s: 400, n: 4 }], [2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
  ]);
  expect(embedded.accounts).toEqual([{ id: 1, balance: 85 }, { id: 2, balance: 115 }, { id: 3, balance: 85 }, { id: 4, balance: 115 }]);
  expect(embedded.log).toEqual([
    { client: 0, n: 15, notes: 'transfer' }, { client: 1, n: 15, notes: 'transfer' }, { client: 3, n: 5, notes: 'long' },
    { client: 5, n: 1, notes: 'kept' }, { client: 7, n: 2, notes: 'after savepoint,before savepoint' },
  ]);
});

test('two sessions with different search_path each see their own', async () => {
  const [a, b] = [uniq('sp_a').replace(/-/g, '_'), uniq('sp_b').replace(/-/g, '_')];
  const admin = await connect(db.url);
  for (const s of [a, b]) await admin.query(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.whoami (v text); INSERT INTO ${s}.whoami VALUES ('${s}')`);
  const [ca, cb] = [await connect(db.url, a), await connect(db.url, b)];
  try {
    const loop = async (c: Client) => {
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) seen.add((await c.query('SELECT v FROM whoami')).rows[0].v);
      return seen;
    };
    const [seenA, seenB] = await Promise.all([loop(ca), loop(cb)]);
    expect(seenA).toEqual(new Set([a]));
    expect(seenB).toEqual(new Set([b]));
    expect((await admin.query('SHOW search_path')).rows[0].search_path).toBe('public');
    // A session that connects later starts from the defaults, not from whoever ran last.
    const later = await connect(db.url);
    expect((await later.query('SHOW search_path')).rows[0].search_path).toBe('public');
    await later.end();
  } finally {
    await Promise.all([ca.end(), cb.end()]);
    await admin.query(`DROP SCHEMA ${a} CASCADE; DROP SCHEMA ${b} CASCADE`);
    await admin.end();
  }
});

test('a client killed mid-transaction leaves no lock and no partial write', async () => {
  const schema = uniq('killed').replace(/-/g, '_');
  const admin = await connect(db.url);
  await admin.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int PRIMARY KEY, v text); INSERT INTO ${schema}.t VALUES (1, 'start')`);
  const victim = await connect(db.url, schema);
  victim.on('error', () => undefined);
  const begun = Date.now();
  await victim.query('BEGIN');
  await victim.query(`UPDATE t SET v = 'partial' WHERE id = 1`);
  await victim.query(`INSERT INTO t VALUES (2, 'partial')`);
  // A new client connects meanwhile, without waiting for the transaction, and then waits for it with a write.
  const other = await connect(db.url);
  expect(Date.now() - begun).toBeLessThan(1000);
  const waiting = other.query(`UPDATE ${schema}.t SET v = 'after' WHERE id = 1 RETURNING v`);
  await sleep(100);
  (victim as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  const t0 = Date.now();
  expect((await waiting).rows).toEqual([{ v: 'after' }]);
  expect(Date.now() - t0).toBeLessThan(1000);
  expect(Date.now() - begun).toBeLessThan(1500); // ended by the kill, not by the idle-in-transaction timeout (2 s)
  expect((await other.query(`SELECT id, v FROM ${schema}.t ORDER BY id`)).rows).toEqual([{ id: 1, v: 'after' }]);
  await other.end();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
});

test('a session idle in a transaction past the timeout is terminated and rolled back', async () => {
  const schema = uniq('idle').replace(/-/g, '_');
  const admin = await connect(db.url);
  await admin.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (v text)`);
  const forgetful = await connect(db.url, schema);
  const ended = new Promise<string>((resolve) => forgetful.on('error', (e) => resolve((e as { code?: string }).code ?? e.message)));
  await forgetful.query('BEGIN');
  await forgetful.query(`INSERT INTO t VALUES ('forgotten')`);
  const t0 = Date.now();
  expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.t`)).rows).toEqual([{ n: 0 }]);
  const waited = Date.now() - t0;
  expect(waited).toBeGreaterThan(1500);
  expect(waited).toBeLessThan(5000);
  expect(await ended).toBe('25P03');
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
});

test('the analyst role reads and is refused a write; other sessions keep their own rights', async () => {
  const schema = uniq('an').replace(/-/g, '_');
  const admin = await connect(db.url);
  await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'voltstream_analyst') THEN CREATE ROLE voltstream_analyst NOLOGIN; END IF; END $$`);
  await admin.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (v int); INSERT INTO ${schema}.t VALUES (1); GRANT USAGE ON SCHEMA ${schema} TO voltstream_analyst; GRANT SELECT ON ${schema}.t TO voltstream_analyst`);
  const url = new URL(db.url);
  url.username = 'voltstream_analyst';
  const analyst = await connect(url.toString(), schema);
  try {
    const asAnalyst = async () => [
      (await analyst.query('SELECT current_user, session_user')).rows[0],
      await errorOf(analyst.query('INSERT INTO t VALUES (3)')),
      await errorOf(analyst.query('CREATE TABLE mine (x int)')),
      (await analyst.query('SELECT current_user')).rows[0],
    ];
    const asAdmin = async () => [
      (await admin.query(`INSERT INTO ${schema}.t VALUES (2) RETURNING current_user`)).rows[0],
      (await admin.query('SELECT current_user')).rows[0],
    ];
    expect(await Promise.all([asAnalyst(), asAdmin()])).toEqual([
      [{ current_user: 'voltstream_analyst', session_user: 'voltstream_analyst' }, '42501', '42501', { current_user: 'voltstream_analyst' }],
      [{ current_user: 'postgres' }, { current_user: 'postgres' }],
    ]);
    expect((await analyst.query('SELECT v FROM t ORDER BY v')).rows).toEqual([{ v: 1 }, { v: 2 }]);
    const stranger = new URL(db.url);
    stranger.username = 'nobody_here';
    expect(await errorOf(connect(stranger.toString()))).toBe('28000');
  } finally {
    await analyst.end();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
});

test('two sessions may prepare statements of the same name', async () => {
  const [a, b] = [await connect(db.url), await connect(db.url)];
  try {
    const run = async (c: Client, text: string) => {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) seen.add((await c.query({ name: 'same', text })).rows[0].x);
      return seen;
    };
    const [fromA, fromB] = await Promise.all([run(a, `SELECT 'a' AS x`), run(b, `SELECT 'b' AS x`)]);
    expect(fromA).toEqual(new Set(['a']));
    expect(fromB).toEqual(new Set(['b']));
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
});

test('COPY FROM STDIN, which aborts PGlite, is refused and the database serves on', async () => {
  const [a, b] = [await connect(db.url), await connect(db.url)];
  try {
    await a.query('CREATE TEMP TABLE copied (x int)');
    expect(await errorOf(a.query('COPY copied FROM STDIN'))).toBe('0A000');
    expect((await a.query('SELECT count(*)::int AS n FROM copied')).rows).toEqual([{ n: 0 }]);
    expect((await b.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
});

test("a gateway's lease session waits ahead of bulk sessions, and a long hold is logged with what held it", async () => {
  const holder = await connect(db.url);
  const bulk = await Promise.all([connect(db.url), connect(db.url)]);
  const lease = new Client({ connectionString: db.url, application_name: 'voltstream-lease' });
  await lease.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 AS held_for_the_test');
    const done: string[] = [];
    const waiting = bulk.map((c, i) => c.query('SELECT 1').then(() => done.push(`bulk${i}`)));
    await sleep(200);
    const renewal = lease.query('SELECT 1').then(() => done.push('lease'));
    // Over 2 s inside the transaction (a long hold), never idle as long as this database's 2 s idle timeout.
    for (let i = 0; i < 5; i++) {
      await sleep(450);
      await holder.query('SELECT 1 AS held_for_the_test');
    }
    await holder.query('COMMIT');
    await Promise.all([...waiting, renewal]);
    expect(done).toEqual(['lease', 'bulk0', 'bulk1']);
    const held = db.logTail!().split('\n').filter((l) => l.includes('a session held the database')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const hold = held.find((h) => String(h.statement).includes('BEGIN | SELECT 1 AS held_for_the_test'));
    expect(hold).toEqual(expect.objectContaining({ waiting: 3 }));
    // The holder slept between its statements: PGlite waited on it, not the other way round.
    expect(hold!.clientSilentMs).toBeGreaterThan(1800);
  } finally {
    await Promise.all([holder, lease, ...bulk].map((c) => c.end().catch(() => undefined)));
  }
});
