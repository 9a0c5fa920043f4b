import * as E from 'fp-ts/Either';
import { requestHash } from './command-requests';
import { MAX_WAIT_S, parseWait } from './routes/commands';

describe('command requests', () => {
  test('the same body hashes the same whatever the order of its keys; another body does not', () => {
    const a = { action: 'Reset', payload: { type: 'Soft', extra: [1, { b: 2, a: 1 }] }, idempotencyKey: 'k' };
    const b = { idempotencyKey: 'k', payload: { extra: [1, { a: 1, b: 2 }], type: 'Soft' }, action: 'Reset' };
    expect(requestHash(a)).toBe(requestHash(b));
    expect(requestHash({ ...a, payload: { type: 'Hard', extra: [1, { b: 2, a: 1 }] } })).not.toBe(requestHash(a));
    expect(requestHash({ ...a, payload: { type: 'Soft', extra: [{ b: 2, a: 1 }, 1] } })).not.toBe(requestHash(a));
  });

  test('?wait is seconds, cut to the cap; anything else is refused', () => {
    expect(parseWait(null)).toEqual(E.right(0));
    expect(parseWait('2.5')).toEqual(E.right(2.5));
    expect(parseWait('3600')).toEqual(E.right(MAX_WAIT_S));
    expect(E.isLeft(parseWait('-1'))).toBe(true);
    expect(E.isLeft(parseWait('soon'))).toBe(true);
  });
});
