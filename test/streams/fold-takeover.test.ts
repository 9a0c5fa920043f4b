import * as E from 'fp-ts/Either';
import { Kafka } from 'kafkajs';
import { catalog } from '../../schemas/catalog';
import { ChargingEvent } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { ChargerState, commandCompleted, decide, evolve, initialCharger, publishedEvents } from '../../streams/normalizer/decide';
import { session16, session201, SessionScript } from '../../streams/normalizer/fixtures';
import { evolveAll } from '../../streams/runtime/fold';
import { committedOffsets } from '../../streams/sink/kafka-processor';
import { endOffsets } from '../../streams/sink/pg-sink';
import { readTopicUntil, uniq } from '../support/stack';
import { createTestTopics, deleteTestTopics, produce, testKafka, testSerde, TestTopics } from './support';
import { deleteChangelog } from './fold-support';
import { Runner, startRunner, until } from './runner-support';
import { readCommitted } from './tracker-support';

jest.setTimeout(600_000);

describe('fold runtime: two normalizer instances in one group, one SIGKILLed mid-batch, the other takes over', () => {
  let kafka: Kafka;
  let topics: TestTopics;
  const serde = testSerde();
  const runners: Runner[] = [];

  beforeAll(async () => {
    kafka = testKafka('takeover');
    topics = await createTestTopics(kafka, 6);
    const scripts: SessionScript[] = [];
    const t0 = Date.UTC(2026, 8, 1, 6, 0);
    for (let c = 0; c < 120; c++) {
      const chargePointId = uniq(`TAKE${c}`);
      for (let s = 0; s < 2; s++) scripts.push({ chargePointId, t0: t0 + s * 3 * 3600_000 + c * 1000, idTag: `T${c}`, meterStartWh: 20_000 * s, energyWh: 5000 + 11 * c + 700 * s, minutes: 60, every: 1, transactionId: String(c * 10 + s + 1), socStartPct: 15 });
    }
    const frames = scripts.flatMap((s, i) => (i % 2 === 0 ? session16(s) : session201({ ...s, kilo: true })));
    const seq = new Map<string, number>();
    const renumbered = frames.map((f) => {
      const n = (seq.get(f.chargePointId) ?? 0) + 1;
      seq.set(f.chargePointId, n);
      return { ...f, seq: n };
    });
    // Sent a few records at a time: small record batches, so that each fetch (8 KiB) and transaction holds a few frames
    // and both instances still have work when one is killed.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const encoded = await Promise.all(renumbered.map(async (f) => ({ key: f.chargePointId, value: await serde.encode(Topics.ocppFrames, f) })));
    for (let i = 0; i < encoded.length; i += 24) await producer.send({ topic: topics.frames, messages: encoded.slice(i, i + 24), acks: -1 });
    await producer.disconnect();
    await produce(
      kafka,
      serde,
      topics.commandResults,
      Topics.ocppCommandResults,
      scripts.slice(0, 60).map((s, i) => ({ key: s.chargePointId, value: { commandId: `cmd-${i}`, chargePointId: s.chargePointId, action: 'SetChargingProfile', outcome: i % 3 === 0 ? 'REJECTED' : 'ACCEPTED', status: null, responseJson: null, detail: null, gatewayId: 'gw', completedAt: t0 + i } })),
    );
  });

  afterAll(async () => {
    for (const r of runners) r.child.kill('SIGKILL');
    await Promise.all(runners.map((r) => r.exited));
    await deleteTestTopics(kafka, topics);
    await deleteChangelog(kafka, topics);
  });

  it('commits each expected event exactly once, with the content of one pure run over the frames', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', FOLD_LOG_LEVEL: process.env.FOLD_LOG_LEVEL ?? 'warn', FOLD_TOPICS: JSON.stringify(topics), FOLD_GROUP: uniq('takeover-normalizer'), FOLD_TXID: uniq('takeover-tx') };
    const inputs = [topics.frames, topics.commandResults];
    const ends = await endOffsets(kafka, inputs);
    const total = [...ends.values()].reduce((a, b) => a + b, 0);
    const committed = async () => [...(await committedOffsets(kafka, env.FOLD_GROUP!, inputs)).values()].reduce((a, b) => a + Math.max(0, b), 0);

    const a = startRunner('fold-runner.ts', env, topics.frames);
    runners.push(a);
    await until('the first instance commits', () => a.commits() >= 3);
    const b = startRunner('fold-runner.ts', env, topics.frames);
    runners.push(b);
    // Both hold frames partitions after the rebalance, and both commit.
    await until('both instances commit frames partitions', () => a.watchedPartitions().size > 0 && b.watchedPartitions().size > 0 && b.commits() >= 3).catch((e: Error) => {
      throw new Error(`${e.message}: A ${a.commits()} commits on frames partitions ${[...a.watchedPartitions()]}, B ${b.commits()} on ${[...b.watchedPartitions()]}`);
    });
    expect(a.instance()).toBeDefined();
    expect(b.instance()).not.toEqual(a.instance());

    // Kill the first instance in the middle of its next batch (right after a commit, before the next one).
    await a.nextCommit();
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 50)));
    a.child.kill('SIGKILL');
    expect(await a.exited).toBeNull();
    const atKill = await committed();
    process.stderr.write(`takeover test: ${total} input records, ${atKill} committed at the kill; instance A held frames partitions ${[...a.watchedPartitions()]}\n`);
    expect(atKill).toBeLessThan(total);

    await until('the second instance finishes every partition', async () => (await committed()) >= total, 240_000);
    // Only B was left to finish what A held; B is still alive.
    expect(b.child.exitCode).toBeNull();

    // What one pure run over the log decides, from every input record.
    const expected = new Map<string, ChargingEvent>();
    const byCp = new Map<string, ChargerState>();
    const frameTotal = [...ends].filter(([tp]) => tp.startsWith(`${topics.frames}:`)).reduce((x, [, n]) => x + n, 0);
    for (const r of await readTopicUntil<Record<string, unknown>>(topics.frames, (rs) => rs.length >= frameTotal, { timeoutMs: 60_000 })) {
      const frame = catalog.ocppFrames.decode(r.value);
      if (E.isLeft(frame)) throw new Error(frame.left);
      const before = byCp.get(r.key!) ?? initialCharger;
      const facts = decide(before, frame.right, { topic: topics.frames, partition: r.partition, offset: Number(r.offset) });
      byCp.set(r.key!, evolveAll(evolve, before, facts));
      for (const e of publishedEvents(facts)) expected.set(e.eventId, e);
    }
    for (const r of await readTopicUntil<Record<string, unknown>>(topics.commandResults, (rs) => rs.length >= 60, { timeoutMs: 30_000 })) {
      const result = catalog.ocppCommandResults.decode(r.value);
      if (E.isLeft(result)) throw new Error(result.left);
      const e = commandCompleted(result.right, { topic: topics.commandResults, partition: r.partition, offset: Number(r.offset) });
      expected.set(e.eventId, e);
    }

    // Read as the runtime reads (committed-records.ts): kafkajs's own read-committed filter can hand out records of the
    // killed instance's aborted transactions.
    const written = (await readCommitted<Record<string, unknown>>(kafka, serde, topics.events)).map((r) => {
      const e = catalog.chargingEvents.decode(r.value);
      if (E.isLeft(e)) throw new Error(e.left);
      return e.right;
    });
    const ids = written.map((e) => e.eventId);
    expect(ids.length).toBe(expected.size);
    expect(new Set(ids)).toEqual(new Set(expected.keys()));
    for (const e of written) expect(e).toEqual(expected.get(e.eventId));
    expect(written.filter((e) => e.body.type === 'CommandCompleted')).toHaveLength(60);
    expect(written.filter((e) => e.body.type === 'SessionEnded')).toHaveLength(240);
  });
});
