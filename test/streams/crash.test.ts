import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { Kafka } from 'kafkajs';
import { fromAvro } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import * as E from 'fp-ts/Either';
import { catalog } from '../../schemas/catalog';
import { decide, evolve, initialCharger, ChargerState, publishedEvents } from '../../streams/normalizer/decide';
import { evolveAll } from '../../streams/runtime/fold';
import { session16, session201, SessionScript } from '../../streams/normalizer/fixtures';
import { replay } from '../../streams/replay/replay';
import { endOffsets } from '../../streams/sink/pg-sink';
import { freshPgSchema, readTopicUntil, testConfig, uniq } from '../support/stack';
import { createTestTopics, deleteTestTopics, produce, quietLog, testKafka, testSerde, TestTopics } from './support';
import { committedOffsets } from '../../streams/sink/kafka-processor';
import { deleteChangelog } from './fold-support';

jest.setTimeout(600_000);

const root = path.join(__dirname, '..', '..');

/** Starts the runner; resolves once it printed `lines` progress lines (or exits). */
const startRunner = (env: NodeJS.ProcessEnv): { child: ChildProcess; progressed(kind: 'normalized' | 'projected', lines: number): Promise<void>; exited: Promise<number | null> } => {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'crash-runner.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const seen = { normalized: 0, projected: 0 };
  const waiters: { kind: keyof typeof seen; n: number; resolve: () => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    for (const l of chunk.split('\n')) if (l.startsWith('normalized') || l.startsWith('projected')) seen[l.split(' ')[0] as keyof typeof seen]++;
    for (const w of waiters.splice(0)) (seen[w.kind] >= w.n ? w.resolve : () => waiters.push(w))();
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => process.stderr.write(`[runner] ${c}`));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  void exited.then(() => waiters.splice(0).forEach((w) => w.resolve()));
  // Resolves after n progress lines, or after 40 s (nothing left to do; a restart waits for the group to rebalance), or at exit.
  const progressed = (kind: keyof typeof seen, n: number) =>
    new Promise<void>((resolve) => {
      if (seen[kind] >= n) return resolve();
      waiters.push({ kind, n, resolve });
      setTimeout(resolve, 40_000);
    });
  return { child, exited, progressed };
};

