import { Pool } from 'pg';
import { createPool } from '../../../services/common/db';

/** Per-query latency on the embedded database with N clients at once: each client loops over a point read (three
 *  in four) and a one-row upsert in its own transaction, for a fixed time. */
export interface ClientLatency {
  readonly clients: number;
  readonly queries: number;
  readonly perSecond: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** the point reads alone: one query each */
  readonly readP50Ms: number;
  readonly readP99Ms: number;
  /** the write transactions alone: three round trips each */
  readonly writeP50Ms: number;
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

const prepare = async (pool: Pool, schema: string) => {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${schema}.kv (k int PRIMARY KEY, v bigint NOT NULL)`);
  await pool.query(`INSERT INTO ${schema}.kv SELECT g, 0 FROM generate_series(1, 10000) g ON CONFLICT DO NOTHING`);
};

export const measureClients = async (url: string, clients: number, seconds: number, schema: string): Promise<ClientLatency> => {
  const pool = createPool({ url, embedded: true, max: clients });
  try {
    await prepare(pool, schema);
    const latencies: number[] = [];
    const reads: number[] = [];
    const writes: number[] = [];
    const until = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const client = await pool.connect();
        try {
          for (let i = 0; Date.now() < until; i++) {
            const k = ((i * 7919 + c * 104729) % 10000) + 1;
            const t0 = performance.now();
            if (i % 4 === 3) {
              await client.query('BEGIN');
              await client.query(`INSERT INTO ${schema}.kv VALUES ($1, 1) ON CONFLICT (k) DO UPDATE SET v = kv.v + 1`, [k]);
              await client.query('COMMIT');
            } else {
              await client.query(`SELECT v FROM ${schema}.kv WHERE k = $1`, [k]);
            }
            const ms = performance.now() - t0;
            latencies.push(ms);
            (i % 4 === 3 ? writes : reads).push(ms);
          }
        } finally {
          client.release();
        }
      }),
    );
    const sorted = [...latencies].sort((a, b) => a - b);
    const sortedReads = [...reads].sort((a, b) => a - b);
    const sortedWrites = [...writes].sort((a, b) => a - b);
    return {
      clients,
      queries: latencies.length,
      perSecond: Math.round(latencies.length / seconds),
      meanMs: latencies.reduce((a, b) => a + b, 0) / latencies.length,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      readP50Ms: percentile(sortedReads, 0.5),
      readP99Ms: percentile(sortedReads, 0.99),
      writeP50Ms: percentile(sortedWrites, 0.5),
    };
  } finally {
    await pool.end();
  }
};
