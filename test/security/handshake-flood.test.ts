import * as http from 'node:http';
import { Topics } from '../../schemas/topics';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, Json, ocppClient, pgSchemaName, readFrom, topicEnds } from '../gateway/support';

/** A handshake flood from one address (127.0.0.2, a host of its own on loopback): 10,000 failed handshakes within a
 *  minute, wrong passwords for ids that exist and ids that don't. The gateway answers an unknown id exactly as a wrong
 *  password (401, same challenge), refuses the address outright with 429 + Retry-After once it has failed too often
 *  (no password check any more), records the peer address, and writes a bounded number of ocpp.rejected records,
 *  while a legitimate charger from another address connects and is answered throughout. */
jest.setTimeout(300000);

const ctx = gatewayContext();
const schema = pgSchemaName('gw_flood');
const prefix = uniq('flood');
const legit = `${prefix}-ok`;
const victim = `${prefix}-victim`;
let gw: Gateway;
let rejectedFrom: Map<number, number>;

beforeAll(async () => {
  await ensureContractTopics(ctx.kafka);
  await configureFleet(ctx.kafka, ctx.serde, [
    { id: legit, password: 'legit-password', securityProfile: 1 },
    { id: victim, password: 'victim-password', securityProfile: 1 },
  ]);
  rejectedFrom = await topicEnds(ctx.kafka, Topics.ocppRejected);
  gw = await createGateway(ctx, { gatewayId: uniq('gw-flood'), port: 0, settings: { dbSchema: schema }, consumeCommands: false });
});

afterAll(async () => {
  await gw?.stop();
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** One WebSocket upgrade request from `localAddress`: the HTTP status it got (101 for an upgrade). */
const attempt = (url: string, id: string, password: string, localAddress: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> =>
  new Promise((resolve) => {
    const u = new URL(`${url}/${encodeURIComponent(id)}`.replace(/^ws/, 'http'));
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      localAddress,
      agent: false,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': Buffer.from(id.padEnd(16, 'x').slice(0, 16)).toString('base64'),
        'Sec-WebSocket-Protocol': 'ocpp1.6',
        Authorization: basic(id, password),
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 101, headers: res.headers });
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', () => resolve({ status: 0, headers: {} }));
    req.end();
  });

test('10,000 failed handshakes from one address: alike answers, 429 after the limit, bounded audit, a legitimate charger still answered', async () => {
  // Alike: an unknown id and a wrong password get the same answer.
  const unknown = await attempt(gw.url, `${prefix}-nobody`, 'x', '127.0.0.2');
  const wrong = await attempt(gw.url, victim, 'x', '127.0.0.2');
  expect(unknown.status).toBe(401);
  expect(wrong.status).toBe(401);
  expect(unknown.headers['www-authenticate']).toBe(wrong.headers['www-authenticate']);

  // The legitimate charger, from 127.0.0.1, beats while the flood runs.
  const c = ocppClient({ endpoint: gw.url, identity: legit, password: 'legit-password', protocols: ['ocpp1.6'], callTimeoutMs: 30000 });
  await c.connect();
  let beats = 0;
  const latencies: number[] = [];
  let flooding = true;
  const beating = (async () => {
    while (flooding) {
      const t0 = performance.now();
      await c.call('Heartbeat', {});
      latencies.push(performance.now() - t0);
      beats++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const statuses = new Map<number, number>();
  const total = 10000;
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < total && Date.now() - started < 60000) {
      const i = next++;
      const id = i % 2 === 0 ? `${prefix}-guess-${i}` : victim;
      const r = await attempt(gw.url, id, `guess-${i}`, '127.0.0.2');
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 40 }, worker));
  flooding = false;
  await beating;
  const sent = [...statuses.values()].reduce((a, b) => a + b, 0);
  latencies.sort((a, b) => a - b);
  process.stderr.write(`[flood] ${sent} attempts in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(Object.fromEntries(statuses))}; legitimate charger: ${beats} heartbeats, p50 ${latencies[Math.floor(latencies.length / 2)]?.toFixed(1)} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)]?.toFixed(1)} ms\n`);
  expect(sent).toBe(total);
  // A few hundred password checks at most (the per-address limit, plus those already in line when it was reached);
  // the rest refused at once: 429 once the address is known, or 503 + Retry-After while the line was full.
  expect(statuses.get(401)).toBeLessThan(300);
  expect((statuses.get(429) ?? 0) + (statuses.get(503) ?? 0)).toBeGreaterThan(total * 0.95);
  expect([...statuses.keys()].every((s) => s === 401 || s === 429 || s === 503)).toBe(true);
  expect(beats).toBeGreaterThan(0);

  // And afterwards the legitimate charger is still answered.
  expect(await c.call('Heartbeat', {})).toHaveProperty('currentTime');
  await c.close();

  // The audit: a bounded number of records, each naming the peer.
  const rejected = await readFrom<Json>(ctx.kafka, Topics.ocppRejected, rejectedFrom, (k) => k.startsWith(prefix), () => false, 8000);
  process.stderr.write(`[flood] ocpp.rejected grew by ${rejected.length} records for ${total + 2} refusals\n`);
  expect(rejected.length).toBeGreaterThan(0);
  expect(rejected.length).toBeLessThanOrEqual(60);
  expect(rejected.every((r: Json) => String(r.reason).includes('peer 127.0.0.2'))).toBe(true);
  expect(rejected.some((r: Json) => /more like it from this source not recorded/.test(String(r.reason)) || r.errorCode === '429')).toBe(true);
});
