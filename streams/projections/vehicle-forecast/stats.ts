import { quantileOf } from '../../site-load/forecast';
import { VehicleHistory } from './fold';

/** A vehicle's forecast from the histories of its site's vehicles (./fold.ts), pure and deterministic.
 *
 *    forecastVehicle(vehicleId, histories, { timeZone, now, minSamples = 5, mergeMinutes = 60 }) → VehicleForecast
 *    forecastSite(histories, options) → VehicleForecast[]
 *
 *  Observations: a return is one cluster of arrival signals (a session matched, a telematics plug-in) less than
 *  mergeMinutes apart, at its earliest signal, with the SoC of its telematics signal; a departure is a scheduled one,
 *  or an unplug with no scheduled departure within mergeMinutes. Each falls on its local weekday (the site's time
 *  zone) at a minute of the day.
 *
 *  Per weekday, for each of return time (minute of day), SoC at return (%), departure time (minute of day) and the SoC
 *  required at departure (%; requiredEnergyKwh as a share of the battery): p10 / p50 / p90 (linear interpolation) of
 *  the first pool with at least minSamples observations, in this order: the vehicle on that weekday, its group on that
 *  weekday, the site on that weekday, then the same three over all weekdays. With none that large, the largest pool,
 *  its sample count saying how little it rests on; with no observation at all, null. The group is the vehicles of
 *  the same site and battery size (fleet.config has no fleet-group field; groupOf is where one would be read).
 *
 *  `next`, the occurrence the planner cares about, from `now`:
 *  - at the depot (latest reading plugged in): no return; otherwise the telematics ETA when there is one and it is
 *    not in the past (source eta, p10 = p50 = p90), else the first day from today whose return p90 is after now, each
 *    quantile no earlier than now (a vehicle not back by its usual time is late, not early);
 *  - departure: the earliest scheduled departure after the return (or now), exact, else the first day whose departure
 *    p50 is after the return's p50, clamped the same way;
 *  - energy need (kWh into the battery): required SoC minus SoC at return, times the battery; p90 pairs the high
 *    requirement with the low SoC (p90 − p10), p10 the other way round, p50 the medians: bounds, not quantiles of
 *    the difference. At the depot the SoC at return is the latest telematics SoC. */

export interface Quantiles {
  readonly p10: number;
  readonly p50: number;
  readonly p90: number;
}

export type Level = 'vehicle' | 'group' | 'site';

export interface Distribution extends Quantiles {
  readonly samples: number;
  /** Whose observations: the vehicle's own, its group's or its site's. */
  readonly level: Level;
  /** The weekday's observations only, or all weekdays pooled. */
  readonly days: 'weekday' | 'all';
}

export interface WeekdayForecast {
  /** 0 = Sunday … 6 = Saturday, local time. */
  readonly weekday: number;
  /** Minute of the local day. */
  readonly returnMinute: Distribution | null;
  readonly socAtReturnPct: Distribution | null;
  readonly departureMinute: Distribution | null;
  readonly requiredSocPct: Distribution | null;
}

export interface NextForecast {
  /** At the depot now (latest telematics reading plugged in). */
  readonly atDepot: boolean;
  /** Epoch ms; null at the depot or without history. */
  readonly returnAt: Quantiles | null;
  readonly returnSource: 'eta' | 'history' | null;
  readonly socAtReturnPct: Quantiles | null;
  readonly departAt: Quantiles | null;
  readonly departureSource: 'scheduled' | 'history' | null;
  readonly requiredSocPct: Quantiles | null;
  readonly energyNeedKwh: Quantiles | null;
}

export interface VehicleForecast {
  readonly vehicleId: string;
  readonly siteId: string | null;
  readonly groupId: string | null;
  readonly timeZone: string;
  readonly minSamples: number;
  readonly batteryCapacityKwh: number | null;
  readonly weekdays: readonly WeekdayForecast[];
  readonly next: NextForecast;
}

export interface ForecastOptions {
  /** IANA time zone of the site. */
  readonly timeZone: string;
  readonly now: number;
  /** Observations a pool needs before it is trusted over the next one (the vehicle's own over its group's). */
  readonly minSamples?: number;
  readonly mergeMinutes?: number;
}

