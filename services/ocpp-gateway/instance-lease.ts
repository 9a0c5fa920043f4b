/** The lease of one gateway process in `gateway_instances`: renewed every ttl/5 to PostgreSQL's now() + ttl.
 *
 *  Two things rest on it. Other instances judge by PostgreSQL's clock whether this one is dead (lease_until passed):
 *  only then do they take over its pending commands (command-ledger.ts) and, when it can't be asked to let go of a
 *  charger, claim the charger from it (gateway.ts). And this instance stops itself before they can: `holds()` turns
 *  false 80 % of the ttl after the start of the last renewal that succeeded (measured on its own monotonic clock,
 *  which starts before PostgreSQL's does), and the frame log refuses every ocpp.frames record while it is false. After
 *  a lapse, `holds()` stays false until `onRegained` (the gateway checks it still holds the epochs it had) resolved. */
import { randomUUID } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { Pool } from 'pg';
import { quoteIdent } from '../common/db';
import { Logger } from '../common/log';

export interface InstanceLease {
  /** This process's incarnation: gatewayId plus a random suffix, so a restarted gateway is a new instance. */
  readonly instanceId: string;
  readonly ttlMs: number;
  /** Registers and starts renewing; resolves after the first renewal. */
  start(url: string): Promise<void>;
  holds(): boolean;
  /** Whether another instance's lease has run out (by PostgreSQL's clock); a missing row counts as run out. */
  expired(instanceId: string): Promise<boolean>;
  /** Instances whose lease has run out. */
  expiredInstances(): Promise<string[]>;
  /** Forgets instances expired longer than `olderThanMs` that own no open command (their rows only grow the sweep). */
  prune(olderThanMs: number): Promise<void>;
  /** Graceful stop: lease ends now, so the others take over at once. */
  release(): Promise<void>;
  /** No more renewals (a killed instance). */
  stop(): void;
}

export interface LeaseOptions {
  readonly pool: Pool;
  readonly schema: string;
  readonly gatewayId: string;
  readonly ttlMs: number;
  readonly log: Logger;
  /** Called after renewals failed for longer than the lease lasts and then succeeded again. */
  readonly onRegained: () => Promise<void>;
}

export const createInstanceLease = (o: LeaseOptions): InstanceLease => {
  const s = quoteIdent(o.schema);
  const instanceId = `${o.gatewayId}/${randomUUID().slice(0, 8)}`;
  let validUntil = 0;
  let lapsed = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let url = '';

  const renew = async (): Promise<void> => {
    const sentAt = performance.now();
    try {
      await o.pool.query(
        `INSERT INTO ${s}.gateway_instances (instance_id, gateway_id, url, lease_until) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
         ON CONFLICT (instance_id) DO UPDATE SET lease_until = excluded.lease_until, url = excluded.url`,
        [instanceId, o.gatewayId, url, o.ttlMs],
      );
    } catch (e) {
      if (!lapsed && performance.now() > validUntil) {
        lapsed = true;
        o.log.error('instance lease lapsed: refusing frames until it is renewed', { err: e as Error, instanceId });
      }
      return;
    }
    if (lapsed || performance.now() > validUntil) {
      if (!lapsed) o.log.warn('instance lease renewed too late: frames were refused meanwhile', { instanceId });
      lapsed = true;
      try {
        await o.onRegained();
      } catch (e) {
        o.log.warn('lease renewed but holdings not checked yet', { err: e as Error });
        return;
      }
      lapsed = false;
      o.log.info('instance lease renewed after a lapse', { instanceId });
    }
    validUntil = sentAt + o.ttlMs * 0.8;
  };

  const loop = () => {
    if (stopped) return;
    timer = setTimeout(() => void renew().finally(loop), o.ttlMs / 5);
    timer.unref();
  };

  return {
    instanceId,
    ttlMs: o.ttlMs,
    start: async (u) => {
      url = u;
      // The first renewal is not a regain.
      const sentAt = performance.now();
      await o.pool.query(
        `INSERT INTO ${s}.gateway_instances (instance_id, gateway_id, url, lease_until) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')`,
        [instanceId, o.gatewayId, url, o.ttlMs],
      );
      validUntil = sentAt + o.ttlMs * 0.8;
      loop();
    },
    holds: () => !lapsed && performance.now() < validUntil,
    expired: async (id) => {
      const r = await o.pool.query<{ expired: boolean }>(`SELECT lease_until < now() AS expired FROM ${s}.gateway_instances WHERE instance_id = $1`, [id]);
      return r.rows[0]?.expired ?? true;
    },
    expiredInstances: async () => {
      const r = await o.pool.query<{ instance_id: string }>(`SELECT instance_id FROM ${s}.gateway_instances WHERE lease_until < now()`);
      return r.rows.map((row) => row.instance_id);
    },
    prune: async (olderThanMs) => {
      await o.pool.query(
        `DELETE FROM ${s}.gateway_instances i WHERE i.lease_until < now() - $1 * interval '1 millisecond'
           AND NOT EXISTS (SELECT 1 FROM ${s}.command_ledger l WHERE l.owner_instance = i.instance_id AND l.state <> 'published')`,
        [olderThanMs],
      );
    },
    release: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await o.pool.query(`UPDATE ${s}.gateway_instances SET lease_until = now() WHERE instance_id = $1`, [instanceId]).catch((e) => o.log.warn('lease not released', { err: e as Error }));
    },
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
};

export const DEFAULT_LEASE_TTL_MS = 10000;

/** OCPP_LEASE_TTL_MS (default 10000): how long a dead instance's chargers and commands wait before others take them. */
export const leaseTtlFromEnv = (env: NodeJS.ProcessEnv): E.Either<string, number> => {
  const v = env.OCPP_LEASE_TTL_MS;
  if (v === undefined || v.trim() === '') return E.right(DEFAULT_LEASE_TTL_MS);
  return /^\d+$/.test(v.trim()) && Number(v) >= 1000 ? E.right(Number(v)) : E.left(`OCPP_LEASE_TTL_MS: expected a whole number of milliseconds >= 1000, got "${v}"`);
};
