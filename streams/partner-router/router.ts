import { randomUUID } from 'node:crypto';
import { Admin, Consumer, Message, Producer } from 'kafkajs';
import { Counter } from 'prom-client';
import { ServiceContext } from '../../services/common/service';
import { consumerDied } from '../../services/common/supervise';
import { createDurableProducer, DURABLE_ACKS, ensureTopics } from '../../services/common/kafka';
import { configFromAvro } from '../../schemas/fleet-config';
import * as E from 'fp-ts/Either';
import { decodeChargingEvent } from '../../schemas/records';
import { partnerIdPattern, partnerTopic, partnerTopicSpec, Topics } from '../../schemas/topics';
import { evolveOwnership, initialOwnership, Ownership, ownerAt } from './ownership';

/** The partner router: charging.events → partner.{owner}.events, where owner is the partner that operated the
 *  charger when the log received the event (the charging.events record's timestamp; fleet.config
 *  ChargerConfigured.ownerPartnerId, effective from the config event's time). Never at the event's own occurredAt: that
 *  is the charger's clock, and a charger with a wrong clock would send one owner's events to another. Before each batch it reads fleet.config up to its end, so every ownership change acknowledged by the API
 *  before the batch is applied. At least once: partner records are acknowledged by all in-sync replicas before the
 *  batch's offsets are committed; after a crash a partner may see an event twice (same eventId). */
export interface RouterOptions {
  /** Consumer group for charging.events. Default `partner-router`. */
  readonly groupId?: string;
  /** Route only these chargers (tests that share a broker). Default: all. */
  readonly acceptCharger?: (chargePointId: string) => boolean;
  /** Give up waiting for fleet.config to catch up after this long (the batch is retried). */
  readonly catchUpTimeoutMs?: number;
}

export interface RunningRouter {
  readonly groupId: string;
  /** Current ownership view (for inspection and tests). */
  ownership(): Ownership;
  /** Settles when either of its consumers crashed for good. */
  readonly died: Promise<Error>;
  readonly consumers: readonly Consumer[];
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Follows fleet.config from the beginning with a group that commits nothing, folding ownership. */
const startConfigTail = async (ctx: ServiceContext, admin: Admin) => {
  let state = initialOwnership;
  const next = new Map<number, bigint>();
  const consumer: Consumer = ctx.kafka.consumer({ groupId: `partner-router-config-${randomUUID()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: Topics.fleetConfig, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (message.value) {
        try {
          state = evolveOwnership(state, configFromAvro(await ctx.serde.decode<Record<string, unknown>>(message.value)));
        } catch (e) {
          ctx.log.warn('partner-router: unreadable fleet.config record skipped', { partition, offset: message.offset, err: e });
        }
      }
      next.set(partition, BigInt(message.offset) + 1n);
    },
  });
  return {
    state: () => state,
    /** Resolves once every fleet.config record that exists now has been folded in. */
    catchUp: async (timeoutMs: number) => {
      const ends = await admin.fetchTopicOffsets(Topics.fleetConfig);
      const deadline = Date.now() + timeoutMs;
      const behind = () => ends.some((e) => BigInt(e.high) > BigInt(e.low) && (next.get(e.partition) ?? BigInt(e.low)) < BigInt(e.high));
      while (behind()) {
        if (Date.now() > deadline) throw new Error('fleet.config did not catch up in time');
        await sleep(20);
      }
    },
    died: consumerDied(consumer),
    consumer,
    stop: () => consumer.disconnect(),
  };
};

export const startPartnerRouter = async (ctx: ServiceContext, opts: RouterOptions = {}): Promise<RunningRouter> => {
  const groupId = opts.groupId ?? 'partner-router';
  const log = ctx.log.child({ component: 'partner-router' });
  const routed = (ctx.metrics.getSingleMetric('voltstream_partner_router_events_total') as Counter<'partner'> | undefined) ?? new Counter({
    name: 'voltstream_partner_router_events_total',
    help: 'charging.events records routed to a partner topic, by partner',
    labelNames: ['partner'],
    registers: [ctx.metrics],
  });
  const admin = ctx.kafka.admin();
  await admin.connect();
  const tail = await startConfigTail(ctx, admin);
  const producer: Producer = createDurableProducer(ctx.kafka);
  await producer.connect();
  const ready = new Set<string>();
  const ensurePartner = async (partnerId: string) => {
    if (ready.has(partnerId)) return;
    const spec = partnerTopicSpec(partnerId);
    await ensureTopics(admin, { partitions: ctx.config.partitions, replicationFactor: ctx.config.replicationFactor, minInsyncReplicas: ctx.config.minInsyncReplicas }, [spec]);
    await ctx.serde.ensure(spec);
    ready.add(partnerId);
  };

  const consumer = ctx.kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  const died = Promise.race([consumerDied(consumer), tail.died]);
  await consumer.connect();
  await consumer.subscribe({ topic: Topics.chargingEvents, fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
      await tail.catchUp(opts.catchUpTimeoutMs ?? 20_000);
      const ownership = tail.state();
      const out = new Map<string, Message[]>();
      let done: string | undefined;
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break;
        done = m.offset;
        if (!m.value) continue;
        const cp = m.key?.toString() ?? '';
        if (opts.acceptCharger && !opts.acceptCharger(cp)) continue;
        let record: Record<string, unknown>;
        try {
          record = await ctx.serde.decode<Record<string, unknown>>(m.value);
        } catch (e) {
          log.warn('unreadable charging.events record skipped', { partition: batch.partition, offset: m.offset, err: e });
          continue;
        }
        const decoded = decodeChargingEvent(record);
        if (E.isLeft(decoded)) {
          log.warn('charging.events record that is no event skipped', { partition: batch.partition, offset: m.offset, reason: decoded.left });
          continue;
        }
        const event = decoded.right;
        const receivedAt = Number(m.timestamp);
        const owner = ownerAt(ownership, event.chargePointId, receivedAt);
        if (!owner) continue;
        if (!partnerIdPattern.test(owner)) {
          log.warn('charger owned by a partner id that cannot name a topic; event not routed', { chargePointId: event.chargePointId, owner });
          continue;
        }
        await ensurePartner(owner);
        const topic = partnerTopic(owner);
        const list = out.get(topic) ?? [];
        list.push({
          key: event.chargePointId,
          value: await ctx.serde.encode(topic, record),
          // The receive time: the broker refuses timestamps far in the future, and the event's own time is in its value.
          timestamp: String(receivedAt),
          headers: { 'voltstream-source': `${Topics.chargingEvents}/${batch.partition}/${m.offset}` },
        });
        out.set(topic, list);
        routed.inc({ partner: owner });
      }
      if (out.size) await producer.sendBatch({ acks: DURABLE_ACKS, topicMessages: [...out].map(([topic, messages]) => ({ topic, messages })) });
      if (done !== undefined) resolveOffset(done);
      await commitOffsetsIfNecessary();
      await heartbeat();
    },
  });
  log.info('partner router running', { groupId });
  return {
    groupId,
    ownership: tail.state,
    died,
    consumers: [consumer, tail.consumer],
    stop: async () => {
      await consumer.disconnect();
      await tail.stop();
      await producer.disconnect();
      await admin.disconnect();
    },
  };
};
