import { Logger } from '../../../services/common/log';
import { createScenario, Scenario } from '../../../services/simulator/model/fleet';
import { DepartureRecord, DepotState, Effect } from '../../../services/simulator/model/depot';
import { energyToReachKwh } from '../../../services/simulator/model/battery';
import { createSimulator, Simulator } from '../../../services/simulator/simulator';
import { energyUnderKwh } from './building';
import { System } from './system';

/** An accelerated depot day against a running system: a compressed day (the schedule's shape, batteries scaled by the
 *  same factor, real power) at factor 1, so the backend's wall clock and the simulated timestamps agree. */
export interface DayOptions {
  readonly prefix: string;
  readonly seed: number;
  readonly chargers: number;
  readonly vehicles: number;
  readonly dayMinutes: number;
  readonly gridLimitKw: number;
  readonly meterIntervalS: number;
  readonly log: Logger;
  readonly telematics: boolean;
  /** Depot time (hours) the run starts at; default 14.5 (arrivals from 16:00, departures 05:30-08:00). */
  readonly startHour?: number;
  /** Panels (feeders) under the connection, each carrying the next `chargers` chargers. */
  readonly panels?: readonly { readonly panelId: string; readonly limitKw: number; readonly maxCurrentA?: number; readonly chargers: number }[];
  /** The day's clock starts only once every charger holds a profile (its TxDefaultProfile), waiting at most this
   *  long after the chargers connected; the day then starts at that instant (simulator rebase). Default: the day
   *  starts when startDay is called and its first hours pass while the depot is configured (the catch-up). */
  readonly profilesBeforeDayMs?: number;
  /** Called with the simulator before it starts (e.g. to meter it from the first instant). */
  readonly onSimulator?: (sim: Simulator) => void;
}

export interface DayRun {
  readonly sim: Simulator;
  readonly scenario: Scenario;
  readonly meters: Extract<Effect, { kind: 'meter' }>[];
  readonly plugIns: Extract<Effect, { kind: 'plugIn' }>[];
  readonly readings: { readingIds: readonly string[]; status: number }[];
  /** The true SoC of every plugged vehicle, sampled at every model step (what the backend should believe). */
  readonly socs: { at: number; vehicleId: string; socPct: number }[];
  /** Per charger, wall ms from its BootNotification to its first accepted SetChargingProfile (only with
   *  profilesBeforeDayMs). */
  readonly bootToProfileMs: ReadonlyMap<string, number>;
  /** Resolves when every vehicle has left once (or rejects after timeoutMs). */
  finished(timeoutMs: number): Promise<DepartureRecord[]>;
}

