import { createInProcessSolver, Solver } from '../../../services/optimizer/solver';
import { depotDay, SLOT_MS } from './depot';
import { DayResult, simulateHeuristic, simulateOffline } from './simulate';

/** The offline optimum on a small depot day (4 chargers, the LP in-process, no I/O): what the bench's "vs offline"
 *  figures are measured against. */
let solver: Solver;
beforeAll(async () => {
  solver = await createInProcessSolver();
});
afterAll(() => solver.close());

const dt = SLOT_MS / 3600000;
const accounted = (day: ReturnType<typeof depotDay>, r: DayResult) => {
  expect(r.energyCost).toBeCloseTo(r.loadKw.reduce((m, kw, k) => m + kw * dt * day.prices[k]!, 0), 6);
  expect(r.peakKw).toBeCloseTo(Math.max(...r.loadKw), 6);
  expect(r.demandCharge).toBeCloseTo(r.peakKw * day.demandChargePerKwMonth, 6);
  expect(r.totalCost).toBeCloseTo(r.energyCost + r.demandCharge, 6);
};

describe('the offline optimum of a depot day', () => {
  it.each([0.3, 0.15])('at a limit of %s of the chargers: within the limit, costs as metered, never more short than EDF or LLF, and no dearer than one that serves as much', async (share) => {
    const day = depotDay(2, 4, share);
    const offline = await simulateOffline(day, solver);
    accounted(day, offline);
    expect(offline.slotsOverLimit).toBe(0);
    expect(Math.max(...offline.loadKw)).toBeLessThanOrEqual(day.gridLimitKw + 1e-6);
    for (const kind of ['edf', 'llf'] as const) {
      const h = await simulateHeuristic(day, kind);
      accounted(day, h);
      const short = (r: DayResult) => [...r.shortfallKwh.values()].reduce((m, x) => m + x, 0);
      // Feasibility before cost: never more short in total; as dear only where it serves more.
      expect(short(offline)).toBeLessThanOrEqual(short(h) + 0.5);
      if (short(h) <= short(offline) + 0.5) expect(offline.totalCost).toBeLessThanOrEqual(h.totalCost + 1e-6);
    }
  });

  it('counts the slots a controller that ignores the limit goes over', async () => {
    const day = depotDay(2, 4, 0.15);
    const uncontrolled = await simulateHeuristic(day, 'uncontrolled');
    expect(uncontrolled.slotsOverLimit).toBe(uncontrolled.loadKw.filter((kw) => kw > day.gridLimitKw + 1e-6).length);
    expect(uncontrolled.slotsOverLimit).toBeGreaterThan(0);
  });
});
