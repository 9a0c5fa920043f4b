import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { Kafka } from 'kafkajs';
import { ChargingEvent, toAvro } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { ChargerState, decide, evolve, initialCharger, publishedEvents } from '../../streams/normalizer/decide';
import { session16, session201, SessionScript } from '../../streams/normalizer/fixtures';
import { evolveAll } from '../../streams/runtime/fold';
import { replay } from '../../streams/replay/replay';
import { endOffsets } from '../../streams/sink/pg-sink';
import { freshPgSchema, testConfig, uniq } from '../support/stack';
import { createTestTopics, deleteTestTopics, produce, quietLog, testKafka, testSerde, TestTopics } from './support';

/** Two instances of the projections sink in one consumer group, both applying; one is SIGKILLed in the middle of its
 *  work; the other takes its partitions over, and the tables end equal to a rebuild from offset 0 (the stored offsets
 *  in the same transaction as the rows keep every record applied exactly once, whichever instance applied it). */
jest.setTimeout(600_000);

const root = path.join(__dirname, '..', '..');

interface Runner {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  applied(): number;
}

const startRunner = (env: NodeJS.ProcessEnv): Runner => {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'projections-runner.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let applied = 0;
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    for (const l of chunk.split('\n')) if (l.startsWith('applied ')) applied = Number(l.slice(8));
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => process.stderr.write(`[projections-runner ${child.pid}] ${c}`));
  return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), applied: () => applied };
};

const until = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 180_000) => {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

describe('projections: two instances in one group, one SIGKILLed mid-batch, the other takes over', () => {
  let kafka: Kafka;
  let topics: TestTopics;
  let live: Awaited<ReturnType<typeof freshPgSchema>>;
  const serde = testSerde();
  const runners: Runner[] = [];
  let records: { key: string; value: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    kafka = testKafka('proj-takeover');
    topics = await createTestTopics(kafka, 3);
    live = await freshPgSchema('proj_takeover');
    // The events of one pure normalizer run over 200 chargers' sessions, as the normalizer would write them.
    const t0 = Date.UTC(2026, 9, 1, 6, 0);
    const events: ChargingEvent[] = [];
    for (let c = 0; c < 200; c++) {
      const chargePointId = uniq(`PT${c}`);
      const script: SessionScript = { chargePointId, t0: t0 + c * 1000, idTag: `T${c}`, meterStartWh: 0, energyWh: 4000 + 13 * c, minutes: 45, every: 1, transactionId: String(c + 1), socStartPct: 20 };
      let state: ChargerState = initialCharger;
      const frames = c % 2 === 0 ? session16(script) : session201({ ...script, kilo: true });
      frames.forEach((f, i) => {
        const facts = decide(state, { ...f, seq: i + 1 }, { topic: topics.frames, partition: 0, offset: c * 10_000 + i });
        state = evolveAll(evolve, state, facts);
        events.push(...publishedEvents(facts));
      });
    }
    records = events.map((e) => ({ key: e.chargePointId, value: toAvro(e) }));
  });

  afterAll(async () => {
    for (const r of runners) r.child.kill('SIGKILL');
    await Promise.all(runners.map((r) => r.exited));
    await live?.drop();
    await deleteTestTopics(kafka, topics);
  });

  it('ends equal to a rebuild from offset 0', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: testConfig().databaseUrl!,
      LOG_LEVEL: 'warn',
      TAKEOVER_TOPICS: JSON.stringify({ events: topics.events, readings: topics.readings, config: topics.config }),
      TAKEOVER_SCHEMA: live.schema,
      TAKEOVER_GROUP: uniq('proj-takeover'),
    };
    // A quarter of the events before the instances start, the rest while they run, so that both have work whichever
    // joins first and however fast the first one is.
    const first = Math.floor(records.length / 4);
    await produce(kafka, serde, topics.events, Topics.chargingEvents, records.slice(0, first));
    const stored = async () => {
      const rows = (await live.pool.query(`SELECT topic, partition, next_offset FROM "${live.schema}".stream_offsets WHERE consumer = 'projections'`).catch(() => ({ rows: [] }))).rows as { topic: string; partition: number; next_offset: string }[];
      return new Map(rows.map((x) => [`${x.topic}:${x.partition}`, Number(x.next_offset)]));
    };

    const a = startRunner(env);
    const b = startRunner(env);
    runners.push(a, b);
    const producing = (async () => {
      for (let i = first; i < records.length; i += 300) {
        await produce(kafka, serde, topics.events, Topics.chargingEvents, records.slice(i, i + 300));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    await until('both instances apply', () => b.applied() > 0 && a.applied() > 0);
    const aBefore = a.applied();
    await until('the first instance applies again', () => a.applied() > aBefore);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 100)));
    a.child.kill('SIGKILL');
    expect(await a.exited).toBeNull();
    const atKill = [...(await stored()).values()].reduce((x, y) => x + y, 0);
    await producing;
    const ends = await endOffsets(kafka, [topics.events]);
    const total = [...ends.values()].reduce((x, y) => x + y, 0);
    process.stderr.write(`projections takeover: ${total} events, ${atKill} applied at the kill (A ${a.applied()}, B ${b.applied()})\n`);
    expect(total).toBe(records.length);
    expect(atKill).toBeLessThan(total);

    await until('the second instance applies every partition', async () => {
      const at = await stored();
      return [...ends].every(([tp, end]) => (at.get(tp) ?? 0) >= end);
    }, 240_000);
    expect(b.child.exitCode).toBeNull();

    const fresh = uniq('proj_takeover_rebuilt').replace(/-/g, '_');
    const result = await replay({ kafka, serde, pool: live.pool, log: quietLog, schema: fresh, liveSchema: live.schema, topics: { events: topics.events, readings: topics.readings, config: topics.config } });
    await live.pool.query(`DROP SCHEMA "${fresh}" CASCADE`);
    expect(result.differences).toEqual([]);
    const meter = await live.pool.query(`SELECT count(*)::int AS n FROM "${live.schema}".meter_values`);
    expect(meter.rows[0].n).toBeGreaterThan(0);
  });
});
