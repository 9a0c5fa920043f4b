import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { ProviderReading } from '../reading';

/** io-ts pieces the adapters share. */

/** ISO 8601 instant WITH a zone (`Z` or `±hh:mm` / `±hhmm`), decoded to epoch milliseconds. A local time without a
 *  zone is refused: it would be guessed, and a guessed reading time is worse than none. */
const isoPattern = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

export const parseInstant = (s: string): number | undefined => {
  const m = isoPattern.exec(s);
  if (!m) return undefined;
  const frac = m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '';
  const zone = m[3] === 'Z' ? 'Z' : m[3]!.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(`${m[1]}${frac}${zone}`);
  return Number.isFinite(ms) ? ms : undefined;
};

export const Instant = new t.Type<number, string, unknown>(
  'ISO 8601 time with zone',
  (u): u is number => typeof u === 'number',
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c);
    const ms = parseInstant(u);
    return ms === undefined ? t.failure(u, c) : t.success(ms);
  },
  (ms) => new Date(ms).toISOString(),
);

export const NonEmptyString = t.refinement(t.string, (s) => s.trim().length > 0 && s.length <= 200, 'non-empty string (at most 200 characters)');

export const FiniteNumber = t.refinement(t.number, Number.isFinite, 'number');

/** One provider item as the adapter saw it: a label for problem messages (`readings[3]`), the raw JSON of the item for
 *  the audit record, and either every problem of the item or the reading (null: nothing we use, e.g. only diagnostics
 *  we do not map). */
export interface AdapterItem {
  readonly label: string;
  readonly raw: unknown;
  readonly reading: E.Either<string[], ProviderReading | null>;
}

/** An adapter is a pure function from a decoded JSON body to items. Left: the body as a whole is not this shape. */
export interface Adapter {
  readonly shape: string;
  parse(body: unknown): E.Either<string[], AdapterItem[]>;
}

export const MaxItems = 1000;

/** `x.y: problem` lines prefixed with the item label. */
export const prefixed = (label: string, problems: readonly string[]): string[] => problems.map((p) => `${label}: ${p}`);

/** Optional in a provider payload: absent or null both mean "not reported". */
export const nullable = <A, O>(inner: t.Type<A, O, unknown>) =>
  new t.Type<A | null, O | null, unknown>(
    inner.name,
    (u): u is A | null => u === null || u === undefined || inner.is(u),
    (u, c) => (u === null || u === undefined ? t.success(null) : inner.validate(u, c)),
    (a) => (a === null ? null : inner.encode(a)),
  );

export const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u);
