import { Kafka } from 'kafkajs';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { decodePlanRecord } from '../../schemas/plan-record';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { migrate } from '../../infra/database/migrate';
import { Dialect } from '../../infra/database/dialect';
import { Logger } from '../../services/common/log';
import { fromAvro } from '../../schemas/events';
import { configFromAvro } from '../../schemas/fleet-config';
import { TopicSerde } from '../../schemas/registry';
import { Topics } from '../../schemas/topics';
import { millis } from '../normalizer/frame';
import { applyBatch } from '../sink/apply';
import { UnapplicableRecord } from '../sink/apply-errors';
import { CommandResultCodec, decodeChargingEvent, decodeWith } from '../../schemas/records';
import { decodeOcppCommand } from '../../schemas/command-record';
import { keepingChargerTime, withPlausibleTime } from './charger-time';
import { acceptsCopyFromStdin } from '../sink/sql';
import { refreshLoadAggregate } from './load-aggregate';
import { PgSink, SinkRecord, startPgSink } from '../sink/pg-sink';
import { projections, projectionTopics } from './index';
import { projectionMigrations } from './migrations';
import { ProjectionInput, TelematicsReading } from './projection';
import { catalog } from '../../schemas/catalog';

/** toInput for the sink: a record that does not decode to its topic's domain type is unapplicable (set aside), and an
 *  implausible charger time gives way to the receive time. */
const sinkInput = (r: SinkRecord, topic: string): ProjectionInput | undefined => {
  let input: ProjectionInput | undefined;
  try {
    input =
      topic === Topics.chargingEvents
        ? { kind: 'event', event: E.getOrElseW((why: string): never => { throw new Error(why); })(decodeChargingEvent(r.value)) }
        : toInput({ topic, value: r.value });
  } catch (e) {
    throw new UnapplicableRecord(`${topic} record does not decode: ${(e as Error).message}`);
  }
  return input && withPlausibleTime(input, r.timestamp);
};

const orThrow = <A>(d: E.Either<string, A>): A => E.getOrElseW((why: string): never => { throw new Error(why); })(d);

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
    case Topics.optimizerPlans:
      return pipe(
        decodePlanRecord(r.value),
        E.fold(
          (why) => {
            throw new Error(`optimizer.plans record does not decode: ${why}`);
          },
          (plan) => ({ kind: 'plan', plan }),
        ),
      );
    case Topics.ocppCommands:
      return { kind: 'command', command: orThrow(decodeOcppCommand(r.value)) };
    case Topics.ocppCommandResults:
      return { kind: 'commandResult', result: orThrow(decodeWith(CommandResultCodec)(r.value)) };
    case Topics.siteMeterReadings:
      return { kind: 'meterReading', meterReading: orThrow(catalog.siteMeterReadings.decode(r.value)) };
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
  readonly topics?: { readonly events: string; readonly readings: string; readonly config: string; readonly plans?: string; readonly commands?: string; readonly commandResults?: string; readonly siteMeterReadings?: string };
  /** How often the 15-minute load aggregate is refreshed while meter values arrive. */
  readonly refreshEveryMs?: number;
  readonly onProgress?: (applied: number) => void;
  /** Stop applying at these positions (replay up to a snapshot). */
  readonly stopAt?: ReadonlyMap<string, number>;
  readonly maxBytesPerPartition?: number;
  readonly sessionTimeoutMs?: number;
  /** Partitions applied in parallel (default 1; more needs as many database connections). */
  readonly partitionsConcurrently?: number;
  /** Where records that cannot be applied go (default streams.dead-letter; tests use their own). */
  readonly deadLetterTopic?: string;
}

export interface RunningProjections {
  readonly sink: PgSink;
  readonly dialect: Dialect;
  readonly topics: readonly string[];
  readonly groupId: string;
  refreshAggregates(): Promise<void>;
  stop(): Promise<void>;
}

/** The aggregate refresh takes at most 1/20 of the wall time. */
const REFRESH_COST_SHARE = 20;

