import * as os from 'node:os';
import { Benchmark, progress } from '../benchmark';
import { createInProcessSolver, Solver } from '../../../services/optimizer/solver';
import { planSite } from '../../../services/optimizer/planner';
import { createSitePlanner } from '../../../services/optimizer/site-planner';
import { DAY_START, depotDay, DepotDay, siteSnapshot, SLOT_MS, vehicleSnapshot, withBuilding } from './depot';
import { DayOutcome, figuresOf } from './figures';
import { depotGoals, Goal, solveTimeGoal } from './goals';
import { depotWithHistory, learnedReserve } from './history';
import { ControllerName, DayResult, FORECAST_DWELL_MS, simulateHeuristic, simulateOffline, simulateOptimizer, Unannounced } from './simulate';
import { figuresTable, goalsTable } from './table';

const usage = `Options of \`voltstream bench optimizer\` (npm run bench:optimizer -- [options]):
  --parts LIST         which parts, comma-separated (default depot,history,building,scale):
                         depot     uncontrolled / EDF / LLF / optimizer vs the offline optimum, at each limit
                         history   depots with weeks of history: the optimizer with the dwell assumption vs with the
                                   departure reserve from its learned forecasts (issue 18)
                         building  a building load with forecast error, panels and phases (issue 17)
                         scale     solve time of one LP, 100 and 1,000 chargers x 96 slots (and with 10 panels, 3 phases;
                                   and a re-plan of the same shape warm-started from the last plan's basis)
  --sizes LIST         chargers per depot (default 20,40,100)
  --history-sizes LIST chargers per depot with history (default 20,40)
  --building-sizes LIST chargers per depot with a building (default 20,40)
  --seed-groups LIST   seed ranges reported separately (default 1-3,4-9: 1-3 are the seeds the planner was tuned on)
  --limits LIST        site limits in % of the chargers' power (default 30,15; the building part runs at 30)
  --weeks N            weeks of history before the measured day (default 4)
  --scale-reps N       solves per size in the scale part (default 3 at 1,000 chargers; at least 10 at 100)
  --quick              --sizes 20 --history-sizes 20 --building-sizes 20 --seed-groups 1-3 --scale-reps 1
Prints per part and seed group a table of figures and a table of goals (issues 17 and 18) with PASS or MISS.
Exit code 0 whatever the verdicts: a benchmark measures, the tables judge.`;

const option = (args: readonly string[], name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const list = (args: readonly string[], name: string, fallback: string): string[] => (option(args, name) ?? fallback).split(',').filter((x) => x !== '');
const numbers = (args: readonly string[], name: string, fallback: string): number[] => list(args, name, fallback).map(Number);
const seedRange = (range: string): number[] => {
  const [a, b = a] = range.split('-').map(Number);
  return Array.from({ length: b! - a! + 1 }, (_, i) => a! + i);
};

type Run = (day: DepotDay, solver: Solver, unannounced: Unannounced) => Promise<DayResult>;
interface Case {
  /** What the table's heading says of the days. */
  readonly title: string;
  readonly controllers: readonly { readonly name: string; readonly run: Run }[];
  /** Days of the seeds, each with what its controllers need. */
  readonly dayOf: (seed: number) => { day: DepotDay; unannounced?: Unannounced };
  readonly costGoal: boolean;
  readonly uncontrolledColumn: boolean;
}

const heuristic = (kind: 'uncontrolled' | 'edf' | 'llf') => ({ name: kind, run: (day: DepotDay) => simulateHeuristic(day, kind) });

/** Runs a case's controllers over a seed group; prints the figures and the goals; returns the goals. */
const runCase = async (c: Case, seeds: readonly number[], solver: Solver, label: string): Promise<Goal[]> => {
  const names = [...c.controllers.map((x) => x.name), 'offline'];
  const outcomes = new Map<string, DayOutcome[]>(names.map((n) => [n, []]));
  const bar = progress(label, seeds.length * names.length);
  let done = 0;
  let limitKw = 0;
  for (const seed of seeds) {
    const { day, unannounced } = c.dayOf(seed);
    limitKw = day.gridLimitKw;
    const offline = await simulateOffline(day, solver);
    outcomes.get('offline')!.push({ day, result: offline, offline });
    bar.tick(++done, `seed ${seed} offline`);
    for (const ctrl of c.controllers) {
      const result = await ctrl.run(day, solver, unannounced ?? 'dwell');
      outcomes.get(ctrl.name)!.push({ day, result, offline });
      bar.tick(++done, `seed ${seed} ${ctrl.name}`);
    }
  }
  const figures = names.map((n) => figuresOf(n as ControllerName, outcomes.get(n)!));
  const offline = figures.find((f) => f.controller === 'offline')!;
  const uncontrolled = c.uncontrolledColumn ? figures.find((f) => f.controller === 'uncontrolled') : undefined;
  console.log(`\n${c.title}; seeds ${seeds[0]}-${seeds[seeds.length - 1]!} (${seeds.length} days), limit ${limitKw} kW; costs summed over the days (EUR), peak averaged`);
  console.log(figuresTable(figures, offline, uncontrolled));
  const goals = figures.filter((f) => f.controller.startsWith('optimizer')).flatMap((f) => depotGoals(f, offline, c.costGoal));
  console.log(goalsTable(goals));
  return goals;
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

/** Wall and CPU time (ms) of each solve, each sorted. In-process, the CPU time is the planning thread's (and the GC's). */
/** Wall and CPU time of `reps` solves (each sorted), with progress: `solve(i)` prepares and solves one, `timed` around
 *  the part to measure. */
const timedSolves = async (
  label: string,
  reps: number,
  solve: (i: number, timed: <A>(f: () => Promise<A>) => Promise<A>) => Promise<{ plan: { status: string } }>,
): Promise<{ wall: number[]; cpu: number[] }> => {
  const bar = progress(label, reps);
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const { plan } = await solve(i, async (f) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const out = await f();
      wall.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      return out;
    });
    if (plan.status !== 'Optimal') console.log(`  (rep ${i}: ${plan.status})`);
    bar.tick(i + 1, `${wall[i]!.toFixed(0)} ms wall, ${cpu[i]!.toFixed(0)} ms CPU`);
  }
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  return { wall: sorted(wall), cpu: sorted(cpu) };
};

