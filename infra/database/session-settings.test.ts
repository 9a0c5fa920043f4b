import { fromSnapshot, mayChangeSettings, SessionSettings, switchSql } from './session-settings';

const state = (user: string, settings: Record<string, string> = {}, role = 'none'): SessionSettings => ({ user, role, settings });
const baseline = { search_path: 'public', client_min_messages: 'notice' };

test('a snapshot reads the settings, the role and the session user', () => {
  expect(fromSnapshot([['search_path', 'a, public'], ['transaction_isolation', 'serializable'], ['.role', 'none'], ['.user', 'alice']])).toEqual(state('alice', { search_path: 'a, public' }));
});

test('nothing to do between two sessions of the same user and settings', () => {
  expect(switchSql(state('postgres', baseline), state('postgres', { search_path: 'public' }), baseline)).toBeUndefined();
});

test('a different user is put in place first; settings the target does not name go back to the baseline or the default', () => {
  const sql = switchSql(state('postgres', { ...baseline, search_path: 'a, public', work_mem: '8192' }), state("o'neil", { application_name: 'psql' }), baseline);
  expect(sql).toBe(
    `SET SESSION AUTHORIZATION "o'neil"; SET "work_mem" TO DEFAULT; ` +
      `SELECT pg_catalog.set_config('search_path', 'public', false), pg_catalog.set_config('application_name', 'psql', false)`,
  );
});

test('a role set by SET ROLE comes back after the authorization, which resets it', () => {
  expect(switchSql(state('postgres', {}, 'ana'), state('postgres', {}, 'ana'), {})).toBeUndefined();
  expect(switchSql(state('postgres', {}, 'ana'), state('bob', {}, 'ana'), {})).toBe('SET SESSION AUTHORIZATION "bob"; SET ROLE "ana"');
  expect(switchSql(state('bob', {}, 'ana'), state('bob'), {})).toBe('SET ROLE NONE');
});

test('SQL that may change settings is told from SQL that cannot', () => {
  const changing = [
    'SET search_path TO x', '  reset all', 'SELECT set_config($1, $2, false)', 'DISCARD ALL', 'BEGIN; SET work_mem = 1', '-- why\nSET x = 1',
    '/* a */ SET ROLE ana', `DO $$ BEGIN EXECUTE 'SET search_path TO x'; END $$`, 'DO $$ BEGIN SET search_path TO x; END $$', 'SELECT 1;RESET search_path',
  ];
  for (const sql of changing) expect([sql, mayChangeSettings(sql)]).toEqual([sql, true]);
  const harmless = [
    'SELECT 1', 'BEGIN; SET LOCAL synchronous_commit TO off', 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'INSERT INTO settings VALUES (1)',
    'UPDATE t SET x = 1', 'INSERT INTO kv VALUES ($1, 1) ON CONFLICT (k) DO UPDATE SET v = kv.v + 1', `CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = x AS 'SELECT 1'`,
  ];
  for (const sql of harmless) expect([sql, mayChangeSettings(sql)]).toEqual([sql, false]);
});
