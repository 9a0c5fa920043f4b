import { EventEmitter } from 'node:events';
import { Logger } from '../common/log';
import { SimClock, createClock, simNow } from './model/clock';
import { DepotState, Effect, advance, clearProfile, composite, initialState, nextSeqNo, setProfile, siteLoadKw, transactionAccepted } from './model/depot';
import { electrical } from './model/charger';
import { toAmps } from './model/profile';
import { Scenario } from './model/fleet';
import { ChargerHost, SimCharger, Traffic } from './ocpp-charger';
import { ApiTarget, apiCall, configureDepot, scheduleDeparture, waitForApi } from './configure';
import { Outage, Provider, createProvider, inOutage, outages, readingsAt, reportDelayMs } from './telematics';

/** The running depot: the pure model advanced by a timer on the simulator's own clock, its effects sent by one
 *  OCPP client per charger and by the telematics provider, and what the CSMS says fed back into the model. */
export interface SimulatorOptions {
  readonly scenario: Scenario;
  /** Simulated seconds per wall second. */
  readonly factor?: number;
  /** Meter values every this many simulated seconds (all chargers at the same instants). */
  readonly meterIntervalS?: number;
  /** Wall milliseconds between model steps. */
  readonly tickMs?: number;
  /** ws://host:port/ocpp (the charge point id is appended). */
  readonly ocppUrl: string;
  /** Configure the depot through this API first (sites, tariff, chargers, vehicles, departures). */
  readonly api?: ApiTarget;
  readonly telematics?: {
    readonly provider: string;
    readonly url: string;
    readonly headers?: Record<string, string>;
    /** Report every this many simulated seconds. */
    readonly intervalS: number;
    readonly maxDelayMs: number;
    readonly outages: boolean;
  };
  readonly log: Logger;
  /** Keep at most this many traffic entries in memory (all are emitted as 'traffic' events). */
  readonly trafficLimit?: number;
}

export interface LatencySample {
  readonly chargerId: string;
  readonly plugInAt: number;
  readonly profileAt: number;
  readonly ms: number;
  readonly purpose: string;
}

export interface StartOptions {
  readonly beforeClock?: () => Promise<void>;
  readonly rebase?: (startMs: number) => Scenario;
}

export interface Simulator extends EventEmitter {
  readonly scenario: Scenario;
  readonly traffic: Traffic[];
  readonly latencies: LatencySample[];
  readonly chargers: ReadonlyMap<string, SimCharger>;
  readonly provider: Provider | undefined;
  state(): DepotState;
  simNow(): number;
  /** Configures the depot, connects every charger, waits for `beforeClock` (e.g. until the chargers hold their
   *  profiles), then starts the clock. With `rebase`, the day then starts from the scenario it returns for that
   *  instant (the same depot, its schedule and tariff moved), so however long the setup took is not part of the day;
   *  the chargers keep the profiles they were sent. */
  start(opts?: StartOptions): Promise<void>;
  stop(): Promise<void>;
}

