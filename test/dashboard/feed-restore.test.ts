import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { catalog, renamed } from '../../schemas/catalog';
import { ChargingEvent, EventBody, toAvro } from '../../schemas/events';
import { ConfigBody, configKey, configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { createContext } from '../../services/common/context';
import { ServiceContext } from '../../services/common/service';
import { DashboardFeed, feedInputs, startDashboardFeed } from '../../services/dashboard/feed';
import { framesPerPartition } from '../../services/dashboard/frames-tail';
import { snapshot } from '../../services/dashboard/model';
import { RunningProjections, startProjections } from '../../streams/projections/run';
import { endOffsets } from '../../streams/sink/pg-sink';
import { freshPgSchema, testConfig, uniq, waitForValue } from '../support/stack';
import { deleteTestTopics, produce, quietLog, TestTopics } from '../streams/support';

/** The dashboard feed restores from the projections, not from the log: on topics holding a long history and
 *  projections of it (real Kafka, real PostgreSQL), it is ready after reading the seed and the few records the
 *  projections had not applied, where the look-back reads the whole history; and what it then shows equals what the
 *  look-back folded, also when the seed is taken while events keep coming (none lost or doubled between seed and
 *  follow: the vehicles' measured power lists one point per sample). */
jest.setTimeout(300000);

const CHARGERS = 20;
const MATCHED = 5;
const SAMPLES = 400;
const SITE = 'S-restore';

let ctx: ServiceContext;
let topics: TestTopics & { plans: string };
let db: Awaited<ReturnType<typeof freshPgSchema>>;
let projections: RunningProjections | undefined;
const feeds: DashboardFeed[] = [];
let inputs: typeof feedInputs;
let historyRecords = 0;

const cp = (i: number) => `CP-${String(i).padStart(3, '0')}`;
const ev = (chargePointId: string, occurredAt: number, body: EventBody): ChargingEvent => ({ eventId: randomUUID(), chargePointId, occurredAt, source: null, body });
const meter = (chargePointId: string, at: number, w: number, wh: number, sessionId: string | null): ChargingEvent =>
  ev(chargePointId, at, {
    type: 'MeterSampled', sessionId, connectorId: 1,
    samples: [
      { measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: w },
      { measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: null, unit: 'Wh', value: wh },
    ],
  });
const frame = (chargePointId: string, at: number, seq: number, direction: 'IN' | 'OUT') => ({
  frameId: randomUUID(), chargePointId, gatewayId: 'g', protocol: 'ocpp1.6', direction, kind: direction === 'IN' ? 'CALL' : 'CALLRESULT', messageTypeId: direction === 'IN' ? 2 : 3,
  uniqueId: `u${seq}`, action: direction === 'IN' ? 'MeterValues' : null, payloadJson: '{}', errorCode: null, errorDescription: null, raw: '[]', seq, receivedAt: at, commandId: null, prevHash: '', hash: '',
});

const sendEvents = (events: readonly ChargingEvent[]) => produce(ctx.kafka, ctx.serde, topics.events, Topics.chargingEvents, events.map((e) => ({ key: e.chargePointId, value: toAvro(e) })));
const sendConfig = (bodies: readonly ConfigBody[]) =>
  produce(ctx.kafka, ctx.serde, topics.config, Topics.fleetConfig, bodies.map((body) => ({ key: configKey(body), value: configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'test', body }) })));
const sendReadings = (rows: readonly { vehicleId: string; at: number; soc: number }[]) =>
  produce(ctx.kafka, ctx.serde, topics.readings, Topics.telematicsReadings, rows.map((r) => ({
    key: r.vehicleId,
    value: { readingId: randomUUID(), vehicleId: r.vehicleId, provider: 'p', providerReadingId: randomUUID(), readingAt: r.at, receivedAt: r.at, socPct: r.soc, rangeKm: null, odometerKm: null, latitude: null, longitude: null, chargingState: null, pluggedIn: true, batteryCapacityKwh: null, etaAt: null },
  })));

const startFeed = async (seeded: boolean) => {
  const feed = await startDashboardFeed(ctx, { inputs, partName: uniq('dashboard-feed'), projections: seeded ? { pool: db.pool, schema: db.schema, consumer: 'projections' } : null });
  feeds.push(feed);
  return feed;
};

/** Until the feed has folded nothing new for 1.5 s (nothing is written meanwhile). */
const caughtUp = async (feed: DashboardFeed) => {
  await waitForValue('the feed started', () => (feed.ready() ? true : undefined), 60000, 50);
  let last = -1;
  await waitForValue('the feed quiet', () => {
    const v = feed.version();
    const quiet = v === last;
    last = v;
    return quiet ? true : undefined;
  }, 60000, 1500);
};

/** What the page shows of the site's chargers and vehicles (the profile, the site load and the traffic are seeded
 *  from other sources: compared apart). */
