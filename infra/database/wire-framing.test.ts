import { callsForPglite, CANCEL_REQUEST, createFrontendFramer, parseStartupOptions, PGLITE_READ_BLOCK, PROTOCOL_3, SSL_REQUEST, startupParameters } from './wire-framing';

const untyped = (code: number, body = Buffer.alloc(0)) => {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8 + body.length);
  b.writeInt32BE(code, 4);
  return Buffer.concat([b, body]);
};
const typed = (type: string, body: Buffer) => {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};
const startup = untyped(PROTOCOL_3, Buffer.from('user\0alice\0database\0db\0application_name\0psql\0\0'));
const query = (sql: string) => typed('Q', Buffer.from(`${sql}\0`));

test('SSLRequest, then the startup message, then typed messages', () => {
  const framer = createFrontendFramer();
  const out = framer.push(Buffer.concat([untyped(SSL_REQUEST), startup, query('SELECT 1'), typed('X', Buffer.alloc(0))]));
  expect(out.map((m) => (m.kind === 'typed' ? m.type : m.code))).toEqual([SSL_REQUEST, PROTOCOL_3, 'Q', 'X']);
  expect(out[2]!.bytes).toEqual(query('SELECT 1'));
});

test('a message split over many chunks comes out once, whole; a chunk may end one message and start the next', () => {
  const framer = createFrontendFramer();
  framer.push(startup);
  const big = query(`SELECT '${'x'.repeat(200_000)}'`);
  const stream = Buffer.concat([big, query('SELECT 2')]);
  const seen: Buffer[] = [];
  for (let at = 0; at < stream.length; at += 65_536) for (const m of framer.push(stream.subarray(at, at + 65_536))) seen.push(m.bytes);
  expect(seen).toEqual([big, query('SELECT 2')]);
});

test('a header cut in the middle waits for its length', () => {
  const framer = createFrontendFramer();
  framer.push(startup);
  const q = query('SELECT 3');
  expect(framer.push(q.subarray(0, 3))).toEqual([]);
  expect(framer.push(q.subarray(3)).map((m) => m.bytes)).toEqual([q]);
});

test('a CancelRequest is untyped, with its code', () => {
  const cancel = untyped(CANCEL_REQUEST, Buffer.alloc(8));
  expect(createFrontendFramer().push(cancel)).toEqual([{ kind: 'untyped', code: CANCEL_REQUEST, bytes: cancel }]);
});

test('startup parameters and the -c settings of options', () => {
  expect(startupParameters(startup)).toEqual({ user: 'alice', database: 'db', application_name: 'psql' });
  expect(parseStartupOptions('-c search_path=analytics --statement-timeout=5s -cwork_mem=8MB -c x=a\\ b')).toEqual({
    search_path: 'analytics', statement_timeout: '5s', work_mem: '8MB', x: 'a b',
  });
  expect(parseStartupOptions('')).toEqual({});
});

test('no message but the first of a call to PGlite starts on a 64 KiB boundary', () => {
  const sized = (n: number) => Buffer.alloc(n, 0x51);
  const starts = (calls: Buffer[][]) => calls.map((call) => call.reduce<number[]>((at, m, i) => [...at, i === 0 ? 0 : at[i - 1]! + call[i - 1]!.length], []));
  // A Bind that ends exactly at 65,536 bytes: Describe, Execute and Sync go in a call of their own.
  const run = [sized(40), sized(65_496), sized(7), sized(10), sized(5)];
  const calls = callsForPglite(run);
  expect(calls.map((c) => c.length)).toEqual([2, 3]);
  expect(calls.flat()).toEqual(run);
  for (const at of starts(calls).flat().filter((x) => x > 0)) expect(at % PGLITE_READ_BLOCK).not.toBe(0);
  // One byte either way: one call.
  expect(callsForPglite([sized(40), sized(65_495), sized(7), sized(10), sized(5)])).toHaveLength(1);
  expect(callsForPglite([sized(40), sized(65_497), sized(7)])).toHaveLength(1);
  // A boundary crossed twice by many small messages.
  const many = Array.from({ length: 2 * 65_536 / 16 + 3 }, () => sized(16));
  expect(callsForPglite(many).map((c) => c.length)).toEqual([4096, 4096, 3]);
  expect(callsForPglite([])).toEqual([]);
});
