/** A charger that gives up its handshake while the gateway checks it (it half-closes: sends its FIN) must not leave its
 *  claim behind. ws aborts such an upgrade without calling back; the claim then stayed `connected` and unclean, the
 *  charger's next connection had to scan ocpp.frames for its chain head, and under a burst of 1,000 chargers hundreds
 *  of such scans stalled new connections for minutes. */
import * as net from 'node:net';
import { Registry } from 'prom-client';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { quoteIdent } from '../../services/common/db';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, ocppClient, pgSchemaName, rawUpgradeRequest, waitFor } from './support';

const ctx = gatewayContext();
const schema = pgSchemaName('gw_abandon');
let gw: Gateway;

beforeAll(async () => {
  await ensureContractTopics(ctx.kafka);
  gw = await createGateway(ctx, { gatewayId: uniq('gw-abandon'), port: 0, settings: { dbSchema: schema }, consumeCommands: false, metrics: new Registry() });
});

afterAll(async () => {
  await gw?.stop();
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

/** Sends a valid OCPP upgrade request and half-closes at once, as a charger whose handshake timer fired does. */
const upgradeAndLeave = (url: string, cp: string, password: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const socket = net.connect(Number(port), hostname, () => {
      socket.end(rawUpgradeRequest(url, cp, password));
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.resume();
  });

test('a charger that half-closes during its handshake leaves no claim; its next connection needs no head scan', async () => {
  const cp = uniq('abandon');
  await configureFleet(ctx.kafka, ctx.serde, [{ id: cp, password: 'pw' }]);
  await upgradeAndLeave(gw.url, cp, 'pw');
  const row = async () => (await ctx.pool.query<{ connected: boolean; clean: boolean }>(`SELECT connected, clean FROM ${quoteIdent(schema)}.connections WHERE charge_point_id = $1`, [cp])).rows[0];
  await waitFor('the claim to be given back', async () => (await row())?.connected === false);
  expect(await row()).toEqual({ connected: false, clean: true });
  const abandoned = (await gw.metrics.getSingleMetric('ocpp_gateway_rejected_total')!.get()).values.find((v) => v.labels.reason === 'abandoned');
  expect(abandoned?.value).toBeGreaterThanOrEqual(1);

  const c = ocppClient({ endpoint: gw.url, identity: cp, password: 'pw', protocols: ['ocpp1.6'] });
  await c.connect();
  expect(await c.call('Heartbeat', {})).toHaveProperty('currentTime');
  await c.close();
  await waitFor('the charger to be released', () => gw.connectedCount() === 0);
  expect(await row()).toEqual({ connected: false, clean: true });
});
