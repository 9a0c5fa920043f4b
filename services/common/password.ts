import { createHash, createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** API keys (and charger passwords hashed before 2026-12-07) are stored as `scrypt$<salt b64>$<hash b64>`: slow on
 *  purpose, about 50-70 ms of a core per check. */
export const hashSecret = async (secret: string): Promise<string> => {
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, 32);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
};

/** Charger Basic-auth passwords are stored as `hmac-sha256$<pepper id>$<salt b64>$<mac b64>`, the MAC keyed by the
 *  deployment's credential pepper (credential-pepper.ts), which is never stored beside the hashes. A scrypt check per
 *  handshake made a depot's reconnect burst CPU-bound (1,000 chargers: a minute of both cores); this one costs
 *  microseconds, and without the pepper a leaked hash cannot be guessed at, weak password or not. The pepper id (a
 *  digest's first bytes) tells a hash made under another pepper from a wrong password. */
export const pepperId = (pepper: Buffer): string => createHash('sha256').update('voltstream:credential-pepper').update(pepper).digest('hex').slice(0, 8);

const chargerMac = (secret: string, salt: Buffer, pepper: Buffer): Buffer => createHmac('sha256', pepper).update(salt).update(secret, 'utf8').digest();

export const hashChargerSecret = (secret: string, pepper: Buffer): string => {
  const salt = randomBytes(16);
  return `hmac-sha256$${pepperId(pepper)}$${salt.toString('base64')}$${chargerMac(secret, salt, pepper).toString('base64')}`;
};

export type StoredScheme = 'scrypt' | 'hmac-sha256' | 'unknown';

export const schemeOf = (stored: string): StoredScheme => {
  const scheme = stored.split('$', 1)[0];
  return scheme === 'scrypt' || scheme === 'hmac-sha256' ? scheme : 'unknown';
};

const equal = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

/** An `hmac-sha256` hash checked against the pepper it was made with; false for another pepper, as for a wrong password. */
export const verifyChargerSecret = (secret: string, stored: string, pepper: Buffer): boolean => {
  const [scheme, id, saltB64, macB64] = stored.split('$');
  if (scheme !== 'hmac-sha256' || id !== pepperId(pepper) || !saltB64 || !macB64) return false;
  return equal(chargerMac(secret, Buffer.from(saltB64, 'base64'), pepper), Buffer.from(macB64, 'base64'));
};

export const verifySecret = async (secret: string, stored: string): Promise<boolean> => {
  const [scheme, saltB64, hashB64] = stored.split('$');
  if (scheme !== 'scrypt' || !saltB64 || !hashB64) return false;
  const expected = Buffer.from(hashB64, 'base64');
  return equal(await scrypt(secret, Buffer.from(saltB64, 'base64'), expected.length), expected);
};
