import { checkValues, emptyValues, MaxFutureMs, ProviderReading, readingIdOf } from './reading';

const r = (over: Partial<ProviderReading> = {}): ProviderReading => ({ ...emptyValues, providerVehicleId: 'v', providerReadingId: 'x', readingAt: 1_000_000, ...over });

describe('normalized reading', () => {
  it('derives a deterministic UUIDv8 reading id from provider and provider reading id', () => {
    const a = readingIdOf('voltstream', 'r-1');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(readingIdOf('voltstream', 'r-1')).toBe(a);
    expect(readingIdOf('fleet-demo', 'r-1')).not.toBe(a);
    expect(readingIdOf('a', 'b\0c')).not.toBe(readingIdOf('a\0b', 'c'));
  });

  it('lists every value problem with its reason', () => {
    expect(checkValues(r({ socPct: 100, rangeKm: 0, latitude: -90, longitude: 180 }), 1_000_000)).toEqual([]);
    const problems = checkValues(r({ socPct: -0.1, rangeKm: -1, longitude: 181, batteryCapacityKwh: 0, readingAt: 1_000_000 + MaxFutureMs + 1 }), 1_000_000);
    expect(problems.map((p) => p.code)).toEqual(['soc_out_of_range', 'invalid_value', 'invalid_value', 'invalid_value', 'future_timestamp']);
    expect(problems[0]!.message).toBe('socPct: expected percent between 0 and 100, got -0.1');
    expect(checkValues(r({ readingAt: 1_000_000 + MaxFutureMs }), 1_000_000)).toEqual([]);
    expect(checkValues(r({ socPct: NaN }), 1_000_000).map((p) => p.code)).toEqual(['soc_out_of_range']);
  });
});
