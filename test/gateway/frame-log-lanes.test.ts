/** The frame log's lane health without Kafka: when a failed request is sent again, when its records are refused, and
 *  that a lane refuses new records only once it gave up (services/ocpp-gateway/lane-health.ts). */
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSRequestTimeoutError } from 'kafkajs';
import { afterFailure, LaneHealth, produceFailure, refusal, RetryPolicy, writing } from '../../services/ocpp-gateway/lane-health';
import { silentBrokerOf } from '../../services/ocpp-gateway/silent-brokers';

const policy: RetryPolicy = { failoverMs: 20_000, initialBackoffMs: 100, maxBackoffMs: 1_000 };
const down = { retriable: true, message: 'Connection error: connect ECONNREFUSED 127.0.0.1:21000' };

/** Fails the lane's request at each of `times` (ms), feeding each step's health into the next. */
const failAt = (times: readonly number[], h: LaneHealth = writing) =>
  times.map((now) => {
    const step = afterFailure(h, down, now, policy);
    h = step.health;
    return step;
  });

describe('lane health', () => {
  test('given a writing lane, when its request fails, then it is sent again after the initial backoff and new records are not refused', () => {
    const [step] = failAt([1_000]);
    expect(step!.next).toEqual({ action: 'resend', afterMs: 100 });
    expect(step!.health).toEqual({ state: 'resending', since: 1_000, attempts: 1, lastError: down.message });
    expect(refusal(step!.health)).toBeUndefined();
  });

  test('given repeated failures, then the backoff doubles up to its cap and the budget counts from the first attempt', () => {
    const steps = failAt([0, 150, 400, 900, 1_800, 3_000, 4_100]);
    expect(steps.map((s) => (s.next.action === 'resend' ? s.next.afterMs : -1))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
    expect(steps.every((s) => s.health.state === 'resending' && s.health.since === 0)).toBe(true);
  });

  test('given a failover that ends inside the budget, then nothing is refused at any point', () => {
    // A leader fenced 9-12 s after it died: attempts every second until then, each one failing.
    const steps = failAt(Array.from({ length: 13 }, (_, i) => i * 1_000));
    expect(steps.map((s) => s.next.action)).toEqual(Array(13).fill('resend'));
    expect(steps.map((s) => refusal(s.health))).toEqual(Array(13).fill(undefined));
  });

  test('the last backoff ends at the budget, not after it', () => {
    const steps = failAt([0, 150, 400, 900, 19_700]);
    expect(steps[4]!.next).toEqual({ action: 'resend', afterMs: 300 });
  });

  test('given failures for longer than the budget, then the records are refused and so is every new record of the lane', () => {
    const steps = failAt([0, 5_000, 10_000, 15_000, 20_000]);
    const last = steps[steps.length - 1]!;
    expect(last.next.action).toBe('refuse');
    expect(last.health.state).toBe('refusing');
    expect(refusal(last.health)).toMatch(/no acknowledgement within 20000 ms \(5 attempts\): Connection error/);
  });

  test('given a failure no resend can cure, then it is refused at once; not in doubt when the leader said it did not write it', () => {
    const step = afterFailure(writing, { retriable: false, message: 'OUT_OF_ORDER_SEQUENCE_NUMBER', refusedByBroker: true }, 0, policy);
    expect(step.next).toEqual({ action: 'refuse', reason: 'Kafka refused the request: OUT_OF_ORDER_SEQUENCE_NUMBER', inDoubt: false });
    expect(refusal(step.health)).toBeDefined();
  });

  test('given a failure kafkajs gave up on without an answer from the leader, then it is refused at once, in doubt', () => {
    const step = afterFailure(writing, { retriable: false, message: 'Request Produce(key: 0, version: 7) timed out', refusedByBroker: false }, 0, policy);
    expect(step.next).toMatchObject({ action: 'refuse', inDoubt: true });
  });

  test('given failures for longer than the budget, then the request is in doubt: an unanswered attempt may still be written', () => {
    const last = failAt([0, 5_000, 10_000, 15_000, 20_000]).pop()!;
    expect(last.next).toMatchObject({ action: 'refuse', inDoubt: true });
  });

  test('given an acknowledgement after resends, then the next failure starts a budget of its own', () => {
    failAt([0, 10_000, 19_000]);
    const step = afterFailure(writing, down, 25_000, policy);
    expect(step.health).toEqual({ state: 'resending', since: 25_000, attempts: 1, lastError: down.message });
  });

  test('one lane refusing says nothing of another: health is per lane', () => {
    const refusing = failAt([0, 20_000])[1]!.health;
    const resending = failAt([20_000])[0]!.health;
    expect([refusing, resending, writing].map((h) => refusal(h) !== undefined)).toEqual([true, false, false]);
  });
});

describe('what a kafkajs failure says', () => {
  test("retries exhausted on a retriable cause (after the producer's own retry): send again", () => {
    const cause = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
    expect(produceFailure(new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 0, retryTime: 100 }))).toEqual({ retriable: true, message: 'Connection error: connect ECONNREFUSED', refusedByBroker: false });
  });

  test('a failure kafkajs bailed on: refuse, a fresh producer and a probe', () => {
    const cause = new KafkaJSProtocolError('The broker received an out of order sequence number');
    expect(produceFailure(new KafkaJSNonRetriableError(cause)).retriable).toBe(false);
  });

  test('a request timeout, however kafkajs wrapped it, is no answer from the leader (in doubt), and names the broker that did not answer', () => {
    const timeout = new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out', { broker: '127.0.0.1:21100', clientId: 'gw', correlationId: 7, createdAt: 0, sentAt: 0, pendingDuration: 0 });
    const wrapped = Object.assign(new KafkaJSNonRetriableError(new KafkaJSNumberOfRetriesExceeded(timeout, { retryCount: 1, retryTime: 100 })), { cause: timeout });
    expect(produceFailure(wrapped)).toMatchObject({ retriable: false, refusedByBroker: false });
    expect(silentBrokerOf(wrapped)).toBe('127.0.0.1:21100');
    expect(silentBrokerOf(new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error'), { retryCount: 1, retryTime: 100 }))).toBeUndefined();
  });

  test("a protocol error the leader answered and kafkajs bailed on: refused by the broker, not in doubt", () => {
    const cause = new KafkaJSProtocolError({ message: 'The broker received an out of order sequence number', type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', code: 45, retriable: false } as never);
    expect(produceFailure(Object.assign(new KafkaJSNonRetriableError(cause), { cause }))).toMatchObject({ retriable: false, refusedByBroker: true });
  });

  test('anything else is retriable unless it says it is not', () => {
    expect(produceFailure(new Error('Request Produce(key: 0, version: 7) timed out')).retriable).toBe(true);
    expect(produceFailure(Object.assign(new Error('no'), { retriable: false })).retriable).toBe(false);
  });
});
