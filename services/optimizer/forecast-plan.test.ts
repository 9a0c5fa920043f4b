import { defaultOptimizerConfig } from './config';
import { scenarioReserve, shortAtDeparture } from './departure-reserve.fixture';
import { T0 } from './fixtures';
import { lateDepotState } from './forecast-fixture';
import { snapshotOf } from './site-snapshot';
import { createInProcessSolver, Solver } from './solver';

/** From history to plan, no Kafka: the reserve the snapshot derives from the late vehicle's six weeks
 *  (forecast-fixture.ts), given to the LP of departure-reserve.fixture.ts's scenario, leaves the late vehicle ready
 *  where the plan without it leaves it short. */
describe('the forecast reserve in the plan', () => {
  let solver: Solver;
  beforeAll(async () => {
    solver = await createInProcessSolver();
  });

  const cfg = { ...defaultOptimizerConfig, efficiency: 0.9 };

  it('without it the present vehicle takes the cheap hours and the late one is short; with it both leave ready', async () => {
    const snap = snapshotOf(lateDepotState(), 'north', T0, cfg)!;
    const reserveKw = snap.reserveKw!;
    // The same reserve as the scenario's by hand: what the history says is what the scenario assumed.
    scenarioReserve().reserveKw.forEach((kw, t) => expect(reserveKw[t]).toBeCloseTo(kw, 6));

    const without = await shortAtDeparture(solver, {});
    const kept = await shortAtDeparture(solver, { reserveKw });
    expect(without.short).toBeGreaterThan(10);
    expect(kept.short).toBeLessThan(1e-6);
    process.stdout.write(`late vehicle short at 10 h: ${without.short.toFixed(1)} kWh without the forecast reserve, ${kept.short.toFixed(1)} kWh with it\n`);
  });
});
