import { createHash } from 'node:crypto';
import { Plan, maxKwOn } from './formulation';
import { plannedBaseLoadKw } from './building-load';
import { fallbackScheduleKw, fallbackShareKw, limitRows, siteLimitKw } from './limits';
import { asUsedBy, assignPhases } from './phases';
import { ChargerSnapshot, Protocol, SiteSnapshot, VehicleSnapshot, ampsToKw, kwToAmps } from './snapshot';

/** Plan → OCPP charging profiles, pure.
 *  1. The first `profileSlots` of the plan (the rest is re-planned long before it matters).
 *  2. The 6 A rule, slot by slot over the site: an AC vehicle planned between 0 and its minimum current is either
 *     lifted to the minimum, paid from the site's (and its panel's) headroom and from the power of the others that are
 *     dropped to 0, or dropped to 0; larger allocations are lifted first. The power of those dropped goes to the
 *     vehicles charging in that slot (earliest departure first), pulled forward from their own later slots. With a
 *     demand charge the headroom ends at the higher of the plan's peak and the billed peak, not at the grid limit.
 *  3. Hysteresis: a pause shorter than `minPauseSlots` between two charging periods (the previous command counts as
 *     slot −1) is bridged at the minimum current when the headroom allows, so a vehicle does not pause/resume every slot.
 *  4. Units: A per phase at 230 V for AC chargers that take A, W otherwise; rounded down to 0.1 A or 1 W (never above
 *     the plan, so the site limit holds).
 *  5. Periods: equal neighbours merged; while more than the charger's maxSchedulePeriods, the two neighbours closest in
 *     value are merged at the lower limit.
 *  TxProfile (stack level 2, duration = the profile span) for the vehicle's transaction; below it, at stack level 0 on
 *  connector/EVSE 0, a TxDefaultProfile with the charger's share of the site's limits (proportional to its max power,
 *  0 when that share is below the minimum current; a schedule that steps with the limit events ahead, limits.ts
 *  fallbackScheduleKw) and a ChargePointMaxProfile/ChargingStationMaxProfile at min(charger max, grid limit): when the
 *  optimizer or the network is down and the TxProfile runs out, the chargers together stay within the limit. When the
 *  caps are sent: caps-policy.ts. */

export interface ProfileOptions {
  readonly profileSlots: number;
  readonly minPauseSlots: number;
}

export const defaultProfileOptions: ProfileOptions = { profileSlots: 8, minPauseSlots: 2 };

export interface SchedulePeriod {
  readonly startPeriod: number;
  readonly limit: number;
  readonly numberPhases?: number;
  readonly phaseToUse?: number;
}

export interface OcppCommandDraft {
  readonly commandId: string;
  readonly chargePointId: string;
  readonly action: 'SetChargingProfile' | 'GetCompositeSchedule';
  readonly payload: Record<string, unknown>;
  readonly connectorId: number;
  readonly vehicleId: string | null;
  /** Slot-0 limit of a TxProfile in kW (after rounding), for the meter comparison and the hysteresis state. */
  readonly firstKw: number | null;
}

export const TX_STACK_LEVEL = 2;
export const DEFAULT_STACK_LEVEL = 0;
export const txProfileId = (connectorId: number): number => 1000 + connectorId;
export const DEFAULT_PROFILE_ID = 1;
export const MAX_PROFILE_ID = 2;

export const commandId = (...parts: readonly (string | number)[]): string => createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);

export const minKw = (c: ChargerSnapshot): number => (c.currentType === 'AC' ? ampsToKw(c.minCurrentA, c.phases) : 0);

const EPS = 1e-6;

