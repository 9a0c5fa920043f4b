/** The gateway's PostgreSQL state (schema OCPP_DB_SCHEMA, default `gateway`):
 *
 *  - `connections`: which instance holds which charger (gatewayId, the holder's incarnation `instance_id`, its internal
 *    URL, a fencing `epoch` bumped on every claim, whether it is connected and whether the last holder released it
 *    cleanly). Commands are routed with it; a claim returns the previous holder, which the new one fences (gateway.ts).
 *  - `gateway_instances`: one lease per running gateway process (instance-lease.ts).
 *  - `command_ledger`: every command read from ocpp.commands until its outcome is published (command-ledger.ts).
 *  - `chain_heads`: the last acknowledged ocpp.frames record of each charger (seq, hash, partition, offset), written
 *    after Kafka acknowledged the record, never before.
 *  - `transaction_ids`: the sequence behind OCPP 1.6 transactionIds, unique across restarts and instances (taken in
 *    blocks ahead: transaction-ids.ts).
 *
 *  Chain continuity (seq and prevHash across reconnects, restarts and moves between instances):
 *  a charger's head is authoritative in `chain_heads` when the previous holder released it cleanly (it flushed the
 *  DISCONNECTED record, stored the head, then set clean = true under its epoch). Otherwise (the holder died, or still
 *  believes it holds a half-open connection) the new holder scans the charger's ocpp.frames partition from
 *  max(head offset + 1, the previous holder's `scan_from`) to the end for later records of that charger and continues
 *  after the last one. `scan_from` is a lower bound of the partition's end offset when the holder claimed the charger,
 *  so the scan covers everything the previous holder could have written. */
import { Pool } from 'pg';
import { migrate, Migration } from '../../infra/database/migrate';
import { quoteIdent, withTransaction } from '../common/db';
import { ChainHead } from './frames';

export interface StoredHead extends ChainHead {
  readonly partition: number;
  readonly offset: number;
}

/** Who held the charger just before a claim (its row as the claim found it). */
export interface PreviousHolder {
  readonly gatewayId: string;
  /** The holder's process incarnation (instance-lease.ts); null for rows written before instances had leases. */
  readonly instanceId: string | null;
  readonly url: string;
  readonly epoch: number;
  readonly connected: boolean;
  readonly scanFrom: number;
}

export interface Claim {
  readonly epoch: number;
  /** The row before this claim took it over, if the charger was ever claimed. */
  readonly previous: PreviousHolder | undefined;
  /** The head to continue from, when it is authoritative; undefined with `scanFrom` set: scan the topic first. */
  readonly head: StoredHead | undefined;
  /** Offset to scan from (on the charger's partition) when the previous holder did not release cleanly. */
  readonly scanFrom: number | undefined;
}

export interface Owner {
  readonly gatewayId: string;
  /** The holder's incarnation (null for rows from before leases). */
  readonly instanceId: string | null;
  readonly url: string;
  readonly epoch: number;
  readonly connected: boolean;
  /** Whether the holder's lease runs by PostgreSQL's clock, or ran out less than the grace ago (false without one). */
  readonly holderAlive: boolean;
}

/** One charger to claim, with the lower bound of its partition's end when it is claimed (`Claim.scanFrom`). */
export interface ClaimRequest {
  readonly chargePointId: string;
  readonly scanFrom: number;
}

export interface ClaimBounds {
  readonly lockWaitMs: number;
  readonly statementMs: number;
}

/** PostgreSQL's `lock_not_available`: a lock_timeout ran out. */
export const isLockTimeout = (e: unknown): boolean => (e as { code?: string } | null)?.code === '55P03';

