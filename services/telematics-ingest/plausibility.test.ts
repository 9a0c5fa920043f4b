import { checkJumps, History, HistorySize, Point, remember } from './plausibility';

const min = 60_000;
const p = (t: number, socPct: number | null, odometerKm: number | null): Point => ({ readingAt: t * min, socPct, odometerKm });
const given = (...points: Point[]): History => points.reduce<History>(remember, []);

describe('jump rules', () => {
  it('accepts anything for a vehicle without history', () => {
    expect(checkJumps([], p(0, 100, 0))).toEqual([]);
  });

  it('refuses a decreasing odometer, within a 0.1 km tolerance', () => {
    const h = given(p(0, null, 1000));
    expect(checkJumps(h, p(10, null, 999.95))).toEqual([]);
    expect(checkJumps(h, p(10, null, 999.8))).toEqual([expect.stringMatching(/^odometerKm decreased from 1000 km/)]);
  });

  it('refuses an odometer faster than 300 km/h, with 1 km slack', () => {
    const h = given(p(0, null, 1000));
    expect(checkJumps(h, p(60, null, 1300))).toEqual([]);
    expect(checkJumps(h, p(60, null, 1302))).toEqual(['odometerKm advanced 302 km in 60.0 min, faster than 300 km/h']);
    expect(checkJumps(h, p(0, null, 1000.9))).toEqual([]);
  });

  it('bounds SoC rise (300 %/h) and fall (200 %/h), with 3 points of slack', () => {
    const h = given(p(0, 20, null));
    expect(checkJumps(h, p(10, 70, null))).toEqual([]);
    expect(checkJumps(h, p(10, 74, null))).toEqual(['socPct rose from 20 % to 74 % in 10.0 min, faster than 300 %/h']);
    expect(checkJumps(h, p(0, 23, null))).toEqual([]);
    const high = given(p(0, 90, null));
    expect(checkJumps(high, p(6, 70, null))).toEqual([]);
    expect(checkJumps(high, p(6, 60, null))).toEqual(['socPct fell from 90 % to 60 % in 6.0 min, faster than 200 %/h']);
  });

  it('checks a late reading against the readings before and after it', () => {
    const h = given(p(0, 20, 1000), p(60, 80, 1100));
    expect(checkJumps(h, p(30, 50, 1050))).toEqual([]);
    expect(checkJumps(h, p(30, 50, 1120))).toEqual([expect.stringMatching(/^odometerKm decreased from 1120 km .* to 1100 km/)]);
    expect(checkJumps(h, p(59, 20, null))).toEqual(['socPct rose from 20 % to 80 % in 1.0 min, faster than 300 %/h']);
  });

  it('compares each metric with the nearest reading that has it', () => {
    const h = given(p(0, 20, 1000), p(50, null, 1010), p(55, 21, null));
    expect(checkJumps(h, p(60, null, 1005))).toEqual([expect.stringMatching(/decreased from 1010 km/)]);
    expect(checkJumps(h, p(60, 40, null))).toEqual([]);
    expect(checkJumps(h, p(60, 55, null))).toEqual(['socPct rose from 21 % to 55 % in 5.0 min, faster than 300 %/h']);
  });

  it('keeps the history sorted and bounded', () => {
    const h = given(...Array.from({ length: HistorySize + 5 }, (_, i) => p(HistorySize + 5 - i, 50, null)));
    expect(h).toHaveLength(HistorySize);
    expect(h.map((x) => x.readingAt)).toEqual([...h.map((x) => x.readingAt)].sort((a, b) => a - b));
    expect(remember(h, p(1000, null, null))).toBe(h);
  });
});
