import { createHmac, timingSafeEqual } from 'node:crypto';
import * as E from 'fp-ts/Either';

/** History cursors: the sort key of the last row returned (time in microseconds as a decimal string, then the row's
 *  id columns), signed with an HMAC over the endpoint and the key, so a cursor is valid only where it was issued and
 *  only as issued. A forged, edited or foreign cursor is refused before any of it reaches SQL. Format:
 *  `<base64url JSON>.<base64url MAC (128 bits)>`. */
export type SortKey = readonly (string | number)[];
export type KeyColumn = 'text' | 'int';

const macOf = (key: Buffer, scope: string, body: string): Buffer => createHmac('sha256', key).update(scope).update('\n').update(body).digest().subarray(0, 16);

export const signCursor = (key: Buffer, scope: string, sortKey: SortKey): string => {
  const body = Buffer.from(JSON.stringify(sortKey)).toString('base64url');
  return `${body}.${macOf(key, scope, body).toString('base64url')}`;
};

const int64 = /^-?\d{1,19}$/;
const maxMicros = 9_223_372_036_854_775_807n;

const validSortKey = (v: unknown, columns: readonly KeyColumn[]): v is SortKey => {
  if (!Array.isArray(v) || v.length !== 1 + columns.length) return false;
  const [t, ...ks] = v as unknown[];
  if (typeof t !== 'string' || !int64.test(t) || BigInt(t) > maxMicros || BigInt(t) < -maxMicros) return false;
  return columns.every((c, i) => (c === 'int' ? Number.isSafeInteger(ks[i]) && Math.abs(ks[i] as number) < 2 ** 31 : typeof ks[i] === 'string' && !(ks[i] as string).includes('\u0000')));
};

export const verifyCursor = (key: Buffer, scope: string, cursor: string, columns: readonly KeyColumn[]): E.Either<string, SortKey> => {
  const refused = E.left('cursor: not a cursor of this endpoint (pass nextCursor from the previous page unchanged)');
  const m = /^([A-Za-z0-9_-]{1,4096})\.([A-Za-z0-9_-]{22})$/.exec(cursor);
  if (!m) return refused;
  const given = Buffer.from(m[2]!, 'base64url');
  if (given.length !== 16 || !timingSafeEqual(given, macOf(key, scope, m[1]!))) return refused;
  try {
    const v = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as unknown;
    // Signed by this API, so this only fails for a cursor of an older layout.
    return validSortKey(v, columns) ? E.right(v) : refused;
  } catch {
    return refused;
  }
};