export interface GatewayStore {
  claim(chargePointId: string, gatewayId: string, instanceId: string, url: string, scanFrom: number): Promise<Claim>;
  /** Claims these chargers (distinct ids) in one statement and one transaction, their rows locked in id order so that
   *  two instances' batches never deadlock; the claims come back in the order asked. A row locked elsewhere for longer
   *  than `bounds.lockWaitMs` (a release writing its last frame) fails the whole batch with `lock_not_available`
   *  (isLockTimeout), and so does a statement running longer than `bounds.statementMs`: nothing of it is claimed. */
  claimMany(requests: readonly ClaimRequest[], gatewayId: string, instanceId: string, url: string, bounds: ClaimBounds): Promise<Claim[]>;
  /** Gives a claim back to the holder it was taken from, when that holder could not be fenced: it stays the one
   *  every later claim must fence first (it may still be writing), under a new epoch its own release won't match. */
  restore(chargePointId: string, claim: Claim): Promise<void>;
  /** Current epochs of these chargers and the instances that claimed them (an instance whose lease lapsed checks it
   *  still holds what it had). */
  epochs(chargePointIds: readonly string[]): Promise<Map<string, { epoch: number; instanceId: string | null }>>;
  /** Releases a charger the holder still owns (same epoch), under a row lock that a new claim waits for: `writeLast`
   *  writes the DISCONNECTED record and returns the resulting head, stored in the same transaction and marked clean.
   *  If writeLast fails the release is unclean, and the next holder scans the topic. False: someone else holds it. */
  release(chargePointId: string, epoch: number, writeLast: () => Promise<StoredHead | undefined>): Promise<boolean>;
  /** Gives back a claim whose handshake never completed (the charger left meanwhile): nothing was written under it,
   *  so the charger is as clean as before the claim, or still unclean from the same offset. */
  abandon(chargePointId: string, claim: Claim): Promise<void>;
  /** The charger's row; `holderAlive` counts a holder whose lease ran out less than `graceMs` ago as alive. */
  owner(chargePointId: string, graceMs?: number): Promise<Owner | undefined>;
  saveHeads(heads: ReadonlyMap<string, StoredHead>): Promise<void>;
  /** `n` new OCPP 1.6 transactionIds from the sequence (transaction-ids.ts hands them out). */
  reserveTransactionIds(n: number): Promise<number[]>;
}

const migrations = (schema: string): Migration[] => [
  {
    id: 'gateway-001-connections-heads-txids',
    up: () => [
      `CREATE TABLE IF NOT EXISTS connections (
         charge_point_id text PRIMARY KEY,
         gateway_id text NOT NULL,
         gateway_url text NOT NULL,
         epoch bigint NOT NULL,
         connected boolean NOT NULL,
         clean boolean NOT NULL,
         scan_from bigint NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now())`,
      `CREATE TABLE IF NOT EXISTS chain_heads (
         charge_point_id text PRIMARY KEY,
         seq bigint NOT NULL,
         hash text NOT NULL,
         kafka_partition int NOT NULL,
         kafka_offset bigint NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now())`,
      `CREATE SEQUENCE IF NOT EXISTS transaction_ids START WITH 1 MAXVALUE 2147483647`,
    ],
  },
  {
    // One round trip per claim: read the previous holder's row under lock, take it over, return the stored head.
    id: 'gateway-002-claim-function',
    up: () => [
      `CREATE OR REPLACE FUNCTION claim_charger(p_cp text, p_gateway text, p_url text, p_scan_from bigint,
         OUT o_epoch bigint, OUT o_prev_clean boolean, OUT o_prev_scan_from bigint,
         OUT o_seq bigint, OUT o_hash text, OUT o_partition int, OUT o_offset bigint)
       LANGUAGE plpgsql SET search_path = ${quoteIdent(schema)}, public AS $fn$
       BEGIN
         SELECT c.clean, c.scan_from INTO o_prev_clean, o_prev_scan_from FROM connections c WHERE c.charge_point_id = p_cp FOR UPDATE;
         INSERT INTO connections AS c (charge_point_id, gateway_id, gateway_url, epoch, connected, clean, scan_from)
           VALUES (p_cp, p_gateway, p_url, 1, true, false, p_scan_from)
           ON CONFLICT (charge_point_id) DO UPDATE SET gateway_id = p_gateway, gateway_url = p_url, epoch = c.epoch + 1,
             connected = true, clean = false, scan_from = p_scan_from, updated_at = now()
           RETURNING c.epoch INTO o_epoch;
         SELECT h.seq, h.hash, h.kafka_partition, h.kafka_offset INTO o_seq, o_hash, o_partition, o_offset
           FROM chain_heads h WHERE h.charge_point_id = p_cp;
       END $fn$`,
    ],
  },
  {
    // Instance leases (instance-lease.ts), the holder's incarnation in `connections` (so a new claim knows whom to
    // fence), and the commands ledger (command-ledger.ts).
    id: 'gateway-003-instances-fencing-ledger',
    up: () => [
      `CREATE TABLE IF NOT EXISTS gateway_instances (
         instance_id text PRIMARY KEY,
         gateway_id text NOT NULL,
         url text NOT NULL,
         lease_until timestamptz NOT NULL,
         started_at timestamptz NOT NULL DEFAULT now())`,
      `ALTER TABLE connections ADD COLUMN IF NOT EXISTS instance_id text`,
      `CREATE TABLE IF NOT EXISTS command_ledger (
         command_id text PRIMARY KEY,
         charge_point_id text NOT NULL,
         command jsonb NOT NULL,
         owner_instance text NOT NULL,
         deadline bigint NOT NULL,
         state text NOT NULL CHECK (state IN ('pending', 'decided', 'published')),
         result jsonb,
         created_at timestamptz NOT NULL DEFAULT now(),
         decided_at timestamptz)`,
      `CREATE INDEX IF NOT EXISTS command_ledger_open ON command_ledger (owner_instance) WHERE state <> 'published'`,
      `CREATE OR REPLACE FUNCTION claim_charger_v2(p_cp text, p_gateway text, p_instance text, p_url text, p_scan_from bigint,
         OUT o_epoch bigint, OUT o_prev_clean boolean, OUT o_prev_scan_from bigint, OUT o_prev_gateway text,
         OUT o_prev_instance text, OUT o_prev_url text, OUT o_prev_epoch bigint, OUT o_prev_connected boolean,
         OUT o_seq bigint, OUT o_hash text, OUT o_partition int, OUT o_offset bigint)
       LANGUAGE plpgsql SET search_path = ${quoteIdent(schema)}, public AS $fn$
       BEGIN
         SELECT c.clean, c.scan_from, c.gateway_id, c.instance_id, c.gateway_url, c.epoch, c.connected
           INTO o_prev_clean, o_prev_scan_from, o_prev_gateway, o_prev_instance, o_prev_url, o_prev_epoch, o_prev_connected
           FROM connections c WHERE c.charge_point_id = p_cp FOR UPDATE;
         INSERT INTO connections AS c (charge_point_id, gateway_id, instance_id, gateway_url, epoch, connected, clean, scan_from)
           VALUES (p_cp, p_gateway, p_instance, p_url, 1, true, false, p_scan_from)
           ON CONFLICT (charge_point_id) DO UPDATE SET gateway_id = p_gateway, instance_id = p_instance, gateway_url = p_url,
             epoch = c.epoch + 1, connected = true, clean = false, scan_from = p_scan_from, updated_at = now()
           RETURNING c.epoch INTO o_epoch;
         SELECT h.seq, h.hash, h.kafka_partition, h.kafka_offset INTO o_seq, o_hash, o_partition, o_offset
           FROM chain_heads h WHERE h.charge_point_id = p_cp;
       END $fn$`,
    ],
  },
];

