import * as E from 'fp-ts/Either';
import { isIsoInstant } from './codecs';
import { SortKey } from './cursor';

/** Time-range queries with stable keyset cursors. A cursor (cursor.ts) carries the sort key of the last row returned —
 *  time in microseconds (exact, as PostgreSQL keeps it) plus the row's id columns — signed, opaque to callers.
 *  The next page starts strictly after it, so rows arriving meanwhile never shift or repeat a page. */
export interface RangeQuery {
  readonly from: Date;
  readonly to: Date;
  readonly limit: number;
  readonly after: SortKey | null;
}

export const defaultLimit = 500;
export const maxLimit = 5000;
const defaultSpanMs = 24 * 3600 * 1000;

/** `from`, `to` (ISO 8601; default: the 24 hours up to now), `limit` (1..5000, default 500), `cursor`; every problem listed. */
export const parseRange = (url: URL, readCursor: (cursor: string) => E.Either<string, SortKey>, now = Date.now()): { ok: true; query: RangeQuery } | { ok: false; problems: string[] } => {
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
  let after: SortKey | null = null;
  const c = p.get('cursor');
  if (c !== null && c !== '') {
    const d = readCursor(c);
    if (E.isLeft(d)) problems.push(d.left);
    else after = d.right;
  }
  return problems.length ? { ok: false, problems } : { ok: true, query: { from, to, limit, after } };
};

const numberLiteral = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A text cell a spreadsheet would run as a formula (OWASP "CSV injection": a leading = + - @, tab or CR) gets a
 *  leading single quote. Numbers stay numbers: a number, and text that is exactly a decimal number (PostgreSQL's
 *  bigint and numeric arrive as text), can't be a formula. */
export const csvCell = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  const safe = typeof v === 'string' && /^[=+\-@\t\r]/.test(s) && !numberLiteral.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

export const toCsv = (columns: readonly string[], rows: readonly Record<string, unknown>[]): string =>
  [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\r\n') + '\r\n';

export const wantsCsv = (accept: string | undefined, url: URL): boolean =>
  url.searchParams.get('format') === 'csv' || (accept ?? '').split(',').some((a) => a.split(';')[0]!.trim().toLowerCase() === 'text/csv');
