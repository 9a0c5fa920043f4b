import * as E from 'fp-ts/Either';
import { adapters } from '.';
import { parseInstant } from './codecs';
import { KmPerMile } from './consumer-car';

const items = (shape: keyof typeof adapters, body: unknown) => {
  const r = adapters[shape].parse(body);
  if (E.isLeft(r)) throw new Error(r.left.join('; '));
  return r.right;
};

describe('adapters', () => {
  it('parses ISO 8601 instants only with a zone, any offset form, sub-millisecond digits truncated', () => {
    expect(parseInstant('2026-11-25T14:59:00+01:00')).toBe(Date.parse('2026-11-25T13:59:00Z'));
    expect(parseInstant('2026-11-25T14:59:00.123456+0100')).toBe(Date.parse('2026-11-25T13:59:00.123Z'));
    expect(parseInstant('2026-11-25T08:29-05:30')).toBe(Date.parse('2026-11-25T13:59:00Z'));
    expect(parseInstant('2026-11-25T13:59:00')).toBeUndefined();
    expect(parseInstant('2026-13-45T13:59:00Z')).toBeUndefined();
    expect(parseInstant('yesterday')).toBeUndefined();
  });

  it('voltstream: one reading or a batch, unknown fields refused', () => {
    const one = items('voltstream', { readingId: 'r1', vehicleRef: 'V', readingAt: '2026-11-25T13:59:00Z', socPct: 50, position: { lat: 1, lon: 2 } });
    expect(one).toHaveLength(1);
    expect(one[0]!.reading).toMatchObject(E.right({ providerVehicleId: 'V', providerReadingId: 'r1', socPct: 50, latitude: 1, longitude: 2, rangeKm: null }));
    const bad = items('voltstream', { readings: [{ readingId: '', vehicleRef: 'V', readingAt: 5, soc: 1 }] });
    expect(bad[0]!.label).toBe('readings[0]');
    expect(bad[0]!.reading).toEqual(
      E.left(['readingId: expected non-empty string (at most 200 characters), got ""', 'readingAt: expected ISO 8601 time with zone, got 5', 'soc: unknown field']),
    );
    expect(adapters.voltstream.parse([1, 2])).toEqual(E.left(['expected one reading object or { "readings": [...] }']));
    expect(adapters.voltstream.parse({ readings: Array.from({ length: 1001 }, () => ({})) })).toMatchObject(E.left([expect.stringContaining('at most 1000')]));
  });

  it('consumer-car: fraction to percent, miles to km, unit required with distances, other event types ignored', () => {
    const ev = (data: Record<string, unknown>, eventType = 'VEHICLE_STATE') => ({ eventId: 'e', eventType, vehicleId: 'c', data: { recordedAt: '2026-11-25T13:59:00Z', ...data } });
    const [m] = items('consumer-car', ev({ distanceUnit: 'miles', battery: { percentRemaining: 0.25, range: 100 }, odometer: { distance: 10 } }));
    expect(m!.reading).toMatchObject(E.right({ socPct: 25, rangeKm: 100 * KmPerMile, odometerKm: 10 * KmPerMile }));
    const [k] = items('consumer-car', ev({ distanceUnit: 'km', battery: { range: 100 } }));
    expect(k!.reading).toMatchObject(E.right({ rangeKm: 100, socPct: null }));
    const [u] = items('consumer-car', ev({ battery: { range: 100 } }));
    expect(u!.reading).toEqual(E.left(['data.distanceUnit: required with battery.range or odometer ("km" or "miles")']));
    const [x] = items('consumer-car', ev({ distanceUnit: 'furlongs' }));
    expect(x!.reading).toEqual(E.left(['data.distanceUnit: expected "km" | "miles", got "furlongs"']));
    const [ping] = items('consumer-car', { eventId: 'p', eventType: 'VERIFY', challenge: 'abc' });
    expect(ping!.reading).toEqual(E.right(null));
    const [s] = items('consumer-car', ev({ charge: { state: 'fully_charged', isPluggedIn: true } }));
    expect(s!.reading).toMatchObject(E.right({ chargingState: 'COMPLETE', pluggedIn: true }));
  });

  it('fleet-diagnostics: groups by device and instant, converts units, flags conflicts, ignores unknown diagnostics', () => {
    const rec = (device: string, diagnostic: string, dateTime: string, data: unknown) => ({ device: { id: device }, diagnostic: { id: diagnostic }, dateTime, data });
    const out = items('fleet-diagnostics', {
      records: [
        rec('A', 'DiagnosticOdometerId', '2026-11-25T14:00:00+01:00', 1_500),
        rec('A', 'DiagnosticChargingStateId', '2026-11-25T13:00:00Z', 3),
        rec('B', 'DiagnosticStateOfChargeId', '2026-11-25T13:00:00Z', 10),
        rec('B', 'DiagnosticStateOfChargeId', '2026-11-25T13:00:00Z', 11),
        rec('C', 'DiagnosticTirePressureId', '2026-11-25T13:00:00Z', 2),
        rec('D', 'DiagnosticStateOfChargeId', '2026-11-25T13:00:00', 2),
      ],
    });
    expect(out.map((i) => i.label)).toEqual([
      'records[5]',
      'records[0,1] (A at 2026-11-25T13:00:00.000Z)',
      'records[2,3] (B at 2026-11-25T13:00:00.000Z)',
      'records[4] (C at 2026-11-25T13:00:00.000Z)',
    ]);
    expect(out[0]!.reading).toEqual(E.left(['dateTime: expected ISO 8601 time with zone, got "2026-11-25T13:00:00"']));
    expect(out[1]!.reading).toMatchObject(E.right({ providerVehicleId: 'A', providerReadingId: 'A@2026-11-25T13:00:00.000Z', odometerKm: 1.5, chargingState: 'COMPLETE' }));
    expect(out[2]!.reading).toEqual(E.left(['DiagnosticStateOfChargeId: conflicting values 10 and 11 at the same instant']));
    expect(out[3]!.reading).toEqual(E.right(null));
    expect(adapters['fleet-diagnostics'].parse({ data: [] })).toEqual(E.left(['expected { "records": [...] }']));
  });
});
