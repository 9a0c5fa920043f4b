import { isIsoInstant } from './codecs';

/** Time-range queries with stable keyset cursors. A cursor is the sort key of the last row returned — time in
 *  microseconds (exact, as PostgreSQL keeps it) plus the row's id columns — base64url-encoded, opaque to callers.
 *  The next page starts strictly after it, so rows arriving meanwhile never shift or repeat a page. */
export interface RangeQuery {
  readonly from: Date;
  readonly to: Date;
  readonly limit: number;
  readonly after: readonly (string | number)[] | null;
}

export const defaultLimit = 500;
export const maxLimit = 5000;
const defaultSpanMs = 24 * 3600 * 1000;

export const encodeCursor = (key: readonly (string | number)[]): string => Buffer.from(JSON.stringify(key)).toString('base64url');

export const decodeCursor = (s: string, arity: number): (string | number)[] | undefined => {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(v) || v.length !== arity || !v.every((x) => typeof x === 'string' || typeof x === 'number')) return undefined;
    if (typeof v[0] !== 'string' || !/^-?\d+$/.test(v[0])) return undefined;
    return v as (string | number)[];
  } catch {
    return undefined;
  }
};

/** `from`, `to` (ISO 8601; default: the 24 hours up to now), `limit` (1..5000, default 500), `cursor`; every problem listed. */
export const parseRange = (url: URL, cursorArity: number, now = Date.now()): { ok: true; query: RangeQuery } | { ok: false; problems: string[] } => {
  const problems: string[] = [];
  const p = url.searchParams;
  const instant = (name: string, fallback: number): Date => {
    const v = p.get(name);
    if (v === null) return new Date(fallback);
    if (!isIsoInstant(v)) problems.push(`${name}: expected an ISO 8601 instant with offset, e.g. 2026-01-31T06:00:00Z, got ${JSON.stringify(v)}`);
    return new Date(Date.parse(v));
  };
  const to = instant('to', now);
  const from = instant('from', (Number.isNaN(to.getTime()) ? now : to.getTime()) - defaultSpanMs);
  if (!problems.length && from.getTime() >= to.getTime()) problems.push('from: must be before to');
  let limit = defaultLimit;
  const l = p.get('limit');
  if (l !== null) {
    if (!/^\d+$/.test(l) || Number(l) < 1 || Number(l) > maxLimit) problems.push(`limit: expected a whole number from 1 to ${maxLimit}, got ${JSON.stringify(l)}`);
    else limit = Number(l);
  }
  let after: (string | number)[] | null = null;
  const c = p.get('cursor');
  if (c !== null && c !== '') {
    const d = decodeCursor(c, cursorArity);
    if (!d) problems.push('cursor: not a cursor of this endpoint (pass nextCursor from the previous page unchanged)');
    else after = d;
  }
  return problems.length ? { ok: false, problems } : { ok: true, query: { from, to, limit, after } };
};

export const csvCell = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export const toCsv = (columns: readonly string[], rows: readonly Record<string, unknown>[]): string =>
  [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\r\n') + '\r\n';

export const wantsCsv = (accept: string | undefined, url: URL): boolean =>
  url.searchParams.get('format') === 'csv' || (accept ?? '').split(',').some((a) => a.split(';')[0]!.trim().toLowerCase() === 'text/csv');
