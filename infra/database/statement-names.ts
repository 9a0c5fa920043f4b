/** Named prepared statements and portals live in PGlite's one backend, shared by every client session. Each session's
 *  names get the session's own prefix on the way in, so two clients that both prepare "s1" don't collide and none
 *  runs another's statement. (pg in this repository prepares none: no query passes `name`. JDBC, psycopg and
 *  others do.) SQL-level PREPARE / EXECUTE are not renamed. */

const cstringEnd = (b: Buffer, from: number): number => {
  const end = b.indexOf(0, from);
  if (end < 0) throw new Error('protocol message without its string terminator');
  return end;
};

const withBody = (type: number, body: Buffer): Buffer => {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};

/** Prefixes the name at `at` in the message body (the empty name, the unnamed statement or portal, is left as is). */
const renameAt = (body: Buffer, at: number, prefix: string): { body: Buffer; next: number } => {
  const end = cstringEnd(body, at);
  if (end === at) return { body, next: end + 1 };
  const renamed = Buffer.concat([body.subarray(0, at), Buffer.from(prefix, 'utf8'), body.subarray(at)]);
  return { body: renamed, next: end + 1 + Buffer.byteLength(prefix) };
};

/** The message with its statement and portal names prefixed; other messages unchanged. */
export const scopeNames = (message: Buffer, prefix: string): Buffer => {
  const type = String.fromCharCode(message[0]!);
  const original = message.subarray(5);
  let body = original;
  switch (type) {
    case 'P': // Parse: statement name, query, ...
    case 'E': // Execute: portal name, row limit
      body = renameAt(body, 0, prefix).body;
      break;
    case 'B': {
      // Bind: portal name, statement name, ...
      const portal = renameAt(body, 0, prefix);
      body = renameAt(portal.body, portal.next, prefix).body;
      break;
    }
    case 'D': // Describe and Close: 'S' or 'P', then the name
    case 'C':
      body = renameAt(body, 1, prefix).body;
      break;
    default:
      return message;
  }
  return body === original ? message : withBody(message[0]!, body);
};

/** The statement name and query text of a Parse message. */
export const parseMessage = (message: Buffer): { name: string; query: string } => {
  const nameEnd = cstringEnd(message, 5);
  const queryEnd = cstringEnd(message, nameEnd + 1);
  return { name: message.toString('utf8', 5, nameEnd), query: message.toString('utf8', nameEnd + 1, queryEnd) };
};

/** The name a Close message of a statement ('S') closes, if it is one. */
export const closedStatement = (message: Buffer): string | undefined =>
  message[5] === 0x53 ? message.toString('utf8', 6, cstringEnd(message, 6)) : undefined;

/** The text of a simple Query message. */
export const queryText = (message: Buffer): string => message.toString('utf8', 5, Math.max(5, message.length - 1));
