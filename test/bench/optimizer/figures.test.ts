import { depotDay } from './depot';
import { costGapPct, DayOutcome, figuresOf, TOL_KWH } from './figures';
import { DayResult } from './simulate';

const day = depotDay(1, 3, 0.3); // vehicles v0, v1, v2
const result = (o: Partial<DayResult> & { short?: [number, number, number] }): DayResult => ({
  controller: 'optimizer',
  energyCost: 10,
  peakKw: 20,
  demandCharge: 300,
  totalCost: 310,
  deliveredKwh: 100,
  shortfallKwh: new Map((o.short ?? [0, 0, 0]).map((s, i) => [`v${i}`, s])),
  slotsOverLimit: 0,
  profilePeriods: NaN,
  toggles: 0,
  solveMs: [],
  loadKw: [],
  ...o,
});

describe('the figures of a controller over depot days', () => {
  it('counts a vehicle as feasible only when the offline optimum gets it to its SoC, within the tolerance', () => {
    const offline = result({ short: [0, TOL_KWH, 8] });
    const f = figuresOf('optimizer', [{ day, result: result({ short: [TOL_KWH + 0.01, 0, 9] }), offline }]);
    // v2 is short for the offline optimum too: not feasible. v0 is feasible and missed by 0.51 kWh.
    expect(f).toMatchObject({ vehicles: 3, reached: 1, feasible: 2, feasibleReached: 1, worstShortfallKwh: 9 });
  });

  it('sums costs, energy, toggles and slots over across days, averages the peak and pools the solve times sorted', () => {
    const offline = result({});
    const outcomes: DayOutcome[] = [
      { day, result: result({ totalCost: 100, energyCost: 40, demandCharge: 60, peakKw: 10, slotsOverLimit: 2, toggles: 3, solveMs: [30, 10] }), offline },
      { day, result: result({ totalCost: 200, energyCost: 50, demandCharge: 150, peakKw: 30, slotsOverLimit: 1, toggles: 4, solveMs: [20] }), offline },
    ];
    expect(figuresOf('optimizer', outcomes)).toMatchObject({ days: 2, totalCost: 300, energyCost: 90, demandCharge: 210, peakKw: 20, slotsOver: 3, toggles: 7, solveMs: [10, 20, 30], deliveredKwh: 200 });
  });

  it('gives the cost gap to the offline optimum in %, positive when dearer', () => {
    const f = (totalCost: number) => figuresOf('x', [{ day, result: result({ totalCost }), offline: result({}) }]);
    expect(costGapPct(f(103), f(100))).toBeCloseTo(3, 9);
    expect(costGapPct(f(97), f(100))).toBeCloseTo(-3, 9);
  });
});
