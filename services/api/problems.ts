import * as t from 'io-ts';

/** io-ts errors as one line each, `path.to.field: message`, for problem+json bodies. Unlike the generic formatter,
 *  the path leaves out the branch indexes of intersections and unions (they mean nothing to a caller), and an optional
 *  field (`X | null`) that fails reports why it isn't an X, not also that it isn't null. */
export const formatProblems = (errors: t.Errors): string[] => {
  const lines: { path: string; line: string; isNull: boolean }[] = errors.map((e) => {
    const keys: string[] = [];
    e.context.forEach((c, i) => {
      if (i === 0 || c.key === '') return;
      const parent = e.context[i - 1]!.type as t.Any & { _tag?: string };
      if (parent._tag === 'IntersectionType' || parent._tag === 'UnionType') return;
      keys.push(c.key);
    });
    const path = keys.join('.');
    const last = e.context[e.context.length - 1]?.type as (t.Any & { _tag?: string }) | undefined;
    const message = e.message ?? `expected ${last?.name ?? 'value'}, got ${JSON.stringify(e.value) ?? 'nothing'}`;
    return { path, line: path ? `${path}: ${message}` : message, isNull: last?._tag === 'NullType' };
  });
  const out: string[] = [];
  for (const l of lines) {
    if (l.isNull && lines.some((o) => o !== l && o.path === l.path && !o.isNull)) continue;
    if (!out.includes(l.line)) out.push(l.line);
  }
  return out;
};