/** Migrates the schema and runs every projection behind one exactly-once sink. */
export const startProjections = async (o: ProjectionsOptions): Promise<RunningProjections> => {
  const { dialect } = await migrate(o.pool, o.schema, projectionMigrations);
  const copy = await acceptsCopyFromStdin(o.pool);
  const topics = o.topics ?? { events: Topics.chargingEvents, readings: Topics.telematicsReadings, config: Topics.fleetConfig, plans: Topics.optimizerPlans, commands: Topics.ocppCommands, commandResults: Topics.ocppCommandResults, siteMeterReadings: Topics.siteMeterReadings };
  const roleOf = new Map<string, string>([
    [topics.events, Topics.chargingEvents],
    [topics.readings, Topics.telematicsReadings],
    [topics.config, Topics.fleetConfig],
    ...(topics.plans ? [[topics.plans, Topics.optimizerPlans] as [string, string]] : []),
    ...(topics.commands ? [[topics.commands, Topics.ocppCommands] as [string, string]] : []),
    ...(topics.commandResults ? [[topics.commandResults, Topics.ocppCommandResults] as [string, string]] : []),
    ...(topics.siteMeterReadings ? [[topics.siteMeterReadings, Topics.siteMeterReadings] as [string, string]] : []),
  ]);
  // Earliest meter sample time written since the last refresh of the load aggregate (-Infinity: unknown, all of it;
  // an earlier run may have written samples it never refreshed). Taken at commit, so a refresh that starts after it
  // sees the rows.
  let loadChangedFrom = -Infinity;
  const meterFrom = new WeakMap<readonly SinkRecord[], number>();
  const refreshNow = async () => {
    const from = loadChangedFrom;
    if (from === Infinity) return;
    loadChangedFrom = Infinity;
    try {
      await refreshLoadAggregate(o.pool, dialect, o.schema, from === -Infinity ? null : from);
    } catch (e) {
      loadChangedFrom = Math.min(loadChangedFrom, from);
      throw e;
    }
  };
  // In the background, one at a time, and never more than 1/REFRESH_COST_SHARE of the time.
  const refreshEvery = o.refreshEveryMs ?? 15_000;
  let nextRefreshAt = 0;
  let refreshing: Promise<void> | null = null;
  /** On demand (tests, replays): after the refresh in progress, if any, one that covers everything committed so far. */
  const refreshAggregates = async () => {
    while (refreshing) await refreshing;
    const now = refreshNow();
    refreshing = now.catch(() => undefined).finally(() => (refreshing = null));
    await now;
  };
  const refreshInBackground = () => {
    const t0 = Date.now();
    refreshing = refreshNow()
      .catch((e: unknown) => o.log.warn('aggregate refresh failed', { err: e as Error }))
      .finally(() => {
        nextRefreshAt = Date.now() + Math.max(refreshEvery, REFRESH_COST_SHARE * (Date.now() - t0));
        refreshing = null;
      });
  };
  const groupId = o.groupId ?? `voltstream-projections-${o.schema}`;
  const projecting = keepingChargerTime(projections);
  const sink = await startPgSink({
    name: 'projections',
    groupId,
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
    ...(o.deadLetterTopic ? { deadLetterTopic: o.deadLetterTopic } : {}),
    apply: async (client, records) => {
      const inputs: ProjectionInput[] = [];
      let earliestSample = Infinity;
      for (const r of records) {
        const i = sinkInput(r, roleOf.get(r.topic) ?? r.topic);
        if (!i) continue;
        inputs.push(i);
        if (i.kind === 'event' && i.event.body.type === 'MeterSampled') earliestSample = Math.min(earliestSample, i.event.occurredAt);
      }
      await applyBatch(client, projecting, inputs, { copy });
      meterFrom.set(records, earliestSample);
    },
    afterCommit: async (records) => {
      loadChangedFrom = Math.min(loadChangedFrom, meterFrom.get(records) ?? Infinity);
      if (loadChangedFrom === Infinity || refreshing || Date.now() < nextRefreshAt) return;
      refreshInBackground();
    },
  });
  const stop = async () => {
    await sink.stop();
    await refreshing;
  };
  return { sink, dialect, topics: [...roleOf.keys()], groupId, refreshAggregates, stop };
};

export { projectionTopics };