interface ClaimRow {
  o_epoch: string;
  o_prev_clean: boolean | null;
  o_prev_scan_from: string | null;
  o_prev_gateway: string | null;
  o_prev_instance: string | null;
  o_prev_url: string | null;
  o_prev_epoch: string | null;
  o_prev_connected: boolean | null;
  o_seq: string | null;
  o_hash: string | null;
  o_partition: number | null;
  o_offset: string | null;
}

const claimOf = (row: ClaimRow): Claim => {
  const head: StoredHead | undefined = row.o_seq === null ? undefined : { seq: Number(row.o_seq), hash: row.o_hash!, partition: row.o_partition!, offset: Number(row.o_offset) };
  const epoch = Number(row.o_epoch);
  const previous: PreviousHolder | undefined =
    row.o_prev_gateway === null
      ? undefined
      : { gatewayId: row.o_prev_gateway, instanceId: row.o_prev_instance, url: row.o_prev_url!, epoch: Number(row.o_prev_epoch), connected: row.o_prev_connected!, scanFrom: Number(row.o_prev_scan_from) };
  // No previous row, or released cleanly: the stored head is authoritative.
  if (row.o_prev_clean === null || row.o_prev_clean) return { epoch, previous, head, scanFrom: undefined };
  return { epoch, previous, head, scanFrom: Math.max(head ? head.offset + 1 : 0, Number(row.o_prev_scan_from)) };
};