const scale = (solver: Solver, chargers: number, reps: number, building = false): Promise<{ wall: number[]; cpu: number[] }> =>
  timedSolves(`solve ${chargers} chargers x 96 slots${building ? ', 10 panels, 3 phases' : ''}`, reps, (i, timed) =>
    timed(() => planSite(scaleSnapshot(chargers, 100 + i, building), solver, { timeLimitS: 120 })),
  );

/** Re-plans of the same shape (the same snapshot after a tariff change: the evening 30 % dearer) through the service's
 *  planner (site-planner.ts): its first plan of the site cold (interior point with crossover, for the basis), the
 *  re-plan from that basis: wall and CPU time of the re-plan, each sorted. */
const warmScale = (solver: Solver, chargers: number, reps: number): Promise<{ wall: number[]; cpu: number[] }> =>
  timedSolves(`re-plan ${chargers} chargers x 96 slots from the last basis`, reps, async (i, timed) => {
    const planner = createSitePlanner(solver);
    const snap = scaleSnapshot(chargers, 100 + i);
    await planner.plan(snap, { timeLimitS: 120 });
    const dearer = { ...snap, pricePerKwh: snap.pricePerKwh.map((p, t) => (t >= 8 && t < 24 ? p * 1.3 : p)) };
    return timed(() => planner.plan(dearer, { timeLimitS: 120 }));
  });

const pct = (share: number) => `${Math.round(share * 100)} %`;

