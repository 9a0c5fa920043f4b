import { Pool } from 'pg';
import { Dialect } from '../../infra/database/dialect';
import { quoteIdent, withTransaction } from '../../services/common/db';

/** charger_load_15m: power per charger and connector in 15-minute buckets, from the Power.Active.Import totals of
 *  meter_values; site_load_15m sums it per site.
 *
 *  TimescaleDB: a continuous aggregate, which tracks what changed by itself. Plain PostgreSQL: a table that the
 *  projections service brings up to date from the earliest sample time it wrote since the last refresh. It began as a
 *  materialized view, but REFRESH recomputes one over the whole history: seconds of a core per refresh after a few
 *  million samples, growing without end. Meter values are only ever added, so recomputing every bucket from a given
 *  time onwards gives the same rows as recomputing everything. */
export const LOAD_AGGREGATE = 'charger_load_15m';

export const loadAggregateSelect = (d: Dialect, where = ''): string =>
  `SELECT ${d.timeBucket('15 minutes', 'at')} AS bucket, charge_point_id, connector_id,
     avg(value) AS avg_power_w, max(value) AS max_power_w, count(*) AS samples
   FROM meter_values
   WHERE measurand = 'Power.Active.Import' AND phase IS NULL${where}
   GROUP BY 1, charge_point_id, connector_id`;

export const siteLoadViewSql = (source: string): string =>
  `CREATE OR REPLACE VIEW site_load_15m AS
   SELECT l.bucket, c.site_id,
     sum(l.avg_power_w) / 1000.0 AS avg_power_kw,
     sum(l.max_power_w) / 1000.0 AS peak_power_kw_upper_bound,
     sum(l.avg_power_w) / 1000.0 * 0.25 AS energy_kwh,
     count(DISTINCT l.charge_point_id) AS chargers,
     max(s.grid_limit_kw) AS grid_limit_kw
   FROM ${source} l
   JOIN fleet_chargers c ON c.charge_point_id = l.charge_point_id
   LEFT JOIN fleet_sites s ON s.site_id = c.site_id
   GROUP BY l.bucket, c.site_id`;

/** Upsert of the buckets from `from` on (all of them without it) into `table`. */
const upsertBuckets = (d: Dialect, table: string, from: string | null): string =>
  `INSERT INTO ${table} (bucket, charge_point_id, connector_id, avg_power_w, max_power_w, samples)
   ${loadAggregateSelect(d, from === null ? '' : ` AND at >= ${d.timeBucket('15 minutes', from)}`)}
   ON CONFLICT (bucket, charge_point_id, connector_id)
   DO UPDATE SET avg_power_w = EXCLUDED.avg_power_w, max_power_w = EXCLUDED.max_power_w, samples = EXCLUDED.samples`;

/** Plain PostgreSQL: the materialized view of streams-002 becomes a table of the same name, in one statement (so a
 *  migration interrupted half-way runs again cleanly). site_load_15m is re-pointed rather than dropped: views built on
 *  it (the analytics schema's) stay. */
export const loadTableMigration = (d: Dialect): string[] =>
  d.timescale
    ? []
    : [
        `DO $$ BEGIN
           IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = current_schema() AND c.relname = '${LOAD_AGGREGATE}' AND c.relkind = 'm') THEN
             CREATE TABLE ${LOAD_AGGREGATE}_new (
               bucket timestamptz NOT NULL, charge_point_id text NOT NULL, connector_id integer NOT NULL,
               avg_power_w double precision, max_power_w double precision, samples bigint NOT NULL,
               PRIMARY KEY (bucket, charge_point_id, connector_id));
             ${upsertBuckets(d, `${LOAD_AGGREGATE}_new`, null)};
             ${siteLoadViewSql(`${LOAD_AGGREGATE}_new`)};
             DROP MATERIALIZED VIEW ${LOAD_AGGREGATE};
             ALTER TABLE ${LOAD_AGGREGATE}_new RENAME TO ${LOAD_AGGREGATE};
             COMMENT ON TABLE ${LOAD_AGGREGATE} IS 'Power per charger and connector in 15-minute buckets (Power.Active.Import totals); brought up to date by the projections service';
           END IF;
         END $$`,
      ];

/** Brings charger_load_15m up to date: on plain PostgreSQL the buckets from `fromMs` on (epoch ms; null: all). */
export const refreshLoadAggregate = async (pool: Pool, d: Dialect, schema: string, fromMs: number | null): Promise<void> => {
  const table = `${quoteIdent(schema)}.${LOAD_AGGREGATE}`;
  if (d.timescale) {
    await pool.query(d.refreshAggregate(table));
    return;
  }
  // The SELECT names meter_values unqualified: the schema goes on the search path of this one transaction.
  await withTransaction(pool, async (client) => {
    await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}, public`);
    await client.query(upsertBuckets(d, table, fromMs === null ? null : 'to_timestamp($1 / 1000.0)'), fromMs === null ? [] : [fromMs]);
  });
};
