import * as path from 'node:path';
import { pipe } from 'fp-ts/function';
import { Config } from '../services/common/config';
import * as E from 'fp-ts/Either';
import { createKafka, ensureTopics, javaClientProperties, resolveKafkaClientSecurity } from '../services/common/kafka';
import { localBrokerDir, readLocalKafkaAccess } from '../services/common/kafka-access';
import { createTopicSerde, registerAll } from '../schemas/registry';
import { defaultBrokerOptions } from './kafka/broker';
import { ClusterSpec, clusterStatus, portStride, readClusterRecord, startCluster, stopCluster } from './kafka/cluster';
import { ccompatUrl, defaultRegistryOptions, registryReady, startRegistry, stopRegistry } from './registry/apicurio';
import { hostToReach, isLoopback, parseHostPort } from '../services/common/addresses';
import { topicReplication } from '../services/common/topic-replication';
import { isAlive, readPid, sleep, spawnDaemon, stopDaemon, stopPid, StopWaiting, tailFile, waitUntil } from './process';
import { Admin } from 'kafkajs';
import { databaseReady } from '../services/common/db';

/** The local stack: Kafka (one broker, or a cluster of N: kafka/cluster.ts), schema registry and (unless DATABASE_URL
 *  is set) the embedded TimescaleDB. Each part is started only when nothing answers on its port yet, so a second `up`
 *  finds everything running. */
export interface StackStatus {
  /** Every broker answers. */
  readonly kafka: boolean;
  readonly kafkaBrokers: readonly { address: string; up: boolean }[];
  readonly registry: boolean;
  readonly database: boolean;
}

export interface Stack {
  /** Every broker's services' listener (KAFKA_BROKERS for the services). */
  readonly kafkaBrokers: readonly string[];
  readonly databaseUrl: string;
  readonly embeddedDb: boolean;
  /** Parts this call started (and `stop` will stop). */
  readonly started: readonly string[];
  stop(): Promise<void>;
}

export const embeddedDbUrl = (c: Config) => `postgres://postgres@${hostToReach(c.embeddedDbHost)}:${c.embeddedDbPort}/postgres`;
const dbDir = (c: Config) => path.join(c.home, 'pgdata');
const dbPidFile = (c: Config) => path.join(c.home, 'db', 'db.pid');
const dbLogFile = (c: Config) => path.join(c.home, 'db', 'db.log');

/** Whether the registry URL points at an Apicurio instance this stack runs: on loopback or on REGISTRY_HOST. */
const registryPort = (c: Config): number | undefined => {
  const m = /^http:\/\/([^/:]+|\[[^\]]+\]):(\d+)\/apis\/ccompat\/v7\/?$/.exec(c.schemaRegistryUrl);
  if (!m) return undefined;
  const host = m[1]!.replace(/^\[|\]$/g, '');
  return isLoopback(host) || host === c.registryHost ? Number(m[2]) : undefined;
};

/** The brokers this stack runs: `brokers` nodes (default: as many as were last started here, else one). */
const clusterSpec = (c: Config, brokers: number | undefined, secure?: boolean): ClusterSpec => {
  const dir = defaultBrokerOptions(c.home).dir;
  const recorded = readClusterRecord(dir);
  const n = brokers ?? (E.isRight(recorded) && recorded.right ? recorded.right.brokers : Math.max(1, c.kafkaBrokers.length));
  return {
    dir,
    brokers: n,
    addresses: c.kafkaBrokers.length === n || c.kafkaBrokers.length > 1 ? c.kafkaBrokers : c.kafkaBrokers.slice(0, 1),
    listenHosts: c.kafkaListenHosts,
    controllerPort: c.kafkaControllerPort,
    partnerPort: c.partnerKafkaPort,
    // Three JVMs beside the registry's on a developer's machine: a smaller heap each than a broker alone gets.
    ...(n > 1 ? { heapMb: 512 } : {}),
    ...(secure !== undefined ? { secure } : {}),
  };
};

/** Only brokers on loopback, or bound to addresses KAFKA_LISTEN_HOSTS names, are this machine's to start. */
const startableHere = (c: Config, addresses: readonly string[]) =>
  c.kafkaListenHosts.length > 0 || addresses.every((a) => isLoopback(parseHostPort(a)?.host ?? ''));

