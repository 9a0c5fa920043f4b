import * as E from 'fp-ts/Either';
import { MaxBatch, pushItems } from './reading';

describe('site meter push body', () => {
  it('takes one reading or a batch, times with Z or an offset, optional phases', () => {
    const one = pushItems({ meterId: 'grid', measuredAt: '2026-12-07T09:00:00+01:00', importKw: 12.5, l1A: null });
    expect(one).toEqual(E.right([{ label: 'reading', raw: expect.anything(), candidate: E.right({ meterId: 'grid', measuredAt: Date.UTC(2026, 11, 7, 8), importKw: 12.5, l1A: null, l2A: null, l3A: null, voltageV: null }) }]));
    const batch = pushItems({ readings: [{ meterId: 'a', measuredAt: '2026-12-07T08:00:00Z', importKw: 1 }, { meterId: 'b' }] });
    expect(E.isRight(batch) && batch.right.map((i) => [i.label, i.candidate._tag])).toEqual([
      ['readings[0]', 'Right'],
      ['readings[1]', 'Left'],
    ]);
  });

  it('refuses local times without an offset, unknown fields, and bodies of neither shape', () => {
    const local = pushItems({ meterId: 'grid', measuredAt: '2026-12-07T09:00:00', importKw: 1, phase: 3 });
    expect(E.isRight(local) && local.right[0]!.candidate).toEqual(E.left(['measuredAt: expected ISO 8601 time with Z or an offset, got "2026-12-07T09:00:00"', 'phase: unknown field']));
    expect(pushItems({ readings: [] })).toEqual(E.left(['readings: empty']));
    expect(pushItems({ readings: new Array(MaxBatch + 1).fill({}) })).toEqual(E.left([`readings: ${MaxBatch + 1} items, at most ${MaxBatch}`]));
    expect(pushItems('grid')).toEqual(E.left(['(root): expected a reading object or { "readings": [...] }']));
  });
});
