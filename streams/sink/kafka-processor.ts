import { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import { Gauge, Registry } from 'prom-client';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { Logger } from '../../services/common/log';
import { TopicSerde } from '../../schemas/registry';
import { batchedFetch, fetchedOffsetOf, groupTimeouts } from './consumer';
import { consumerDied } from '../../services/common/supervise';
import { SinkRecord } from './pg-sink';

/** Exactly-once Kafka → Kafka processing with Kafka transactions: the records a batch produces and the consumer
 *  offsets after the batch are committed in one transaction (sendOffsets), and downstream consumers read committed
 *  records only. A stable transactional id fences a crashed instance's open transaction at restart.
 *
 *  State: the processor's in-memory state is a fold over its input partitions. After a (re)start or rebalance, a
 *  partition that resumes at committed offset c is first re-read from its beginning up to c with outputs suppressed
 *  (restore), then processed normally from c. */
export interface OutRecord {
  /** Topic whose Avro schema encodes the value (e.g. charging.events); the record goes to `topic` or the processor's output. */
  readonly schemaTopic: string;
  readonly topic?: string;
  readonly key: string;
  readonly value: Record<string, unknown>;
}

export interface Processor {
  /** Folds one record into the state; returns what to produce (dropped while restoring). */
  process(record: SinkRecord, restoring: boolean): readonly OutRecord[];
  /** Whether the records of `topic` build state (and so need a restore) or are handled one by one. */
  stateful(topic: string): boolean;
  /** Drops all state (after a failed transaction or a rebalance: it is rebuilt by restore). */
  reset(): void;
}

export interface KafkaProcessorOptions {
  readonly name: string;
  readonly groupId: string;
  readonly transactionalId: string;
  readonly inputs: readonly string[];
  /** Default destination of outputs without `topic`. */
  readonly output: string;
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly log: Logger;
  readonly metrics?: Registry;
  readonly processor: Processor;
  /** Called after each committed transaction with the number of input records processed so far. */
  readonly onProgress?: (processed: number) => void;
  /** Fetch size per partition (batch size); default 2 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Consumer group session timeout: how long a crashed member holds its partitions; default 30 s. */
  readonly sessionTimeoutMs?: number;
}

export interface RunningProcessor {
  /** Committed next offset per `topic:partition` as this instance knows it. */
  positions(): ReadonlyMap<string, number>;
  /** Settles when the consumer crashed for good (the supervisor then starts a new processor). */
  readonly died: Promise<Error>;
  readonly consumer: Consumer;
  stop(): Promise<void>;
}

const lagGauge = (metrics: Registry | undefined): Gauge<'consumer' | 'topic' | 'partition'> | undefined => {
  if (!metrics) return undefined;
  const existing = metrics.getSingleMetric('voltstream_processor_lag');
  if (existing) return existing as Gauge<'consumer' | 'topic' | 'partition'>;
  return new Gauge({ name: 'voltstream_processor_lag', help: 'Records of the partition not yet processed (high watermark - next offset)', labelNames: ['consumer', 'topic', 'partition'], registers: [metrics] });
};

/** The broker answers CONCURRENT_TRANSACTIONS while it is still completing the previous transaction of this
 *  transactional id (writing its commit markers), and expects the client to retry. kafkajs retries it when it adds
 *  partitions (send) but not when it adds the consumer group (AddOffsetsToTxn, the first request of a transaction
 *  without outputs, i.e. most batches): retried here, within the same transaction, instead of failing the batch (which
 *  drops the state and restores every partition). */
export const whileConcurrent = async <T>(f: () => Promise<T>, attempts = 12): Promise<T> => {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (e) {
      if ((e as { type?: string }).type !== 'CONCURRENT_TRANSACTIONS' || i + 1 >= attempts) throw e;
      await new Promise((r) => setTimeout(r, Math.min(500, 20 * 2 ** i)));
    }
  }
};

