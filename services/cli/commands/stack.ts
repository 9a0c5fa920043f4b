import { CliCommand, parseArgs } from '../command';
import { loadConfig } from '../../common/config';
import * as stack from '../../../infra/stack';
import { fetchAll } from '../../../infra/fetch';

const usage = `Usage: voltstream stack <up|down|status|fetch> [--brokers N] [--detach] [--secure]

  up       Start what is not running yet: Kafka broker (KRaft), schema registry (Apicurio, Confluent API),
           embedded TimescaleDB (unless DATABASE_URL is set); create topics, register schemas.
           Stays in the foreground; Ctrl-C stops what it started. --detach returns once all is healthy.
           --brokers N runs a KRaft cluster of N brokers on this machine, each also a voter of the controller
           quorum, each with its own directory (VOLTSTREAM_HOME/kafka, then kafka/node-2 ...) and ports (the first
           broker's + 100 per broker, unless KAFKA_BROKERS lists them all); it prints KAFKA_BROKERS for the services.
           Topics then keep min(3, N) copies with min.insync.replicas min(2, N) (KAFKA_REPLICATION_FACTOR,
           KAFKA_MIN_INSYNC_REPLICAS). Default: as many brokers as were last started here, else one.
           --secure (the default when VOLTSTREAM_MODE is production or unset): the broker's services listener takes
           only its generated SCRAM service user (password in VOLTSTREAM_HOME/kafka/access.json, mode 0600), which
           every service then uses; without it (VOLTSTREAM_MODE=development) that listener is anonymous. Either way
           partners connect with SASL_SSL, verifying the CA in VOLTSTREAM_HOME/kafka/tls/ca.pem. See SECURITY.md.
  down     Stop every part of the local stack (also ones started with --detach).
  status   Say which parts answer.
  fetch    Download the Kafka and registry jars from Maven Central into infra/.cache (done by 'up' when missing).

Environment: KAFKA_BROKERS, KAFKA_LISTEN_HOSTS (bind addresses of the brokers, one or one per broker; default each
broker's KAFKA_BROKERS host), KAFKA_CONTROLLER_PORT, KAFKA_PARTNER_PORT, SCHEMA_REGISTRY_URL, REGISTRY_HOST,
DATABASE_URL, EMBEDDED_DB_HOST, EMBEDDED_DB_PORT, VOLTSTREAM_HOME (state, default ./.voltstream),
VOLTSTREAM_MODE (development | production).`;

/** --brokers: a whole number of at least one; undefined when not given. */
const brokerCount = (flag: string | true | undefined): { ok: true; value: number | undefined } | { ok: false; message: string } => {
  if (flag === undefined) return { ok: true, value: undefined };
  if (flag === true || !/^\d+$/.test(flag) || Number(flag) < 1) return { ok: false, message: `--brokers needs a whole number of at least 1, not '${flag === true ? '' : flag}'` };
  return { ok: true, value: Number(flag) };
};

/** Signal listeners alone don't keep Node's event loop alive: the interval does, until a signal arrives. */
export const waitForSignal = () =>
  new Promise<string>((resolve) => {
    const keepAlive = setInterval(() => undefined, 60000);
    const done = (signal: string) => {
      clearInterval(keepAlive);
      resolve(signal);
    };
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
  });

export const command: CliCommand = {
  name: 'stack',
  summary: 'Start, stop or inspect the local Kafka, schema registry and database',
  usage,
  run: async (args) => {
    const { flags, positionals } = parseArgs(args);
    const config = loadConfig();
    const brokers = brokerCount(flags.brokers);
    if (!brokers.ok) {
      console.error(`${brokers.message}\n\n${usage}`);
      return 2;
    }
    switch (positionals[0]) {
      case 'fetch':
        fetchAll();
        return 0;
      case 'status': {
        const s = await stack.status(config);
        const state = (ok: boolean) => (ok ? 'running' : 'not running');
        if (s.kafkaBrokers.length === 1) console.log(`  kafka     ${state(s.kafka)}`);
        else s.kafkaBrokers.forEach((b, i) => console.log(`  kafka ${String(i + 1).padEnd(3)} ${state(b.up)}  ${b.address}`));
        console.log(`  registry  ${state(s.registry)}`);
        console.log(`  database  ${state(s.database)}`);
        return s.kafka && s.registry && s.database ? 0 : 3;
      }
      case 'down':
        console.log('Stopping the local stack...');
        await stack.down(config);
        return 0;
      case 'up': {
        const before = await stack.status(config);
        if (before.kafka && before.registry && before.database && (brokers.value === undefined || brokers.value === before.kafkaBrokers.length)) {
          console.log('The local stack is already running:');
          stack.describe(config, config.databaseUrl ?? stack.embeddedDbUrl(config)).forEach((l) => console.log(l));
          return 0;
        }
        const t0 = Date.now();
        console.log('Starting the local stack...');
        const s = await stack.up(config, { ...(flags.secure ? { secure: true } : {}), ...(brokers.value !== undefined ? { brokers: brokers.value } : {}) });
        console.log(`Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s:`);
        stack.describe({ ...config, kafkaBrokers: s.kafkaBrokers }, s.databaseUrl).forEach((l) => console.log(l));
        if (flags.detach) {
          console.log('Detached. Stop it with: npx voltstream stack down');
          return 0;
        }
        console.log('Press Ctrl-C to stop.');
        const signal = await waitForSignal();
        console.log(`\n${signal}: stopping ${s.started.join(', ') || 'nothing (all was running before)'}...`);
        await s.stop();
        console.log('Stopped.');
        return 0;
      }
      default:
        console.error(usage);
        return 2;
    }
  },
};
