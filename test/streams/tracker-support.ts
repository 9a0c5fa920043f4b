import { Kafka } from 'kafkajs';
import { TopicSerde } from '../../schemas/registry';
import { ensureTopics } from '../../services/common/kafka';
import { Logger } from '../../services/common/log';
import { Changelog, changelogOf } from '../../streams/runtime/changelog';
import { RunningFold } from '../../streams/runtime/run-fold';
import { TrackerState } from '../../streams/vehicle-tracker/decide';
import { TrackerTopics } from '../../streams/vehicle-tracker/fold';
import { RunningRouter, startRouter, startSiteTracker, TrackerOptions } from '../../streams/vehicle-tracker/run';
import { uniq } from '../support/stack';
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
  const tracker = await startSiteTracker({ ...common, groupId: groups.tracker, transactionalIdPrefix: opts.transactionalIdPrefix, changelog: trackerChangelog(topics), part: opts.part });
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
