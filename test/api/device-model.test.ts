/** What each charger can do, end to end: a gateway set to read the device model at boot sends GetConfiguration (1.6)
 *  or GetBaseReport (2.0.1) to chargers driven by the third-party ocpp-rpc client in strict mode; the 2.0.1 charger
 *  answers with NotifyReport. The frames the gateway wrote to ocpp.frames are read back and folded by the normalizer's
 *  decide (the normalizer process reads all of ocpp.frames, which other tests share) into DeviceModelReported; those
 *  events go to this test's charging.events topic, where the projections and the API read them, and into the
 *  optimizer's fold, whose profiles for a charger reporting one period and watts only respect both. */
import { randomUUID } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { catalog } from '../../schemas/catalog';
import { ChargingEvent, toAvro } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { evolve as evolveCharger, initialCharger, decide, publishedEvents } from '../../streams/normalizer/decide';
import { OcppFrame } from '../../streams/normalizer/frame';
import { RunningProjections, startProjections } from '../../streams/projections/run';
import { defaultOptimizerConfig } from '../../services/optimizer/config';
import { txProfileCommands } from '../../services/optimizer/profiles';
import { snapshotOf } from '../../services/optimizer/site-snapshot';
import { evolve, initial, Input } from '../../services/optimizer/state';
import { freshPgSchema, uniq, waitForValue } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, Json, ocppClient, OcppClient, pgSchemaName, readFrom, topicEnds } from '../gateway/support';
import { createTestTopics, deleteTestTopics, produce, quietLog, testKafka, testSerde, TestTopics } from '../streams/support';
import { startTestApi, TestApi } from './harness';

jest.setTimeout(180_000);

const ctx = gatewayContext();
const gwSchema = pgSchemaName('gw_dm');
const prefix = uniq('dm');
const v16 = { id: `${prefix}-16`, protocol: 'ocpp1.6' } as const;
const v201 = { id: `${prefix}-201`, protocol: 'ocpp2.0.1' } as const;
const serde = testSerde();
let kafka: Kafka;
let topics: TestTopics;
let db: Awaited<ReturnType<typeof freshPgSchema>>;
let projections: RunningProjections;
let gateway: Gateway;
let api: TestApi;
let key: string;
const clients: OcppClient[] = [];
const received: Record<string, { action: string; params: Json }[]> = {};
const reported: Record<string, ChargingEvent[]> = {};

const boot = (protocol: string) =>
  protocol === 'ocpp1.6'
    ? ['BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'AC22', firmwareVersion: '4.2' }]
    : ['BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Acme', model: 'AC22', firmwareVersion: '4.2' } }];

const configuration16 = {
  configurationKey: [
    { key: 'ChargingScheduleMaxPeriods', readonly: true, value: '1' },
    { key: 'ChargingScheduleAllowedChargingRateUnit', readonly: true, value: 'Power' },
    { key: 'MaxChargingProfilesInstalled', readonly: true, value: '4' },
    { key: 'ChargeProfileMaxStackLevel', readonly: true, value: '3' },
    { key: 'NumberOfConnectors', readonly: true, value: '2' },
  ],
};
const report201 = (requestId: number) => ({
  requestId, generatedAt: new Date().toISOString(), seqNo: 0, tbc: false,
  reportData: [
    { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'PeriodsPerSchedule' }, variableAttribute: [{ type: 'Actual', value: '1', mutability: 'ReadOnly' }] },
    { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'RateUnit' }, variableAttribute: [{ type: 'Actual', value: 'W', mutability: 'ReadOnly' }] },
    { component: { name: 'SmartChargingCtrlr' }, variable: { name: 'ProfileStackLevel' }, variableAttribute: [{ type: 'Actual', value: '3', mutability: 'ReadOnly' }] },
    { component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'SupplyPhases' }, variableAttribute: [{ type: 'Actual', value: '3', mutability: 'ReadOnly' }] },
    { component: { name: 'Connector', evse: { id: 1, connectorId: 1 } }, variable: { name: 'ConnectorType' }, variableAttribute: [{ type: 'Actual', value: 'cType2', mutability: 'ReadOnly' }] },
  ],
});

