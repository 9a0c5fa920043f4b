import { BuildingLoadSample, slotStart } from './building-load';

/** Base-load forecast of a site's building (everything on the grid connection but the chargers), for the optimizer.
 *
 *  API (pure, no I/O, deterministic):
 *    buildForecast(history, { timeZone, quantile = 0.95, minSamples = 3, recentWindowMs = 7 d, noHistoryKw = 0 })
 *      → BaseLoadForecast   (7 weekdays × 96 slots of 15 min, in the site's local time)
 *    forecastAt(forecast, atMs)                       → SlotForecast of the slot holding atMs
 *    forecastSeries(forecast, startMs, slots, slotMinutes) → { medianKw[], upperKw[], basis[] } for a plan's horizon:
 *      per plan slot the largest median and upper of the 15-minute slots it overlaps (safe for longer plan slots).
 *  history: building load per 15-minute slot (building-load.ts buildingLoadBySlot, or rows of the
 *  building_load_15m view: bucket → at, building_kw → kw), any order.
 *
 *  Per weekday × slot, from the history samples that fall on that local weekday and time of day:
 *  - at least minSamples of them: median and the `quantile` upper bound (linear interpolation), basis 'history';
 *  - else, the same time of day on any weekday, if at least minSamples: basis 'time-of-day';
 *  - else the recent peak (the largest sample in the recentWindowMs before the newest sample) for both, basis
 *    'recent-peak' (short history: plan as if the building were at its recent peak);
 *  - no history at all: noHistoryKw for both, basis 'none'.
 *  "Safe when blind" (the meter silent) plans against upperKw; recentPeakKw is also given on its own. */
export const SlotMinutes = 15;
export const SlotsPerDay = (24 * 60) / SlotMinutes;

export type ForecastBasis = 'history' | 'time-of-day' | 'recent-peak' | 'none';

export interface SlotForecast {
  /** 0 = Sunday … 6 = Saturday, local time. */
  readonly weekday: number;
  /** 0 … 95: the slot of the local day (slot 4 = 01:00–01:15). */
  readonly slot: number;
  readonly medianKw: number;
  readonly upperKw: number;
  /** Samples the values come from (0 for recent-peak and none). */
  readonly samples: number;
  readonly basis: ForecastBasis;
}

export interface BaseLoadForecast {
  readonly timeZone: string;
  readonly quantile: number;
  /** Largest building load in the recentWindowMs before the newest sample; null without history. */
  readonly recentPeakKw: number | null;
  /** Newest history sample (slot start, epoch ms); null without history. */
  readonly historyUntil: number | null;
  /** weekday * SlotsPerDay + slot → forecast. */
  readonly slots: readonly SlotForecast[];
}

export interface ForecastOptions {
  /** IANA time zone of the site (fleet configuration `timezone`). */
  readonly timeZone: string;
  readonly quantile?: number;
  readonly minSamples?: number;
  readonly recentWindowMs?: number;
  readonly noHistoryKw?: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const formatter = (timeZone: string): Intl.DateTimeFormat => {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
};
const weekdays: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** The local weekday and 15-minute slot of the day of an instant. */
export const localSlot = (atMs: number, timeZone: string): { weekday: number; slot: number } => {
  const parts = formatter(timeZone).formatToParts(new Date(atMs));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const minutes = Number(get('hour')) * 60 + Number(get('minute'));
  return { weekday: weekdays[get('weekday')] ?? 0, slot: Math.floor(minutes / SlotMinutes) };
};

/** Linear interpolation between order statistics (the usual "type 7"); `sorted` ascending, non-empty. */
export const quantileOf = (sorted: readonly number[], q: number): number => {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
};

const push = (m: Map<number, number[]>, k: number, v: number): void => {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
};

export const buildForecast = (history: readonly BuildingLoadSample[], opts: ForecastOptions): BaseLoadForecast => {
  const q = opts.quantile ?? 0.95;
  const minSamples = opts.minSamples ?? 3;
  const recentWindowMs = opts.recentWindowMs ?? 7 * 24 * 3600_000;
  const byWeekSlot = new Map<number, number[]>();
  const byDaySlot = new Map<number, number[]>();
  let newest = -Infinity;
  for (const s of history) {
    if (!Number.isFinite(s.kw)) continue;
    const { weekday, slot } = localSlot(s.at, opts.timeZone);
    const w = weekday * SlotsPerDay + slot;
    push(byWeekSlot, w, s.kw);
    push(byDaySlot, slot, s.kw);
    newest = Math.max(newest, s.at);
  }
  const recent = history.filter((s) => Number.isFinite(s.kw) && s.at > newest - recentWindowMs).map((s) => s.kw);
  const recentPeakKw = recent.length ? Math.max(...recent) : null;
  const slots: SlotForecast[] = [];
  for (let weekday = 0; weekday < 7; weekday++)
    for (let slot = 0; slot < SlotsPerDay; slot++) {
      const own = byWeekSlot.get(weekday * SlotsPerDay + slot) ?? [];
      const sameTime = byDaySlot.get(slot) ?? [];
      const values = own.length >= minSamples ? own : sameTime.length >= minSamples ? sameTime : null;
      if (values) {
        const sorted = [...values].sort((a, b) => a - b);
        slots.push({ weekday, slot, medianKw: quantileOf(sorted, 0.5), upperKw: quantileOf(sorted, q), samples: sorted.length, basis: values === own ? 'history' : 'time-of-day' });
      } else if (recentPeakKw !== null) slots.push({ weekday, slot, medianKw: recentPeakKw, upperKw: recentPeakKw, samples: 0, basis: 'recent-peak' });
      else slots.push({ weekday, slot, medianKw: opts.noHistoryKw ?? 0, upperKw: opts.noHistoryKw ?? 0, samples: 0, basis: 'none' });
    }
  return { timeZone: opts.timeZone, quantile: q, recentPeakKw, historyUntil: Number.isFinite(newest) ? newest : null, slots };
};

export const forecastAt = (f: BaseLoadForecast, atMs: number): SlotForecast => {
  const { weekday, slot } = localSlot(atMs, f.timeZone);
  return f.slots[weekday * SlotsPerDay + slot]!;
};

const basisRank: Readonly<Record<ForecastBasis, number>> = { history: 0, 'time-of-day': 1, 'recent-peak': 2, none: 3 };

/** The forecast over a plan's horizon: `slots` slots of `slotMinutes` from startMs. */
export const forecastSeries = (
  f: BaseLoadForecast,
  startMs: number,
  slots: number,
  slotMinutes: number,
): { medianKw: number[]; upperKw: number[]; basis: ForecastBasis[] } => {
  const medianKw: number[] = [];
  const upperKw: number[] = [];
  const basis: ForecastBasis[] = [];
  for (let t = 0; t < slots; t++) {
    const from = startMs + t * slotMinutes * 60_000;
    const to = from + slotMinutes * 60_000;
    let m = -Infinity;
    let u = -Infinity;
    let b: ForecastBasis = 'history';
    for (let at = slotStart(from, SlotMinutes); at < to; at += SlotMinutes * 60_000) {
      const s = forecastAt(f, at);
      m = Math.max(m, s.medianKw);
      u = Math.max(u, s.upperKw);
      if (basisRank[s.basis] > basisRank[b]) b = s.basis;
    }
    medianKw.push(m);
    upperKw.push(u);
    basis.push(b);
  }
  return { medianKw, upperKw, basis };
};
