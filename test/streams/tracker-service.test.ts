import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import { Consumer } from 'kafkajs';
import { catalog } from '../../schemas/catalog';
import { ChargingEvent, toAvro } from '../../schemas/events';
import { ConfigBody, configKey, configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { createContext } from '../../services/common/context';
import { HealthServer, serveHealth } from '../../services/common/health-server';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { RunningService, ServiceContext } from '../../services/common/service';
import { startBroker, stopBroker, BrokerOptions } from '../../infra/kafka/broker';
import { prepareKafka } from '../../infra/stack';
import { service as vehicleTracker } from '../../streams/vehicle-tracker/service';
import { freePort, testConfig, waitForValue } from '../support/stack';

/** The vehicle tracker as `voltstream service vehicle-tracker` runs it (services/cli/services.ts): the stack's topic
 *  setup creates its topics, both folds run supervised, /ready names them, and a session is matched through the real
 *  topics. A private broker, so that the service's default topics and groups disturb no other test. */
jest.setTimeout(180_000);

describe('the vehicle-tracker service', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-tracker-service-'));
  let broker: BrokerOptions;
  let ctx: ServiceContext;
  let running: RunningService | undefined;
  let health: HealthServer | undefined;
  let consumer: Consumer | undefined;
  let created: string[] = [];

  beforeAll(async () => {
    const [port, controllerPort, partnerPort] = await Promise.all([freePort(), freePort(), freePort()]);
    broker = { dir: path.join(dir, 'kafka'), port, controllerPort, partnerPort, heapMb: 384 };
    await startBroker(broker, () => undefined);
    const config = testConfig({ kafkaBrokers: [`127.0.0.1:${port}`], partitions: 2, logLevel: 'error' });
    created = (await prepareKafka(config)).createdTopics;
    ctx = createContext(config, 'tracker-service-test');
  });
  afterAll(async () => {
    await consumer?.disconnect().catch(() => undefined);
    await running?.stop().catch(() => undefined);
    await health?.close();
    await ctx?.pool.end().catch(() => undefined);
    await stopBroker(broker);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const send = async (topic: string, messages: { key: string; value: unknown }[]) => {
    const producer = createDurableProducer(ctx.kafka);
    await producer.connect();
    try {
      await producer.send({ topic, acks: DURABLE_ACKS, messages: await Promise.all(messages.map(async (m) => ({ key: m.key, value: await ctx.serde.encode(topic, m.value) }))) });
    } finally {
      await producer.disconnect();
    }
  };
  const configure = (body: ConfigBody) => send(Topics.fleetConfig, [{ key: configKey(body), value: configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'test', body }) }]);

  test('runs both folds supervised, reports them on /ready, and matches a session by id tag', async () => {
    expect(created).toEqual(expect.arrayContaining([Topics.vehicleTrackerBySite, 'vehicle-tracker.sites.changelog']));
    await configure({ type: 'SiteConfigured', siteId: 'DEPOT', name: 'Depot', gridLimitKw: 100, latitude: 52, longitude: 13, timezone: 'Europe/Berlin' } as ConfigBody);
    await configure({ type: 'ChargerConfigured', chargePointId: 'CP-1', siteId: 'DEPOT', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 } as ConfigBody);
    await configure({ type: 'VehicleConfigured', vehicleId: 'V1', batteryCapacityKwh: 60, maxAcPowerKw: 22, maxDcPowerKw: 50, consumptionKwhPerKm: 0.2, idTags: ['RFID-1'], telematicsProvider: null, providerVehicleId: null, siteId: 'DEPOT' } as ConfigBody);

    health = await serveHealth({ service: 'vehicle-tracker', health: ctx.health, metrics: ctx.metrics, port: 0 });
    running = await vehicleTracker.start(ctx);
    const ready = await waitForValue(
      '/ready 200',
      async () => {
        const res = await fetch(`${health!.url}/ready`);
        return res.status === 200 ? ((await res.json()) as unknown) : undefined;
      },
      120_000,
      500,
    );
    expect(ready).toBeDefined();
    const parts = ctx.health.report().parts;
    expect(parts['vehicle-tracker']?.status).toBe('running');
    expect(parts['vehicle-tracker-router']?.status).toBe('running');

    const started: ChargingEvent = { eventId: 'svc-test:1', chargePointId: 'CP-1', occurredAt: Date.now(), source: null, body: { type: 'SessionStarted', sessionId: 'CP-1:1', transactionId: '1', connectorId: 1, idTag: 'RFID-1', meterStartWh: 0 } };
    await send(Topics.chargingEvents, [{ key: 'CP-1', value: toAvro(started) }]);

    const seen: ChargingEvent[] = [];
    consumer = ctx.kafka.consumer({ groupId: `tracker-service-test-${randomUUID()}`, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic: Topics.chargingEvents, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const e = catalog.chargingEvents.decode(await ctx.serde.decode(message.value!));
        if (E.isRight(e)) seen.push(e.right);
      },
    });
    const matched = await waitForValue('a VehicleMatched', () => seen.find((e) => e.body.type === 'VehicleMatched'), 60_000);
    expect(matched).toMatchObject({ chargePointId: 'CP-1', body: { type: 'VehicleMatched', sessionId: 'CP-1:1', vehicleId: 'V1', method: 'idTag' } });
    const text = await (await fetch(`${health.url}/metrics`)).text();
    expect(text).toMatch(/voltstream_fold_state_keys\{processor="vehicle-tracker",store="sites",partition="\d"\} 1/);
  });
});
