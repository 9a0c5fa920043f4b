import { createHmac } from 'node:crypto';
import * as path from 'node:path';
import { loadConfig } from '../common/config';
import { loadOrCreateSecret } from '../common/secret-file';

/** The API's key for what it signs and later takes back from callers (history cursors, dashboard sessions):
 *  API_SIGNING_KEY, or a random key made once in $VOLTSTREAM_HOME/api-signing-key (mode 0600) and shared by the local
 *  API processes. Instances behind one load balancer set the same API_SIGNING_KEY. Each use gets a key of its own,
 *  derived by purpose, so a value signed for one use is never valid for another. */
export type Purpose = 'history-cursor' | 'dashboard-session';

let master: Buffer | undefined;

const masterKey = (): Buffer => {
  if (master) return master;
  const configured = process.env.API_SIGNING_KEY;
  master = configured ? Buffer.from(configured, 'utf8') : loadOrCreateSecret(path.join(loadConfig().home, 'api-signing-key'));
  return master;
};

export const signingKey = (purpose: Purpose): Buffer => createHmac('sha256', masterKey()).update(`voltstream:${purpose}`).digest();