/** Step 2 and 3 over the first `slots` slots: returns adjusted powers per plan vehicle (same order as plan.vehicles). */
export const applyMinCurrentAndHysteresis = (
  s: SiteSnapshot,
  plan: Plan,
  opts: ProfileOptions,
  previousKw: ReadonlyMap<string, number> = new Map(),
): number[][] => {
  const slots = Math.min(opts.profileSlots, plan.siteKw.length);
  const chargers = new Map(s.chargers.map((c) => [c.chargePointId, c]));
  const powers = plan.vehicles.map((v) => v.powerKw.slice(0, slots));
  const byVehicle = new Map(s.vehicles.map((v): [string, VehicleSnapshot] => [v.vehicleId, v]));
  // As each vehicle uses its charger: a one-phase vehicle's minimum current is one phase's.
  const charger = plan.vehicles.map((v) => (v.chargePointId && chargers.has(v.chargePointId) ? asUsedBy(chargers.get(v.chargePointId)!, byVehicle.get(v.vehicleId)) : undefined));
  const controlled = plan.vehicles.map((v, i) => charger[i] !== undefined && charger[i]!.controllable && v.arrivalAt === null);
  // Lifting to the minimum current and bridging pauses spend headroom up to the grid limit, but with a demand charge
  // only up to the higher of the plan's own peak and the peak already billed: a new peak costs more than it saves.
  // (The connection's limit is the lowest limit event in force, where one is.)
  const limitKw = siteLimitKw(s, slots);
  const ceilingKw = (t: number) => (s.demandChargePerKwMonth > 0 ? Math.min(limitKw[t]!, Math.max(s.billedPeakKw, plan.peakKw)) : limitKw[t]!);
  const headroom = Array.from({ length: slots }, (_, t) => ceilingKw(t) - plan.siteKw[t]!);
  // Panels, phase currents and external limits (limits.ts), left per row in a slot after the plan's powers.
  const slotMs = s.slotMinutes * 60000;
  const rows = limitRows(
    s,
    plan.vehicles.map((v, i) => ({
      vehicle: byVehicle.get(v.vehicleId) ?? { ...v, acPhases: 3 } as unknown as VehicleSnapshot,
      planned: controlled[i]!,
      fixedKw: !controlled[i] && charger[i] && !charger[i]!.controllable ? charger[i]!.measuredKw : 0,
      avail: Float64Array.from({ length: slots }, (_, t) => (plan.horizonStart + (t + 1) * slotMs > (v.arrivalAt ?? 0) && plan.horizonStart + t * slotMs < v.departAt ? 1 : 0)),
    })),
    slots,
    plannedBaseLoadKw(s, slots),
  );
  const rowsOf = plan.vehicles.map(() => [] as { row: number; coef: number }[]);
  rows.forEach((r, k) => r.members.forEach((m) => rowsOf[m.vehicle]!.push({ row: k, coef: m.coef })));
  const panelHeadroom = (t: number) => {
    const m = new Map(rows.map((r, k) => [k, r.capacity[t]!]));
    rows.forEach((r, k) => r.members.forEach((x) => m.set(k, m.get(k)! - x.coef * powers[x.vehicle]![t]!)));
    return m;
  };
  const fits = (i: number, t: number, extra: number, panels: Map<number, number>) => extra <= headroom[t]! + EPS && rowsOf[i]!.every((x) => x.coef * extra <= panels.get(x.row)! + EPS);
  const spend = (i: number, t: number, extra: number, panels: Map<number, number>) => {
    headroom[t]! -= extra;
    for (const x of rowsOf[i]!) panels.set(x.row, panels.get(x.row)! - x.coef * extra);
    powers[i]![t]! += extra;
  };

  const pulled: number[] = [];
  const vehicles = new Map(s.vehicles.map((v) => [v.vehicleId, v]));
  // The most a vehicle can take on its charger; the charger's max for a session without a known vehicle.
  const maxKw = (i: number) => {
    const v = vehicles.get(plan.vehicles[i]!.vehicleId);
    return v ? maxKwOn(v, charger[i]!) : charger[i]!.maxPowerKw;
  };
  const panelRoom = (i: number, panels: Map<number, number>) => rowsOf[i]!.reduce((m, x) => Math.min(m, Math.max(0, panels.get(x.row)!) / x.coef), Infinity);
  for (let t = 0; t < slots; t++) {
    const panels = panelHeadroom(t);
    const below = plan.vehicles
      .map((_, i) => i)
      .filter((i) => controlled[i] && powers[i]![t]! > EPS && powers[i]![t]! < minKw(charger[i]!) - EPS)
      .sort((a, b) => powers[b]![t]! - powers[a]![t]! || a - b);
    // Drop all of them first (their power becomes headroom), then lift the largest while the headroom allows.
    for (const i of below) spend(i, t, -powers[i]![t]!, panels);
    for (const i of below) {
      const need = minKw(charger[i]!);
      if (fits(i, t, need, panels)) spend(i, t, need, panels);
    }
    // What the dropped ones leave unused goes to those charging in this slot, earliest departure first, pulled
    // forward from their own later slots (never more energy than the plan gives them, never above their max power).
    const freed = below.reduce((m, i) => m + (powers[i]![t]! > EPS ? 0 : plan.vehicles[i]!.powerKw[t]!), 0);
    let left = Math.min(freed, headroom[t]!);
    const takers = plan.vehicles
      .map((_, i) => i)
      .filter((i) => controlled[i] && powers[i]![t]! > EPS)
      .sort((a, b) => plan.vehicles[a]!.departAt - plan.vehicles[b]!.departAt || a - b);
    for (const i of takers) {
      if (left <= EPS) break;
      const v = plan.vehicles[i]!;
      const later = v.powerKw.slice(t + 1).reduce((m, kw) => m + kw, 0) - (pulled[i] ?? 0);
      const room = maxKw(i) - powers[i]![t]!;
      const extra = Math.min(left, later, room, panelRoom(i, panels));
      if (extra <= EPS) continue;
      spend(i, t, extra, panels);
      pulled[i] = (pulled[i] ?? 0) + extra;
      left -= extra;
    }
  }

  // Hysteresis: bridge short pauses between charging periods at the minimum power.
  plan.vehicles.forEach((v, i) => {
    if (!controlled[i]) return;
    const c = charger[i]!;
    const p = powers[i]!;
    const prev = previousKw.get(`${v.chargePointId}:${v.connectorId}`) ?? 0;
    const on = (t: number) => (t < 0 ? prev > EPS : p[t]! > EPS);
    let t = 0;
    while (t < slots) {
      if (on(t) || !on(t - 1)) {
        t++;
        continue;
      }
      let end = t;
      while (end < slots && !on(end)) end++;
      const resumes = end < slots && end - t < opts.minPauseSlots;
      const departed = v.departAt <= plan.horizonStart + end * plan.slotMinutes * 60000;
      if (resumes && !departed) {
        const need = Math.max(minKw(c), EPS * 10);
        const ok = Array.from({ length: end - t }, (_, k) => fits(i, t + k, need, panelHeadroom(t + k))).every(Boolean);
        if (ok) for (let k = t; k < end; k++) spend(i, k, need, panelHeadroom(k));
      }
      t = end;
    }
  });
  return powers;
};