export interface HistoryOf {
  readonly vehicleId: string;
  readonly history: VehicleHistory;
}

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

/** The group a vehicle's forecast falls back to before its site's. */
export const groupOf = (h: VehicleHistory): string | null => (h.siteId === null ? null : `${h.siteId}/${h.batteryCapacityKwh === null ? '?' : Math.round(h.batteryCapacityKwh)}kWh`);

const formatters = new Map<string, Intl.DateTimeFormat>();
/** UTC offset (minutes) per time zone and quarter hour: offsets change on quarter hours, and a formatter call costs
 *  microseconds where a site's forecast needs one per observation. */
const offsets = new Map<string, number>();
const QUARTER = 15 * 60_000;

const offsetMinutes = (at: number, timeZone: string): number => {
  const quarter = Math.floor(at / QUARTER);
  const key = `${timeZone}|${quarter}`;
  const cached = offsets.get(key);
  if (cached !== undefined) return cached;
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  const t = quarter * QUARTER;
  const parts = f.formatToParts(new Date(t));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
  const offset = Math.round((local - t) / 60_000);
  if (offsets.size > 200_000) offsets.clear();
  offsets.set(key, offset);
  return offset;
};

/** Local weekday and minute of the day of an instant. */
export const localTime = (at: number, timeZone: string): { weekday: number; minute: number } => {
  const local = new Date(at + offsetMinutes(at, timeZone) * 60_000);
  return { weekday: local.getUTCDay(), minute: local.getUTCHours() * 60 + local.getUTCMinutes() };
};

/** The instant of local minute `minute` on the local day `days` after the day of `ref` (DST-corrected once). */
export const localInstant = (ref: number, days: number, minute: number, timeZone: string): number => {
  const r = localTime(ref, timeZone);
  const midnight = Math.floor(ref / MIN) * MIN - r.minute * MIN;
  const guess = midnight + days * DAY + minute * MIN;
  const got = localTime(guess, timeZone).minute;
  let diff = minute - got;
  if (diff > 12 * 60) diff -= 24 * 60;
  if (diff < -12 * 60) diff += 24 * 60;
  return guess + diff * MIN;
};

export const quantiles = (values: readonly number[]): Quantiles => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p10: quantileOf(sorted, 0.1), p50: quantileOf(sorted, 0.5), p90: quantileOf(sorted, 0.9) };
};

interface Return {
  readonly at: number;
  readonly socPct: number | null;
}
interface Departure {
  readonly at: number;
  readonly requiredSocPct: number | null;
  readonly scheduled: boolean;
}

/** Returns: clusters of arrival signals less than mergeMinutes apart, at the earliest, with the first SoC known. */
export const returnsOf = (h: VehicleHistory, mergeMinutes = 60): Return[] => {
  const out: { at: number; last: number; socPct: number | null }[] = [];
  for (const a of h.arrivals) {
    const cur = out[out.length - 1];
    if (cur && a.at - cur.last < mergeMinutes * MIN) {
      cur.last = a.at;
      cur.socPct ??= a.socPct;
    } else out.push({ at: a.at, last: a.at, socPct: a.socPct });
  }
  return out.map(({ at, socPct }) => ({ at, socPct }));
};

/** Departures: the scheduled ones, and unplugs with no scheduled departure within mergeMinutes. */
export const departuresOf = (h: VehicleHistory, mergeMinutes = 60): Departure[] => {
  const scheduled = h.departures.filter((d) => d.source === 'scheduled');
  const required = (d: VehicleHistory['departures'][number]): number | null =>
    d.requiredSocPct ?? (d.requiredEnergyKwh !== null && h.batteryCapacityKwh ? Math.min(100, (100 * d.requiredEnergyKwh) / h.batteryCapacityKwh) : null);
  return h.departures
    .filter((d) => d.source === 'scheduled' || !scheduled.some((s) => Math.abs(s.at - d.at) < mergeMinutes * MIN))
    .map((d) => ({ at: d.at, requiredSocPct: required(d), scheduled: d.source === 'scheduled' }));
};

