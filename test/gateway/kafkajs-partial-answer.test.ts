/** Why a chain in ocpp.frames once missed seq 62-63 after a broker froze (issue 15), shown on kafkajs 2.2.4's own
 *  sendMessages with fake brokers, no I/O. One sendBatch over partitions of two leaders: the request to the first
 *  leader fails with an error after which kafkajs asks again who leads (a lost connection, "not the leader": what a
 *  thawed, fenced leader answers), and its partition has meanwhile moved to the second leader, which has already
 *  answered for its own partitions. kafkajs then sends nothing more and resolves with the second leader's answer
 *  alone: the moved partition's records were never written, and nothing says so. Its producer sequence is given back,
 *  so the next request of that partition is accepted under the same numbers.
 *
 *  The frame log then sent all partitions through one producer and advanced every charger's head on the answer
 *  (`baseOffset ?? 0`): the charger got its CALLRESULT, its next records (64, ...) were chained on 63, and 62-63 were
 *  nowhere. Since then each ocpp.frames partition has a lane and producer of its own (one leader per request), and the
 *  frame log takes an answer without its partition as no acknowledgement (frame-log.ts, applyAcknowledgement). */
const sendMessages = require('kafkajs/src/producer/sendMessages');
const createRetry = require('kafkajs/src/retry');
const { KafkaJSConnectionError } = require('kafkajs/src/errors');
const { DefaultPartitioner } = require('kafkajs/src/producer/partitioners');

interface TopicData {
  readonly topic: string;
  readonly partitions: readonly { partition: number; firstSequence: number; messages: readonly unknown[] }[];
}

const scenario = () => {
  // Partition 0 led by broker 1, partition 1 by broker 2; broker 1's request fails and partition 0 moves to broker 2.
  let leaders: Record<number, number> = { 0: 1, 1: 2 };
  const requests: { nodeId: number; partitions: number[]; sequences: number[] }[] = [];
  const broker = (nodeId: number) => ({
    nodeId,
    produce: async ({ topicData }: { topicData: readonly TopicData[] }) => {
      const parts = topicData.flatMap((t) => t.partitions);
      requests.push({ nodeId, partitions: parts.map((p) => p.partition), sequences: parts.map((p) => p.firstSequence) });
      if (nodeId === 1) {
        leaders = { 0: 2, 1: 2 };
        throw new KafkaJSConnectionError('Connection error: read ECONNRESET');
      }
      return { topics: topicData.map((t) => ({ topicName: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '100', logAppendTime: '-1', logStartOffset: '0' })) })) };
    },
  });
  const brokers: Record<number, ReturnType<typeof broker>> = { 1: broker(1), 2: broker(2) };
  const cluster = {
    refreshMetadataIfNecessary: async () => undefined,
    refreshMetadata: async () => undefined,
    addMultipleTargetTopics: async () => undefined,
    isConnected: () => true,
    removeBroker: () => undefined,
    findTopicPartitionMetadata: () => [0, 1].map((p) => ({ partitionId: p, leader: leaders[p] })),
    findLeaderForPartitions: (_topic: string, partitions: readonly string[]) => {
      const out: Record<number, number[]> = {};
      for (const p of partitions.map(Number)) (out[leaders[p]!] ??= []).push(p);
      return out;
    },
    findBroker: async ({ nodeId }: { nodeId: number }) => brokers[nodeId],
  };
  const sequence = new Map<number, number>();
  const eosManager = {
    acquireBrokerLock: async () => undefined,
    releaseBrokerLock: async () => undefined,
    isTransactional: () => false,
    getSequence: (_t: string, p: number) => sequence.get(p) ?? 0,
    updateSequence: (_t: string, p: number, n: number) => sequence.set(p, (sequence.get(p) ?? 0) + n),
    getProducerId: () => 1,
    getProducerEpoch: () => 0,
  };
  const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const send = sendMessages({ logger, cluster, partitioner: DefaultPartitioner(), eosManager, retrier: createRetry({ retries: 2, initialRetryTime: 1, maxRetryTime: 1 }) });
  return { send, requests, sequence };
};

test('kafkajs resolves a sendBatch without the partition that moved to a leader which had already answered', async () => {
  const { send, requests, sequence } = scenario();
  const meta = await send({
    acks: -1,
    timeout: 1000,
    topicMessages: [{ topic: 'ocpp.frames', messages: [{ key: 'cp-a', value: '62', partition: 0 }, { key: 'cp-a', value: '63', partition: 0 }, { key: 'cp-b', value: 'x', partition: 1 }] }],
  });
  // Resolved: only partition 1 answered, partition 0 was sent once, to the broker that failed, and never again.
  expect(meta.map((m: { partition: number }) => m.partition)).toEqual([1]);
  expect(requests).toEqual([
    { nodeId: 1, partitions: [0], sequences: [0] },
    { nodeId: 2, partitions: [1], sequences: [0] },
  ]);
  // Partition 0's sequence numbers were given back: its next records go out under 0, 1 and are accepted.
  expect(sequence.get(0)).toBe(0);
});

test('with one partition per request (a lane per partition), the moved partition is sent to its new leader', async () => {
  const { send, requests } = scenario();
  const meta = await send({ acks: -1, timeout: 1000, topicMessages: [{ topic: 'ocpp.frames', messages: [{ key: 'cp-a', value: '62', partition: 0 }] }] });
  expect(meta.map((m: { partition: number }) => m.partition)).toEqual([0]);
  expect(requests.map((r) => r.nodeId)).toEqual([1, 2]);
});
