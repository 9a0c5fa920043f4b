import * as E from 'fp-ts/Either';
import { KafkaMessage } from 'kafkajs';
import { InputDecoder } from './decode-input';
import { evolveAll, FoldDefinition, initialOf, InputTopics } from './fold';

export interface FoldedBatch<S> {
  /** The keys whose state changed, with their new state. */
  readonly changed: ReadonlyMap<string, S>;
  /** Encoded output records, in order; `topic` undefined: the fold's output topic. */
  readonly outputs: readonly OutputRecord[];
  /** Records at or after `from`, folded or skipped. */
  readonly records: number;
}

export interface OutputRecord {
  readonly topic: string | undefined;
  readonly key: string;
  readonly value: Buffer;
  readonly timestamp?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface BatchContext<S, I extends InputTopics, Ev, O> {
  readonly fold: FoldDefinition<S, I, Ev, O>;
  readonly decode: InputDecoder<I>;
  /** Encodes an output value with the schema of `topic` (undefined: the fold's output topic). */
  readonly encodeOutput: (value: O, topic: string | undefined) => Promise<Buffer>;
  /** The state of a key as committed (the store partition); undefined: never seen. */
  readonly committed: (key: string) => S | undefined;
  /** Whether the records fold into the store (the store's input topic) or are decided on the initial state. */
  readonly stateful: boolean;
  readonly skipped: (offset: number, why: { reason?: string; err?: Error }) => void;
  /** Called every few hundred records: gives the event loop a turn and the group a heartbeat. */
  readonly breathe: () => Promise<void>;
}

/** Folds the records of one batch from offset `from` on, into a copy of the keys they change: nothing is committed
 *  here. A record that does not decode, whose fold throws or whose output the schema refuses, is skipped. */
export const foldBatch = async <S, I extends InputTopics, Ev, O>(c: BatchContext<S, I, Ev, O>, topic: string, partition: number, messages: readonly KafkaMessage[], from: number): Promise<FoldedBatch<S>> => {
  const { fold } = c;
  const store = fold.store;
  const initial = initialOf(fold);
  const changed = new Map<string, S>();
  const outputs: OutputRecord[] = [];
  let records = 0;
  for (const m of messages) {
    const offset = Number(m.offset);
    if (offset < from) continue;
    if (++records % 500 === 0) await c.breathe();
    const input = await c.decode(topic, partition, m);
    if (E.isLeft(input)) {
      c.skipped(offset, { reason: input.left });
      continue;
    }
    try {
      if (fold.beforeDecide) await fold.beforeDecide(input.right);
      const key = c.stateful && store ? store.keyOf(input.right) : undefined;
      const before = key === undefined ? initial : (changed.get(key) ?? c.committed(key) ?? initial);
      const events = fold.decide(before, input.right);
      const encoded: OutputRecord[] = [];
      for (const e of events) {
        const out = fold.publish(e);
        if (!out) continue;
        encoded.push({
          topic: out.topic,
          key: out.key,
          value: await c.encodeOutput(out.value, out.topic),
          ...(out.timestamp !== undefined ? { timestamp: String(out.timestamp) } : {}),
          ...(out.headers ? { headers: out.headers } : {}),
        });
      }
      if (key !== undefined) {
        const after = evolveAll(fold.evolve, before, events);
        if (after !== before) changed.set(key, after);
      }
      outputs.push(...encoded);
    } catch (e) {
      c.skipped(offset, { err: e instanceof Error ? e : new Error(String(e)) });
    }
  }
  return { changed, outputs, records };
};
