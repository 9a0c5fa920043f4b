import { Kafka } from 'kafkajs';
import { TopicSerde } from '../../schemas/registry';
import { Logger } from '../../services/common/log';
import { normalizerFold } from '../../streams/normalizer/fold';
import { ChargerState } from '../../streams/normalizer/decide';
import { Changelog, changelogOf } from '../../streams/runtime/changelog';
import { RunFoldOptions, RunningFold, runFold } from '../../streams/runtime/run-fold';
import { uniq } from '../support/stack';
import { quietLog, TestTopics } from './support';

/** The normalizer on the fold runtime over a test's own topics, with its own changelog topic beside them. */
export const testChangelog = (topics: Pick<TestTopics, 'frames'>): Changelog => changelogOf('normalizer', 'chargers', topics.frames.replace(/ocpp\.frames$/, 'normalizer.chargers.changelog'));

export const startFoldNormalizer = (
  kafka: Kafka,
  serde: TopicSerde,
  topics: TestTopics,
  groupId: string,
  opts: { log?: Logger; transactionalIdPrefix?: string; shape?: number } & Partial<Pick<RunFoldOptions<ChargerState, never, never, never>, 'maxBytesPerPartition' | 'sessionTimeoutMs' | 'onCommitted' | 'part'>> = {},
): Promise<RunningFold<ChargerState>> => {
  const fold = normalizerFold(topics);
  return runFold({
    // Another shape of the same state: what a changed codec would declare.
    fold: opts.shape === undefined ? fold : { ...fold, store: { ...fold.store, shape: opts.shape } },
    kafka,
    serde,
    log: opts.log ?? quietLog,
    groupId,
    transactionalIdPrefix: opts.transactionalIdPrefix ?? uniq('normalizer-tx'),
    changelog: testChangelog(topics),
    maxBytesPerPartition: opts.maxBytesPerPartition,
    sessionTimeoutMs: opts.sessionTimeoutMs,
    onCommitted: opts.onCommitted,
    part: opts.part,
  });
};

export const deleteChangelog = async (kafka: Kafka, topics: Pick<TestTopics, 'frames'>): Promise<void> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [testChangelog(topics).name] }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
};
