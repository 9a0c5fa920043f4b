import * as O from 'fp-ts/Option';

/** Why the database refused a batch, when the refusal is about the data rather than the database: applying the same
 *  records again would fail again, so the sink sets the offending record aside instead of retrying it forever.
 *  Anything else (connection lost 08, shutdown 57, out of resources 53, a missing table 42 ...) is retried as before:
 *  setting records aside for those would empty the projections into the dead-letter topic during an outage. */
export interface DataFault {
  /** Low-cardinality class, the metric's label. */
  readonly reasonClass: string;
  /** The database's message with its SQLSTATE, for people. */
  readonly reason: string;
}

/** SQLSTATE classes (first two characters) and single codes that depend on the rows written. */
const dataClasses: Readonly<Record<string, string>> = {
  '21': 'cardinality-violation',
  '22': 'data-exception',
  '23': 'constraint-violation',
};
/** 54000: a value too large for an index row (e.g. a charger-supplied id of many kilobytes in a key). */
const dataCodes: Readonly<Record<string, string>> = { '54000': 'program-limit' };

/** A record that cannot become projection input at all (its content does not decode to the domain type). */
export class UnapplicableRecord extends Error {
  readonly retriable = false;
}

const sqlState = (e: unknown): string | undefined => {
  if (typeof e !== 'object' || e === null || !('code' in e)) return undefined;
  const code = (e as { code: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

export const dataFault = (e: unknown): O.Option<DataFault> => {
  if (e instanceof UnapplicableRecord) return O.some({ reasonClass: 'unapplicable', reason: e.message });
  const code = sqlState(e);
  if (code === undefined) return O.none;
  const reasonClass = dataCodes[code] ?? dataClasses[code.slice(0, 2)];
  return reasonClass === undefined ? O.none : O.some({ reasonClass, reason: `${(e as Error).message} (SQLSTATE ${code})` });
};
