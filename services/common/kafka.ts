import { Admin, Kafka, logLevel, LogEntry, Producer, ITopicConfig } from 'kafkajs';
import { Config } from './config';
import { createLogger } from './log';
import { TopicSpec, topicSpecs } from '../../schemas/topics';

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

export const createKafka = (config: Pick<Config, 'kafkaBrokers'>, clientId: string): Kafka =>
  new Kafka({
    clientId,
    brokers: [...config.kafkaBrokers],
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5000 },
    logLevel: clientLogLevel(),
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        kafkaLog[kafkaEntryLevel(level, log)](message, rest);
      },
  });

/** Idempotent producer, one request in flight (kafkajs needs that for idempotence), acks from all in-sync replicas. */
export const createDurableProducer = (kafka: Kafka, opts: { transactionalId?: string } = {}): Producer =>
  kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    ...(opts.transactionalId ? { transactionalId: opts.transactionalId } : {}),
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
  });

export const DURABLE_ACKS = -1 as const;

const toTopicConfig = (spec: TopicSpec, partitions: number, replicationFactor: number): ITopicConfig => ({
  topic: spec.name,
  numPartitions: spec.partitions ?? partitions,
  replicationFactor,
  configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
});

/** Creates the topics that don't exist yet; existing ones are left as they are. */
export const ensureTopics = async (
  admin: Admin,
  opts: { partitions: number; replicationFactor: number },
  specs: readonly TopicSpec[] = topicSpecs,
): Promise<string[]> => {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.name));
  if (missing.length === 0) return [];
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((s) => toTopicConfig(s, opts.partitions, opts.replicationFactor)),
  });
  return missing.map((s) => s.name);
};
