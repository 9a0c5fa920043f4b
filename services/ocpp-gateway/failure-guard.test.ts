import { createFailureGuard } from './failure-guard';

const limits = { perSource: 3, perCharger: 2, windowMs: 60_000 };

describe('failure guard', () => {
  test('given a source under its limit, then it may try; at the limit, it is refused until its window ends', () => {
    const g = createFailureGuard(limits);
    for (let i = 0; i < 3; i++) {
      expect(g.blockedFor('10.0.0.1', `cp${i}`, 1000)).toBeUndefined();
      g.failed('10.0.0.1', `cp${i}`, 1000);
    }
    expect(g.blockedFor('10.0.0.1', 'cp9', 31_000)).toBe(30);
    expect(g.blockedFor('10.0.0.2', 'cp9', 31_000)).toBeUndefined();
    expect(g.blockedFor('10.0.0.1', 'cp9', 61_000)).toBeUndefined();
  });

  test('given failures for one id from many sources, then the id is refused, other ids are not', () => {
    const g = createFailureGuard(limits);
    g.failed('a', 'CP1', 0);
    g.failed('b', 'CP1', 0);
    expect(g.blockedFor('c', 'CP1', 10_000)).toBe(50);
    expect(g.blockedFor('c', 'CP2', 10_000)).toBeUndefined();
  });

  test('given a flood of one reason from one source, then a few audit records per window, the next saying how many it stood for', () => {
    const g = createFailureGuard({ ...limits, auditPerWindow: 3 });
    const decisions = Array.from({ length: 1000 }, (_, i) => g.audit('10.0.0.1', '401', i));
    expect(decisions.filter((d) => d.record)).toHaveLength(3);
    expect(g.audit('10.0.0.1', '404', 1000).record).toBe(true);
    expect(g.audit('10.0.0.1', '401', 60_000)).toEqual({ record: true, suppressed: 997 });
  });

  test('given more keys than it keeps, then the oldest windows are dropped and memory stays bounded', () => {
    const g = createFailureGuard({ ...limits, maxKeys: 10 });
    for (let i = 0; i < 1000; i++) g.failed(`s${i}`, `cp${i}`, 0);
    g.failed('s0', 'cp0', 0);
    expect(g.blockedFor('s999', 'cp999', 1)).toBeUndefined();
  });
});
