import * as path from 'node:path';
import { pipe } from 'fp-ts/function';
import { Config } from '../services/common/config';
import * as E from 'fp-ts/Either';
import { createKafka, ensureTopics, javaClientProperties, resolveKafkaClientSecurity } from '../services/common/kafka';
import { localBrokerDir, readLocalKafkaAccess } from '../services/common/kafka-access';
import { createTopicSerde, registerAll } from '../schemas/registry';
import { brokerReady, defaultBrokerOptions, startBroker, stopBroker } from './kafka/broker';
import { ccompatUrl, defaultRegistryOptions, registryReady, startRegistry, stopRegistry } from './registry/apicurio';
import { isAlive, readPid, spawnDaemon, stopDaemon, stopPid, StopWaiting, tailFile, waitUntil } from './process';
import { databaseReady } from '../services/common/db';

/** The local stack: Kafka broker, schema registry and (unless DATABASE_URL is set) the embedded TimescaleDB.
 *  Each part is started only when nothing answers on its port yet, so a second `up` finds everything running. */
export interface StackStatus {
  readonly kafka: boolean;
  readonly registry: boolean;
  readonly database: boolean;
}

export interface Stack {
  readonly databaseUrl: string;
  readonly embeddedDb: boolean;
  /** Parts this call started (and `stop` will stop). */
  readonly started: readonly string[];
  stop(): Promise<void>;
}

const isLocal = (hostPort: string) => /^(127\.\d+\.\d+\.\d+|localhost):\d+$/.test(hostPort);
const localPort = (hostPort: string) => Number(hostPort.split(':').pop());

export const embeddedDbUrl = (c: Config) => `postgres://postgres@127.0.0.1:${c.embeddedDbPort}/postgres`;
const dbDir = (c: Config) => path.join(c.home, 'pgdata');
const dbPidFile = (c: Config) => path.join(c.home, 'db', 'db.pid');
const dbLogFile = (c: Config) => path.join(c.home, 'db', 'db.log');

/** Whether the registry URL points at the Apicurio instance this stack runs. */
const registryPort = (c: Config): number | undefined => {
  const m = /^http:\/\/(127\.0\.0\.1|localhost):(\d+)\/apis\/ccompat\/v7\/?$/.exec(c.schemaRegistryUrl);
  return m ? Number(m[2]) : undefined;
};

/** The credentials the stack's own probes and tools use: configured, or the local broker's service user; anonymous
 *  when there are none (a development broker, or one not started yet). */
const stackSecurity = (c: Config) =>
  pipe(
    resolveKafkaClientSecurity({ ...c, mode: 'development' }),
    E.getOrElseW(() => ({ sasl: undefined, tls: undefined })),
  );

export const status = async (c: Config): Promise<StackStatus> => {
  const broker = c.kafkaBrokers[0] ?? '127.0.0.1:9092';
  const regPort = registryPort(c);
  return {
    kafka: await brokerReady({ port: localPort(broker) }, stackSecurity(c).sasl),
    registry: regPort !== undefined ? await registryReady(regPort) : (await fetch(`${c.schemaRegistryUrl}/subjects`).then((r) => r.ok).catch(() => false)),
    database: await databaseReady(c.databaseUrl ?? embeddedDbUrl(c)),
  };
};

const startEmbeddedDbDaemon = async (c: Config) => {
  const existing = readPid(dbPidFile(c));
  if (existing && isAlive(existing)) await stopPid(existing, 5000);
  const root = path.join(__dirname, '..');
  const daemon = spawnDaemon(
    'database',
    process.execPath,
    ['-r', require.resolve('tsx/cjs'), path.join(root, 'infra', 'database', 'embedded-main.ts')],
    {
      pidFile: dbPidFile(c),
      logFile: dbLogFile(c),
      env: { ...process.env, EMBEDDED_DB_PORT: String(c.embeddedDbPort), EMBEDDED_DB_DIR: dbDir(c) },
      cwd: root,
    },
  );
  await waitUntil(`embedded TimescaleDB on 127.0.0.1:${c.embeddedDbPort}`, async () => {
    if (!isAlive(daemon.pid)) throw new StopWaiting('embedded database exited');
    return databaseReady(embeddedDbUrl(c));
  }, 60000, `see ${dbLogFile(c)}`).catch((e: Error) => {
    throw new Error(`${e.message}\n${tailFile(dbLogFile(c))}`);
  });
};

export const stopEmbeddedDb = (c: Config): Promise<string> => stopDaemon(dbPidFile(c), 10000);

/** Topics and schemas: created and registered idempotently on every start. */
export const prepareKafka = async (c: Config): Promise<{ createdTopics: string[]; schemas: number }> => {
  const kafka = createKafka(c, 'voltstream-stack');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const createdTopics = await ensureTopics(admin, { partitions: c.partitions, replicationFactor: c.replicationFactor });
    const serde = createTopicSerde(c.schemaRegistryUrl);
    const ids = await registerAll(serde)();
    if (ids._tag === 'Left') throw new Error(ids.left);
    return { createdTopics, schemas: ids.right.size };
  } finally {
    await admin.disconnect();
  }
};

