/** The lease of one gateway process in `gateway_instances`: renewed every ttl/5 to PostgreSQL's now() + ttl.
 *
 *  Two things rest on it. Other instances judge by PostgreSQL's clock whether this one is dead (lease_until passed):
 *  only then do they take over its pending commands (command-ledger.ts) and, when it can't be asked to let go of a
 *  charger, claim the charger from it (gateway.ts). And this instance stops writing chains before they can: the lease
 *  is `valid` until 80 % of the ttl after the start of the last renewal that succeeded (measured on its own monotonic
 *  clock, which starts before PostgreSQL's does).
 *
 *  PostgreSQL unreachable (renewals fail with a connection error or time out, ttl/5 each) is not a reason to stop
 *  serving the chargers this instance holds: while PostgreSQL is down nobody can claim them either (claims go
 *  through it), and a charger holds one WebSocket, so a charger that stays connected here is not connected anywhere
 *  else. So a lease that ran out while every renewal since it was valid failed for lack of PostgreSQL is in `outage`:
 *  `holds()` stays true (frames are still acknowledged after Kafka's durable write, chains go on), `reachable()` is
 *  false (no new claims). Outage ends with the first renewal that succeeds: `onRegained` then closes the chargers
 *  another instance claimed meanwhile (possible only if PostgreSQL was down for this instance alone) before the lease
 *  is valid again. It lasts at most `outageMs` (OCPP_LEASE_OUTAGE_MS) after the lease ran out: an instance that can't
 *  reach this one waits that much longer than the lease before taking a charger from it (gateway.ts). A lease that
 *  ran out any other way is `lapsed`, and `holds()` is false until a renewal succeeded and `onRegained` resolved: the
 *  allowance is used up, the process stalled (two renewal attempts further apart than 80 % of the ttl, e.g. a
 *  SIGSTOP or a long GC pause: others may have taken its chargers meanwhile while it could not notice), or a renewal
 *  failed with an SQL error (PostgreSQL answers, so others can claim). See README.md, "PostgreSQL outages". */
import { randomUUID } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { Pool } from 'pg';
import { quoteIdent } from '../common/db';
import { Logger } from '../common/log';

export type LeaseState = 'valid' | 'outage' | 'lapsed';

export interface InstanceLease {
  /** This process's incarnation: gatewayId plus a random suffix, so a restarted gateway is a new instance. */
  readonly instanceId: string;
  readonly ttlMs: number;
  /** How long after its lease ran out an instance cut off from PostgreSQL still serves what it holds (outage). */
  readonly outageMs: number;
  /** Registers and starts renewing; resolves after the first renewal, which is tried again while PostgreSQL does not
   *  answer (up to the outage allowance); an SQL error, or no answer for that long, rejects. */
  start(url: string): Promise<void>;
  /** Whether this instance may write the chains of the chargers it holds (`valid` or `outage`). */
  holds(): boolean;
  state(): LeaseState;
  /** Whether the last renewal succeeded and the lease is valid: claims (new chargers) only then. */
  reachable(): boolean;
  /** How long PostgreSQL has answered every renewal (ms; 0 while it doesn't). Another instance's lease that ran out
   *  means it is dead only once this is at least the ttl: a live instance renews within ttl/5 of PostgreSQL's return. */
  reachableForMs(): number;
  /** Whether another instance's lease has run out at least `graceMs` ago (by PostgreSQL's clock); a missing row
   *  counts as run out. With `outageMs`: it can no longer be serving anything in an outage either. */
  expired(instanceId: string, graceMs?: number): Promise<boolean>;
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
  /** Renewals only (leasePoolOptions): nothing else may make a renewal wait. */
  readonly pool: Pool;
  /** The other queries (expired, expiredInstances, prune, release); default `pool`. */
  readonly lookups?: Pool;
  readonly schema: string;
  readonly gatewayId: string;
  readonly ttlMs: number;
  /** OCPP_LEASE_OUTAGE_MS: the longest an outage lets this instance serve on after its lease ran out. */
  readonly outageMs: number;
  readonly log: Logger;
  /** Called when a renewal succeeds after the lease ran out (in outage or lapsed); the lease is valid again once it
   *  resolved (rejected: tried again at the next renewal). */
  readonly onRegained: () => Promise<void>;
}

