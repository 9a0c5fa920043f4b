import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Kafka } from 'kafkajs';
import { Topics } from '../../schemas/topics';
import { session16, session201 } from '../../streams/normalizer/fixtures';
import { startProjections } from '../../streams/projections/run';
import { replay } from '../../streams/replay/replay';
import { RunningProcessor } from '../../streams/sink/kafka-processor';
import { endOffsets } from '../../streams/sink/pg-sink';
import { freshPgSchema, testConfig, uniq } from '../support/stack';
import { createTestTopics, deleteTestTopics, produce, quietLog, startTestNormalizer, testKafka, testSerde, TestTopics, waitForGroup } from './support';

jest.setTimeout(240_000);

describe('replay: rebuild from offset 0 into a fresh schema, compare digests with the live one', () => {
  let kafka: Kafka;
  let topics: TestTopics;
  const serde = testSerde();
  let normalizer: RunningProcessor;
  let live: Awaited<ReturnType<typeof freshPgSchema>>;
  const groupId = uniq('normalizer');
  const t0 = Date.UTC(2026, 6, 1, 6, 0);

  beforeAll(async () => {
    kafka = testKafka('replay');
    topics = await createTestTopics(kafka);
    live = await freshPgSchema('streams_live');
    const frames = Array.from({ length: 8 }, (_, i) => {
      const s = { chargePointId: uniq(`CP${i}`), t0: t0 + i * 7 * 60_000, idTag: `TAG${i}`, meterStartWh: 1000 * i, energyWh: 5000 + 1000 * i, minutes: 45, transactionId: String(100 + i), socStartPct: 30 };
      return i % 2 ? session201(s) : session16(s);
    }).flat();
    await produce(kafka, serde, topics.frames, Topics.ocppFrames, frames.map((f) => ({ key: f.chargePointId, value: f })));
    normalizer = await startTestNormalizer(kafka, serde, topics, groupId);
    await waitForGroup(kafka, groupId, [topics.frames]);
    const running = await startProjections({ kafka, serde, pool: live.pool, log: quietLog, schema: live.schema, topics: { events: topics.events, readings: topics.readings, config: topics.config } });
    await running.sink.reached(await endOffsets(kafka, [topics.events]));
    await running.stop();
  });

  afterAll(async () => {
    await normalizer?.stop();
    await live?.drop();
    await deleteTestTopics(kafka, topics);
  });

  const rebuild = async () => {
    const fresh = uniq('streams_rebuilt').replace(/-/g, '_');
    const ticks: number[] = [];
    const result = await replay({ kafka, serde, pool: live.pool, log: quietLog, schema: fresh, liveSchema: live.schema, topics: { events: topics.events, readings: topics.readings, config: topics.config }, onProgress: (done) => ticks.push(done) });
    await live.pool.query(`DROP SCHEMA "${fresh}" CASCADE`);
    return { result, ticks };
  };

  it('an untouched log rebuilds to exactly the live projections', async () => {
    const { result, ticks } = await rebuild();
    expect(result.records).toBeGreaterThan(200);
    expect(ticks[ticks.length - 1]).toBe(result.records);
    expect(result.differences).toEqual([]);
    const byTable = new Map(result.rebuilt.map((d) => [d.table, d.rows]));
    expect(byTable.get('sessions')).toBe(8);
    expect(byTable.get('meter_values')).toBeGreaterThan(100);
  });

  it('a changed live row is reported with its key', async () => {
    // (Qualified names: migrate() leaves pooled connections on the schema it migrated last.)
    const s = `"${live.schema}"`;
    const { rows } = await live.pool.query(`UPDATE ${s}.sessions SET energy_wh = energy_wh + 1 WHERE session_id = (SELECT min(session_id) FROM ${s}.sessions) RETURNING session_id`);
    await live.pool.query(`DELETE FROM ${s}.meter_values WHERE ctid = (SELECT min(ctid) FROM ${s}.meter_values)`);
    const { result } = await rebuild();
    expect(result.differences!.map((d) => d.table).sort()).toEqual(['meter_values', 'sessions']);
    const sessions = result.differences!.find((d) => d.table === 'sessions')!;
    expect(sessions.examples!.onlyLive).toEqual([{ session_id: rows[0].session_id }]);
    expect(sessions.examples!.onlyRebuilt).toEqual([{ session_id: rows[0].session_id }]);
    const meters = result.differences!.find((d) => d.table === 'meter_values')!;
    expect(meters.live!.rows).toBe(meters.rebuilt!.rows - 1);
  });
});

describe('voltstream replay (command line, real topics)', () => {
  it('rebuilds the live projections of the real topics and reports no difference; exit 1 after tampering', async () => {
    const live = await freshPgSchema('streams_cli_live');
    const kafka = testKafka('replay-cli');
    const serde = testSerde();
    try {
      const running = await startProjections({ kafka, serde, pool: live.pool, log: quietLog, schema: live.schema, groupId: uniq('cli-live') });
      await running.sink.reached(await endOffsets(kafka, running.topics));
      await running.stop();
      const env = { ...process.env, DATABASE_URL: testConfig().databaseUrl!, LOG_LEVEL: 'warn' as const };
      const bin = path.join(__dirname, '..', '..', 'bin', 'voltstream.js');
      const ok = spawnSync('node', [bin, 'replay', '--live', live.schema, '--schema', uniq('cli_rebuilt').replace(/-/g, '_')], { env, encoding: 'utf8', timeout: 180_000 });
      expect(ok.stdout).toContain('No differences');
      expect(ok.status).toBe(0);
      const sites = `"${live.schema}".fleet_sites`;
      const n = await live.pool.query(`SELECT count(*)::int AS n FROM ${sites}`);
      if (n.rows[0].n === 0) await live.pool.query(`INSERT INTO ${sites} VALUES ('tampered', 'x', 1, 0, 0, 'UTC', now())`);
      else await live.pool.query(`UPDATE ${sites} SET grid_limit_kw = grid_limit_kw + 1 WHERE site_id = (SELECT min(site_id) FROM ${sites})`);
      const rebuilt = uniq('cli_rebuilt').replace(/-/g, '_');
      const bad = spawnSync('node', [bin, 'replay', '--live', live.schema, '--schema', rebuilt, '--drop'], { env, encoding: 'utf8', timeout: 180_000 });
      expect(bad.stdout).toMatch(/fleet_sites .* DIFFERENT/);
      expect(bad.status).toBe(1);
    } finally {
      await live.drop();
    }
  });
});