type Kind = 'returnMinute' | 'socAtReturnPct' | 'departureMinute' | 'requiredSocPct';
const kinds: readonly Kind[] = ['returnMinute', 'socAtReturnPct', 'departureMinute', 'requiredSocPct'];

/** Observations of one vehicle by kind and local weekday. */
type Samples = Record<Kind, number[][]>;

const samplesOf = (h: VehicleHistory, timeZone: string, mergeMinutes: number): Samples => {
  const s = Object.fromEntries(kinds.map((k) => [k, Array.from({ length: 7 }, () => [] as number[])])) as Samples;
  for (const r of returnsOf(h, mergeMinutes)) {
    const l = localTime(r.at, timeZone);
    s.returnMinute[l.weekday]!.push(l.minute);
    if (r.socPct !== null) s.socAtReturnPct[l.weekday]!.push(r.socPct);
  }
  for (const d of departuresOf(h, mergeMinutes)) {
    const l = localTime(d.at, timeZone);
    s.departureMinute[l.weekday]!.push(l.minute);
    if (d.requiredSocPct !== null) s.requiredSocPct[l.weekday]!.push(d.requiredSocPct);
  }
  return s;
};

/** A history's samples, computed once per history (histories are immutable: a planner asking again for an unchanged
 *  history, as every re-plan does, gets them back). */
const samplesCache = new WeakMap<VehicleHistory, Map<string, Samples>>();
const cachedSamples = (h: VehicleHistory, timeZone: string, mergeMinutes: number): Samples => {
  let m = samplesCache.get(h);
  if (!m) samplesCache.set(h, (m = new Map()));
  const key = `${timeZone}|${mergeMinutes}`;
  let x = m.get(key);
  if (!x) m.set(key, (x = samplesOf(h, timeZone, mergeMinutes)));
  return x;
};

const merged = (xs: readonly Samples[]): Samples =>
  Object.fromEntries(kinds.map((k) => [k, Array.from({ length: 7 }, (_, w) => xs.flatMap((s) => s[k][w]!))])) as Samples;

const emptySamples: Samples = merged([]);

/** One pool's observations: the vehicle's, its group's or its site's, with the sorted values per kind and weekday
 *  (or all weekdays) computed once, as a site's vehicles share their group's and site's pools. */
class Pool {
  private readonly sorted = new Map<string, number[]>();
  private merged: Samples | null = null;
  /** `samples` is called once, when a value is first asked for: most forecasts never reach their group's or site's. */
  constructor(
    readonly level: Level,
    private readonly samples: () => Samples,
  ) {}
  values(kind: Kind, weekday: number | null): number[] {
    const key = `${kind}:${weekday ?? 'all'}`;
    let v = this.sorted.get(key);
    if (!v) {
      this.merged ??= this.samples();
      v = (weekday === null ? this.merged[kind].flat() : [...this.merged[kind][weekday]!]).sort((a, b) => a - b);
      this.sorted.set(key, v);
    }
    return v;
  }
}

/** A vehicle's own pool, kept with its samples (so with its history): its sorted values too are computed once. */
const ownPools = new WeakMap<Samples, Pool>();
const ownPool = (samples: Samples): Pool => {
  let pool = ownPools.get(samples);
  if (!pool) ownPools.set(samples, (pool = new Pool('vehicle', () => samples)));
  return pool;
};

const distribution = (pools: readonly Pool[], kind: Kind, weekday: number, minSamples: number): Distribution | null => {
  // In order, stopping at the first pool with minSamples (a site's pools are sorted only when a forecast needs them).
  const candidates: { level: Level; days: 'weekday' | 'all'; values: number[] }[] = [];
  let chosen: (typeof candidates)[number] | undefined;
  for (const days of ['weekday', 'all'] as const)
    for (const p of pools) {
      if (chosen) break;
      const c = { level: p.level, days, values: p.values(kind, days === 'weekday' ? weekday : null) };
      candidates.push(c);
      if (c.values.length >= minSamples) chosen = c;
    }
  chosen ??= candidates.reduce<(typeof candidates)[number] | undefined>((best, c) => (c.values.length > (best?.values.length ?? 0) ? c : best), undefined);
  if (!chosen) return null;
  const v = chosen.values;
  return { p10: quantileOf(v, 0.1), p50: quantileOf(v, 0.5), p90: quantileOf(v, 0.9), samples: v.length, level: chosen.level, days: chosen.days };
};

