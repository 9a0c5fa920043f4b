import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import { CliCommand, parseArgs } from '../command';
import { defaultTopology, TopologyOptions, topologyProblems } from '../topology';
import { describe, down, processStates, readRecord, stackState, up } from '../topology-run';

const usage = `Usage: voltstream topology up|down|status [options]

A multi-host deployment on this machine, each part on a loopback address of its own (the first three octets from
--net, default 127.0.0): 3 Kafka brokers (.2, .3, .4, each broker and controller), the schema registry (.5), two OCPP
gateways (.11, .12), two instances each of the normalizer (.21, .22), the vehicle tracker (.31, .32) and projections
(.41, .42), the partner router (.52), the optimizer (.51), audit checkpoints (.53), site meters (.54) and the API (.60).
Every service is a detached \`voltstream service\` process with its /health, /ready and /metrics bound to its own
address; its log and pid file are in the directory. It has a VOLTSTREAM_HOME of its own (DIR/home) and its own Kafka
cluster, so topics and consumer groups never meet the developer stack's; its tables go to a database of its own on the
PostgreSQL server of DATABASE_URL. Runs in development mode (anonymous PLAINTEXT Kafka, the development admin key).
Processes are not restarted when they exit: \`status\` shows it. See docs/DEPLOYMENT.md, "A multi-host topology".

  up       start it and wait until every process's /ready answers 200; prints what runs where
  down     stop every process of it, then its brokers and registry (the database is kept)
  status   what runs where, whether each broker, the registry and the database answer and each process is ready
           (exit 1 when one is not)

  --dir DIR              where its home, logs, pid files and topology.json go (default .voltstream/topology)
  --net A.B.C            first three octets of its addresses (default 127.0.0)
  --brokers N            Kafka brokers, 1 to 3 (default 3)
  --gateways N           OCPP gateway instances (default 2)
  --instances N          instances of each stream processor (default 2)
  --minimal              only gateways, normalizer, projections and the API (what a charging session needs)
  --registry-url URL     use this schema registry instead of starting one on A.B.C.5
  --database NAME        database created on DATABASE_URL's server for it (default voltstream_topology)
  --ready-timeout S      how long up waits for every /ready (default 240)

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), KAFKA_PARTITIONS, LOG_LEVEL.`;

const int = (v: string | true | undefined, fallback: number) => (typeof v === 'string' ? Number(v) : fallback);

export const command: CliCommand = {
  name: 'topology',
  summary: 'A multi-host deployment on loopback addresses: 3 brokers, 2 gateways, 2 of each processor, the API',
  usage,
  run: async (args) => {
    const { flags, positionals } = parseArgs(args);
    const action = positionals[0];
    const dir = path.resolve(typeof flags.dir === 'string' ? flags.dir : path.join('.voltstream', 'topology'));
    const say = (l: string) => console.log(l);
    if (action === 'down') {
      console.log(`Stopping the topology of ${dir}...`);
      await down(dir, say);
      console.log('Stopped.');
      return 0;
    }
    if (action === 'status') {
      const rec = readRecord(dir);
      if (E.isLeft(rec)) {
        console.error(`voltstream topology: ${rec.left}`);
        return 1;
      }
      if (!rec.right) {
        console.log(`no topology in ${dir}`);
        return 1;
      }
      const [states, parts] = await Promise.all([processStates(rec.right), stackState(rec.right)]);
      for (const l of describe(rec.right, states, parts)) console.log(l);
      return states.every((s) => s.ready) && parts.kafka && parts.registry && parts.database ? 0 : 1;
    }
    if (action !== 'up') {
      console.error(`voltstream topology: expected up, down or status\n\n${usage}`);
      return 2;
    }
    const topology: TopologyOptions = {
      ...defaultTopology,
      net: typeof flags.net === 'string' ? flags.net : defaultTopology.net,
      brokers: int(flags.brokers, defaultTopology.brokers),
      gateways: int(flags.gateways, defaultTopology.gateways),
      instances: int(flags.instances, defaultTopology.instances),
      minimal: flags.minimal === true,
    };
    const problems = topologyProblems(topology);
    if (problems.length) {
      console.error(`voltstream topology: ${problems.join('; ')}`);
      return 2;
    }
    const readyTimeoutS = int(flags['ready-timeout'], 240);
    try {
      const rec = await up({
        dir,
        topology,
        registryUrl: typeof flags['registry-url'] === 'string' ? flags['registry-url'] : undefined,
        databaseUrl: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
        database: typeof flags.database === 'string' ? flags.database : 'voltstream_topology',
        readyTimeoutMs: readyTimeoutS * 1000,
        say,
      });
      console.log('\nThe topology is running:\n');
      for (const l of describe(rec)) console.log(l);
      console.log(`\nKAFKA_BROKERS=${rec.brokers.join(',')}\nAdmin API key: dev-admin-key (development mode). Stop it with: voltstream topology down --dir ${dir}`);
      return 0;
    } catch (e) {
      console.error(`voltstream topology up: ${(e as Error).message}`);
      console.error('stopping what was started...');
      await down(dir, (l) => console.error(l)).catch((err: Error) => console.error(`  ${err.message}`));
      return 1;
    }
  },
};
