import { fallbackBuildingKw } from './building-load';
import { assignPhases, GridPhase, PhaseUse, phaseUseOn } from './phases';
import { ampsToKw, ChargerSnapshot, SiteSnapshot, SubPanel, TimedLimit, VehicleSnapshot, kwToAmps, VOLTS_PER_PHASE } from './snapshot';

/** The site's limits below and beside the connection's kW limit, as rows over the vehicles' powers, pure:
 *  Σ coef·p[v,t] ≤ capacity[t]. Shared by the LP (formulation.ts), the heuristics (baselines.ts) and the fallback caps.
 *  - panel kW: a panel carries the chargers on it and on every panel fed from it (nested feeders, transformers);
 *  - phase current (A), at the connection and at panels that have a per-phase limit: a vehicle on n phases draws
 *    p·1000/(n·230) A on each of its grid phases (phases.ts); the building's load counts as balanced on three phases;
 *  - a charger's external limit (an EMS's NotifyChargingLimit), over the vehicles on it, where in force;
 *  - the connection's limit in each slot: the lowest of the grid limit and the limit events in force (demand response). */

export interface LimitMember {
  /** Index into the vehicles (the layout's windows, in snapshot order). */
  readonly vehicle: number;
  readonly coef: number;
}

export interface LimitRow {
  readonly name: string;
  readonly members: readonly LimitMember[];
  /** Per slot; Infinity where nothing limits. */
  readonly capacity: Float64Array;
}

/** What the rows need of each vehicle: its snapshot, whether it is planned, and the fixed load of one on a charger that
 *  ignores its profiles (kW where avail > 0). */
export interface LimitVehicle {
  readonly vehicle: VehicleSnapshot;
  readonly planned: boolean;
  readonly fixedKw: number;
  readonly avail: Float64Array;
}

const ampsPerKw = (phases: number): number => 1000 / (phases * VOLTS_PER_PHASE);

/** The lowest of the limits in force at some instant of [a, b), or Infinity. */
export const lowestIn = (limits: readonly TimedLimit[] | undefined, a: number, b: number): number =>
  (limits ?? []).reduce((m, l) => (l.from < b && (l.to === null || l.to > a) ? Math.min(m, l.limitKw) : m), Infinity);

/** The connection's kW limit per slot: grid limit and limit events. */
export const siteLimitKw = (s: SiteSnapshot, slots: number): Float64Array => {
  const slotMs = s.slotMinutes * 60000;
  const out = new Float64Array(slots);
  for (let t = 0; t < slots; t++) out[t] = Math.min(s.gridLimitKw, lowestIn(s.limitEvents, s.now + t * slotMs, s.now + (t + 1) * slotMs));
  return out;
};

/** Panel ids from a charger's panel up to the one fed by the connection (a cycle in the configuration stops the walk). */
export const panelPath = (panels: ReadonlyMap<string, SubPanel>, panelId: string | null): string[] => {
  const path: string[] = [];
  for (let id = panelId; id !== null && panels.has(id) && !path.includes(id); id = panels.get(id)!.parentPanelId ?? null) path.push(id);
  return path;
};

