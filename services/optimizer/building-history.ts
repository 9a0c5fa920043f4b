import { BuildingLoadSample, slotStart } from '../../streams/site-load/building-load';
import { buildForecast, forecastSeries } from '../../streams/site-load/forecast';
import { BuildingLoad } from './snapshot';

/** A site's building load as the optimizer's fold keeps it, pure: building = connection meter − the site's chargers'
 *  metered load (the fold's own sum at the reading), averaged per 15-minute slot for the forecast
 *  (streams/site-load/forecast.ts), the latest reading, and the highest reading per slot for the recent peak. */

const SLOT_MINUTES = 15;
const SLOT_MS = SLOT_MINUTES * 60000;
/** Four weeks: the forecast wants several samples of each weekday and time of day. */
const HISTORY_MS = 28 * 24 * 3600000;
/** The fallback caps leave room for the building's highest load of the last day. */
const RECENT_PEAK_MS = 24 * 3600000;

export interface BuildingSlot extends BuildingLoadSample {
  /** Highest single reading in the slot. */
  readonly maxKw: number;
}

export interface BuildingHistory {
  readonly lastAt: number;
  readonly lastKw: number;
  /** The slot still being filled. */
  readonly open: { readonly at: number; readonly sumKw: number; readonly n: number; readonly maxKw: number };
  /** Closed slots, oldest first, the last HISTORY_MS. */
  readonly slots: readonly BuildingSlot[];
}

const close = (o: BuildingHistory['open']): BuildingSlot => ({ at: o.at, kw: o.sumKw / o.n, maxKw: o.maxKw });

export const withConnectionReading = (h: BuildingHistory | undefined, at: number, buildingKw: number): BuildingHistory => {
  const slot = slotStart(at, SLOT_MINUTES);
  if (!h) return { lastAt: at, lastKw: buildingKw, open: { at: slot, sumKw: buildingKw, n: 1, maxKw: buildingKw }, slots: [] };
  // A reading older than the open slot (late, out of order) is not folded into the history.
  if (slot < h.open.at) return h;
  const last = at >= h.lastAt ? { lastAt: at, lastKw: buildingKw } : { lastAt: h.lastAt, lastKw: h.lastKw };
  if (slot === h.open.at) return { ...h, ...last, open: { at: slot, sumKw: h.open.sumKw + buildingKw, n: h.open.n + 1, maxKw: Math.max(h.open.maxKw, buildingKw) } };
  const slots = [...h.slots, close(h.open)];
  const from = slots.findIndex((x) => x.at >= at - HISTORY_MS);
  return { ...last, open: { at: slot, sumKw: buildingKw, n: 1, maxKw: buildingKw }, slots: from > 0 ? slots.slice(from) : slots };
};

const forecasts = new WeakMap<readonly BuildingSlot[], ReturnType<typeof buildForecast>>();

/** The planner's view (snapshot.ts BuildingLoad) of a site's building at `now`, over `slots` plan slots. */
export const buildingLoadOf = (h: BuildingHistory, timeZone: string, now: number, slots: number, slotMinutes: number, blindAfterMs: number): BuildingLoad => {
  let f = forecasts.get(h.slots);
  const history = [...h.slots, close(h.open)];
  if (!f) {
    f = buildForecast(history, { timeZone });
    forecasts.set(h.slots, f);
  }
  const series = forecastSeries(f, now, slots, slotMinutes);
  const recent = history.filter((x) => x.at + SLOT_MS > now - RECENT_PEAK_MS).reduce((m, x) => Math.max(m, x.maxKw), -Infinity);
  return {
    expectedKw: series.medianKw,
    upperKw: series.upperKw,
    measuredKw: h.lastKw,
    measuredAt: h.lastAt,
    recentPeakKw: Number.isFinite(recent) ? recent : h.lastKw,
    blindAfterMs,
  };
};
