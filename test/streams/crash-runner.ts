/** Child process of the crash test: the normalizer (fold runtime) and the projections sink on the test's topics, small batches,
 *  printing progress on stdout; the test SIGKILLs it at random moments. Run with `node -r tsx/cjs`. */
import { loadConfig } from '../../services/common/config';
import { createKafka } from '../../services/common/kafka';
import { createLogger } from '../../services/common/log';
import { createPool } from '../../services/common/db';
import { createTopicSerde } from '../../schemas/registry';
import { startProjections } from '../../streams/projections/run';
import { startFoldNormalizer } from './fold-support';
import { requiredEnv } from './runner-env';

const env = requiredEnv;

const main = async () => {
  const config = loadConfig();
  const topics = JSON.parse(env('CRASH_TOPICS')) as { frames: string; commandResults: string; events: string; readings: string; config: string };
  const log = createLogger('crash-runner', 'warn');
  const kafka = createKafka(config, `crash-runner-${process.pid}`);
  const serde = createTopicSerde(config.schemaRegistryUrl);
  const pool = createPool({ url: config.databaseUrl!, embedded: false, max: 2 });
  const say = (what: string) => process.stdout.write(`${what}\n`);
  let normalized = 0;
  await startFoldNormalizer(kafka, serde, topics, env('CRASH_NORMALIZER_GROUP'), {
    log,
    transactionalIdPrefix: env('CRASH_TXID'),
    maxBytesPerPartition: 2 * 1024,
    sessionTimeoutMs: 8000,
    onCommitted: (c) => say(`normalized ${(normalized += c.records)}`),
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
