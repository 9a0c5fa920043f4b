import * as os from 'node:os';
import { Benchmark, percentile, progress } from '../benchmark';
import { createInProcessSolver, Solver } from '../../../services/optimizer/solver';
import { planSite } from '../../../services/optimizer/planner';
import { DAY_START, depotDay, DepotDay, siteSnapshot, SLOT_MS, vehicleSnapshot, withBuilding } from './depot';
import { ControllerName, DayResult, FORECAST_DWELL_MS, simulateHeuristic, simulateOffline, simulateOptimizer } from './simulate';

/** `npm run bench:optimizer`: synthetic depot days (several seeds, 11 kW AC and 50 kW DC, ToU tariff with a demand
 *  charge, late arrivals, early departures, a telematics outage for a quarter of the fleet) at a site limit of 30 % and
 *  15 % of the chargers' total power; uncontrolled, EDF, LLF and the optimizer (receding horizon, re-planned every
 *  slot) against the offline optimum. Then the solve time of 100 and 1,000 chargers × 96 slots.
 *  Then (issue 17) depots with a building load peaking morning and evening, its forecast off by up to ±20 % per slot, and
 *  the chargers on panels of half their power with per-phase limits: EDF, the optimizer and the offline optimum that
 *  knows the building load in advance; and the solve time of 1,000 chargers × 96 slots on 10 panels and three phases.
 *  Options: --seeds N (3), --chargers N (20), --scale-reps N (3 for 1,000 chargers; 10 for 100), --no-scale,
 *  --only-building (the issue 17 part alone). */
const arg = (args: readonly string[], name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};

const TOL_KWH = 0.5;
const controllers: ControllerName[] = ['uncontrolled', 'edf', 'llf', 'optimizer', 'offline'];

interface Row {
  readonly controller: ControllerName;
  readonly energyCost: number;
  readonly demandCharge: number;
  readonly totalCost: number;
  readonly peakKw: number;
  readonly deliveredKwh: number;
  readonly reached: number;
  readonly vehicles: number;
  readonly feasibleReached: number;
  readonly feasible: number;
  readonly worstShortfall: number;
  readonly slotsOver: number;
  readonly periods: number;
  readonly toggles: number;
  readonly solveMs: number[];
}

const aggregate = (controller: ControllerName, results: { day: DepotDay; r: DayResult; offline: DayResult }[]): Row => {
  let reached = 0;
  let vehicles = 0;
  let feasibleReached = 0;
  let feasible = 0;
  let worst = 0;
  for (const { day, r, offline } of results) {
    for (const v of day.vehicles) {
      const s = r.shortfallKwh.get(v.vehicleId) ?? 0;
      vehicles++;
      if (s <= TOL_KWH) reached++;
      if ((offline.shortfallKwh.get(v.vehicleId) ?? 0) <= TOL_KWH) {
        feasible++;
        if (s <= TOL_KWH) feasibleReached++;
      }
      worst = Math.max(worst, s);
    }
  }
  const sum = (f: (r: DayResult) => number) => results.reduce((m, x) => m + f(x.r), 0);
  const periods = results.map((x) => x.r.profilePeriods).filter((x) => !Number.isNaN(x));
  return {
    controller,
    energyCost: sum((r) => r.energyCost),
    demandCharge: sum((r) => r.demandCharge),
    totalCost: sum((r) => r.totalCost),
    peakKw: sum((r) => r.peakKw) / results.length,
    deliveredKwh: sum((r) => r.deliveredKwh),
    reached,
    vehicles,
    feasibleReached,
    feasible,
    worstShortfall: worst,
    slotsOver: sum((r) => r.slotsOverLimit),
    periods: periods.length ? periods.reduce((m, x) => m + x, 0) / periods.length : NaN,
    toggles: sum((r) => r.toggles),
    solveMs: results.flatMap((x) => [...x.r.solveMs]).sort((a, b) => a - b),
  };
};

const f = (x: number, d = 0) => (Number.isNaN(x) ? '-' : x.toFixed(d));
const pad = (s: string, n: number) => s.padStart(n);

