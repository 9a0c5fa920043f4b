import { batteryCareCaps, BatteryCareInput } from './battery-care';
import { T0 } from './fixtures';

const HOUR = 3600_000;
const input: BatteryCareInput = { batteryCapacityKwh: 100, socPct: 50, ceilingPct: 80, departAt: T0 + 8 * HOUR, requiredSocPct: 95, maxKw: 11, efficiency: 0.9, now: T0, slotMinutes: 15, slots: 40 };

/** What a plan does with cheap power early: charge at full power whenever the cap allows. SoC at each slot's end. */
const chargeEarly = (i: BatteryCareInput, capKwh: readonly number[]): number[] => {
  let e = (i.batteryCapacityKwh * i.socPct) / 100;
  return capKwh.map((c) => (100 * (e = Math.min(c, e + i.efficiency * i.maxKw * (i.slotMinutes / 60))) / i.batteryCapacityKwh));
};

describe('battery care: SoC ceiling until the departure needs more', () => {
  it('keeps SoC at the ceiling, then opens the climb to the departure’s need at half the full rate', () => {
    const care = batteryCareCaps(input);
    // 15 kWh above the ceiling at 0.9 × 11 × ½ = 4.95 kWh/h: the climb starts 3.03 h before the departure.
    expect(care.climbFrom).toBeCloseTo(T0 + 8 * HOUR - (15 / 4.95) * HOUR, -3);
    care.capSocPct.forEach((soc, t) => {
      const end = T0 + (t + 1) * 15 * 60_000;
      if (end <= care.climbFrom!) expect(soc).toBeCloseTo(80);
      else if (end < input.departAt) expect(soc).toBeGreaterThan(80);
    });
    expect(care.capSocPct[30]).toBeCloseTo(95 - 4.95 * 0.25); // the last slot before the departure
    expect(care.capSocPct.slice(1).every((s, t) => s >= care.capSocPct[t]!)).toBe(true);
  });

  it('charged as early as the caps allow: at the ceiling until the climb, ready at the departure', () => {
    const care = batteryCareCaps(input);
    const soc = chargeEarly(input, care.capKwh);
    const climbSlot = Math.floor((care.climbFrom! - T0) / (15 * 60_000));
    expect(Math.max(...soc.slice(0, climbSlot))).toBeCloseTo(80);
    expect(soc[4]).toBeGreaterThan(55); // below the ceiling nothing is held back
    expect(soc[31]).toBeGreaterThanOrEqual(95 - 1e-9);
    // Slots ending above 80 % before the departure: 13 with battery care (the climb), 20 without (80 % is reached after 3 h).
    const high = (path: number[]) => path.slice(0, 32).filter((x) => x > 80 + 1e-9).length;
    expect(high(soc)).toBe(13);
    expect(high(chargeEarly(input, new Array(40).fill(100)))).toBe(20);
  });

  it('a departure that needs no more than the ceiling: the ceiling throughout; none after the departure', () => {
    const care = batteryCareCaps({ ...input, requiredSocPct: 70 });
    expect(care.climbFrom).toBeNull();
    expect(care.capSocPct.slice(0, 31).every((s) => Math.abs(s - 80) < 1e-9)).toBe(true);
    expect(care.capSocPct.slice(31)).toEqual([100, 100, 100, 100, 100, 100, 100, 100, 100]);
  });

  it('a battery above the ceiling is not asked to fall; a ceiling of 100 % is no ceiling', () => {
    expect(batteryCareCaps({ ...input, socPct: 85 }).capSocPct[0]).toBeCloseTo(85);
    expect(batteryCareCaps({ ...input, ceilingPct: 100 }).capSocPct.every((s) => s === 100)).toBe(true);
  });
});
