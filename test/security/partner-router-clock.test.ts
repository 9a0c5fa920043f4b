import { randomUUID } from 'node:crypto';
import { createContext } from '../../services/common/context';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { ServiceContext } from '../../services/common/service';
import { ChargingEvent, toAvro } from '../../schemas/events';
import { configKey, ConfigEvent, configToAvro } from '../../schemas/fleet-config';
import { partnerTopic, Topics } from '../../schemas/topics';
import { RunningRouter, startPartnerRouter } from '../../streams/partner-router/router';
import { readTopicUntil, testConfig, uniq, waitForValue } from '../support/stack';

/** Issue 14 item 5, from outside: partner isolation must not depend on the charger's clock. A charger changes hands
 *  A → B; its clock is a year ahead before the change and a year behind (then in the year 9999) after it. Every event
 *  goes to the partner that owned the charger when the log received it (the record's timestamp), so events after the
 *  change go to B only. Before, the router decided at the event's occurredAt: A's event went to B, B's a year in the
 *  past to nobody, and one dated 9999 was refused by the broker (timestamp far in the future), holding the batch. */
jest.setTimeout(120_000);

const year = 365 * 24 * 3600 * 1000;
const A = uniq('clock-a');
const B = uniq('clock-b');
const cp = uniq('CP-CLOCK');
const t0 = Date.now() - 120_000;
const changedAt = t0 + 60_000;
let ctx: ServiceContext;
let router: RunningRouter;

const owned = (at: number, owner: string): ConfigEvent => ({
  eventId: randomUUID(),
  at,
  actor: 'test',
  body: { type: 'ChargerConfigured', chargePointId: cp, siteId: 'site-clock', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: owner, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 },
});

const status = (occurredAt: number, s: string): ChargingEvent => ({
  eventId: randomUUID(),
  chargePointId: cp,
  occurredAt,
  source: null,
  body: { type: 'ConnectorStatusChanged', connectorId: 1, status: s, errorCode: null, info: null },
});

/** Received before the change, by a clock a year ahead: A's. */
const beforeChange = status(t0 + 10_000 + year, 'Preparing');
/** Received after the change, by a clock a year behind, and one that says 9999: B's. */
const afterChange = [status(changedAt + 10_000 - year, 'Charging'), status(Date.UTC(9999, 0, 1), 'Finishing')];

beforeAll(async () => {
  ctx = createContext(testConfig({ logLevel: 'warn' }), uniq('router-clock'));
  const groupId = uniq('partner-router-clock');
  const admin = ctx.kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(Topics.chargingEvents);
  await admin.setOffsets({ groupId, topic: Topics.chargingEvents, partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })) });
  await admin.disconnect();

  // What the log received when: each record's timestamp is its receive time, as the normalizer's producer stamps it.
  const producer = createDurableProducer(ctx.kafka);
  await producer.connect();
  const config = async (e: ConfigEvent) =>
    producer.send({ topic: Topics.fleetConfig, acks: DURABLE_ACKS, messages: [{ key: configKey(e.body), value: await ctx.serde.encode(Topics.fleetConfig, configToAvro(e)), timestamp: String(e.at) }] });
  const received = async (e: ChargingEvent, at: number) =>
    producer.send({ topic: Topics.chargingEvents, acks: DURABLE_ACKS, messages: [{ key: cp, value: await ctx.serde.encode(Topics.chargingEvents, toAvro(e)), timestamp: String(at) }] });
  await config(owned(t0, A));
  await received(beforeChange, t0 + 10_000);
  await config(owned(changedAt, B));
  await received(afterChange[0]!, changedAt + 10_000);
  await received(afterChange[1]!, changedAt + 20_000);
  await producer.disconnect();

  router = await startPartnerRouter(ctx, { groupId, acceptCharger: (c) => c === cp });
});

afterAll(async () => {
  await router?.stop();
  const admin = ctx?.kafka.admin();
  if (admin) {
    await admin.connect();
    await admin.deleteTopics({ topics: [partnerTopic(A), partnerTopic(B)] }).catch(() => undefined);
    await admin.disconnect();
  }
  await ctx?.pool.end();
});

const eventIds = (records: { value: Record<string, unknown> }[]) => records.map((r) => r.value.eventId).sort();

test("events after the owner change go to B only, whatever the charger's clock says; the one before stays A's", async () => {
  // The router creates a partner's topic when it first routes an event there.
  const admin = ctx.kafka.admin();
  await admin.connect();
  await waitForValue('partner topic of B', async () => ((await admin.listTopics()).includes(partnerTopic(B)) ? true : undefined), 60_000);
  await admin.disconnect();
  const b = await readTopicUntil<Record<string, unknown>>(partnerTopic(B), (r) => r.length >= afterChange.length, { timeoutMs: 60_000, filter: (r) => r.key === cp });
  expect(eventIds(b)).toEqual(afterChange.map((e) => e.eventId).sort());
  // The charger's events are one partition in order: once B has the later two, A's topic holds all it will get.
  const a = await readTopicUntil<Record<string, unknown>>(partnerTopic(A), (r) => r.length >= 1, { timeoutMs: 30_000, filter: (r) => r.key === cp });
  expect(eventIds(a)).toEqual([beforeChange.eventId]);
  // The partner's record keeps the charger's time in its value; its Kafka timestamp is the receive time.
  expect(b.map((r) => Number(r.value.occurredAt)).sort((x, y) => x - y)).toEqual(afterChange.map((e) => e.occurredAt).sort((x, y) => x - y));
});
