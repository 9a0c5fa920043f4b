import { DAY_START } from './depot';
import { depotWithHistory, learnedReserve } from './history';

const DAY = 24 * 3600_000;

describe('a depot with weeks of history', () => {
  const h = depotWithHistory(3, 5, 0.3, 2);

  it("folds one return and one departure per day of every vehicle's routine, all before the measured day", () => {
    for (const v of h.day.vehicles) {
      const history = h.state.histories.get(v.vehicleId)!;
      // A return is a session match and a telematics plug-in (merged by the statistics, not the fold).
      expect(history.arrivals.filter((a) => a.source === 'session')).toHaveLength(14);
      // 14 days of scheduled departures and the measured day's, scheduled at its start; 14 unplugs.
      const scheduled = history.departures.filter((d) => d.source === 'scheduled');
      expect(scheduled).toHaveLength(15);
      expect(scheduled.filter((d) => d.at > DAY_START).map((d) => d.at)).toEqual([v.departAt]);
      expect(history.departures.filter((d) => d.source === 'unplugged')).toHaveLength(14);
      expect(Math.max(...history.arrivals.map((a) => a.at))).toBeLessThan(DAY_START);
    }
  });

  it("draws every day, the measured one too, around each vehicle's routine (returns ±1.5 h, departures ±30 min)", () => {
    // Every day is drawn around the same routine: two days of it differ by at most twice the jitter.
    for (const v of h.day.vehicles) {
      const sessions = h.state.histories.get(v.vehicleId)!.arrivals.filter((a) => a.source === 'session');
      for (const a of sessions) {
        const sinceStart = ((a.at - DAY_START) % DAY + DAY) % DAY;
        const measured = v.arrivalAt - DAY_START;
        // Clamped returns (at 16:15, or an hour before leaving) can only be nearer.
        expect(Math.abs(sinceStart - measured)).toBeLessThanOrEqual(3 * 3600_000 + 60_000);
      }
      const departures = h.state.histories.get(v.vehicleId)!.departures.filter((d) => d.source === 'scheduled');
      for (const d of departures) expect(Math.abs(((d.at - v.departAt) % DAY + DAY + DAY / 2) % DAY - DAY / 2)).toBeLessThanOrEqual(3600_000);
    }
  });

  it('keeps a reserve while the vehicles may come back and none after the last of them has left', () => {
    const absent = h.day.vehicles.map((v) => v.vehicleId);
    const reserve = learnedReserve(h)(DAY_START, absent, 0.9);
    const lastDeparture = Math.max(...h.day.vehicles.map((v) => v.departAt));
    const slot = (at: number) => Math.round((at - DAY_START) / (15 * 60_000));
    expect(Math.max(...reserve)).toBeGreaterThan(0);
    expect(reserve.slice(slot(lastDeparture) + 1).every((kw) => kw === 0)).toBe(true);
    expect(learnedReserve(h)(DAY_START, [], 0.9).every((kw) => kw === 0)).toBe(true);
  });
});
