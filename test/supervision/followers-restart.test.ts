import { randomUUID } from 'node:crypto';
import { Kafka } from 'kafkajs';
import { startBroker, stopBroker, BrokerOptions } from '../../infra/kafka/broker';
import { configure, PrivateBroker, startPrivateBroker } from './support';
import { serveHealth, HealthServer } from '../../services/common/health-server';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { RunningService, ServiceContext } from '../../services/common/service';
import { DashboardFeed, startDashboardFeed } from '../../services/dashboard/feed';
import { followVehicleRegistry, VehicleRegistry } from '../../services/telematics-ingest/vehicle-registry';
import { ChargingEvent, toAvro } from '../../schemas/events';
import { ConfigBody } from '../../schemas/fleet-config';
import { TopicSerde } from '../../schemas/registry';
import { partnerTopic, Topics } from '../../schemas/topics';
import { service as partnerRouter } from '../../streams/partner-router/service';
import { uniq, waitForValue } from '../support/stack';

/** The components moved onto the fold runtime, in one process: the dashboard feed (a follower of five topics), the
 *  telematics vehicle registry (a global table of fleet.config) and the partner router (a global table and a
 *  stateless fold). Their consumers die (their broker goes away): while they are down the process's /ready is 503 and
 *  names each of them; once the broker is back the supervisor has each running again, and what is written then reaches
 *  each one (a site on the dashboard, a vehicle in the registry, an event in its partner's topic). A private broker, so
 *  that stopping it disturbs no other test. */
jest.setTimeout(300000);

const parts = ['dashboard-feed', 'vehicle-registry', 'partner-router'];

const readsEvent = async (kafka: Kafka, serde: TopicSerde, topic: string, eventId: string, timeoutMs: number): Promise<boolean> => {
  const consumer = kafka.consumer({ groupId: uniq('sup-reader'), maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            const v = message.value ? await serde.decode(message.value) : undefined;
            if (typeof v === 'object' && v !== null && 'eventId' in v && v.eventId === eventId) {
              clearTimeout(timer);
              resolve(true);
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
};

describe('the followers on the fold runtime, supervised', () => {
  let own: PrivateBroker;
  let broker: BrokerOptions;
  let ctx: ServiceContext;
  let health: HealthServer | undefined;
  let feed: DashboardFeed | undefined;
  let registry: VehicleRegistry | undefined;
  let router: RunningService | undefined;
  const partner = uniq('sup-partner').replace(/-/g, '_');

  beforeAll(async () => {
    own = await startPrivateBroker('followers');
    ({ broker, ctx } = own);
  });
  afterAll(async () => {
    await router?.stop().catch(() => undefined);
    await registry?.stop().catch(() => undefined);
    await feed?.stop().catch(() => undefined);
    await health?.close();
    await ctx.pool.end();
    await own.remove();
  });


  const site = (siteId: string): ConfigBody => ({ type: 'SiteConfigured', siteId, name: siteId, gridLimitKw: 100, latitude: 52, longitude: 4, timezone: 'Europe/Amsterdam' });
  const vehicle = (vehicleId: string): ConfigBody => ({ type: 'VehicleConfigured', vehicleId, batteryCapacityKwh: 60, maxAcPowerKw: 11, maxDcPowerKw: 50, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: 'acme', providerVehicleId: `p-${vehicleId}`, siteId: null });
  const charger = (chargePointId: string): ConfigBody => ({ type: 'ChargerConfigured', chargePointId, siteId: 's', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: partner, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 });
  const event = async (chargePointId: string): Promise<string> => {
    const e: ChargingEvent = { eventId: randomUUID(), chargePointId, occurredAt: Date.now(), source: null, body: { type: 'HeartbeatReceived' } };
    const producer = createDurableProducer(ctx.kafka);
    await producer.connect();
    await producer.send({ topic: Topics.chargingEvents, acks: DURABLE_ACKS, messages: [{ key: chargePointId, value: await ctx.serde.encode(Topics.chargingEvents, toAvro(e)) }] });
    await producer.disconnect();
    return e.eventId;
  };
  const ready = async () => {
    const res = await fetch(`${health!.url}/ready`);
    return { status: res.status, body: (await res.json()) as { notReady?: string[] } };
  };
  const reachesAll = async (tag: string) => {
    await configure(ctx, site(`site-${tag}`));
    await configure(ctx, vehicle(`v-${tag}`));
    await configure(ctx, charger(`cp-${tag}`));
    const eventId = await event(`cp-${tag}`);
    await waitForValue(`the dashboard shows site-${tag}`, () => (feed!.state.sites.has(`site-${tag}`) ? true : undefined), 60000);
    await waitForValue(`the registry knows v-${tag}`, async () => ((await registry!.catchUp(2000)) && registry!.lookup('acme', `p-v-${tag}`)?.vehicleId === `v-${tag}` ? true : undefined), 60000);
    // The partner topic exists once the router has routed the partner's first event.
    await waitForValue(`the event of cp-${tag} in the partner's topic`, async () => ((await readsEvent(ctx.kafka, ctx.serde, partnerTopic(partner), eventId, 5000).catch(() => false)) ? true : undefined), 60000, 500);
  };

  test('each is named by /ready while its consumer is down, runs again once the broker is back, and applies what follows', async () => {
    health = await serveHealth({ service: 'followers', health: ctx.health, metrics: ctx.metrics, port: 0 });
    feed = await startDashboardFeed(ctx);
    registry = await followVehicleRegistry(ctx);
    router = await partnerRouter.start(ctx);
    await waitForValue('/ready 200', async () => ((await ready()).status === 200 ? true : undefined), 60000);
    expect(Object.keys(ctx.health.report().parts)).toEqual(expect.arrayContaining(parts));
    await reachesAll('before');

    await stopBroker(broker);
    let last: unknown;
    const down = await waitForValue('/ready 503 naming each of them down', async () => {
      const r = await ready();
      last = r.body;
      return r.status === 503 && parts.every((p) => r.body.notReady?.some((n) => n.startsWith(`${p}: down`))) ? r.body : undefined;
    }, 90000, 500).catch((e: Error) => {
      throw new Error(`${e.message}; last /ready: ${JSON.stringify(last)}`);
    });
    for (const p of parts) expect(down.notReady!.join(' ')).toMatch(new RegExp(`${p}: down \\(.+\\)`));
    expect((await fetch(`${health.url}/health`)).status).toBe(503);

    await startBroker(broker, () => undefined);
    await waitForValue('/ready 200 again', async () => ((await ready()).status === 200 ? true : undefined), 150000, 500).catch((e: Error) => {
      throw new Error(`${e.message}; last: ${JSON.stringify(ctx.health.report().notReady)}`);
    });
    const report = ctx.health.report();
    for (const p of parts) expect(report.parts[p]?.status).toBe('running');
    await reachesAll('after');
  });
});