/** kW → the charger's unit, rounded down to what the schema accepts (0.1 A, 1 W). */
export const toLimit = (c: ChargerSnapshot, kw: number): number => {
  if (c.rateUnit === 'A' && c.currentType === 'AC') return Math.floor(kwToAmps(kw, c.phases) * 10 + 1e-6) / 10;
  return Math.floor(kw * 1000 + 1e-6);
};

export const fromLimit = (c: ChargerSnapshot, limit: number): number => (c.rateUnit === 'A' && c.currentType === 'AC' ? ampsToKw(limit, c.phases) : limit / 1000);

export const unitOf = (c: ChargerSnapshot): 'A' | 'W' => (c.rateUnit === 'A' && c.currentType === 'AC' ? 'A' : 'W');

/** Limits per slot → schedule periods within maxPeriods (merged at the lower limit). */
export const toPeriods = (limits: readonly number[], slotSeconds: number, maxPeriods: number, numberPhases?: number): SchedulePeriod[] => {
  const merged: { start: number; limit: number }[] = [];
  limits.forEach((limit, t) => {
    if (merged.length && merged[merged.length - 1]!.limit === limit) return;
    merged.push({ start: t * slotSeconds, limit });
  });
  while (merged.length > Math.max(1, maxPeriods)) {
    let best = 0;
    for (let k = 1; k < merged.length - 1; k++) {
      if (Math.abs(merged[k]!.limit - merged[k + 1]!.limit) < Math.abs(merged[best]!.limit - merged[best + 1]!.limit)) best = k;
    }
    const a = merged[best]!;
    const b = merged.splice(best + 1, 1)[0]!;
    a.limit = Math.min(a.limit, b.limit);
    // Merging may make the new period equal to its neighbours.
    for (let k = merged.length - 1; k > 0; k--) if (merged[k]!.limit === merged[k - 1]!.limit) merged.splice(k, 1);
  }
  return merged.map((m) => ({ startPeriod: m.start, limit: m.limit, ...(numberPhases !== undefined ? { numberPhases } : {}) }));
};

const iso = (ms: number): string => new Date(ms).toISOString();

export interface ProfileSpec {
  readonly purpose: 'TxProfile' | 'TxDefaultProfile' | 'ChargePointMaxProfile';
  readonly profileId: number;
  readonly stackLevel: number;
  readonly connectorId: number;
  readonly transactionId: string | null;
  readonly startSchedule: number;
  readonly durationS: number | null;
  readonly unit: 'A' | 'W';
  readonly periods: readonly SchedulePeriod[];
}

