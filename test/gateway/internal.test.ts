/** The internal command route, probed from outside with a plain HTTP client while a real WebSocket charger listens:
 *  the charger-facing port serves OCPP upgrades only, and the internal listener delivers only with the token, which
 *  without OCPP_INTERNAL_TOKEN is generated once under VOLTSTREAM_HOME (mode 0600). */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { tokenFile } from '../../services/ocpp-gateway/internal-token';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, pgSchemaName, waitFor } from './support';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-internal-'));
const ctx = gatewayContext({ home });
const schema = pgSchemaName('gw_int');
const cp = uniq('int');
const password = 'pw-internal';
let gw: Gateway;
let charger: WebSocket;
const received: unknown[][] = [];

const command = (id: number) => ({
  command: { commandId: randomUUID(), chargePointId: cp, action: 'ClearChargingProfile', payloadJson: JSON.stringify({ id }), issuedBy: 'outsider', issuedAt: Date.now(), expiresAt: null, planId: null },
  deadline: Date.now() + 5000,
});

const post = (base: string, body: unknown, authorization?: string) =>
  fetch(`${base}/internal/commands`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(authorization ? { Authorization: authorization } : {}) }, body: JSON.stringify(body) });

beforeAll(async () => {
  await ensureContractTopics(ctx.kafka);
  await configureFleet(ctx.kafka, ctx.serde, [{ id: cp, password }], [], home);
  gw = await createGateway(ctx, { port: 0, settings: { dbSchema: schema, internalToken: undefined }, consumeCommands: false });
  charger = new WebSocket(`${gw.url}/${cp}`, ['ocpp1.6'], { headers: { Authorization: `Basic ${Buffer.from(`${cp}:${password}`).toString('base64')}` } });
  charger.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as unknown[];
    received.push(frame);
    if (frame[0] === 2) charger.send(JSON.stringify([3, frame[1], { status: 'Accepted' }]));
  });
  await new Promise((resolve, reject) => {
    charger.once('open', resolve);
    charger.once('error', reject);
  });
});

afterAll(async () => {
  charger?.terminate();
  await gw?.stop();
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
  fs.rmSync(home, { recursive: true, force: true });
});

test('the internal route is not on the charger-facing port, and needs the token on its own listener', async () => {
  const token = fs.readFileSync(tokenFile(home), 'utf8').trim();
  expect(token.length).toBeGreaterThanOrEqual(32);
  expect(fs.statSync(tokenFile(home)).mode & 0o777).toBe(0o600);
  expect(new URL(gw.internalUrl).port).not.toBe(String(gw.port));

  const ocppPort = `http://127.0.0.1:${gw.port}`;
  expect((await post(ocppPort, command(1), `Bearer ${token}`)).status).toBe(404);
  expect((await fetch(`${ocppPort}/`)).status).toBe(404);
  expect((await post(gw.internalUrl, command(2))).status).toBe(401);
  expect((await post(gw.internalUrl, command(3), `Bearer ${token}x`)).status).toBe(401);
  expect((await post(gw.internalUrl, command(4), `Basic ${Buffer.from(`x:${token}`).toString('base64')}`)).status).toBe(401);
  expect((await post(gw.internalUrl, { command: { chargePointId: cp } }, `Bearer ${token}`)).status).toBe(400);

  expect((await post(gw.internalUrl, command(5), `Bearer ${token}`)).status).toBe(202);
  await waitFor('the authorized command at the charger', () => received.some((f) => f[0] === 2));
  // Commands go out one at a time in arrival order: had any refused request been taken, it would have come first.
  const calls = received.filter((f) => f[0] === 2);
  expect(calls[0]![2]).toBe('ClearChargingProfile');
  expect(calls[0]![3]).toEqual({ id: 5 });
});

test('a second instance with the same home shares the generated token', async () => {
  const other = await createGateway(gatewayContext({ home }, ctx.pool), { port: 0, settings: { dbSchema: schema, internalToken: undefined }, consumeCommands: false, gatewayId: uniq('gw-int-2'), metrics: new Registry() });
  try {
    const token = fs.readFileSync(tokenFile(home), 'utf8').trim();
    // The charger is not on this instance: authorized, but refused with 409 (the sender routes again).
    expect((await post(other.internalUrl, command(6), `Bearer ${token}`)).status).toBe(409);
  } finally {
    await other.stop();
  }
});
