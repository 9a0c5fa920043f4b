import { ClientBase } from 'pg';

/** The one place that knows whether TimescaleDB is there. With it: hypertables, compression and retention policies,
 *  continuous aggregates. Without it (many managed PostgreSQL services): the same tables with BRIN/B-tree indexes
 *  fit for time ranges, date_bin instead of time_bucket, materialized views refreshed by the sink. */
export interface Dialect {
  readonly timescale: boolean;
  /** Statements that turn `table` into a time-partitioned table (or index it for time ranges). */
  timeSeries(table: string, timeColumn: string, opts?: { segmentBy?: string; compressAfter?: string; retainFor?: string; chunk?: string }): string[];
  /** SQL expression bucketing `column` into `interval` wide buckets, aligned to the epoch. */
  timeBucket(interval: string, column: string): string;
  /** Statements creating an aggregate view `name` over `select` (which must use timeBucket). */
  aggregateView(name: string, select: string): string[];
  /** Statement bringing the aggregate view up to date. */
  refreshAggregate(name: string): string;
}

const timescale: Dialect = {
  timescale: true,
  timeSeries: (table, timeColumn, opts = {}) => {
    const out = [
      `SELECT create_hypertable('${table}', '${timeColumn}', chunk_time_interval => INTERVAL '${opts.chunk ?? '1 day'}', if_not_exists => TRUE, migrate_data => TRUE)`,
    ];
    if (opts.compressAfter) {
      const seg = opts.segmentBy ? `, timescaledb.compress_segmentby = '${opts.segmentBy}'` : '';
      out.push(`ALTER TABLE ${table} SET (timescaledb.compress${seg})`);
      out.push(`SELECT add_compression_policy('${table}', INTERVAL '${opts.compressAfter}', if_not_exists => TRUE)`);
    }
    if (opts.retainFor) out.push(`SELECT add_retention_policy('${table}', INTERVAL '${opts.retainFor}', if_not_exists => TRUE)`);
    return out;
  },
  timeBucket: (interval, column) => `time_bucket(INTERVAL '${interval}', ${column})`,
  aggregateView: (name, select) => [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${name} WITH (timescaledb.continuous) AS ${select} WITH NO DATA`],
  refreshAggregate: (name) => `CALL refresh_continuous_aggregate('${name}', NULL, NULL)`,
};

const plain: Dialect = {
  timescale: false,
  timeSeries: (table, timeColumn, opts = {}) => [
    `CREATE INDEX IF NOT EXISTS ${table}_${timeColumn}_brin ON ${table} USING BRIN (${timeColumn})`,
    ...(opts.segmentBy ? [`CREATE INDEX IF NOT EXISTS ${table}_${opts.segmentBy.split(',')[0]!.trim()}_${timeColumn}_idx ON ${table} (${opts.segmentBy.split(',')[0]!.trim()}, ${timeColumn})`] : []),
  ],
  timeBucket: (interval, column) => `date_bin(INTERVAL '${interval}', ${column}, TIMESTAMPTZ '1970-01-01 00:00:00+00')`,
  aggregateView: (name, select) => [`CREATE MATERIALIZED VIEW IF NOT EXISTS ${name} AS ${select} WITH NO DATA`],
  refreshAggregate: (name) => `REFRESH MATERIALIZED VIEW ${name}`,
};

export const dialectFor = (hasTimescale: boolean): Dialect => (hasTimescale ? timescale : plain);

/** Uses TimescaleDB when the extension is installed or can be installed; plain PostgreSQL otherwise. */
export const detectDialect = async (client: ClientBase): Promise<Dialect> => {
  const available = await client.query(`SELECT installed_version FROM pg_available_extensions WHERE name = 'timescaledb'`);
  if (available.rowCount === 0) return plain;
  if (!available.rows[0].installed_version) {
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
    } catch {
      return plain;
    }
  }
  return timescale;
};