/** One profile in the charger's protocol: SetChargingProfile.req of OCPP 1.6 or 2.0.1. */
export const setChargingProfilePayload = (protocol: Protocol, p: ProfileSpec): Record<string, unknown> => {
  const schedule = {
    ...(p.durationS !== null ? { duration: p.durationS } : {}),
    startSchedule: iso(p.startSchedule),
    chargingRateUnit: p.unit,
    chargingSchedulePeriod: p.periods.map((x) => ({ ...x })),
  };
  if (protocol === 'ocpp1.6') {
    const tx = p.transactionId !== null && /^-?\d+$/.test(p.transactionId) ? { transactionId: Number(p.transactionId) } : {};
    return {
      connectorId: p.connectorId,
      csChargingProfiles: {
        chargingProfileId: p.profileId,
        ...(p.purpose === 'TxProfile' ? tx : {}),
        stackLevel: p.stackLevel,
        chargingProfilePurpose: p.purpose,
        chargingProfileKind: 'Absolute',
        chargingSchedule: schedule,
      },
    };
  }
  const purpose = p.purpose === 'ChargePointMaxProfile' ? 'ChargingStationMaxProfile' : p.purpose;
  return {
    evseId: p.connectorId,
    chargingProfile: {
      id: p.profileId,
      stackLevel: p.stackLevel,
      chargingProfilePurpose: purpose,
      chargingProfileKind: 'Absolute',
      ...(p.purpose === 'TxProfile' && p.transactionId !== null ? { transactionId: p.transactionId.slice(0, 36) } : {}),
      chargingSchedule: [{ id: p.profileId, ...schedule }],
    },
  };
};

/** TxProfiles for every connected vehicle of the plan on a controllable charger. */
export const txProfileCommands = (
  s: SiteSnapshot,
  plan: Plan,
  planId: string,
  opts: ProfileOptions = defaultProfileOptions,
  previousKw: ReadonlyMap<string, number> = new Map(),
): OcppCommandDraft[] => {
  const chargers = new Map(s.chargers.map((c) => [c.chargePointId, c]));
  const powers = applyMinCurrentAndHysteresis(s, plan, opts, previousKw);
  const slotSeconds = plan.slotMinutes * 60;
  const out: OcppCommandDraft[] = [];
  const byVehicle = new Map(s.vehicles.map((v) => [v.vehicleId, v]));
  const phaseUse = assignPhases(s);
  plan.vehicles.forEach((v, i) => {
    const c = v.chargePointId && chargers.has(v.chargePointId) ? asUsedBy(chargers.get(v.chargePointId)!, byVehicle.get(v.vehicleId)) : undefined;
    if (!c || !c.controllable || v.connectorId === null || v.arrivalAt !== null) return;
    const protocol = c.protocol ?? 'ocpp1.6';
    const remainingSlots = Math.max(1, Math.ceil((v.departAt - plan.horizonStart) / (slotSeconds * 1000)));
    const span = Math.min(powers[i]!.length, remainingSlots);
    const limits = powers[i]!.slice(0, span).map((kw) => toLimit(c, kw));
    const unit = unitOf(c);
    const phaseToUse = protocol === 'ocpp2.0.1' ? (phaseUse.get(v.vehicleId)?.phaseToUse ?? null) : null;
    const periods = toPeriods(limits, slotSeconds, c.maxSchedulePeriods, c.currentType === 'AC' ? c.phases : undefined).map((p) => (phaseToUse !== null ? { ...p, phaseToUse } : p));
    const spec: ProfileSpec = {
      purpose: 'TxProfile',
      profileId: txProfileId(v.connectorId),
      stackLevel: TX_STACK_LEVEL,
      connectorId: v.connectorId,
      transactionId: v.transactionId,
      startSchedule: plan.horizonStart,
      durationS: span * slotSeconds,
      unit,
      periods,
    };
    out.push({
      commandId: commandId(planId, c.chargePointId, v.connectorId, 'TxProfile'),
      chargePointId: c.chargePointId,
      action: 'SetChargingProfile',
      payload: setChargingProfilePayload(protocol, spec),
      connectorId: v.connectorId,
      vehicleId: v.vehicleId,
      firstKw: fromLimit(c, periods[0]!.limit),
    });
  });
  return out;
};

// Once per snapshot, not once per charger: the caps of a 1,000-charger site were a million additions.
const totals = new WeakMap<SiteSnapshot, { fixed: number; total: number }>();
const siteTotals = (s: SiteSnapshot): { fixed: number; total: number } => {
  let t = totals.get(s);
  if (!t) {
    t = {
      fixed: s.chargers.filter((x) => !x.controllable).reduce((m, x) => m + x.measuredKw, 0),
      total: s.chargers.filter((x) => x.controllable).reduce((m, x) => m + x.maxPowerKw, 0),
    };
    totals.set(s, t);
  }
  return t;
};

