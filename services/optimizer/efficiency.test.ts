import { defaultLearningParams, learnedEfficiency, observeSample, SessionSpan } from './efficiency';

const session = (capacityKwh: number, samples: [number, number][]): SessionSpan =>
  samples.reduce<SessionSpan | undefined>((span, [socPct, gridKwh]) => observeSample(span, capacityKwh, { socPct, gridKwh }), undefined)!;

describe('the charging efficiency learned from metered energy and SoC readings', () => {
  test('battery kWh per grid kWh, weighted by energy, from first to latest trusted reading of each session', () => {
    // 60 kWh battery: 20 % → 50 % is 18 kWh in the battery for 20 grid kWh; 100 kWh: 10 % → 40 % is 30 kWh for 34 kWh.
    const spans = [session(60, [[20, 0], [35, 10], [50, 20]]), session(100, [[10, 2], [40, 36]])];
    expect(learnedEfficiency(spans)).toBeCloseTo((18 + 30) / (20 + 34), 9);
  });

  test('nothing until enough: short sessions (SoC resolution) and too little energy in total are left out', () => {
    expect(learnedEfficiency([])).toBeNull();
    expect(learnedEfficiency([session(60, [[20, 0], [25, 3.5]])])).toBeNull(); // +5 points: below the 10-point minimum
    expect(learnedEfficiency([session(60, [[20, 0], [40, 13]])])).toBeNull(); // 13 kWh < 20 kWh behind the figure
    expect(learnedEfficiency([session(60, [[20, 0], [40, 13]]), session(60, [[20, 0], [40, 13]])])).toBeCloseTo(24 / 26, 9);
  });

  test('implausible data is clamped to the physical range, not learned as a loss figure', () => {
    expect(learnedEfficiency([session(100, [[10, 0], [90, 30]])])).toBe(defaultLearningParams.max);
    expect(learnedEfficiency([session(100, [[10, 0], [20, 40]])])).toBe(defaultLearningParams.min);
  });
});
