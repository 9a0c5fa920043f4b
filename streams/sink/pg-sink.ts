import * as E from 'fp-ts/Either';
import * as O from 'fp-ts/Option';
import { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { Pool, PoolClient } from 'pg';
import { Gauge, Registry } from 'prom-client';
import { quoteIdent, withTransaction } from '../../services/common/db';
import { Logger } from '../../services/common/log';
import { TopicSerde } from '../../schemas/registry';
import { batchedFetch, fetchedOffsetOf, groupTimeouts } from './consumer';
import { consumerDied } from '../../services/common/supervise';
import { DataFault, dataFault } from './apply-errors';
import { createDeadLetterWriter, DeadLetter, deadLettersTableSql, insertDeadLetter } from './dead-letter';
import { decodeValue } from './decode-value';
import { committedMessagesOf } from '../runtime/committed-records';

/** The generic exactly-once sink, Kafka → PostgreSQL. Each batch's rows and the consumer's next offsets are written in
 *  ONE database transaction (table stream_offsets, per consumer name, topic and partition); the stored offsets, not
 *  Kafka's, decide where reading resumes: records below them are skipped, a gap makes the consumer seek back. So a
 *  crash anywhere (before, during or after the commit) neither drops nor double-applies a record. Kafka offsets are
 *  committed too, after the database, but only as a hint for monitoring tools. The database client is never held
 *  while awaiting Kafka (the embedded TimescaleDB has one connection).
 *
 *  No record stalls its partition: one that does not decode, or whose rows the database refuses as data (dataFault:
 *  SQLSTATE 21, 22, 23, 54000), is found by bisecting the failed transaction's records, set aside to the dead-letter
 *  topic (dead-letter.ts) and stepped over; connection losses and the like are retried as before. */
export interface SinkRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: Record<string, unknown>;
  /** The Kafka record's timestamp (epoch ms): when the log received the record. */
  readonly timestamp?: number;
}

/** A fetched record: decoded, or why its bytes are no record of the topic's schema. */
interface Fetched {
  readonly offset: number;
  readonly key: string | null;
  readonly timestamp: number;
  readonly raw: Buffer;
  readonly decoded: E.Either<string, SinkRecord>;
}

export interface PgSinkOptions {
  /** Consumer name in stream_offsets. */
  readonly name: string;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly pool: Pool;
  /** Schema holding the projection tables and stream_offsets. */
  readonly schema: string;
  readonly log: Logger;
  readonly metrics?: Registry;
  /** Writes the rows of one batch (records of one topic-partition, in offset order) inside the transaction. */
  apply(client: PoolClient, records: readonly SinkRecord[]): Promise<void>;
  /** After each committed batch, outside any transaction (e.g. refreshing aggregates). */
  afterCommit?(records: readonly SinkRecord[]): Promise<void>;
  /** Called with (records applied so far) after each batch, for progress bars. */
  onProgress?(applied: number): void;
  /** Apply nothing at or beyond these offsets (`topic:partition` → offset): a replay up to a snapshot of the live
   *  projections' positions. Partitions not listed stop at their log start. */
  readonly stopAt?: ReadonlyMap<string, number>;
  /** Fetch size per partition (batch size); default 4 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Consumer group session timeout: how long a crashed member holds its partitions; default 30 s. */
  readonly sessionTimeoutMs?: number;
  /** Partitions applied in parallel, each in its own transaction (1 for the one-connection embedded database). */
  readonly partitionsConcurrently?: number;
  /** Where records that cannot be applied go; default streams.dead-letter (tests use their own). */
  readonly deadLetterTopic?: string;
}

export interface PgSink {
  /** Next offset to apply, per `topic:partition`, as stored. */
  positions(): ReadonlyMap<string, number>;
  /** Resolves once every `topic:partition` of `targets` has reached its offset. */
  reached(targets: ReadonlyMap<string, number>, timeoutMs?: number): Promise<void>;
  /** Settles when the consumer crashed for good (the supervisor then starts a new sink). */
  readonly died: Promise<Error>;
  readonly consumer: Consumer;
  stop(): Promise<void>;
}

/** Records per transaction within one fetch (the unit of the decode/write overlap). */
const CHUNK_RECORDS = 2000;

export class OffsetConflict extends Error {
  readonly retriable = true;
}

const lagGauge = (metrics: Registry | undefined): Gauge<'consumer' | 'topic' | 'partition'> | undefined => {
  if (!metrics) return undefined;
  const existing = metrics.getSingleMetric('voltstream_projection_lag');
  if (existing) return existing as Gauge<'consumer' | 'topic' | 'partition'>;
  return new Gauge({ name: 'voltstream_projection_lag', help: 'Records of the partition not yet applied to the projection (high watermark - next offset)', labelNames: ['consumer', 'topic', 'partition'], registers: [metrics] });
};