/** A share too small for the charger's minimum current is 0 (paused) rather than an illegal current. */
const chargeable = (c: ChargerSnapshot, kw: number): number => (kw + EPS < minKw(c) ? 0 : kw);

/** The charger's share of the grid limit (kW) for the fallback TxDefaultProfile, now. */
export const safeShareKw = (s: SiteSnapshot, c: ChargerSnapshot): number => {
  const { total } = siteTotals(s);
  if (total <= 0) return 0;
  // The building at its recent peak, limit events in force, panels and phase currents (limits.ts).
  return chargeable(c, fallbackShareKw(s, c));
};

/** The TxDefaultProfile's periods from `start`: the share now, then a period at each change the limit events ahead
 *  make (fallbackScheduleKw), within the charger's maxSchedulePeriods (the tail merged at its lowest limit). */
export const fallbackPeriods = (s: SiteSnapshot, c: ChargerSnapshot, start: number): SchedulePeriod[] => {
  const phases = c.currentType === 'AC' ? { numberPhases: c.phases } : {};
  const periods: SchedulePeriod[] = [];
  for (const p of siteTotals(s).total > 0 ? fallbackScheduleKw(s, c) : [{ from: s.now, kw: 0 }]) {
    const limit = toLimit(c, chargeable(c, p.kw));
    if (periods.length > 0 && periods[periods.length - 1]!.limit === limit) continue;
    periods.push({ startPeriod: periods.length === 0 ? 0 : Math.max(1, Math.round((p.from - start) / 1000)), limit, ...phases });
  }
  while (periods.length > Math.max(1, c.maxSchedulePeriods)) {
    const last = periods.pop()!;
    const before = periods.pop()!;
    periods.push({ ...before, limit: Math.min(before.limit, last.limit) });
  }
  return periods;
};

/** The safe caps of one charger: TxDefaultProfile (its share, stepping with the limit events ahead) and the
 *  charger-wide max profile. Ids from the content and from when the charger last connected: re-sending the same caps
 *  is idempotent (the gateway delivers a command id once), and a charger that (re)booted gets them again. */
export const safeCapCommands = (s: SiteSnapshot, c: ChargerSnapshot, now: number): OcppCommandDraft[] => {
  const protocol = c.protocol ?? 'ocpp1.6';
  const unit = unitOf(c);
  const phases = c.currentType === 'AC' ? { numberPhases: c.phases } : {};
  const max: SchedulePeriod[] = [{ startPeriod: 0, limit: toLimit(c, Math.min(c.maxPowerKw, s.gridLimitKw)), ...phases }];
  const fallback = fallbackPeriods(s, c, now);
  const spec = (purpose: ProfileSpec['purpose'], profileId: number, periods: readonly SchedulePeriod[]): ProfileSpec => ({
    purpose,
    profileId,
    stackLevel: DEFAULT_STACK_LEVEL,
    connectorId: 0,
    transactionId: null,
    startSchedule: now,
    durationS: null,
    unit,
    periods,
  });
  // The content without the start: the later periods' absolute instants and every limit.
  const content = (periods: readonly SchedulePeriod[]) => periods.map((p, k) => `${k === 0 ? '' : now + p.startPeriod * 1000}:${p.limit}`).join(',');
  return [
    { purpose: 'ChargePointMaxProfile' as const, id: MAX_PROFILE_ID, periods: max },
    { purpose: 'TxDefaultProfile' as const, id: DEFAULT_PROFILE_ID, periods: fallback },
  ].map((x) => ({
    commandId: commandId('cap', c.chargePointId, protocol, x.purpose, unit, content(x.periods), c.connectedAt ?? 0),
    chargePointId: c.chargePointId,
    action: 'SetChargingProfile' as const,
    payload: setChargingProfilePayload(protocol, spec(x.purpose, x.id, x.periods)),
    connectorId: 0,
    vehicleId: null,
    firstKw: null,
  }));
};

/** GetCompositeSchedule for one connector/EVSE: the read-back after a TxProfile. */
export const compositeScheduleCommand = (c: ChargerSnapshot, connectorId: number, durationS: number, tag: string): OcppCommandDraft => {
  const protocol = c.protocol ?? 'ocpp1.6';
  const unit = unitOf(c);
  const payload = protocol === 'ocpp1.6' ? { connectorId, duration: durationS, chargingRateUnit: unit } : { evseId: connectorId, duration: durationS, chargingRateUnit: unit };
  return { commandId: commandId(tag, c.chargePointId, connectorId, 'GetCompositeSchedule'), chargePointId: c.chargePointId, action: 'GetCompositeSchedule', payload, connectorId, vehicleId: null, firstKw: null };
};
