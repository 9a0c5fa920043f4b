import { buildForecast, forecastAt, forecastSeries, localSlot, quantileOf } from './forecast';
import { BuildingLoadSample } from './building-load';

const min = 60_000;
const day = 24 * 60 * min;
// Monday 2026-11-02 00:00 in Europe/Berlin (UTC+1).
const monday = Date.UTC(2026, 10, 1, 23, 0);
const tz = 'Europe/Berlin';

/** `weeks` weeks of 15-minute building load: 20 kW at night, `morning(week)` kW from 07:00 to 09:00 on weekdays. */
const history = (weeks: number, morning: (week: number) => number): BuildingLoadSample[] => {
  const out: BuildingLoadSample[] = [];
  for (let at = monday; at < monday + weeks * 7 * day; at += 15 * min) {
    const { weekday, slot } = localSlot(at, tz);
    const week = Math.floor((at - monday) / (7 * day));
    const busy = weekday >= 1 && weekday <= 5 && slot >= 28 && slot < 36;
    out.push({ at, kw: busy ? morning(week) : 20 });
  }
  return out;
};

describe('base-load forecast by weekday and time of day', () => {
  it('reads weekday and slot in the site’s time zone', () => {
    expect(localSlot(monday, tz)).toEqual({ weekday: 1, slot: 0 });
    expect(localSlot(monday, 'UTC')).toEqual({ weekday: 0, slot: 92 });
  });

  it('interpolates quantiles between order statistics', () => {
    expect(quantileOf([10, 20, 30, 40, 50], 0.5)).toBe(30);
    expect(quantileOf([10, 20, 30, 40, 50], 0.95)).toBeCloseTo(48);
    expect(quantileOf([7], 0.95)).toBe(7);
  });

  it('gives median and upper quantile per weekday × slot from the history', () => {
    const f = buildForecast(history(5, (w) => 100 + 10 * w), { timeZone: tz, quantile: 0.95 });
    const tuesday8 = forecastAt(f, monday + day + 8 * 60 * min + 5 * min);
    expect(tuesday8).toMatchObject({ weekday: 2, slot: 32, basis: 'history', samples: 5, medianKw: 120 });
    expect(tuesday8.upperKw).toBeCloseTo(138);
    expect(forecastAt(f, monday + 5 * day + 8 * 60 * min)).toMatchObject({ weekday: 6, medianKw: 20, upperKw: 20, basis: 'history' });
    expect(f.recentPeakKw).toBe(140);
  });

  it('falls back to the same time of day on other weekdays, then to the recent peak, when history is short', () => {
    // Two days of history: Monday and Tuesday.
    const short = history(1, () => 90).filter((s) => s.at < monday + 2 * day);
    const f = buildForecast(short, { timeZone: tz, minSamples: 3 });
    expect(forecastAt(f, monday + 8 * 60 * min)).toMatchObject({ basis: 'recent-peak', medianKw: 90, upperKw: 90 });
    const withTwoSamples = buildForecast(short, { timeZone: tz, minSamples: 2 });
    expect(forecastAt(withTwoSamples, monday + 3 * day + 8 * 60 * min)).toMatchObject({ weekday: 4, basis: 'time-of-day', samples: 2, medianKw: 90 });
    expect(buildForecast([], { timeZone: tz, noHistoryKw: 250 }).slots[0]).toMatchObject({ basis: 'none', upperKw: 250 });
  });

  it('gives a plan horizon the largest forecast of the 15-minute slots each plan slot overlaps', () => {
    const f = buildForecast(history(3, () => 100), { timeZone: tz });
    // Monday 06:30, four 30-minute plan slots: 06:30, 07:00, 07:30, 08:00.
    const s = forecastSeries(f, monday + 7 * day + 6.5 * 60 * min, 4, 30);
    expect(s.medianKw).toEqual([20, 100, 100, 100]);
    expect(s.upperKw).toEqual([20, 100, 100, 100]);
    expect(s.basis).toEqual(['history', 'history', 'history', 'history']);
    // An 08:45–09:15 slot overlaps the busy 08:45 slot and the quiet 09:00 one.
    expect(forecastSeries(f, monday + 8.75 * 60 * min, 1, 30).upperKw).toEqual([100]);
  });
});
