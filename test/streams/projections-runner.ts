/** Child process of the projections takeover test: one instance of the projections sink over the test's topics, in
 *  small batches, printing each applied batch on stdout; the test runs two in one group and SIGKILLs one. Run with
 *  `node -r tsx/cjs`. */
import { loadConfig } from '../../services/common/config';
import { createKafka } from '../../services/common/kafka';
import { createLogger } from '../../services/common/log';
import { createPool } from '../../services/common/db';
import { createTopicSerde } from '../../schemas/registry';
import { startProjections } from '../../streams/projections/run';
import { requiredEnv } from './runner-env';

const env = requiredEnv;

const main = async () => {
  const config = loadConfig();
  const topics = JSON.parse(env('TAKEOVER_TOPICS')) as { events: string; readings: string; config: string };
  const say = (what: string) => process.stdout.write(`${what}\n`);
  await startProjections({
    kafka: createKafka(config, `projections-runner-${process.pid}`),
    serde: createTopicSerde(config.schemaRegistryUrl),
    pool: createPool({ url: config.databaseUrl!, embedded: false, max: 3 }),
    log: createLogger('projections-runner', 'warn'),
    schema: env('TAKEOVER_SCHEMA'),
    groupId: env('TAKEOVER_GROUP'),
    topics,
    maxBytesPerPartition: 4 * 1024,
    sessionTimeoutMs: 6000,
    partitionsConcurrently: 2,
    onProgress: (n) => say(`applied ${n}`),
  });
  say('ready');
};

main().catch((e: unknown) => {
  process.stderr.write(`projections-runner: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
