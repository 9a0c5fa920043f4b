/** Folds fleet.config (one partition, small) into the in-memory FleetView at start and keeps following it. Each gateway
 *  instance reads the whole topic with a group of its own. */
import { randomUUID } from 'node:crypto';
import { Kafka } from 'kafkajs';
import { Topics } from '../../schemas/topics';
import { TopicSerde } from '../../schemas/registry';
import { configFromAvro } from '../../schemas/fleet-config';
import { Logger } from '../common/log';
import { FleetView, emptyFleet, evolveFleet } from './fleet';

export interface FleetFollower {
  readonly view: FleetView;
  /** Resolves once everything on the topic when called has been folded (coalesced; at most `timeoutMs`). */
  catchUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const followFleet = async (kafka: Kafka, serde: TopicSerde, log: Logger, gatewayId: string): Promise<FleetFollower> => {
  const view = emptyFleet();
  const consumed = new Map<number, number>(); // partition → next offset
  const waiters: { ends: Map<number, number>; resolve: () => void }[] = [];
  const groupId = `${gatewayId}-fleet-${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  const admin = kafka.admin();
  await admin.connect();

  const settle = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if ([...w.ends].every(([p, end]) => (consumed.get(p) ?? 0) >= end)) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  };

  await consumer.connect();
  await consumer.subscribe({ topic: Topics.fleetConfig, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      try {
        if (message.value) evolveFleet(view, configFromAvro(await serde.decode<Record<string, unknown>>(message.value)));
      } catch (e) {
        log.warn('unreadable fleet.config record skipped', { err: e as Error, offset: message.offset });
      }
      consumed.set(partition, Number(message.offset) + 1);
      settle();
    },
  });

  let pending: Promise<void> | undefined;
  const catchUp = (timeoutMs = 5000): Promise<void> => {
    if (pending) return pending;
    pending = (async () => {
      try {
        const offsets = await admin.fetchTopicOffsets(Topics.fleetConfig);
        const ends = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          waiters.push({
            ends,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
          settle();
        });
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };

  await catchUp(60000);
  log.info('fleet configuration loaded', { chargers: view.chargers.size, idTags: view.idTags.size });
  return {
    view,
    catchUp,
    stop: async () => {
      await consumer.disconnect().catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    },
  };
};
