import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Pool } from 'pg';
import { hashSecret, verifySecret } from '../common/password';
import { quoteIdent } from '../common/db';
import { Migration } from '../../infra/database/migrate';

/** API keys. A key reads `vsk_<keyId>_<secret>`; the table `<schema>.api_keys` keeps the key id, the scrypt hash of the
 *  secret (services/common/password.ts) and the scopes, never the key itself. The configured admin key
 *  (VOLTSTREAM_ADMIN_KEY) holds every scope and lives only in the environment. A key with scope `admin` holds every
 *  scope too. Verified keys are cached in memory (by SHA-256 of the key) for `cacheTtlMs`, so scrypt runs once per key
 *  and minute, not once per request; revoking through this process drops the cache entry at once. */
export interface Principal {
  /** `admin` for the configured admin key, else the key id: the `actor` of configuration events. */
  readonly id: string;
  readonly scopes: readonly string[];
}

export const hasScope = (p: Principal, scope: string): boolean => p.scopes.includes('admin') || p.scopes.includes(scope);

export interface IssuedKey {
  readonly keyId: string;
  readonly key: string;
  readonly scopes: readonly string[];
  readonly label: string | null;
  readonly createdAt: string;
}

export interface KeySummary {
  readonly keyId: string;
  readonly scopes: readonly string[];
  readonly label: string | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export interface KeyStore {
  authenticate(token: string): Promise<Principal | undefined>;
  issue(scopes: readonly string[], label: string | null): Promise<IssuedKey>;
  list(): Promise<KeySummary[]>;
  revoke(keyId: string): Promise<boolean>;
}

export const keyMigrations: readonly Migration[] = [
  {
    id: 'api-0001-api-keys',
    up: () => [
      `CREATE TABLE IF NOT EXISTS api_keys (
         key_id text PRIMARY KEY,
         secret_hash text NOT NULL,
         scopes text[] NOT NULL,
         label text,
         created_at timestamptz NOT NULL DEFAULT now(),
         revoked_at timestamptz
       )`,
    ],
  },
];

const keyPattern = /^vsk_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;
const digest = (s: string) => createHash('sha256').update(s).digest();

export const createKeyStore = (opts: { pool: Pool; schema: string; adminKey: string; cacheTtlMs?: number }): KeyStore => {
  const table = `${quoteIdent(opts.schema)}.api_keys`;
  const ttl = opts.cacheTtlMs ?? 60_000;
  const adminDigest = digest(opts.adminKey);
  const cache = new Map<string, { principal: Principal; until: number }>();

  const authenticate = async (token: string): Promise<Principal | undefined> => {
    const d = digest(token);
    if (timingSafeEqual(d, adminDigest)) return { id: 'admin', scopes: ['admin'] };
    const cacheKey = d.toString('hex');
    const hit = cache.get(cacheKey);
    if (hit && hit.until > Date.now()) return hit.principal;
    cache.delete(cacheKey);
    const m = keyPattern.exec(token);
    if (!m) return undefined;
    const { rows } = await opts.pool.query<{ secret_hash: string; scopes: string[] }>(
      `SELECT secret_hash, scopes FROM ${table} WHERE key_id = $1 AND revoked_at IS NULL`,
      [m[1]],
    );
    const row = rows[0];
    if (!row || !(await verifySecret(m[2]!, row.secret_hash))) return undefined;
    const principal: Principal = { id: m[1]!, scopes: row.scopes };
    cache.set(cacheKey, { principal, until: Date.now() + ttl });
    return principal;
  };

  return {
    authenticate,
    issue: async (scopes, label) => {
      const keyId = randomBytes(8).toString('hex');
      const secret = randomBytes(32).toString('base64url');
      const { rows } = await opts.pool.query<{ created_at: Date }>(
        `INSERT INTO ${table} (key_id, secret_hash, scopes, label) VALUES ($1, $2, $3, $4) RETURNING created_at`,
        [keyId, await hashSecret(secret), [...new Set(scopes)], label],
      );
      return { keyId, key: `vsk_${keyId}_${secret}`, scopes: [...new Set(scopes)], label, createdAt: rows[0]!.created_at.toISOString() };
    },
    list: async () => {
      const { rows } = await opts.pool.query<{ key_id: string; scopes: string[]; label: string | null; created_at: Date; revoked_at: Date | null }>(
        `SELECT key_id, scopes, label, created_at, revoked_at FROM ${table} ORDER BY created_at, key_id`,
      );
      return rows.map((r) => ({ keyId: r.key_id, scopes: r.scopes, label: r.label, createdAt: r.created_at.toISOString(), revokedAt: r.revoked_at?.toISOString() ?? null }));
    },
    revoke: async (keyId) => {
      const r = await opts.pool.query(`UPDATE ${table} SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL`, [keyId]);
      for (const [k, v] of cache) if (v.principal.id === keyId) cache.delete(k);
      return (r.rowCount ?? 0) > 0;
    },
  };
};
