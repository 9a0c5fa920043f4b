/** fleet.config as the gateway sees it: a global table (streams/runtime/global-table.ts), read in full at start and
 *  followed after, folded into the one FleetView that handshakes and connections hold on to. Supervised: a table
 *  whose consumer died is replaced by a new one, which reads the topic again into a fresh view and, once it has caught
 *  up, moves it into the shared view in one step (no one ever sees a half-read fleet) and folds into it from then on.
 *  While it is down, `/ready` names the `fleet-config` part; the view keeps what it had. */
import { randomUUID } from 'node:crypto';
import { Kafka } from 'kafkajs';
import { catalog } from '../../schemas/catalog';
import { TopicSerde } from '../../schemas/registry';
import { startGlobalTable } from '../../streams/runtime/global-table';
import { Health } from '../common/health';
import { Logger } from '../common/log';
import { supervise, Supervisable, Supervisor } from '../common/supervise';
import { emptyFleet, evolveFleet, FleetView } from './fleet';

export interface FleetFollower {
  readonly view: FleetView;
  /** Resolves once everything on the topic when called has been folded (coalesced; at most `timeoutMs`). */
  catchUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface FleetFollowerDeps {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly log: Logger;
  readonly health: Health;
}

/** Moves every entry of `from` into `into`, replacing what `into` held (every map of the view, whatever it holds). */
const moveFleet = (from: FleetView, into: FleetView): void => {
  for (const key of Object.keys(into) as (keyof FleetView)[]) {
    const target = into[key] as Map<unknown, unknown>;
    target.clear();
    for (const [k, v] of from[key] as Map<unknown, unknown>) target.set(k, v);
  }
};

export const followFleet = async (d: FleetFollowerDeps, gatewayId: string, partName = 'fleet-config'): Promise<FleetFollower> => {
  const view = emptyFleet();
  const part = d.health.part(partName);
  let catchUp: (timeoutMs?: number) => Promise<boolean> = async () => false;
  let loadedOnce = false;

  const start = async (): Promise<Supervisable> => {
    // The first table folds straight into the shared view: nothing holds it yet.
    let target = loadedOnce ? emptyFleet() : view;
    const table = await startGlobalTable({
      kafka: d.kafka,
      serde: d.serde,
      log: d.log,
      topic: catalog.fleetConfig,
      groupId: `${gatewayId}-fleet-${randomUUID().slice(0, 8)}`,
      initial: target,
      evolve: (_, e) => evolveFleet(target, e),
      progress: (done, total) => part.restoring({ done, total }, catalog.fleetConfig.name),
    });
    if (target !== view) {
      moveFleet(target, view);
      target = view;
    }
    loadedOnce = true;
    catchUp = table.catchUp;
    part.running();
    d.log.info('fleet configuration loaded', { chargers: view.chargers.size, idTags: view.idTags.size, tokens: view.tokens.size });
    return table;
  };

  const supervisor: Supervisor = await supervise({ name: partName, part, log: d.log, start });
  return {
    view,
    catchUp: async (timeoutMs) => {
      await catchUp(timeoutMs);
    },
    stop: () => supervisor.stop(),
  };
};
