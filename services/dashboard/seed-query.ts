import * as E from 'fp-ts/Either';
import { Pool, PoolClient } from 'pg';
import { quoteIdent, withTransaction } from '../common/db';
import { decodeWith } from '../common/decode';
import { LIMITS } from './model';
import { ACTUAL_ROWS_PER_SESSION, emptySeed, METER_ROWS_PER_CHARGER, Seed } from './seed';

/** Reads the dashboard's seed (./seed.ts) from the projection tables, in ONE read-only REPEATABLE READ transaction:
 *  the rows and the offsets the projections had applied when they were written (the sink stores both in the same
 *  transaction) are one snapshot, so following the topics from those offsets misses and repeats nothing.
 *
 *  Every query is bounded by live chargers, vehicles and sites (through the indexes named beside it), not by the
 *  length of the log: the per-charger and per-vehicle lookups walk an index backwards a bounded number of rows. */

const ms = (column: string) => `(extract(epoch from ${column}) * 1000)::float8`;

/** Chargers heard from within the look-back (charger_status, one row per charger). */
const chargersSql = (s: string) => `
  SELECT c.charge_point_id AS "chargePointId", c.online, c.protocol, ${ms('c.last_seen_at')} AS "lastSeenAt",
    (SELECT ${ms('max(m.at)')} FROM ${s}.meter_values m WHERE m.charge_point_id = c.charge_point_id AND m.at >= to_timestamp($1 / 1000.0)) AS "meterAt"
  FROM ${s}.charger_status c WHERE c.last_seen_at >= to_timestamp($1 / 1000.0)`;

const connectorsSql = (s: string) => `
  SELECT x.charge_point_id AS "chargePointId", x.connector_id AS "connectorId", x.status, ${ms('x.since')} AS since, x.session_id AS "sessionId"
  FROM ${s}.connector_status x JOIN ${s}.charger_status c ON c.charge_point_id = x.charge_point_id
  WHERE c.last_seen_at >= to_timestamp($1 / 1000.0)`;

const sessionColumns = `se.session_id AS "sessionId", se.charge_point_id AS "chargePointId", se.vehicle_id AS "vehicleId", ${ms('se.started_at')} AS "startedAt",
  ${ms('se.ended_at')} AS "endedAt", se.charger_soc_pct AS "chargerSocPct", ${ms('se.charger_soc_at')} AS "chargerSocAt"`;

/** The sessions running on the connectors, the latest of each charger (sessions_charger_started_idx), and the
 *  latest few of each vehicle (sessions_vehicle_started_idx) that ran within the look-back. */
const sessionsSql = (s: string) => `
  SELECT DISTINCT ${sessionColumns} FROM (
    SELECT se.* FROM ${s}.connector_status x JOIN ${s}.sessions se ON se.session_id = x.session_id
    UNION ALL
    SELECT l.* FROM ${s}.charger_status c
      CROSS JOIN LATERAL (SELECT * FROM ${s}.sessions se WHERE se.charge_point_id = c.charge_point_id ORDER BY se.started_at DESC LIMIT 1) l
      WHERE c.last_seen_at >= to_timestamp($1 / 1000.0)
    UNION ALL
    SELECT l.* FROM (SELECT vehicle_id FROM ${s}.fleet_vehicles UNION SELECT vehicle_id FROM ${s}.vehicle_state) v
      CROSS JOIN LATERAL (SELECT * FROM ${s}.sessions se WHERE se.vehicle_id = v.vehicle_id ORDER BY se.started_at DESC LIMIT 8) l
      WHERE l.ended_at IS NULL OR l.ended_at >= to_timestamp($1 / 1000.0)
  ) se`;

const meterColumns = `m.event_id AS "eventId", ${ms('m.at')} AS at, m.measurand, m.phase, m.unit, m.value`;

/** The latest power, register and SoC samples of each charger (meter_values by charge_point_id, at). */
const metersSql = (s: string) => `
  SELECT c.charge_point_id AS "chargePointId", ${meterColumns}
  FROM ${s}.charger_status c
  CROSS JOIN LATERAL (
    SELECT * FROM ${s}.meter_values m
    WHERE m.charge_point_id = c.charge_point_id AND m.at >= to_timestamp($1 / 1000.0)
      AND m.measurand IN ('Power.Active.Import', 'Energy.Active.Import.Register', 'SoC')
    ORDER BY m.at DESC LIMIT ${METER_ROWS_PER_CHARGER}) m
  WHERE c.last_seen_at >= to_timestamp($1 / 1000.0)`;

const vehicleSocSql = (s: string) => `
  SELECT vehicle_id AS "vehicleId", telematics_soc_pct AS "telematicsSocPct", ${ms('telematics_at')} AS "telematicsAt",
    estimate_soc_pct AS "estimateSocPct", estimate_uncertainty_pct AS "estimateUncertaintyPct", ${ms('estimate_at')} AS "estimateAt"
  FROM ${s}.vehicle_state`;