export const limitRows = (s: SiteSnapshot, vehicles: readonly LimitVehicle[], slots: number, baseKw: Float64Array, phaseUse: ReadonlyMap<string, PhaseUse> = assignPhases(s)): LimitRow[] => {
  const slotMs = s.slotMinutes * 60000;
  const chargers = new Map(s.chargers.map((c) => [c.chargePointId, c]));
  const panels = new Map(s.panels.map((p) => [p.panelId, p]));
  const rows: LimitRow[] = [];
  const fill = (kw: number) => new Float64Array(slots).fill(kw);
  /** The fixed load (kW per slot) of uncontrollable chargers under `under` (a panel id, or null for the whole site),
   *  times `coef(c)`. */
  const busy = new Set(vehicles.filter((w) => w.fixedKw > 0).map((w) => w.vehicle.chargePointId));
  const fixedOn = (inScope: (c: ChargerSnapshot) => boolean, coef: (c: ChargerSnapshot, v: VehicleSnapshot | undefined) => number): Float64Array => {
    const out = new Float64Array(slots);
    for (const w of vehicles) {
      const c = w.vehicle.chargePointId ? chargers.get(w.vehicle.chargePointId) : undefined;
      if (w.planned || w.fixedKw <= 0 || !c || !inScope(c)) continue;
      for (let t = 0; t < slots; t++) if (w.avail[t]! > 0) out[t]! += w.fixedKw * coef(c, w.vehicle);
    }
    for (const c of s.chargers) if (!c.controllable && !busy.has(c.chargePointId) && inScope(c)) for (let t = 0; t < slots; t++) out[t]! += c.measuredKw * coef(c, undefined);
    return out;
  };
  const members = (inScope: (c: ChargerSnapshot) => boolean, coef: (v: VehicleSnapshot, c: ChargerSnapshot) => number): LimitMember[] =>
    vehicles.flatMap((w, i) => {
      const c = w.vehicle.chargePointId ? chargers.get(w.vehicle.chargePointId) : undefined;
      if (!w.planned || !c || !inScope(c)) return [];
      const k = coef(w.vehicle, c);
      return k > 0 ? [{ vehicle: i, coef: k }] : [];
    });
  const use = (v: VehicleSnapshot | undefined, c: ChargerSnapshot) => (v && phaseUse.get(v.vehicleId)) || phaseUseOn(v, c);
  const ampsOn = (phase: GridPhase) => (v: VehicleSnapshot | undefined, c: ChargerSnapshot) => {
    const u = use(v, c);
    return u.gridPhases.includes(phase) ? ampsPerKw(u.phases) : 0;
  };
  const push = (name: string, m: LimitMember[], capacity: Float64Array) => {
    if (m.length > 0) rows.push({ name, members: m, capacity: capacity.map((x) => Math.max(0, x)) });
  };
  /** Phase rows add nothing where every vehicle in scope draws on all three phases alike and the scope's kW limit is
   *  no more than its current limit on three phases: the kW row is the same constraint. */
  const balanced = (inScope: (c: ChargerSnapshot) => boolean) =>
    vehicles.every((w) => {
      const c = w.vehicle.chargePointId ? chargers.get(w.vehicle.chargePointId) : undefined;
      return !c || !inScope(c) || use(w.vehicle, c).phases === 3;
    });
  const threePhaseKw = (amps: number) => (amps * 3 * VOLTS_PER_PHASE) / 1000;

  for (const p of s.panels) {
    const under = (c: ChargerSnapshot) => panelPath(panels, c.panelId).includes(p.panelId);
    const fixed = fixedOn(under, () => 1);
    push(`panel ${p.panelId}`, members(under, () => 1), fill(p.limitKw).map((x, t) => x - fixed[t]!));
    if (p.maxCurrentA == null || (balanced(under) && p.limitKw <= threePhaseKw(p.maxCurrentA) + 1e-9)) continue;
    for (const phase of [0, 1, 2] as const) {
      const fixedA = fixedOn(under, (c, v) => ampsOn(phase)(v, c));
      push(`panel ${p.panelId} L${phase + 1}`, members(under, (v, c) => ampsOn(phase)(v, c)), fill(p.maxCurrentA).map((x, t) => x - fixedA[t]!));
    }
  }
  if (s.maxCurrentA != null && !(balanced(() => true) && s.gridLimitKw <= threePhaseKw(s.maxCurrentA) + 1e-9)) {
    for (const phase of [0, 1, 2] as const) {
      const fixedA = fixedOn(() => true, (c, v) => ampsOn(phase)(v, c));
      const cap = fill(s.maxCurrentA).map((x, t) => x - fixedA[t]! - kwToAmps(baseKw[t]!, 3));
      push(`site L${phase + 1}`, members(() => true, (v, c) => ampsOn(phase)(v, c)), cap);
    }
  }
  for (const c of s.chargers) {
    if (!c.externalLimits?.length || !c.controllable) continue;
    const cap = new Float64Array(slots);
    for (let t = 0; t < slots; t++) cap[t] = lowestIn(c.externalLimits, s.now + t * slotMs, s.now + (t + 1) * slotMs);
    if (cap.some(Number.isFinite)) push(`charger ${c.chargePointId} external`, members((x) => x.chargePointId === c.chargePointId, () => 1), cap);
  }
  return rows;
};