const shown = (feed: DashboardFeed) => {
  const snap = snapshot(feed.state, Date.now(), SITE);
  return { chargers: snap.chargers.map(({ profile: _p, ...c }) => c), vehicles: snap.vehicles, sessions: [...feed.state.sessions].sort() };
};

beforeAll(async () => {
  ctx = createContext(testConfig({ logLevel: 'warn' }), 'dashboard-restore-test');
  // Created without waitForLeaders: kafkajs' wait for leaders has been seen to reject after it resolved, failing
  // whichever test runs then.
  const id = uniq('t');
  topics = { frames: `test.${id}.ocpp.frames`, commandResults: `test.${id}.ocpp.command-results`, events: `test.${id}.charging.events`, readings: `test.${id}.telematics.readings`, config: `test.${id}.fleet.config`, plans: `test.${id}.optimizer.plans` };
  const admin = ctx.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: Object.entries(topics).map(([role, topic]) => ({ topic, numPartitions: role === 'config' || role === 'plans' ? 1 : 3, replicationFactor: 1 })) });
  for (const topic of Object.values(topics)) await waitForValue(`${topic} has leaders`, () => admin.fetchTopicOffsets(topic).then((ps) => (ps.every((p) => Number(p.high) >= 0) ? true : undefined), () => undefined), 30000);
  await admin.disconnect();
  inputs = {
    config: renamed(catalog.fleetConfig, topics.config),
    events: renamed(catalog.chargingEvents, topics.events),
    frames: renamed(catalog.ocppFrames, topics.frames),
    readings: renamed(catalog.telematicsReadings, topics.readings),
    plans: renamed(catalog.optimizerPlans, topics.plans),
  };
  db = await freshPgSchema('dash_restore');

  // The history: a site of CHARGERS chargers, MATCHED of them charging a vehicle, SAMPLES meter samples each (and two
  // frames per sample) over the last 40 minutes: all inside the feed's 6-hour look-back.
  await sendConfig([
    { type: 'SiteConfigured', siteId: SITE, name: 'Depot', gridLimitKw: 200, latitude: 0, longitude: 0, timezone: 'UTC' },
    ...Array.from({ length: CHARGERS }, (_, i): ConfigBody => ({ type: 'ChargerConfigured', chargePointId: cp(i), siteId: SITE, maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 })),
    ...Array.from({ length: MATCHED }, (_, i): ConfigBody => ({ type: 'VehicleConfigured', vehicleId: `EV-${i}`, batteryCapacityKwh: 60, maxAcPowerKw: 11, maxDcPowerKw: 50, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId: SITE })),
  ]);
  const t0 = Date.now() - 40 * 60000;
  const events: ChargingEvent[] = [];
  const frames: { key: string; value: unknown }[] = [];
  for (let i = 0; i < CHARGERS; i++) {
    const session = i < MATCHED ? `${cp(i)}:1` : null;
    events.push(ev(cp(i), t0, { type: 'ChargerConnected', protocol: 'ocpp1.6', gatewayId: 'g' }));
    events.push(ev(cp(i), t0 + 1, { type: 'ConnectorStatusChanged', connectorId: 1, status: session ? 'Charging' : 'Available', errorCode: null, info: null }));
    if (session) {
      events.push(ev(cp(i), t0 + 2, { type: 'SessionStarted', sessionId: session, transactionId: '1', connectorId: 1, idTag: null, meterStartWh: 0 }));
      events.push(ev(cp(i), t0 + 2, { type: 'VehicleMatched', sessionId: session, vehicleId: `EV-${i}`, confidence: 1, method: 'idTag', replacesVehicleId: null }));
    }
    for (let k = 0; k < SAMPLES; k++) {
      const at = t0 + 1000 + k * 5000;
      events.push(meter(cp(i), at, session ? 7000 + k : 0, k * 10, session));
      // Frames of different chargers never at the same millisecond: the page orders the traffic by time alone.
      frames.push({ key: cp(i), value: frame(cp(i), at + i * 10, 2 * k, 'IN') }, { key: cp(i), value: frame(cp(i), at + i * 10 + 5, 2 * k + 1, 'OUT') });
    }
  }
  await sendEvents(events);
  // As a gateway writes them: in time order across chargers.
  frames.sort((a, b) => (a.value as { receivedAt: number }).receivedAt - (b.value as { receivedAt: number }).receivedAt);
  await produce(ctx.kafka, ctx.serde, topics.frames, Topics.ocppFrames, frames);
  await sendReadings(Array.from({ length: MATCHED }, (_, i) => ({ vehicleId: `EV-${i}`, at: t0 + 60000, soc: 30 + i })));
  historyRecords = events.length + frames.length + MATCHED + 1 + CHARGERS + MATCHED;

  projections = await startProjections({ kafka: ctx.kafka, serde: ctx.serde, pool: db.pool, log: quietLog, schema: db.schema, groupId: uniq('dash-proj'), topics: { events: topics.events, readings: topics.readings, config: topics.config, plans: topics.plans } });
  await projections.sink.reached(await endOffsets(ctx.kafka, projections.topics), 120000);
  await projections.refreshAggregates();
});

