/** The gateway's Kafka output: every record (ocpp.frames, ocpp.rejected, ocpp.command-results) goes through a
 *  "lane". Each ocpp.frames partition has a lane of its own, with one idempotent producer (acks from all in-sync
 *  replicas); its queue is flushed every few milliseconds as ONE produce request with the records of all its chargers,
 *  one request in flight at a time. A charger always maps to the same partition, so to the same lane: per-charger order
 *  on the partition is the order of append() calls, while lanes send in parallel. One more lane carries the other
 *  topics. A lane per partition, rather than a few lanes sharing partitions, is what keeps a broker's failure to the
 *  partitions it leads: a request never waits for, or fails with, another leader's partitions.
 *
 *  ocpp.frames records are chained here, at flush time (seq and hash from the charger's head), so a failed request
 *  never leaves a gap that later records would build on. A failed request is sent again, unchanged, through the same
 *  producer, for as long as a leader failover takes (lane-health.ts; OCPP_KAFKA_FAILOVER_MS), so chargers on a
 *  partition whose leader died wait for the new leader instead of being refused. Requests time out after
 *  OCPP_KAFKA_REQUEST_TIMEOUT_MS, so a frozen leader fails requests instead of holding them; it then looks down to the
 *  lanes' producers for one request timeout (silent-brokers.ts), so they find the leader elected in its place. Only when the budget is spent (or the failure is one a resend cannot cure)
 *  is the lane "refusing": its appends are refused at once (chargers get InternalError and retry). What happens to the
 *  heads of the chargers whose records were in the failed request depends on the answer (chain-heads.ts):
 *  - unanswered (timeouts, lost connections: the request "in doubt"), it may still be written, by a frozen leader's
 *    socket or above the new leader's high watermark, after any scan. The lane's probe sends the same request again
 *    through the same producer until it is answered: acknowledged, its records are the heads (no scan, no gap); refused
 *    by the leader, as below. Nothing of those chargers is chained meanwhile, so a late write can neither fork nor gap
 *    a chain.
 *  - refused by the leader (it did not write it), the producer is rebuilt and the probe reads the partition to find the
 *    real head of each of those chargers.
 *  When that is done, the lane accepts appends again: recovery needs no restart. Other lanes are not affected.
 *
 *  Fencing (one writer per chain across instances): `mayWrite()` false (this instance's lease lapsed) refuses every
 *  ocpp.frames record, at append and again at flush; `fence(cp)` (another instance claimed the charger) refuses the
 *  charger's records from now on and resolves once no request carrying any of them is in flight, so the new holder
 *  can read the chain's end from the topic. */
import { randomUUID } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { Admin, Kafka, Partitioners, Producer, RecordMetadata } from 'kafkajs';
import { Histogram, Counter, Registry } from 'prom-client';
import { catalog, decodeRecord, describeUndecodable } from '../../schemas/catalog';
import { Topics } from '../../schemas/topics';
import { TopicSerde } from '../../schemas/registry';
import { startPartitionReader } from '../../streams/runtime/partition-reader';
import { DURABLE_ACKS, createDurableProducer } from '../common/kafka';
import { Logger } from '../common/log';
import { ChainHead, FrameDraft, FrameRecord, chainFrame, genesis } from './frames';
import { acknowledged, adopted, chainable, failed, HeadState, refusedAfterDoubt, scanned } from './chain-heads';
import { StoredHead } from './store';
import { metric } from './metrics';
import { afterFailure, LaneHealth, produceFailure, refusal, RetryPolicy, writing } from './lane-health';
import { silentBrokerOf } from './silent-brokers';

export class KafkaUnavailable extends Error {
  readonly retriable = true;
}

/** A partition's lane gave up on a request (lane-health.ts); `inDoubt`: it may still be written. */
class LaneRefused extends KafkaUnavailable {
  constructor(
    message: string,
    readonly inDoubt: boolean,
  ) {
    super(message);
  }
}

const byTopicOf = (messages: readonly { topic: string; key: string; partition: number; value: Buffer }[]) => {
  const byTopic = new Map<string, { key: string; value: Buffer; partition?: number }[]>();
  for (const m of messages) {
    const list = byTopic.get(m.topic) ?? [];
    list.push(m.partition >= 0 ? { key: m.key, value: m.value, partition: m.partition } : { key: m.key, value: m.value });
    byTopic.set(m.topic, list);
  }
  return byTopic;
};