export const offsetsTableSql = (schema: string) =>
  `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.stream_offsets (consumer text NOT NULL, topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL, PRIMARY KEY (consumer, topic, partition))`;

export const startPgSink = async (o: PgSinkOptions): Promise<PgSink> => {
  const schema = quoteIdent(o.schema);
  // Under the schema's migration lock (infra/database/migrate.ts): two instances starting together would otherwise
  // collide on the catalog creating the same table.
  await withTransaction(o.pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`voltstream-migrate:${o.schema}`]);
    await client.query(offsetsTableSql(o.schema));
    await client.query(deadLettersTableSql(o.schema));
  });
  const deadLetters = createDeadLetterWriter({ kafka: o.kafka, serde: o.serde, ...(o.deadLetterTopic ? { topic: o.deadLetterTopic } : {}), ...(o.metrics ? { metrics: o.metrics } : {}) });
  const gauge = lagGauge(o.metrics);
  const next = new Map<string, number>();
  /** Per partition: offset up to which fetches held only transaction markers / aborted records. */
  const markersUpTo = new Map<string, number>();
  const markerTimers = new Map<string, NodeJS.Timeout>();
  /** Last time a batch of the partition arrived. */
  const lastBatchAt = new Map<string, number>();
  const low = new Map<string, number>();
  let applied = 0;

  const admin = o.kafka.admin();
  await admin.connect();
  try {
    for (const topic of o.topics) for (const p of await admin.fetchTopicOffsets(topic)) low.set(`${topic}:${p.partition}`, Number(p.low));
  } finally {
    await admin.disconnect();
  }

  const loadNext = async (topic: string, partition: number): Promise<number> => {
    const r = await o.pool.query<{ next_offset: string }>(`SELECT next_offset FROM ${schema}.stream_offsets WHERE consumer = $1 AND topic = $2 AND partition = $3`, [o.name, topic, partition]);
    return r.rows[0] ? Number(r.rows[0].next_offset) : (low.get(`${topic}:${partition}`) ?? 0);
  };

  const consumer: Consumer = o.kafka.consumer({ groupId: o.groupId, ...batchedFetch, maxBytesPerPartition: o.maxBytesPerPartition ?? 4 * 1024 * 1024, ...groupTimeouts(o.sessionTimeoutMs) });
  const died = consumerDied(consumer);
  consumer.on(consumer.events.GROUP_JOIN, () => {
    next.clear();
    markersUpTo.clear();
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    // A fetch holding nothing but transaction markers or aborted records never reaches eachBatch. When it follows on
    // what we applied (or on such a fetch before it), step over it, and record that in the stored offset, so that
    // "caught up with the high watermark" holds and lag reads 0 behind a transactional producer.
    const tp = `${payload.topic}:${payload.partition}`;
    const from = next.get(tp);
    if (from === undefined) return;
    const cursor = Math.max(from, markersUpTo.get(tp) ?? -1);
    const upTo = Number(payload.lastOffset) + 1;
    if (Number(payload.firstOffset) !== cursor || upTo <= cursor) return;
    markersUpTo.set(tp, upTo);
    // Persist the step once the partition is quiet (a data batch right after the markers stores it anyway).
    clearTimeout(markerTimers.get(tp));
    markerTimers.set(
      tp,
      setTimeout(() => {
        const stored = next.get(tp);
        const target = markersUpTo.get(tp);
        if (stored === undefined || target === undefined || target <= stored) return;
        o.pool
          .query(
            `INSERT INTO ${schema}.stream_offsets AS s (consumer, topic, partition, next_offset) VALUES ($1, $2, $3, $5)
             ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset WHERE s.next_offset >= $4 AND s.next_offset < $5`,
            [o.name, payload.topic, payload.partition, stored, target],
          )
          .then((r) => {
            if (r.rowCount === 1 && next.get(tp) === stored) next.set(tp, target);
          })
          .catch(() => undefined);
      }, 1000),
    );
  });
  await consumer.connect();
  for (const topic of o.topics) await consumer.subscribe({ topic, fromBeginning: true });

  /** One transaction: the records' rows and the partition's next offset (from → upTo). False when the stored offset
   *  moved under us (another instance): the caller stops and reloads it. */
  const commitChunk = async (topic: string, partition: number, from: number, upTo: number, records: readonly SinkRecord[], deadLetter?: DeadLetter): Promise<boolean> => {
    const tp = `${topic}:${partition}`;
    const client = await o.pool.connect();
    // A connection lost mid-transaction fails the query below; without a listener it would also crash the process.
    const lost = (e: Error) => o.log.error('database connection lost', { err: e });
    client.on('error', lost);
    try {
      // One round trip. Commits need not wait for the disk: a projection is derived from the log, and a database crash
      // that loses the last transactions loses their stored offsets with them (WAL is replayed in order), so the sink
      // applies those records again. The transaction stays atomic; only its durability is left to the next checkpoint.
      await client.query(`BEGIN; SET LOCAL search_path TO ${schema}, public; SET LOCAL synchronous_commit TO off`);
      const moved = await client.query(
        `INSERT INTO stream_offsets (consumer, topic, partition, next_offset) VALUES ($1, $2, $3, $5)
         ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset WHERE stream_offsets.next_offset = $4`,
        [o.name, topic, partition, from, upTo],
      );
      if (moved.rowCount !== 1) throw new OffsetConflict(`stored offset of ${tp} is no longer ${from}`);
      if (deadLetter) await insertDeadLetter(client, deadLetter);
      else await o.apply(client, records);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      next.delete(tp);
      if (e instanceof OffsetConflict) {
        o.log.warn('offset moved under us (another instance?); reloading', { topic, partition });
        return false;
      }
      throw e;
    } finally {
      client.off('error', lost);
      client.release();
    }
    next.set(tp, upTo);
    return true;
  };

  /** The record at `item` goes to the dead-letter topic, then one transaction moves the offsets past it (from → upTo). */
  const setAside = async (topic: string, partition: number, from: number, upTo: number, item: Fetched, fault: DataFault): Promise<boolean> => {
    const letter: DeadLetter = { sourceTopic: topic, sourcePartition: partition, sourceOffset: item.offset, sourceKey: item.key, sourceTimestamp: item.timestamp, consumer: o.name, fault, value: item.raw, deadAt: Date.now() };
    o.log.warn('record set aside to the dead-letter topic', { topic, partition, offset: item.offset, reasonClass: fault.reasonClass, reason: fault.reason });
    await deadLetters.write(letter);
    if (!(await commitChunk(topic, partition, from, upTo, [], letter))) return false;
    deadLetters.counted(letter);
    return true;
  };

  /** Applies the records of [from, upTo) in one transaction; when the database refuses them as data, in halves, down
   *  to the single records it refuses, which are set aside. Returns the record lists committed (in order), or false
   *  when the stored offset moved under us. */
  const applyRange = async (topic: string, partition: number, from: number, upTo: number, items: readonly Fetched[]): Promise<readonly (readonly SinkRecord[])[] | false> => {
    if (from >= upTo) return [];
    const bad = items.findIndex((i) => E.isLeft(i.decoded));
    if (bad >= 0) {
      const item = items[bad]!;
      const before = await applyRange(topic, partition, from, item.offset, items.slice(0, bad));
      if (before === false) return false;
      const reason = E.isLeft(item.decoded) ? item.decoded.left : '';
      if (!(await setAside(topic, partition, item.offset, item.offset + 1, item, { reasonClass: 'undecodable', reason }))) return false;
      const after = await applyRange(topic, partition, item.offset + 1, upTo, items.slice(bad + 1));
      return after === false ? false : [...before, ...after];
    }
    const records = items.map((i) => (i.decoded as E.Right<SinkRecord>).right);
    try {
      if (!(await commitChunk(topic, partition, from, upTo, records))) return false;
      return records.length ? [records] : [];
    } catch (e) {
      const fault = dataFault(e);
      if (O.isNone(fault) || items.length === 0) throw e;
      if (items.length === 1) return (await setAside(topic, partition, from, upTo, items[0]!, fault.value)) ? [] : false;
      const mid = items.length >> 1;
      const first = await applyRange(topic, partition, from, items[mid]!.offset, items.slice(0, mid));
      if (first === false) return false;
      const second = await applyRange(topic, partition, items[mid]!.offset, upTo, items.slice(mid));
      return second === false ? false : [...first, ...second];
    }
  };

  const eachBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> => {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const { topic, partition } = batch;
    const tp = `${topic}:${partition}`;
    lastBatchAt.set(tp, Date.now());
    let from = next.get(tp);
    if (from === undefined) {
      from = await loadNext(topic, partition);
      next.set(tp, from);
    }
    const stop = o.stopAt ? (o.stopAt.get(tp) ?? low.get(tp) ?? 0) : Infinity;
    // Judged by the transactions' markers, not by kafkajs alone (it hands out aborted records: committed-records.ts).
    const fresh = committedMessagesOf(batch).filter((m) => Number(m.offset) >= from && Number(m.offset) < stop);
    // lastOffset() counts a trailing transaction marker (control record) too: it has an offset but no message.
    const last = Math.min(Number(batch.lastOffset()), stop - 1);
    if (from >= stop) {
      consumer.pause([{ topic, partitions: [partition] }]);
      return;
    }
    // firstOffset() counts transaction markers too, so a marker before the first message is no gap.
    const firstFetched = Number(batch.firstOffset() ?? from);
    const cursor = Math.max(from, markersUpTo.get(tp) ?? -1);
    // A fetch that started at our position and returns later offsets skipped only what kafkajs doesn't show
    // (transaction markers, aborted records): no gap.
    const fetchedAt = fetchedOffsetOf(batch);
    if (firstFetched > cursor && fetchedAt > cursor) {
      // Kafka's position is past what the database holds (database restored, schema dropped): go back.
      o.log.info('seeking back to the stored offset', { topic, partition, stored: from, fetched: batch.firstOffset() });
      consumer.seek({ topic, partition, offset: String(from) });
      return;
    }
    if (fresh.length === 0) {
      resolveOffset(String(last));
      return;
    }
    // Chunks of one fetch, each committed with its offsets in its own transaction; the next chunk is decoded while
    // the database writes the previous one (node and PostgreSQL work at the same time instead of taking turns).
    const chunks: (typeof fresh)[] = [];
    for (let i = 0; i < fresh.length; i += CHUNK_RECORDS) chunks.push(fresh.slice(i, i + CHUNK_RECORDS));
    const decode = async (messages: typeof fresh): Promise<Fetched[]> => {
      const records: Fetched[] = [];
      for (const m of messages) {
        if (!m.value) continue;
        const offset = Number(m.offset);
        const key = m.key?.toString() ?? null;
        const timestamp = Number(m.timestamp);
        const decoded = E.map((value: Record<string, unknown>): SinkRecord => ({ topic, partition, offset, key, value, timestamp }))(await decodeValue(o.serde, m.value));
        records.push({ offset, key, timestamp, raw: m.value, decoded });
      }
      return records;
    };
    let upTo = from;
    let decoding = decode(chunks[0]!);
    for (let c = 0; c < chunks.length; c++) {
      const fetched = await decoding;
      const chunkLast = c === chunks.length - 1 ? last : Number(chunks[c]![chunks[c]!.length - 1]!.offset);
      const writing = applyRange(topic, partition, upTo, chunkLast + 1, fetched);
      if (c + 1 < chunks.length) {
        decoding = decode(chunks[c + 1]!);
        // Settled either way before it is awaited; a failed write below must not leave it unobserved.
        decoding.catch(() => undefined);
      }
      const committed = await writing;
      if (committed === false) return;
      upTo = chunkLast + 1;
      for (const records of committed) applied += records.length;
      resolveOffset(String(chunkLast));
      gauge?.set({ consumer: o.name, topic, partition: String(partition) }, Math.max(0, Number(batch.highWatermark) - upTo));
      if (o.afterCommit) for (const records of committed) await o.afterCommit(records);
      o.onProgress?.(applied);
      if (c + 1 < chunks.length && (!isRunning() || isStale())) break;
    }
    await consumer.commitOffsets([{ topic, partition, offset: String(upTo) }]).catch(() => undefined);
    await heartbeat();
  };

  await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: o.partitionsConcurrently ?? 1, eachBatch });

  const positions = () => new Map(next);
  return {
    positions,
    died,
    consumer,
    reached: async (targets, timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      const done = async () => {
        for (const [tp, target] of targets) {
          const known = Math.max(next.get(tp) ?? -1, next.has(tp) ? (markersUpTo.get(tp) ?? -1) : -1);
          if (known >= target) continue;
          // kafkajs never shows a transaction marker: one left at the very end of a partition (behind a
          // transactional producer) counts as reached once the partition has been quiet for 2 s.
          if (known === target - 1 && Date.now() - (lastBatchAt.get(tp) ?? 0) > 2000) continue;
          const [topic, p] = [tp.slice(0, tp.lastIndexOf(':')), Number(tp.slice(tp.lastIndexOf(':') + 1))];
          if (target <= (low.get(tp) ?? 0)) continue;
          if ((await loadNext(topic, p)) < target) return false;
        }
        return true;
      };
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`sink ${o.name} did not reach its targets within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: async () => {
      for (const t of markerTimers.values()) clearTimeout(t);
      await consumer.disconnect();
      await deadLetters.stop();
    },
  };
};

/** High watermarks of topics: what "caught up" means for a replay, a test or a benchmark. */
export const endOffsets = async (kafka: Kafka, topics: readonly string[]): Promise<Map<string, number>> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out = new Map<string, number>();
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) out.set(`${topic}:${p.partition}`, Number(p.high));
    return out;
  } finally {
    await admin.disconnect();
  }
};
