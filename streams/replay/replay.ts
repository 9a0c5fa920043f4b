import { Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { Logger } from '../../services/common/log';
import { TopicSerde } from '../../schemas/registry';
import { startProjections } from '../projections/run';
import { projectionTopics } from '../projections/index';
import { endOffsets } from '../sink/pg-sink';
import { compareDigests, Difference, digestSchema, sampleDifferences, snapshotSchema, TableDigest } from './digest';
import { projectionTables } from '../projections/tables';

/** Rebuilds every projection from offset 0 into `schema` (which must be new), up to `stopAt` positions or the current
 *  end of the log, and optionally compares it with `liveSchema` at the very same positions. */
export interface ReplayOptions {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly pool: Pool;
  readonly log: Logger;
  readonly schema: string;
  readonly liveSchema?: string;
  readonly topics?: { readonly events: string; readonly readings: string; readonly config: string; readonly plans?: string; readonly commands?: string; readonly commandResults?: string; readonly siteMeterReadings?: string };
  /** (applied, total) as the rebuild goes. */
  readonly onProgress?: (applied: number, total: number) => void;
  readonly timeoutMs?: number;
}

export interface ReplayResult {
  readonly records: number;
  readonly ms: number;
  readonly positions: ReadonlyMap<string, number>;
  readonly rebuilt: readonly TableDigest[];
  readonly live?: readonly TableDigest[];
  readonly differences?: readonly (Difference & { examples?: { onlyLive: unknown[]; onlyRebuilt: unknown[] } })[];
}

const lowOffsets = async (kafka: Kafka, topics: readonly string[]): Promise<Map<string, number>> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out = new Map<string, number>();
    for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) out.set(`${t}:${p.partition}`, Number(p.low));
    return out;
  } finally {
    await admin.disconnect();
  }
};

export const replay = async (o: ReplayOptions): Promise<ReplayResult> => {
  const t0 = Date.now();
  const inputTopics = o.topics ? [o.topics.events, o.topics.readings, o.topics.config, ...[o.topics.plans, o.topics.commands, o.topics.commandResults, o.topics.siteMeterReadings].filter((x): x is string => x !== undefined)] : projectionTopics;
  // The target: the live projections' positions (snapshot with their digests) or the end of the log.
  const live = o.liveSchema ? await snapshotSchema(o.pool, o.liveSchema) : undefined;
  const ends = await endOffsets(o.kafka, inputTopics);
  const lows = await lowOffsets(o.kafka, inputTopics);
  const targets = new Map<string, number>();
  for (const [tp, end] of ends) targets.set(tp, live ? (live.positions.get(tp) ?? lows.get(tp) ?? 0) : end);
  const total = [...targets].reduce((n, [tp, off]) => n + Math.max(0, off - (lows.get(tp) ?? 0)), 0);
  o.onProgress?.(0, total);
  const running = await startProjections({
    kafka: o.kafka,
    serde: o.serde,
    pool: o.pool,
    log: o.log,
    schema: o.schema,
    groupId: `voltstream-replay-${o.schema}`,
    ...(o.topics ? { topics: o.topics } : {}),
    refreshEveryMs: Number.MAX_SAFE_INTEGER,
    stopAt: targets,
    onProgress: (applied) => o.onProgress?.(applied, total),
  });
  try {
    await running.sink.reached(targets, o.timeoutMs ?? 30 * 60_000);
  } finally {
    await running.stop();
  }
  await running.refreshAggregates();
  o.onProgress?.(total, total);
  const rebuilt = await digestSchema(o.pool, o.schema);
  const ms = Date.now() - t0;
  if (!live || !o.liveSchema) return { records: total, ms, positions: targets, rebuilt };
  const differences = [];
  for (const d of compareDigests(live.digests, rebuilt)) {
    const t = projectionTables.find((x) => x.name === d.table)!;
    differences.push({ ...d, examples: await sampleDifferences(o.pool, t, o.liveSchema, o.schema) });
  }
  return { records: total, ms, positions: targets, rebuilt, live: live.digests, differences };
};
