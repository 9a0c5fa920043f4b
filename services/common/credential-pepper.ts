import * as path from 'node:path';
import { loadOrCreateSecret } from './secret-file';

/** The secret key of charger password hashes (password.ts, `hmac-sha256`): VOLTSTREAM_CREDENTIAL_PEPPER, or a random
 *  key made once in $VOLTSTREAM_HOME/credential-pepper (mode 0600) and shared by the local processes. It is never on
 *  the log nor in the database, so the hashes that are (fleet.config, the fleet tables) cannot be guessed at offline.
 *  Every API and gateway instance of a deployment sets the same value. */
export const credentialPepper = (home: string, env: NodeJS.ProcessEnv = process.env): Buffer => {
  const configured = env.VOLTSTREAM_CREDENTIAL_PEPPER;
  if (configured !== undefined && configured !== '') {
    if (configured.length < 32) throw new Error('invalid environment: VOLTSTREAM_CREDENTIAL_PEPPER must be at least 32 characters');
    return Buffer.from(configured, 'utf8');
  }
  return loadOrCreateSecret(path.join(home, 'credential-pepper'));
};
