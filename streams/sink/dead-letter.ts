import { Kafka, Producer } from 'kafkajs';
import { ClientBase } from 'pg';
import { Counter, Registry } from 'prom-client';
import { quoteIdent } from '../../services/common/db';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { TopicSerde } from '../../schemas/registry';
import { topicSpecs, Topics } from '../../schemas/topics';
import { DataFault } from './apply-errors';
import { pgText } from './sql';

/** Records a sink set aside: written to the dead-letter topic (schemas/avro/streams.dead-letter.avsc), acknowledged
 *  by all in-sync replicas, before the transaction that moves the stored offsets past the record; that transaction
 *  also adds its row to the table dead_letters beside stream_offsets (what the API reads). A crash between the two
 *  writes the record to the topic twice (same key); the table holds it once. */
export interface DeadLetter {
  readonly sourceTopic: string;
  readonly sourcePartition: number;
  readonly sourceOffset: number;
  readonly sourceKey: string | null;
  readonly sourceTimestamp: number | null;
  readonly consumer: string;
  readonly fault: DataFault;
  readonly value: Buffer | null;
  readonly deadAt: number;
}

export const deadLetterKey = (d: Pick<DeadLetter, 'sourceTopic' | 'sourcePartition' | 'sourceOffset'>): string => `${d.sourceTopic}/${d.sourcePartition}/${d.sourceOffset}`;

/** The Avro record of streams.dead-letter. */
export const deadLetterToAvro = (d: DeadLetter): Record<string, unknown> => ({
  sourceTopic: d.sourceTopic,
  sourcePartition: d.sourcePartition,
  sourceOffset: d.sourceOffset,
  sourceKey: d.sourceKey,
  sourceTimestamp: d.sourceTimestamp,
  consumer: d.consumer,
  reasonClass: d.fault.reasonClass,
  reason: d.fault.reason,
  value: d.value,
  deadAt: d.deadAt,
});

export const deadLettersTableSql = (schema: string): string =>
  `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.dead_letters (consumer text NOT NULL, topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL,
   key text, record_at timestamptz, reason_class text NOT NULL, reason text NOT NULL, value bytea, dead_at timestamptz NOT NULL,
   PRIMARY KEY (consumer, topic, partition, "offset"))`;

/** Inside the transaction that moves the offsets past the record (search_path set to the sink's schema). */
export const insertDeadLetter = async (client: ClientBase, d: DeadLetter): Promise<void> => {
  await client.query(
    `INSERT INTO dead_letters (consumer, topic, partition, "offset", key, record_at, reason_class, reason, value, dead_at)
     VALUES ($1, $2, $3, $4, $5, to_timestamp($6 / 1000.0), $7, $8, $9, to_timestamp($10 / 1000.0)) ON CONFLICT DO NOTHING`,
    [d.consumer, d.sourceTopic, d.sourcePartition, d.sourceOffset, d.sourceKey, d.sourceTimestamp, d.fault.reasonClass, pgText(d.fault.reason), d.value, d.deadAt],
  );
};

export interface DeadLetterWriter {
  /** Durably on the topic, or throws (the sink then retries the batch: nothing moves past the record). */
  write(d: DeadLetter): Promise<void>;
  /** After the offsets moved past it. */
  counted(d: DeadLetter): void;
  stop(): Promise<void>;
}

const counterOf = (metrics: Registry | undefined): Counter<'consumer' | 'reason'> | undefined => {
  if (!metrics) return undefined;
  const existing = metrics.getSingleMetric('voltstream_dead_letters_total');
  if (existing) return existing as Counter<'consumer' | 'reason'>;
  return new Counter({ name: 'voltstream_dead_letters_total', help: 'Records set aside to the dead-letter topic, by consumer and reason class', labelNames: ['consumer', 'reason'], registers: [metrics] });
};

export const createDeadLetterWriter = (o: { kafka: Kafka; serde: TopicSerde; topic?: string; metrics?: Registry }): DeadLetterWriter => {
  const topic = o.topic ?? Topics.deadLetter;
  const spec = topicSpecs.find((s) => s.name === Topics.deadLetter)!;
  const counter = counterOf(o.metrics);
  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;
  // Connected on the first record set aside: most sinks never need it. The topic is created if missing (broker's
  // default partitions and replication): a deployment whose stack was set up before the topic existed would otherwise
  // hold the partition at its first poison record for good.
  const connected = (): Promise<Producer> => {
    connecting ??= (async () => {
      const admin = o.kafka.admin();
      await admin.connect();
      try {
        if (!(await admin.listTopics()).includes(topic)) {
          await admin
            .createTopics({ waitForLeaders: true, topics: [{ topic, configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })) }] })
            .catch((e: { type?: string }) => (e.type === 'TOPIC_ALREADY_EXISTS' ? false : Promise.reject(e)));
        }
      } finally {
        await admin.disconnect();
      }
      await o.serde.ensure({ ...spec, name: topic });
      const p = createDurableProducer(o.kafka);
      await p.connect();
      producer = p;
      return p;
    })();
    connecting.catch(() => (connecting = undefined));
    return connecting;
  };
  return {
    write: async (d) => {
      const p = await connected();
      await p.send({ topic, acks: DURABLE_ACKS, messages: [{ key: deadLetterKey(d), value: await o.serde.encode(topic, deadLetterToAvro(d)) }] });
    },
    counted: (d) => counter?.inc({ consumer: d.consumer, reason: d.fault.reasonClass }),
    stop: async () => {
      await producer?.disconnect();
    },
  };
};