/** A charger's fallback share (kW) of the site's limits over [from, to) (default: the current slot), for its
 *  TxDefaultProfile: proportional to its max power, of the connection's lowest limit in that window less the building
 *  at its recent peak (fallbackBuildingKw) and the fixed load, of every panel above it, and of the per-phase currents
 *  where limited (as if every charger drew its share on one phase). */
export const fallbackShareKw = (s: SiteSnapshot, c: ChargerSnapshot, from: number = s.now, to: number = s.now + s.slotMinutes * 60000): number => {
  const ok = s.chargers.filter((x) => x.controllable);
  const fixed = s.chargers.filter((x) => !x.controllable).reduce((m, x) => m + x.measuredKw, 0);
  const total = ok.reduce((m, x) => m + x.maxPowerKw, 0);
  if (total <= 0 || !c.controllable) return 0;
  const building = fallbackBuildingKw(s);
  const limitNow = Math.min(s.gridLimitKw, lowestIn(s.limitEvents, from, to));
  const shareOf = (capacity: number, of: number) => (Math.max(0, capacity) * c.maxPowerKw) / of;
  // X A on each of the charger's phases: with every charger at its share on one grid phase, that phase holds.
  const ampsToShareKw = (amps: number) => ampsToKw(amps, c.currentType === 'DC' ? 3 : c.phases);
  let share = Math.min(c.maxPowerKw, shareOf(limitNow - building - fixed, total));
  if (s.maxCurrentA != null) share = Math.min(share, ampsToShareKw(shareOf(s.maxCurrentA - kwToAmps(building + fixed, 3), total)));
  const panels = new Map(s.panels.map((p) => [p.panelId, p]));
  for (const id of panelPath(panels, c.panelId)) {
    const p = panels.get(id)!;
    const under = ok.filter((x) => panelPath(panels, x.panelId).includes(id));
    const onPanel = under.reduce((m, x) => m + x.maxPowerKw, 0);
    share = Math.min(share, shareOf(p.limitKw, onPanel));
    if (p.maxCurrentA != null) share = Math.min(share, ampsToShareKw(shareOf(p.maxCurrentA, onPanel)));
  }
  return Math.max(0, share);
};

/** A limit event is lowered this long before it starts and raised this long after it ends in the fallback schedule:
 *  a charger keeps its own clock, which OCPP only asks to be roughly right (Heartbeat's currentTime). */
export const FALLBACK_CLOCK_MARGIN_MS = 10000;

/** A charger's fallback share (kW) as a schedule from now on: one period per stretch between the starts and ends of
 *  the limit events ahead (each widened by FALLBACK_CLOCK_MARGIN_MS), so that a demand-response event lowers the
 *  TxDefaultProfile when it starts whether or not the optimizer (or the network) is there at that moment. The last
 *  period holds until further notice. */
export const fallbackScheduleKw = (s: SiteSnapshot, c: ChargerSnapshot): { readonly from: number; readonly kw: number }[] => {
  const events = (s.limitEvents ?? []).map((e) => ({ ...e, from: e.from - FALLBACK_CLOCK_MARGIN_MS, to: e.to === null ? null : e.to + FALLBACK_CLOCK_MARGIN_MS }));
  const edges = [...new Set(events.flatMap((e) => (e.to === null ? [e.from] : [e.from, e.to])).filter((at) => at > s.now))].sort((a, b) => a - b);
  const starts = [s.now, ...edges];
  const widened: SiteSnapshot = { ...s, limitEvents: events };
  const out: { from: number; kw: number }[] = [];
  starts.forEach((from, k) => {
    const kw = fallbackShareKw(widened, c, from, starts[k + 1] ?? from + 1);
    if (out.length === 0 || out[out.length - 1]!.kw !== kw) out.push({ from, kw });
  });
  return out;
};
