import { Consumer, Kafka } from 'kafkajs';
import { Health } from './health';
import { monitorLag, Positions } from './lag-monitor';
import { Logger } from './log';
import { Supervisable, supervise, Supervisor } from './supervise';

/** A Kafka consumer (a processor, a projection, a follower) as the supervisor runs it: restarted when it dies,
 *  restoring until it has caught up with the end offsets its inputs had when it (re)started, then running, with its
 *  lag, all under one part of the process's health. */
export interface ConsumerComponent extends Supervisable {
  readonly topics: readonly string[];
  /** Its consumer group (committed offsets) and, where it keeps them itself, its own positions. */
  readonly groupId: string;
  readonly positions?: Positions;
  /** Its kafkajs consumers: a crash of one shows as down until it has joined its group again. */
  readonly consumers: readonly Consumer[];
}

export const superviseConsumer = (
  deps: { readonly kafka: Kafka; readonly health: Health; readonly log: Logger },
  name: string,
  start: () => Promise<ConsumerComponent>,
): Promise<Supervisor> => {
  const part = deps.health.part(name);
  return supervise({
    name,
    part,
    log: deps.log,
    start: async () => {
      const component = await start();
      try {
        const monitor = await monitorLag({ kafka: deps.kafka, topics: component.topics, part, log: deps.log, groupId: component.groupId, consumers: component.consumers, ...(component.positions ? { positions: component.positions } : {}) });
        return {
          died: component.died,
          stop: async () => {
            await monitor.stop();
            await component.stop();
          },
        };
      } catch (e) {
        await component.stop().catch(() => undefined);
        throw e;
      }
    },
  });
};