const clampAfter = (q: Quantiles, t: number): Quantiles => ({ p10: Math.max(q.p10, t), p50: Math.max(q.p50, t), p90: Math.max(q.p90, t) });

/** The first occurrence, from the local day of `from` on, whose `pick` quantile is after `from`, as instants. */
const nextOccurrence = (weekdays: readonly WeekdayForecast[], kind: 'returnMinute' | 'departureMinute', from: number, pick: keyof Quantiles, timeZone: string): { at: Quantiles; weekday: number } | null => {
  const today = localTime(from, timeZone).weekday;
  for (let k = 0; k <= 7; k++) {
    const weekday = (today + k) % 7;
    const d = weekdays[weekday]![kind];
    if (!d) continue;
    const at = { p10: localInstant(from, k, d.p10, timeZone), p50: localInstant(from, k, d.p50, timeZone), p90: localInstant(from, k, d.p90, timeZone) };
    if (at[pick] > from) return { at: clampAfter(at, from), weekday };
  }
  return null;
};

const plain = (d: Distribution | null): Quantiles | null => (d ? { p10: d.p10, p50: d.p50, p90: d.p90 } : null);

const nextOf = (h: VehicleHistory, weekdays: readonly WeekdayForecast[], o: Required<ForecastOptions>): NextForecast => {
  const atDepot = h.pluggedIn === true;
  let returnAt: Quantiles | null = null;
  let returnSource: NextForecast['returnSource'] = null;
  let returnWeekday: number | null = null;
  if (!atDepot) {
    if (h.etaAt !== null && h.etaAt >= o.now) {
      returnAt = { p10: h.etaAt, p50: h.etaAt, p90: h.etaAt };
      returnSource = 'eta';
      returnWeekday = localTime(h.etaAt, o.timeZone).weekday;
    } else {
      const r = nextOccurrence(weekdays, 'returnMinute', o.now, 'p90', o.timeZone);
      if (r) [returnAt, returnSource, returnWeekday] = [r.at, 'history', r.weekday];
    }
  }
  const socAtReturnPct: Quantiles | null = atDepot
    ? h.lastSocPct === null
      ? null
      : { p10: h.lastSocPct, p50: h.lastSocPct, p90: h.lastSocPct }
    : returnWeekday === null
      ? null
      : plain(weekdays[returnWeekday]!.socAtReturnPct);
  const from = returnAt?.p50 ?? o.now;
  const scheduled = departuresOf(h, o.mergeMinutes).find((d) => d.scheduled && d.at > from);
  let departAt: Quantiles | null = null;
  let departureSource: NextForecast['departureSource'] = null;
  let requiredSocPct: Quantiles | null = null;
  if (scheduled) {
    departAt = { p10: scheduled.at, p50: scheduled.at, p90: scheduled.at };
    departureSource = 'scheduled';
    const req = scheduled.requiredSocPct ?? plain(weekdays[localTime(scheduled.at, o.timeZone).weekday]!.requiredSocPct)?.p50 ?? null;
    requiredSocPct = req === null ? null : { p10: req, p50: req, p90: req };
  } else if (returnAt !== null || atDepot) {
    const d = nextOccurrence(weekdays, 'departureMinute', from, 'p50', o.timeZone);
    if (d) {
      departAt = d.at;
      departureSource = 'history';
      requiredSocPct = plain(weekdays[d.weekday]!.requiredSocPct);
    }
  }
  const cap = h.batteryCapacityKwh;
  const energyNeedKwh =
    cap !== null && requiredSocPct !== null && socAtReturnPct !== null
      ? {
          p10: (Math.max(0, requiredSocPct.p10 - socAtReturnPct.p90) * cap) / 100,
          p50: (Math.max(0, requiredSocPct.p50 - socAtReturnPct.p50) * cap) / 100,
          p90: (Math.max(0, requiredSocPct.p90 - socAtReturnPct.p10) * cap) / 100,
        }
      : null;
  return { atDepot, returnAt, returnSource, socAtReturnPct, departAt, departureSource, requiredSocPct, energyNeedKwh };
};

