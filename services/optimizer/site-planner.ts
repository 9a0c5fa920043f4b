import { ModelOptions, SimplexBasis } from './formulation';
import { PlanResult, planSite } from './planner';
import { SiteSnapshot } from './snapshot';
import { SolveOptions, Solver } from './solver';

/** The live service's planner: every plan of a site starts from the basis of that site's last plan (a warm start), and
 *  asks for its own basis for the next one. solver.ts uses a basis only when the model has the same shape (the same
 *  vehicles, slots and rows: a re-plan within a slot on a SoC, meter, price or limit change) and solves cold otherwise,
 *  so a stale basis costs nothing but the check. A plan without a basis (the fallback, a solver failure) forgets the
 *  site's. */
export interface SitePlanner {
  plan(s: SiteSnapshot, opts?: SolveOptions & { model?: ModelOptions }): Promise<PlanResult>;
}

export const createSitePlanner = (solver: Solver): SitePlanner => {
  const lastBasis = new Map<string, SimplexBasis>();
  return {
    plan: async (s, opts = {}) => {
      const result = await planSite(s, solver, { ...opts, warmStart: lastBasis.get(s.siteId) ?? null, withBasis: true });
      if (result.basis) lastBasis.set(s.siteId, result.basis);
      else lastBasis.delete(s.siteId);
      return result;
    },
  };
};
