import { Client, Pool } from 'pg';
import { Kafka } from 'kafkajs';
import { EmbeddedDb, startEmbeddedDb } from '../../infra/database/embedded';
import { createPool } from '../../services/common/db';
import { TopicSerde } from '../../schemas/registry';
import { Topics } from '../../schemas/topics';
import { RunningProjections, startProjections } from '../../streams/projections/run';
import { endOffsets } from '../../streams/sink/pg-sink';
import { createTestTopics, deleteTestTopics, produce, quietLog, testSerde, TestTopics } from '../streams/support';
import { freePort, testKafka, uniq } from '../support/stack';
import { toAvro } from '../../schemas/events';
import { generate } from '../bench/streams/events';

/** The projections sink against the embedded TimescaleDB (PGlite behind the session front). A sink batch is one Bind
 *  message with one array parameter per column: hundreds of KiB, more than one TCP chunk. pglite-socket used to hand
 *  each chunk to PGlite as it came, and PGlite's WebAssembly aborted on the partial message, killing the database;
 *  the front (infra/database/wire-framing.ts) passes on whole messages only. */
jest.setTimeout(180_000);

describe('embedded TimescaleDB: projections sink', () => {
  // One database per test: a crash in one must not fail the other.
  let db: EmbeddedDb | undefined;
  let pool: Pool;

  beforeEach(async () => {
    db = await startEmbeddedDb({ port: await freePort() });
    pool = createPool({ url: db.url, embedded: true });
  });
  afterEach(async () => {
    await pool?.end().catch(() => undefined);
    await db?.stop();
  });

  it('answers a query whose protocol messages span many TCP chunks', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const ids = Array.from({ length: 20_000 }, (_, i) => `id-${i}`);
    const r = await pool.query<{ n: number; len: number }>('SELECT length($1::text) AS len, (SELECT count(*)::int FROM unnest($2::text[])) AS n', [big, ids]);
    expect(r.rows[0]).toEqual({ len: big.length, n: ids.length });
    // Still alive, and the connection still in step.
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
  });

  it('answers every query whatever its size, also when a message after a large Bind starts on a 64 KiB boundary', async () => {
    // PGlite drops a message that starts exactly at 65,536 bytes into its input, and all after it: the Describe,
    // Execute or Sync after a Bind of the right size went unanswered and the client waited forever. Sizes one byte
    // apart put each of them on the boundary in turn.
    const client = new Client({ connectionString: db!.url, query_timeout: 10_000 });
    await client.connect();
    try {
      const lengths: number[] = [];
      for (let n = 65_400; n <= 65_520; n++) lengths.push((await client.query<{ n: number }>('SELECT length($1::text) AS n', ['y'.repeat(n)])).rows[0]!.n);
      expect(lengths).toEqual(Array.from({ length: 121 }, (_, i) => 65_400 + i));
    } finally {
      await client.end();
    }
  });

  describe('from Kafka', () => {
    let kafka: Kafka;
    let serde: TopicSerde;
    let topics: TestTopics;
    let running: RunningProjections | undefined;

    beforeAll(async () => {
      kafka = testKafka('embedded-sink');
      serde = testSerde();
      topics = await createTestTopics(kafka, 1);
    });
    afterEach(async () => {
      await running?.stop().catch(() => undefined);
    });
    afterAll(async () => {
      await deleteTestTopics(kafka, topics);
    });

    it('applies a large batch of telematics readings in one transaction', async () => {
      const n = 5000;
      const t0 = Date.UTC(2026, 0, 1);
      const prefix = uniq('EV');
      const readings = Array.from({ length: n }, (_, i) => ({
        key: `${prefix}-${i % 20}`,
        value: {
          readingId: `${prefix}:r${i}`,
          vehicleId: `${prefix}-${i % 20}`,
          provider: 'smartcar',
          providerReadingId: `p${i}`,
          readingAt: t0 + i * 30_000,
          receivedAt: t0 + i * 30_000 + 1200,
          socPct: 20 + (i % 70),
          rangeKm: 180.5 + (i % 50),
          odometerKm: 40_000 + i * 0.3,
          latitude: 52.52 + (i % 100) / 1e4,
          longitude: 13.405 - (i % 100) / 1e4,
          chargingState: i % 3 === 0 ? 'CHARGING' : 'NOT_CHARGING',
          pluggedIn: i % 3 === 0,
          batteryCapacityKwh: 77,
          etaAt: i % 5 === 0 ? t0 + i * 30_000 + 3_600_000 : null,
        },
      }));
      await produce(kafka, serde, topics.readings, Topics.telematicsReadings, readings);
      const schema = 'projections';
      running = await startProjections({ kafka, serde, pool, log: quietLog, schema, groupId: uniq('embedded-sink'), topics: { events: topics.events, readings: topics.readings, config: topics.config } });
      await running.sink.reached(await endOffsets(kafka, [topics.events, topics.readings, topics.config]), 120_000);
      const counts = await pool.query<{ readings: number; vehicles: number }>(
        `SELECT (SELECT count(*)::int FROM ${schema}.telematics_readings) AS readings, (SELECT count(*)::int FROM ${schema}.vehicle_state) AS vehicles`,
      );
      expect(counts.rows[0]).toEqual({ readings: n, vehicles: 20 });
    });

    it('writes a large batch of meter samples, odd text included, once', async () => {
      // meter_values has no unique index (tables.ts); PGlite takes no COPY FROM STDIN, so here it gets INSERTs.
      const prefix = uniq('CP');
      const events = [...generate(6000, 10, prefix)];
      const odd = events.find((e) => e.body.type === 'MeterSampled')!;
      if (odd.body.type === 'MeterSampled') odd.body.samples[0] = { ...odd.body.samples[0]!, location: 'tab\there\\ and\nnewline' };
      await produce(kafka, serde, topics.events, Topics.chargingEvents, events.map((e) => ({ key: e.chargePointId, value: toAvro(e) })));
      const schema = 'projections';
      const samples = events.reduce((a, e) => a + (e.body.type === 'MeterSampled' ? e.body.samples.length : 0), 0);
      running = await startProjections({ kafka, serde, pool, log: quietLog, schema, groupId: uniq('embedded-sink'), topics: { events: topics.events, readings: topics.readings, config: topics.config } });
      await running.sink.reached(await endOffsets(kafka, [topics.events, topics.readings, topics.config]), 120_000);
      const counts = await pool.query<{ rows: number; distinct: number }>(`SELECT count(*)::int AS rows, count(DISTINCT (event_id, idx))::int AS distinct FROM ${schema}.meter_values`);
      expect(counts.rows[0]).toEqual({ rows: samples, distinct: samples });
      const back = await pool.query<{ location: string; at: Date }>(`SELECT location, at FROM ${schema}.meter_values WHERE event_id = $1 AND idx = 0`, [odd.eventId]);
      expect(back.rows).toEqual([{ location: 'tab\there\\ and\nnewline', at: new Date(odd.occurredAt) }]);
    });
  });
});