export const createSimulator = (o: SimulatorOptions): Simulator => {
  let scenario = o.scenario;
  const factor = o.factor ?? 1;
  const meterIntervalMs = (o.meterIntervalS ?? 60) * 1000;
  const tickMs = o.tickMs ?? 250;
  const log = o.log;
  const emitter = new EventEmitter() as Simulator;
  const traffic: Traffic[] = [];
  const latencies: LatencySample[] = [];
  const pendingPlugIns = new Map<string, number>();
  let init = initialState(scenario, meterIntervalMs);
  let state = init.state;
  let clock: SimClock | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let stepping = false;
  let outageWindows: Outage[] = o.telematics?.outages ? outages(scenario, 60) : [];
  const telematicsIntervalMs = (o.telematics?.intervalS ?? 60) * 1000;
  const provider = o.telematics
    ? createProvider({ url: o.telematics.url, headers: o.telematics.headers ?? {}, log, onAnswer: (ids, status) => emitter.emit('telematics', { readingIds: ids, status }) })
    : undefined;
  const departurePosts: Promise<unknown>[] = [];

  const now = () => (clock ? simNow(clock, Date.now()) : scenario.startMs);

  const dispatch = (effects: readonly Effect[]) => {
    for (const e of effects) {
      emitter.emit('effect', e);
      switch (e.kind) {
        case 'visitPlanned':
          if (o.api) {
            const p = scheduleDeparture(o.api, e.vehicleId, e.visit).catch((err: Error) => log.warn('could not schedule a departure', { vehicleId: e.vehicleId, err }));
            departurePosts.push(p);
            if (departurePosts.length > 100) departurePosts.splice(0, 50);
          }
          break;
        case 'arrived':
        case 'departed':
          log.debug(`vehicle ${e.kind}`, { vehicleId: e.vehicleId, at: new Date(e.at).toISOString() });
          break;
        default:
          chargers.get(e.chargerId)?.handle(e);
      }
    }
  };

  const host: ChargerHost = {
    simNow: now,
    charger: (id) => state.chargers[id]!,
    setProfile: (id, p) => {
      const r = setProfile(state, id, p);
      state = r.state;
      dispatch(r.effects);
      return r.status;
    },
    clearProfile: (id, c) => {
      const r = clearProfile(state, id, c);
      state = r.state;
      dispatch(r.effects);
      return r.cleared;
    },
    composite: (id, d, u) => composite(state, id, d, u),
    transactionAccepted: (id, localId, txId) => {
      state = transactionAccepted(state, id, localId, txId);
    },
    nextSeqNo: (id) => {
      const r = nextSeqNo(state, id);
      state = r.state;
      return r.seqNo;
    },
    meterNow: (id) => {
      const c = state.chargers[id]!;
      const v = c.vehicleId ? state.vehicles[c.vehicleId] : undefined;
      return {
        kind: 'meter',
        at: now(),
        chargerId: id,
        tx: c.tx,
        energyWh: Math.round(c.energyWh),
        powerW: Math.round(c.powerKw * 1000),
        currentA: Math.round(toAmps(c.powerKw * 1000, electrical(c.spec)) * 10) / 10,
        socPct: c.spec.iso15118 && v ? Math.round(v.socPct * 10) / 10 : undefined,
      };
    },
    traffic: (t) => {
      traffic.push(t);
      if (traffic.length > (o.trafficLimit ?? 20000)) traffic.splice(0, traffic.length - (o.trafficLimit ?? 20000));
      if (t.direction === 'out' && t.detail === 'plugIn' && t.ok) pendingPlugIns.set(t.chargerId, t.wallAt);
      if (t.direction === 'in' && t.method === 'SetChargingProfile' && t.ok) {
        const since = pendingPlugIns.get(t.chargerId);
        if (since !== undefined) {
          pendingPlugIns.delete(t.chargerId);
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          const params = t.params as any;
          const purpose = params?.csChargingProfiles?.chargingProfilePurpose ?? params?.chargingProfile?.chargingProfilePurpose ?? '?';
          const sample = { chargerId: t.chargerId, plugInAt: since, profileAt: t.wallAt, ms: t.wallAt - since, purpose };
          latencies.push(sample);
          emitter.emit('latency', sample);
        }
      }
      emitter.emit('traffic', t);
    },
  };

  const chargers = new Map(scenario.chargers.map((spec) => [spec.id, new SimCharger({ endpoint: o.ocppUrl, spec, host, log })]));

  const tick = async () => {
    if (stepping || !running) return;
    stepping = true;
    try {
      const before = state.t;
      const target = now();
      const r = advance(state, target, Math.min(1000 * Math.max(1, factor), meterIntervalMs));
      state = r.state;
      dispatch(r.effects);
      if (provider) {
        const first = Math.floor(before / telematicsIntervalMs) + 1;
        const last = Math.floor(state.t / telematicsIntervalMs);
        for (let k = first; k <= last; k++) {
          const at = k * telematicsIntervalMs;
          for (const reading of readingsAt(state, at)) provider.enqueue(reading, Date.now() + reportDelayMs(scenario.seed, reading.vehicleRef, at, o.telematics!.maxDelayMs));
        }
        await provider.flush(Date.now(), inOutage(outageWindows, state.t));
      }
      emitter.emit('tick', state);
    } catch (e) {
      log.error('simulator step failed', { err: e });
    } finally {
      stepping = false;
    }
  };

  const sim = Object.assign(emitter, {
    traffic,
    latencies,
    chargers,
    provider,
    state: () => state,
    simNow: now,
    start: async (opts?: StartOptions) => {
      if (o.api) {
        await waitForApi(o.api);
        await configureDepot(o.api, scenario, o.telematics?.provider);
      }
      await Promise.all([...chargers.values()].map((c) => c.connect()));
      await opts?.beforeClock?.();
      if (opts?.rebase) {
        const held = state.chargers;
        scenario = opts.rebase(Date.now());
        init = initialState(scenario, meterIntervalMs);
        state = { ...init.state, chargers: Object.fromEntries(Object.entries(init.state.chargers).map(([id, c]) => [id, { ...c, profiles: held[id]?.profiles ?? [] }])) };
        outageWindows = o.telematics?.outages ? outages(scenario, 60) : [];
        // A compressed day's tariff is written as instants: it moves with the day.
        if (o.api) await apiCall(o.api, 'PUT', `/api/v1/sites/${encodeURIComponent(scenario.siteId)}/tariff`, scenario.tariff);
      }
      // At factor 1 simulated time is wall time (the first step catches up on the seconds configuration took), so the
      // timestamps the chargers send and the profiles' absolute start times agree with the backend's clock.
      const wall = Date.now();
      clock = createClock(factor === 1 ? Math.max(scenario.startMs, wall) : scenario.startMs, factor, wall);
      running = true;
      dispatch(init.effects);
      timer = setInterval(() => void tick(), tickMs);
      log.info('simulated depot running', { siteId: scenario.siteId, chargers: chargers.size, vehicles: scenario.vehicles.length, factor, gridLimitKw: scenario.gridLimitKw });
    },
    stop: async () => {
      running = false;
      if (timer) clearInterval(timer);
      while (stepping) await new Promise((r) => setTimeout(r, 20));
      await Promise.allSettled(departurePosts);
      await Promise.all([...chargers.values()].map((c) => c.close()));
    },
  });
  Object.defineProperty(sim, 'scenario', { get: () => scenario, enumerable: true });
  return sim as Simulator;
};

export { siteLoadKw };
