import * as O from 'fp-ts/Option';
import { dataFault, UnapplicableRecord } from './apply-errors';

/** pg's DatabaseError carries the SQLSTATE in `code`; node's socket errors carry E... codes. */
const pgError = (code: string, message = 'refused') => Object.assign(new Error(message), { code });

test("refusals of the data are faults of the record: it is set aside", () => {
  for (const [code, reasonClass] of [
    ['22021', 'data-exception'], // invalid byte sequence (U+0000)
    ['22008', 'data-exception'], // timestamp out of range
    ['23505', 'constraint-violation'],
    ['23502', 'constraint-violation'],
    ['21000', 'cardinality-violation'],
    ['54000', 'program-limit'], // index row too large
  ] as const) {
    expect(dataFault(pgError(code, 'boom'))).toEqual(O.some({ reasonClass, reason: `boom (SQLSTATE ${code})` }));
  }
  expect(dataFault(new UnapplicableRecord('charging.events record does not decode: x'))).toEqual(O.some({ reasonClass: 'unapplicable', reason: 'charging.events record does not decode: x' }));
});

test('losing the database, its shutdown, missing resources or tables, and plain errors are retried, never set aside', () => {
  for (const code of ['08006', '08003', '57P01', '57014', '53300', '53100', '40001', '40P01', '42P01', '42703', '54001', 'XX000', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE']) {
    expect(dataFault(pgError(code))).toEqual(O.none);
  }
  expect(dataFault(new TypeError('x is undefined'))).toEqual(O.none);
  expect(dataFault('not an error')).toEqual(O.none);
});
