import { historyOf, Routine } from './history-fixture';
import { evolve } from './fold';
import { forecastSite, forecastVehicle, HistoryOf, localInstant, localTime, quantiles, returnsOf } from './stats';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const tz = 'Europe/Berlin';
// Monday 2026-11-02 00:00 in Europe/Berlin (UTC+1).
const monday = Date.UTC(2026, 10, 1, 23, 0);
const weekdayOf = (d: number) => (1 + d) % 7;
const isWorkday = (d: number) => weekdayOf(d) >= 1 && weekdayOf(d) <= 5;

/** V1: six weeks of workdays, back at 17:00 + 10 min per week with 40 − 2 per week % SoC, out at 06:00 needing 80 %. */
const v1: Routine = {
  vehicleId: 'V1',
  siteId: 'north',
  batteryCapacityKwh: 80,
  timeZone: tz,
  from: monday,
  days: 42,
  returnOn: (d) => (isWorkday(d) ? { minute: 17 * 60 + 10 * Math.floor(d / 7), socPct: 40 - 2 * Math.floor(d / 7) } : null),
  departNextDay: (d) => (isWorkday(d + 1) ? { minute: 6 * 60, requiredSocPct: 80 } : null),
};
/** V2: the same kind of vehicle, new: two weeks, back at 18:00 with 50 %. */
const v2: Routine = { ...v1, vehicleId: 'V2', from: monday + 28 * DAY, days: 14, returnOn: (d) => (isWorkday(d) ? { minute: 18 * 60, socPct: 50 } : null) };
/** V3: a smaller battery, no history yet. */
const v3: Routine = { ...v1, vehicleId: 'V3', batteryCapacityKwh: 40, days: 0 };

const now = localInstant(monday, 42, 12 * 60, tz); // Monday of week 7, 12:00
const site = (upTo = now): HistoryOf[] => [v1, v2, v3].map((r) => ({ vehicleId: r.vehicleId, history: historyOf(r, upTo) }));