interface FramesEntry {
  readonly type: 'frames';
  readonly chargePointId: string;
  readonly drafts: readonly FrameDraft[];
  resolve(records: FrameRecord[]): void;
  reject(e: Error): void;
}
interface OtherEntry {
  readonly type: 'other';
  readonly topic: string;
  readonly key: string;
  readonly value: unknown;
  resolve(records: FrameRecord[]): void;
  reject(e: Error): void;
}
type Entry = FramesEntry | OtherEntry;

/** A produce request of a partition's lane, as it was sent: sent again only unchanged. */
interface SentRequest {
  readonly topicMessages: { topic: string; messages: { key: string; value: Buffer; partition?: number }[] }[];
  readonly framesOrder: readonly { cp: string; record: FrameRecord; partition: number }[];
}

export interface FrameLogOptions {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly log: Logger;
  readonly metrics: Registry;
  readonly gatewayId: string;
  readonly batchMs: number;
  readonly batchMax: number;
  /** The client of the lanes' producers, made with frameLogClientTimeouts(requestTimeoutMs) (default: `kafka`). */
  readonly producerKafka?: Kafka;
  /** How long a failed request is sent again before its records are refused (default 25 s). */
  readonly failoverMs?: number;
  /** The producers' request timeout, set on `producerKafka`: here the broker's wait for the in-sync replicas and the
   *  most their metadata may age (default 3 s). */
  readonly requestTimeoutMs?: number;
  /** Called after every acknowledged request with the new heads of the chargers in it. */
  readonly onHeads: (heads: ReadonlyMap<string, StoredHead>) => void;
  /** The producers' client treats `hostPort` as down for `ms` (silent-brokers.ts; made with its socketFactory). */
  readonly silence?: (hostPort: string, ms: number) => void;
  /** False while this instance may not write any chain (its lease lapsed). Default: always true. */
  readonly mayWrite?: () => boolean;
}

export interface FrameLog {
  start(): Promise<void>;
  /** Appends the frames of one charger, atomically in one request; resolves once Kafka acknowledged them. */
  append(chargePointId: string, drafts: readonly FrameDraft[]): Promise<FrameRecord[]>;
  /** Any other record (ocpp.rejected, ocpp.command-results). */
  produce(topic: string, key: string, value: unknown): Promise<void>;
  /** Makes the chain of a charger known before its first append: from a stored head or by scanning the topic. */
  adopt(chargePointId: string, stored: StoredHead | undefined, scanFrom: number | undefined): Promise<void>;
  /** Forgets a charger (after it disconnected and its last record was acknowledged). */
  forget(chargePointId: string): void;
  /** Another instance holds the charger now: refuse its records, forget its head, wait until none is in flight. */
  fence(chargePointId: string): Promise<void>;
  partitionOf(chargePointId: string): number;
  /** The last acknowledged record of a charger, with its offset. */
  headOf(chargePointId: string): StoredHead | undefined;
  /** Lower bound of the end offset of a partition of ocpp.frames, for Claim.scanFrom. */
  endLowerBound(partition: number): number;
  /** Whether the charger's lane (without one: every lane) accepts records now. */
  healthy(chargePointId?: string): boolean;
  stop(): Promise<void>;
}

/** The client settings of `producerKafka`. Its connections to brokers and metadata requests are retried by the client
 *  itself (not by the producer): with the default 8 retries, a connection to a frozen broker (the kernel accepts it,
 *  nothing answers) held one send for about 30 s, beyond the lane's failover budget. */
export const frameLogClientTimeouts = (requestTimeoutMs: number) => ({ requestTimeout: requestTimeoutMs, retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1000 } });

