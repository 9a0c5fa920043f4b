import { randomUUID } from 'node:crypto';
import { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { ChargingEvent, EventBody, toAvro } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { endOffsets } from '../../streams/sink/pg-sink';
import { RunningProjections, startProjections } from '../../streams/projections/run';
import { freshPgSchema, readTopicUntil, uniq } from '../support/stack';
import { startTestApi, TestApi } from '../api/harness';
import { createTestTopics, deleteTestTopics, quietLog, testKafka, testSerde, TestTopics } from '../streams/support';

/** Issue 14 item 4, from outside: a producer writes charging.events records that PostgreSQL refuses or that are no
 *  records at all, between good ones, all in one partition. None may stall it: text with U+0000 is written (as U+FFFD),
 *  what cannot be applied goes to the dead-letter topic with its reason (and the API, and the metric), and every later
 *  record is applied. On the code before, the first NUL made the sink retry that batch forever. */
jest.setTimeout(180_000);

let kafka: Kafka;
let topics: TestTopics;
let deadLetterTopic: string;
let db: Awaited<ReturnType<typeof freshPgSchema>>;
let projections: RunningProjections;
let api: TestApi;
const metrics = new Registry();
const serde = testSerde();
const cp = uniq('CP-POISON');
const t0 = Date.now() - 60_000;

const event = (occurredAt: number, body: EventBody): ChargingEvent => ({ eventId: randomUUID(), chargePointId: cp, occurredAt, source: null, body });
const status = (at: number, s: string, errorCode: string | null, info: string | null) => event(at, { type: 'ConnectorStatusChanged', connectorId: 1, status: s, errorCode, info });

const nulInfo = status(t0, 'Faulted', 'OtherError', 'relay\u0000stuck');
const nulIdTag = event(t0 + 1000, { type: 'SessionStarted', sessionId: `${cp}:1`, transactionId: '1', connectorId: 1, idTag: 'TAG\u0000\u0000X', meterStartWh: 100 });
// A charger time no PostgreSQL timestamp holds (about 4900 BC; PostgreSQL's start 4713 BC): kept as charger_at,
// which the database refuses.
const outOfRange = status(-2.2e14, 'Unavailable', null, null);
const later = [status(t0 + 3000, 'Charging', null, 'after the poison'), event(t0 + 4000, { type: 'SessionEnded', sessionId: `${cp}:1`, transactionId: '1', connectorId: 1, meterStopWh: 5100, energyWh: 5000, reason: 'Local' })];

let offsets: { nulInfo: number; garbage: number; outOfRange: number };

beforeAll(async () => {
  kafka = testKafka('poison');
  topics = await createTestTopics(kafka, 1);
  // Not created here: the sink creates it when it first sets a record aside.
  deadLetterTopic = `test.${uniq('dl')}.streams.dead-letter`;
  db = await freshPgSchema('poison');

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const send = async (value: Buffer): Promise<number> => {
    const [r] = await producer.send({ topic: topics.events, acks: -1, messages: [{ key: cp, value }] });
    return Number(r!.baseOffset);
  };
  const encoded = (e: ChargingEvent) => serde.encode(Topics.chargingEvents, toAvro(e));
  offsets = {
    nulInfo: await send(await encoded(nulInfo)),
    garbage: (await send(await encoded(nulIdTag)), await send(Buffer.from('{"not":"avro"}'))),
    outOfRange: await send(await encoded(outOfRange)),
  };
  for (const e of later) await send(await encoded(e));
  await producer.disconnect();

  projections = await startProjections({ kafka, serde, pool: db.pool, log: quietLog, schema: db.schema, metrics, deadLetterTopic, topics: { events: topics.events, readings: topics.readings, config: topics.config } });
  api = await startTestApi({ projectionSchema: db.schema });
});

afterAll(async () => {
  await projections?.stop();
  await api?.stop();
  await db?.drop();
  await deleteTestTopics(kafka, topics);
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [deadLetterTopic] }).catch(() => undefined);
  await admin.disconnect();
});

