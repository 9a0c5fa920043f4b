import { Kafka } from 'kafkajs';
import { Benchmark, progress } from '../benchmark';
import { parseArgs } from '../../../services/cli/command';
import { loadConfig } from '../../../services/common/config';
import { createKafka } from '../../../services/common/kafka';
import { createLogger } from '../../../services/common/log';
import { createTopicSerde, TopicSerde } from '../../../schemas/registry';
import { createNormalizer } from '../../../streams/normalizer/processor';
import { committedOffsets, startKafkaProcessor } from '../../../streams/sink/kafka-processor';
import { endOffsets } from '../../../streams/sink/pg-sink';
import { createTestTopics, deleteTestTopics, TestTopics } from '../../streams/support';
import { deleteChangelog, startFoldNormalizer, testChangelog } from '../../streams/fold-support';
import { uniq } from '../../support/stack';
import { produceHistory, produceTail } from './history';

/** Restart time of the normalizer, from start to caught up (every input partition committed up to its end, a tail of
 *  new records included), on histories of N ocpp.frames records for C chargers: the old processor
 *  (streams/sink/kafka-processor.ts, which re-reads each partition's input from offset 0) against the fold runtime
 *  (streams/runtime, which restores the store from its changelog), same topics, same run. */

const log = createLogger('bench-restart', 'warn');

interface Stoppable {
  stop(): Promise<void>;
}

/** Starts a processor and waits until its group has committed every partition of `inputs` up to `ends`. */
const timeToCaughtUp = async (kafka: Kafka, groupId: string, inputs: readonly string[], label: string, start: () => Promise<Stoppable>): Promise<number> => {
  const ends = await endOffsets(kafka, inputs);
  const total = [...ends.values()].reduce((a, b) => a + b, 0);
  const bar = progress(label, total);
  const t = performance.now();
  const running = await start();
  try {
    for (;;) {
      const done = await committedOffsets(kafka, groupId, inputs);
      const committed = [...ends].reduce((a, [tp, end]) => a + Math.min(end, Math.max(0, done.get(tp) ?? 0)), 0);
      bar.tick(committed, `${((performance.now() - t) / 1000).toFixed(1)} s`);
      if ([...ends].every(([tp, end]) => end === 0 || (done.get(tp) ?? -1) >= end)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return (performance.now() - t) / 1000;
  } finally {
    await running.stop();
  }
};

const changelogRecords = async (kafka: Kafka, topic: string): Promise<{ live: number; compactedAway: number }> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return { live: offsets.reduce((a, p) => a + Number(p.high) - Number(p.low), 0), compactedAway: offsets.reduce((a, p) => a + Number(p.low), 0) };
  } finally {
    await admin.disconnect();
  }
};

interface RunResult {
  readonly records: number;
  readonly firstOld: number;
  readonly firstNew: number;
  readonly restartOld: number;
  readonly restartNew: number;
  readonly restoredKeys: number;
  readonly changelog: number;
}

const runOne = async (kafka: Kafka, serde: TopicSerde, records: number, chargers: number, partitions: number): Promise<RunResult> => {
  const topics: TestTopics = await createTestTopics(kafka, partitions);
  const inputs = [topics.frames, topics.commandResults];
  const prefix = uniq('RST');
  try {
    const produced = await produceHistory(kafka, serde, topics.frames, { records, chargers, prefix });
    const oldGroup = uniq('bench-restart-old');
    const newGroup = uniq('bench-restart-new');
    const oldTx = uniq('bench-restart-old-tx');
    const newTx = uniq('bench-restart-new-tx');
    const old = () => startKafkaProcessor({ name: 'normalizer', groupId: oldGroup, transactionalId: oldTx, inputs, output: topics.events, kafka, serde, log, processor: createNormalizer(topics) });
    let restoredKeys = 0;
    const fold = async () => {
      const running = await startFoldNormalizer(kafka, serde, topics, newGroup, { log, transactionalIdPrefix: newTx });
      return {
        stop: async () => {
          restoredKeys = [...running.stores().values()].reduce((a, s) => a + s.size, 0);
          await running.stop();
        },
      };
    };
    const firstOld = await timeToCaughtUp(kafka, oldGroup, inputs, 'old processor, first run', old);
    const firstNew = await timeToCaughtUp(kafka, newGroup, inputs, 'fold runtime, first run', fold);
    await produceTail(kafka, serde, topics.frames, { n: Math.min(1000, chargers), prefix, at: Date.UTC(2026, 6, 1) });
    const restartOld = await timeToCaughtUp(kafka, oldGroup, inputs, 'old processor, restart', old);
    const changelog = await changelogRecords(kafka, testChangelog(topics).name);
    const restartNew = await timeToCaughtUp(kafka, newGroup, inputs, 'fold runtime, restart', fold);
    return { records: produced, firstOld, firstNew, restartOld, restartNew, restoredKeys, changelog: changelog.live };
  } finally {
    await deleteTestTopics(kafka, topics);
    await deleteChangelog(kafka, topics);
  }
};

export const benchmark: Benchmark = {
  name: 'restart',
  summary: 'Normalizer restart to caught up: old re-reading processor vs fold runtime restoring from its changelog',
  run: async (args) => {
    const { flags } = parseArgs(args);
    const histories = String(flags.histories ?? '100000,1000000')
      .split(',')
      .map(Number);
    const chargers = Number(flags.chargers ?? 10000);
    const partitions = Number(flags.partitions ?? 6);
    const config = loadConfig();
    const kafka = createKafka(config, uniq('bench-restart'));
    const serde = createTopicSerde(config.schemaRegistryUrl);
    const results: RunResult[] = [];
    for (const n of histories) results.push(await runOne(kafka, serde, n, chargers, partitions));
    const f = (s: number) => `${s.toFixed(1)} s`;
    console.log(`\n  ${chargers} chargers, ${partitions} partitions; restart = start to every partition committed up to its end (history + a tail of ${Math.min(1000, chargers)} new frames)`);
    console.log(`  ${'history'.padEnd(10)} ${'old first run'.padStart(14)} ${'fold first run'.padStart(15)} ${'old restart'.padStart(12)} ${'fold restart'.padStart(13)} ${'changelog records'.padStart(18)} ${'restored keys'.padStart(14)}`);
    for (const r of results) console.log(`  ${String(r.records).padEnd(10)} ${f(r.firstOld).padStart(14)} ${f(r.firstNew).padStart(15)} ${f(r.restartOld).padStart(12)} ${f(r.restartNew).padStart(13)} ${String(r.changelog).padStart(18)} ${String(r.restoredKeys).padStart(14)}`);
    console.log(`  goal: fold restart flat in history length and under 10 s for ${chargers} chargers' state`);
    return results.every((r) => r.restartNew < 10) ? 0 : 1;
  },
};
