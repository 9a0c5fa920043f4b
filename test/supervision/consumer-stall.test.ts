import { Consumer } from 'kafkajs';
import { Registry } from 'prom-client';
import { createHealth } from '../../services/common/health';
import { createLogger } from '../../services/common/log';
import { consumerDied } from '../../services/common/supervise';
import { superviseConsumer } from '../../services/common/supervised-consumer';
import { testKafka, uniq, waitForValue } from '../support/stack';

/** A consumer that stops fetching while there is input (seen after kafkajs rejoined a group following a long stall:
 *  alive, a member, never fetching again, its part 'restoring' for ever) is declared down and replaced. Here the
 *  first instance's handler never returns; the second reads everything. */
jest.setTimeout(120_000);

const kafka = testKafka('stall');
const topic = uniq('stall');

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

test('given a consumer whose handler hangs with input left, then its part goes down as stalled and a new consumer reads the input', async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: ['a', 'b', 'c'].map((value) => ({ value })) });
  await producer.disconnect();

  const health = createHealth(new Registry());
  const groupId = uniq('stall-group');
  const seen: string[] = [];
  const states: string[] = [];
  let instances = 0;
  const start = async () => {
    const instance = ++instances;
    const consumer: Consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    const died = consumerDied(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (instance === 1) await new Promise(() => undefined); // never returns
        seen.push(message.value!.toString());
      },
    });
    return { topics: [topic], groupId, consumers: [consumer], died, stop: () => consumer.disconnect() };
  };
  const supervisor = await superviseConsumer({ kafka, health, log: createLogger('stall-test', 'error'), stallAfterMs: 4000, stopTimeoutMs: 2000 }, 'stuck', start);
  const watch = setInterval(() => {
    const p = health.report().parts.stuck;
    if (p && states[states.length - 1] !== `${p.status} ${p.detail ?? ''}`) states.push(`${p.status} ${p.detail ?? ''}`);
  }, 100);
  try {
    await waitForValue('all three records read by a new consumer', () => (seen.length === 3 ? true : undefined), 90_000, 200);
    await waitForValue('the part running again', () => (health.report().parts.stuck?.status === 'running' ? true : undefined), 30_000, 200);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(instances).toBe(2);
    expect(states.some((s) => /^down stalled: no fetch for \d+ s with \d+ record\(s\) to read/.test(s))).toBe(true);
  } finally {
    clearInterval(watch);
    await supervisor.stop().catch(() => undefined);
  }
});