/** Power samples of each vehicle's matched sessions within the look-back, the latest of each session. */
const actualSql = (s: string) => `
  SELECT v.vehicle_id AS "vehicleId", se.charge_point_id AS "chargePointId", ${meterColumns}
  FROM (SELECT vehicle_id FROM ${s}.fleet_vehicles UNION SELECT vehicle_id FROM ${s}.vehicle_state) v
  CROSS JOIN LATERAL (SELECT * FROM ${s}.sessions se WHERE se.vehicle_id = v.vehicle_id ORDER BY se.started_at DESC LIMIT 8) se
  CROSS JOIN LATERAL (
    SELECT * FROM ${s}.meter_values m
    WHERE m.charge_point_id = se.charge_point_id AND m.at >= greatest(se.started_at, to_timestamp($1 / 1000.0)) AND m.at <= coalesce(se.ended_at, 'infinity')
      AND m.measurand = 'Power.Active.Import'
    ORDER BY m.at DESC LIMIT ${ACTUAL_ROWS_PER_SESSION}) m
  WHERE se.ended_at IS NULL OR se.ended_at >= to_timestamp($1 / 1000.0)`;

/** The latest plan of each site within the look-back (optimizer_plans_site_decided_idx). */
const plansSql = (s: string) => `
  SELECT p.plan_id AS "planId", p.site_id AS "siteId", ${ms('p.decided_at')} AS "decidedAt", p.trigger, p.status, ${ms('p.horizon_start')} AS "horizonStart",
    p.slot_minutes AS "slotMinutes", p.grid_limit_kw AS "gridLimitKw", p.site_kw AS "siteKw", p.vehicles, p.at_risk AS "atRisk"
  FROM (SELECT DISTINCT site_id FROM ${s}.fleet_sites) x
  CROSS JOIN LATERAL (SELECT * FROM ${s}.optimizer_plans p WHERE p.site_id = x.site_id AND p.decided_at >= to_timestamp($1 / 1000.0) ORDER BY p.decided_at DESC LIMIT 1) p`;

/** Site load in 15-minute buckets (site_load_15m over the charger_load_15m aggregate). */
const loadSql = (s: string) => `
  SELECT site_id AS "siteId", ${ms('bucket')} AS bucket, avg_power_kw::float8 AS kw FROM ${s}.site_load_15m
  WHERE bucket >= to_timestamp($1 / 1000.0) AND site_id IS NOT NULL ORDER BY bucket LIMIT ${LIMITS.loadPoints * 64}`;

/** The latest SetChargingProfile of each charger (commands_charger_issued_idx). */
const profilesSql = (s: string) => `
  SELECT c.charge_point_id AS "chargePointId", p.payload, ${ms('p.issued_at')} AS "issuedAt", p.outcome, p.status
  FROM ${s}.charger_status c
  CROSS JOIN LATERAL (
    SELECT * FROM ${s}.commands p
    WHERE p.charge_point_id = c.charge_point_id AND p.issued_at >= to_timestamp($1 / 1000.0) AND p.action = 'SetChargingProfile' AND p.payload IS NOT NULL
    ORDER BY p.issued_at DESC LIMIT 1) p
  WHERE c.last_seen_at >= to_timestamp($1 / 1000.0)`;

const positionsSql = (s: string) => `SELECT topic, partition, next_offset::float8 AS "nextOffset" FROM ${s}.stream_offsets WHERE consumer = $1`;

const rows = async (client: PoolClient, sql: string, params: unknown[]): Promise<unknown[]> => (await client.query(sql, params)).rows as unknown[];

/** Right(emptySeed) when the projections are not there (not migrated yet, another database): the feed then reads its
 *  look-back as before. Left: the tables are there but their rows do not decode. */
export const readSeed = async (pool: Pool, o: { schema: string; consumer: string; since: number }): Promise<E.Either<string, Seed>> => {
  const s = quoteIdent(o.schema);
  const present = await pool.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL AS ok`, [
    `${s}.stream_offsets`,
    `${s}.commands`,
    `${s}.site_load_15m`,
  ]);
  if (!present.rows[0]?.ok) return E.right(emptySeed);
  return withTransaction(
    pool,
    async (client) => {
      const since = [o.since];
      const raw = {
        positions: await rows(client, positionsSql(s), [o.consumer]),
        chargers: await rows(client, chargersSql(s), since),
        connectors: await rows(client, connectorsSql(s), since),
        sessions: await rows(client, sessionsSql(s), since),
        meters: await rows(client, metersSql(s), since),
        vehicleSoc: await rows(client, vehicleSocSql(s), []),
        actual: await rows(client, actualSql(s), since),
        plans: await rows(client, plansSql(s), since),
        load: await rows(client, loadSql(s), since),
        profiles: await rows(client, profilesSql(s), since),
      };
      return E.mapLeft((problems: string[]) => `projection rows do not decode: ${problems.slice(0, 5).join('; ')}`)(decodeWith(Seed)(raw));
    },
    'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
  );
};

/** How many rows a seed holds (what the restore read instead of the log). */
export const seedSize = (seed: Seed): number => Object.values(seed).reduce((n, rows: readonly unknown[]) => n + rows.length, 0);
