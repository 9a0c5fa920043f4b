import { Kafka } from 'kafkajs';
import { TopicSerde } from '../../schemas/registry';
import { ensureTopics } from '../../services/common/kafka';
import { Logger } from '../../services/common/log';
import { Changelog, changelogOf } from '../../streams/runtime/changelog';
import { startPartitionReader } from '../../streams/runtime/partition-reader';
import { RunningFold } from '../../streams/runtime/run-fold';
import { TrackerState } from '../../streams/vehicle-tracker/decide';
import { TrackerTopics } from '../../streams/vehicle-tracker/fold';
import { RunningRouter, startRouter, startSiteTracker, TrackerOptions } from '../../streams/vehicle-tracker/run';
import { ReadRecord, uniq } from '../support/stack';
import { deleteTestTopics, quietLog, TestTopics, waitForGroup } from './support';

/** The vehicle tracker (router + site tracker, as the service runs them) over a test's own topics. */
export type TrackerTestTopics = TestTopics & { readonly bySite: string };

/** The test's own topics (as createTestTopics makes them) plus its vehicle-tracker.by-site. Creation is retried: on a
 *  loaded broker, waiting for the leaders of new partitions can outlast kafkajs's own retries, and ensureTopics only
 *  creates what is still missing. */
export const createTrackerTestTopics = async (kafka: Kafka, partitions: number): Promise<TrackerTestTopics> => {
  const id = uniq('t');
  const topics: TrackerTestTopics = {
    frames: `test.${id}.ocpp.frames`,
    commandResults: `test.${id}.ocpp.command-results`,
    events: `test.${id}.charging.events`,
    readings: `test.${id}.telematics.readings`,
    config: `test.${id}.fleet.config`,
    bySite: `test.${id}.vehicle-tracker.by-site`,
  };
  const spec = (name: string, p?: number) => ({ name, schemaFile: '', key: '', producer: 'test', configs: {}, ...(p ? { partitions: p } : {}) });
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await ensureTopics(admin, { partitions, replicationFactor: 1 }, [spec(topics.frames), spec(topics.commandResults), spec(topics.events), spec(topics.readings), spec(topics.config, 1), spec(topics.bySite)]);
        return topics;
      } catch (e) {
        if (attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  } finally {
    await admin.disconnect();
  }
};

export const trackerTopicsOf = (t: TrackerTestTopics): TrackerTopics => ({ events: t.events, readings: t.readings, config: t.config, bySite: t.bySite });

export const trackerChangelog = (t: TrackerTestTopics): Changelog => changelogOf('vehicle-tracker', 'sites', t.bySite.replace(/vehicle-tracker\.by-site$/, 'vehicle-tracker.sites.changelog'));

export const trackerGroups = (groupId: string) => ({ router: `${groupId}-router`, tracker: groupId });

export interface TestTracker {
  readonly router: RunningRouter;
  readonly tracker: RunningFold<TrackerState>;
  stop(): Promise<void>;
}

export const startTestTracker = async (
  kafka: Kafka,
  serde: TopicSerde,
  topics: TrackerTestTopics,
  groupId: string,
  opts: { log?: Logger; transactionalIdPrefix: string } & Partial<Pick<TrackerOptions, 'maxBytesPerPartition' | 'sessionTimeoutMs' | 'onCommitted' | 'part'>>,
): Promise<TestTracker> => {
  const common = { kafka, serde, log: opts.log ?? quietLog, topics: trackerTopicsOf(topics), maxBytesPerPartition: opts.maxBytesPerPartition, sessionTimeoutMs: opts.sessionTimeoutMs, onCommitted: opts.onCommitted };
  const groups = trackerGroups(groupId);
  const router = await startRouter({ ...common, groupId: groups.router, transactionalIdPrefix: `${opts.transactionalIdPrefix}-router` });
  const tracker = await startSiteTracker({ ...common, groupId: groups.tracker, transactionalIdPrefix: opts.transactionalIdPrefix, changelog: trackerChangelog(topics), part: opts.part }).catch(async (e: unknown) => {
    await router.stop().catch(() => undefined);
    throw e;
  });
  return {
    router,
    tracker,
    stop: async () => {
      await router.stop();
      await tracker.stop();
    },
  };
};

/** Until the router has routed every input and the tracker folded every routed record (the tracker's outputs land on
 *  charging.events, which the router reads and drops: one more round settles it). */
export const waitForTracker = async (kafka: Kafka, topics: TrackerTestTopics, groupId: string, timeoutMs = 60_000): Promise<void> => {
  const groups = trackerGroups(groupId);
  const inputs = [topics.events, topics.readings, topics.config];
  await waitForGroup(kafka, groups.router, inputs, timeoutMs);
  await waitForGroup(kafka, groups.tracker, [topics.bySite], timeoutMs);
  await waitForGroup(kafka, groups.router, inputs, timeoutMs);
};

export const deleteTrackerTestTopics = async (kafka: Kafka, topics: TrackerTestTopics): Promise<void> => {
  await deleteTestTopics(kafka, { ...topics });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [trackerChangelog(topics).name] }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
};

/** Every committed record of `topic` up to its end offsets now, decoded, in partition and offset order. Read with the
 *  runtime's partition reader, which steps over transaction markers and aborted records: a transactional topic's end
 *  offsets count those too, so "as many records as the end offsets add up to" is never reached. */
export const readCommitted = async <T = Record<string, unknown>>(kafka: Kafka, serde: TopicSerde, topic: string, timeoutMs = 60_000): Promise<ReadRecord<T>[]> => {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const reader = await startPartitionReader({ kafka, groupId: uniq('test-committed-reader'), topics: [topic], log: quietLog });
  const out: ReadRecord<T>[] = [];
  try {
    for (const p of [...offsets].sort((a, b) => a.partition - b.partition)) {
      const read = reader.read(topic, p.partition, Number(p.low), Number(p.high), async (records) => {
        for (const m of records) if (m.value) out.push({ key: m.key?.toString() ?? null, value: await serde.decode<T>(m.value), partition: p.partition, offset: m.offset, headers: m.headers });
      });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${topic}[${p.partition}] not read up to ${p.high} within ${timeoutMs} ms (an open transaction?)`)), timeoutMs)));
      await Promise.race([read, late]).finally(() => clearTimeout(timer));
    }
  } finally {
    await reader.stop();
  }
  return out;
};
