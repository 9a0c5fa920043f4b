import { ModelOptions, Plan, SimplexBasis, buildModel, interpret, planFromPowers } from './formulation';
import { heuristicPowers } from './baselines';
import { SiteSnapshot } from './snapshot';
import { SolveOptions, Solver } from './solver';

/** plan = f(snapshot), with the solver as the only effect: the LP when HiGHS answers Optimal, otherwise the
 *  earliest-deadline-first heuristic within the same limits, with status 'Fallback' and the reason. */
export interface PlanResult {
  readonly plan: Plan;
  readonly fallbackReason: string | null;
  /** The LP's optimal basis when solved by simplex or asked for (`opts.withBasis`): `opts.warmStart` of a later plan of the same shape. */
  readonly basis?: SimplexBasis | null;
}

export const planSite = async (s: SiteSnapshot, solver: Solver, opts: SolveOptions & { model?: ModelOptions } = {}): Promise<PlanResult> => {
  const started = performance.now();
  const { model, layout } = buildModel(s, opts.model);
  let reason: string;
  try {
    const out = await solver.solve(model, opts);
    if (out.colValue) return { plan: interpret(s, layout, { ...out, colValue: out.colValue, solveMs: performance.now() - started }), fallbackReason: null, basis: out.basis ?? null };
    reason = `solver status ${out.status}`;
  } catch (e) {
    reason = (e as Error).message;
  }
  const plan = planFromPowers(s, layout, heuristicPowers(s, layout, 'edf'), 'Fallback', NaN, performance.now() - started);
  return { plan, fallbackReason: reason };
};