/** The credentials the stack's own probes and tools use: configured, or the local broker's service user; anonymous
 *  when there are none (a development broker, or one not started yet). */
const stackSecurity = (c: Config) =>
  pipe(
    resolveKafkaClientSecurity({ ...c, mode: 'development' }),
    E.getOrElseW(() => ({ sasl: undefined, tls: undefined })),
  );

export const status = async (c: Config): Promise<StackStatus> => {
  const first = parseHostPort(c.kafkaBrokers[0] ?? '127.0.0.1:9092') ?? { host: '127.0.0.1', port: 9092 };
  const regPort = registryPort(c);
  const kafkaBrokers = await clusterStatus(defaultBrokerOptions(c.home).dir, first, stackSecurity(c).sasl);
  return {
    kafka: kafkaBrokers.every((b) => b.up),
    kafkaBrokers,
    registry: regPort !== undefined ? await registryReady(regPort, c.registryHost) : (await fetch(`${c.schemaRegistryUrl}/subjects`).then((r) => r.ok).catch(() => false)),
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
      env: { ...process.env, EMBEDDED_DB_PORT: String(c.embeddedDbPort), EMBEDDED_DB_HOST: c.embeddedDbHost, EMBEDDED_DB_DIR: dbDir(c) },
      cwd: root,
    },
  );
  await waitUntil(`embedded TimescaleDB on ${c.embeddedDbHost}:${c.embeddedDbPort}`, async () => {
    if (!isAlive(daemon.pid)) throw new StopWaiting('embedded database exited');
    return databaseReady(embeddedDbUrl(c));
  }, 60000, `see ${dbLogFile(c)}`).catch((e: Error) => {
    throw new Error(`${e.message}\n${tailFile(dbLogFile(c))}`);
  });
};

export const stopEmbeddedDb = (c: Config): Promise<string> => stopDaemon(dbPidFile(c), 10000);

/** A cluster that has just formed may answer a topic's creation with "does not host this topic-partition" while the
 *  new topic's metadata reaches its brokers (a retriable error): ask again, the topics made so far are kept. */
const ensureTopicsRetrying = async (admin: Admin, c: Config): Promise<string[]> => {
  const created: string[] = [];
  for (let attempt = 1; ; attempt++) {
    try {
      created.push(...(await ensureTopics(admin, { partitions: c.partitions, replicationFactor: c.replicationFactor, minInsyncReplicas: c.minInsyncReplicas })));
      return created;
    } catch (e) {
      if (attempt >= 30 || (e as { retriable?: boolean }).retriable !== true) throw e;
      await sleep(1000);
    }
  }
};

/** Topics and schemas: created and registered idempotently on every start. */
export const prepareKafka = async (c: Config): Promise<{ createdTopics: string[]; schemas: number }> => {
  const kafka = createKafka(c, 'voltstream-stack');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const createdTopics = await ensureTopicsRetrying(admin, c);
    const serde = createTopicSerde(c.schemaRegistryUrl);
    const ids = await registerAll(serde)();
    if (ids._tag === 'Left') throw new Error(ids.left);
    return { createdTopics, schemas: ids.right.size };
  } finally {
    await admin.disconnect();
  }
};

/** `secure` (default: in production mode): the brokers' services listener takes only the generated SCRAM service user
 *  (infra/kafka/broker.ts), and the registry connects as that user. `brokers`: run a cluster of that many nodes
 *  (default: as many as last time, else one); the returned `kafkaBrokers` lists them all. */
