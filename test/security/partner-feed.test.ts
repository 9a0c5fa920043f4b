import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import WebSocket from 'ws';
import { createDurableProducer, DURABLE_ACKS, ensureTopics } from '../../services/common/kafka';
import { partnerTopicSpec } from '../../schemas/topics';
import { toAvro } from '../../schemas/events';
import { quoteIdent } from '../../services/common/db';
import { uniq, waitForValue } from '../support/stack';
import { startTestApi, TestApi } from '../api/harness';

/** The partner feed against callers who misbehave: a broken handshake, more feeds than a key may hold, oversized
 *  messages, a reader that stops reading, and a key that must not reach the log when the upgrade fails. */
jest.setTimeout(180_000);

const limits = { PARTNER_FEED_MAX_PER_KEY: '2', PARTNER_FEED_MAX_MESSAGE_BYTES: '1024', PARTNER_FEED_MAX_BUFFERED_BYTES: '65536', PARTNER_FEED_SLOW_READER_MS: '0' };
const saved = Object.fromEntries(Object.keys(limits).map((k) => [k, process.env[k]]));
let t: TestApi;
const quiet = uniq('quiet');
const busy = uniq('busy');

/** Events with a large free-text field, so a few hundred fill far more than the socket buffers hold. */
const produceBulky = async (partnerId: string, count: number) => {
  const topic = partnerTopicSpec(partnerId).name;
  const producer = createDurableProducer(t.ctx.kafka);
  await producer.connect();
  try {
    const info = 'x'.repeat(60_000);
    for (let i = 0; i < count; i += 20) {
      const messages = await Promise.all(Array.from({ length: Math.min(20, count - i) }, async (_x, j) => ({
        key: 'CP-1',
        value: await t.ctx.serde.encode(topic, toAvro({ eventId: randomUUID(), chargePointId: 'CP-1', occurredAt: Date.now(), source: null, body: { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Faulted', errorCode: null, info: `${i + j}${info}` } })),
      })));
      await producer.send({ topic, acks: DURABLE_ACKS, messages });
    }
  } finally {
    await producer.disconnect();
  }
};

beforeAll(async () => {
  Object.assign(process.env, limits);
  t = await startTestApi();
  const admin = t.ctx.kafka.admin();
  await admin.connect();
  for (const id of [quiet, busy]) {
    await ensureTopics(admin, { partitions: 1, replicationFactor: 1 }, [partnerTopicSpec(id)]);
    await t.ctx.serde.ensure(partnerTopicSpec(id));
  }
  await admin.disconnect();
  await produceBulky(busy, 200);
});

afterAll(async () => {
  await t?.stop();
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
});

const feedUrl = (partnerId: string, from = 'latest') => `${t.api.url.replace('http', 'ws')}/api/v1/partners/${partnerId}/feed?from=${from}`;

/** Opens a feed; resolves with the socket once `ready` arrived, or with the refusal's status and body. */
const openFeed = (url: string, key: string | null): Promise<{ ws: WebSocket } | { status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: key === null ? {} : { Authorization: `Bearer ${key}` } });
    ws.once('message', () => resolve({ ws }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', reject);
  });

const closed = (ws: WebSocket) => new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

/** A raw HTTP/1.1 request on the socket, answered with whatever the server sends before closing. */
const rawRequest = (head: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const s = net.connect(t.api.port, '127.0.0.1', () => s.write(head));
    let out = '';
    s.on('data', (c) => (out += c.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });

test('a broken handshake is a 400 and holds no feed slot; a key holds at most PARTNER_FEED_MAX_PER_KEY feeds', async () => {
  const key = await t.issueKey([`partner:${quiet}`]);
  for (const broken of ['Sec-WebSocket-Key: not-a-key\r\nSec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8']) {
    const answer = await rawRequest(`GET /api/v1/partners/${quiet}/feed HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${broken}\r\nAuthorization: Bearer ${key}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 400 /);
  }
  const first = await openFeed(feedUrl(quiet), key);
  const second = await openFeed(feedUrl(quiet), key);
  expect('ws' in first && 'ws' in second).toBe(true);
  const third = await openFeed(feedUrl(quiet), key);
  expect(third).toMatchObject({ status: 429 });
  expect((third as { body: string }).body).toContain('2 feed(s) open');
  // Another key is not affected; and a closed feed gives its slot back.
  const other = await openFeed(feedUrl(quiet), await t.issueKey([`partner:${quiet}`]));
  expect('ws' in other).toBe(true);
  const gone = closed((first as { ws: WebSocket }).ws);
  (first as { ws: WebSocket }).ws.close();
  await gone;
  const again = await waitForValue('a slot free again', async () => {
    const r = await openFeed(feedUrl(quiet), key);
    return 'ws' in r ? r : undefined;
  }, 30_000);
  for (const f of [second, other, again]) (f as { ws: WebSocket }).ws.close();
});

test('a message larger than PARTNER_FEED_MAX_MESSAGE_BYTES closes the feed with 1009', async () => {
  const key = await t.issueKey([`partner:${quiet}`]);
  const feed = await openFeed(feedUrl(quiet), key);
  if (!('ws' in feed)) throw new Error(`feed refused: ${feed.status} ${feed.body}`);
  const end = closed(feed.ws);
  feed.ws.send('x'.repeat(64 * 1024));
  expect((await end).code).toBe(1009);
});

test('a reader that stops reading is closed with 1008 and a reason, instead of the API buffering the topic for it', async () => {
  const key = await t.issueKey([`partner:${busy}`]);
  const slow = await openFeed(feedUrl(busy, 'earliest'), key);
  if (!('ws' in slow)) throw new Error(`feed refused: ${slow.status} ${slow.body}`);
  const socket = (slow.ws as unknown as { _socket: net.Socket })._socket;
  socket.pause();
  const end = closed(slow.ws);
  // The key's second slot: a third feed opens only once the API has closed the slow reader's.
  const watcher = await openFeed(feedUrl(busy, 'latest'), key);
  expect('ws' in watcher).toBe(true);
  const probe = await waitForValue('the slow feed closed by the API', async () => {
    const r = await openFeed(feedUrl(busy, 'latest'), key);
    return 'ws' in r ? r : undefined;
  }, 120_000, 500);
  socket.resume();
  const { code, reason } = await end;
  expect(code).toBe(1008);
  expect(reason).toContain('too slow');
  probe.ws.close();
  (watcher as { ws: WebSocket }).ws.close();
});

test('a key in ?access_token= never reaches the log, even when the upgrade fails', async () => {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(chunk.toString());
    return write(chunk, ...(rest as []));
  });
  try {
    const secret = `vsk_${'0123456789abcdef'}_${'A'.repeat(43)}`;
    // The key table gone: checking the key fails, and the API logs the failed upgrade.
    await t.ctx.pool.query(`DROP TABLE ${quoteIdent(t.apiSchema)}.api_keys`);
    const r = await openFeed(`${feedUrl(quiet)}&access_token=${secret}`, null).catch((e: Error) => ({ status: -1, body: e.message }));
    expect(r).toMatchObject({ status: 500 });
    await waitForValue('the failure logged', () => lines.find((l) => l.includes('upgrade failed')), 10_000);
    expect(lines.join('')).not.toContain('A'.repeat(43));
    expect(lines.find((l) => l.includes('upgrade failed'))).toContain('access_token=[redacted]');
  } finally {
    spy.mockRestore();
  }
});
