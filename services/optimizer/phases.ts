import { ChargerSnapshot, SiteSnapshot, VehicleSnapshot } from './snapshot';

/** Which grid phases a vehicle draws on, pure. A charger's L1, L2, L3 are wired to grid phases by its phase rotation
 *  (OCPP's PhaseRotation: 'RST' = L1 on L1, 'STR' = L1 on L2, ...); an AC vehicle draws on the first n of the charger's
 *  phases, n = min(charger phases, vehicle phases); a DC charger draws on all three grid phases alike. A charger that
 *  can switch phases (2.0.1 phaseToUse) puts a one-phase vehicle on the grid phase with the least one-phase load. */

/** Grid phase index: 0 = L1 (R), 1 = L2 (S), 2 = L3 (T). */
export type GridPhase = 0 | 1 | 2;

export interface PhaseUse {
  /** numberPhases of its profile. */
  readonly phases: number;
  /** The grid phases it draws on, `phases` of them. */
  readonly gridPhases: readonly GridPhase[];
  /** The charger phase (1..3) a switching charger is told to use for a one-phase vehicle, else null. */
  readonly phaseToUse: number | null;
}

const LETTER: Record<string, GridPhase> = { R: 0, S: 1, T: 2 };

/** The grid phase of each of the charger's L1..L3 ('RST' when the rotation is absent or not a permutation of RST). */
export const rotationOf = (c: ChargerSnapshot): readonly GridPhase[] => {
  const r = (c.phaseRotation ?? 'RST').toUpperCase();
  const phases = [...r].map((x) => LETTER[x]);
  return r.length === 3 && new Set(phases).size === 3 && phases.every((x) => x !== undefined) ? (phases as GridPhase[]) : [0, 1, 2];
};

/** Phases a vehicle draws on at a charger. */
export const phasesOn = (v: Pick<VehicleSnapshot, 'acPhases'> | undefined, c: ChargerSnapshot): number =>
  c.currentType === 'DC' ? 3 : Math.max(1, Math.min(Math.max(1, Math.round(c.phases)), Math.round(v?.acPhases ?? 3)));

export const phaseUseOn = (v: Pick<VehicleSnapshot, 'acPhases'> | undefined, c: ChargerSnapshot, phaseToUse: number | null = null): PhaseUse => {
  if (c.currentType === 'DC') return { phases: 3, gridPhases: [0, 1, 2], phaseToUse: null };
  const n = phasesOn(v, c);
  const rotation = rotationOf(c);
  if (n === 1 && phaseToUse !== null) return { phases: 1, gridPhases: [rotation[phaseToUse - 1]!], phaseToUse };
  return { phases: n, gridPhases: rotation.slice(0, n), phaseToUse: null };
};

/** The charger as a vehicle uses it: `phases` is the vehicle's number of phases there (units and the 6 A rule). */
export const asUsedBy = (c: ChargerSnapshot, v: VehicleSnapshot | undefined): ChargerSnapshot => {
  const n = phasesOn(v, c);
  return n === c.phases || c.currentType === 'DC' ? c : { ...c, phases: n };
};

/** Phase use of every vehicle on a charger of the site, by vehicle id. One-phase vehicles on switching chargers are
 *  placed last, in snapshot order, each on the grid phase with the least one-phase power placed so far. */
export const assignPhases = (s: SiteSnapshot): ReadonlyMap<string, PhaseUse> => {
  const chargers = new Map(s.chargers.map((c) => [c.chargePointId, c]));
  const out = new Map<string, PhaseUse>();
  const load = [0, 0, 0];
  const switching: { v: VehicleSnapshot; c: ChargerSnapshot }[] = [];
  for (const v of s.vehicles) {
    const c = v.chargePointId ? chargers.get(v.chargePointId) : undefined;
    if (!c) continue;
    if (c.phaseSwitching && c.currentType === 'AC' && phasesOn(v, c) === 1) {
      switching.push({ v, c });
      continue;
    }
    const use = phaseUseOn(v, c);
    out.set(v.vehicleId, use);
    if (use.phases === 1) load[use.gridPhases[0]!]! += v.maxAcKw;
  }
  for (const { v, c } of switching) {
    const rotation = rotationOf(c);
    let best = 0;
    for (let k = 1; k < c.phases && k < 3; k++) if (load[rotation[k]!]! < load[rotation[best]!]!) best = k;
    const use = phaseUseOn(v, c, best + 1);
    out.set(v.vehicleId, use);
    load[use.gridPhases[0]!]! += v.maxAcKw;
  }
  return out;
};
