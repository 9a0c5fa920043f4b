import { CliCommand, parseArgs } from '../command';
import { loadConfig } from '../../common/config';
import * as stack from '../../../infra/stack';
import { fetchAll } from '../../../infra/fetch';

const usage = `Usage: voltstream stack <up|down|status|fetch> [--detach] [--secure]

  up       Start what is not running yet: Kafka broker (KRaft), schema registry (Apicurio, Confluent API),
           embedded TimescaleDB (unless DATABASE_URL is set); create topics, register schemas.
           Stays in the foreground; Ctrl-C stops what it started. --detach returns once all is healthy.
           --secure (the default when VOLTSTREAM_MODE is production or unset): the broker's services listener takes
           only its generated SCRAM service user (password in VOLTSTREAM_HOME/kafka/access.json, mode 0600), which
           every service then uses; without it (VOLTSTREAM_MODE=development) that listener is anonymous. Either way
           partners connect with SASL_SSL, verifying the CA in VOLTSTREAM_HOME/kafka/tls/ca.pem. See SECURITY.md.
  down     Stop every part of the local stack (also ones started with --detach).
  status   Say which parts answer.
  fetch    Download the Kafka and registry jars from Maven Central into infra/.cache (done by 'up' when missing).

Environment: KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL, VOLTSTREAM_HOME (state, default ./.voltstream),
VOLTSTREAM_MODE (development | production).`;

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
    switch (positionals[0]) {
      case 'fetch':
        fetchAll();
        return 0;
      case 'status': {
        const s = await stack.status(config);
        for (const [part, ok] of Object.entries(s)) console.log(`  ${part.padEnd(9)} ${ok ? 'running' : 'not running'}`);
        return Object.values(s).every(Boolean) ? 0 : 3;
      }
      case 'down':
        console.log('Stopping the local stack...');
        await stack.down(config);
        return 0;
      case 'up': {
        const before = await stack.status(config);
        if (before.kafka && before.registry && before.database) {
          console.log('The local stack is already running:');
          stack.describe(config, config.databaseUrl ?? stack.embeddedDbUrl(config)).forEach((l) => console.log(l));
          return 0;
        }
        const t0 = Date.now();
        console.log('Starting the local stack...');
        const s = await stack.up(config, flags.secure ? { secure: true } : {});
        console.log(`Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s:`);
        stack.describe(config, s.databaseUrl).forEach((l) => console.log(l));
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
