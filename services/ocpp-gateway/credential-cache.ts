/** Basic credentials verified recently, so a reconnect storm doesn't pay scrypt per charger. Keyed by a hash of the
 *  stored hash and the presented password (never the password itself): a new password on fleet.config invalidates the
 *  entry, and entries expire after `ttlMs`. Chargers presenting the same secret at once share one scrypt. */
import { createHash } from 'node:crypto';
import { Admission } from './admission';

export type Verify = (password: string, stored: string) => Promise<boolean>;

const MAX_ENTRIES = 200000;

export const createCredentialCache = (verify: Verify, ttlMs: number, now: () => number = Date.now) => {
  const verified = new Map<string, number>();
  const verifying = new Map<string, Promise<boolean>>();
  return async (password: string, stored: string): Promise<boolean> => {
    const key = createHash('sha256').update(stored).update('\0').update(password).digest('base64');
    const until = verified.get(key);
    if (until !== undefined) {
      if (until > now()) return true;
      verified.delete(key);
    }
    let p = verifying.get(key);
    if (!p) {
      p = verify(password, stored).finally(() => verifying.delete(key));
      verifying.set(key, p);
    }
    const ok = await p;
    if (ok && ttlMs > 0) {
      if (verified.size >= MAX_ENTRIES) verified.delete(verified.keys().next().value!);
      verified.set(key, now() + ttlMs);
    }
    return ok;
  };
};

/** Password checks through `slots`: scrypt is CPU work (in libuv's pool), so at most as many run at once as there are
 *  cores, while the handshakes around them (fleet lookup, claim, CONNECTED) wait on I/O many at a time. A check that
 *  finds no slot within the admission's wait fails, and its handshake is answered 503 + Retry-After. */
export const limitChecks =
  (verify: Verify, slots: Admission): Verify =>
  async (password, stored) => {
    const release = await slots.enter();
    if (!release) throw new Error('password checks saturated');
    try {
      return await verify(password, stored);
    } finally {
      release();
    }
  };
