import * as fs from 'node:fs';
import * as E from 'fp-ts/Either';
import { Admin, ISocketFactory, Kafka, logLevel, LogEntry, Producer, ITopicConfig, RetryOptions, SASLOptions } from 'kafkajs';
import { Config, KafkaSasl, KafkaTls } from './config';
import { LocalKafkaAccess, localBrokerDir, readLocalKafkaAccess } from './kafka-access';
import { createLogger } from './log';
import { TopicSpec, topicSpecs } from '../../schemas/topics';
import { TopicReplication, topicReplication } from './topic-replication';

const kafkaLog = createLogger('kafkajs');
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

/** kafkajs's own log level: KAFKAJS_LOG_LEVEL = nothing | error | warn | info | debug (default warn). */
const clientLogLevel = (): logLevel => {
  switch ((process.env.KAFKAJS_LOG_LEVEL ?? 'warn').toLowerCase()) {
    case 'nothing':
      return logLevel.NOTHING;
    case 'error':
      return logLevel.ERROR;
    case 'info':
      return logLevel.INFO;
    case 'debug':
      return logLevel.DEBUG;
    default:
      return logLevel.WARN;
  }
};

const toLevel = (l: logLevel) => (l <= logLevel.ERROR ? 'error' : l === logLevel.WARN ? 'warn' : l === logLevel.INFO ? 'info' : 'debug');

/** Broker errors kafkajs retries by itself (its protocol error table marks them retriable), by their text. */
const retriableBrokerErrors: ReadonlySet<string> = (() => {
  try {
    const table = require('kafkajs/src/protocol/error') as { errorCodes: readonly { message: string; retriable: boolean }[] };
    return new Set(table.errorCodes.filter((c) => c.retriable).map((c) => c.message));
  } catch {
    return new Set<string>();
  }
})();

/** The level a kafkajs log entry is written at. kafkajs logs every attempt that fails with a retriable broker error at
 *  ERROR before it retries (a busy transaction coordinator answers CONCURRENT_TRANSACTIONS many times a minute): those
 *  attempts are debug. What it finally gives up on reaches the calling code, which reports it. */
export const kafkaEntryLevel = (level: logLevel, log: { message?: string; error?: unknown }): 'error' | 'warn' | 'info' | 'debug' => {
  if (level > logLevel.ERROR) return toLevel(level);
  const text = typeof log.error === 'string' ? log.error : (log.message ?? '').replace(/^Failed to send messages: /, '');
  return retriableBrokerErrors.has(text) ? 'debug' : 'error';
};

/** What a client needs besides the brokers. `mode`, `home` and the credentials are optional for tests that point a
 *  client at a broker of their own; every service passes its whole Config. */
export type KafkaClientConfig = Pick<Config, 'kafkaBrokers'> & Partial<Pick<Config, 'mode' | 'kafkaSasl' | 'kafkaTls' | 'home'>>;

export interface KafkaClientSecurity {
  readonly sasl: KafkaSasl | undefined;
  readonly tls: KafkaTls | undefined;
}

/** How a client authenticates: the configured credentials, else the service user of the local broker these brokers
 *  are (its access file), else anonymously, which production mode refuses unless these brokers are a local broker
 *  that was explicitly started in development mode (its access file says its services' listener is anonymous): so an
 *  auditor's `voltstream replay` in a second terminal reaches the broker `npm start` runs, and nothing else
 *  anonymously. */
export const kafkaClientSecurity = (config: KafkaClientConfig, local: LocalKafkaAccess | undefined): E.Either<string, KafkaClientSecurity> => {
  if (config.kafkaSasl) return E.right({ sasl: config.kafkaSasl, tls: config.kafkaTls });
  const localBrokers = local?.bootstrap.split(',') ?? [];
  if (local?.service && config.kafkaBrokers.some((b) => localBrokers.includes(b))) return E.right({ sasl: local.service, tls: config.kafkaTls });
  const localDevelopmentBroker = local !== undefined && local.service === null && config.kafkaBrokers.every((b) => localBrokers.includes(b));
  if (config.mode === 'production' && !localDevelopmentBroker)
    return E.left(
      `refusing to connect to Kafka at ${config.kafkaBrokers.join(',')} without credentials: VOLTSTREAM_MODE is production (the default when unset). ` +
        'Set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (KAFKA_SASL_MECHANISM SCRAM-SHA-256 or SCRAM-SHA-512, default SCRAM-SHA-512; ' +
        'KAFKA_TLS=1 and KAFKA_TLS_CA_FILE for TLS), or start the local stack with `voltstream stack up --secure`, or set VOLTSTREAM_MODE=development.',
    );
  return E.right({ sasl: undefined, tls: config.kafkaTls });
};

export const kafkajsSasl = (s: KafkaSasl): SASLOptions => ({ mechanism: s.mechanism, username: s.username, password: s.password });

