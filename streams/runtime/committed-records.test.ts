import * as E from 'fp-ts/Either';
import { committedRecords, RawRecord, rawRecordsOf } from './committed-records';

const ABORT = Buffer.from([0, 0, 0, 0]);
const COMMIT = Buffer.from([0, 0, 0, 1]);

const record = (offset: number, producerId: string, inTransaction = true): RawRecord => ({
  offset: String(offset),
  key: Buffer.from(`k${offset}`),
  value: Buffer.from(`v${offset}`),
  timestamp: '0',
  attributes: 0,
  headers: {},
  isControlRecord: false,
  batchContext: { producerId, inTransaction },
});
const marker = (offset: number, producerId: string, key: Buffer): RawRecord => ({ ...record(offset, producerId), key, value: Buffer.alloc(6), isControlRecord: true });
const offsets = (rs: readonly RawRecord[]) => rs.map((r) => Number(r.offset));

describe('committedRecords', () => {
  // A fetch from offset 10 inside two aborted transactions (producers 1 and 2, killed mid-batch and aborted by the
  // fence) and a committed one (producer 3): what kafkajs 2.2.4 hands out for it keeps producer 2's first record.
  const fetch = [record(10, '1'), record(11, '2'), record(12, '3'), marker(13, '1', ABORT), record(14, '2'), marker(15, '2', ABORT), marker(16, '3', COMMIT), record(17, '4', false)];
  const kafkajsKept = new Set(['11', '12', '17']);

  it('given records whose markers are in the fetch, keeps the committed ones and drops the aborted ones, whatever kafkajs kept', () => {
    expect(offsets(committedRecords(fetch, kafkajsKept))).toEqual([12, 17]);
  });

  it('keeps a committed record kafkajs dropped, and records outside transactions as kafkajs kept them', () => {
    expect(offsets(committedRecords(fetch, new Set(['17'])))).toEqual([12, 17]);
    expect(offsets(committedRecords([record(1, '9', false), record(2, '9', false)], new Set(['2'])))).toEqual([2]);
  });

  it("takes kafkajs's verdict for a record whose marker is beyond the fetch, and for a marker it cannot read", () => {
    const cut = [record(20, '1'), record(21, '2'), marker(22, '2', COMMIT), record(23, '5'), marker(24, '5', Buffer.from([0]))];
    expect(offsets(committedRecords(cut, new Set(['20', '21'])))).toEqual([20, 21]);
    expect(offsets(committedRecords(cut, new Set(['21', '23'])))).toEqual([21, 23]);
  });

  it("judges a producer's record by its next marker only: an aborted transaction, then a committed one", () => {
    const two = [record(30, '1'), marker(31, '1', ABORT), record(32, '1'), marker(33, '1', COMMIT)];
    expect(offsets(committedRecords(two, new Set(['30', '32'])))).toEqual([32]);
  });

  it('reads the raw records of a kafkajs batch, and says so when a batch has none', () => {
    expect(rawRecordsOf({ messagesWithinOffset: fetch })).toEqual(E.right(fetch));
    expect(E.isLeft(rawRecordsOf({ messages: [] }))).toBe(true);
    expect(E.isLeft(rawRecordsOf({ messagesWithinOffset: [{ offset: 1 }] }))).toBe(true);
  });
});
