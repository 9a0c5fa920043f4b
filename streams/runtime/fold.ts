import * as E from 'fp-ts/Either';
import * as t from 'io-ts';
import { SourceRef } from '../../schemas/events';
import { TopicEntry } from '../../schemas/catalog';

/** What a component hands the fold runtime: catalog entries for its inputs and output, a keyed store, and two pure
 *  functions kept apart. `decide(state, input)` says what happened; `evolve(state, event)` is the state after it;
 *  `publish(event)` is what of an event goes to the output topic (some events only move the state). */

/** An input topic, as far as the runtime needs it: where to read and how to decode. */
export interface InputTopic<A> {
  readonly name: string;
  readonly decode: (value: unknown) => E.Either<string, A>;
}

export type InputTopics = Readonly<Record<string, InputTopic<unknown>>>;

type ValueOf<T> = T extends InputTopic<infer A> ? A : never;

/** One decoded input record, tagged with the role of its topic (`from`), where it came from, and when the log received
 *  it (`timestamp`: the record's timestamp, epoch ms). */
export type Received<I extends InputTopics> = {
  readonly [K in keyof I & string]: { readonly from: K; readonly value: ValueOf<I[K]>; readonly key: string | null; readonly source: SourceRef; readonly timestamp: number };
}[keyof I & string];

/** What `publish` makes of an event: a record of the output's schema, by default to the output topic. `topic` sends it
 *  to another topic of the same schema (a router's per-partner topics: the fold makes sure it exists, in
 *  `beforeDecide`); `timestamp` and `headers` are the record's own. */
export interface Published<O> {
  readonly key: string;
  readonly value: O;
  readonly topic?: string;
  readonly timestamp?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** State kept per key, one store per partition of `input` (the key must be that topic's record key, so that the
 *  store's partitions are the input's). Changes go to a compacted changelog topic. */
export interface KeyedStoreDefinition<S, I extends InputTopics> {
  readonly name: string;
  /** Version of the state's shape. A changelog written with another version is not read: the store is rebuilt from
   *  the input's history once. Raise it whenever the codec changes. */
  readonly shape: number;
  readonly codec: t.Type<S, unknown, unknown>;
  readonly initial: S;
  readonly input: keyof I & string;
  /** The key of the state an input of `input` folds into. Inputs of other topics see `initial` and change nothing. */
  readonly keyOf: (input: Received<I>) => string;
}

export interface FoldDefinition<S, I extends InputTopics, Ev, O> {
  readonly name: string;
  readonly inputs: I;
  readonly output: TopicEntry<O>;
  /** None: a stateless fold (a router), every input decided on `initial`; no changelog, nothing to restore. */
  readonly store?: KeyedStoreDefinition<S, I>;
  /** The state a stateless fold's decide sees (a fold with a store uses the store's). */
  readonly initial?: S;
  readonly decide: (state: S, input: Received<I>) => readonly Ev[];
  readonly evolve: (state: S, event: Ev) => S;
  readonly publish: (event: Ev) => Published<O> | undefined;
  /** Awaited before an input is decided: e.g. a router waits for its global table to catch up on a key it does not
   *  know yet. decide itself stays synchronous and pure. */
  readonly beforeDecide?: (input: Received<I>) => Promise<void>;
  /** Awaited once before the records of a fetched batch are decided (e.g. a router reads its global table up to the
   *  end, so that every change written before the batch was fetched is applied to it). If it throws, the batch is not
   *  folded and is read again from the partition's position. */
  readonly beforeBatch?: () => Promise<void>;
}

/** A fold with a keyed store. */
export type StatefulFold<S, I extends InputTopics, Ev, O> = FoldDefinition<S, I, Ev, O> & { readonly store: KeyedStoreDefinition<S, I> };

/** The state every input of a stateless fold (or of a stateful fold's other topics) is decided on. */
export const initialOf = <S, I extends InputTopics, Ev, O>(fold: FoldDefinition<S, I, Ev, O>): S => {
  if (fold.store) return fold.store.initial;
  if (fold.initial === undefined) throw new Error(`fold ${fold.name} has neither a store nor an initial state`);
  return fold.initial;
};

/** The state after a list of events. */
export const evolveAll = <S, Ev>(evolve: (s: S, e: Ev) => S, state: S, events: readonly Ev[]): S => events.reduce(evolve, state);
