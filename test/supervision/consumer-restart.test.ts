import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createContext } from '../../services/common/context';
import { serveHealth, HealthServer } from '../../services/common/health-server';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { ServiceContext, RunningService } from '../../services/common/service';
import { ConfigBody, configKey, configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { prepareKafka } from '../../infra/stack';
import { startBroker, stopBroker, BrokerOptions } from '../../infra/kafka/broker';
import { service as projections } from '../../streams/projections/service';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { Registry } from 'prom-client';
import { configureFleet, ocppClient } from '../gateway/support';
import { freePort, testConfig, uniq, waitForValue } from '../support/stack';

/** A consumer inside a running service dies (its broker goes away long enough for kafkajs to give up): while it is
 *  down the process's /ready is 503 and names it; once the broker is back the supervisor has it running again, and
 *  what is written then is applied. The same for the gateway's ocpp.commands consumer; its fleet.config table runs
 *  again too, and a charger configured after the outage gets in. A private broker, so that stopping it disturbs no
 *  other test. */
jest.setTimeout(300000);

describe('a supervised consumer', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-supervision-'));
  let broker: BrokerOptions;
  let ctx: ServiceContext;
  let running: RunningService | undefined;
  let health: HealthServer | undefined;
  let gateway: Gateway | undefined;
  const schema = uniq('sup').replace(/-/g, '_');

  beforeAll(async () => {
    const [port, controllerPort, partnerPort] = await Promise.all([freePort(), freePort(), freePort()]);
    broker = { dir: path.join(dir, 'kafka'), port, controllerPort, partnerPort, heapMb: 384 };
    await startBroker(broker, () => undefined);
    const config = testConfig({ kafkaBrokers: [`127.0.0.1:${port}`], partitions: 2, logLevel: 'error' });
    await prepareKafka(config);
    process.env.PROJECTIONS_SCHEMA = schema;
    ctx = createContext(config, 'supervision-test');
  });
  afterAll(async () => {
    await running?.stop().catch(() => undefined);
    await gateway?.stop().catch(() => undefined);
    await ctx.pool.query(`DROP SCHEMA IF EXISTS ${schema}_gw CASCADE`).catch(() => undefined);
    await health?.close();
    await ctx.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await ctx.pool.end();
    await stopBroker(broker);
    delete process.env.PROJECTIONS_SCHEMA;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const configure = async (siteId: string) => {
    const producer = createDurableProducer(ctx.kafka);
    await producer.connect();
    const body: ConfigBody = { type: 'SiteConfigured', siteId, name: siteId, gridLimitKw: 100, latitude: 52, longitude: 4, timezone: 'Europe/Amsterdam' };
    await producer.send({ topic: Topics.fleetConfig, acks: DURABLE_ACKS, messages: [{ key: configKey(body), value: await ctx.serde.encode(Topics.fleetConfig, configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'test', body })) }] });
    await producer.disconnect();
  };
  const siteApplied = (siteId: string) => ctx.pool.query(`SELECT 1 FROM ${schema}.fleet_sites WHERE site_id = $1`, [siteId]).then((r) => r.rowCount === 1, () => false);
  const ready = async () => {
    const res = await fetch(`${health!.url}/ready`);
    return { status: res.status, body: (await res.json()) as { notReady?: string[] } };
  };

  test('is reported down by name while its broker is gone, and runs and applies again once it is back', async () => {
    await configure('before');
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
    await configure('after');
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