const connect = async (ch: typeof v16 | typeof v201) => {
  const c = ocppClient({ endpoint: gateway.url, identity: ch.id, password: `pw-${ch.id}`, protocols: [ch.protocol] });
  const log = (received[ch.id] = [] as { action: string; params: Json }[]);
  c.handle('GetConfiguration', ({ params }) => {
    log.push({ action: 'GetConfiguration', params });
    return configuration16;
  });
  c.handle('GetBaseReport', ({ params }) => {
    log.push({ action: 'GetBaseReport', params });
    // The report follows the answer, as NotifyReport CALLs.
    setTimeout(() => void c.call('NotifyReport', report201(params.requestId)).catch(() => undefined), 50);
    return { status: 'Accepted' };
  });
  clients.push(c);
  await c.connect();
  return c;
};

/** The charger's frames on ocpp.frames, folded by the normalizer's decide, until `want` DeviceModelReported came out. */
const deviceModelEvents = async (id: string, from: Map<number, number>, want: number): Promise<ChargingEvent[]> => {
  const fold = (records: Record<string, unknown>[]) => {
    let state = initialCharger;
    const events: ChargingEvent[] = [];
    records.forEach((r, i) => {
      const f = catalog.ocppFrames.decode(r);
      if (E.isLeft(f)) throw new Error(f.left);
      const facts = decide(state, f.right as OcppFrame, { topic: Topics.ocppFrames, partition: 0, offset: i });
      state = facts.reduce(evolveCharger, state);
      events.push(...publishedEvents(facts));
    });
    return events.filter((e) => e.body.type === 'DeviceModelReported');
  };
  const records = await readFrom(kafka, Topics.ocppFrames, from, (k) => k === id, (rs) => fold(rs).length >= want, 60_000);
  return fold(records);
};

beforeAll(async () => {
  kafka = testKafka('api-device-model');
  await ensureContractTopics(ctx.kafka);
  topics = await createTestTopics(kafka);
  db = await freshPgSchema('api_dm_proj');
  await configureFleet(ctx.kafka, ctx.serde, [v16, v201].map((c) => ({ id: c.id, password: `pw-${c.id}` })));
  gateway = await createGateway(ctx, {
    port: 0,
    gatewayId: uniq('gw-dm'),
    metrics: new Registry(),
    settings: { dbSchema: gwSchema, callTimeoutMs: 5000, internalToken: uniq('token'), readDeviceModelOnBoot: true },
    commandsGroupId: uniq('gw-dm'),
    acceptsCommandsFor: (id) => id.startsWith(prefix),
  });
  projections = await startProjections({
    kafka, serde, pool: db.pool, log: quietLog, schema: db.schema, groupId: uniq('dm-proj'),
    topics: { events: topics.events, readings: topics.readings, config: Topics.fleetConfig, commands: Topics.ocppCommands, commandResults: Topics.ocppCommandResults },
  });
  api = await startTestApi({ projectionSchema: db.schema });
  key = await api.issueKey(['commands:write', 'history:read']);
});

afterAll(async () => {
  for (const c of clients) await c.close({ force: true }).catch(() => undefined);
  await api?.stop();
  await gateway?.stop();
  await projections?.stop();
  await db?.drop();
  await deleteTestTopics(kafka, topics);
  await dropSchema(ctx.pool, gwSchema);
  await ctx.pool.end();
});