export const benchmark: Benchmark = {
  name: 'optimizer',
  summary: 'Depot days (held-out seeds, 20-100 chargers, with history, with a building): optimizer vs baselines and the offline optimum, goals PASS/MISS; LP solve time',
  usage,
  run: async (args) => {
    if (args.includes('--help') || args.includes('-h')) {
      console.log(usage);
      return 0;
    }
    const quick = args.includes('--quick');
    const parts = list(args, '--parts', 'depot,history,building,scale');
    const sizes = numbers(args, '--sizes', quick ? '20' : '20,40,100');
    const historySizes = numbers(args, '--history-sizes', quick ? '20' : '20,40');
    const buildingSizes = numbers(args, '--building-sizes', quick ? '20' : '20,40');
    const groups = list(args, '--seed-groups', quick ? '1-3' : '1-3,4-9').map(seedRange);
    const limits = numbers(args, '--limits', '30,15').map((x) => x / 100);
    const weeks = Number(option(args, '--weeks') ?? 4);
    const reps = Number(option(args, '--scale-reps') ?? (quick ? 1 : 3));
    console.log(`Cores: ${os.cpus().length}, load average at start ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (the machine is shared: timings include other work). HiGHS 1.15.3 (WebAssembly, single-threaded), solved in-process; slot 15 min.`);
    console.log(`World: true charging efficiency 0.90 (controllers start from a configured 0.92 and learn it), taper above 80 % SoC, 25 % of vehicles with a 6 h telematics outage, ETAs 0.5-2 h ahead; before its ETA a vehicle is expected ${FORECAST_DWELL_MS / 3600000} h before its departure with 30 % SoC (OPTIMIZER_FORECAST_DWELL_HOURS), except for optimizer+forecast.`);
    const solver = await createInProcessSolver();
    const goals: { part: string; goal: Goal }[] = [];
    const collect = (part: string, gs: Goal[]) => gs.forEach((goal) => goals.push({ part, goal }));
    const optimizer = { name: 'optimizer', run: (day: DepotDay, s: Solver) => simulateOptimizer(day, s) };
    const withForecast = { name: 'optimizer+forecast', run: (day: DepotDay, s: Solver, unannounced: Unannounced) => simulateOptimizer(day, s, { unannounced }) };

    if (parts.includes('depot'))
      for (const chargers of sizes)
        for (const share of limits)
          for (const seeds of groups) {
            const c: Case = {
              title: `Depot days, ${chargers} chargers, limit ${pct(share)} of their power`,
              controllers: [heuristic('uncontrolled'), heuristic('edf'), heuristic('llf'), optimizer],
              dayOf: (seed) => ({ day: depotDay(seed, chargers, share) }),
              costGoal: share === 0.3,
              uncontrolledColumn: true,
            };
            collect(`depot ${chargers} ch, ${pct(share)}, seeds ${seeds[0]}-${seeds[seeds.length - 1]}`, await runCase(c, seeds, solver, `depot ${chargers} ch ${pct(share)} seeds ${seeds[0]}-${seeds[seeds.length - 1]}`));
          }

    if (parts.includes('history'))
      for (const chargers of historySizes)
        for (const share of limits)
          for (const seeds of groups) {
            const c: Case = {
              title: `Depots with ${weeks} weeks of history (each vehicle's return ±1.5 h, SoC ±8 points, departure ±30 min around its own routine), ${chargers} chargers, limit ${pct(share)}; optimizer: vehicles without an ETA expected by the dwell; optimizer+forecast: left out of the plan, the departure reserve from their learned forecasts kept for them`,
              controllers: [heuristic('edf'), optimizer, withForecast],
              dayOf: (seed) => {
                const h = depotWithHistory(seed, chargers, share, weeks);
                return { day: h.day, unannounced: learnedReserve(h) };
              },
              costGoal: share === 0.3,
              uncontrolledColumn: false,
            };
            collect(`history ${chargers} ch, ${pct(share)}, seeds ${seeds[0]}-${seeds[seeds.length - 1]}`, await runCase(c, seeds, solver, `history ${chargers} ch ${pct(share)} seeds ${seeds[0]}-${seeds[seeds.length - 1]}`));
          }

    if (parts.includes('building'))
      for (const chargers of buildingSizes)
        for (const seeds of groups) {
          const c: Case = {
            title: `Issue 17: ${chargers} chargers, a building peaking 07-10 and 17-20 at 40 % of the chargers' 30 % share, its forecast off by up to ±20 % per slot (upper quantile +25 %), chargers on 4 panels of 50 % of their power with per-phase limits, every fifth AC vehicle on one phase; slots over = connection (building + chargers, kW and A per phase) or a panel (kW, A per phase); the offline optimum knows the building load in advance`,
            controllers: [heuristic('edf'), optimizer],
            dayOf: (seed) => {
              const plain = depotDay(seed, chargers, 0.3);
              return { day: withBuilding(plain, plain.gridLimitKw * 0.4, 0.2, 4, 0.5) };
            },
            costGoal: false,
            uncontrolledColumn: false,
          };
          collect(`building ${chargers} ch, seeds ${seeds[0]}-${seeds[seeds.length - 1]}`, await runCase(c, seeds, solver, `building ${chargers} ch seeds ${seeds[0]}-${seeds[seeds.length - 1]}`));
        }

    if (parts.includes('scale')) {
      console.log(`\nSolve time (snapshot → plan: model, HiGHS, plan; cold, one LP each), all vehicles plugged in, 96-slot horizon, site limit 30 %, load average now ${os.loadavg()[0]!.toFixed(1)}:`);
      const rows: Goal[] = [];
      for (const [n, r, building] of [[100, Math.max(reps, 10), false], [1000, reps, false], [1000, reps, true]] as const) {
        const t = await scale(solver, n, r, building);
        const what = `${n} chargers x 96 slots${building ? ', building, 10 panels, 3 phases' : ''} (${t.wall.length} solve${t.wall.length === 1 ? '' : 's'})`;
        const goal = solveTimeGoal(what, t.cpu, t.wall);
        // The goal is set for 1,000 chargers; 100 is the size below it, for the trend.
        rows.push(n === 1000 ? goal : { ...goal, target: '-', met: null });
      }
      const warm = await warmScale(solver, 1000, reps);
      rows.push(solveTimeGoal(`1000 chargers x 96 slots, re-plan after a tariff change, warm start from the last plan's basis through the service's planner (${warm.wall.length} solve${warm.wall.length === 1 ? '' : 's'})`, warm.cpu, warm.wall));
      console.log(goalsTable(rows));
      collect('scale', rows);
    }
    await solver.close();
    const missed = goals.filter((g) => g.goal.met === false);
    console.log(`\nGoals: ${goals.filter((g) => g.goal.met === true).length} PASS, ${missed.length} MISS`);
    for (const { part, goal } of missed) console.log(`  MISS  ${part}: ${goal.goal}: ${goal.measured} (target ${goal.target})`);
    return 0;
  },
};
