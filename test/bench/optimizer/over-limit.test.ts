import { charger } from '../../../services/optimizer/fixtures';
import { limitsExceeded, phaseAmps, SiteLimits } from './over-limit';

const chargers = new Map([
  ['a', charger('a', { maxPowerKw: 22, panelId: 'left' })],
  ['b', charger('b', { maxPowerKw: 22, panelId: 'right' })],
  ['c', charger('c', { maxPowerKw: 22, panelId: 'left-sub' })],
]);
const limits = (o: Partial<SiteLimits> = {}): SiteLimits => ({
  gridLimitKw: 50,
  panels: [{ panelId: 'left', limitKw: 30 }, { panelId: 'right', limitKw: 30 }, { panelId: 'left-sub', limitKw: 20, parentPanelId: 'left' }],
  chargers,
  ...o,
});

describe('the limits a slot went over', () => {
  it('none while the chargers and the building stay within every limit', () => {
    expect(limitsExceeded([{ chargePointId: 'a', kw: 10 }, { chargePointId: 'b', kw: 20 }], 19.9, limits())).toEqual([]);
  });

  it('the connection when the building and the chargers together pass its kW, though the chargers alone do not', () => {
    expect(limitsExceeded([{ chargePointId: 'a', kw: 10 }, { chargePointId: 'b', kw: 20 }], 20.1, limits())).toEqual(['connection kW']);
  });

  it('a panel carries the chargers of the panels fed from it', () => {
    // left: a 15 + c 16 = 31 > 30, though left-sub (c 16 ≤ 20) holds.
    expect(limitsExceeded([{ chargePointId: 'a', kw: 15 }, { chargePointId: 'c', kw: 16 }], 0, limits())).toEqual(['panel left kW']);
  });

  it('a one-phase vehicle puts all its current on one grid phase: over the connection A with the kW well within', () => {
    // 7 kW on one phase: 30.4 A on L1; the building's 6.9 kW adds 10 A to each phase.
    const draws = [{ chargePointId: 'a', kw: 7, acPhases: 1 }];
    const amps = phaseAmps(draws, chargers, 6.9);
    expect(amps[0]).toBeCloseTo(7000 / 230 + 10, 6);
    expect(amps[1]).toBeCloseTo(10, 6);
    expect(limitsExceeded(draws, 6.9, limits({ maxCurrentA: 40 }))).toEqual(['connection A']);
    expect(limitsExceeded(draws.map((d) => ({ ...d, acPhases: 3 })), 6.9, limits({ maxCurrentA: 40 }))).toEqual([]);
  });

  it("a panel's current counts its own chargers only, not the building", () => {
    const panels = [{ panelId: 'right', limitKw: 30, maxCurrentA: 16 }];
    expect(limitsExceeded([{ chargePointId: 'b', kw: 11 }], 30, limits({ panels, gridLimitKw: 100 }))).toEqual([]);
    expect(limitsExceeded([{ chargePointId: 'b', kw: 11.1 }], 0, limits({ panels, gridLimitKw: 100 }))).toEqual(['panel right A']);
  });
});
