/** The instance lease renews on a connection of its own. It used to share the gateway's pool: under a burst of 1,000
 *  handshakes (64 claims at once in a pool of 4) its renewals waited behind the claims, came later than 80 % of the
 *  lease, and the instance refused every frame of every charger until the burst was over. Here every pooled
 *  connection is held for twice the lease while a charger keeps calling: each call is answered. */
import { Registry } from 'prom-client';
import { createGateway } from '../../services/ocpp-gateway/gateway';
import { createPool } from '../../services/common/db';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, ocppClient, pgSchemaName } from './support';

const probe = gatewayContext();
const schema = pgSchemaName('gw_lease_pool');

afterAll(async () => {
  await dropSchema(probe.pool, schema);
  await probe.pool.end();
});

test('a charger is answered while every connection of the gateway pool is busy for longer than the lease', async () => {
  await ensureContractTopics(probe.kafka);
  const cp = uniq('lease-pool');
  await configureFleet(probe.kafka, probe.serde, [{ id: cp, password: 'pw' }]);
  const busyPool = createPool({ url: probe.config.databaseUrl!, embedded: false, max: 2 });
  const gw = await createGateway(gatewayContext({}, busyPool), { gatewayId: uniq('gw-lease-pool'), port: 0, settings: { dbSchema: schema }, consumeCommands: false, metrics: new Registry(), leaseTtlMs: 2000 });
  try {
    const charger = ocppClient({ endpoint: gw.url, identity: cp, password: 'pw', protocols: ['ocpp1.6'] });
    await charger.connect();
    await charger.call('Heartbeat', {});
    // Both connections of the gateway's pool sleep 4 s, twice the lease.
    const held = Promise.all([busyPool.query('SELECT pg_sleep(4)'), busyPool.query('SELECT pg_sleep(4)')]);
    const outcomes: string[] = [];
    const until = Date.now() + 3500;
    while (Date.now() < until) {
      outcomes.push(await charger.call('Heartbeat', {}, { callTimeoutMs: 3000 }).then(
        () => 'answered',
        (e: Error) => `refused: ${e.message}`,
      ));
      await new Promise((r) => setTimeout(r, 100));
    }
    await held;
    expect(outcomes.length).toBeGreaterThan(10);
    expect(outcomes.filter((o) => o !== 'answered')).toEqual([]);
    await charger.close();
  } finally {
    await gw.stop();
    await busyPool.end();
  }
});