export const createFrameLog = (o: FrameLogOptions): FrameLog => {
  const produceLatency = metric(o.metrics, 'ocpp_gateway_kafka_produce_seconds', () => new Histogram({
    name: 'ocpp_gateway_kafka_produce_seconds',
    help: 'Time from flush to Kafka acknowledgement of one produce request',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [o.metrics],
  }));
  const batchSize = metric(o.metrics, 'ocpp_gateway_produce_batch_records', () => new Histogram({ name: 'ocpp_gateway_produce_batch_records', help: 'Records per produce request', buckets: [1, 5, 20, 100, 500, 2000], registers: [o.metrics] }));
  const refused = metric(o.metrics, 'ocpp_gateway_records_refused_total', () => new Counter({ name: 'ocpp_gateway_records_refused_total', help: 'Records not written because Kafka was unavailable', labelNames: ['topic'], registers: [o.metrics] }));
  const silenced = metric(o.metrics, 'ocpp_gateway_kafka_brokers_silenced_total', () => new Counter({ name: 'ocpp_gateway_kafka_brokers_silenced_total', help: 'Brokers treated as down for a request timeout after a request to them timed out', registers: [o.metrics] }));
  const resent = metric(o.metrics, 'ocpp_gateway_kafka_produce_resends_total', () => new Counter({ name: 'ocpp_gateway_kafka_produce_resends_total', help: 'Produce requests sent again after a failure (a leader failover, a timeout)', registers: [o.metrics] }));

  const heads = new Map<string, HeadState>();
  const partitionEnds = new Map<number, number>();
  const partitioner = Partitioners.DefaultPartitioner();
  let partitionMetadata: { partitionId: number; leader: number }[] = [{ partitionId: 0, leader: 0 }];
  const requestTimeoutMs = o.requestTimeoutMs ?? 3000;
  const policy: RetryPolicy = { failoverMs: o.failoverMs ?? 25000, initialBackoffMs: 100, maxBackoffMs: 1000 };
  const producerKafka = o.producerKafka ?? o.kafka;
  /** The broker answers (with an error, e.g. while a dead follower is still in the ISR) before the client gives up. */
  const ackTimeoutMs = Math.max(500, requestTimeoutMs - 500);

  interface Lane {
    readonly name: string;
    /** The ocpp.frames partition the lane writes; undefined: the lane of the other topics. */
    readonly partition: number | undefined;
    producer: Producer;
    queue: Entry[];
    timer: NodeJS.Timeout | undefined;
    flushing: boolean;
    idle: (() => void)[];
    /** Waiting for the request in flight to end. */
    flushed: (() => void)[];
    health: LaneHealth;
    probe: Promise<void> | undefined;
    /** The request the lane gave up on while it may still be written (chain-heads.ts): sent again, unchanged, by the
     *  same producer until it is answered; its chargers' records wait for that. */
    inDoubt: SentRequest | undefined;
  }
  /** A partition's producer retries once by itself (kafkajs refuses an idempotent producer without retries); then its
   *  lane sends the failed request again (the same records under the same sequence numbers, so the broker keeps one
   *  copy). The other topics' requests may span several leaders, where only kafkajs knows which of them answered: that
   *  producer retries itself, for about the same budget. Metadata keeps kafkajs' default age (5 min): refreshed every
   *  3 s, the commands test's chargers went unanswered for 4.5 s around the first refresh, in both of two runs (not
   *  understood); instead, a broker that timed out a request looks down to these producers for a while
   *  (silent-brokers.ts), so kafkajs asks another broker who leads. */
  const newProducer = (partition: number | undefined): Producer =>
    createDurableProducer(producerKafka, {
      retry: partition === undefined ? { retries: Math.ceil(policy.failoverMs / policy.maxBackoffMs), initialRetryTime: policy.initialBackoffMs, maxRetryTime: policy.maxBackoffMs } : { retries: 1, initialRetryTime: policy.initialBackoffMs, maxRetryTime: policy.initialBackoffMs },
    });
  const newLane = (partition: number | undefined): Lane => ({
    name: partition === undefined ? 'other topics' : `${Topics.ocppFrames}/${partition}`,
    partition,
    producer: newProducer(partition),
    queue: [],
    timer: undefined,
    flushing: false,
    idle: [],
    flushed: [],
    health: writing,
    probe: undefined,
    inDoubt: undefined,
  });
  const otherTopics = newLane(undefined);
  /** One per ocpp.frames partition, made at start() once the partitions are known. */
  let framesLanes: Lane[] = [];
  const allLanes = () => [...framesLanes, otherTopics];
  const fenced = new Set<string>();
  const mayWrite = o.mayWrite ?? (() => true);
  const writable = (cp: string) => mayWrite() && !fenced.has(cp);
  const admin: Admin = o.kafka.admin();
  let stopped = false;

  const partitionOf = (cp: string): number =>
    partitioner({ topic: Topics.ocppFrames, partitionMetadata: partitionMetadata as never, message: { key: cp, value: null } });

  const refreshEnds = async (via: Admin = admin) => {
    const offsets = await via.fetchTopicOffsets(Topics.ocppFrames);
    partitionMetadata = offsets.map((p) => ({ partitionId: p.partition, leader: 0 })).sort((a, b) => a.partitionId - b.partitionId);
    for (const p of offsets) partitionEnds.set(p.partition, Math.max(partitionEnds.get(p.partition) ?? 0, Number(p.high)));
    return offsets;
  };

  const laneOf = (cp: string): Lane => framesLanes[partitionOf(cp)]!;

  const schedule = (lane: Lane) => {
    if (lane.timer || lane.flushing || lane.queue.length === 0) return;
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      void flush(lane);
    }, o.batchMs);
  };

  const failAll = (entries: readonly Entry[], e: Error) => {
    for (const en of entries) {
      refused.inc({ topic: en.type === 'frames' ? Topics.ocppFrames : en.topic });
      en.reject(e);
    }
  };

  const flush = async (lane: Lane) => {
    if (lane.flushing) return;
    try {
      await flushOnce(lane);
    } finally {
      lane.flushed.splice(0).forEach((w) => w());
    }
  };

  const flushOnce = async (lane: Lane) => {
    lane.flushing = true;
    const taken: Entry[] = [];
    let count = 0;
    while (lane.queue.length > 0 && count < o.batchMax) {
      const en = lane.queue.shift()!;
      taken.push(en);
      count += en.type === 'frames' ? en.drafts.length : 1;
    }
    const t0 = process.hrtime.bigint();
    // Chain tentatively; heads advance only after the acknowledgement.
    const tentative = new Map<string, ChainHead>();
    const perEntry: FrameRecord[][] = [];
    const messages: { topic: string; key: string; partition: number; value: Buffer }[] = [];
    const ready: Entry[] = [];
    const framesOrder: { cp: string; record: FrameRecord; partition: number }[] = [];
    try {
      for (const en of taken) {
        if (en.type === 'other') {
          messages.push({ topic: en.topic, key: en.key, partition: -1, value: await o.serde.encode(en.topic, en.value) });
          perEntry.push([]);
          ready.push(en);
          continue;
        }
        if (!writable(en.chargePointId)) {
          refused.inc({ topic: Topics.ocppFrames }, en.drafts.length);
          en.reject(new KafkaUnavailable(`${en.chargePointId}: this instance may not write its chain (fenced)`));
          continue;
        }
        const st = heads.get(en.chargePointId);
        const known = st && chainable(st);
        if (!known) {
          en.reject(new KafkaUnavailable(`chain head of ${en.chargePointId} is not known yet`));
          continue;
        }
        let head = tentative.get(en.chargePointId) ?? known;
        const records: FrameRecord[] = [];
        const partition = partitionOf(en.chargePointId);
        for (const d of en.drafts) {
          const c = chainFrame(head, d);
          head = c.head;
          records.push(c.record);
          framesOrder.push({ cp: en.chargePointId, record: c.record, partition });
          messages.push({ topic: Topics.ocppFrames, key: en.chargePointId, partition, value: await o.serde.encode(Topics.ocppFrames, c.record) });
        }
        tentative.set(en.chargePointId, head);
        perEntry.push(records);
        ready.push(en);
      }
    } catch (e) {
      // Encoding failed (registry unreachable): nothing was sent.
      failAll(ready, new KafkaUnavailable(`encoding failed: ${(e as Error).message}`));
      lane.flushing = false;
      schedule(lane);
      return;
    }
    if (messages.length === 0) {
      lane.flushing = false;
      schedule(lane);
      return;
    }
    const request: SentRequest = { topicMessages: [...byTopicOf(messages)].map(([topic, msgs]) => ({ topic, messages: msgs })), framesOrder };
    try {
      const meta = await sendAcknowledged(lane, request.topicMessages);
      produceLatency.observe(Number(process.hrtime.bigint() - t0) / 1e9);
      batchSize.observe(messages.length);
      applyAcknowledgement(request, meta);
      ready.forEach((en, i) => en.resolve(perEntry[i]!));
    } catch (e) {
      // Unless the leader said it did not write them, the records may still be written: their chargers' heads wait
      // for the same request's answer (chain-heads.ts). The other topics carry no chain.
      const inDoubt = lane.partition !== undefined && (e instanceof LaneRefused ? e.inDoubt : !produceFailure(e).refusedByBroker);
      o.log.warn(`produce failed; refusing the records of ${lane.name} until Kafka takes them again`, { err: e as Error, records: messages.length, inDoubt });
      for (const cp of tentative.keys()) {
        const st = heads.get(cp);
        if (st) heads.set(cp, failed(st, inDoubt));
      }
      if (inDoubt) lane.inDoubt = request;
      failAll([...ready, ...lane.queue.splice(0)], new KafkaUnavailable(`Kafka did not acknowledge: ${(e as Error).message}`));
      probeLane(lane);
    }
    lane.flushing = false;
    if (lane.queue.length === 0) lane.idle.splice(0).forEach((w) => w());
    schedule(lane);
  };

  /** Sends one request of the lane until Kafka acknowledges it, or the lane gives up (lane-health.ts): then throws and
   *  the lane is refusing. */
  const sendAcknowledged = async (lane: Lane, topicMessages: SentRequest['topicMessages']): Promise<RecordMetadata[]> => {
    for (;;) {
      try {
        const meta = await sendOnce(lane, topicMessages);
        if (lane.health.state === 'resending') o.log.info(`${lane.name}: acknowledged after ${lane.health.attempts} failed attempts`, { sinceMs: Date.now() - lane.health.since });
        lane.health = writing;
        return meta;
      } catch (e) {
        // The other topics' producer has retried by itself (newProducer): sending it again here could write twice.
        if (lane.partition === undefined) {
          lane.health = { state: 'refusing', since: Date.now(), reason: (e as Error).message };
          throw e;
        }
        afterTimeout(e);
        const step = afterFailure(lane.health, produceFailure(e), Date.now(), policy);
        if (lane.health.state !== 'resending') o.log.warn(`${lane.name}: produce failed; sending it again for up to ${policy.failoverMs} ms`, { err: e as Error });
        lane.health = step.health;
        const next = step.next;
        if (next.action === 'refuse') throw new LaneRefused(next.reason, next.inDoubt);
        await new Promise((r) => setTimeout(r, next.afterMs));
        resent.inc();
      }
    }
  };

  const sendOnce = (lane: Lane, topicMessages: SentRequest['topicMessages']): Promise<RecordMetadata[]> =>
    lane.producer.sendBatch({ acks: DURABLE_ACKS, timeout: ackTimeoutMs, topicMessages });

  /** A request that timed out names the broker that did not answer: the producers' client treats it as down for a
   *  request timeout (silent-brokers.ts), so kafkajs asks another broker who leads now. */
  const afterTimeout = (e: unknown) => {
    const broker = silentBrokerOf(e);
    if (!broker || !o.silence) return;
    o.silence(broker, requestTimeoutMs);
    silenced.inc();
  };

  /** The heads of an acknowledged request's chargers: per partition, records are numbered from baseOffset in the order
   *  they were given. */
  const applyAcknowledgement = (request: SentRequest, meta: readonly RecordMetadata[]) => {
    const base = new Map<number, number>();
    for (const m of meta) if (m.topicName === Topics.ocppFrames) base.set(m.partition, Number(m.baseOffset));
    const seen = new Map<number, number>();
    const acked = new Map<string, StoredHead>();
    for (const f of request.framesOrder) {
      const b = base.get(f.partition);
      // kafkajs answers a request whose partition moved, mid-request, to a broker that had already answered for
      // other partitions with that broker's answer alone: the partition was never sent.
      if (b === undefined) throw new Error(`no acknowledgement for ${Topics.ocppFrames}/${f.partition} in the answer`);
      const i = seen.get(f.partition) ?? 0;
      seen.set(f.partition, i + 1);
      const offset = b + i;
      partitionEnds.set(f.partition, Math.max(partitionEnds.get(f.partition) ?? 0, offset + 1));
      const prev = heads.get(f.cp);
      if (prev) heads.set(f.cp, acknowledged(prev, { seq: f.record.seq, hash: f.record.hash }, offset));
      acked.set(f.cp, { seq: f.record.seq, hash: f.record.hash, partition: f.partition, offset });
    }
    if (acked.size) o.onHeads(acked);
  };

  /** Reads partitions from given offsets to their end; returns the last record of each wanted charger. */
  const scan = async (wanted: ReadonlyMap<string, number>, via: Admin = admin): Promise<Map<string, StoredHead>> => {
    const found = new Map<string, StoredHead>();
    if (wanted.size === 0) return found;
    const offsets = await refreshEnds(via);
    const end = new Map(offsets.map((p) => [p.partition, Number(p.high)]));
    const from = new Map<number, number>();
    for (const [cp, off] of wanted) {
      const p = partitionOf(cp);
      from.set(p, Math.min(from.get(p) ?? Number.MAX_SAFE_INTEGER, off));
    }
    const todo = new Map([...from].filter(([p, f]) => f < (end.get(p) ?? 0)));
    o.log.debug('scanning for chain heads', { chargers: wanted.size, partitions: Object.fromEntries([...from].map(([p, f]) => [p, `${f}..${end.get(p)}`])) });
    if (todo.size === 0) return found;
    // On the fold runtime's partition reader: committed records only, each partition from the smallest offset wanted
    // up to its end as of now, decoded by the catalog entry of ocpp.frames.
    const groupId = `${o.gatewayId}-head-scan-${randomUUID().slice(0, 8)}`;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('head scan timed out')), 30000);
    });
    const starting = startPartitionReader({ kafka: o.kafka, groupId, topics: [Topics.ocppFrames], log: o.log });
    const reader = await Promise.race([starting, timeout]).catch(async (e: unknown) => {
      clearTimeout(timer);
      // A reader that joins after the time ran out is stopped as soon as it has.
      void starting.then((r) => r.stop()).catch(() => undefined).finally(() => via.deleteGroups([groupId]).catch(() => undefined));
      throw e;
    });
    try {
      const reading = Promise.all(
        [...todo].map(([p, f]) =>
          reader.read(Topics.ocppFrames, p, f, end.get(p)!, async (records) => {
            for (const m of records) {
              const off = Number(m.offset);
              const key = m.key?.toString() ?? '';
              // Partitions are read from the smallest offset wanted; a charger's own records before its offset are older than its stored head.
              if (!m.value || off < (wanted.get(key) ?? Infinity)) continue;
              const v = decodeRecord(catalog.ocppFrames, { partition: p, offset: off }, await o.serde.decode(m.value));
              if (E.isLeft(v)) throw new Error(`head scan: ${describeUndecodable(v.left)}`);
              found.set(key, { seq: v.right.seq, hash: v.right.hash, partition: p, offset: off });
            }
          }),
        ),
      );
      await Promise.race([reading, timeout, reader.died.then((e) => Promise.reject(e))]);
    } finally {
      if (timer) clearTimeout(timer);
      await reader.stop().catch(() => undefined);
      await via.deleteGroups([groupId]).catch(() => undefined);
    }
    return found;
  };

  /** Chargers whose heads must be scanned for share one scan: a reconnect storm after a crash would otherwise start a
   *  consumer group per charger, each joining, fetching and leaving, and the scans would time out together. Those that
   *  ask while a scan runs go into the next one. */
  let nextScan: { wanted: Map<string, number>; found: Promise<Map<string, StoredHead>> } | undefined;
  let scanning: Promise<unknown> = Promise.resolve();
  const sharedScan = (cp: string, from: number): Promise<Map<string, StoredHead>> => {
    if (!nextScan) {
      const wanted = new Map<string, number>();
      const found = scanning
        .catch(() => undefined)
        .then(() => {
          nextScan = undefined;
          return scan(wanted);
        });
      nextScan = { wanted, found };
      scanning = found;
    }
    nextScan.wanted.set(cp, Math.min(nextScan.wanted.get(cp) ?? from, from));
    return nextScan.found;
  };

  /** Resolves the heads of a partition's chargers that wait for a scan (all at once, one scan): the last record found
   *  on the topic, else the base head. */
  const recoverUnknown = async (partition: number, via: Admin) => {
    const wanted = new Map<string, number>();
    for (const [cp, st] of heads) if (st.state === 'scan' && partitionOf(cp) === partition) wanted.set(cp, st.from);
    if (wanted.size === 0) return;
    const found = await scan(wanted, via);
    for (const cp of wanted.keys()) {
      const st = heads.get(cp);
      if (st) heads.set(cp, scanned(st, found.get(cp)));
    }
    if (found.size) o.onHeads(found);
  };

  /** Sends the lane's request in doubt again, unchanged and by the same producer (same producer id and sequence
   *  numbers: the broker keeps one copy), until it is answered: acknowledged (its records are its chargers' heads) or
   *  refused by the leader (not written, and it cannot be any more: their heads are read from the topic). */
  const settleInDoubt = async (lane: Lane): Promise<'acknowledged' | 'refused' | 'stopped'> => {
    const request = lane.inDoubt;
    if (!request) return 'refused';
    let backoffMs = policy.initialBackoffMs;
    let attempts = 0;
    const since = Date.now();
    while (!stopped) {
      await new Promise((r) => setTimeout(r, backoffMs));
      attempts++;
      try {
        const meta = await sendOnce(lane, request.topicMessages);
        applyAcknowledgement(request, meta);
        lane.inDoubt = undefined;
        o.log.info(`${lane.name}: the request in doubt was acknowledged`, { attempts, sinceMs: Date.now() - since });
        return 'acknowledged';
      } catch (e) {
        const f = produceFailure(e);
        if (f.refusedByBroker) {
          for (const { cp } of request.framesOrder) {
            const st = heads.get(cp);
            if (st) heads.set(cp, refusedAfterDoubt(st));
          }
          lane.inDoubt = undefined;
          o.log.info(`${lane.name}: the request in doubt was refused: not written`, { err: e as Error, attempts });
          return 'refused';
        }
        afterTimeout(e);
        o.log.debug(`${lane.name}: the request in doubt is still unanswered`, { err: e as Error, attempts });
        backoffMs = Math.min(policy.maxBackoffMs, backoffMs * 2);
      }
    }
    return 'stopped';
  };

  /** The lane refuses until its request in doubt is answered (acknowledged: it carries on with the same producer), or
   *  else until a fresh producer connects and the heads its failed request left unknown are found. */
  const probeLane = (lane: Lane) => {
    if (lane.probe) return;
    lane.probe = (async () => {
      if ((await settleInDoubt(lane)) === 'acknowledged') {
        lane.health = writing;
        o.log.info(`${lane.name}: Kafka takes records again`);
        lane.probe = undefined;
        return;
      }
      await lane.producer.disconnect().catch(() => undefined);
      while (!stopped) {
        await new Promise((r) => setTimeout(r, 1000));
        // An admin of its own per attempt: the shared one may be stuck on the broker that failed, and other lanes'
        // probes must not close it under each other.
        const via = o.kafka.admin();
        try {
          await via.connect();
          // A fresh producer id: the old one's sequence numbers are unknown after a request it gave up on.
          lane.producer = newProducer(lane.partition);
          await lane.producer.connect();
          if (lane.partition !== undefined) await recoverUnknown(lane.partition, via);
          lane.health = writing;
          o.log.info(`${lane.name}: Kafka takes records again`);
          break;
        } catch (e) {
          await lane.producer.disconnect().catch(() => undefined);
          o.log.debug(`${lane.name}: Kafka still unavailable`, { err: e as Error });
        } finally {
          await via.disconnect().catch(() => undefined);
        }
      }
      lane.probe = undefined;
    })();
  };

  const refuseNow = (lane: Lane): string | undefined => (stopped ? 'the frame log is stopped' : refusal(lane.health));

  return {
    start: async () => {
      await admin.connect();
      // Freshly created topics may not have leaders yet ("not the leader for that topic-partition"): retry a while.
      for (let attempt = 1; ; attempt++) {
        try {
          await refreshEnds();
          break;
        } catch (e) {
          if (attempt >= 20) throw e;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      framesLanes = partitionMetadata.map((p) => newLane(p.partitionId));
      await Promise.all(allLanes().map((l) => l.producer.connect()));
    },
    append: (cp, drafts) =>
      new Promise<FrameRecord[]>((resolve, reject) => {
        const lane = laneOf(cp);
        const unavailable = refuseNow(lane);
        if (unavailable) {
          refused.inc({ topic: Topics.ocppFrames }, drafts.length);
          reject(new KafkaUnavailable(`Kafka is unavailable (${lane.name}): ${unavailable}`));
          return;
        }
        if (!writable(cp)) {
          refused.inc({ topic: Topics.ocppFrames }, drafts.length);
          reject(new KafkaUnavailable(`${cp}: this instance may not write its chain (fenced)`));
          return;
        }
        lane.queue.push({ type: 'frames', chargePointId: cp, drafts, resolve, reject });
        if (lane.queue.length >= o.batchMax && !lane.flushing) {
          if (lane.timer) clearTimeout(lane.timer);
          lane.timer = undefined;
          void flush(lane);
        } else schedule(lane);
      }),
    produce: (topic, key, value) =>
      new Promise<void>((resolve, reject) => {
        const lane = otherTopics;
        const unavailable = refuseNow(lane);
        if (unavailable) {
          refused.inc({ topic });
          reject(new KafkaUnavailable(`Kafka is unavailable (${lane.name}): ${unavailable}`));
          return;
        }
        lane.queue.push({ type: 'other', topic, key, value, resolve: () => resolve(), reject });
        schedule(lane);
      }),
    adopt: async (cp, stored, scanFrom) => {
      // A charger fenced here earlier and now back: its head is what the claim says.
      fenced.delete(cp);
      // Still tracked here (the same charger's previous connection on this instance): the in-memory head is the newest.
      if (heads.has(cp)) return;
      const floor = endLowerBoundOf(partitionOf(cp));
      const base = stored ? { seq: stored.seq, hash: stored.hash } : genesis;
      const baseOffset = stored ? stored.offset : null;
      heads.set(cp, adopted(base, baseOffset, floor, scanFrom));
      if (scanFrom === undefined) return;
      const unavailable = refuseNow(laneOf(cp));
      if (unavailable) throw new KafkaUnavailable(`Kafka is unavailable: ${unavailable}`);
      const found = await sharedScan(cp, scanFrom);
      const st = heads.get(cp);
      if (!st) return;
      heads.set(cp, scanned(st, found.get(cp)));
      if (found.has(cp)) o.onHeads(found);
    },
    forget: (cp) => {
      heads.delete(cp);
      fenced.delete(cp);
    },
    fence: async (cp) => {
      fenced.add(cp);
      heads.delete(cp);
      const lane = laneOf(cp);
      if (lane.flushing) await new Promise<void>((r) => lane.flushed.push(r));
      // A request in doubt that carries its records is still sent again until it is answered.
      if (lane.inDoubt?.framesOrder.some((f) => f.cp === cp)) await lane.probe;
    },
    partitionOf,
    headOf: (cp) => {
      const st = heads.get(cp);
      return st && st.state === 'known' && st.offset !== null ? { seq: st.head.seq, hash: st.head.hash, partition: partitionOf(cp), offset: st.offset } : undefined;
    },
    endLowerBound: (p) => endLowerBoundOf(p),
    healthy: (cp) => (cp === undefined ? allLanes() : [laneOf(cp)]).every((l) => refuseNow(l) === undefined),
    stop: async () => {
      const lanes = allLanes();
      await Promise.all(lanes.map((l) => (l.queue.length > 0 || l.flushing ? new Promise<void>((r) => l.idle.push(r)) : undefined)));
      stopped = true;
      for (const l of lanes) if (l.timer) clearTimeout(l.timer);
      await Promise.all(lanes.map((l) => l.probe?.catch(() => undefined)));
      await Promise.all(lanes.map((l) => l.producer.disconnect().catch(() => undefined)));
      await admin.disconnect().catch(() => undefined);
    },
  };

  function endLowerBoundOf(p: number): number {
    return partitionEnds.get(p) ?? 0;
  }
};
