import { logLevel } from 'kafkajs';
import { kafkaEntryLevel } from './kafka';

describe('kafkajs log entries', () => {
  const concurrent = 'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';

  test('an attempt failing with a broker error kafkajs retries by itself is debug, as a response or a send', () => {
    expect(kafkaEntryLevel(logLevel.ERROR, { message: 'Response AddPartitionsToTxn(key: 24, version: 1)', error: concurrent })).toBe('debug');
    expect(kafkaEntryLevel(logLevel.ERROR, { message: `Failed to send messages: ${concurrent}` })).toBe('debug');
    expect(kafkaEntryLevel(logLevel.ERROR, { message: 'Response GroupCoordinator(key: 10, version: 2)', error: 'The group coordinator is not available' })).toBe('debug');
  });

  test('anything else keeps its level: errors kafkajs does not retry, and warnings', () => {
    expect(kafkaEntryLevel(logLevel.ERROR, { message: 'Response Produce(key: 0, version: 7)', error: 'Not authorized to access topics: [Topic authorization failed]' })).toBe('error');
    expect(kafkaEntryLevel(logLevel.ERROR, { message: 'Crash: KafkaJSNumberOfRetriesExceeded' })).toBe('error');
    expect(kafkaEntryLevel(logLevel.WARN, { message: 'Limiting retries for the idempotent producer may invalidate EoS guarantees' })).toBe('warn');
  });
});
