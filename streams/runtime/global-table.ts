import { Kafka } from 'kafkajs';
import { TopicSerde } from '../../schemas/registry';
import { Logger } from '../../services/common/log';
import { InputTopic } from './fold';
import { Follower, startFollower } from './follower';

/** A global table (Kafka Streams' GlobalKTable): every instance reads ALL partitions of a topic from its start into
 *  one value, folded by `evolve`, and keeps following it. No changelog of its own: the topic is the table's history
 *  (fleet.config: one partition, every configuration write, small). `startGlobalTable` resolves once the table holds
 *  everything the topic held when it started.
 *
 *  A follower (./follower.ts) with one input: every record is folded exactly once, in order. The table commits no
 *  offsets, so kafkajs, when it joins the group again (a rebalance, its own restart after a retriable crash), would
 *  read the topic from the beginning again into the live value; the follower seeks back to its own positions and
 *  skips what it has folded, so the live value never goes back to an older configuration. Its `catchUp` shares a
 *  catch-up started less than a second before, so a run of unknown keys costs one offset fetch a second. */
export type GlobalTable<T> = Follower<T>;

export interface GlobalTableOptions<A, T> {
  readonly kafka: Kafka;
  readonly serde: TopicSerde;
  readonly log: Logger;
  readonly topic: InputTopic<A>;
  /** The table's own consumer group (it commits nothing): unique per instance, deleted when the table stops. */
  readonly groupId: string;
  readonly initial: T;
  readonly evolve: (table: T, value: A) => T;
  /** The positions map of the value being continued (see ./follower.ts): a replacement that folds into the value a
   *  crashed table built, from where it stopped. Default: the topic's beginning. */
  readonly positions?: Map<string, number>;
  /** Progress while reading the topic up to its end at start. */
  readonly progress?: (done: number, total: number) => void;
}

export const startGlobalTable = <A, T>(o: GlobalTableOptions<A, T>): Promise<GlobalTable<T>> =>
  startFollower({
    kafka: o.kafka,
    serde: o.serde,
    log: o.log,
    name: `global table ${o.topic.name}`,
    inputs: { table: o.topic },
    groupId: o.groupId,
    initial: o.initial,
    evolve: (table: T, r) => o.evolve(table, r.value),
    ...(o.positions ? { positions: o.positions } : {}),
    readToEnd: true,
    ...(o.progress ? { progress: o.progress } : {}),
  });
