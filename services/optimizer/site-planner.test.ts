import { Plan } from './formulation';
import { threeVehicleDepot } from './fixtures';
import { createSitePlanner } from './site-planner';
import { createInProcessSolver, SolveOptions, Solver } from './solver';

/** given a site planned once / when it is planned again / then the solve starts from the first plan's basis and
 *  reaches the same plan. No Kafka: the service's planner over an in-process solver that records what it is given. */
const spying = (inner: Solver) => {
  const calls: SolveOptions[] = [];
  const solver: Solver = { solve: (model, opts = {}) => (calls.push(opts), inner.solve(model, opts)), close: () => inner.close() };
  return { solver, calls };
};

const depot = threeVehicleDepot();
const powers = (p: Plan) => p.vehicles.map((v) => v.powerKw.map((kw) => Math.round(kw * 1e6) / 1e6));

describe('the service’s planner: re-plans warm-started from the last plan', () => {
  let inProcess: Solver;
  beforeAll(async () => {
    inProcess = await createInProcessSolver();
  });

  it('a second plan of the same site starts from the first one’s basis and is the same plan', async () => {
    const { solver, calls } = spying(inProcess);
    const planner = createSitePlanner(solver);
    const first = await planner.plan(depot);
    const second = await planner.plan(depot);
    expect(calls[0]!.warmStart).toBeNull();
    expect(first.basis).not.toBeNull();
    expect(calls[1]!.warmStart).toBe(first.basis);
    expect(second.plan.status).toBe('Optimal');
    expect(second.plan.objective).toBeCloseTo(first.plan.objective, 6);
    expect(powers(second.plan)).toEqual(powers(first.plan));
  });

  it('a tariff change (the same shape) starts warm and reaches the cold optimum; another site starts cold', async () => {
    const { solver, calls } = spying(inProcess);
    const planner = createSitePlanner(solver);
    const first = await planner.plan(depot);
    const dearer = { ...depot, pricePerKwh: depot.pricePerKwh.map((p, t) => (t >= 4 && t < 12 ? p * 1.5 : p)) };
    const warm = await planner.plan(dearer);
    const cold = await createSitePlanner(inProcess).plan(dearer);
    await planner.plan({ ...depot, siteId: 'other' });
    expect(calls[1]!.warmStart).toBe(first.basis);
    expect(warm.plan.objective).toBeCloseTo(cold.plan.objective, 6);
    expect(calls[2]!.warmStart).toBeNull();
  });

  it('a large site solved by interior point still leaves a basis for the next plan (crossover)', async () => {
    const { solver, calls } = spying(inProcess);
    const planner = createSitePlanner(solver);
    const first = await planner.plan(depot, { algorithm: 'ipm' });
    expect(first.basis?.colStatus.length).toBeGreaterThan(0);
    await planner.plan(depot);
    expect(calls[1]!.warmStart).toBe(first.basis);
  });
});