test('records after the poison ones are applied; text with U+0000 is written with U+FFFD', async () => {
  await projections.sink.reached(await endOffsets(kafka, [topics.events]), 90_000);
  const q = (sql: string) => db.pool.query(sql.replace(/__S__/g, `"${db.schema}"`), []).then((r) => r.rows);
  expect(await q(`SELECT status, info FROM __S__.connector_status WHERE charge_point_id = '${cp}'`)).toEqual([{ status: 'Charging', info: 'after the poison' }]);
  const history = await q(`SELECT status, error_code, info FROM __S__.charger_status_history WHERE charge_point_id = '${cp}' ORDER BY at`);
  expect(history).toEqual([
    { status: 'Faulted', error_code: 'OtherError', info: 'relay\uFFFDstuck' },
    { status: 'Charging', error_code: null, info: 'after the poison' },
  ]);
  expect(await q(`SELECT id_tag, active, energy_wh FROM __S__.sessions WHERE charge_point_id = '${cp}'`)).toEqual([{ id_tag: 'TAG\uFFFD\uFFFDX', active: false, energy_wh: 5000 }]);
});

test('what cannot be applied is on the dead-letter topic with its reason and raw bytes, counted per consumer and reason', async () => {
  await projections.sink.reached(await endOffsets(kafka, [topics.events]), 90_000);
  const letters = await readTopicUntil<Record<string, unknown>>(deadLetterTopic, (r) => r.length >= 2, { timeoutMs: 30_000 });
  const byOffset = new Map(letters.map((l) => [Number(l.value.sourceOffset), l]));
  expect([...byOffset.keys()].sort((a, b) => a - b)).toEqual([offsets.garbage, offsets.outOfRange]);
  const garbage = byOffset.get(offsets.garbage)!;
  expect(garbage.key).toBe(`${topics.events}/0/${offsets.garbage}`);
  expect(garbage.value).toMatchObject({ sourceTopic: topics.events, sourcePartition: 0, sourceKey: cp, consumer: 'projections', reasonClass: 'undecodable' });
  expect(Buffer.from(garbage.value.value as Buffer).toString()).toBe('{"not":"avro"}');
  expect(garbage.value.reason).toMatch(/Confluent wire format/);
  const range = byOffset.get(offsets.outOfRange)!;
  expect(range.value).toMatchObject({ reasonClass: 'data-exception', consumer: 'projections' });
  expect(range.value.reason).toMatch(/SQLSTATE 2200[78]/);
  const counted = (await metrics.getSingleMetric('voltstream_dead_letters_total')!.get()).values.map((v) => [v.labels.reason, v.value]);
  expect(counted.sort()).toEqual([
    ['data-exception', 1],
    ['undecodable', 1],
  ]);
});

test('the API lists them (scope history:read), and refuses a key without that scope', async () => {
  await projections.sink.reached(await endOffsets(kafka, [topics.events]), 90_000);
  const reader = await api.issueKey(['history:read']);
  const r = await api.call('GET', `/api/v1/dead-letters?topic=${topics.events}&limit=1`, { key: reader });
  expect(r.status).toBe(200);
  expect(r.json.items).toHaveLength(1);
  const next = await api.call('GET', `/api/v1/dead-letters?topic=${topics.events}&limit=1&cursor=${encodeURIComponent(r.json.nextCursor as string)}`, { key: reader });
  expect(next.status).toBe(200);
  const items = [...r.json.items, ...next.json.items] as Record<string, unknown>[];
  expect(items.map((i) => Number(i.offset)).sort((a, b) => a - b)).toEqual([offsets.garbage, offsets.outOfRange]);
  expect(items.find((i) => Number(i.offset) === offsets.garbage)).toMatchObject({ consumer: 'projections', topic: topics.events, partition: 0, key: cp, reasonClass: 'undecodable', value: Buffer.from('{"not":"avro"}').toString('base64') });
  expect(items.find((i) => Number(i.offset) === offsets.outOfRange)!.reason).toMatch(/out of range|invalid input syntax/);
  const other = await api.issueKey(['config:write']);
  expect((await api.call('GET', '/api/v1/dead-letters', { key: other })).status).toBe(403);
});
