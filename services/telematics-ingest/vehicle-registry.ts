import { randomUUID } from 'node:crypto';
import { catalog } from '../../schemas/catalog';
import { ConfigEvent } from '../../schemas/fleet-config';
import { GlobalTable, startGlobalTable } from '../../streams/runtime/global-table';
import { ServiceContext } from '../common/service';
import { superviseConsumer } from '../common/supervised-consumer';

/** (provider, providerVehicleId) → vehicleId, folded from VehicleConfigured events on fleet.config.
 *  A vehicle configured again with another provider or provider id loses its old mapping. The fold mutates its maps
 *  (O(1) per event; fleet.config is read from the beginning at every start of the process). */
export interface VehicleMapping {
  readonly vehicleId: string;
}

export interface RegistryState {
  readonly byProviderId: Map<string, VehicleMapping>;
  readonly keyOfVehicle: Map<string, string>;
}

const keyOf = (provider: string, providerVehicleId: string) => `${provider}\0${providerVehicleId}`;

export const initialRegistry = (): RegistryState => ({ byProviderId: new Map(), keyOfVehicle: new Map() });

export const evolveRegistry = (s: RegistryState, e: ConfigEvent): RegistryState => {
  if (e.body.type !== 'VehicleConfigured') return s;
  const { vehicleId, telematicsProvider, providerVehicleId } = e.body;
  const old = s.keyOfVehicle.get(vehicleId);
  if (old !== undefined) {
    s.byProviderId.delete(old);
    s.keyOfVehicle.delete(vehicleId);
  }
  if (telematicsProvider && providerVehicleId) {
    const key = keyOf(telematicsProvider, providerVehicleId);
    const previousOwner = s.byProviderId.get(key);
    if (previousOwner) s.keyOfVehicle.delete(previousOwner.vehicleId);
    s.byProviderId.set(key, { vehicleId });
    s.keyOfVehicle.set(vehicleId, key);
  }
  return s;
};

export const lookup = (s: RegistryState, provider: string, providerVehicleId: string): VehicleMapping | undefined =>
  s.byProviderId.get(keyOf(provider, providerVehicleId));

export interface VehicleRegistry {
  lookup(provider: string, providerVehicleId: string): VehicleMapping | undefined;
  /** Waits until every fleet.config record written before this call is folded in (false on timeout, or while the
   *  registry's table is down). Lets a reading for a vehicle configured a moment ago find it: asked before a reading
   *  is refused as unknown. */
  catchUp(timeoutMs: number): Promise<boolean>;
  readonly size: number;
  stop(): Promise<void>;
}

/** fleet.config as a global table of the fold runtime (streams/runtime/global-table.ts: read in full at start, then
 *  followed; every record folded once, decoded by the catalog's entry), supervised as the part `vehicle-registry`:
 *  restarted with backoff when its consumer dies, named by `/ready` while it is down or reading. A replacement folds
 *  into the same maps from where the last table stopped, so lookups keep answering through a restart. */
export const followVehicleRegistry = async (ctx: ServiceContext, opts: { partName?: string } = {}): Promise<VehicleRegistry> => {
  const state = initialRegistry();
  const positions = new Map<string, number>();
  const log = ctx.log.child({ component: 'telematics-registry' });
  let table: GlobalTable<RegistryState> | undefined;

  const supervisor = await superviseConsumer(ctx, opts.partName ?? 'vehicle-registry', async () => {
    table = undefined;
    const t = await startGlobalTable({
      kafka: ctx.kafka,
      serde: ctx.serde,
      log,
      topic: catalog.fleetConfig,
      groupId: `telematics-ingest-registry-${randomUUID()}`,
      initial: state,
      evolve: evolveRegistry,
      positions,
    });
    table = t;
    log.info('vehicle registry ready', { vehicles: state.byProviderId.size });
    return { topics: t.topics, groupId: t.groupId, positions: t.positions, consumers: t.consumers, died: t.died, stop: t.stop };
  });

  return {
    lookup: (p, id) => lookup(state, p, id),
    catchUp: (timeoutMs) => table?.catchUp(timeoutMs) ?? Promise.resolve(false),
    get size() {
      return state.byProviderId.size;
    },
    stop: () => supervisor.stop(),
  };
};
