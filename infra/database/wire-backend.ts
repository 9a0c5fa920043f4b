/** Backend messages the session front writes itself (the startup answer, errors) and reads from PGlite's output. */

const message = (type: string, body: Buffer): Buffer => {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};
const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const cstring = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

export const authenticationOk = (): Buffer => message('R', int32(0));
export const parameterStatus = (name: string, value: string): Buffer => message('S', Buffer.concat([cstring(name), cstring(value)]));
export const backendKeyData = (pid: number, secret: number): Buffer => message('K', Buffer.concat([int32(pid), int32(secret)]));
export const readyForQuery = (status: 'I' | 'T' | 'E'): Buffer => message('Z', Buffer.from(status, 'latin1'));
/** The answer to SSLRequest and GSSENCRequest: not supported, go on in plain text. */
export const sslRefused = (): Buffer => Buffer.from('N', 'latin1');

export interface ErrorFields {
  readonly severity: 'ERROR' | 'FATAL';
  readonly code: string;
  readonly message: string;
}
export const errorResponse = (e: ErrorFields): Buffer =>
  message('E', Buffer.concat([cstring(`S${e.severity}`), cstring(`V${e.severity}`), cstring(`C${e.code}`), cstring(`M${e.message}`), Buffer.from([0])]));

export const simpleQuery = (sql: string): Buffer => message('Q', cstring(sql));
export const sync = (): Buffer => message('S', Buffer.alloc(0));

/** Calls `visit` with each whole backend message of `out` (type byte and body, header stripped). */
export const eachMessage = (out: Uint8Array, visit: (type: number, body: Buffer) => void): void => {
  const b = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  for (let at = 0; at + 5 <= b.length; ) {
    const length = b.readInt32BE(at + 1);
    visit(b[at]!, b.subarray(at + 5, at + 1 + length));
    at += 1 + length;
  }
};

/** The first ErrorResponse's message and SQLSTATE, if PGlite answered with one. */
export const firstError = (out: Uint8Array): { code: string; message: string } | undefined => {
  let found: { code: string; message: string } | undefined;
  eachMessage(out, (type, body) => {
    if (type !== 0x45 || found) return;
    const fields: Record<string, string> = {};
    for (const f of body.toString('utf8').split('\0')) if (f) fields[f[0]!] = f.slice(1);
    found = { code: fields.C ?? 'XX000', message: fields.M ?? 'unknown error' };
  });
  return found;
};

/** The text columns of every DataRow in `out` (a simple query's answer); null for SQL NULL. */
export const dataRows = (out: Uint8Array): (string | null)[][] => {
  const rows: (string | null)[][] = [];
  eachMessage(out, (type, body) => {
    if (type !== 0x44) return;
    const row: (string | null)[] = [];
    let at = 2;
    for (let i = body.readInt16BE(0); i > 0; i--) {
      const n = body.readInt32BE(at);
      at += 4;
      row.push(n < 0 ? null : body.toString('utf8', at, at + n));
      if (n > 0) at += n;
    }
    rows.push(row);
  });
  return rows;
};
