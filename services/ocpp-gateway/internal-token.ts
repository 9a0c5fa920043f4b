/** The bearer token gateway instances present to each other's internal listener. Mandatory: OCPP_INTERNAL_TOKEN, or
 *  else one random token generated once and kept under VOLTSTREAM_HOME so that every local instance uses the same. */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as path from 'node:path';
import { loadOrCreateSecret } from '../common/secret-file';

export const tokenFile = (home: string): string => path.join(home, 'gateway-internal-token');

/** The token in `home`, created when missing (services/common/secret-file.ts: made once, linked into place, so
 *  instances starting together all read the same). */
export const loadOrCreateToken = (home: string): string => loadOrCreateSecret(tokenFile(home)).toString('base64url');

export const resolveToken = (configured: string | undefined, home: string): string => configured ?? loadOrCreateToken(home);

/** Constant-time check of an Authorization header against the token (both hashed first, so lengths never leak). */
export const bearerMatches = (authorization: string | undefined, token: string): boolean => {
  const m = /^Bearer (.+)$/.exec(authorization ?? '');
  if (!m) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
};
