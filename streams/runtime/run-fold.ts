import { Admin, Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { TopicSerde } from '../../schemas/registry';
import { PartHandle } from '../../services/common/health';
import { createDurableProducer, DURABLE_ACKS, initTransactions } from '../../services/common/kafka';
import { Logger } from '../../services/common/log';
import { consumerDied } from '../../services/common/supervise';
import { batchedFetch, fetchedOffsetOf, groupTimeouts } from '../sink/consumer';
import { whileConcurrent } from '../sink/kafka-processor';
import { Changelog, changelogOf } from './changelog';
import { committedMessagesOf } from './committed-records';
import { inputDecoder } from './decode-input';
import { FoldDefinition, InputTopics } from './fold';
import { foldBatch } from './fold-batch';
import { instanceId } from './instance';
import { foldMetrics } from './metrics';
import { PartitionReader, startPartitionReader } from './partition-reader';
import { changeRecord, positionRecord, restoreStore } from './restore';

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
  /** Its group's consumer (for a supervisor's lag monitor: a crash shows as down until it joins again). */
  readonly consumers: readonly Consumer[];
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
  /** The batch being folded and committed, if any: the producer is not disconnected under it. */
  busy: Promise<void>;
  broken: boolean;
  closed: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const yieldToLoop = () => new Promise((r) => setImmediate(r));

export const runFold = async <S, I extends InputTopics, Ev, O>(o: RunFoldOptions<S, I, Ev, O>): Promise<RunningFold<S>> => {
  const { fold, serde, log } = o;
  const id = instanceId();
  const store = fold.store;
  // A stateless fold (no store: a router) has no changelog and restores nothing.
  const storeTopic = store ? fold.inputs[store.input]!.name : undefined;
  const storeName = store?.name ?? '';
  const changelog = store ? (o.changelog ?? changelogOf(fold.name, store.name)) : undefined;
  const prefix = o.transactionalIdPrefix ?? fold.name;
  const metrics = foldMetrics(o.metrics);
  o.part?.starting();

  const admin: Admin = o.kafka.admin();
  await admin.connect();
  if (storeTopic && changelog) await ensureChangelog(admin, storeTopic, changelog.name);
  const reader: PartitionReader | undefined = storeTopic && changelog ? await startPartitionReader({ kafka: o.kafka, groupId: `${prefix}-reader-${id}`, topics: [changelog.name, storeTopic], log }) : undefined;

  const tasks = new Map<string, Task<S>>();
  const restoring = new Map<string, { done: number; total: number }>();
  /** Partitions whose producer, store or offset is being set up. */
  const preparing = new Set<string>();
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
      o.part.restoring({ done, total }, `${restoring.size} partition(s) of ${changelog?.name ?? ''}`);
    } else if (preparing.size > 0) o.part.starting(`preparing ${preparing.size} partition(s)`);
    else o.part.running();
    o.part.lag([...lag.values()].reduce((a, b) => a + b, 0));
  };

  const decode = inputDecoder(fold.inputs, serde);
  const restoreContext =
    store && reader && changelog
      ? {
          fold: { ...fold, store },
          admin,
          reader,
          serde,
          changelog,
          decode,
          log,
          progress: (partition: number, done: number, total: number) => {
            restoring.set(`${storeTopic}:${partition}`, { done, total });
            metrics.restore(fold.name, store.name, partition, done, total);
            report();
          },
        }
      : undefined;

  const committedOffset = async (topic: string, partition: number): Promise<number> => {
    const [t] = await admin.fetchOffsets({ groupId: o.groupId, topics: [topic] });
    const c = Number(t?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    if (c >= 0) return c;
    const ends = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === partition);
    return Number(ends?.low ?? 0);
  };

  const consumer: Consumer = o.kafka.consumer({ groupId: o.groupId, ...batchedFetch, maxBytesPerPartition: o.maxBytesPerPartition ?? 2 * 1024 * 1024, readUncommitted: false, ...groupTimeouts(o.sessionTimeoutMs) });

  const prepare = async (task: Task<S>, seek: boolean): Promise<void> => {
    const old = task.producer;
    task.producer = undefined;
    await old?.disconnect().catch(() => undefined);
    // Initialising the transactional id fences the partition's previous owner and ends its open transaction, so the
    // changelog's end offset read afterwards is final.
    const producer = createDurableProducer(o.kafka, { transactionalId: `${prefix}-${task.topic}-${task.partition}` });
    await producer.connect();
    // kafkajs's connect() does not initialise the transactional id: left to the first transaction, the fence came after
    // the restore, which then waited on the old owner's open changelog transaction until its timeout (60 s).
    await initTransactions(producer).catch(async (e: unknown) => {
      await producer.disconnect().catch(() => undefined);
      throw e;
    });
    if (task.closed) {
      await producer.disconnect();
      return;
    }
    task.producer = producer;
    let next = await committedOffset(task.topic, task.partition);
    if (task.stateful && restoreContext) {
      const restored = await restoreStore(restoreContext, task.partition, next, producer);
      task.store = restored.states;
      if (restored.position !== null && restored.position > next) {
        const end = Number((await admin.fetchTopicOffsets(task.topic)).find((p) => p.partition === task.partition)?.high ?? 0);
        if (restored.position > end) {
          // Written on another log of the same name (the topic deleted and created again): following it would skip input.
          log.error('the changelog’s position lies beyond the input’s end: it is ignored', { processor: fold.name, topic: task.topic, partition: task.partition, committed: next, position: restored.position, end });
        } else {
          log.warn('the group’s committed offset is behind the last transaction’s position: resuming at the position', { processor: fold.name, topic: task.topic, partition: task.partition, committed: next, position: restored.position });
          next = restored.position;
        }
      }
      restoring.delete(`${task.topic}:${task.partition}`);
      metrics.stateKeys(fold.name, storeName, task.partition, task.store.size);
    }
    task.next = next;
    if (seek) consumer.seek({ topic: task.topic, partition: task.partition, offset: String(next) });
    report();
  };

  const open = (topic: string, partition: number): Task<S> => {
    const task: Task<S> = { topic, partition, stateful: topic === storeTopic, producer: undefined, store: new Map(), next: 0, ready: Promise.resolve(), busy: Promise.resolve(), broken: false, closed: false };
    tasks.set(`${topic}:${partition}`, task);
    task.ready = start(task, false);
    return task;
  };

  const start = (task: Task<S>, seek: boolean): Promise<void> => {
    const tp = `${task.topic}:${task.partition}`;
    preparing.add(tp);
    return prepare(task, seek)
      .catch((e: unknown) => {
        restoring.delete(tp);
        task.broken = true;
        log.warn('partition not prepared; retried with its next batch', { topic: task.topic, partition: task.partition, err: e as Error });
      })
      .finally(() => {
        preparing.delete(tp);
        report();
      });
  };

  const close = (task: Task<S>) => {
    task.closed = true;
    tasks.delete(`${task.topic}:${task.partition}`);
    restoring.delete(`${task.topic}:${task.partition}`);
    preparing.delete(`${task.topic}:${task.partition}`);
    lag.delete(`${task.topic}:${task.partition}`);
    metrics.forget(fold.name, task.topic, storeName, task.partition);
    void Promise.all([task.ready, task.busy]).finally(() => task.producer?.disconnect().catch(() => undefined));
  };

  const waitBeating = async (p: Promise<void>, heartbeat: () => Promise<void>) => {
    let done = false;
    void p.finally(() => (done = true));
    while (!done) {
      await Promise.race([p, sleep(1000)]);
      if (!done) await heartbeat();
    }
  };

  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { topic, partition } = payload.batch;
    if (!payload.isRunning() || payload.isStale()) return;
    const task = tasks.get(`${topic}:${partition}`) ?? open(topic, partition);
    let done = () => undefined as void;
    task.busy = new Promise<void>((resolve) => (done = resolve));
    try {
      await foldAndCommit(task, payload);
    } finally {
      done();
    }
  };

  const foldAndCommit = async (task: Task<S>, { batch, resolveOffset, heartbeat, isStale }: EachBatchPayload): Promise<void> => {
    const { topic, partition } = batch;
    log.debug('batch', { topic, partition, fetchedAt: fetchedOffsetOf(batch), next: task.next, first: batch.firstOffset(), last: batch.lastOffset(), n: batch.messages.length, broken: task.broken, closed: task.closed });
    await waitBeating(task.ready, heartbeat);
    if (task.closed || isStale()) return;
    if (task.broken) {
      task.broken = false;
      task.ready = start(task, true);
      await waitBeating(task.ready, heartbeat);
      return;
    }
    const producer = task.producer;
    if (!producer || batch.messages.length === 0) return;
    // The store is the truth about how far the partition is folded: it was restored after the partition's producer
    // fenced the previous owner, with the committed offset read then. The consumer's own position comes from the
    // group's offsets as they were when it joined, which can be behind (the previous owner committed since) or, after
    // a failed transaction, ahead. Ahead: move it back; behind: step over what the store already holds.
    if (fetchedOffsetOf(batch) > task.next) {
      consumer.seek({ topic, partition, offset: String(task.next) });
      return;
    }
    if (Number(batch.lastOffset()) + 1 <= task.next) {
      resolveOffset(batch.lastOffset());
      return;
    }
    if (fold.beforeBatch) {
      try {
        await waitBeating(fold.beforeBatch(), heartbeat);
      } catch (e) {
        log.warn('not ready for this batch; it is read again', { processor: fold.name, topic, partition, err: e as Error });
        consumer.seek({ topic, partition, offset: String(task.next) });
        await sleep(500);
        return;
      }
    }

    let beat = Date.now();
    const { changed, outputs, records } = await foldBatch(
      {
        fold,
        decode,
        stateful: task.stateful,
        committed: (key) => task.store.get(key),
        encodeOutput: (value, to) => serde.encode(to ?? fold.output.schemaTopic, fold.output.encode(value)),
        skipped: (offset, why) => {
          if (why.reason !== undefined) metrics.undecodable(fold.name, topic);
          // A fold that throws, or an output the schema refuses, is a bug to fix; an undecodable record is bad input.
          log.error(why.reason !== undefined ? 'input record does not decode; skipped' : 'input record not folded; skipped', { processor: fold.name, topic, partition, offset, ...why });
        },
        breathe: async () => {
          await yieldToLoop();
          if (Date.now() - beat > 1000) {
            await heartbeat();
            beat = Date.now();
          }
        },
      },
      topic,
      partition,
      committedMessagesOf(batch),
      task.next,
    );
    const upTo = Number(batch.lastOffset()) + 1;
    const txn = await producer.transaction();
    try {
      const changes = [];
      if (restoreContext) for (const [key, s] of changed) changes.push(await changeRecord(restoreContext, key, partition, s));
      if (restoreContext && task.stateful) changes.push(await positionRecord(restoreContext, partition, upTo));
      const topicMessages = [];
      const byTopic = new Map<string, Message[]>();
      for (const { topic: to, ...m } of outputs) {
        const name = to ?? fold.output.name;
        const list = byTopic.get(name) ?? [];
        list.push(m);
        byTopic.set(name, list);
      }
      for (const [name, messages] of byTopic) topicMessages.push({ topic: name, messages });
      if (changes.length > 0 && changelog) topicMessages.push({ topic: changelog.name, messages: changes });
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
    if (task.stateful) metrics.stateKeys(fold.name, storeName, partition, task.store.size);
    report();
    o.onCommitted?.({ topic, partition, records, nextOffset: upTo });
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
    // An instance left without partitions (more instances than partitions) is ready too.
    report();
  });
  const died = reader ? Promise.race([consumerDied(c), reader.died]) : consumerDied(c);
  await c.connect();
  for (const input of Object.values(fold.inputs)) await c.subscribe({ topic: input.name, fromBeginning: true });
  await c.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 4, eachBatch });

  return {
    instanceId: id,
    died,
    consumers: [c],
    stores: () => new Map([...tasks.values()].filter((t) => t.stateful).map((t) => [t.partition, t.store])),
    stop: async () => {
      await c.disconnect();
      const held = [...tasks.values()];
      for (const task of held) close(task);
      await Promise.all(held.map((t) => Promise.all([t.ready, t.busy]).then(() => t.producer?.disconnect().catch(() => undefined))));
      await reader?.stop();
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
