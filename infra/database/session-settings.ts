/** The per-session state that PGlite's one backend holds for whichever client session runs on it: the session user,
 *  the role set by SET ROLE, and the settings changed for the session (search_path above all: pools set it on
 *  connect). The session front saves the leaving session's state and puts the arriving one's in place. */
export interface SessionSettings {
  readonly user: string;
  /** `none`, or the role of SET ROLE */
  readonly role: string;
  /** name → value of each setting whose source is the session */
  readonly settings: Readonly<Record<string, string>>;
}

/** One row per setting changed for the session, plus the role and the session user (not listed by pg_settings). */
export const SNAPSHOT_SQL =
  `SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session'` +
  ` UNION ALL SELECT '.role', pg_catalog.current_setting('role') UNION ALL SELECT '.user', session_user::text`;

// Set per transaction, never restored across sessions.
const TRANSIENT = new Set(['transaction_isolation', 'transaction_read_only', 'transaction_deferrable']);

export const fromSnapshot = (rows: readonly (readonly (string | null)[])[]): SessionSettings => {
  let user = '';
  let role = 'none';
  const settings: Record<string, string> = {};
  for (const [name, value] of rows) {
    if (name === '.user') user = value ?? '';
    else if (name === '.role') role = value ?? 'none';
    else if (name && value !== null && value !== undefined && !TRANSIENT.has(name)) settings[name] = value;
  }
  return { user, role, settings };
};

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const quoteLiteral = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** The statements that turn PGlite's session from `current` into `target`, or undefined when they are the same.
 *  A setting `target` does not name goes back to `baseline` (what PGlite's own start left set for the session), or
 *  to its default. RESET ALL can't be used: PGlite's reset value of search_path is pg_catalog, not public. */
export const switchSql = (current: SessionSettings, target: SessionSettings, baseline: Readonly<Record<string, string>>): string | undefined => {
  const statements: string[] = [];
  let role = current.role;
  if (current.user !== target.user) {
    statements.push(`SET SESSION AUTHORIZATION ${quoteIdent(target.user)}`);
    role = 'none';
  }
  const assignments: string[] = [];
  for (const name of new Set([...Object.keys(current.settings), ...Object.keys(target.settings)])) {
    const want = target.settings[name] ?? baseline[name];
    if (want === current.settings[name]) continue;
    if (want === undefined) statements.push(`SET ${quoteIdent(name)} TO DEFAULT`);
    else assignments.push(`pg_catalog.set_config(${quoteLiteral(name)}, ${quoteLiteral(want)}, false)`);
  }
  if (assignments.length) statements.push(`SELECT ${assignments.join(', ')}`);
  if (role !== target.role) statements.push(target.role === 'none' ? 'SET ROLE NONE' : `SET ROLE ${quoteIdent(target.role)}`);
  return statements.length ? statements.join('; ') : undefined;
};

/** Whether SQL a client sent may have changed its session's settings, so that they must be read back (a read costs
 *  about a millisecond, too much for every switch). A SET, RESET or DISCARD that starts a statement (after a
 *  semicolon, a quote or dollar quote as in EXECUTE 'SET ...', or a PL/pgSQL BEGIN / THEN / ELSE / LOOP), or any call
 *  of set_config. SET LOCAL and SET TRANSACTION end with the transaction, which never outlives the session's hold on
 *  PGlite; UPDATE ... SET and CREATE FUNCTION ... SET change nothing for the session. Not seen: a setting changed by a
 *  function whose call names neither. */
export const mayChangeSettings = (sql: string): boolean => {
  if (/set_config/i.test(sql)) return true;
  const code = sql.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ');
  return /(^|[;'$]|\b(begin|then|else|loop)\b)\s*((set|reset)\b(?!\s+(local|transaction)\b)|discard\b)/i.test(code);
};