describe('crash test: SIGKILL the normalizer + projections process mid-batch, again and again', () => {
  let kafka: Kafka;
  let topics: TestTopics;
  const serde = testSerde();
  let live: Awaited<ReturnType<typeof freshPgSchema>>;
  const scripts: SessionScript[] = [];
  const t0 = Date.UTC(2026, 7, 3, 5, 0);

  beforeAll(async () => {
    kafka = testKafka('crash');
    topics = await createTestTopics(kafka);
    live = await freshPgSchema('streams_crash');
    for (let c = 0; c < 40; c++) {
      const chargePointId = uniq(`CRASH${c}`);
      for (let s = 0; s < 2; s++) scripts.push({ chargePointId, t0: t0 + s * 3 * 3600_000 + c * 60_000, idTag: `T${c}`, meterStartWh: 10_000 * s, energyWh: 4000 + 137 * c + 1000 * s, minutes: 60, every: 1, transactionId: String(c * 10 + s + 1), socStartPct: 20 });
    }
    const frames = scripts.flatMap((s, i) => (i % 4 < 2 ? session16(s) : session201({ ...s, kilo: true })));
    // seq must stay per charger: renumber the concatenated sessions of each charger.
    const seq = new Map<string, number>();
    for (const f of frames) {
      const n = (seq.get(f.chargePointId) ?? 0) + 1;
      seq.set(f.chargePointId, n);
      (f as { seq: number }).seq = n;
    }
    await produce(kafka, serde, topics.frames, Topics.ocppFrames, frames.map((f) => ({ key: f.chargePointId, value: f })));
  });

  afterAll(async () => {
    await live?.drop();
    await deleteTestTopics(kafka, topics);
    await deleteChangelog(kafka, topics);
  });

  it('ends with projections equal to a rebuild from offset 0, the same energy per session, no duplicate events', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: testConfig().databaseUrl!,
      LOG_LEVEL: 'warn',
      CRASH_TOPICS: JSON.stringify(topics),
      CRASH_SCHEMA: live.schema,
      CRASH_NORMALIZER_GROUP: uniq('crash-normalizer'),
      CRASH_PROJECTIONS_GROUP: uniq('crash-projections'),
      CRASH_TXID: uniq('crash-tx'),
    };
    const applied = async () => (await live.pool.query(`SELECT COALESCE(sum(next_offset), 0)::int AS n FROM "${live.schema}".stream_offsets`).catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n as number;
    const kills: { applied: number; normalized: number }[] = [];
    const frameTotal = [...(await endOffsets(kafka, [topics.frames])).values()].reduce((a, b) => a + b, 0);
    let normalized = 0;
    let projected = 0;
    let eventTotal = Infinity;
    // (Each events partition may end in a transaction marker the sink never sees: up to one offset short each.)
    for (let round = 0; round < 12 && (normalized < frameTotal || projected < eventTotal - 3); round++) {
      const r = startRunner(env);
      // Kill right after a committed batch: the normalizer's first (three times), then alternately the sink's.
      const sinkTurn = normalized >= frameTotal || (round >= 3 && round % 2 === 1);
      await r.progressed(sinkTurn ? 'projected' : 'normalized', 1);
      await new Promise((res) => setTimeout(res, Math.floor(Math.random() * 300)));
      r.child.kill('SIGKILL');
      expect(await r.exited).toBeNull();
      const done = await committedOffsets(kafka, env.CRASH_NORMALIZER_GROUP!, [topics.frames]);
      normalized = [...done.values()].reduce((a, b) => a + Math.max(0, b), 0);
      projected = await applied();
      if (normalized >= frameTotal) eventTotal = [...(await endOffsets(kafka, [topics.events])).values()].reduce((a, b) => a + b, 0);
      kills.push({ applied: projected, normalized });
    }
    // Let it finish.
    const r = startRunner(env);
    const frameEnds = await endOffsets(kafka, [topics.frames]);
    const deadline = Date.now() + 240_000;
    for (;;) {
      const done = await committedOffsets(kafka, env.CRASH_NORMALIZER_GROUP!, [topics.frames]);
      if ([...frameEnds].every(([tp, end]) => (done.get(tp) ?? 0) >= end)) break;
      if (Date.now() > deadline) throw new Error('normalizer did not finish');
      await new Promise((res) => setTimeout(res, 300));
    }
    const eventEnds = await endOffsets(kafka, [topics.events]);
    // Caught up: every partition at its end, or one short of it (kafkajs never delivers the transaction marker that
    // ends a partition) and no longer moving.
    let quiet = 0;
    let last = '';
    for (;;) {
      const rows = (await live.pool.query(`SELECT topic, partition, next_offset FROM "${live.schema}".stream_offsets WHERE consumer = 'projections'`)).rows;
      const at = new Map(rows.map((x) => [`${x.topic}:${x.partition}`, Number(x.next_offset)]));
      const now = JSON.stringify([...at].sort());
      quiet = now === last ? quiet + 1 : 0;
      last = now;
      if ([...eventEnds].every(([tp, end]) => (at.get(tp) ?? 0) >= end - 1) && quiet >= 10) break;
      if (Date.now() > deadline) throw new Error('projections did not finish');
      await new Promise((res) => setTimeout(res, 300));
    }
    r.child.kill('SIGKILL');
    await r.exited;
    // The kills came while there was work left: part of the frames normalized, part of the events projected.
    const totalFrames = [...frameEnds.values()].reduce((a, b) => a + b, 0);
    const totalEvents = [...eventEnds.values()].reduce((a, b) => a + b, 0);
    process.stderr.write(`crash test: ${totalFrames} frames, ${totalEvents} events; at each kill (normalized frames, projected events): ${kills.map((k) => `${k.normalized}/${k.applied}`).join(', ')}\n`);
    expect(kills.filter((k) => k.normalized > 0 && k.normalized < totalFrames).length).toBeGreaterThanOrEqual(2);
    expect(kills.filter((k) => k.applied > 0 && k.applied < totalEvents - 3).length).toBeGreaterThanOrEqual(2);

    // Exactly once into Kafka: the committed events are those of one pure run over the frames, each once.
    const expected = new Set<string>();
    const byCp = new Map<string, ChargerState>();
    const frames = await readTopicUntil<Record<string, unknown>>(topics.frames, () => false, { idleMs: 5000, timeoutMs: 180_000 });
    for (const f of frames) {
      const frame = catalog.ocppFrames.decode(f.value);
      if (E.isLeft(frame)) throw new Error(frame.left);
      const before = byCp.get(f.key!) ?? initialCharger;
      const facts = decide(before, frame.right, { topic: topics.frames, partition: f.partition, offset: Number(f.offset) });
      byCp.set(f.key!, evolveAll(evolve, before, facts));
      publishedEvents(facts).forEach((e) => expected.add(e.eventId));
    }
    const events = (await readTopicUntil<Record<string, unknown>>(topics.events, () => false, { idleMs: 5000, timeoutMs: 180_000 })).map((x) => fromAvro(x.value));
    const ids = events.map((e) => e.eventId);
    expect(ids.length).toBe(expected.size);
    expect(new Set(ids)).toEqual(expected);

    // Exactly once into PostgreSQL: the crashed-and-resumed projections equal a rebuild from offset 0.
    const fresh = uniq('streams_crash_rebuilt').replace(/-/g, '_');
    const result = await replay({ kafka, serde, pool: live.pool, log: quietLog, schema: fresh, liveSchema: live.schema, topics: { events: topics.events, readings: topics.readings, config: topics.config } });
    await live.pool.query(`DROP SCHEMA "${fresh}" CASCADE`);
    expect(result.differences).toEqual([]);

    const energy = (await live.pool.query(`SELECT session_id, energy_wh FROM "${live.schema}".sessions`)).rows;
    expect(energy).toHaveLength(scripts.length);
    const want = new Map(scripts.map((s) => [`${s.chargePointId}:${s.transactionId}`, Math.round(s.meterStartWh + s.energyWh) - s.meterStartWh]));
    for (const row of energy) expect(row.energy_wh).toBeCloseTo(want.get(row.session_id)!, 6);
  });
});
