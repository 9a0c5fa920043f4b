/** A gateway that is shutting down takes no new charger: it would claim it and close it again at once, and once its
 *  WebSocket server is closed ws answers 503 without a Retry-After. A charger arriving while the gateway stops is told
 *  503 + Retry-After, to come back to an instance that serves. */
import * as net from 'node:net';
import { Registry } from 'prom-client';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { quoteIdent } from '../../services/common/db';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, pgSchemaName, rawUpgradeRequest } from './support';

const ctx = gatewayContext();
const schema = pgSchemaName('gw_stopping');
let gw: Gateway;

beforeAll(async () => {
  await ensureContractTopics(ctx.kafka);
  gw = await createGateway(ctx, { gatewayId: uniq('gw-stopping'), port: 0, settings: { dbSchema: schema }, consumeCommands: false, metrics: new Registry() });
});

afterAll(async () => {
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

/** Sends an OCPP upgrade request on a raw socket; resolves with the response head. The socket stays open and answers
 *  nothing afterwards (not even a close frame), as a charger that hangs would. */
const upgrade = (url: string, cp: string, password: string): Promise<{ head: string; socket: net.Socket }> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    let got = '';
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(rawUpgradeRequest(url, cp, password));
    });
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end >= 0) resolve({ head: got.slice(0, end), socket });
    });
  });

test('a charger arriving while the gateway stops is told 503 with a Retry-After', async () => {
  const [held, late] = [uniq('stop-held'), uniq('stop-late')];
  await configureFleet(ctx.kafka, ctx.serde, [
    { id: held, password: 'pw' },
    { id: late, password: 'pw' },
  ]);
  // A connected charger that never answers the close frame keeps the gateway's stop busy (and its listener open).
  const first = await upgrade(gw.url, held, 'pw');
  expect(first.head).toMatch(/^HTTP\/1\.1 101 /);

  const stopped = gw.stop();
  const second = await upgrade(gw.url, late, 'pw');
  expect(second.head).toMatch(/^HTTP\/1\.1 503 /);
  expect(second.head).toMatch(/\r\nRetry-After: \d+/i);
  second.socket.destroy();
  first.socket.destroy();
  await stopped;
  // Refused, not claimed: no row names the late charger.
  expect((await ctx.pool.query(`SELECT 1 FROM ${quoteIdent(schema)}.connections WHERE charge_point_id = $1`, [late])).rowCount).toBe(0);
}, 120_000);
