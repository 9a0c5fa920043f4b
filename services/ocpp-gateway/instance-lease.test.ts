/** Which renewal failures put the lease in outage (PostgreSQL not there for anyone, maybe) rather than letting it run
 *  out (PostgreSQL answered: it is there for the other instances). */
import { unreachable } from './instance-lease';

const pgError = (code: string) => Object.assign(new Error('x'), { code });

test('no answer, a refused or lost connection and a server shutting down are PostgreSQL unreachable', () => {
  expect(unreachable(new Error('Query read timeout'))).toBe(true);
  expect(unreachable(new Error('timeout exceeded when trying to connect'))).toBe(true);
  expect(unreachable(new Error('Connection terminated unexpectedly'))).toBe(true);
  expect(unreachable(pgError('ECONNREFUSED'))).toBe(true);
  expect(unreachable(pgError('ECONNRESET'))).toBe(true);
  expect(unreachable(pgError('08006'))).toBe(true);
  expect(unreachable(pgError('57P01'))).toBe(true);
  expect(unreachable(pgError('57P03'))).toBe(true);
});

test('an SQL error is an answer', () => {
  expect(unreachable(pgError('42P01'))).toBe(false);
  expect(unreachable(pgError('23505'))).toBe(false);
  expect(unreachable(pgError('40001'))).toBe(false);
});
