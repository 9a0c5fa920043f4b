/** The bearer token gateway instances present to each other's internal listener. Mandatory: OCPP_INTERNAL_TOKEN, or
 *  else one random token generated once and kept under VOLTSTREAM_HOME so that every local instance uses the same. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const tokenFile = (home: string): string => path.join(home, 'gateway-internal-token');

const readToken = (file: string): string | undefined => {
  try {
    const t = fs.readFileSync(file, 'utf8').trim();
    return t.length > 0 ? t : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
};

/** The token in `home`, created when missing. Written to a private temporary file and linked into place, so two
 *  instances starting together never read a half-written file: the loser of the link reads the winner's token. */
export const loadOrCreateToken = (home: string): string => {
  const file = tokenFile(home);
  const existing = readToken(file);
  if (existing) return existing;
  fs.mkdirSync(home, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const token = readToken(file);
  if (!token) throw new Error(`${file} is empty: delete it or set OCPP_INTERNAL_TOKEN`);
  return token;
};

export const resolveToken = (configured: string | undefined, home: string): string => configured ?? loadOrCreateToken(home);

/** Constant-time check of an Authorization header against the token (both hashed first, so lengths never leak). */
export const bearerMatches = (authorization: string | undefined, token: string): boolean => {
  const m = /^Bearer (.+)$/.exec(authorization ?? '');
  if (!m) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
};
