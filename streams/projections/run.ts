import { Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { migrate } from '../../infra/database/migrate';
import { Dialect } from '../../infra/database/dialect';
import { quoteIdent } from '../../services/common/db';
import { Logger } from '../../services/common/log';
import { fromAvro } from '../../schemas/events';
import { configFromAvro } from '../../schemas/fleet-config';
import { TopicSerde } from '../../schemas/registry';
import { Topics } from '../../schemas/topics';
import { millis } from '../normalizer/frame';
import { applyBatch } from '../sink/apply';
import { acceptsCopyFromStdin } from '../sink/sql';
import { PgSink, SinkRecord, startPgSink } from '../sink/pg-sink';
import { projections, projectionTopics } from './index';
import { projectionMigrations } from './migrations';
import { ProjectionInput, TelematicsReading } from './projection';

const nullableMillis = (v: unknown): number | null => (v === null || v === undefined ? null : millis(v));

/** A decoded record of an input topic → what the projections fold. */
export const toInput = (r: Pick<SinkRecord, 'topic' | 'value'>): ProjectionInput | undefined => {
  switch (r.topic) {
    case Topics.telematicsReadings: {
      const v = r.value as unknown as TelematicsReading;
      return { kind: 'reading', reading: { ...v, readingAt: millis(v.readingAt), receivedAt: millis(v.receivedAt), etaAt: nullableMillis(v.etaAt) } };
    }
    case Topics.fleetConfig:
      return { kind: 'config', config: configFromAvro(r.value) };
    default:
      return { kind: 'event', event: fromAvro(r.value) };
  }
};

export interface ProjectionsOptions {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly pool: Pool;
  readonly log: Logger;
  readonly schema: string;
  readonly metrics?: Registry;
  /** Consumer group; default `voltstream-projections-<schema>`. */
  readonly groupId?: string;
  /** Input topics (tests use their own); default charging.events, telematics.readings, fleet.config, in the role of those. */
  readonly topics?: { readonly events: string; readonly readings: string; readonly config: string };
  /** How often the 15-minute load aggregate is refreshed while meter values arrive. */
  readonly refreshEveryMs?: number;
  readonly onProgress?: (applied: number) => void;
  /** Stop applying at these positions (replay up to a snapshot). */
  readonly stopAt?: ReadonlyMap<string, number>;
  readonly maxBytesPerPartition?: number;
  readonly sessionTimeoutMs?: number;
  /** Partitions applied in parallel (default 1; more needs as many database connections). */
  readonly partitionsConcurrently?: number;
}

export interface RunningProjections {
  readonly sink: PgSink;
  readonly dialect: Dialect;
  readonly topics: readonly string[];
  refreshAggregates(): Promise<void>;
  stop(): Promise<void>;
}

/** The aggregate refresh takes at most 1/20 of the wall time. */
const REFRESH_COST_SHARE = 20;

/** Migrates the schema and runs every projection behind one exactly-once sink. */
export const startProjections = async (o: ProjectionsOptions): Promise<RunningProjections> => {
  const { dialect } = await migrate(o.pool, o.schema, projectionMigrations);
  const copy = await acceptsCopyFromStdin(o.pool);
  const topics = o.topics ?? { events: Topics.chargingEvents, readings: Topics.telematicsReadings, config: Topics.fleetConfig };
  const roleOf = new Map<string, string>([
    [topics.events, Topics.chargingEvents],
    [topics.readings, Topics.telematicsReadings],
    [topics.config, Topics.fleetConfig],
  ]);
  const refreshAggregates = async () => {
    await o.pool.query(dialect.refreshAggregate(`${quoteIdent(o.schema)}.charger_load_15m`));
  };
  // In the background, one at a time, and never more than 1/REFRESH_COST_SHARE of the time: a materialized view on
  // plain PostgreSQL is recomputed over the whole history, so its refresh grows with the table (a continuous
  // aggregate only re-materializes what changed).
  const refreshEvery = o.refreshEveryMs ?? 15_000;
  let nextRefreshAt = 0;
  let refreshing: Promise<void> | null = null;
  const refreshInBackground = () => {
    const t0 = Date.now();
    refreshing = refreshAggregates()
      .catch((e: unknown) => o.log.warn('aggregate refresh failed', { err: e as Error }))
      .finally(() => {
        nextRefreshAt = Date.now() + Math.max(refreshEvery, REFRESH_COST_SHARE * (Date.now() - t0));
        refreshing = null;
      });
  };
  const sink = await startPgSink({
    name: 'projections',
    groupId: o.groupId ?? `voltstream-projections-${o.schema}`,
    topics: [...roleOf.keys()],
    kafka: o.kafka,
    serde: o.serde,
    pool: o.pool,
    schema: o.schema,
    log: o.log,
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.stopAt ? { stopAt: o.stopAt } : {}),
    ...(o.maxBytesPerPartition ? { maxBytesPerPartition: o.maxBytesPerPartition } : {}),
    ...(o.sessionTimeoutMs ? { sessionTimeoutMs: o.sessionTimeoutMs } : {}),
    ...(o.partitionsConcurrently ? { partitionsConcurrently: o.partitionsConcurrently } : {}),
    apply: async (client, records) => {
      const inputs: ProjectionInput[] = [];
      for (const r of records) {
        const i = toInput({ topic: roleOf.get(r.topic) ?? r.topic, value: r.value });
        if (i) inputs.push(i);
      }
      await applyBatch(client, projections, inputs, { copy });
    },
    afterCommit: async (records) => {
      if (roleOf.get(records[0]?.topic ?? '') !== Topics.chargingEvents) return;
      if (refreshing || Date.now() < nextRefreshAt) return;
      refreshInBackground();
    },
  });
  const stop = async () => {
    await sink.stop();
    await refreshing;
  };
  return { sink, dialect, topics: [...roleOf.keys()], refreshAggregates, stop };
};

export { projectionTopics };
