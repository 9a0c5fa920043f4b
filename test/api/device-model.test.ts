/** What each charger can do, end to end: a gateway set to read the device model at boot sends GetConfiguration (1.6)
 *  or GetBaseReport (2.0.1) to chargers driven by the third-party ocpp-rpc client in strict mode; the 2.0.1 charger
 *  answers with NotifyReport. The frames the gateway wrote to ocpp.frames are read back and folded by the normalizer's
 *  decide (the normalizer process reads all of ocpp.frames, which other tests share) into DeviceModelReported; those
 *  events go to this test's charging.events topic, where the projections and the API read them, and into the
 *  optimizer's fold, whose profiles for a charger reporting one period and watts only respect both. */
import { randomUUID } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { catalog } from '../../schemas/catalog';
import { ChargingEvent, toAvro } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { evolve as evolveCharger, initialCharger, decide, publishedEvents } from '../../streams/normalizer/decide';
import { OcppFrame } from '../../streams/normalizer/frame';
import { defaultOptimizerConfig } from '../../services/optimizer/config';
import { txProfileCommands } from '../../services/optimizer/profiles';
import { snapshotOf } from '../../services/optimizer/site-snapshot';
import { evolve, initial, Input } from '../../services/optimizer/state';
import { uniq, waitForValue } from '../support/stack';
import { Json, OcppClient, readFrom, topicEnds } from '../gateway/support';
import { produce, testSerde } from '../streams/support';
import { CommandBed, startCommandBed } from './command-bed';
import { startTestApi, TestApi } from './harness';

jest.setTimeout(180_000);

const prefix = uniq('dm');
const v16 = { id: `${prefix}-16`, protocol: 'ocpp1.6' } as const;
const v201 = { id: `${prefix}-201`, protocol: 'ocpp2.0.1' } as const;
const serde = testSerde();
let bed: CommandBed;
let api: TestApi;
let key: string;
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
  const c: OcppClient = await bed.connect(ch.id, ch.protocol, {
    GetConfiguration: () => configuration16,
    GetBaseReport: (params) => {
      // The report follows the answer, as NotifyReport CALLs.
      setTimeout(() => void c.call('NotifyReport', report201(params.requestId)).catch(() => undefined), 50);
      return { status: 'Accepted' };
    },
  });
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
  const records = await readFrom(bed.kafka, Topics.ocppFrames, from, (k) => k === id, (rs) => fold(rs).length >= want, 60_000);
  return fold(records);
};

beforeAll(async () => {
  bed = await startCommandBed({ name: 'api-dm', prefix, chargerIds: [v16.id, v201.id], gatewaySettings: { readDeviceModelOnBoot: true } });
  api = await startTestApi({ projectionSchema: bed.db.schema });
  key = await api.issueKey(['commands:write', 'history:read']);
});

afterAll(async () => {
  await api?.stop();
  await bed?.stop();
});

describe.each([v16, v201])('a $protocol charger', (ch) => {
  test('is asked for its configuration at boot; what it reports becomes its device model, and its profiles respect one period and watts', async () => {
    const from = await topicEnds(bed.kafka, Topics.ocppFrames);
    const c = await connect(ch);
    const [action, payload] = boot(ch.protocol) as [string, Json];
    expect((await c.call(action, payload)).status).toBe('Accepted');
    const events = await deviceModelEvents(ch.id, from, 1);
    expect(bed.received[ch.id]!.map((x) => x.action)).toEqual([ch.protocol === 'ocpp1.6' ? 'GetConfiguration' : 'GetBaseReport']);
    reported[ch.id] = events;
    await produce(bed.kafka, serde, bed.topics.events, Topics.chargingEvents, [
      { key: ch.id, value: toAvro({ eventId: randomUUID(), chargePointId: ch.id, occurredAt: Date.now(), source: null, body: { type: 'ChargerConnected', protocol: ch.protocol, gatewayId: bed.gateway.gatewayId } }) },
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
    const before = bed.received[ch.id]!.length;
    const r = await api.call('POST', `/api/v1/chargers/${ch.id}/device-model/refresh`, { key });
    expect(r.status).toBe(202);
    const outcome = await api.call('GET', `/api/v1/commands/${r.json.commandId}?wait=30`, { key });
    expect(outcome.json.status).toBe('accepted');
    expect(bed.received[ch.id]!.slice(before).map((x) => x.action)).toEqual([ch.protocol === 'ocpp1.6' ? 'GetConfiguration' : 'GetBaseReport']);
  });
});

test('/openapi.json lists the device model routes', async () => {
  const doc = (await api.call('GET', '/openapi.json', { key: null })).json;
  expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/chargers/{chargePointId}/device-model', '/api/v1/chargers/{chargePointId}/device-model/refresh', '/api/v1/chargers/{chargePointId}/device-model/history']));
});
