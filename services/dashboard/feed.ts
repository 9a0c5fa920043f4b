import { randomUUID } from 'node:crypto';
import { Consumer } from 'kafkajs';
import { ServiceContext } from '../common/service';
import { consumerDied, Supervisable, supervise } from '../common/supervise';
import { Topics } from '../../schemas/topics';
import { fromAvro } from '../../schemas/events';
import { configFromAvro } from '../../schemas/fleet-config';
import { DashboardState, evolveConfig, evolveEvent, evolveFrame, evolvePlan, evolveReading, initialDashboard } from './model';

/** The dashboard's live folds of the log: one consumer with a throw-away group (nothing committed; every API process
 *  folds for itself) reading fleet.config from the beginning and charging.events, ocpp.frames, telematics.readings
 *  and optimizer.plans from `lookbackMs` ago, then following them. Reading the log instead of the projection tables
 *  keeps the page independent of the projections' layout and live within a Kafka fetch (~100 ms). */
export interface DashboardFeed {
  readonly state: DashboardState;
  /** Increases with every record folded: the SSE loop pushes when it changed. */
  version(): number;
  ready(): boolean;
  stop(): Promise<void>;
}

const topics = [Topics.fleetConfig, Topics.chargingEvents, Topics.ocppFrames, Topics.telematicsReadings, Topics.optimizerPlans];

/* eslint-disable @typescript-eslint/no-explicit-any */
export const startDashboardFeed = async (ctx: ServiceContext, opts: { lookbackMs?: number } = {}): Promise<DashboardFeed> => {
  const state = initialDashboard();
  const log = ctx.log.child({ component: 'dashboard-feed' });
  const lookbackMs = opts.lookbackMs ?? 6 * 3600000;
  let version = 0;
  let ready = false;
  const admin = ctx.kafka.admin();
  await admin.connect();
  const since = Date.now() - lookbackMs;
  /** Next offset per topic:partition: where the first consumer starts, and where a replacement resumes. */
  const positions = new Map<string, { topic: string; partition: number; offset: string }>();
  try {
    for (const topic of topics) {
      const offsets = topic === Topics.fleetConfig
        ? (await admin.fetchTopicOffsets(topic)).map((o) => ({ partition: o.partition, offset: o.low }))
        : await admin.fetchTopicOffsetsByTimestamp(topic, since);
      for (const o of offsets) positions.set(`${topic}:${o.partition}`, { topic, partition: o.partition, offset: o.offset });
    }
  } finally {
    await admin.disconnect();
  }

  const apply = async (topic: string, value: Buffer) => {
    const r = (await ctx.serde.decode(value)) as any;
    switch (topic) {
      case Topics.fleetConfig:
        evolveConfig(state, configFromAvro(r));
        break;
      case Topics.chargingEvents:
        evolveEvent(state, fromAvro(r));
        break;
      case Topics.ocppFrames:
        evolveFrame(state, {
          chargePointId: r.chargePointId,
          direction: r.direction,
          kind: r.kind,
          action: r.action ?? null,
          uniqueId: r.uniqueId ?? null,
          payloadJson: r.payloadJson ?? null,
          receivedAt: Number(r.receivedAt),
          protocol: r.protocol,
        });
        break;
      case Topics.telematicsReadings:
        evolveReading(state, { vehicleId: r.vehicleId, readingAt: Number(r.readingAt), socPct: r.socPct ?? null, pluggedIn: r.pluggedIn ?? null });
        break;
      case Topics.optimizerPlans:
        evolvePlan(state, {
          planId: r.planId,
          siteId: r.siteId,
          decidedAt: Number(r.decidedAt),
          trigger: r.trigger,
          status: r.status,
          horizonStart: Number(r.horizonStart),
          slotMinutes: r.slotMinutes,
          gridLimitKw: r.gridLimitKw,
          siteKw: r.siteKw,
          vehicles: r.vehicles.map((v: any) => ({ vehicleId: v.vehicleId, chargePointId: v.chargePointId ?? null, powerKw: v.powerKw, targetKwh: v.targetKwh, plannedKwh: v.plannedKwh, shortfallKwh: v.shortfallKwh })),
        });
        break;
    }
    version++;
  };

  /** One consumer with a throw-away group; the supervisor replaces it when it crashes for good, and the new one
   *  resumes where the last one was. */
  const follow = async (): Promise<Supervisable> => {
    const groupId = `dashboard-${randomUUID()}`;
    const consumer: Consumer = ctx.kafka.consumer({ groupId, maxWaitTimeInMs: 100, maxBytesPerPartition: 4 * 1024 * 1024 });
    const died = consumerDied(consumer);
    consumer.on(consumer.events.GROUP_JOIN, () => {
      ready = true;
      part.running();
    });
    const stop = async () => {
      await consumer.disconnect().catch(() => undefined);
      const a = ctx.kafka.admin();
      await a.connect().then(() => a.deleteGroups([groupId]), () => undefined).catch(() => undefined);
      await a.disconnect().catch(() => undefined);
    };
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: false });
      await consumer.run({
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
          for (const m of batch.messages) {
            if (m.value) {
              try {
                await apply(batch.topic, m.value);
              } catch (e) {
                log.warn('dashboard could not fold a record', { topic: batch.topic, offset: m.offset, err: e });
              }
            }
            resolveOffset(m.offset);
            positions.set(`${batch.topic}:${batch.partition}`, { topic: batch.topic, partition: batch.partition, offset: String(Number(m.offset) + 1) });
          }
          await heartbeat();
        },
      });
      for (const p of positions.values()) consumer.seek(p);
    } catch (e) {
      await stop();
      throw e;
    }
    return { died, stop };
  };
  const part = ctx.health.part('dashboard-feed');
  const supervisor = await supervise({ name: 'dashboard-feed', part, log, start: follow });
  return {
    state,
    version: () => version,
    ready: () => ready,
    stop: () => supervisor.stop(),
  };
};
/* eslint-enable @typescript-eslint/no-explicit-any */