describe('vehicle forecast statistics', () => {
  it('local time and instants in the site’s time zone, across the change to winter time', () => {
    expect(localTime(monday, tz)).toEqual({ weekday: 1, minute: 0 });
    const beforeDst = Date.UTC(2026, 9, 24, 12, 0); // Saturday 24 Oct 14:00 CEST; Sunday 25 Oct is 25 hours long
    expect(localTime(localInstant(beforeDst, 2, 17 * 60, tz), tz)).toEqual({ weekday: 1, minute: 17 * 60 });
  });

  it('quantiles p10 / p50 / p90 by linear interpolation', () => {
    expect(quantiles([1020, 1030, 1040, 1050, 1060, 1070])).toEqual({ p10: 1025, p50: 1045, p90: 1065 });
  });

  it('a return is one cluster of signals: the plug-in reading and the session match a minute later count once', () => {
    expect(returnsOf(historyOf(v1, now))).toHaveLength(30);
  });

  it('learns a vehicle’s own return time, SoC at return and departure by weekday once it has minSamples of them', () => {
    const f = forecastVehicle('V1', site(), { timeZone: tz, now, minSamples: 5 })!;
    const mon = f.weekdays[1]!;
    expect(mon.returnMinute).toEqual({ p10: 1025, p50: 1045, p90: 1065, samples: 6, level: 'vehicle', days: 'weekday' });
    expect(mon.socAtReturnPct).toEqual({ p10: 31, p50: 35, p90: 39, samples: 6, level: 'vehicle', days: 'weekday' });
    expect(f.weekdays[2]!.departureMinute).toMatchObject({ p10: 360, p50: 360, p90: 360, level: 'vehicle', days: 'weekday' });
    expect(f.weekdays[2]!.requiredSocPct).toMatchObject({ p50: 80, level: 'vehicle' });
    // No Saturday trips anywhere: the vehicle's own returns of all weekdays.
    expect(f.weekdays[6]!.returnMinute).toMatchObject({ samples: 30, level: 'vehicle', days: 'all' });
  });

  it('falls back to the group (same site and battery), then the site, until a vehicle has minSamples of its own', () => {
    const [, f2, f3] = forecastSite(site(), { timeZone: tz, now, minSamples: 5 });
    expect(f2!.groupId).toBe('north/80kWh');
    expect(f2!.weekdays[1]!.returnMinute).toMatchObject({ samples: 8, level: 'group', days: 'weekday' });
    expect(f2!.weekdays[1]!.returnMinute!.p90).toBe(1080); // V2's 18:00 returns are in the group's upper tail
    expect(f3!.weekdays[1]!.returnMinute).toMatchObject({ samples: 8, level: 'site', days: 'weekday' });
    const strict = forecastVehicle('V1', site(), { timeZone: tz, now, minSamples: 10 })!;
    expect(strict.weekdays[1]!.returnMinute).toMatchObject({ samples: 30, level: 'vehicle', days: 'all' });
  });

  it('next: a vehicle away is expected back at its weekday quantiles, leaves at the learned time, and needs (required − SoC at return) × battery', () => {
    const n = forecastVehicle('V1', site(), { timeZone: tz, now })!.next;
    expect(n).toMatchObject({ atDepot: false, returnSource: 'history', departureSource: 'history' });
    expect(n.returnAt).toEqual({ p10: localInstant(now, 0, 1025, tz), p50: localInstant(now, 0, 1045, tz), p90: localInstant(now, 0, 1065, tz) });
    expect(n.departAt!.p50).toBe(localInstant(now, 1, 360, tz));
    expect(n.energyNeedKwh!.p10).toBeCloseTo((80 - 39) * 0.8);
    expect(n.energyNeedKwh!.p50).toBeCloseTo((80 - 35) * 0.8);
    expect(n.energyNeedKwh!.p90).toBeCloseTo((80 - 31) * 0.8);
  });

  it('next: a vehicle later than usual is expected from now on, not earlier; a telematics ETA replaces the history', () => {
    const late = localInstant(monday, 42, 1055, tz);
    const n = forecastVehicle('V1', site(late), { timeZone: tz, now: late })!.next;
    expect(n.returnAt).toEqual({ p10: late, p50: late, p90: localInstant(late, 0, 1065, tz) });
    const h = historyOf(v1, now);
    const withEta = evolve(h, { type: 'EtaSeen', at: now, etaAt: now + 90 * MIN });
    const e = forecastVehicle('V1', [{ vehicleId: 'V1', history: withEta }], { timeZone: tz, now })!.next;
    expect(e).toMatchObject({ returnSource: 'eta', returnAt: { p10: now + 90 * MIN, p50: now + 90 * MIN, p90: now + 90 * MIN } });
  });

  it('next: at the depot, no return; the scheduled departure and the latest SoC decide the need', () => {
    const evening = localInstant(monday, 41, 21 * 60, tz); // Sunday 21:00: Monday's departure is scheduled, the vehicle plugged in
    const h = [{ type: 'PlugStateSeen', at: evening, pluggedIn: true } as const, { type: 'SocSeen', at: evening, socPct: 45 } as const].reduce(evolve, historyOf(v1, evening));
    const n = forecastVehicle('V1', [{ vehicleId: 'V1', history: h }], { timeZone: tz, now: evening })!.next;
    expect(n).toMatchObject({ atDepot: true, returnAt: null, departureSource: 'scheduled', departAt: { p50: localInstant(monday, 42, 360, tz) }, requiredSocPct: { p50: 80 } });
    expect(n.energyNeedKwh).toEqual({ p10: 28, p50: 28, p90: 28 });
  });

  it('no history: no distributions and nothing expected', () => {
    const f = forecastVehicle('V3', [{ vehicleId: 'V3', history: historyOf(v3) }], { timeZone: tz, now })!;
    expect(f.weekdays.every((w) => w.returnMinute === null && w.departureMinute === null)).toBe(true);
    expect(f.next).toMatchObject({ returnAt: null, departAt: null, energyNeedKwh: null });
    expect(forecastVehicle('nope', [], { timeZone: tz, now })).toBeNull();
  });
});
