/** Child process of the tracker takeover test: one instance of the vehicle tracker (router + site tracker, as the
 *  service runs them) over the test's topics, small batches, printing each committed transaction on stdout; the test
 *  runs two and SIGKILLs one. Run with `node -r tsx/cjs`. */
import { loadConfig } from '../../services/common/config';
import { createKafka } from '../../services/common/kafka';
import { createLogger } from '../../services/common/log';
import { createTopicSerde } from '../../schemas/registry';
import { requiredEnv } from './runner-env';
import { startTestTracker, TrackerTestTopics } from './tracker-support';

const env = requiredEnv;

const main = async () => {
  const config = loadConfig();
  const topics = JSON.parse(env('FOLD_TOPICS')) as TrackerTestTopics;
  const kafka = createKafka(config, `tracker-runner-${process.pid}`);
  const serde = createTopicSerde(config.schemaRegistryUrl);
  const say = (what: string) => process.stdout.write(`${what}\n`);
  const start = () =>
    startTestTracker(kafka, serde, topics, env('FOLD_GROUP'), {
      log: createLogger('tracker-runner', process.env.FOLD_LOG_LEVEL === 'info' || process.env.FOLD_LOG_LEVEL === 'debug' ? process.env.FOLD_LOG_LEVEL : 'warn'),
      transactionalIdPrefix: env('FOLD_TXID'),
      maxBytesPerPartition: 8 * 1024,
      sessionTimeoutMs: 6000,
      onCommitted: (c) => say(`committed ${c.topic} ${c.partition} ${c.records} ${c.nextOffset}`),
    });
  // As the service's supervisor does: a failed start is tried again (on a broker that has just created the test's
  // topics, a first metadata request can still say "This server does not host this topic-partition").
  let running: Awaited<ReturnType<typeof start>> | undefined;
  for (let attempt = 1; running === undefined; attempt++) {
    try {
      running = await start();
    } catch (e) {
      if (attempt >= 5) throw e;
      process.stderr.write(`tracker-runner: start failed (${(e as Error).message}); trying again\n`);
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
  say(`instance ${running.tracker.instanceId}`);
  void Promise.race([running.router.died, running.tracker.died]).then((e) => {
    process.stderr.write(`tracker-runner died: ${e.message}\n`);
    process.exit(2);
  });
};

main().catch((e: unknown) => {
  process.stderr.write(`tracker-runner: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
