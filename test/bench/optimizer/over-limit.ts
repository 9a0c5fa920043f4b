import { panelPath } from '../../../services/optimizer/limits';
import { phaseUseOn } from '../../../services/optimizer/phases';
import { ChargerSnapshot, SubPanel, VOLTS_PER_PHASE } from '../../../services/optimizer/snapshot';

/** The limits one slot of a simulated day went over, from the power each charger actually drew and the building's
 *  true load, pure: the connection's kW (chargers and building) and current per phase (the building counted balanced),
 *  and each panel's kW and current per phase over the chargers under it. The benchmark's "slots over" counts the slots
 *  where this is not empty. */

export interface Draw {
  readonly chargePointId: string;
  /** Grid-side power drawn in the slot (kW). */
  readonly kw: number;
  /** The vehicle's AC phases (1-3); absent: all of the charger's. */
  readonly acPhases?: number;
}

export interface SiteLimits {
  readonly gridLimitKw: number;
  /** Per-phase current limit of the connection (A), where given. */
  readonly maxCurrentA?: number;
  readonly panels: readonly SubPanel[];
  readonly chargers: ReadonlyMap<string, ChargerSnapshot>;
}

/** What a reading may exceed its limit by and still count as within it (rounding of kW and A). */
const EPS = 1e-6;

/** Current per grid phase (A) of some draws, plus `buildingKw` spread evenly over the three phases. */
export const phaseAmps = (draws: readonly Draw[], chargers: ReadonlyMap<string, ChargerSnapshot>, buildingKw: number): [number, number, number] => {
  const amps: [number, number, number] = [0, 1, 2].map(() => (buildingKw * 1000) / (3 * VOLTS_PER_PHASE)) as [number, number, number];
  for (const d of draws) {
    const u = phaseUseOn(d, chargers.get(d.chargePointId)!);
    for (const phase of u.gridPhases) amps[phase] += (d.kw * 1000) / (u.phases * VOLTS_PER_PHASE);
  }
  return amps;
};

export const limitsExceeded = (draws: readonly Draw[], buildingKw: number, limits: SiteLimits): string[] => {
  const over: string[] = [];
  const total = draws.reduce((m, d) => m + d.kw, 0);
  if (total + buildingKw > limits.gridLimitKw + EPS) over.push('connection kW');
  if (limits.maxCurrentA !== undefined && phaseAmps(draws, limits.chargers, buildingKw).some((a) => a > limits.maxCurrentA! + EPS)) over.push('connection A');
  const panels = new Map(limits.panels.map((p) => [p.panelId, p]));
  for (const p of limits.panels) {
    const under = draws.filter((d) => panelPath(panels, limits.chargers.get(d.chargePointId)?.panelId ?? null).includes(p.panelId));
    if (under.reduce((m, d) => m + d.kw, 0) > p.limitKw + EPS) over.push(`panel ${p.panelId} kW`);
    if (p.maxCurrentA != null && phaseAmps(under, limits.chargers, 0).some((a) => a > p.maxCurrentA! + EPS)) over.push(`panel ${p.panelId} A`);
  }
  return over;
};