describe.each([v16, v201])('a $protocol charger', (ch) => {
  test('is asked for its configuration at boot; what it reports becomes its device model, and its profiles respect one period and watts', async () => {
    const from = await topicEnds(kafka, Topics.ocppFrames);
    const c = await connect(ch);
    const [action, payload] = boot(ch.protocol) as [string, Json];
    expect((await c.call(action, payload)).status).toBe('Accepted');
    const events = await deviceModelEvents(ch.id, from, 1);
    expect(received[ch.id]!.map((x) => x.action)).toEqual([ch.protocol === 'ocpp1.6' ? 'GetConfiguration' : 'GetBaseReport']);
    reported[ch.id] = events;
    await produce(kafka, serde, topics.events, Topics.chargingEvents, [
      { key: ch.id, value: toAvro({ eventId: randomUUID(), chargePointId: ch.id, occurredAt: Date.now(), source: null, body: { type: 'ChargerConnected', protocol: ch.protocol, gatewayId: gateway.gatewayId } }) },
      ...events.map((e) => ({ key: ch.id, value: toAvro({ ...e, eventId: randomUUID() }) })),
    ]);
    const model = await waitForValue(
      'the device model',
      async () => {
        const r = await api.call('GET', `/api/v1/chargers/${ch.id}/device-model`, { key });
        return r.status === 200 ? r.json : undefined;
      },
      60_000,
      100,
    );
    expect(model).toMatchObject({ chargePointId: ch.id, protocol: ch.protocol, rateUnit: 'W', maxSchedulePeriods: 1, maxStackLevel: 3 });
    if (ch.protocol === 'ocpp1.6') expect(model).toMatchObject({ maxProfiles: 4, connectors: 2 });
    else expect(model).toMatchObject({ phases: 3, connectors: 1, connectorTypes: ['cType2'] });
    const history = await api.call('GET', `/api/v1/chargers/${ch.id}/device-model/history`, { key });
    expect(history.json.items.map((i: Json) => i.key)).toEqual(expect.arrayContaining([ch.protocol === 'ocpp1.6' ? 'ChargingScheduleMaxPeriods' : 'SmartChargingCtrlr/PeriodsPerSchedule']));

    // The optimizer's fold of the same events: configured as amps with 24 periods, it plans in W with one period.
    const input = (body: Json): Input => ({ kind: 'config', event: { eventId: randomUUID(), at: Date.now(), actor: 't', body } });
    const now = Date.now();
    const s = [
      input({ type: 'SiteConfigured', siteId: 'S', name: 's', gridLimitKw: 50, latitude: 0, longitude: 0, timezone: 'Europe/Berlin' }),
      input({ type: 'ChargerConfigured', chargePointId: ch.id, siteId: 'S', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 }),
      { kind: 'event', event: { eventId: 'c', chargePointId: ch.id, occurredAt: now, source: null, body: { type: 'ChargerConnected', protocol: ch.protocol, gatewayId: 'g' } } } as Input,
      { kind: 'event', event: { eventId: 's', chargePointId: ch.id, occurredAt: now, source: null, body: { type: 'SessionStarted', sessionId: 'S1', transactionId: '7', connectorId: 1, idTag: null, meterStartWh: 0 } } } as Input,
      ...events.map((event): Input => ({ kind: 'event', event })),
    ].reduce(evolve, initial);
    const snap = snapshotOf(s, 'S', now + 1000, defaultOptimizerConfig)!;
    const v = snap.vehicles[0]!;
    const powerKw = [11, 7, 11, 7];
    const [cmd] = txProfileCommands(snap, { siteId: 'S', horizonStart: snap.now, slotMinutes: 15, status: 'Optimal', objective: 0, solveMs: 0, gridLimitKw: 50, siteKw: powerKw, energyCost: 0, peakKw: 11, vehicles: [{ vehicleId: v.vehicleId, known: false, chargePointId: ch.id, connectorId: 1, transactionId: '7', arrivalAt: null, powerKw, targetKwh: 10, plannedKwh: 10, shortfallKwh: 0, departAt: v.departAt, priority: 1 }] }, 'plan');
    const p = cmd!.payload as Json;
    const schedule = ch.protocol === 'ocpp1.6' ? p.csChargingProfiles.chargingSchedule : p.chargingProfile.chargingSchedule[0];
    expect([schedule.chargingRateUnit, schedule.chargingSchedulePeriod.length]).toEqual(['W', 1]);
  });

  test('is read again on demand (POST .../device-model/refresh)', async () => {
    const before = received[ch.id]!.length;
    const r = await api.call('POST', `/api/v1/chargers/${ch.id}/device-model/refresh`, { key });
    expect(r.status).toBe(202);
    const outcome = await api.call('GET', `/api/v1/commands/${r.json.commandId}?wait=30`, { key });
    expect(outcome.json.status).toBe('accepted');
    expect(received[ch.id]!.slice(before).map((x) => x.action)).toEqual([ch.protocol === 'ocpp1.6' ? 'GetConfiguration' : 'GetBaseReport']);
  });
});

test('/openapi.json lists the device model routes', async () => {
  const doc = (await api.call('GET', '/openapi.json', { key: null })).json;
  expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/chargers/{chargePointId}/device-model', '/api/v1/chargers/{chargePointId}/device-model/refresh', '/api/v1/chargers/{chargePointId}/device-model/history']));
});