const printTable = (share: number, rows: Row[], seeds: number, chargers: number, limitKw: number) => {
  const offline = rows.find((r) => r.controller === 'offline')!;
  const uncontrolled = rows.find((r) => r.controller === 'uncontrolled') ?? { totalCost: NaN };
  console.log(`\nSite limit ${Math.round(share * 100)} % of charger power (${limitKw} kW for ${chargers} chargers), ${seeds} seeds, costs summed over the seeds (EUR)`);
  const head = ['controller', 'energy', 'demand', 'total', 'vs offline', 'vs uncontr.', 'peak kW', 'kWh', 'at SoC', 'feasible at SoC', 'worst short kWh', 'slots over', 'periods', 'toggles', 'solve p50/p95 ms'];
  const widths = [12, 8, 8, 8, 10, 11, 8, 8, 9, 15, 15, 10, 7, 7, 16];
  console.log(head.map((h, i) => pad(h, widths[i]!)).join(' '));
  for (const r of rows) {
    const cells = [
      r.controller,
      f(r.energyCost),
      f(r.demandCharge),
      f(r.totalCost),
      `${f((100 * (r.totalCost - offline.totalCost)) / offline.totalCost, 1)} %`,
      `${f((100 * (r.totalCost - uncontrolled.totalCost)) / uncontrolled.totalCost, 1)} %`,
      f(r.peakKw, 1),
      f(r.deliveredKwh),
      `${f((100 * r.reached) / r.vehicles)} %`,
      `${r.feasibleReached}/${r.feasible}`,
      f(r.worstShortfall, 1),
      String(r.slotsOver),
      f(r.periods, 1),
      String(r.toggles),
      r.solveMs.length ? `${f(percentile(r.solveMs, 50))}/${f(percentile(r.solveMs, 95))}` : '-',
    ];
    console.log(cells.map((c, i) => pad(c, widths[i]!)).join(' '));
  }
  const o = rows.find((r) => r.controller === 'optimizer')!;
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  console.log(`  goals (optimizer): zero slots over the limit: ${verdict(o.slotsOver === 0)}; every feasible vehicle at its departure SoC: ${verdict(o.feasibleReached === o.feasible)} (${o.feasibleReached}/${o.feasible}); cost within 3 % of the offline optimum: ${verdict(o.totalCost <= offline.totalCost * 1.03)}; at least 25 % below uncontrolled: ${verdict(o.totalCost <= uncontrolled.totalCost * 0.75)}`);
};

/** All vehicles plugged in at the start, departures spread over 16-24 h: a 96-slot horizon. */
const scaleSnapshot = (chargers: number, seed: number, building = false) => {
  const plain = depotDay(seed, chargers, 0.3);
  const day = building ? withBuilding(plain, plain.gridLimitKw * 0.4, 0.2, 10, 0.5) : plain;
  const vehicles = day.vehicles.map((v, i) =>
    vehicleSnapshot({ ...v, arrivalAt: DAY_START, departAt: DAY_START + (64 + ((i * 7 + seed) % 33)) * SLOT_MS }, DAY_START, true, { socPct: v.arrivalSocPct, source: 'telematics', uncertaintyPct: 0 }, 1),
  );
  return siteSnapshot(day, DAY_START, vehicles, 0.92);
};

const scale = async (solver: Solver, chargers: number, reps: number, building = false): Promise<number[]> => {
  const bar = progress(`solve ${chargers} chargers x 96 slots${building ? ', 10 panels, 3 phases' : ''}`, reps);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const snap = scaleSnapshot(chargers, 100 + i, building);
    const t0 = performance.now();
    const { plan } = await planSite(snap, solver, { timeLimitS: 120 });
    times.push(performance.now() - t0);
    if (plan.status !== 'Optimal') console.log(`  (rep ${i}: ${plan.status})`);
    bar.tick(i + 1, `${f(times[i]!)} ms`);
  }
  return times.sort((a, b) => a - b);
};