afterAll(async () => {
  for (const f of feeds) await f.stop().catch(() => undefined);
  await projections?.stop().catch(() => undefined);
  await db?.drop().catch(() => undefined);
  if (topics) await deleteTestTopics(ctx.kafka, topics);
  await ctx.pool.end();
});

test('ready after reading the seed and what the projections had not applied, not the history; shows what the look-back shows', async () => {
  // Applied after the projections' offsets only: the feed must read these from Kafka.
  const late = [meter(cp(0), Date.now() - 1000, 9999, 99999, `${cp(0)}:1`), ev(cp(1), Date.now() - 900, { type: 'SessionEnded', sessionId: `${cp(1)}:1`, transactionId: '1', connectorId: 1, meterStopWh: 5000, energyWh: 5000, reason: 'Local' })];
  await projections!.stop();
  projections = undefined;
  await sendEvents(late);

  const t0 = Date.now();
  const seeded = await startFeed(true);
  await waitForValue('the seeded feed running', () => (ctx.health.report().parts[Object.keys(ctx.health.report().parts).find((p) => p.startsWith('dashboard-feed'))!]?.status === 'running' ? true : undefined), 60000, 50);
  const seededMs = Date.now() - t0;
  await caughtUp(seeded);
  const seededStats = seeded.restored();

  const t1 = Date.now();
  const lookBack = await startFeed(false);
  const part = Object.keys(ctx.health.report().parts).filter((p) => p.startsWith('dashboard-feed')).pop()!;
  await waitForValue('the look-back feed running', () => (ctx.health.report().parts[part]?.status === 'running' ? true : undefined), 120000, 50);
  const lookBackMs = Date.now() - t1;
  await caughtUp(lookBack);
  const lookBackStats = lookBack.restored();

  process.stdout.write(
    `dashboard feed restore on ${os.cpus().length} cores, history of ${historyRecords} records: ` +
      `look-back ${lookBackStats.recordsFolded} records folded, ready in ${lookBackMs} ms; ` +
      `seeded ${seededStats.seedRows} projection rows (${seededStats.seedMs} ms) + ${seededStats.recordsFolded} records folded, ready in ${seededMs} ms\n`,
  );
  // Every partition of charging.events; of the others those holding records (an empty one has nothing to skip).
  expect(seededStats.seededPartitions).toBeGreaterThanOrEqual(3);
  expect(lookBackStats.recordsFolded).toBeGreaterThanOrEqual(historyRecords);
  // Configuration (from the beginning), the two late events, and the frames' tail (./frames-tail.ts).
  expect(seededStats.recordsFolded).toBeLessThanOrEqual(1 + CHARGERS + MATCHED + late.length + 3 * framesPerPartition(CHARGERS, 3));
  expect(seededStats.recordsFolded).toBeLessThan(historyRecords / 5);

  expect(shown(seeded)).toEqual(shown(lookBack));
  const c0 = seeded.state.chargers.get(cp(0))!;
  const c1 = seeded.state.chargers.get(cp(1))!;
  expect([c0.powerKw, c0.energyWh, c1.sessionId, c1.powerKw]).toEqual([9.999, 99999, null, 0]);
  // The traffic shown is the newest frames of the site: the same from the tail.
  expect(snapshot(seeded.state, Date.now(), SITE).traffic).toEqual(snapshot(lookBack.state, Date.now(), SITE).traffic);
});

test('nothing lost or doubled between seed and follow while events keep coming and the projections apply them', async () => {
  projections = await startProjections({ kafka: ctx.kafka, serde: ctx.serde, pool: db.pool, log: quietLog, schema: db.schema, groupId: uniq('dash-proj'), topics: { events: topics.events, readings: topics.readings, config: topics.config, plans: topics.plans } });
  let k = 0;
  let writing = true;
  const writer = (async () => {
    while (writing) {
      const at = Date.now();
      await sendEvents(Array.from({ length: MATCHED }, (_, i) => meter(cp(i), at, 8000 + k, 100000 + k, i === 1 ? null : `${cp(i)}:1`)));
      k++;
    }
  })();
  await waitForValue('some events written', () => (k >= 20 ? true : undefined), 30000, 20);
  // Seeded while the projections apply and the writer writes.
  const midStream = await startFeed(true);
  await waitForValue('more events written', () => (k >= 60 ? true : undefined), 60000, 20);
  writing = false;
  await writer;
  await projections.sink.reached(await endOffsets(ctx.kafka, projections.topics), 120000);
  const reference = await startFeed(false);
  await caughtUp(midStream);
  await caughtUp(reference);

  expect(midStream.restored().seedRows).toBeGreaterThan(0);
  const a = shown(midStream);
  const b = shown(reference);
  // One point per sample of a matched session, seeded ones and followed ones: a lost or doubled one would show.
  expect(a.vehicles.map((v) => v.actual.length)).toEqual(b.vehicles.map((v) => v.actual.length));
  expect(a).toEqual(b);
});
