import { buildingLoadBySlot } from './building-load';

const t0 = Date.UTC(2026, 11, 7, 8, 0);
const min = 60_000;

describe('building load = connection meter − chargers, per 15-minute slot', () => {
  it('subtracts the mean power of each charger from the mean connection import of the slot', () => {
    const connection = [
      { at: t0, kw: 100 },
      { at: t0 + 5 * min, kw: 120 },
      { at: t0 + 15 * min, kw: 80 },
    ];
    const chargers = [
      [
        { at: t0 + min, kw: 20 },
        { at: t0 + 6 * min, kw: 40 },
      ],
      [{ at: t0 + 2 * min, kw: 11 }],
    ];
    expect(buildingLoadBySlot(connection, chargers)).toEqual([
      { at: t0, kw: 110 - 30 - 11 },
      { at: t0 + 15 * min, kw: 80 },
    ]);
  });

  it('gives no building load for a slot without a connection reading, and keeps export as negative load', () => {
    expect(buildingLoadBySlot([{ at: t0 + 16 * min, kw: 5 }], [[{ at: t0, kw: 50 }, { at: t0 + 16 * min, kw: 15 }]])).toEqual([{ at: t0 + 15 * min, kw: -10 }]);
  });
});
