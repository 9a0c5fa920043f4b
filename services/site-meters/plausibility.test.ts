import * as E from 'fp-ts/Either';
import { checkReading } from './plausibility';
import { Candidate } from './reading';
import { decodeSiteMeters, MeterConfig } from './sites';

const meter: MeterConfig = { siteId: 's', meterId: 'grid', role: 'connection', panelId: null, maxKw: 500, maxA: 800, modbus: null };
const now = Date.UTC(2026, 11, 7, 8);
const reading = (c: Partial<Candidate> = {}): Candidate => ({ meterId: 'grid', measuredAt: now - 1000, importKw: 100, l1A: null, l2A: null, l3A: null, voltageV: null, ...c });
const codes = (c: Partial<Candidate>) => checkReading(meter, reading(c), now).map((p) => p.code);

describe('site meter plausibility', () => {
  it('takes a reading within the meter’s bounds, export included', () => {
    expect(checkReading(meter, reading({ importKw: -120, l1A: 180, l2A: 175, l3A: 190, voltageV: 231 }), now)).toEqual([]);
  });

  it('refuses values beyond the meter, out-of-range currents and voltages, and power the currents cannot carry', () => {
    expect(codes({ importKw: 501 })).toEqual(['invalid_value']);
    expect(codes({ importKw: NaN })).toEqual(['invalid_value']);
    expect(codes({ l2A: -1, l3A: 801 })).toEqual(['invalid_value', 'invalid_value']);
    expect(codes({ voltageV: 400 })).toEqual(['invalid_value']);
    // 230 V × 300 A = 69 kVA: 100 kW cannot flow.
    expect(codes({ importKw: 100, l1A: 100, l2A: 100, l3A: 100, voltageV: 230 })).toEqual(['inconsistent']);
    expect(codes({ importKw: 72, l1A: 100, l2A: 100, l3A: 100, voltageV: 230 })).toEqual([]);
  });

  it('refuses times too far ahead of our clock or too old', () => {
    expect(codes({ measuredAt: now + 6 * 60_000 })).toEqual(['future_timestamp']);
    expect(codes({ measuredAt: now + 4 * 60_000 })).toEqual([]);
    expect(codes({ measuredAt: now - 8 * 24 * 3600_000 })).toEqual(['stale_timestamp']);
  });
});

describe('site meters file', () => {
  it('fills defaults and refuses what a codec cannot see', () => {
    const ok = decodeSiteMeters({ sites: { d: { meters: { g: { role: 'connection', modbus: { host: 'm', registers: [{ quantity: 'importKw', address: 3, type: 'float32' }] } } } } } });
    expect(E.isRight(ok) && ok.right.sites.get('d')!.meters.get('g')).toMatchObject({ maxKw: 10_000, modbus: { port: 502, unitId: 1, registerKind: 'holding', registers: [{ wordOrder: 'big', scale: 1 }] } });
    expect(ok._tag === 'Right' && ok.right.modbus).toEqual({ intervalMs: 5000, timeoutMs: 2000 });
    const bad = decodeSiteMeters({
      sites: { d: { meters: { a: { role: 'connection' }, b: { role: 'connection', panelId: 'p' }, c: { role: 'submeter', modbus: { host: 'm', registers: [{ quantity: 'l1A', address: 0, type: 'int16' }] } } } } },
    });
    expect(bad).toEqual(
      E.left(['sites.d: more than one connection meter', 'sites.d.meters.c.modbus.registers: importKw is not mapped', 'sites.d.meters.b: a connection meter has no panelId']),
    );
  });
});
