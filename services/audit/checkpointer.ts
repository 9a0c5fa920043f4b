import { Consumer, Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { Logger } from '../common/log';
import { ConsumerComponent } from '../common/supervised-consumer';
import { consumerDied } from '../common/supervise';
import { Topics } from '../../schemas/topics';
import { TopicSerde } from '../../schemas/registry';
import { advanceHead, ChainHead, checkpointSignatureValid, signCheckpoint } from './checkpoint';
import { SigningKey } from './checkpoint-keys';
import { latestHeads, migrateCheckpoints, writeCheckpoints } from './checkpoint-store';
import { toFrameRecord } from './frames';

/** Follows ocpp.frames and, every `everyMs`, signs the head (seq, hash) of every charger's chain that moved and
 *  stores the checkpoints outside Kafka (checkpoint-store.ts), then commits its offsets: after a restart it resumes
 *  from the heads it stored. It signs only a chain that holds together as it reads it (advanceHead): at a break it
 *  logs an error and signs nothing more for that charger. */
export interface CheckpointerOptions {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly pool: Pool;
  readonly schema: string;
  readonly key: SigningKey;
  readonly log: Logger;
  readonly everyMs: number;
  readonly topic?: string;
  readonly groupId?: string;
}

/** A consumer the supervisor can run (services/common/supervised-consumer.ts), and flush for tests and shutdown. */
export interface Checkpointer extends ConsumerComponent {
  /** Signs and stores what has moved since the last time, now. */
  flush(): Promise<void>;
}

export const startCheckpointer = async (opts: CheckpointerOptions): Promise<Checkpointer> => {
  const topic = opts.topic ?? Topics.ocppFrames;
  await migrateCheckpoints(opts.pool, opts.schema);
  const heads = new Map<string, ChainHead>();
  // Heads this key did not sign are not ours to resume from (a row someone else put in the table).
  for (const c of await latestHeads(opts.pool, opts.schema)) if (checkpointSignatureValid(opts.key.publicKey, c)) heads.set(c.chargePointId, c);
  const broken = new Set<string>();
  const moved = new Set<string>();
  const nextOffsets = new Map<number, string>();

  let flushing: Promise<void> = Promise.resolve();
  const flushNow = async () => {
    const signedAt = Date.now();
    const checkpoints = [...moved].map((id) => signCheckpoint(opts.key.privateKey, opts.key.publicKey, heads.get(id)!, signedAt));
    const offsets = [...nextOffsets].map(([partition, offset]) => ({ topic, partition, offset }));
    const ids = [...moved];
    moved.clear();
    try {
      await writeCheckpoints(opts.pool, opts.schema, checkpoints);
    } catch (e) {
      for (const id of ids) moved.add(id);
      throw e;
    }
    if (offsets.length) await consumer.commitOffsets(offsets);
    if (checkpoints.length) opts.log.debug('audit checkpoints written', { count: checkpoints.length });
  };
  const flush = () => (flushing = flushing.then(flushNow, flushNow));

  const groupId = opts.groupId ?? 'voltstream-audit-checkpoints';
  const consumer: Consumer = opts.kafka.consumer({ groupId, maxWaitTimeInMs: 250 });
  const died = consumerDied(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, heartbeat }) => {
      for (const m of batch.messages) {
        if (m.value) {
          const frame = toFrameRecord(await opts.serde.decode<Record<string, unknown>>(m.value));
          if (!broken.has(frame.chargePointId)) {
            const step = advanceHead(heads.get(frame.chargePointId), frame);
            if (step.kind === 'advanced') {
              heads.set(frame.chargePointId, step.head);
              moved.add(frame.chargePointId);
            } else if (step.kind === 'broken') {
              broken.add(frame.chargePointId);
              opts.log.error('audit chain broken: no more checkpoints for this charger', { chargePointId: frame.chargePointId, partition: batch.partition, offset: m.offset, reason: step.reason });
            }
          }
        }
        nextOffsets.set(batch.partition, (BigInt(m.offset) + 1n).toString());
      }
      await heartbeat();
    },
  });
  const timer = setInterval(() => {
    flush().catch((e: unknown) => opts.log.warn('audit checkpoints could not be written; retrying', { err: e }));
  }, opts.everyMs);
  timer.unref();
  return {
    topics: [topic],
    groupId,
    // What it has read, not only what it committed: commits come with the checkpoints, every `everyMs` (a minute by
    // default), and a restart that had read to the end would otherwise be 'restoring' until the first of them.
    positions: () => new Map([...nextOffsets].map(([partition, offset]) => [`${topic}:${partition}`, Number(offset)])),
    consumers: [consumer],
    died,
    flush,
    stop: async () => {
      clearInterval(timer);
      await flush().catch((e: unknown) => opts.log.warn('audit checkpoints could not be written at stop', { err: e }));
      await consumer.disconnect();
    },
  };
};
