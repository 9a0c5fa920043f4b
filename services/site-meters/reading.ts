import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { formatErrors } from '../common/decode';
import { readingIdOf } from '../telematics-ingest/reading';
import { MeterSource, SiteMeterReading } from '../../schemas/site-meter-record';
import { MeterConfig } from './sites';

/** A reading before it is judged: what a push item or a Modbus poll says about one meter at one instant. */
export interface Candidate {
  readonly meterId: string;
  readonly measuredAt: number;
  readonly importKw: number;
  readonly l1A: number | null;
  readonly l2A: number | null;
  readonly l3A: number | null;
  readonly voltageV: number | null;
}

/** The push body: one reading or `{ "readings": [...] }` (at most MaxBatch). Unknown fields are refused.
 *  `{ "meterId": "grid", "measuredAt": "2026-12-07T08:00:00Z", "importKw": 412.5, "l1A": 600, "l2A": 590,
 *     "l3A": 610, "voltageV": 231 }`; measuredAt ISO 8601 with `Z` or an offset; the currents and voltage may be
 *  absent or null. Role and panel come from the site's meter configuration, never from the sender. */
export const MaxBatch = 1000;

const IsoTime = new t.Type<number, string, unknown>(
  'ISO 8601 time with Z or an offset',
  (u): u is number => typeof u === 'number',
  (u, c) => {
    if (typeof u !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)$/.test(u)) return t.failure(u, c);
    const ms = Date.parse(u);
    return Number.isFinite(ms) ? t.success(ms) : t.failure(u, c);
  },
  (n) => new Date(n).toISOString(),
);
const NullableNumber = t.union([t.number, t.null, t.undefined], 'number or null');
const fields = { required: { meterId: t.string, measuredAt: IsoTime, importKw: t.number }, optional: { l1A: NullableNumber, l2A: NullableNumber, l3A: NullableNumber, voltageV: NullableNumber } };
const known = new Set([...Object.keys(fields.required), ...Object.keys(fields.optional)]);
// One t.type (absent = undefined) rather than an intersection, so problems name the field without a branch index.
const PushItemCodec = t.type({ ...fields.required, ...fields.optional });

export interface PushItem {
  readonly label: string;
  readonly raw: unknown;
  readonly candidate: E.Either<string[], Candidate>;
}

const item = (raw: unknown, label: string): PushItem => {
  const extra = raw && typeof raw === 'object' && !Array.isArray(raw) ? Object.keys(raw).filter((k) => !known.has(k)) : [];
  const decoded = pipe(
    PushItemCodec.decode(raw),
    E.mapLeft(formatErrors),
    E.map((r) => ({ meterId: r.meterId, measuredAt: r.measuredAt, importKw: r.importKw, l1A: r.l1A ?? null, l2A: r.l2A ?? null, l3A: r.l3A ?? null, voltageV: r.voltageV ?? null })),
  );
  const unknownFields = extra.map((k) => `${k}: unknown field`);
  return { label, raw, candidate: unknownFields.length ? E.left([...(E.isLeft(decoded) ? decoded.left : []), ...unknownFields]) : decoded };
};

/** The items of a push body, each decoded on its own (a batch is judged per item); Left when the body as a whole is
 *  not one of the two shapes. */
export const pushItems = (body: unknown): E.Either<string[], PushItem[]> => {
  if (body && typeof body === 'object' && !Array.isArray(body) && 'readings' in body) {
    const list = (body as { readings: unknown }).readings;
    if (!Array.isArray(list)) return E.left(['readings: expected an array']);
    if (list.length === 0) return E.left(['readings: empty']);
    if (list.length > MaxBatch) return E.left([`readings: ${list.length} items, at most ${MaxBatch}`]);
    const extra = Object.keys(body).filter((k) => k !== 'readings');
    if (extra.length) return E.left(extra.map((k) => `${k}: unknown field`));
    return E.right(list.map((r, i) => item(r, `readings[${i}]`)));
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return E.left(['(root): expected a reading object or { "readings": [...] }']);
  return E.right([item(body, 'reading')]);
};

/** Same meter and same measuring instant: the same id (UUIDv8 from SHA-256), so a re-sent reading is a duplicate. */
export const meterReadingId = (siteId: string, meterId: string, measuredAt: number): string => readingIdOf(`site-meter:${siteId}`, `${meterId}@${measuredAt}`);

export const toRecord = (meter: MeterConfig, c: Candidate, receivedAt: number, source: MeterSource): SiteMeterReading => ({
  readingId: meterReadingId(meter.siteId, meter.meterId, c.measuredAt),
  siteId: meter.siteId,
  meterId: meter.meterId,
  role: meter.role,
  panelId: meter.panelId,
  measuredAt: c.measuredAt,
  receivedAt,
  importKw: c.importKw,
  l1A: c.l1A,
  l2A: c.l2A,
  l3A: c.l3A,
  voltageV: c.voltageV,
  source,
});
