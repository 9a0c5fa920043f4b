import * as E from 'fp-ts/Either';
import { Kafka, Partitioners } from 'kafkajs';
import { catalog } from '../../schemas/catalog';
import { ChargingEvent } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { createHealth } from '../../services/common/health';
import { createLogger } from '../../services/common/log';
import { ChargerState, decide, evolve, initialCharger, publishedEvents } from '../../streams/normalizer/decide';
import { session16, session201 } from '../../streams/normalizer/fixtures';
import { OcppFrame } from '../../streams/normalizer/frame';
import { evolveAll } from '../../streams/runtime/fold';
import { RunningFold } from '../../streams/runtime/run-fold';
import { endOffsets } from '../../streams/sink/pg-sink';
import { readTopicUntil, uniq, waitForValue } from '../support/stack';
import { createTestTopics, deleteTestTopics, produce, quietLog, testKafka, testSerde, TestTopics, waitForGroup } from './support';
import { createNormalizer } from '../../streams/normalizer/processor';
import { startKafkaProcessor } from '../../streams/sink/kafka-processor';
import { deleteChangelog, startFoldNormalizer, testChangelog } from './fold-support';

jest.setTimeout(240_000);

const t0 = Date.UTC(2026, 4, 4, 6, 0);

const partitionOf = Partitioners.DefaultPartitioner();
const partitionsOfTestTopics = Array.from({ length: 3 }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));

/** A fresh charger id that the producer's partitioner puts on `partition`: tests that expect every store partition
 *  to hold state cannot leave it to chance (nine random ids miss one of three partitions about one time in thirteen). */
const chargerIdOn = (prefix: string, partition: number): string => {
  for (;;) {
    const id = uniq(prefix);
    if (partitionOf({ topic: 'any', partitionMetadata: partitionsOfTestTopics, message: { key: id, value: null } }) === partition) return id;
  }
};

/** Chargers each with one session, cut in two: the history, and what follows it; charger c on partition c mod 3. */
const chargers = (n: number, prefix: string): { history: OcppFrame[]; rest: OcppFrame[] } => {
  const history: OcppFrame[] = [];
  const rest: OcppFrame[] = [];
  for (let c = 0; c < n; c++) {
    const script = { chargePointId: chargerIdOn(`${prefix}${c}`, c % 3), t0: t0 + c * 1000, idTag: `T${c}`, meterStartWh: 1000 * c, energyWh: 6000 + 10 * c, minutes: 40, every: 2, transactionId: String(c + 1), socStartPct: 30 };
    const frames = c % 2 === 0 ? session16(script) : session201({ ...script, kilo: true });
    const cut = 12 + (c % 7);
    history.push(...frames.slice(0, cut));
    rest.push(...frames.slice(cut));
  }
  return { history, rest };
};

/** The state of every charger and every event id after one pure run over what the topic holds. */
const pureRun = async (frames: string): Promise<{ states: Map<string, ChargerState>; events: Map<string, ChargingEvent> }> => {
  const ends = await endOffsets(testKafka(), [frames]);
  const total = [...ends.values()].reduce((a, b) => a + b, 0);
  const states = new Map<string, ChargerState>();
  const events = new Map<string, ChargingEvent>();
  for (const r of await readTopicUntil<Record<string, unknown>>(frames, (rs) => rs.length >= total, { timeoutMs: 30_000 })) {
    const f = catalog.ocppFrames.decode(r.value);
    if (E.isLeft(f)) continue;
    const before = states.get(r.key!) ?? initialCharger;
    const facts = decide(before, f.right, { topic: frames, partition: r.partition, offset: Number(r.offset) });
    states.set(r.key!, evolveAll(evolve, before, facts));
    for (const e of publishedEvents(facts)) events.set(e.eventId, e);
  }
  return { states, events };
};

const storeContents = (running: RunningFold<ChargerState>): Map<string, ChargerState> => new Map([...running.stores().values()].flatMap((s) => [...s]));

const capture = () => {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger('fold-test', 'info', {}, (line) => lines.push(JSON.parse(line) as Record<string, unknown>)) };
};