export const createGatewayStore = async (pool: Pool, schema: string): Promise<GatewayStore> => {
  await migrate(pool, schema, migrations(schema));
  const s = quoteIdent(schema);
  return {
    claim: async (cp, gatewayId, instanceId, url, scanFrom) => {
      const r = await pool.query<ClaimRow>(`SELECT * FROM ${s}.claim_charger_v2($1, $2, $3, $4, $5)`, [cp, gatewayId, instanceId, url, scanFrom]);
      return claimOf(r.rows[0]!);
    },
    claimMany: (requests, gatewayId, instanceId, url, bounds) =>
      withTransaction(pool, async (client) => {
        const sorted = [...requests].sort((a, b) => (a.chargePointId < b.chargePointId ? -1 : a.chargePointId > b.chargePointId ? 1 : 0));
        await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(bounds.lockWaitMs))}`);
        await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.round(bounds.statementMs))}`);
        const r = await client.query<ClaimRow & { charge_point_id: string }>(
          `SELECT u.cp AS charge_point_id, c.* FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u(cp, scan_from, i)
             CROSS JOIN LATERAL ${s}.claim_charger_v2(u.cp, $3, $4, $5, u.scan_from) c ORDER BY u.i`,
          [sorted.map((q) => q.chargePointId), sorted.map((q) => q.scanFrom), gatewayId, instanceId, url],
        );
        const byId = new Map(r.rows.map((row) => [row.charge_point_id, claimOf(row)]));
        return requests.map((q) => byId.get(q.chargePointId)!);
      }),
    restore: async (cp, claim) => {
      const p = claim.previous;
      if (!p) return;
      await pool.query(
        `UPDATE ${s}.connections SET gateway_id = $3, instance_id = $4, gateway_url = $5, connected = $6, clean = false, scan_from = $7, updated_at = now()
         WHERE charge_point_id = $1 AND epoch = $2`,
        [cp, claim.epoch, p.gatewayId, p.instanceId, p.url, p.connected, p.scanFrom],
      );
    },
    epochs: async (cps) => {
      const r = await pool.query<{ charge_point_id: string; epoch: string; instance_id: string | null }>(`SELECT charge_point_id, epoch, instance_id FROM ${s}.connections WHERE charge_point_id = ANY($1::text[])`, [cps]);
      return new Map(r.rows.map((row) => [row.charge_point_id, { epoch: Number(row.epoch), instanceId: row.instance_id }]));
    },
    abandon: async (cp, claim) => {
      await pool.query(`UPDATE ${s}.connections SET connected = false, clean = $3, scan_from = COALESCE($4, scan_from), updated_at = now() WHERE charge_point_id = $1 AND epoch = $2`, [
        cp,
        claim.epoch,
        claim.scanFrom === undefined,
        claim.scanFrom ?? null,
      ]);
    },
    release: (cp, epoch, writeLast) =>
      withTransaction(pool, async (client) => {
        const r = await client.query<{ epoch: string }>(`SELECT epoch FROM ${s}.connections WHERE charge_point_id = $1 FOR UPDATE`, [cp]);
        if (r.rows.length === 0 || Number(r.rows[0]!.epoch) !== epoch) return false;
        let head: StoredHead | undefined;
        let clean = true;
        try {
          head = await writeLast();
          clean = head !== undefined;
        } catch {
          clean = false;
        }
        if (head) {
          await client.query(
            `INSERT INTO ${s}.chain_heads AS h (charge_point_id, seq, hash, kafka_partition, kafka_offset) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (charge_point_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, kafka_partition = excluded.kafka_partition,
               kafka_offset = excluded.kafka_offset, updated_at = now() WHERE h.seq < excluded.seq`,
            [cp, head.seq, head.hash, head.partition, head.offset],
          );
        }
        await client.query(`UPDATE ${s}.connections SET connected = false, clean = $2, updated_at = now() WHERE charge_point_id = $1`, [cp, clean]);
        return true;
      }),
    owner: async (cp, graceMs = 0) => {
      const r = await pool.query<{ gateway_id: string; instance_id: string | null; gateway_url: string; epoch: string; connected: boolean; alive: boolean | null }>(
        `SELECT c.gateway_id, c.instance_id, c.gateway_url, c.epoch, c.connected, i.lease_until + $2 * interval '1 millisecond' >= now() AS alive
           FROM ${s}.connections c LEFT JOIN ${s}.gateway_instances i ON i.instance_id = c.instance_id WHERE c.charge_point_id = $1`,
        [cp, graceMs],
      );
      const row = r.rows[0];
      return row
        ? { gatewayId: row.gateway_id, instanceId: row.instance_id, url: row.gateway_url, epoch: Number(row.epoch), connected: row.connected, holderAlive: row.alive === true }
        : undefined;
    },
    saveHeads: async (heads) => {
      if (heads.size === 0) return;
      const ids: string[] = [];
      const seqs: number[] = [];
      const hashes: string[] = [];
      const parts: number[] = [];
      const offsets: number[] = [];
      for (const [cp, h] of heads) {
        ids.push(cp);
        seqs.push(h.seq);
        hashes.push(h.hash);
        parts.push(h.partition);
        offsets.push(h.offset);
      }
      // Monotonic: a late write of an older head never overwrites a newer one.
      await pool.query(
        `INSERT INTO ${s}.chain_heads AS h (charge_point_id, seq, hash, kafka_partition, kafka_offset)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::bigint[])
         ON CONFLICT (charge_point_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,
           kafka_partition = excluded.kafka_partition, kafka_offset = excluded.kafka_offset, updated_at = now()
         WHERE h.seq < excluded.seq`,
        [ids, seqs, hashes, parts, offsets],
      );
    },
    reserveTransactionIds: async (n) => {
      const r = await pool.query<{ id: string }>(`SELECT nextval('${s}.transaction_ids') AS id FROM generate_series(1, $1)`, [n]);
      return r.rows.map((row) => Number(row.id));
    },
  };
};
