/** How many copies of each partition a topic keeps and how many must have a write before it is acknowledged (acks=-1).
 *  Defaults: three copies where the cluster has three brokers, and two of them in sync, so a write survives the loss
 *  of any one broker and the topic still takes writes while one broker is away. The same rule sets the local brokers'
 *  internal topics (consumer offsets, transaction state) and the services' own topics. */
export interface TopicReplication {
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number;
}

export const topicReplication = (brokers: number, configured: { replicationFactor?: number | undefined; minInsyncReplicas?: number | undefined } = {}): TopicReplication => {
  const replicationFactor = configured.replicationFactor ?? Math.max(1, Math.min(3, brokers));
  return { replicationFactor, minInsyncReplicas: configured.minInsyncReplicas ?? Math.min(2, replicationFactor) };
};
