import * as E from 'fp-ts/Either';
import { createLogger } from '../../services/common/log';
import { serveEmbeddedDb } from './embedded';
import { maintenanceSeconds } from './maintenance';
import { LongHold, UnansweredRequest } from './session-front';

/** Entry point of the embedded database process that `voltstream stack up` runs in the background. */
const main = async () => {
  const port = Number(process.env.EMBEDDED_DB_PORT ?? 5433);
  const dataDir = process.env.EMBEDDED_DB_DIR;
  const idle = process.env.EMBEDDED_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS;
  const host = process.env.EMBEDDED_DB_HOST || undefined;
  const maintenance = maintenanceSeconds(process.env.EMBEDDED_DB_MAINTENANCE_SECONDS);
  if (E.isLeft(maintenance)) throw new Error(maintenance.left);
  const log = createLogger('embedded-db');
  // Every other session waited through such a hold: the first thing to look at when a service reports the database slow.
  const onLongHold = (h: LongHold) => log.warn('a session held the database', { ...h });
  const onUnanswered = (u: UnansweredRequest) => log.error('PGlite left a request unanswered: its session was rolled back and closed', { ...u });
  const db = await serveEmbeddedDb({ port, onLongHold, onUnanswered, ...(host ? { host } : {}), ...(dataDir ? { dataDir } : {}), ...(idle ? { idleInTransactionTimeoutMs: Number(idle) } : {}), ...(maintenance.right !== undefined ? { maintenanceEveryMs: maintenance.right * 1000 } : {}), log });
  console.log(`embedded TimescaleDB listening at ${db.url}${dataDir ? ` (data in ${dataDir})` : ''}`);
  const stop = async () => {
    await db.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
};

main().catch((e) => {
  console.error(`embedded database failed: ${(e as Error).message}`);
  process.exit(1);
});
