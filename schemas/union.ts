/** Avro unions of records travel wrapped: `{ "<full.name>": {...} }` (avsc's and every stock Avro library's JSON shape).
 *  The domain uses `{ type: "<Name>", ...fields }`; these two functions translate at the topic boundary. */
export const wrapUnion = (namespace: string, body: { readonly type: string }): Record<string, unknown> => {
  const { type, ...fields } = body as { type: string } & Record<string, unknown>;
  return { [`${namespace}.${type}`]: withNulls(fields) };
};

export const unwrapUnion = <T extends { type: string }>(namespace: string, wrapped: unknown): T => {
  const entries = Object.entries(wrapped as Record<string, unknown>);
  if (entries.length !== 1) throw new Error(`expected one union branch, got ${entries.length}`);
  const [name, fields] = entries[0]!;
  const type = name.startsWith(`${namespace}.`) ? name.slice(namespace.length + 1) : name;
  return { type, ...(fields as object) } as T;
};

/** Avro wants every optional field present; `undefined` becomes `null`. */
const withNulls = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === undefined ? null : v]));
