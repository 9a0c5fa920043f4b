import { randomUUID } from 'node:crypto';
import { Admin, Consumer } from 'kafkajs';
import { ServiceContext } from '../common/service';
import { Topics } from '../../schemas/topics';
import { configFromAvro, ConfigEvent } from '../../schemas/fleet-config';

/** (provider, providerVehicleId) → vehicleId, folded from VehicleConfigured events on fleet.config.
 *  A vehicle configured again with another provider or provider id loses its old mapping. The fold mutates its maps
 *  (O(1) per event; fleet.config is read from the beginning at every start). */
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
  /** Waits until every fleet.config record written before this call is folded in (false on timeout). Lets a
   *  reading for a vehicle configured a moment ago find it: asked before a reading is refused as unknown. */
  catchUp(timeoutMs: number): Promise<boolean>;
  readonly size: number;
  stop(): Promise<void>;
}

/** Follows fleet.config from the beginning with a throw-away consumer group (no offsets committed: every instance
 *  folds the whole topic). kafkajs restarts a consumer only after retriable crashes; after any other crash (a broker
 *  gone for longer than its retries) a fresh consumer resumes from the position reached, so the registry keeps
 *  following through Kafka outages. Once stopped, nothing restarts. */
export const followVehicleRegistry = async (ctx: ServiceContext, opts: { readyTimeoutMs?: number; recreateAfterMs?: number } = {}): Promise<VehicleRegistry> => {
  const state = initialRegistry();
  const position = new Map<number, number>();
  const admin: Admin = ctx.kafka.admin();
  const log = ctx.log.child({ component: 'telematics-registry' });
  let consumer: Consumer | undefined;
  let stopped = false;
  let recreateTimer: NodeJS.Timeout | undefined;

  const startConsumer = async (): Promise<void> => {
    const c = ctx.kafka.consumer({
      groupId: `telematics-ingest-registry-${randomUUID()}`,
      maxWaitTimeInMs: 100,
      sessionTimeout: 30000,
      retry: { restartOnFailure: async () => !stopped },
    });
    consumer = c;
    c.on(c.events.CRASH, ({ payload }) => {
      if (payload.restart || stopped) return;
      log.warn('fleet.config consumer crashed; following again with a fresh one', { err: payload.error });
      recreateTimer = setTimeout(() => {
        void c.disconnect().catch(() => undefined);
        if (!stopped) startConsumer().catch(() => undefined);
      }, opts.recreateAfterMs ?? 2000);
    });
    // A fresh consumer after a crash resumes where the last one was; the first one starts at the beginning.
    c.on(c.events.GROUP_JOIN, () => {
      for (const [partition, offset] of position) c.seek({ topic: Topics.fleetConfig, partition, offset: String(offset) });
    });
    try {
      await c.connect();
      await c.subscribe({ topic: Topics.fleetConfig, fromBeginning: true });
      await c.run({
        autoCommit: false,
        eachMessage: async ({ message, partition }) => {
          if ((position.get(partition) ?? 0) > Number(message.offset)) return;
          try {
            if (message.value) evolveRegistry(state, configFromAvro(await ctx.serde.decode<Record<string, unknown>>(message.value)));
          } catch (e) {
            log.warn('skipping undecodable fleet.config record', { partition, offset: message.offset, err: e as Error });
          }
          position.set(partition, Number(message.offset) + 1);
        },
      });
    } catch (e) {
      await c.disconnect().catch(() => undefined);
      if (stopped) return;
      log.warn('cannot follow fleet.config yet; retrying', { err: e as Error });
      recreateTimer = setTimeout(() => void startConsumer().catch(() => undefined), opts.recreateAfterMs ?? 2000);
      throw e;
    }
  };

  await admin.connect();
  await startConsumer();

  const caughtUpTo = (high: { partition: number; high: string }[]) => high.every((h) => (position.get(h.partition) ?? 0) >= Number(h.high));
  const catchUp = async (timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    let high: { partition: number; high: string }[];
    try {
      high = (await admin.fetchTopicOffsets(Topics.fleetConfig)).map((o) => ({ partition: o.partition, high: o.high }));
    } catch (e) {
      log.warn('cannot read fleet.config offsets', { err: e as Error });
      return false;
    }
    while (!caughtUpTo(high)) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  };

  const ready = await catchUp(opts.readyTimeoutMs ?? 60000);
  if (!ready) log.warn('fleet.config not fully read at start; unknown vehicles will wait for it');
  log.info('vehicle registry ready', { vehicles: state.byProviderId.size });
  return {
    lookup: (p, id) => lookup(state, p, id),
    catchUp,
    get size() {
      return state.byProviderId.size;
    },
    stop: async () => {
      stopped = true;
      if (recreateTimer) clearTimeout(recreateTimer);
      await consumer?.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    },
  };
};
