import * as E from 'fp-ts/Either';
import * as t from 'io-ts';
import { KafkaMessage } from 'kafkajs';
import { catalog } from '../../schemas/catalog';
import { ChargingEvent } from '../../schemas/events';
import { FoldDefinition, InputTopic } from './fold';
import { foldBatch } from './fold-batch';

/** A toy fold: per key, the sum of the numbers seen; 0 changes nothing; a negative number makes decide throw. */
type Inputs = { readonly numbers: InputTopic<number> };
const toy: FoldDefinition<number, Inputs, number, ChargingEvent> = {
  name: 'toy',
  inputs: { numbers: { name: 'numbers', decode: (u) => (typeof u === 'number' ? E.right(u) : E.left('not a number')) } },
  output: catalog.chargingEvents,
  store: { name: 'sums', shape: 1, codec: t.number, initial: 0, input: 'numbers', keyOf: (i) => i.key ?? '' },
  decide: (_s, i) => {
    if (i.value < 0) throw new Error('negative');
    return i.value === 0 ? [] : [i.value];
  },
  evolve: (s, n) => s + n,
  publish: () => undefined,
};

const message = (offset: number, key: string, value: string): KafkaMessage => ({ key: Buffer.from(key), value: Buffer.from(value), offset: String(offset), timestamp: '0', attributes: 0, headers: {} });

describe('foldBatch', () => {
  const decode = async (topic: string, partition: number, m: KafkaMessage) => {
    const n = Number(m.value!.toString());
    return Number.isNaN(n) ? E.left(`${topic}[${partition}]@${m.offset}: not a number`) : E.right({ from: 'numbers' as const, value: n, key: m.key!.toString(), source: { topic, partition, offset: Number(m.offset) }, timestamp: Number(m.timestamp) });
  };

  it('given committed sums, folds from the expected offset into a copy of the changed keys, skipping what does not decode or throws', async () => {
    const committed = new Map([['a', 10]]);
    const skipped: [number, string][] = [];
    const folded = await foldBatch(
      { fold: toy, decode, stateful: true, committed: (k) => committed.get(k), encodeOutput: async () => Buffer.alloc(0), skipped: (o, why) => skipped.push([o, why.reason ?? why.err!.message]), breathe: async () => undefined },
      'numbers',
      4,
      [message(7, 'a', '1'), message(8, 'a', '2'), message(9, 'b', 'x'), message(10, 'b', '-1'), message(11, 'c', '0'), message(12, 'b', '5')],
      8,
    );
    expect([...folded.changed]).toEqual([
      ['a', 12],
      ['b', 5],
    ]);
    expect(committed.get('a')).toBe(10);
    expect(folded.records).toBe(5);
    expect(skipped).toEqual([
      [9, 'numbers[4]@9: not a number'],
      [10, 'negative'],
    ]);
  });
});
