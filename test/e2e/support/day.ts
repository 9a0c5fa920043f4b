import { Logger } from '../../../services/common/log';
import { createScenario, Scenario } from '../../../services/simulator/model/fleet';
import { DepartureRecord, DepotState, Effect } from '../../../services/simulator/model/depot';
import { energyToReachKwh } from '../../../services/simulator/model/battery';
import { createSimulator, Simulator } from '../../../services/simulator/simulator';
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
}

export interface DayRun {
  readonly sim: Simulator;
  readonly scenario: Scenario;
  readonly meters: Extract<Effect, { kind: 'meter' }>[];
  readonly plugIns: Extract<Effect, { kind: 'plugIn' }>[];
  readonly readings: { readingIds: readonly string[]; status: number }[];
  /** The true SoC of every plugged vehicle, sampled at every model step (what the backend should believe). */
  readonly socs: { at: number; vehicleId: string; socPct: number }[];
  /** Resolves when every vehicle has left once (or rejects after timeoutMs). */
  finished(timeoutMs: number): Promise<DepartureRecord[]>;
}

export const startDay = async (sys: System, o: DayOptions): Promise<DayRun> => {
  const dayMs = o.dayMinutes * 60000;
  const now = Date.now();
  const scenario = createScenario({
    seed: o.seed,
    chargers: o.chargers,
    vehicles: o.vehicles,
    startMs: now,
    dayMs,
    // the run starts at 14:30 depot time: arrivals from 16:00, departures 05:30-08:00
    dayStartMs: now - (14.5 / 24) * dayMs,
    idPrefix: o.prefix,
    share201: 0.5,
    dcChargers: 1,
    gridLimitKw: o.gridLimitKw,
  });
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
  await sim.start();
  return {
    sim,
    scenario,
    meters,
    plugIns,
    readings,
    socs,
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

/** Whether a vehicle's need could be met at all: the energy to its required SoC fits in its actual plug-in window at
 *  80 % of what its charger and battery accept, and the whole fleet's need fits under the grid limit over the night. */
export const feasibility = (run: DayRun, departures: readonly DepartureRecord[]): Map<string, { feasible: boolean; needKwh: number; why: string }> => {
  const s = run.scenario;
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
    const hours = (d.visit.departAt - plug.at) / 3600000;
    const maxKw = Math.min(charger.maxPowerKw, charger.currentType === 'DC' ? v.battery.maxDcKw : v.battery.maxAcKw, s.gridLimitKw);
    const feasible = needKwh <= 0.8 * maxKw * hours;
    out.set(d.vehicleId, { feasible, needKwh, why: feasible ? 'fits its window' : `needs ${needKwh.toFixed(3)} kWh, at most ${(0.8 * maxKw * hours).toFixed(3)} kWh possible` });
  }
  if (fleetNeed > 0.8 * s.gridLimitKw * ((last - first) / 3600000)) for (const [k, v] of out) out.set(k, { ...v, feasible: false, why: 'fleet need exceeds the grid limit over the night' });
  return out;
};