const toSsl = (tls: KafkaTls) => (tls.caFile ? { ca: [fs.readFileSync(tls.caFile, 'utf8')] } : true);

/** kafkaClientSecurity with the local broker's access file read from VOLTSTREAM_HOME when no credentials are configured. */
export const resolveKafkaClientSecurity = (config: KafkaClientConfig): E.Either<string, KafkaClientSecurity> => {
  const local = config.kafkaSasl || config.home === undefined ? E.right(undefined) : readLocalKafkaAccess(localBrokerDir(config.home));
  return E.isLeft(local) ? local : kafkaClientSecurity(config, local.right);
};

/** The same security as properties of Kafka's Java client (for the tools that use it, e.g. ScramCredentials.java). */
export const javaClientProperties = (security: KafkaClientSecurity): Record<string, string> => {
  const { sasl, tls } = security;
  const quote = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return {
    'security.protocol': `${sasl ? 'SASL_' : ''}${tls ? 'SSL' : 'PLAINTEXT'}`,
    ...(sasl
      ? {
          'sasl.mechanism': sasl.mechanism.toUpperCase(),
          'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username=${quote(sasl.username)} password=${quote(sasl.password)};`,
        }
      : {}),
    ...(tls?.caFile ? { 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': tls.caFile } : {}),
  };
};

/** A kafkajs client for `config`. Throws (at start-up, where the caller is an entry point) when production mode finds
 *  no credentials or the local broker's access file is unreadable. */
/** `timeouts`: a client whose requests and retries must give up sooner than the defaults (10 s a request, 8 retries):
 *  the gateway's frame log, which treats a broker that stopped answering like one that is gone. */
export const createKafka = (config: KafkaClientConfig, clientId: string, timeouts: { readonly requestTimeout?: number; readonly retry?: RetryOptions; readonly socketFactory?: ISocketFactory } = {}): Kafka => {
  const security = resolveKafkaClientSecurity(config);
  if (E.isLeft(security)) throw new Error(security.left);
  const { sasl, tls } = security.right;
  return new Kafka({
    clientId,
    brokers: [...config.kafkaBrokers],
    ...(sasl ? { sasl: kafkajsSasl(sasl) } : {}),
    ...(tls ? { ssl: toSsl(tls) } : {}),
    connectionTimeout: 3000,
    requestTimeout: timeouts.requestTimeout ?? 10000,
    retry: timeouts.retry ?? { initialRetryTime: 100, retries: 8, maxRetryTime: 5000 },
    ...(timeouts.socketFactory ? { socketFactory: timeouts.socketFactory } : {}),
    logLevel: clientLogLevel(),
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        kafkaLog[kafkaEntryLevel(level, log)](message, rest);
      },
  });
};

/** Idempotent producer, one request in flight (kafkajs needs that for idempotence), acks from all in-sync replicas. */
export const createDurableProducer = (kafka: Kafka, opts: { transactionalId?: string; retry?: RetryOptions } = {}): Producer =>
  kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    ...(opts.transactionalId ? { transactionalId: opts.transactionalId } : {}),
    retry: opts.retry ?? { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
  });

export const DURABLE_ACKS = -1 as const;

/** Initialises a transactional producer's transactional id now (Java's initTransactions): bumps its epoch, which fences
 *  the id's previous owner and makes the coordinator abort that owner's open transaction. kafkajs's connect() only
 *  asks for an idempotent producer id (no transactional id) and registers the transactional id at the first
 *  transaction(); an empty transaction aborted at once sends nothing more. */
export const initTransactions = async (producer: Producer): Promise<void> => {
  const txn = await producer.transaction();
  await txn.abort();
};

const toTopicConfig = (spec: TopicSpec, partitions: number, replication: TopicReplication): ITopicConfig => ({
  topic: spec.name,
  numPartitions: spec.partitions ?? partitions,
  replicationFactor: replication.replicationFactor,
  configEntries: Object.entries({ ...spec.configs, 'min.insync.replicas': String(replication.minInsyncReplicas) }).map(([name, value]) => ({ name, value })),
});

/** Creates the topics that don't exist yet; existing ones are left as they are. Replication as configured, else
 *  min(3, brokers of the cluster) copies with min(2, copies) in sync (topic-replication.ts). */
export const ensureTopics = async (
  admin: Admin,
  opts: { partitions: number; replicationFactor?: number | undefined; minInsyncReplicas?: number | undefined },
  specs: readonly TopicSpec[] = topicSpecs,
): Promise<string[]> => {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.name));
  if (missing.length === 0) return [];
  const brokers = opts.replicationFactor === undefined ? (await admin.describeCluster()).brokers.length : 0;
  const replication = topicReplication(brokers, opts);
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((s) => toTopicConfig(s, opts.partitions, replication)),
  });
  return missing.map((s) => s.name);
};