export const benchmark: Benchmark = {
  name: 'optimizer',
  summary: 'Depot days: uncontrolled / EDF / LLF / optimizer (receding horizon) vs offline optimum; LP solve time at 100 and 1,000 chargers',
  run: async (args) => {
    const seeds = arg(args, '--seeds', 3);
    const chargers = arg(args, '--chargers', 20);
    const reps = arg(args, '--scale-reps', 3);
    console.log(`Cores: ${os.cpus().length}, load average at start ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (the machine is shared: timings include other work). HiGHS 1.15.3 (WebAssembly, single-threaded), solved in-process; slot 15 min.`);
    console.log(`World: true charging efficiency 0.90 (controllers start from a configured 0.92 and learn it from metered energy and SoC readings), taper above 80 % SoC, 25 % of vehicles with a 6 h telematics outage, ETAs 0.5-2 h ahead; before its ETA a vehicle is expected ${FORECAST_DWELL_MS / 3600000} h before its departure with 30 % SoC (OPTIMIZER_FORECAST_DWELL_HOURS).`);
    const solver = await createInProcessSolver();
    const only = args.includes('--only-building');
    for (const share of only ? [] : [0.3, 0.15]) {
      const perController = new Map<ControllerName, { day: DepotDay; r: DayResult; offline: DayResult }[]>(controllers.map((c) => [c, []]));
      const bar = progress(`limit ${Math.round(share * 100)} %`, seeds * controllers.length);
      let done = 0;
      let limitKw = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const day = depotDay(seed, chargers, share);
        limitKw = day.gridLimitKw;
        const offline = await simulateOffline(day, solver);
        bar.tick(++done, `seed ${seed} offline`);
        for (const c of controllers) {
          if (c === 'offline') {
            perController.get(c)!.push({ day, r: offline, offline });
            continue;
          }
          const r = c === 'optimizer' ? await simulateOptimizer(day, solver) : await simulateHeuristic(day, c);
          perController.get(c)!.push({ day, r, offline });
          bar.tick(++done, `seed ${seed} ${c}`);
        }
      }
      bar.tick(seeds * controllers.length);
      printTable(share, controllers.map((c) => aggregate(c, perController.get(c)!)), seeds, chargers, limitKw);
    }
    {
      const ctrl: ControllerName[] = ['edf', 'optimizer', 'offline'];
      const perController = new Map<ControllerName, { day: DepotDay; r: DayResult; offline: DayResult }[]>(ctrl.map((c) => [c, []]));
      const bar = progress('building load and panels', seeds * ctrl.length);
      let done = 0;
      let limitKw = 0;
      for (let seed = 1; seed <= seeds; seed++) {
        const plain = depotDay(seed, chargers, 0.3);
        const day = withBuilding(plain, plain.gridLimitKw * 0.4, 0.2, 4, 0.5);
        limitKw = day.gridLimitKw;
        const offline = await simulateOffline(day, solver);
        bar.tick(++done, `seed ${seed} offline`);
        perController.get('offline')!.push({ day, r: offline, offline });
        for (const c of ['edf', 'optimizer'] as const) {
          const r = c === 'optimizer' ? await simulateOptimizer(day, solver) : await simulateHeuristic(day, c);
          perController.get(c)!.push({ day, r, offline });
          bar.tick(++done, `seed ${seed} ${c}`);
        }
      }
      console.log('\nIssue 17: a building peaking 07-10 and 17-20 at 40 % of the chargers\' 30 % share, forecast off by up to ±20 % per slot (upper quantile +25 %), chargers on 4 panels of 50 % of their power with per-phase limits; "slots over" counts connection (building + chargers) and panel overloads; the offline optimum knows the building load in advance');
      printTable(0.3, ctrl.map((c) => aggregate(c, perController.get(c)!)), seeds, chargers, limitKw);
    }
    if (!args.includes('--no-scale')) {
      console.log(`\nSolve time (snapshot → plan, cold, one LP; up to 20,000 power variables: exact taper rows, slot by slot; above: taper as bounds, slots after the first 4 h in 2-hour blocks; dual simplex below 30,000 columns, interior point without crossover above), all vehicles plugged in, 96-slot horizon, site limit 30 %, load average now ${os.loadavg()[0]!.toFixed(1)}:`);
      for (const [n, r] of [[100, Math.max(reps, 10)], [1000, reps]] as const) {
        const t = await scale(solver, n, r);
        console.log(`  ${n} chargers x 96 slots: p50 ${f(percentile(t, 50))} ms, p95 ${f(percentile(t, 95))} ms over ${t.length} solves (goal for 1,000: < 1000 ms)`);
      }
      const t = await scale(solver, 1000, reps, true);
      console.log(`  1000 chargers x 96 slots, building load, 10 panels with per-phase limits, connection phase limits: p50 ${f(percentile(t, 50))} ms, p95 ${f(percentile(t, 95))} ms over ${t.length} solves`);
    }
    await solver.close();
    return 0;
  },
};
