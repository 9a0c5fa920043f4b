import { topicReplication } from './topic-replication';

test('one broker: one copy, one in sync', () => {
  expect(topicReplication(1)).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
});

test('two brokers: two copies, both in sync', () => {
  expect(topicReplication(2)).toEqual({ replicationFactor: 2, minInsyncReplicas: 2 });
});

test('three brokers or more: three copies, two in sync', () => {
  expect(topicReplication(3)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
  expect(topicReplication(7)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
});

test('configured values win; min ISR follows a configured replication factor', () => {
  expect(topicReplication(3, { replicationFactor: 1 })).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
  expect(topicReplication(5, { replicationFactor: 5, minInsyncReplicas: 3 })).toEqual({ replicationFactor: 5, minInsyncReplicas: 3 });
  expect(topicReplication(3, { minInsyncReplicas: 1 })).toEqual({ replicationFactor: 3, minInsyncReplicas: 1 });
});