const withDefaults = (o: ForecastOptions): Required<ForecastOptions> => ({ minSamples: 5, mergeMinutes: 60, ...o });

/** The samples of every vehicle, and the pools of every group and site, computed once for a set of histories. */
interface Pools {
  readonly own: (vehicleId: string) => Samples;
  readonly groups: ReadonlyMap<string, Pool>;
  readonly sites: ReadonlyMap<string, Pool>;
}

const poolsOf = (histories: readonly HistoryOf[], o: Required<ForecastOptions>): Pools => {
  // Each vehicle's samples when first needed (its own forecast, or a pool it is part of), kept with its history.
  const byId = new Map(histories.map((x) => [x.vehicleId, x.history]));
  const own = (vehicleId: string): Samples => cachedSamples(byId.get(vehicleId)!, o.timeZone, o.mergeMinutes);
  const collect = (keyOf: (h: VehicleHistory) => string | null, level: Level): Map<string, Pool> => {
    const members = new Map<string, string[]>();
    for (const x of histories) {
      const k = keyOf(x.history);
      if (k === null) continue;
      const list = members.get(k);
      if (list) list.push(x.vehicleId);
      else members.set(k, [x.vehicleId]);
    }
    return new Map([...members].map(([k, ids]) => [k, new Pool(level, () => merged(ids.map(own)))]));
  };
  return { own, groups: collect(groupOf, 'group'), sites: collect((h) => h.siteId, 'site') };
};

const forecastWith = (own: HistoryOf, o: Required<ForecastOptions>, p: Pools): VehicleForecast => {
  const { vehicleId, history: h } = own;
  const group = groupOf(h);
  const pools = [
    ownPool(p.own(vehicleId)),
    (group === null ? undefined : p.groups.get(group)) ?? new Pool('group', () => emptySamples),
    (h.siteId === null ? undefined : p.sites.get(h.siteId)) ?? new Pool('site', () => emptySamples),
  ];
  const weekdays: WeekdayForecast[] = Array.from({ length: 7 }, (_, weekday) => ({
    weekday,
    returnMinute: distribution(pools, 'returnMinute', weekday, o.minSamples),
    socAtReturnPct: distribution(pools, 'socAtReturnPct', weekday, o.minSamples),
    departureMinute: distribution(pools, 'departureMinute', weekday, o.minSamples),
    requiredSocPct: distribution(pools, 'requiredSocPct', weekday, o.minSamples),
  }));
  return { vehicleId, siteId: h.siteId, groupId: group, timeZone: o.timeZone, minSamples: o.minSamples, batteryCapacityKwh: h.batteryCapacityKwh, weekdays, next: nextOf(h, weekdays, o) };
};

/** One vehicle's forecast; `histories` holds it and the vehicles it may fall back to (its site's). Null when absent. */
export const forecastVehicle = (vehicleId: string, histories: readonly HistoryOf[], options: ForecastOptions): VehicleForecast | null => {
  const o = withDefaults(options);
  const own = histories.find((x) => x.vehicleId === vehicleId);
  return own ? forecastWith(own, o, poolsOf(histories, o)) : null;
};

/** The forecasts of some of a site's vehicles (`of`, each in `histories`), the pools built once from all of
 *  `histories`: what a planner needs for the vehicles it does not see yet, without forecasting those present. */
export const forecastSome = (of: readonly HistoryOf[], histories: readonly HistoryOf[], options: ForecastOptions): VehicleForecast[] => {
  const o = withDefaults(options);
  const pools = poolsOf(histories, o);
  return of.map((x) => forecastWith(x, o, pools));
};

/** Every vehicle's forecast of one site's histories, in vehicle id order. */
export const forecastSite = (histories: readonly HistoryOf[], options: ForecastOptions): VehicleForecast[] => {
  const o = withDefaults(options);
  const pools = poolsOf(histories, o);
  return [...histories]
    .sort((a, b) => (a.vehicleId < b.vehicleId ? -1 : a.vehicleId > b.vehicleId ? 1 : 0))
    .map((x) => forecastWith(x, o, pools));
};
