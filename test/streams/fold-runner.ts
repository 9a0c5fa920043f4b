/** Child process of the takeover test: one instance of the normalizer on the fold runtime over the test's topics,
 *  small batches, printing each committed transaction on stdout; the test runs two and SIGKILLs one. Run with
 *  `node -r tsx/cjs`. */
import { loadConfig } from '../../services/common/config';
import { createKafka } from '../../services/common/kafka';
import { createLogger } from '../../services/common/log';
import { createTopicSerde } from '../../schemas/registry';
import { TestTopics } from './support';
import { startFoldNormalizer } from './fold-support';
import { requiredEnv } from './runner-env';

const env = requiredEnv;

const main = async () => {
  const config = loadConfig();
  const topics = JSON.parse(env('FOLD_TOPICS')) as TestTopics;
  const kafka = createKafka(config, `fold-runner-${process.pid}`);
  const serde = createTopicSerde(config.schemaRegistryUrl);
  const say = (what: string) => process.stdout.write(`${what}\n`);
  const running = await startFoldNormalizer(kafka, serde, topics, env('FOLD_GROUP'), {
    log: createLogger('fold-runner', process.env.FOLD_LOG_LEVEL === 'info' || process.env.FOLD_LOG_LEVEL === 'debug' ? process.env.FOLD_LOG_LEVEL : 'warn'),
    transactionalIdPrefix: env('FOLD_TXID'),
    maxBytesPerPartition: 8 * 1024,
    sessionTimeoutMs: 6000,
    onCommitted: (c) => say(`committed ${c.topic} ${c.partition} ${c.records} ${c.nextOffset}`),
  });
  say(`instance ${running.instanceId}`);
  void running.died.then((e) => {
    process.stderr.write(`fold-runner died: ${e.message}\n`);
    process.exit(2);
  });
};

main().catch((e: unknown) => {
  process.stderr.write(`fold-runner: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
