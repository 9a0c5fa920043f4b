import { createInProcessSolver, Solver } from '../../services/optimizer/solver';
import { depotDay } from '../bench/optimizer/depot';
import { simulateHeuristic, simulateOffline, simulateOptimizer } from '../bench/optimizer/simulate';

/** The benchmark's receding-horizon harness on one small depot day (pure, no broker): the properties that must hold
 *  whatever the figures. The figures themselves are in `npm run bench:optimizer`. */
describe('receding-horizon simulation of a depot day', () => {
  let solver: Solver;
  beforeAll(async () => {
    solver = await createInProcessSolver();
  });

  test('the optimizer stays within the site limit where uncontrolled charging does not, and costs less', async () => {
    const day = depotDay(7, 10, 0.3);
    const uncontrolled = await simulateHeuristic(day, 'uncontrolled');
    const optimizer = await simulateOptimizer(day, solver);
    const offline = await simulateOffline(day, solver);
    expect(uncontrolled.slotsOverLimit).toBeGreaterThan(0);
    expect(optimizer.slotsOverLimit).toBe(0);
    expect(offline.slotsOverLimit).toBe(0);
    expect(Math.max(...optimizer.loadKw)).toBeLessThanOrEqual(day.gridLimitKw + 1e-6);
    expect(optimizer.totalCost).toBeLessThan(uncontrolled.totalCost);
    // The offline optimum is a bound: nobody beats it on cost while delivering as much.
    expect(offline.totalCost).toBeLessThanOrEqual(optimizer.totalCost + 1e-6);
    expect(optimizer.profilePeriods).toBeLessThanOrEqual(24);
  });
});
