import { randomUUID } from 'node:crypto';
import { Kafka } from 'kafkajs';
import { ChargingEvent, EventBody, toAvro } from '../../schemas/events';
import { quoteIdent } from '../../services/common/db';
import { endOffsets } from '../../streams/sink/pg-sink';
import { RunningProjections, startProjections } from '../../streams/projections/run';
import { uniq } from '../support/stack';
import { createTestTopics, deleteTestTopics, embeddedTimescale, produce, quietLog, testKafka, testSerde, TestTopics, Topics } from './support';

/** Issue 14 item 4, implausible charger times, against the embedded TimescaleDB: events a charger dates 1970 and
 *  9999 (a real producer, the real sink) make no hypertable chunks beyond the ones of their receive time. Their rows
 *  are kept, at the time the log received them, with the charger's time in charger_at. Before, each such date made a
 *  chunk of its own in every time-series table it touched. */
jest.setTimeout(240_000);

let kafka: Kafka;
let topics: TestTopics;
let db: Awaited<ReturnType<typeof embeddedTimescale>>;
let projections: RunningProjections;
const serde = testSerde();
const schema = uniq('chunks').replace(/-/g, '_');
const cp = uniq('CP-CLOCK');

const event = (occurredAt: number, body: EventBody): ChargingEvent => ({ eventId: randomUUID(), chargePointId: cp, occurredAt, source: null, body });
const dated = (occurredAt: number, status: string): ChargingEvent[] => [
  event(occurredAt, { type: 'ConnectorStatusChanged', connectorId: 1, status, errorCode: null, info: null }),
  event(occurredAt, { type: 'MeterSampled', sessionId: null, connectorId: 1, samples: [{ measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: 7000 }] }),
];
const send = (events: ChargingEvent[]) => produce(kafka, serde, topics.events, Topics.chargingEvents, events.map((e) => ({ key: cp, value: toAvro(e) })));
const applied = async () => projections.sink.reached(await endOffsets(kafka, [topics.events]), 120_000);

const chunks = async (): Promise<Record<string, number>> => {
  const r = await db.pool.query<{ hypertable_name: string; n: string }>(
    `SELECT hypertable_name, count(*)::text AS n FROM timescaledb_information.chunks WHERE hypertable_schema = $1 GROUP BY hypertable_name`,
    [schema],
  );
  return Object.fromEntries(r.rows.map((x) => [x.hypertable_name, Number(x.n)]));
};

beforeAll(async () => {
  kafka = testKafka('charger-time');
  topics = await createTestTopics(kafka, 1);
  db = await embeddedTimescale();
  projections = await startProjections({ kafka, serde, pool: db.pool, log: quietLog, schema, partitionsConcurrently: 1, topics: { events: topics.events, readings: topics.readings, config: topics.config } });
});

afterAll(async () => {
  await projections?.stop();
  await db?.stop();
  await deleteTestTopics(kafka, topics);
});

test('charger dates of 1970 and 9999 make no chunks beyond the receive-time ones; the rows keep them in charger_at', async () => {
  await send(dated(Date.now(), 'Available'));
  await applied();
  const atReceiveTime = await chunks();
  expect(atReceiveTime).toMatchObject({ charger_status_history: 1, meter_values: 1 });

  const sentFrom = Date.now();
  const epoch = Date.UTC(1970, 0, 1, 0, 0, 1);
  const farFuture = Date.UTC(9999, 11, 31, 23, 59, 59);
  await send([...dated(epoch, 'Faulted'), ...dated(farFuture, 'Charging')]);
  await applied();
  const sentTo = Date.now();
  expect(await chunks()).toEqual(atReceiveTime);

  const rows = await db.pool.query<{ status: string; at: Date; charger_at: Date | null }>(
    `SELECT status, at, charger_at FROM ${quoteIdent(schema)}.charger_status_history WHERE charge_point_id = $1 ORDER BY at, status`,
    [cp],
  );
  const byStatus = new Map(rows.rows.map((r) => [r.status, r]));
  expect(byStatus.get('Available')!.charger_at).toBeNull();
  for (const [status, chargerAt] of [['Faulted', epoch], ['Charging', farFuture]] as const) {
    const r = byStatus.get(status)!;
    expect(r.charger_at?.getTime()).toBe(chargerAt);
    expect(r.at.getTime()).toBeGreaterThanOrEqual(sentFrom - 1000);
    expect(r.at.getTime()).toBeLessThanOrEqual(sentTo);
  }
  const samples = await db.pool.query<{ charger_at: Date | null }>(`SELECT charger_at FROM ${quoteIdent(schema)}.meter_values WHERE charge_point_id = $1 ORDER BY charger_at NULLS FIRST`, [cp]);
  expect(samples.rows.map((r) => r.charger_at?.getTime() ?? null)).toEqual([null, epoch, farFuture]);
});