export const startDay = async (sys: System, o: DayOptions): Promise<DayRun> => {
  const dayMs = o.dayMinutes * 60000;
  const startHour = o.startHour ?? 14.5;
  const scenarioAt = (now: number) =>
    createScenario({
      seed: o.seed,
      chargers: o.chargers,
      vehicles: o.vehicles,
      startMs: now,
      dayMs,
      dayStartMs: now - (startHour / 24) * dayMs,
      idPrefix: o.prefix,
      share201: 0.5,
      dcChargers: 1,
      gridLimitKw: o.gridLimitKw,
      panels: o.panels,
    });
  const scenario = scenarioAt(Date.now());
  const sim = createSimulator({
    scenario,
    ocppUrl: sys.ocppUrl,
    api: { url: sys.apiUrl, adminKey: sys.config.adminKey },
    meterIntervalS: o.meterIntervalS,
    tickMs: 200,
    telematics: o.telematics
      ? { provider: 'voltstream', url: `${sys.apiUrl}/api/v1/telematics/voltstream`, headers: { 'X-Api-Key': 'dev-telematics-key' }, intervalS: 10, maxDelayMs: 3000, outages: true }
      : undefined,
    log: o.log,
  });
  o.onSimulator?.(sim);
  const meters: Extract<Effect, { kind: 'meter' }>[] = [];
  const plugIns: Extract<Effect, { kind: 'plugIn' }>[] = [];
  const readings: { readingIds: readonly string[]; status: number }[] = [];
  const socs: { at: number; vehicleId: string; socPct: number }[] = [];
  sim.on('effect', (e: Effect) => {
    if (e.kind === 'meter') meters.push(e);
    if (e.kind === 'plugIn') plugIns.push(e);
  });
  sim.on('tick', (st: DepotState) => {
    for (const v of Object.values(st.vehicles)) if (v.where === 'plugged') socs.push({ at: st.t, vehicleId: v.spec.id, socPct: Math.round(v.socPct * 10) / 10 });
  });
  sim.on('telematics', (r: { readingIds: readonly string[]; status: number }) => readings.push(r));
  const bootToProfileMs = new Map<string, number>();
  const profilesHeld = async (waitMs: number) => {
    const boots = new Map<string, number>();
    const until = Date.now() + waitMs;
    for (;;) {
      for (const t of sim.traffic) {
        if (t.direction === 'out' && t.method === 'BootNotification' && !boots.has(t.chargerId)) boots.set(t.chargerId, t.wallAt);
        const boot = boots.get(t.chargerId);
        if (t.direction === 'in' && t.method === 'SetChargingProfile' && t.ok && boot !== undefined && !bootToProfileMs.has(t.chargerId)) bootToProfileMs.set(t.chargerId, t.wallAt - boot);
      }
      if (bootToProfileMs.size === scenario.chargers.length) return;
      if (Date.now() > until) {
        const without = scenario.chargers.map((c) => c.id).filter((id) => !bootToProfileMs.has(id));
        throw new Error(`${without.join(', ')} held no profile ${waitMs / 1000} s after connecting`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const wait = o.profilesBeforeDayMs;
  await sim.start(wait === undefined ? undefined : { beforeClock: () => profilesHeld(wait), rebase: scenarioAt });
  return {
    sim,
    scenario: sim.scenario,
    meters,
    plugIns,
    readings,
    socs,
    bootToProfileMs,
    finished: (timeoutMs) =>
      new Promise((resolve, reject) => {
        const end = Date.now() + timeoutMs;
        const check = setInterval(() => {
          const left = new Set(sim.state().departures.map((d) => d.vehicleId));
          if (left.size >= scenario.vehicles.length) {
            clearInterval(check);
            resolve(sim.state().departures.filter((d) => d.visit.index === 0));
          } else if (Date.now() > end) {
            clearInterval(check);
            reject(new Error(`only ${left.size} of ${scenario.vehicles.length} vehicles left within ${timeoutMs / 1000} s`));
          }
        }, 500);
      }),
  };
};

/** What the connection leaves the chargers: at each instant (the limit in force less the building), and at most per
 *  charger (its panel's limit). Without it, the grid limit. */
export interface ChargingRoom {
  readonly siteKwAt: (t: number) => number;
  readonly chargerKw: (chargePointId: string) => number;
}

/** Whether a vehicle's need could be met at all: the energy to its required SoC fits in its actual plug-in window at
 *  80 % of what its charger, its battery and the room left accept, and the whole fleet's need fits in 80 % of the room
 *  left over the night. */
export const feasibility = (run: DayRun, departures: readonly DepartureRecord[], room?: ChargingRoom): Map<string, { feasible: boolean; needKwh: number; why: string }> => {
  const s = run.scenario;
  const siteKwAt = room?.siteKwAt ?? (() => s.gridLimitKw);
  const out = new Map<string, { feasible: boolean; needKwh: number; why: string }>();
  let fleetNeed = 0;
  let first = Infinity;
  let last = 0;
  for (const d of departures) {
    const v = s.vehicles.find((x) => x.id === d.vehicleId)!;
    const plug = run.plugIns.find((p) => p.vehicleId === d.vehicleId);
    const charger = plug ? s.chargers.find((c) => c.id === plug.chargerId)! : undefined;
    const needKwh = energyToReachKwh(v.battery, d.arrivedSocPct, d.visit.requiredSocPct);
    fleetNeed += needKwh;
    if (!plug || !charger) {
      out.set(d.vehicleId, { feasible: false, needKwh, why: 'never plugged in' });
      continue;
    }
    first = Math.min(first, plug.at);
    last = Math.max(last, d.visit.departAt);
    const maxKw = Math.min(charger.maxPowerKw, charger.currentType === 'DC' ? v.battery.maxDcKw : v.battery.maxAcKw, room?.chargerKw(charger.id) ?? Infinity);
    const possibleKwh = 0.8 * energyUnderKwh(siteKwAt, maxKw, plug.at, d.visit.departAt);
    const feasible = needKwh <= possibleKwh;
    out.set(d.vehicleId, { feasible, needKwh, why: feasible ? 'fits its window' : `needs ${needKwh.toFixed(3)} kWh, at most ${possibleKwh.toFixed(3)} kWh possible` });
  }
  if (fleetNeed > 0.8 * energyUnderKwh(siteKwAt, Infinity, first, last)) for (const [k, v] of out) out.set(k, { ...v, feasible: false, why: 'fleet need exceeds the room under the limit over the night' });
  return out;
};

/** Each departure as the day's report lists it: the SoC it came with, needed and left with, and whether its need was
 *  feasible (`feasibility`) and why. */
export const departureOutcomes = (departures: readonly DepartureRecord[], feasible: ReturnType<typeof feasibility>) =>
  departures.map((d) => ({
    vehicleId: d.vehicleId,
    arrivedSocPct: Math.round(d.arrivedSocPct * 10) / 10,
    requiredSocPct: d.visit.requiredSocPct,
    leftWithSocPct: Math.round(d.socPct * 10) / 10,
    earlyDeparture: d.visit.earlyDeparture,
    lateReturn: d.visit.lateReturn,
    feasible: feasible.get(d.vehicleId)!.feasible,
    why: feasible.get(d.vehicleId)!.why,
  }));
