/** Charging profiles as a charger keeps them: the OCPP 1.6 (csChargingProfiles) and 2.0.1 (chargingProfile) shapes
 *  normalised to one, the composite limit at an instant (OCPP 1.6 §3.13.4 / 2.0.1 K08: the highest stack level of each
 *  purpose wins, TxProfile overrides TxDefaultProfile, ChargingStationMaxProfile caps both), and the composite schedule. */
export type Purpose = 'ChargePointMaxProfile' | 'TxDefaultProfile' | 'TxProfile';
export type RateUnit = 'A' | 'W';

export interface SchedulePeriod {
  readonly startPeriod: number;
  readonly limit: number;
  readonly numberPhases?: number;
}

export interface Profile {
  readonly id: number;
  readonly connectorId: number;
  readonly stackLevel: number;
  readonly purpose: Purpose;
  readonly kind: 'Absolute' | 'Recurring' | 'Relative';
  readonly recurrency?: 'Daily' | 'Weekly';
  readonly validFrom?: number;
  readonly validTo?: number;
  readonly transactionId?: string;
  readonly startSchedule?: number;
  readonly duration?: number;
  readonly rateUnit: RateUnit;
  readonly periods: readonly SchedulePeriod[];
  /** When the charger received it: the start of an Absolute profile sent without startSchedule. */
  readonly receivedAt: number;
}

/** What a limit means in watts for this charger: AC limits in A are per phase at 230 V. */
export interface Electrical {
  readonly phases: number;
  readonly voltage: number;
  readonly ac: boolean;
}

export const toWatts = (limit: number, unit: RateUnit, e: Electrical, numberPhases?: number): number =>
  unit === 'W' ? limit : limit * (numberPhases ?? e.phases) * (e.ac ? e.voltage : 400);

export const toAmps = (watts: number, e: Electrical): number => watts / (e.phases * (e.ac ? e.voltage : 400));

const time = (s: string | undefined): number | undefined => (s === undefined ? undefined : Date.parse(s));

/* eslint-disable @typescript-eslint/no-explicit-any */
/** OCPP 1.6 SetChargingProfile.req → Profile. */
export const fromOcpp16 = (req: any, receivedAt: number): Profile => {
  const p = req.csChargingProfiles;
  const s = p.chargingSchedule;
  return {
    id: p.chargingProfileId,
    connectorId: req.connectorId,
    stackLevel: p.stackLevel,
    purpose: p.chargingProfilePurpose,
    kind: p.chargingProfileKind,
    recurrency: p.recurrencyKind,
    validFrom: time(p.validFrom),
    validTo: time(p.validTo),
    transactionId: p.transactionId === undefined ? undefined : String(p.transactionId),
    startSchedule: time(s.startSchedule),
    duration: s.duration,
    rateUnit: s.chargingRateUnit,
    periods: s.chargingSchedulePeriod,
    receivedAt,
  };
};

/** OCPP 2.0.1 SetChargingProfileRequest → Profile (the first schedule; purposes renamed to the 1.6 vocabulary). */
export const fromOcpp201 = (req: any, receivedAt: number): Profile => {
  const p = req.chargingProfile;
  const s = p.chargingSchedule[0];
  const purpose: Purpose = p.chargingProfilePurpose === 'ChargingStationMaxProfile' ? 'ChargePointMaxProfile' : p.chargingProfilePurpose;
  return {
    id: p.id,
    connectorId: req.evseId,
    stackLevel: p.stackLevel,
    purpose,
    kind: p.chargingProfileKind,
    recurrency: p.recurrencyKind,
    validFrom: time(p.validFrom),
    validTo: time(p.validTo),
    transactionId: p.transactionId,
    startSchedule: time(s.startSchedule),
    duration: s.duration,
    rateUnit: s.chargingRateUnit,
    periods: s.chargingSchedulePeriod,
    receivedAt,
  };
};
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Start of the schedule in force at `t`, or undefined when the profile does not apply at all. */
const scheduleStart = (p: Profile, t: number, txStartedAt: number | undefined): number | undefined => {
  if (p.kind === 'Relative') return txStartedAt ?? t;
  const base = p.startSchedule ?? p.receivedAt;
  if (p.kind === 'Absolute') return base;
  const period = p.recurrency === 'Weekly' ? 7 * 86400000 : 86400000;
  if (t < base) return base;
  return base + Math.floor((t - base) / period) * period;
};

