import * as net from 'node:net';
import { Pool } from 'pg';
import { startEmbeddedDb, EmbeddedDb } from '../../infra/database/embedded';
import { createPool } from '../../services/common/db';

/** A free TCP port on loopback, for an embedded TimescaleDB of the test's own. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });

export const embeddedTimescale = async (): Promise<{ db: EmbeddedDb; pool: Pool; stop(): Promise<void> }> => {
  const db = await startEmbeddedDb({ port: await freePort() });
  const pool = createPool({ url: db.url, embedded: true });
  return {
    db,
    pool,
    stop: async () => {
      await pool.end();
      await db.stop();
    },
  };
};
