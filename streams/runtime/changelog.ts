import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import * as t from 'io-ts';
import { decodeWith } from '../../schemas/records';
import { changelogTopic } from '../../schemas/topics';

/** The records of a keyed store's changelog (schemas/avro/store.changelog.avsc): key = the store's key, value = the
 *  shape version and the state as JSON; a null value removes the key. */
export const StoreChangeCodec = t.type({ store: t.string, shape: t.number, stateJson: t.string });
export type StoreChange = t.TypeOf<typeof StoreChangeCodec>;

export interface Changelog {
  /** The topic written and read. */
  readonly name: string;
  /** The topic whose registered schema encodes the values (every changelog has the same schema). */
  readonly schemaTopic: string;
}

export const changelogOf = (processor: string, store: string, name?: string): Changelog => {
  const canonical = changelogTopic(processor, store);
  return { name: name ?? canonical, schemaTopic: canonical };
};

export const toStoreChange = <S>(store: string, shape: number, state: S): StoreChange => ({ store, shape, stateJson: JSON.stringify(state) });

/** The key of the record that every transaction of a store partition writes beside its changes: the next input
 *  offset. A restore reads it with the states and resumes from it when the group's committed offset, read just after
 *  the fence, is still the one before the previous owner's last transaction: Kafka applies a transaction's offsets to
 *  the group after its commit, and kafkajs cannot ask for stable offsets (OffsetFetch v7, KIP-447). The key cannot
 *  be a store key (they are ids, never starting with NUL). */
export const POSITION_KEY = '\u0000input-position';

const Position = t.type({ next: t.number });

export const toPositionChange = (store: string, next: number): StoreChange => ({ store, shape: 0, stateJson: JSON.stringify({ next }) });

export const fromPositionChange = (value: unknown): E.Either<string, number> =>
  pipe(
    decodeWith(StoreChangeCodec)(value),
    E.chain((c) =>
      E.tryCatch(
        (): unknown => JSON.parse(c.stateJson),
        (e) => `position is not JSON: ${(e as Error).message}`,
      ),
    ),
    E.chain(decodeWith(Position)),
    E.map((p) => p.next),
  );

/** A changelog value → the state it holds, or `shape` when it was written for another shape of the state. */
export type ChangelogEntry<S> = { readonly kind: 'state'; readonly state: S } | { readonly kind: 'shape'; readonly shape: number };

export const fromStoreChange = <S>(codec: t.Type<S, unknown, unknown>, shape: number, value: unknown): E.Either<string, ChangelogEntry<S>> =>
  pipe(
    decodeWith(StoreChangeCodec)(value),
    E.chain((c): E.Either<string, ChangelogEntry<S>> => {
      if (c.shape !== shape) return E.right({ kind: 'shape', shape: c.shape });
      return pipe(
        E.tryCatch(
          (): unknown => JSON.parse(c.stateJson),
          (e) => `state is not JSON: ${(e as Error).message}`,
        ),
        E.chain(decodeWith(codec)),
        E.map((state) => ({ kind: 'state', state })),
      );
    }),
  );
