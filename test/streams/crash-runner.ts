/** Child process of the crash test: the normalizer and the projections sink on the test's topics, small batches,
 *  printing progress on stdout; the test SIGKILLs it at random moments. Run with `node -r tsx/cjs`. */
import { loadConfig } from '../../services/common/config';
import { createKafka } from '../../services/common/kafka';
import { createLogger } from '../../services/common/log';
import { createPool } from '../../services/common/db';
import { createTopicSerde } from '../../schemas/registry';
import { createNormalizer } from '../../streams/normalizer/processor';
import { startProjections } from '../../streams/projections/run';
import { startKafkaProcessor } from '../../streams/sink/kafka-processor';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const main = async () => {
  const config = loadConfig();
  const topics = JSON.parse(env('CRASH_TOPICS')) as { frames: string; commandResults: string; events: string; readings: string; config: string };
  const log = createLogger('crash-runner', 'warn');
  const kafka = createKafka(config, `crash-runner-${process.pid}`);
  const serde = createTopicSerde(config.schemaRegistryUrl);
  const pool = createPool({ url: config.databaseUrl!, embedded: false, max: 2 });
  const say = (what: string) => process.stdout.write(`${what}\n`);
  await startKafkaProcessor({
    name: 'normalizer',
    groupId: env('CRASH_NORMALIZER_GROUP'),
    transactionalId: env('CRASH_TXID'),
    inputs: [topics.frames, topics.commandResults],
    output: topics.events,
    kafka,
    serde,
    log,
    processor: createNormalizer({ frames: topics.frames, commandResults: topics.commandResults }),
    maxBytesPerPartition: 2 * 1024,
    sessionTimeoutMs: 8000,
    onProgress: (n) => say(`normalized ${n}`),
  });
  await startProjections({
    kafka,
    serde,
    pool,
    log,
    schema: env('CRASH_SCHEMA'),
    groupId: env('CRASH_PROJECTIONS_GROUP'),
    topics: { events: topics.events, readings: topics.readings, config: topics.config },
    maxBytesPerPartition: 2 * 1024,
    sessionTimeoutMs: 8000,
    onProgress: (n) => say(`projected ${n}`),
  });
  say('ready');
};

main().catch((e: unknown) => {
  process.stderr.write(`crash-runner: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
