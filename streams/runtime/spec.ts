import { expect } from '@jest/globals';
import { evolveAll } from './fold';

/** Given / when / then for any fold, without Kafka: given what happened before (events, or inputs folded through
 *  decide and evolve), when these inputs arrive, then these events are decided, or this is the state. */
export interface Decider<S, I, Ev> {
  readonly initial: S;
  readonly decide: (state: S, input: I) => readonly Ev[];
  readonly evolve: (state: S, event: Ev) => S;
}

export interface Outcome<S, Ev> {
  /** The state the inputs met. */
  readonly before: S;
  /** Everything decided from the inputs, in order. */
  readonly events: readonly Ev[];
  /** The state after them. */
  readonly state: S;
  /** Asserts the decided events (a list) or the state after them (`{ state }`). */
  then(expected: readonly Ev[] | { readonly state: S }): void;
}

export interface Given<S, I, Ev> {
  when(...inputs: readonly I[]): Outcome<S, Ev>;
}

const fold = <S, I, Ev>(d: Decider<S, I, Ev>, state: S, inputs: readonly I[]): { events: Ev[]; state: S } => {
  const events: Ev[] = [];
  let s = state;
  for (const input of inputs) {
    const decided = d.decide(s, input);
    events.push(...decided);
    s = evolveAll(d.evolve, s, decided);
  }
  return { events, state: s };
};

const given = <S, I, Ev>(d: Decider<S, I, Ev>, before: S): Given<S, I, Ev> => ({
  when: (...inputs) => {
    const { events, state } = fold(d, before, inputs);
    return {
      before,
      events,
      state,
      then: (expected) => {
        if ('state' in expected) expect(state).toEqual(expected.state);
        else expect(events).toEqual(expected);
      },
    };
  },
});

export const specFor = <S, I, Ev>(d: Decider<S, I, Ev>) => ({
  /** Given these events happened (evolved from the initial state). */
  given: (events: readonly Ev[] = []): Given<S, I, Ev> => given(d, evolveAll(d.evolve, d.initial, events)),
  /** Given these inputs were folded before (decided and evolved from the initial state). */
  givenInputs: (inputs: readonly I[]): Given<S, I, Ev> => given(d, fold(d, d.initial, inputs).state),
  givenState: (state: S): Given<S, I, Ev> => given(d, state),
});
