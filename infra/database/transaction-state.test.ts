import { afterAnswer, holdsDatabase, lastReadyStatus } from './transaction-state';
import { readyForQuery } from './wire-backend';

const commandComplete = (tag: string) => {
  const body = Buffer.from(`${tag}\0`);
  const head = Buffer.from([0x43, 0, 0, 0, 0]);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};
const parseComplete = Buffer.from([0x31, 0, 0, 0, 4]);

test('the last ReadyForQuery of an answer gives the status', () => {
  expect(lastReadyStatus(Buffer.concat([commandComplete('BEGIN'), readyForQuery('T')]))).toBe('T');
  expect(lastReadyStatus(Buffer.concat([readyForQuery('T'), commandComplete('COMMIT'), readyForQuery('I')]))).toBe('I');
  expect(lastReadyStatus(parseComplete)).toBeUndefined();
});

test('a session keeps PGlite through a transaction and an unfinished extended exchange, and frees it when idle', () => {
  expect(afterAnswer('idle', Buffer.concat([commandComplete('BEGIN'), readyForQuery('T')]))).toBe('in-transaction');
  expect(afterAnswer('in-transaction', readyForQuery('E'))).toBe('in-transaction');
  expect(afterAnswer('idle', parseComplete)).toBe('mid-exchange');
  expect(afterAnswer('in-transaction', parseComplete)).toBe('in-transaction');
  expect(afterAnswer('mid-exchange', readyForQuery('I'))).toBe('idle');
  expect(holdsDatabase('idle')).toBe(false);
  expect(holdsDatabase('mid-exchange')).toBe(true);
  expect(holdsDatabase('in-transaction')).toBe(true);
});

test('a body byte that looks like Z inside a row is not taken for ReadyForQuery', () => {
  const row = Buffer.from([0x44, 0, 0, 0, 11, 0, 1, 0, 0, 0, 1, 0x5a]);
  expect(lastReadyStatus(Buffer.concat([row, readyForQuery('T')]))).toBe('T');
  expect(lastReadyStatus(row)).toBeUndefined();
});