/** A failure that says PostgreSQL could not be reached in time (no answer, connection refused or lost, the server
 *  shutting down), as opposed to an answer: an SQL error means it is there for the other instances too. */
export const unreachable = (e: unknown): boolean => {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || code.startsWith('57P');
  return true;
};

/** The lease's own pool: one connection, and no renewal waits longer than `timeoutMs` to connect or for its answer
 *  (a hung server would otherwise hold the one renewal in flight, and the instance could not tell it from a stall). */
/** The embedded database serves sessions of this name ahead of the others (infra/database/session-front.ts); on
 *  PostgreSQL it names the connection in pg_stat_activity. */
export const LEASE_APPLICATION_NAME = 'voltstream-lease';

export const leasePoolOptions = (timeoutMs: number) => ({ max: 1, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, keepAlive: true, application_name: LEASE_APPLICATION_NAME });

export const createInstanceLease = (o: LeaseOptions): InstanceLease => {
  const s = quoteIdent(o.schema);
  const lookups = o.lookups ?? o.pool;
  const instanceId = `${o.gatewayId}/${randomUUID().slice(0, 8)}`;
  // Two attempts further apart than this (start to start): the process stalled. An attempt takes at most two
  // timeouts of ttl/5 (connect, query) and the next starts ttl/5 later.
  const maxGapMs = o.ttlMs * 0.8;
  let validUntil = 0;
  let lapsed = false;
  /** Set while every renewal since the lease was valid failed for lack of PostgreSQL. */
  let outageSince: number | undefined;
  let lastAttemptAt = 0;
  let reachableSince: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let url = '';

  const lapse = (why: string, e?: Error) => {
    if (lapsed) return;
    lapsed = true;
    o.log.error(`instance lease lapsed (${why}): refusing frames until it is renewed`, { err: e, instanceId });
  };

  /** Outage mode lasts only as long as renewals keep coming: a gap means this process stalled, and meanwhile another
   *  instance may have claimed its chargers (it could not have noticed). */
  const checkGap = (now: number) => {
    if (!lapsed && outageSince !== undefined && now >= validUntil && now - lastAttemptAt > maxGapMs) lapse(`no renewal attempt for ${Math.round(now - lastAttemptAt)} ms: this process stalled`);
  };

  const renew = async (): Promise<void> => {
    const sentAt = performance.now();
    checkGap(sentAt);
    // Outage mode may begin only while the lease is valid (or already in outage without a gap).
    const continuous = !lapsed && (sentAt < validUntil || outageSince !== undefined);
    lastAttemptAt = sentAt;
    try {
      await o.pool.query(
        `INSERT INTO ${s}.gateway_instances (instance_id, gateway_id, url, lease_until) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
         ON CONFLICT (instance_id) DO UPDATE SET lease_until = excluded.lease_until, url = excluded.url`,
        [instanceId, o.gatewayId, url, o.ttlMs],
      );
    } catch (e) {
      reachableSince = undefined;
      if (continuous && unreachable(e)) {
        if (outageSince === undefined) {
          outageSince = sentAt;
          o.log.warn('PostgreSQL unreachable: serving the chargers held here, no new claims until it is back', { err: e as Error, instanceId });
        }
        return;
      }
      // PostgreSQL answered with an error (it is there for the others), or the lease had run out before: the lease
      // lasts until it runs out, no longer.
      outageSince = undefined;
      if (performance.now() > validUntil) lapse(unreachable(e) ? 'renewals failed after the lease ran out' : 'renewal refused by PostgreSQL', e as Error);
      return;
    }
    reachableSince ??= performance.now();
    const ranOut = performance.now() > validUntil;
    if (lapsed || ranOut) {
      if (!lapsed && outageSince === undefined) lapse('renewed too late: this process stalled');
      // In outage (no stall), the chains held here go on while the holdings are checked; after a lapse they wait.
      try {
        await o.onRegained();
      } catch (e) {
        o.log.warn('lease renewed but holdings not checked yet', { err: e as Error });
        return;
      }
      if (outageSince !== undefined) o.log.info('PostgreSQL is back: lease renewed, holdings checked', { instanceId, outageMs: Math.round(performance.now() - outageSince) });
      else o.log.info('instance lease renewed after a lapse', { instanceId });
      lapsed = false;
    } else if (outageSince !== undefined) o.log.info('PostgreSQL is back before the lease ran out', { instanceId });
    outageSince = undefined;
    validUntil = sentAt + o.ttlMs * 0.8;
  };

  const loop = () => {
    if (stopped) return;
    timer = setTimeout(() => void renew().finally(loop), o.ttlMs / 5);
    timer.unref();
  };

  const state = (): LeaseState => {
    const now = performance.now();
    checkGap(now);
    if (lapsed) return 'lapsed';
    if (now < validUntil) return 'valid';
    if (outageSince === undefined) return 'lapsed';
    if (now < validUntil + o.outageMs) return 'outage';
    lapse(`PostgreSQL unreachable for longer than the lease and OCPP_LEASE_OUTAGE_MS (${o.outageMs} ms)`);
    return 'lapsed';
  };

  return {
    instanceId,
    ttlMs: o.ttlMs,
    outageMs: o.outageMs,
    start: async (u) => {
      url = u;
      // The first renewal is not a regain. PostgreSQL that does not answer it in time (the embedded database held by
      // another session's transaction, a restart under load) is waited for, up to the outage allowance: a gateway
      // that gave up here would not serve at all.
      const deadline = performance.now() + Math.max(o.outageMs, o.ttlMs);
      for (let attempt = 1; ; attempt++) {
        const sentAt = performance.now();
        try {
          await o.pool.query(
            `INSERT INTO ${s}.gateway_instances (instance_id, gateway_id, url, lease_until) VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
             ON CONFLICT (instance_id) DO UPDATE SET lease_until = excluded.lease_until, url = excluded.url`,
            [instanceId, o.gatewayId, url, o.ttlMs],
          );
          validUntil = sentAt + o.ttlMs * 0.8;
          lastAttemptAt = sentAt;
          reachableSince = sentAt;
          break;
        } catch (e) {
          if (stopped || !unreachable(e) || performance.now() > deadline) throw e;
          o.log.warn('instance lease: PostgreSQL did not answer the first renewal in time; trying again', { attempt, err: (e as Error).message, instanceId });
          await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2000)));
        }
      }
      loop();
    },
    holds: () => state() !== 'lapsed',
    state,
    reachable: () => outageSince === undefined && state() === 'valid',
    reachableForMs: () => (reachableSince === undefined || outageSince !== undefined ? 0 : performance.now() - reachableSince),
    expired: async (id, graceMs = 0) => {
      const r = await lookups.query<{ expired: boolean }>(`SELECT lease_until + $2 * interval '1 millisecond' < now() AS expired FROM ${s}.gateway_instances WHERE instance_id = $1`, [id, graceMs]);
      return r.rows[0]?.expired ?? true;
    },
    expiredInstances: async () => {
      const r = await lookups.query<{ instance_id: string }>(`SELECT instance_id FROM ${s}.gateway_instances WHERE lease_until < now()`);
      return r.rows.map((row) => row.instance_id);
    },
    prune: async (olderThanMs) => {
      await lookups.query(
        `DELETE FROM ${s}.gateway_instances i WHERE i.lease_until < now() - $1 * interval '1 millisecond'
           AND NOT EXISTS (SELECT 1 FROM ${s}.command_ledger l WHERE l.owner_instance = i.instance_id AND l.state <> 'published')`,
        [olderThanMs],
      );
    },
    release: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await lookups.query(`UPDATE ${s}.gateway_instances SET lease_until = now() WHERE instance_id = $1`, [instanceId]).catch((e) => o.log.warn('lease not released', { err: e as Error }));
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

export const DEFAULT_LEASE_OUTAGE_MS = 60000;

/** OCPP_LEASE_OUTAGE_MS (default 60000): how long after its lease ran out an instance cut off from PostgreSQL keeps
 *  serving the chargers it holds, and so how much longer than the lease another instance waits before it takes a
 *  charger from an instance it can't reach (README.md, "PostgreSQL outages"). The same on every instance. */
export const leaseOutageFromEnv = (env: NodeJS.ProcessEnv): E.Either<string, number> => {
  const v = env.OCPP_LEASE_OUTAGE_MS;
  if (v === undefined || v.trim() === '') return E.right(DEFAULT_LEASE_OUTAGE_MS);
  return /^\d+$/.test(v.trim()) ? E.right(Number(v)) : E.left(`OCPP_LEASE_OUTAGE_MS: expected a whole number of milliseconds, got "${v}"`);
};
