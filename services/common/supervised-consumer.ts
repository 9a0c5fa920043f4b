import { Consumer, Kafka } from 'kafkajs';
import { Health } from './health';
import { monitorLag, Positions } from './lag-monitor';
import { Logger } from './log';
import { Supervisable, supervise, Supervisor } from './supervise';

/** A Kafka consumer (a processor, a projection, a follower) as the supervisor runs it: restarted when it dies or
 *  stalls (it does not fetch while there is input: lag-monitor.ts), restoring until it has caught up with the end offsets its inputs had when it (re)started, then running, with its
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
  deps: { readonly kafka: Kafka; readonly health: Health; readonly log: Logger; readonly stallAfterMs?: number; readonly stopTimeoutMs?: number },
  name: string,
  start: () => Promise<ConsumerComponent>,
): Promise<Supervisor> => {
  const part = deps.health.part(name);
  return supervise({
    name,
    part,
    log: deps.log,
    ...(deps.stopTimeoutMs ? { stopTimeoutMs: deps.stopTimeoutMs } : {}),
    start: async () => {
      const component = await start();
      let stalled = (_reason: string): void => undefined;
      const stall = new Promise<Error>((resolve) => {
        stalled = (reason) => resolve(new Error(reason));
      });
      try {
        const monitor = await monitorLag({
          kafka: deps.kafka, topics: component.topics, part, log: deps.log, groupId: component.groupId, consumers: component.consumers, onStall: stalled,
          ...(deps.stallAfterMs ? { stallAfterMs: deps.stallAfterMs } : {}), ...(component.positions ? { positions: component.positions } : {}),
        });
        return {
          died: Promise.race([component.died, stall]),
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
