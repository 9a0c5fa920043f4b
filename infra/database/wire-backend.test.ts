import { authenticationOk, dataRows, errorResponse, firstError, parameterStatus, readyForQuery } from './wire-backend';

const dataRow = (...cols: (string | null)[]) => {
  const parts = cols.map((c) => {
    const len = Buffer.alloc(4);
    if (c === null) {
      len.writeInt32BE(-1);
      return len;
    }
    len.writeInt32BE(Buffer.byteLength(c));
    return Buffer.concat([len, Buffer.from(c)]);
  });
  const count = Buffer.alloc(2);
  count.writeInt16BE(cols.length);
  const body = Buffer.concat([count, ...parts]);
  const head = Buffer.from([0x44, 0, 0, 0, 0]);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};

test('the startup answer is written as PostgreSQL writes it', () => {
  expect(authenticationOk()).toEqual(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]));
  expect(parameterStatus('a', 'b')).toEqual(Buffer.from([0x53, 0, 0, 0, 8, 0x61, 0, 0x62, 0]));
  expect(readyForQuery('I')).toEqual(Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
});

test('rows and the first error are read back from an answer', () => {
  const answer = Buffer.concat([dataRow('search_path', 'a, public'), dataRow('.role', null), errorResponse({ severity: 'ERROR', code: '42501', message: 'permission denied' }), readyForQuery('I')]);
  expect(dataRows(answer)).toEqual([['search_path', 'a, public'], ['.role', null]]);
  expect(firstError(answer)).toEqual({ code: '42501', message: 'permission denied' });
  expect(firstError(readyForQuery('I'))).toBeUndefined();
});