/** `secure` (default: in production mode): the broker's services listener takes only its generated SCRAM service user
 *  (infra/kafka/broker.ts), and the registry connects as that user. */
export const up = async (
  c: Config,
  opts: { database?: boolean; log?: (s: string) => void; secure?: boolean } = {},
): Promise<Stack> => {
  const log = opts.log ?? console.log;
  const secure = opts.secure ?? c.mode === 'production';
  const started: string[] = [];
  const broker = c.kafkaBrokers[0] ?? '127.0.0.1:9092';
  const stopStarted = async () => {
    for (const part of [...started].reverse()) {
      if (part === 'registry') await stopRegistry(defaultRegistryOptions(c.home, c.kafkaBrokers));
      if (part === 'kafka') await stopBroker(defaultBrokerOptions(c.home));
      if (part === 'database') await stopEmbeddedDb(c);
    }
  };
  try {
    if (!(await brokerReady({ port: localPort(broker) }, stackSecurity(c).sasl))) {
      if (c.kafkaBrokers.length !== 1 || !isLocal(broker)) throw new Error(`Kafka at ${c.kafkaBrokers.join(',')} does not answer, and it is not a local broker this command can start`);
      const t0 = Date.now();
      await startBroker({ ...defaultBrokerOptions(c.home), port: localPort(broker), partnerPort: c.partnerKafkaPort, secure }, log);
      started.push('kafka');
      log(`  kafka     started in ${((Date.now() - t0) / 1000).toFixed(1)} s${secure ? ' (secure: SCRAM service user)' : ''}`);
    }
    const regPort = registryPort(c);
    if (regPort !== undefined && !(await registryReady(regPort))) {
      const t0 = Date.now();
      const security = stackSecurity(c);
      const kafkaClientProperties = security.sasl || security.tls ? javaClientProperties(security) : undefined;
      await startRegistry({ ...defaultRegistryOptions(c.home, c.kafkaBrokers), port: regPort, kafkaClientProperties }, log);
      started.push('registry');
      log(`  registry  started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const embedded = c.databaseUrl === undefined;
    if (opts.database !== false && embedded && !(await databaseReady(embeddedDbUrl(c)))) {
      const t0 = Date.now();
      await startEmbeddedDbDaemon(c);
      started.push('database');
      log(`  database  started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const prepared = await prepareKafka(c);
    if (prepared.createdTopics.length) log(`  created topics: ${prepared.createdTopics.join(', ')}`);
    return {
      databaseUrl: c.databaseUrl ?? embeddedDbUrl(c),
      embeddedDb: embedded,
      started,
      stop: stopStarted,
    };
  } catch (e) {
    await stopStarted();
    throw e;
  }
};

/** Stops every part this machine's stack runs, whoever started it (pid files under VOLTSTREAM_HOME). */
export const down = async (c: Config, log: (s: string) => void = console.log): Promise<void> => {
  log(`  database  ${await stopEmbeddedDb(c)}`);
  log(`  registry  ${await stopRegistry(defaultRegistryOptions(c.home, c.kafkaBrokers))}`);
  log(`  kafka     ${await stopBroker(defaultBrokerOptions(c.home))}`);
};

/** The broker as it described itself at start (access.json); a broker this repository did not start, as configured. */
const describeKafka = (c: Config): string[] => {
  const access = readLocalKafkaAccess(localBrokerDir(c.home));
  const local = E.isRight(access) && access.right && c.kafkaBrokers.includes(access.right.bootstrap) ? access.right : undefined;
  if (!local) return [`  Kafka broker      ${c.kafkaBrokers.join(',')}${c.kafkaSasl ? `  (as ${c.kafkaSasl.username}, ${c.kafkaSasl.mechanism.toUpperCase()})` : ''}  (partners: 127.0.0.1:${c.partnerKafkaPort})`];
  return [
    `  Kafka broker      ${local.bootstrap}  ${local.service ? `(secure: SCRAM user ${local.service.username}, password in ${localBrokerDir(c.home)}/access.json)` : '(development: anonymous PLAINTEXT, loopback only)'}`,
    `  Kafka partners    ${local.partner.bootstrap}  ${local.partner.protocol}, SCRAM-SHA-256/512${local.partner.caFile ? `; CA certificate ${local.partner.caFile}` : ''}`,
  ];
};

export const describe = (c: Config, databaseUrl: string): string[] => [
  ...describeKafka(c),
  `  Schema registry   ${c.schemaRegistryUrl}`,
  `  Database          ${databaseUrl}${c.databaseUrl ? '' : '  (embedded TimescaleDB)'}`,
];

export { ccompatUrl };
