/** Cuts a client's byte stream into whole PostgreSQL protocol messages. PGlite's WebAssembly aborts on a partial
 *  message, and a large Bind (a sink batch: a few MiB of array parameters) arrives in dozens of TCP chunks. */

export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
export const PROTOCOL_3 = 196608;

/** Before the startup message, messages carry no type byte: a length and a request code. */
export type FrontendMessage =
  | { readonly kind: 'untyped'; readonly code: number; readonly bytes: Buffer }
  | { readonly kind: 'typed'; readonly type: string; readonly bytes: Buffer };

export interface FrontendFramer {
  /** The whole messages completed by this chunk, in order; a partial one waits for the next chunk. */
  push(chunk: Buffer): FrontendMessage[];
}

export const createFrontendFramer = (): FrontendFramer => {
  let parts: Buffer[] = [];
  let size = 0;
  // Bytes needed before the next message can be whole: while short of them, chunks are kept without copying.
  let need = 0;
  let started = false;
  return {
    push(chunk) {
      parts.push(chunk);
      size += chunk.length;
      if (size < need) return [];
      const pending = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
      const out: FrontendMessage[] = [];
      let at = 0;
      need = 0;
      for (;;) {
        const typed = started ? 1 : 0;
        if (pending.length < at + typed + 4) break;
        const length = pending.readInt32BE(at + typed);
        if (pending.length < at + typed + length) {
          need = typed + length;
          break;
        }
        const bytes = pending.subarray(at, at + typed + length);
        if (started) out.push({ kind: 'typed', type: String.fromCharCode(bytes[0]!), bytes });
        else {
          const code = length >= 8 ? bytes.readInt32BE(4) : 0;
          out.push({ kind: 'untyped', code, bytes });
          if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) started = true;
        }
        at += typed + length;
      }
      const rest = pending.subarray(at);
      parts = rest.length ? [rest] : [];
      size = rest.length;
      return out;
    },
  };
};

/** The startup message's parameters (user, database, application_name, options, ...). */
export const startupParameters = (bytes: Buffer): Record<string, string> => {
  const params: Record<string, string> = {};
  const fields = bytes.subarray(8).toString('utf8').split('\0');
  for (let i = 0; i + 1 < fields.length && fields[i] !== ''; i += 2) params[fields[i]!] = fields[i + 1]!;
  return params;
};

/** `-c name=value` and `--name=value` pairs of the startup parameter `options` (backslash escapes a space). */
export const parseStartupOptions = (options: string): Record<string, string> => {
  const words = options.match(/(?:\\.|\S)+/g)?.map((w) => w.replace(/\\(.)/g, '$1')) ?? [];
  const out: Record<string, string> = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const pair = w === '-c' ? words[++i] : w.startsWith('--') ? w.slice(2) : w.startsWith('-c') ? w.slice(2) : undefined;
    const eq = pair?.indexOf('=') ?? -1;
    if (pair && eq > 0) out[pair.slice(0, eq).replace(/-/g, '_')] = pair.slice(eq + 1);
  }
  return out;
};

/** PGlite reads its input in blocks of 64 KiB and stops at a message that starts exactly on a block boundary: the
 *  message and all after it are dropped, unanswered (seen with Parse, Bind, Describe, Execute, Sync whose Bind ended
 *  at 65,536 bytes: no ReadyForQuery came, and the client waited forever). Splits a run of whole messages into calls
 *  in which no message but the first starts at a multiple of 64 KiB. */
export const PGLITE_READ_BLOCK = 65_536;
export const callsForPglite = (messages: readonly Buffer[]): Buffer[][] => {
  const calls: Buffer[][] = [];
  let call: Buffer[] = [];
  let offset = 0;
  for (const m of messages) {
    if (call.length > 0 && offset % PGLITE_READ_BLOCK === 0) {
      calls.push(call);
      call = [];
      offset = 0;
    }
    call.push(m);
    offset += m.length;
  }
  if (call.length) calls.push(call);
  return calls;
};

/** Whether PostgreSQL must end its answer to `call` with ReadyForQuery: the call holds a Sync or a simple Query. */
export const expectsReadyForQuery = (call: readonly Buffer[]): boolean => call.some((m) => m[0] === 0x53 || m[0] === 0x51);