describe('fold runtime (real Kafka and registry)', () => {
  const serde = testSerde();
  let kafka: Kafka;
  const made: TestTopics[] = [];
  const running: RunningFold<ChargerState>[] = [];

  beforeAll(() => {
    kafka = testKafka('fold-runtime');
  });

  afterAll(async () => {
    for (const r of running) await r.stop().catch(() => undefined);
    for (const t of made) {
      await deleteTestTopics(kafka, t);
      await deleteChangelog(kafka, t);
    }
  });

  const fresh = async () => {
    const t = await createTestTopics(kafka, 3);
    made.push(t);
    return t;
  };

  it('restarts from the changelog, not the input history: with the history deleted, the state comes back and the next frames fold onto it', async () => {
    const topics = await fresh();
    const { history, rest } = chargers(24, 'RST');
    await produce(kafka, serde, topics.frames, Topics.ocppFrames, history.map((f) => ({ key: f.chargePointId, value: f })));
    const groupId = uniq('fold-restart');
    const transactionalIdPrefix = uniq('fold-restart-tx');
    const first = await startFoldNormalizer(kafka, serde, topics, groupId, { transactionalIdPrefix });
    running.push(first);
    await waitForGroup(kafka, groupId, [topics.frames]);
    await first.stop();
    const expected = await pureRun(topics.frames);
    expect([...expected.states.values()].filter((s) => Object.keys(s.sessions).length > 0).length).toBeGreaterThan(10);

    // Gone from the input: a restart that re-read history would find nothing to fold.
    const admin = kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [topics.frames] });
    const ends = await endOffsets(kafka, [topics.frames]);
    await admin.deleteTopicRecords({ topic: topics.frames, partitions: [...ends].map(([tp, end]) => ({ partition: Number(tp.split(':').pop()), offset: String(end) })) });
    await admin.disconnect();

    const health = createHealth();
    const part = health.part('normalizer');
    const statuses: string[] = [];
    const watcher = setInterval(() => statuses.push(health.report().parts.normalizer?.status ?? 'none'), 5);
    const second = await startFoldNormalizer(kafka, serde, topics, groupId, { transactionalIdPrefix, part });
    running.push(second);
    await waitForValue('three store partitions restored', () => (second.stores().size === 3 && health.report().ready ? true : undefined), 60_000, 50);
    clearInterval(watcher);
    expect(storeContents(second)).toEqual(expected.states);
    expect(statuses).toContain('running');

    await produce(kafka, serde, topics.frames, Topics.ocppFrames, rest.map((f) => ({ key: f.chargePointId, value: f })));
    await waitForGroup(kafka, groupId, [topics.frames]);
    const ended = (await readTopicUntil<Record<string, unknown>>(topics.events, (rs) => rs.filter((r) => 'io.voltstream.events.SessionEnded' in (r.value.body as object)).length >= 24, { timeoutMs: 30_000 }))
      .map((r) => catalog.chargingEvents.decode(r.value))
      .flatMap((e) => (E.isRight(e) && e.right.body.type === 'SessionEnded' ? [e.right.body] : []));
    // meterStartWh and the energy come from the session the restored state had open.
    expect(ended).toHaveLength(24);
    for (const b of ended) expect(b.energyWh).toBeCloseTo(6000 + 10 * (Number(b.transactionId) - 1), 6);
  });

  /** A group that folded `history` to its end and stopped, with its offsets then rewound to 0: what a read just after
   *  the fence can return (the offsets before the last transactions). */
  const foldedThenRewound = async (history: readonly OcppFrame[], name: string) => {
    const topics = await fresh();
    await produce(kafka, serde, topics.frames, Topics.ocppFrames, history.map((f) => ({ key: f.chargePointId, value: f })));
    const groupId = uniq(name);
    const transactionalIdPrefix = uniq(`${name}-tx`);
    const first = await startFoldNormalizer(kafka, serde, topics, groupId, { transactionalIdPrefix });
    running.push(first);
    await waitForGroup(kafka, groupId, [topics.frames]);
    await first.stop();
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId, topic: topics.frames, partitions: [0, 1, 2].map((partition) => ({ partition, offset: '0' })) });
    await admin.disconnect();
    return { topics, groupId, transactionalIdPrefix };
  };

  it('resumes at its last transaction’s position when the group’s committed offset is behind it (a stale read after the fence): nothing is folded or output twice', async () => {
    const { history, rest } = chargers(12, 'POS');
    const { topics, groupId, transactionalIdPrefix } = await foldedThenRewound(history, 'fold-position');

    const { lines, log } = capture();
    const second = await startFoldNormalizer(kafka, serde, topics, groupId, { transactionalIdPrefix, log });
    running.push(second);
    await produce(kafka, serde, topics.frames, Topics.ocppFrames, rest.map((f) => ({ key: f.chargePointId, value: f })));
    await waitForGroup(kafka, groupId, [topics.frames]);
    await second.stop();

    const expected = await pureRun(topics.frames);
    // Everything committed, to the end of every partition (a partition ends in a commit marker, which no reader sees).
    const ends = await endOffsets(kafka, [topics.events]);
    const read = (rs: { partition: number; offset: string }[]) =>
      [...ends].every(([tp, end]) => end === 0 || rs.some((r) => `${topics.events}:${r.partition}` === tp && Number(r.offset) >= end - 2));
    const ids = (await readTopicUntil<Record<string, unknown>>(topics.events, read, { timeoutMs: 60_000 })).map((r) => String(r.value.eventId));
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(expected.events.keys()));
    expect(lines.filter((l) => l.msg === 'the group’s committed offset is behind the last transaction’s position: resuming at the position').length).toBeGreaterThan(0);
  });

  it('rebuilding a store of another shape folds the input as far as the last transaction went, also when the group’s offset lags', async () => {
    const { topics, groupId, transactionalIdPrefix } = await foldedThenRewound(chargers(12, 'RBP').history, 'fold-rebuild-position');

    const health = createHealth();
    const second = await startFoldNormalizer(kafka, serde, topics, groupId, { transactionalIdPrefix, shape: 99, part: health.part('normalizer') });
    running.push(second);
    await waitForValue('three store partitions rebuilt', () => (second.stores().size === 3 && health.report().ready ? true : undefined), 60_000, 50);
    expect(storeContents(second)).toEqual((await pureRun(topics.frames)).states);
  });

  it('fences the previous owner of a partition before restoring it: a transaction it left open on the changelog is aborted, not waited for', async () => {
    const topics = await fresh();
    const { history } = chargers(6, 'FNC');
    await produce(kafka, serde, topics.frames, Topics.ocppFrames, history.map((f) => ({ key: f.chargePointId, value: f })));
    const groupId = uniq('fold-fence');
    const transactionalIdPrefix = uniq('fold-fence-tx');
    const first = await startFoldNormalizer(kafka, serde, topics, groupId, { transactionalIdPrefix });
    running.push(first);
    await waitForGroup(kafka, groupId, [topics.frames]);
    const expected = storeContents(first);
    await first.stop();

    // An owner of partition 0 that died in the middle of a transaction, a changelog record written: left to its
    // transaction timeout (10 minutes here), the restore of partition 0 could not read past it until then.
    const zombie = kafka.producer({ idempotent: true, maxInFlightRequests: 1, transactionalId: `${transactionalIdPrefix}-${topics.frames}-0`, transactionTimeout: 600_000 });
    await zombie.connect();
    const txn = await zombie.transaction();
    await txn.send({ topic: testChangelog(topics).name, messages: [{ key: 'zombie', partition: 0, value: Buffer.from('never committed') }], acks: -1 });

    const health = createHealth();
    const second = await startFoldNormalizer(kafka, serde, topics, groupId, { transactionalIdPrefix, part: health.part('normalizer') });
    running.push(second);
    await waitForValue('three store partitions restored', () => (second.stores().size === 3 && health.report().ready ? true : undefined), 60_000, 50);
    expect(storeContents(second)).toEqual(expected);
    await expect(txn.commit()).rejects.toThrow();
    await zombie.disconnect();
  });

  it('logs a record that does not decode with topic, partition and offset, skips it, and goes on with the partition', async () => {
    const topics = await fresh();
    const { history } = chargers(2, 'BAD');
    const producer = kafka.producer();
    await producer.connect();
    const notAFrame = await serde.encode(Topics.ocppCommandResults, { commandId: 'c', chargePointId: 'x', action: 'Reset', outcome: 'ACCEPTED', status: null, responseJson: null, detail: null, gatewayId: 'gw', completedAt: t0 });
    await producer.send({ topic: topics.frames, messages: [{ key: 'x', value: Buffer.from('not avro at all'), partition: 0 }, { key: 'x', value: notAFrame, partition: 0 }] });
    await producer.send({ topic: topics.frames, messages: await Promise.all(history.map(async (f) => ({ key: f.chargePointId, value: await serde.encode(Topics.ocppFrames, f), partition: 0 }))) });
    await producer.disconnect();
    const { lines, log } = capture();
    const groupId = uniq('fold-bad');
    const r = await startFoldNormalizer(kafka, serde, topics, groupId, { log });
    running.push(r);
    await waitForGroup(kafka, groupId, [topics.frames]);
    const skipped = lines.filter((l) => l.msg === 'input record does not decode; skipped');
    expect(skipped.map((l) => [l.topic, l.partition, l.offset])).toEqual([
      [topics.frames, 0, 0],
      [topics.frames, 0, 1],
    ]);
    expect(String(skipped[1]!.reason)).toMatch(/frameId/);
    // The frames after the two bad records, at offsets 2, 3, ... of partition 0.
    const expected = new Set<string>();
    const states = new Map<string, ChargerState>();
    history.forEach((f, i) => {
      const before = states.get(f.chargePointId) ?? initialCharger;
      const facts = decide(before, f, { topic: topics.frames, partition: 0, offset: i + 2 });
      states.set(f.chargePointId, evolveAll(evolve, before, facts));
      for (const e of publishedEvents(facts)) expected.add(e.eventId);
    });
    expect(expected.size).toBeGreaterThan(10);
    const written = await readTopicUntil<Record<string, unknown>>(topics.events, (rs) => rs.length >= expected.size, { timeoutMs: 30_000 });
    expect(new Set(written.map((w) => String(w.value.eventId)))).toEqual(expected);
  });

  it('takes over a group from the old re-reading processor: no changelog yet, so each store partition is rebuilt from history once', async () => {
    const topics = await fresh();
    const { history, rest } = chargers(12, 'OLD');
    await produce(kafka, serde, topics.frames, Topics.ocppFrames, history.map((f) => ({ key: f.chargePointId, value: f })));
    const groupId = uniq('fold-from-old');
    const old = await startKafkaProcessor({ name: 'normalizer', groupId, transactionalId: uniq('old-tx'), inputs: [topics.frames, topics.commandResults], output: topics.events, kafka, serde, log: quietLog, processor: createNormalizer(topics) });
    await waitForGroup(kafka, groupId, [topics.frames]);
    await old.stop();
    const expected = await pureRun(topics.frames);

    const { lines, log } = capture();
    const next = await startFoldNormalizer(kafka, serde, topics, groupId, { log });
    running.push(next);
    await waitForValue('stores rebuilt', () => (next.stores().size === 3 && lines.filter((l) => l.msg === 'store partition rebuilt').length === 3 ? true : undefined), 60_000, 50);
    expect(storeContents(next)).toEqual(expected.states);
    await produce(kafka, serde, topics.frames, Topics.ocppFrames, rest.map((f) => ({ key: f.chargePointId, value: f })));
    await waitForGroup(kafka, groupId, [topics.frames]);
    const all = await pureRun(topics.frames);
    const written = await readTopicUntil<Record<string, unknown>>(topics.events, (rs) => rs.length >= all.events.size, { timeoutMs: 30_000 });
    // Each event once: the old processor's, then the runtime's, with nothing repeated at the hand-over.
    expect(written.map((w) => String(w.value.eventId)).sort()).toEqual([...all.events.keys()].sort());
  });

  it('rebuilds a store once from the input history when the shape of its state changed, and restores the next time', async () => {
    const topics = await fresh();
    const { history } = chargers(9, 'SHP');
    await produce(kafka, serde, topics.frames, Topics.ocppFrames, history.map((f) => ({ key: f.chargePointId, value: f })));
    const groupId = uniq('fold-shape');
    const transactionalIdPrefix = uniq('fold-shape-tx');
    const v1 = await startFoldNormalizer(kafka, serde, topics, groupId, { transactionalIdPrefix });
    running.push(v1);
    await waitForGroup(kafka, groupId, [topics.frames]);
    await v1.stop();
    const expected = await pureRun(topics.frames);

    const rebuilt = capture();
    const v2 = await startFoldNormalizer(kafka, serde, topics, groupId, { transactionalIdPrefix, shape: 2, log: rebuilt.log });
    running.push(v2);
    await waitForValue('stores rebuilt', () => (v2.stores().size === 3 && rebuilt.lines.filter((l) => l.msg === 'store partition rebuilt').length === 3 ? true : undefined), 60_000, 50);
    expect(storeContents(v2)).toEqual(expected.states);
    expect(rebuilt.lines.filter((l) => l.msg === 'store shape changed: rebuilding the store partition from the input history')).toHaveLength(3);
    await v2.stop();

    const again = capture();
    const v2b = await startFoldNormalizer(kafka, serde, topics, groupId, { transactionalIdPrefix, shape: 2, log: again.log });
    running.push(v2b);
    await waitForValue('stores restored', () => (again.lines.filter((l) => l.msg === 'store restored from changelog').length === 3 ? true : undefined), 60_000, 50);
    expect(storeContents(v2b)).toEqual(expected.states);
    expect(again.lines.filter((l) => String(l.msg).startsWith('store shape changed'))).toEqual([]);
  });
});
