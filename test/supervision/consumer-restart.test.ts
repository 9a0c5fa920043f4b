import { serveHealth, HealthServer } from '../../services/common/health-server';
import { ServiceContext, RunningService } from '../../services/common/service';
import { startBroker, stopBroker, BrokerOptions } from '../../infra/kafka/broker';
import { configure, PrivateBroker, startPrivateBroker } from './support';
import { service as projections } from '../../streams/projections/service';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { Registry } from 'prom-client';
import { configureFleet, ocppClient } from '../gateway/support';
import { uniq, waitForValue } from '../support/stack';

/** A consumer inside a running service dies (its broker goes away long enough for kafkajs to give up): while it is
 *  down the process's /ready is 503 and names it; once the broker is back the supervisor has it running again, and
 *  what is written then is applied. The same for the gateway's ocpp.commands consumer; its fleet.config table runs
 *  again too, and a charger configured after the outage gets in. A private broker, so that stopping it disturbs no
 *  other test. */
jest.setTimeout(300000);

describe('a supervised consumer', () => {
  let own: PrivateBroker;
  let broker: BrokerOptions;
  let ctx: ServiceContext;
  let running: RunningService | undefined;
  let health: HealthServer | undefined;
  let gateway: Gateway | undefined;
  const schema = uniq('sup').replace(/-/g, '_');

  beforeAll(async () => {
    own = await startPrivateBroker('supervision');
    ({ broker, ctx } = own);
    process.env.PROJECTIONS_SCHEMA = schema;
  });
  afterAll(async () => {
    await running?.stop().catch(() => undefined);
    await gateway?.stop().catch(() => undefined);
    await ctx.pool.query(`DROP SCHEMA IF EXISTS ${schema}_gw CASCADE`).catch(() => undefined);
    await health?.close();
    await ctx.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await ctx.pool.end();
    await own.remove();
    delete process.env.PROJECTIONS_SCHEMA;
  });

  const configureSite = (siteId: string) =>
    configure(ctx, { type: 'SiteConfigured', siteId, name: siteId, gridLimitKw: 100, latitude: 52, longitude: 4, timezone: 'Europe/Amsterdam' });

  const siteApplied = (siteId: string) => ctx.pool.query(`SELECT 1 FROM ${schema}.fleet_sites WHERE site_id = $1`, [siteId]).then((r) => r.rowCount === 1, () => false);
  const ready = async () => {
    const res = await fetch(`${health!.url}/ready`);
    return { status: res.status, body: (await res.json()) as { notReady?: string[] } };
  };

  test('is reported down by name while its broker is gone, and runs and applies again once it is back', async () => {
    await configureSite('before');
    health = await serveHealth({ service: 'projections', health: ctx.health, metrics: ctx.metrics, port: 0 });
    running = await projections.start(ctx);
    gateway = await createGateway(ctx, { gatewayId: uniq('gw-sup'), port: 0, settings: { dbSchema: `${schema}_gw` }, metrics: new Registry(), commandsGroupId: uniq('gw-sup-commands') });
    await waitForValue('the site applied', async () => ((await siteApplied('before')) ? true : undefined), 60000);
    await waitForValue('/ready 200', async () => ((await ready()).status === 200 ? true : undefined), 30000);

    await stopBroker(broker);
    let last: unknown;
    const down = await waitForValue('/ready 503 naming the projections and the gateway\'s consumers', async () => {
      const r = await ready();
      last = r.body;
      // fleet-config is a global table that serves what it has read while Kafka is away: down only if its consumer dies.
      const parts = ['projections', 'ocpp-commands'];
      return r.status === 503 && parts.every((p) => r.body.notReady?.some((n) => n.startsWith(`${p}: down`))) ? r.body : undefined;
    }, 90000, 500).catch((e: Error) => {
      throw new Error(`${e.message}; last /ready: ${JSON.stringify(last)}`);
    });
    expect(down.notReady!.join(' ')).toMatch(/projections: down \(.+\)/);
    expect(down.notReady!.join(' ')).toMatch(/ocpp-commands: down \(.+\)/);
    expect((await fetch(`${health.url}/health`)).status).toBe(503);

    await startBroker(broker, () => undefined);
    await waitForValue('/ready 200 again', async () => ((await ready()).status === 200 ? true : undefined), 120000, 500);
    await configureSite('after');
    await waitForValue('the site written after the outage applied', async () => ((await siteApplied('after')) ? true : undefined), 60000);
    const report = ctx.health.report();
    expect(report.parts.projections?.status).toBe('running');
    expect(report.parts['ocpp-commands']?.status).toBe('running');
    expect(report.parts['fleet-config']?.status).toBe('running');
    const cp = uniq('sup-cp');
    await configureFleet(ctx.kafka, ctx.serde, [{ id: cp, password: 'pw' }]);
    const charger = ocppClient({ endpoint: gateway!.url, identity: cp, password: 'pw', protocols: ['ocpp1.6'] });
    await charger.connect();
    expect(await charger.call('Heartbeat', {})).toHaveProperty('currentTime');
    await charger.close();
  });
});
