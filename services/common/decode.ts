import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';

/** One readable line per io-ts failure: `path.to.field: expected X, got Y`. */
export const formatErrors = (errors: t.Errors): string[] =>
  errors.map((e) => {
    const path = e.context
      .map((c) => c.key)
      .filter((k) => k !== '')
      .join('.');
    if (e.message) return path ? `${path}: ${e.message}` : e.message;
    const expected = e.context[e.context.length - 1]?.type.name ?? 'value';
    return `${path || '(root)'}: expected ${expected}, got ${JSON.stringify(e.value) ?? 'undefined'}`;
  });

/** Decode at a boundary; the Left carries every problem, not just the first. */
export const decodeWith =
  <A, O>(codec: t.Type<A, O, unknown>) =>
  (input: unknown): E.Either<string[], A> =>
    pipe(codec.decode(input), E.mapLeft(formatErrors));

export const parseJson = (text: string): E.Either<string, unknown> =>
  E.tryCatch(
    () => JSON.parse(text) as unknown,
    (e) => `not JSON: ${(e as Error).message}`,
  );
