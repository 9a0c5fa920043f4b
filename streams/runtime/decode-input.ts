import * as E from 'fp-ts/Either';
import { KafkaMessage } from 'kafkajs';
import { decodeRecord, describeUndecodable } from '../../schemas/catalog';
import { TopicSerde } from '../../schemas/registry';
import { InputTopics, Received } from './fold';

/** Kafka record → the fold's input: Avro through the registry, then the catalog entry's io-ts decoder. Left: why not,
 *  naming topic, partition and offset. */
export type InputDecoder<I extends InputTopics> = (topic: string, partition: number, m: KafkaMessage) => Promise<E.Either<string, Received<I>>>;

export const inputDecoder = <I extends InputTopics>(inputs: I, serde: TopicSerde): InputDecoder<I> => {
  const roles = new Map(Object.entries(inputs).map(([role, input]) => [input.name, { role, input }]));
  return async (topic, partition, m) => {
    const r = roles.get(topic);
    if (!r) return E.left(`${topic} is not an input`);
    if (!m.value) return E.left(`${topic}[${partition}]@${m.offset}: no value`);
    let raw: unknown;
    try {
      raw = await serde.decode(m.value);
    } catch (e) {
      return E.left(`${topic}[${partition}]@${m.offset}: not Avro of a registered schema: ${(e as Error).message}`);
    }
    const offset = Number(m.offset);
    const decoded = decodeRecord({ name: topic, decode: r.input.decode }, { partition, offset }, raw);
    if (E.isLeft(decoded)) return E.left(describeUndecodable(decoded.left));
    // The role and the decoder come from the same entry of `inputs`: the pair is a Received<I>.
    const input = { from: r.role, value: decoded.right, key: m.key?.toString() ?? null, source: { topic, partition, offset }, timestamp: Number(m.timestamp) } as Received<I>;
    return E.right(input);
  };
};
