import { Admin, Kafka, Producer } from 'kafkajs';
import { createDurableProducer, initTransactions } from '../../services/common/kafka';
import { whileConcurrent } from '../../streams/sink/kafka-processor';
import { uniq } from '../support/stack';
import { testKafka } from './support';

/** What the fold runtime's `prepare` relies on without KIP-447: once a new producer of a transactional id has fenced
 *  the old one, the group's committed offset read through OffsetFetch (not stable: kafkajs cannot ask for stable
 *  offsets) includes every transaction of the old one. Brokers with the old group coordinator (before KAFKA-17507)
 *  answered the transaction coordinator's marker request before the offsets were materialised; Kafka 4's coordinator
 *  writes the marker itself and answers once it is committed. Right after commit() alone the offset may lag (the markers
 *  are written after EndTxn's answer); that is counted, not asserted. */
jest.setTimeout(180_000);

const ROUNDS = 40;

describe('committed offsets after the fence', () => {
  let kafka: Kafka;
  let admin: Admin;
  const topic = `test.${uniq('fence-offsets')}`;
  const groupId = uniq('fence-offsets');
  const txid = uniq('fence-offsets-tx');

  beforeAll(async () => {
    kafka = testKafka('fence-offsets');
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  });

  const committedOffset = async (): Promise<number> => {
    const fresh = kafka.admin();
    await fresh.connect();
    try {
      const [t] = await fresh.fetchOffsets({ groupId, topics: [topic] });
      return Number(t?.partitions[0]?.offset ?? -1);
    } finally {
      await fresh.disconnect();
    }
  };

  it(`reads every round's offset after the fence (${ROUNDS} rounds)`, async () => {
    let laggingAfterCommit = 0;
    let owner: Producer = createDurableProducer(kafka, { transactionalId: txid });
    await owner.connect();
    for (let round = 1; round <= ROUNDS; round++) {
      const txn = await owner.transaction();
      await txn.send({ topic, messages: [{ key: 'k', value: String(round) }] });
      await whileConcurrent(() => txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic, partitions: [{ partition: 0, offset: String(round) }] }] }));
      await txn.commit();
      if ((await committedOffset()) !== round) laggingAfterCommit++;
      // The next owner: the runtime's prepare, fence then read.
      const next = createDurableProducer(kafka, { transactionalId: txid });
      await next.connect();
      await initTransactions(next);
      expect(await committedOffset()).toBe(round);
      await owner.disconnect();
      owner = next;
    }
    await owner.disconnect();
    process.stderr.write(`offsets after the fence: ${ROUNDS} of ${ROUNDS} read right after the fence were the last commit's; right after commit() alone ${laggingAfterCommit} lagged\n`);
  });
});
