import { optimizerPlans } from './tables';
import { AppendProjection } from './projection';

/** Every plan on optimizer.plans, one row per plan (GET /api/v1/sites/{id}/plans, the site state's active plan, the
 *  analysts' view). The input snapshot travels as JSON text; a snapshot that does not parse is kept as text. */
const parsedInputs = (json: string): unknown => {
  try {
    return JSON.parse(json);
  } catch {
    return { unparsed: json };
  }
};

export const optimizerPlansProjection: AppendProjection = {
  kind: 'append',
  table: optimizerPlans,
  rows: (i) => {
    if (i.kind !== 'plan') return [];
    const p = i.plan;
    return [
      {
        plan_id: p.planId,
        site_id: p.siteId,
        decided_at: p.decidedAt,
        trigger: p.trigger,
        horizon_start: p.horizonStart,
        slot_minutes: p.slotMinutes,
        status: p.status,
        objective: p.objective,
        solve_ms: p.solveMs,
        grid_limit_kw: p.gridLimitKw,
        site_kw: p.siteKw,
        vehicles: p.vehicles,
        inputs: parsedInputs(p.inputsJson),
        at_risk: p.atRisk,
      },
    ];
  },
};
