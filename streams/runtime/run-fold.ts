import { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import * as E from 'fp-ts/Either';
import { Registry } from 'prom-client';
import { decodeRecord, describeUndecodable } from '../../schemas/catalog';
import { TopicSerde } from '../../schemas/registry';
import { PartHandle } from '../../services/common/health';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { Logger } from '../../services/common/log';
import { consumerDied } from '../../services/common/supervise';
import { fetchedOffsetOf, groupTimeouts } from '../sink/consumer';
import { whileConcurrent } from '../sink/kafka-processor';
import { Changelog, changelogOf, fromStoreChange, toStoreChange } from './changelog';
import { evolveAll, FoldDefinition, InputTopics, Received } from './fold';
import { instanceId } from './instance';
import { foldMetrics } from './metrics';
import { PartitionReader, startPartitionReader } from './partition-reader';

/** Runs a fold (./fold.ts) Kafka → Kafka, exactly once, as one member of a consumer group.
 *
 *  Per assigned input partition it keeps a transactional producer whose id is `<prefix>-<topic>-<partition>` (kafkajs
 *  has no KIP-447: a transaction is fenced by its transactional id only, so the new owner of a partition fences the old
 *  one by initialising that id), and, for the store's input topic, the store partition: the states of the keys of that
 *  partition. Each batch is folded into a copy of the changed keys, then its outputs, the changed keys' states (to the
 *  changelog partition of the same number) and the input offset are committed in one transaction of that producer;
 *  only then do the changes reach the store. A newly assigned partition restores its store from its changelog (read
 *  committed, up to the end offset) after initialising the producer, so it costs the live keys, not the history. A
 *  failed transaction drops only its own partition's store and producer; the partition is then prepared again
 *  (producer, changelog, committed offset). A record that does not decode (or whose fold throws) is logged with its
 *  topic, partition and offset and skipped. */
export interface RunFoldOptions<S, I extends InputTopics, Ev, O> {
  readonly fold: FoldDefinition<S, I, Ev, O>;
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly log: Logger;
  readonly groupId: string;
  /** Prefix of the transactional ids; default the fold's name. */
  readonly transactionalIdPrefix?: string;
  /** Default `<fold>.<store>.changelog`. */
  readonly changelog?: Changelog;
  readonly metrics?: Registry;
  readonly part?: PartHandle;
  readonly maxBytesPerPartition?: number;
  readonly sessionTimeoutMs?: number;
  readonly partitionsConsumedConcurrently?: number;
  /** After each committed transaction. */
  readonly onCommitted?: (c: { topic: string; partition: number; records: number; nextOffset: number }) => void;
}

export interface RunningFold<S> {
  readonly instanceId: string;
  /** Settles when the fold stopped by itself (its consumer crashed for good). */
  readonly died: Promise<Error>;
  /** The store partitions this instance holds, by partition. */
  stores(): ReadonlyMap<number, ReadonlyMap<string, S>>;
  stop(): Promise<void>;
}

interface Task<S> {
  readonly topic: string;
  readonly partition: number;
  readonly stateful: boolean;
  producer: Producer | undefined;
  store: Map<string, S>;
  next: number;
  ready: Promise<void>;
  broken: boolean;
  closed: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const yieldToLoop = () => new Promise((r) => setImmediate(r));

export const runFold = async <S, I extends InputTopics, Ev, O>(o: RunFoldOptions<S, I, Ev, O>): Promise<RunningFold<S>> => {
  const { fold, serde, log } = o;
  const id = instanceId();
  const store = fold.store;
  const storeTopic = fold.inputs[store.input]!.name;
  const changelog = o.changelog ?? changelogOf(fold.name, store.name);
  const prefix = o.transactionalIdPrefix ?? fold.name;
  const metrics = foldMetrics(o.metrics);
  const roles = new Map(Object.entries(fold.inputs).map(([role, input]) => [input.name, { role, input }]));
  o.part?.starting();

  const admin: Admin = o.kafka.admin();
  await admin.connect();
  await ensureChangelog(admin, storeTopic, changelog.name);
  const reader: PartitionReader = await startPartitionReader({ kafka: o.kafka, groupId: `${prefix}-reader-${id}`, topics: [changelog.name, storeTopic], log });

  const tasks = new Map<string, Task<S>>();
  const restoring = new Map<string, { done: number; total: number }>();
  const lag = new Map<string, number>();
  const report = () => {
    if (!o.part) return;
    if (restoring.size > 0) {
      let done = 0;
      let total = 0;
      for (const r of restoring.values()) {
        done += r.done;
        total += r.total;
      }
      o.part.restoring({ done, total }, `${restoring.size} partition(s) of ${changelog.name}`);
    } else o.part.running();
    o.part.lag([...lag.values()].reduce((a, b) => a + b, 0));
  };

  const decodeInput = async (topic: string, partition: number, m: KafkaMessage): Promise<E.Either<string, Received<I>>> => {
    const r = roles.get(topic);
    if (!r) return E.left(`${topic} is not an input of ${fold.name}`);
    if (!m.value) return E.left(`${topic}[${partition}]@${m.offset}: no value`);
    let raw: unknown;
    try {
      raw = await serde.decode(m.value);
    } catch (e) {
      return E.left(`${topic}[${partition}]@${m.offset}: not Avro of a registered schema: ${(e as Error).message}`);
    }
    const offset = Number(m.offset);
    const decoded = decodeRecord({ name: topic, decode: r.input.decode }, { partition, offset }, raw);
    if (E.isLeft(decoded)) return E.left(describeUndecodable(decoded.left));
    // The role and the decoder come from the same entry of `fold.inputs`: the pair is a Received<I>.
    const input = { from: r.role, value: decoded.right, key: m.key?.toString() ?? null, source: { topic, partition, offset } } as Received<I>;
    return E.right(input);
  };

  /** Reads the store partition from its changelog; rebuilds it from the input's history if it has another shape. */
  const restore = async (task: Task<S>, upTo: number): Promise<Map<string, S>> => {
    const tp = `${task.topic}:${task.partition}`;
    const ends = (await admin.fetchTopicOffsets(changelog.name)).find((p) => p.partition === task.partition);
    if (!ends) throw new Error(`${changelog.name} has no partition ${task.partition}`);
    const low = Number(ends.low);
    const high = Number(ends.high);
    const states = new Map<string, S>();
    const otherShape = new Set<string>();
    const started = Date.now();
    restoring.set(tp, { done: 0, total: high - low });
    report();
    let records = 0;
    await reader.read(changelog.name, task.partition, low, high, async (msgs) => {
      for (const m of msgs) {
        const key = m.key?.toString();
        if (key === undefined) continue;
        records++;
        if (!m.value) {
          states.delete(key);
          otherShape.delete(key);
          continue;
        }
        const entry = fromStoreChange(store.codec, store.shape, await serde.decode(m.value));
        if (E.isLeft(entry)) {
          log.error('changelog record does not decode; key skipped', { topic: changelog.name, partition: task.partition, offset: m.offset, reason: entry.left });
        } else if (entry.right.kind === 'shape') {
          otherShape.add(key);
          states.delete(key);
        } else {
          states.set(key, entry.right.state);
          otherShape.delete(key);
        }
      }
      const last = Number(msgs[msgs.length - 1]!.offset);
      restoring.set(tp, { done: last + 1 - low, total: high - low });
      metrics.restore(fold.name, store.name, task.partition, last + 1 - low, high - low);
      report();
      await yieldToLoop();
    });
    log.info('store restored from changelog', { store: store.name, partition: task.partition, keys: states.size, records, ms: Date.now() - started });
    restoring.delete(tp);
    if (otherShape.size === 0) return states;
    return rebuild(task, upTo, otherShape);
  };

  /** A changelog of another shape: fold the input's history up to the committed offset once, and write the result. */
  const rebuild = async (task: Task<S>, upTo: number, stale: ReadonlySet<string>): Promise<Map<string, S>> => {
    const tp = `${task.topic}:${task.partition}`;
    const ends = (await admin.fetchTopicOffsets(task.topic)).find((p) => p.partition === task.partition)!;
    const low = Number(ends.low);
    log.warn('store shape changed: rebuilding the store partition from the input history', { store: store.name, shape: store.shape, partition: task.partition, from: low, upTo, staleKeys: stale.size });
    const states = new Map<string, S>();
    let lastLogged = Date.now();
    restoring.set(tp, { done: 0, total: upTo - low });
    await reader.read(task.topic, task.partition, low, upTo, async (msgs) => {
      for (const m of msgs) {
        const input = await decodeInput(task.topic, task.partition, m);
        if (E.isLeft(input)) continue;
        const key = store.keyOf(input.right);
        const s = states.get(key) ?? store.initial;
        states.set(key, evolveAll(fold.evolve, s, fold.decide(s, input.right)));
      }
      const done = Number(msgs[msgs.length - 1]!.offset) + 1 - low;
      restoring.set(tp, { done, total: upTo - low });
      report();
      if (Date.now() - lastLogged > 2000) {
        lastLogged = Date.now();
        log.info('rebuilding store partition', { store: store.name, partition: task.partition, done, total: upTo - low });
      }
      await yieldToLoop();
    });
    const txn = await task.producer!.transaction();
    try {
      const messages = [];
      for (const [key, s] of states) messages.push({ key, partition: task.partition, value: await serde.encode(changelog.schemaTopic, toStoreChange(`${fold.name}.${store.name}`, store.shape, s)) });
      for (const key of stale) if (!states.has(key)) messages.push({ key, partition: task.partition, value: null });
      for (let i = 0; i < messages.length; i += 5000) await txn.send({ topic: changelog.name, messages: messages.slice(i, i + 5000), acks: DURABLE_ACKS });
      await txn.commit();
    } catch (e) {
      await txn.abort().catch(() => undefined);
      throw e;
    }
    restoring.delete(tp);
    log.info('store partition rebuilt', { store: store.name, partition: task.partition, keys: states.size });
    return states;
  };

  const committedOffset = async (topic: string, partition: number): Promise<number> => {
    const [t] = await admin.fetchOffsets({ groupId: o.groupId, topics: [topic] });
    const c = Number(t?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    if (c >= 0) return c;
    const ends = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === partition);
    return Number(ends?.low ?? 0);
  };

  const consumer: Consumer = o.kafka.consumer({ groupId: o.groupId, maxWaitTimeInMs: 100, maxBytesPerPartition: o.maxBytesPerPartition ?? 2 * 1024 * 1024, readUncommitted: false, ...groupTimeouts(o.sessionTimeoutMs) });

  const prepare = async (task: Task<S>, seek: boolean): Promise<void> => {
    const old = task.producer;
    task.producer = undefined;
    await old?.disconnect().catch(() => undefined);
    // Initialising the transactional id fences the partition's previous owner and ends its open transaction, so the
    // changelog's end offset read afterwards is final.
    const producer = createDurableProducer(o.kafka, { transactionalId: `${prefix}-${task.topic}-${task.partition}` });
    await producer.connect();
    if (task.closed) {
      await producer.disconnect();
      return;
    }
    task.producer = producer;
    const next = await committedOffset(task.topic, task.partition);
    if (task.stateful) {
      task.store = await restore(task, next);
      metrics.stateKeys(fold.name, store.name, task.partition, task.store.size);
    }
    task.next = next;
    if (seek) consumer.seek({ topic: task.topic, partition: task.partition, offset: String(next) });
    report();
  };

  const open = (topic: string, partition: number): Task<S> => {
    const task: Task<S> = { topic, partition, stateful: topic === storeTopic, producer: undefined, store: new Map(), next: 0, ready: Promise.resolve(), broken: false, closed: false };
    tasks.set(`${topic}:${partition}`, task);
    task.ready = start(task, false);
    return task;
  };

  const start = (task: Task<S>, seek: boolean): Promise<void> =>
    prepare(task, seek).catch((e: unknown) => {
      restoring.delete(`${task.topic}:${task.partition}`);
      task.broken = true;
      log.warn('partition not prepared; retried with its next batch', { topic: task.topic, partition: task.partition, err: e as Error });
    });

  const close = (task: Task<S>) => {
    task.closed = true;
    tasks.delete(`${task.topic}:${task.partition}`);
    restoring.delete(`${task.topic}:${task.partition}`);
    lag.delete(`${task.topic}:${task.partition}`);
    metrics.forget(fold.name, task.topic, store.name, task.partition);
    void task.ready.finally(() => task.producer?.disconnect().catch(() => undefined));
  };

  const waitBeating = async (p: Promise<void>, heartbeat: () => Promise<void>) => {
    let done = false;
    void p.finally(() => (done = true));
    while (!done) {
      await Promise.race([p, sleep(1000)]);
      if (!done) await heartbeat();
    }
  };

  const eachBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> => {
    const { topic, partition } = batch;
    if (!isRunning() || isStale()) return;
    const task = tasks.get(`${topic}:${partition}`) ?? open(topic, partition);
    await waitBeating(task.ready, heartbeat);
    if (task.closed || isStale()) return;
    if (task.broken) {
      task.broken = false;
      task.ready = start(task, true);
      await waitBeating(task.ready, heartbeat);
      return;
    }
    const producer = task.producer;
    if (!producer || batch.messages.length === 0 || fetchedOffsetOf(batch) > task.next) return;

    const changed = new Map<string, S>();
    const outputs: { key: string; value: Buffer }[] = [];
    let folded = 0;
    let beat = Date.now();
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset < task.next) continue;
      folded++;
      if (folded % 500 === 0) {
        // Long folds give the event loop (and so the group's heartbeats) a turn.
        await yieldToLoop();
        if (Date.now() - beat > 1000) {
          await heartbeat();
          beat = Date.now();
        }
      }
      const input = await decodeInput(topic, partition, m);
      if (E.isLeft(input)) {
        metrics.undecodable(fold.name, topic);
        log.error('input record does not decode; skipped', { processor: fold.name, topic, partition, offset, reason: input.left });
        continue;
      }
      try {
        const key = task.stateful ? store.keyOf(input.right) : undefined;
        const before = key === undefined ? store.initial : (changed.get(key) ?? task.store.get(key) ?? store.initial);
        const events = fold.decide(before, input.right);
        const encoded: { key: string; value: Buffer }[] = [];
        for (const e of events) {
          const out = fold.publish(e);
          if (out) encoded.push({ key: out.key, value: await serde.encode(fold.output.schemaTopic, fold.output.encode(out.value)) });
        }
        if (key !== undefined) {
          const after = evolveAll(fold.evolve, before, events);
          if (after !== before) changed.set(key, after);
        }
        outputs.push(...encoded);
      } catch (e) {
        // A fold that throws on a record, or an output the schema refuses, is a bug to fix; the record is skipped
        // so that the partition does not stall behind it.
        log.error('input record not folded; skipped', { processor: fold.name, topic, partition, offset, err: e as Error });
      }
    }
    const upTo = Number(batch.lastOffset()) + 1;
    const txn = await producer.transaction();
    try {
      const changes = [];
      for (const [key, s] of changed) changes.push({ key, partition, value: await serde.encode(changelog.schemaTopic, toStoreChange(`${fold.name}.${store.name}`, store.shape, s)) });
      const topicMessages = [];
      if (outputs.length > 0) topicMessages.push({ topic: fold.output.name, messages: outputs });
      if (changes.length > 0) topicMessages.push({ topic: changelog.name, messages: changes });
      if (topicMessages.length > 0) await txn.sendBatch({ topicMessages, acks: DURABLE_ACKS });
      await whileConcurrent(() => txn.sendOffsets({ consumerGroupId: o.groupId, topics: [{ topic, partitions: [{ partition, offset: String(upTo) }] }] }));
      await txn.commit();
    } catch (e) {
      await txn.abort().catch(() => undefined);
      task.broken = true;
      log.warn('transaction failed; this partition reloads its store from the changelog and resumes at its committed offset', { processor: fold.name, topic, partition, err: e as Error });
      return;
    }
    for (const [key, s] of changed) task.store.set(key, s);
    task.next = upTo;
    resolveOffset(batch.lastOffset());
    lag.set(`${topic}:${partition}`, Math.max(0, Number(batch.highWatermark) - upTo));
    metrics.lag(fold.name, topic, partition, Math.max(0, Number(batch.highWatermark) - upTo));
    if (task.stateful) metrics.stateKeys(fold.name, store.name, partition, task.store.size);
    report();
    o.onCommitted?.({ topic, partition, records: folded, nextOffset: upTo });
    await heartbeat();
  };

  const c = consumer;
  c.on(c.events.GROUP_JOIN, ({ payload }) => {
    const assigned = new Set(Object.entries(payload.memberAssignment).flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)));
    for (const [tp, task] of tasks) if (!assigned.has(tp)) close(task);
    for (const tp of assigned) {
      if (tasks.has(tp)) continue;
      const at = tp.lastIndexOf(':');
      open(tp.slice(0, at), Number(tp.slice(at + 1)));
    }
    log.info('partitions assigned', { processor: fold.name, instance: id, partitions: [...assigned].sort() });
  });
  const died = Promise.race([consumerDied(c), reader.died]);
  await c.connect();
  for (const input of Object.values(fold.inputs)) await c.subscribe({ topic: input.name, fromBeginning: true });
  await c.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 4, eachBatch });

  return {
    instanceId: id,
    died,
    stores: () => new Map([...tasks.values()].filter((t) => t.stateful).map((t) => [t.partition, t.store])),
    stop: async () => {
      await c.disconnect();
      for (const task of [...tasks.values()]) close(task);
      await Promise.all([...tasks.values()].map((t) => t.producer?.disconnect().catch(() => undefined)));
      await reader.stop();
      await admin.disconnect();
    },
  };
};

/** The changelog has as many partitions as the store's input (created if missing, e.g. a test's own topics). */
const ensureChangelog = async (admin: Admin, input: string, changelog: string): Promise<void> => {
  const meta = await admin.fetchTopicMetadata({ topics: [input] });
  const partitions = meta.topics[0]?.partitions.length ?? 0;
  if ((await admin.listTopics()).includes(changelog)) {
    const have = (await admin.fetchTopicMetadata({ topics: [changelog] })).topics[0]?.partitions.length ?? 0;
    if (have !== partitions) throw new Error(`${changelog} has ${have} partitions, its input ${input} ${partitions}: a store partition must match its input partition`);
    return;
  }
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic: changelog, numPartitions: partitions, replicationFactor: -1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'segment.bytes', value: String(8 * 1024 * 1024) }, { name: 'min.cleanable.dirty.ratio', value: '0.1' }] }],
  });
};