export const up = async (
  config: Config,
  opts: { database?: boolean; log?: (s: string) => void; secure?: boolean; brokers?: number } = {},
): Promise<Stack> => {
  const log = opts.log ?? console.log;
  const secure = opts.secure ?? config.mode === 'production';
  const started: string[] = [];
  const spec = clusterSpec(config, opts.brokers, secure);
  const c = withClusterBrokers(config, spec);
  const stopStarted = async () => {
    for (const part of [...started].reverse()) {
      if (part === 'registry') await stopRegistry(defaultRegistryOptions(c.home, c.kafkaBrokers));
      if (part === 'kafka') await stopCluster(spec.dir);
      if (part === 'database') await stopEmbeddedDb(c);
    }
  };
  try {
    const before = await clusterStatus(spec.dir, parseHostPort(c.kafkaBrokers[0]!)!, stackSecurity(c).sasl);
    if (!before.every((b) => b.up) || before.length !== spec.brokers) {
      if (!startableHere(c, c.kafkaBrokers)) throw new Error(`Kafka at ${c.kafkaBrokers.join(',')} does not answer, and it is not a local broker this command can start (set KAFKA_LISTEN_HOSTS to run brokers bound to other addresses)`);
      const t0 = Date.now();
      const cluster = await startCluster(spec, log);
      if (cluster.started.length) started.push('kafka');
      log(`  kafka     ${spec.brokers === 1 ? '' : `${spec.brokers} brokers `}started in ${((Date.now() - t0) / 1000).toFixed(1)} s${secure ? ' (secure: SCRAM service user)' : ''}`);
    }
    const regPort = registryPort(c);
    if (regPort !== undefined && !(await registryReady(regPort, c.registryHost))) {
      const t0 = Date.now();
      const security = stackSecurity(c);
      const kafkaClientProperties = security.sasl || security.tls ? javaClientProperties(security) : undefined;
      await startRegistry({ ...defaultRegistryOptions(c.home, c.kafkaBrokers), host: c.registryHost, port: regPort, kafkaClientProperties }, log);
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
      kafkaBrokers: c.kafkaBrokers,
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
  const brokers = await stopCluster(defaultBrokerOptions(c.home).dir);
  log(`  kafka     ${brokers.length === 1 ? brokers[0] : brokers.map((b, i) => `broker ${i + 1} ${b}`).join(', ')}`);
};

/** The configuration with KAFKA_BROKERS listing every node of the cluster `spec` lays out. */
export const withClusterBrokers = (c: Config, spec: ClusterSpec): Config => {
  if (c.kafkaBrokers.length === spec.brokers) return c;
  const first = parseHostPort(c.kafkaBrokers[0] ?? '127.0.0.1:9092') ?? { host: '127.0.0.1', port: 9092 };
  return { ...c, kafkaBrokers: Array.from({ length: spec.brokers }, (_, i) => `${first.host}:${first.port + portStride * i}`) };
};

/** The broker as it described itself at start (access.json); a broker this repository did not start, as configured. */
const describeKafka = (c: Config): string[] => {
  const access = readLocalKafkaAccess(localBrokerDir(c.home));
  const local = E.isRight(access) && access.right && access.right.bootstrap.split(',').includes(c.kafkaBrokers[0] ?? '') ? access.right : undefined;
  if (!local) return [`  Kafka broker      ${c.kafkaBrokers.join(',')}${c.kafkaSasl ? `  (as ${c.kafkaSasl.username}, ${c.kafkaSasl.mechanism.toUpperCase()})` : ''}  (partners: 127.0.0.1:${c.partnerKafkaPort})`];
  const brokers = local.bootstrap.split(',');
  const cluster = readClusterRecord(localBrokerDir(c.home));
  const partners = E.isRight(cluster) && cluster.right
    ? cluster.right.nodes.map((n) => readLocalKafkaAccess(n.dir)).flatMap((a) => (E.isRight(a) && a.right ? [a.right.partner.bootstrap] : []))
    : [local.partner.bootstrap];
  const replication = topicReplication(brokers.length, c);
  return [
    `  Kafka ${brokers.length === 1 ? 'broker     ' : 'brokers    '} ${local.bootstrap}  ${local.service ? `(secure: SCRAM user ${local.service.username}, password in ${localBrokerDir(c.home)}/access.json)` : '(development: anonymous PLAINTEXT)'}`,
    ...(brokers.length > 1
      ? [`                    KAFKA_BROKERS=${local.bootstrap}  (topics: ${replication.replicationFactor} copies, min.insync.replicas ${replication.minInsyncReplicas})`]
      : []),
    `  Kafka partners    ${partners.join(',')}  ${local.partner.protocol}, SCRAM-SHA-256/512${local.partner.caFile ? `; CA certificate ${local.partner.caFile}` : ''}`,
  ];
};

export const describe = (c: Config, databaseUrl: string): string[] => [
  ...describeKafka(c),
  `  Schema registry   ${c.schemaRegistryUrl}`,
  `  Database          ${databaseUrl}${c.databaseUrl ? '' : '  (embedded TimescaleDB)'}`,
];

export { ccompatUrl };
