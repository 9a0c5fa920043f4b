import { closedStatement, parseMessage, queryText, scopeNames } from './statement-names';

const msg = (type: string, ...fields: (string | Buffer)[]) => {
  const body = Buffer.concat(fields.map((f) => (typeof f === 'string' ? Buffer.from(f) : f)));
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};
const noParams = Buffer.from([0, 0]);
const rest = Buffer.from([0, 0, 0, 0, 0, 0]);

test('named statements and portals get the session prefix in Parse, Bind, Describe, Execute and Close', () => {
  expect(scopeNames(msg('P', 'st\0', 'SELECT 1\0', noParams), '_s7_')).toEqual(msg('P', '_s7_st\0', 'SELECT 1\0', noParams));
  expect(scopeNames(msg('B', 'pt\0', 'st\0', rest), '_s7_')).toEqual(msg('B', '_s7_pt\0', '_s7_st\0', rest));
  expect(scopeNames(msg('B', '\0', 'st\0', rest), '_s7_')).toEqual(msg('B', '\0', '_s7_st\0', rest));
  expect(scopeNames(msg('D', 'S', 'st\0'), '_s7_')).toEqual(msg('D', 'S', '_s7_st\0'));
  expect(scopeNames(msg('C', 'P', 'pt\0'), '_s7_')).toEqual(msg('C', 'P', '_s7_pt\0'));
  expect(scopeNames(msg('E', 'pt\0', Buffer.alloc(4)), '_s7_')).toEqual(msg('E', '_s7_pt\0', Buffer.alloc(4)));
});

test('the unnamed statement and portal, and other messages, pass unchanged', () => {
  const parse = msg('P', '\0', 'SELECT 1\0', noParams);
  expect(scopeNames(parse, '_s1_')).toBe(parse);
  const bind = msg('B', '\0', '\0', rest);
  expect(scopeNames(bind, '_s1_')).toBe(bind);
  const q = msg('Q', 'SELECT 1\0');
  expect(scopeNames(q, '_s1_')).toBe(q);
});

test('names and texts are read from Parse, Close and Query', () => {
  expect(parseMessage(msg('P', 'st\0', 'SET x = 1\0', noParams))).toEqual({ name: 'st', query: 'SET x = 1' });
  expect(closedStatement(msg('C', 'S', 'st\0'))).toBe('st');
  expect(closedStatement(msg('C', 'P', 'pt\0'))).toBeUndefined();
  expect(queryText(msg('Q', 'SELECT 1\0'))).toBe('SELECT 1');
});
