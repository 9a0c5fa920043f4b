import { SiteSnapshot } from './snapshot';

/** The building's load as the plan counts it, pure. With a live connection meter: the forecast's expected value,
 *  and in slot 0 no less than what the meter says now. With the meter silent longer than `blindAfterMs` (or never
 *  heard): the forecast's upper quantile in every slot ("safe when blind"). Without a building load in the snapshot:
 *  its plain `baseLoadKw`. */

const at = (xs: readonly number[], t: number): number => (xs.length === 0 ? 0 : (xs[Math.min(t, xs.length - 1)] ?? 0));

export const isBlind = (s: SiteSnapshot): boolean => {
  const b = s.buildingLoad;
  return b !== undefined && (b.measuredAt === null || s.now - b.measuredAt > b.blindAfterMs);
};

export const plannedBaseLoadKw = (s: SiteSnapshot, slots: number): Float64Array => {
  const out = new Float64Array(slots);
  const b = s.buildingLoad;
  if (!b) {
    for (let t = 0; t < slots; t++) out[t] = Math.max(0, at(s.baseLoadKw, t));
    return out;
  }
  const blind = isBlind(s);
  for (let t = 0; t < slots; t++) out[t] = Math.max(0, blind ? Math.max(at(b.upperKw, t), at(b.expectedKw, t)) : at(b.expectedKw, t));
  if (!blind && b.measuredKw !== null && slots > 0) out[0] = Math.max(out[0]!, b.measuredKw);
  return out;
};

/** The building load the chargers' fallback caps leave room for (kW): its recent peak, and when blind no less than
 *  the forecast's highest upper quantile. */
export const fallbackBuildingKw = (s: SiteSnapshot): number => {
  const b = s.buildingLoad;
  if (!b) return s.baseLoadKw.reduce((m, x) => Math.max(m, x), 0);
  const forecastPeak = isBlind(s) ? b.upperKw.reduce((m, x) => Math.max(m, x), 0) : 0;
  return Math.max(0, b.recentPeakKw, forecastPeak, b.measuredKw ?? 0);
};