export const startKafkaProcessor = async (o: KafkaProcessorOptions): Promise<RunningProcessor> => {
  const gauge = lagGauge(o.metrics);
  const low = new Map<string, number>();
  const admin = o.kafka.admin();
  await admin.connect();
  try {
    for (const topic of o.inputs) for (const p of await admin.fetchTopicOffsets(topic)) low.set(`${topic}:${p.partition}`, Number(p.low));
  } finally {
    await admin.disconnect();
  }

  /** Next offset expected per partition; partitions being restored up to restoreUntil. */
  const expected = new Map<string, number>();
  const restoreUntil = new Map<string, number>();
  let processed = 0;
  const resetAll = () => {
    expected.clear();
    restoreUntil.clear();
    o.processor.reset();
  };

  const producer: Producer = createDurableProducer(o.kafka, { transactionalId: o.transactionalId });
  await producer.connect();
  const consumer: Consumer = o.kafka.consumer({ groupId: o.groupId, ...batchedFetch, maxBytesPerPartition: o.maxBytesPerPartition ?? 2 * 1024 * 1024, readUncommitted: false, ...groupTimeouts(o.sessionTimeoutMs) });
  const died = consumerDied(consumer);
  consumer.on(consumer.events.GROUP_JOIN, () => resetAll());
  // A fetch holding nothing but transaction markers never reaches eachBatch: step over them. Only such a fetch: the
  // event also follows every batch eachBatch set aside (stale after a seek, fetched before the restore's seek), and
  // stepping over one of those would skip records never folded into the state.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.batchSize !== 0) return;
    const tp = `${payload.topic}:${payload.partition}`;
    const from = expected.get(tp);
    const upTo = Number(payload.lastOffset) + 1;
    if (from !== undefined && from === Number(payload.firstOffset) && upTo > from) expected.set(tp, upTo);
  });
  await consumer.connect();
  for (const topic of o.inputs) await consumer.subscribe({ topic, fromBeginning: true });

  const eachBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> => {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const tp = `${topic}:${partition}`;
    // firstOffset() counts transaction markers too (a marker is no gap).
    const first = Number(batch.firstOffset() ?? batch.messages[0]!.offset);
    const logStart = low.get(tp) ?? 0;
    let from = expected.get(tp);
    if (from === undefined) {
      if (o.processor.stateful(topic) && first > logStart) {
        // Resuming mid-log: rebuild the state of this partition first.
        restoreUntil.set(tp, first);
        expected.set(tp, logStart);
        o.log.info('restoring state', { topic, partition, upTo: first });
        consumer.seek({ topic, partition, offset: String(logStart) });
        return;
      }
      from = first;
      expected.set(tp, from);
    }
    // A batch fetched before our seek: ignore, the seeked fetch follows. (A fetch that started at our position and
    // returns later offsets only skipped transaction markers or aborted records.)
    const fetchedAt = fetchedOffsetOf(batch);
    if (first > from && fetchedAt > from) return;
    const until = restoreUntil.get(tp) ?? -1;
    const outputs: OutRecord[] = [];
    let count = 0;
    for (const m of batch.messages) {
      const off = Number(m.offset);
      if (off < from || !m.value) continue;
      const record: SinkRecord = { topic, partition, offset: off, key: m.key?.toString() ?? null, value: await o.serde.decode<Record<string, unknown>>(m.value) };
      const restoring = off < until;
      const out = o.processor.process(record, restoring);
      if (!restoring) {
        outputs.push(...out);
        count++;
      }
    }
    const upTo = Number(batch.lastOffset()) + 1;
    if (until >= 0 && upTo >= until) {
      restoreUntil.delete(tp);
      o.log.info('state restored', { topic, partition, upTo: until });
    }
    if (until >= 0 && upTo <= until) {
      // Still restoring: nothing to produce and nothing new to commit.
      expected.set(tp, upTo);
      resolveOffset(batch.lastOffset());
      await heartbeat();
      return;
    }
    // An output the schema refuses fails the batch like a failed commit does: the state has folded the batch already,
    // and a retry on top of it would fold it twice and lose the outputs of the first fold.
    const txn = await producer.transaction();
    try {
      const messages = new Map<string, { key: string; value: Buffer }[]>();
      for (const r of outputs) {
        const dest = r.topic ?? o.output;
        const list = messages.get(dest) ?? [];
        list.push({ key: r.key, value: await o.serde.encode(r.schemaTopic, r.value) });
        messages.set(dest, list);
      }
      for (const [dest, msgs] of messages) await txn.send({ topic: dest, messages: msgs, acks: DURABLE_ACKS });
      await whileConcurrent(() => txn.sendOffsets({ consumerGroupId: o.groupId, topics: [{ topic, partitions: [{ partition, offset: String(upTo) }] }] }));
      await txn.commit();
    } catch (e) {
      await txn.abort().catch(() => undefined);
      // The state already folded this batch: drop it all and rebuild from the committed offsets.
      resetAll();
      // kafkajs retries the batch without a word for its own (KafkaJS) errors: say it here, or a processor that keeps
      // failing looks idle.
      o.log.warn('batch not committed; state dropped, the batch is retried', { topic, partition, err: e as Error });
      throw e;
    }
    expected.set(tp, upTo);
    processed += count;
    resolveOffset(batch.lastOffset());
    gauge?.set({ consumer: o.name, topic, partition: String(partition) }, Math.max(0, Number(batch.highWatermark) - upTo));
    o.onProgress?.(processed);
    await heartbeat();
  };

  await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
  return {
    positions: () => new Map(expected),
    died,
    consumer,
    stop: async () => {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
};

/** Committed offsets of a consumer group, per `topic:partition` (what a processor will resume from). */
export const committedOffsets = async (kafka: Kafka, groupId: string, topics: readonly string[]): Promise<Map<string, number>> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out = new Map<string, number>();
    for (const t of await admin.fetchOffsets({ groupId, topics: [...topics] })) for (const p of t.partitions) out.set(`${t.topic}:${p.partition}`, Number(p.offset));
    return out;
  } finally {
    await admin.disconnect();
  }
};
