import * as E from 'fp-ts/Either';
import * as t from 'io-ts';
import { Batch, KafkaMessage } from 'kafkajs';
import { decodeWith } from '../../schemas/records';

/** kafkajs 2.2.4 drops a read-committed fetch's aborted records wrongly: it enters at most one aborted transaction of
 *  the broker's list per record it looks at, so when a fetch starts inside two or more aborted transactions (the open
 *  transactions of an instance killed mid-batch, aborted by the fence, on a partition that several producers write), the
 *  records of all but the first are handed out as if committed (test/streams/committed-records.test.ts reproduces it).
 *
 *  Here each transactional record is judged by its producer's next transaction marker in the same fetch (Kafka writes
 *  it after the producer's records of that transaction; markers are not filtered out of the raw records): ABORT drops
 *  it, COMMIT keeps it. A record whose marker is beyond the fetch keeps kafkajs's verdict, which is right unless the
 *  fetch started inside several aborted transactions whose markers are all beyond it. */

const bufferOrNull = (u: unknown): u is Buffer | null => u === null || Buffer.isBuffer(u);

/** A record as kafkajs decodes it (a KafkaMessage) with its record batch's producer and flags. */
export type RawRecord = KafkaMessage & { readonly isControlRecord: boolean; readonly batchContext: { readonly producerId: string; readonly inTransaction: boolean } };

const isRawRecord = (u: unknown): u is RawRecord => {
  if (typeof u !== 'object' || u === null) return false;
  const r = u as Record<string, unknown>;
  const ctx = r.batchContext as Record<string, unknown> | null | undefined;
  return (
    typeof r.offset === 'string' &&
    typeof r.timestamp === 'string' &&
    typeof r.isControlRecord === 'boolean' &&
    bufferOrNull(r.key) &&
    bufferOrNull(r.value) &&
    typeof ctx === 'object' &&
    ctx !== null &&
    typeof ctx.producerId === 'string' &&
    typeof ctx.inTransaction === 'boolean'
  );
};

const RawRecordCodec = new t.Type<RawRecord, RawRecord, unknown>('RawRecord', isRawRecord, (u, c) => (isRawRecord(u) ? t.success(u) : t.failure(u, c)), (r) => r);

/** The raw records of a kafkajs batch (its `messagesWithinOffset`: the records at or after the fetched offset, markers
 *  and aborted records included); Left when this kafkajs keeps no such list. */
export const rawRecordsOf = (batch: unknown): E.Either<string, readonly RawRecord[]> => decodeWith(t.readonlyArray(RawRecordCodec))((batch as { messagesWithinOffset?: unknown }).messagesWithinOffset);

type Marker = 'commit' | 'abort' | 'unknown';

/** A control record's key: version (int16), type (int16: 0 abort, 1 commit). */
const markerOf = (key: Buffer | null): Marker => {
  if (!key || key.length < 4) return 'unknown';
  const type = key.readInt16BE(2);
  return type === 0 ? 'abort' : type === 1 ? 'commit' : 'unknown';
};

/** The committed data records of a fetch, in offset order: each record of `raw` (every record of the fetch, markers
 *  included) judged by its producer's next marker in `raw`, or, when that is beyond the fetch, by `kept` (the offsets
 *  kafkajs kept). */
export const committedRecords = (raw: readonly RawRecord[], kept: ReadonlySet<string>): RawRecord[] => {
  const nextMarker = new Map<string, Marker>();
  const committed: RawRecord[] = [];
  // Backwards: at each record, nextMarker holds the marker its producer writes next.
  for (let i = raw.length - 1; i >= 0; i--) {
    const r = raw[i]!;
    if (r.isControlRecord) {
      nextMarker.set(r.batchContext.producerId, markerOf(r.key));
      continue;
    }
    const marker = r.batchContext.inTransaction ? nextMarker.get(r.batchContext.producerId) : undefined;
    if (marker === 'commit' || ((marker === undefined || marker === 'unknown') && kept.has(r.offset))) committed.push(r);
  }
  return committed.reverse();
};

/** The committed records of a fetched batch: judged by markers where the fetch holds them (committedRecords), else as
 *  kafkajs filtered them. */
export const committedMessagesOf = (batch: Batch): KafkaMessage[] =>
  E.match(
    () => batch.messages,
    (raw: readonly RawRecord[]) => committedRecords(raw, new Set(batch.messages.map((m) => m.offset))),
  )(rawRecordsOf(batch));