/** The limit of one profile at `t` in watts, or undefined when it says nothing about that instant. */
export const profileLimitW = (p: Profile, t: number, e: Electrical, txStartedAt: number | undefined): number | undefined => {
  if (p.validFrom !== undefined && t < p.validFrom) return undefined;
  if (p.validTo !== undefined && t >= p.validTo) return undefined;
  const start = scheduleStart(p, t, txStartedAt);
  if (start === undefined || t < start) return undefined;
  const elapsedS = (t - start) / 1000;
  if (p.duration !== undefined && elapsedS >= p.duration) return undefined;
  let current: SchedulePeriod | undefined;
  for (const period of p.periods) if (period.startPeriod <= elapsedS) current = period;
  return current === undefined ? undefined : toWatts(current.limit, p.rateUnit, e, current.numberPhases);
};

/** Highest stack level of the profiles that say something at `t`. */
const winner = (profiles: readonly Profile[], t: number, e: Electrical, txStartedAt: number | undefined): number | undefined => {
  let best: { level: number; limit: number } | undefined;
  for (const p of profiles) {
    const limit = profileLimitW(p, t, e, txStartedAt);
    if (limit === undefined) continue;
    if (!best || p.stackLevel > best.level) best = { level: p.stackLevel, limit };
  }
  return best?.limit;
};

export interface TxContext {
  readonly connectorId: number;
  readonly transactionId: string | undefined;
  readonly startedAt: number | undefined;
}

/** The composite limit (W) at `t` for a connector, or undefined when no profile limits it. */
export const compositeLimitW = (profiles: readonly Profile[], t: number, e: Electrical, tx: TxContext): number | undefined => {
  const forConnector = (p: Profile) => p.connectorId === tx.connectorId || p.connectorId === 0;
  const max = winner(profiles.filter((p) => p.purpose === 'ChargePointMaxProfile'), t, e, tx.startedAt);
  const txLimit =
    tx.transactionId !== undefined
      ? winner(
          profiles.filter((p) => p.purpose === 'TxProfile' && p.connectorId === tx.connectorId && (p.transactionId === undefined || p.transactionId === tx.transactionId)),
          t,
          e,
          tx.startedAt,
        )
      : undefined;
  const def = txLimit === undefined ? winner(profiles.filter((p) => p.purpose === 'TxDefaultProfile' && forConnector(p)), t, e, tx.startedAt) : undefined;
  const limits = [max, txLimit ?? def].filter((x): x is number => x !== undefined);
  return limits.length ? Math.min(...limits) : undefined;
};

/** Installing a profile replaces one with the same id, or the same purpose, stack level and connector. */
export const installProfile = (profiles: readonly Profile[], p: Profile): Profile[] => [
  ...profiles.filter((q) => q.id !== p.id && !(q.purpose === p.purpose && q.stackLevel === p.stackLevel && q.connectorId === p.connectorId)),
  p,
];

export interface ClearCriteria {
  readonly id?: number;
  readonly connectorId?: number;
  readonly purpose?: Purpose;
  readonly stackLevel?: number;
}

export const clearProfiles = (profiles: readonly Profile[], c: ClearCriteria): { profiles: Profile[]; cleared: number } => {
  const matches = (p: Profile) =>
    c.id !== undefined
      ? p.id === c.id
      : (c.connectorId === undefined || p.connectorId === c.connectorId) &&
        (c.purpose === undefined || p.purpose === c.purpose) &&
        (c.stackLevel === undefined || p.stackLevel === c.stackLevel);
  const kept = profiles.filter((p) => !matches(p));
  return { profiles: kept, cleared: profiles.length - kept.length };
};

/** Composite schedule from `t` over `durationS`: the limit at every instant a profile changes, merged where equal. */
export const compositeSchedule = (
  profiles: readonly Profile[],
  t: number,
  durationS: number,
  e: Electrical,
  tx: TxContext,
  unit: RateUnit,
  hardwareMaxW: number,
): SchedulePeriod[] => {
  const end = t + durationS * 1000;
  const points = new Set<number>([t]);
  for (const p of profiles) {
    const start = scheduleStart(p, t, tx.startedAt) ?? t;
    for (const period of p.periods) points.add(start + period.startPeriod * 1000);
    if (p.duration !== undefined) points.add(start + p.duration * 1000);
    if (p.validFrom !== undefined) points.add(p.validFrom);
    if (p.validTo !== undefined) points.add(p.validTo);
  }
  const out: SchedulePeriod[] = [];
  for (const at of [...points].filter((x) => x >= t && x < end).sort((a, b) => a - b)) {
    const w = Math.min(hardwareMaxW, compositeLimitW(profiles, at, e, tx) ?? hardwareMaxW);
    const limit = unit === 'W' ? Math.round(w) : Math.round(toAmps(w, e) * 10) / 10;
    if (out.length && out[out.length - 1]!.limit === limit) continue;
    out.push({ startPeriod: Math.round((at - t) / 1000), limit });
  }
  return out;
};
