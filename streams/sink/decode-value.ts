import * as E from 'fp-ts/Either';
import { TopicSerde } from '../../schemas/registry';

/** A record value in the Confluent wire format → the Avro-decoded record, or why these bytes are no such record
 *  (not the wire format, a schema id the registry does not know, bytes the writer schema does not read). Throws only
 *  when the registry cannot be asked (unreachable, 5xx): that is no fault of the record, and the batch is retried. */
export const decodeValue = async (serde: TopicSerde, value: Buffer): Promise<E.Either<string, Record<string, unknown>>> => {
  if (value.length < 5 || value[0] !== 0) return E.left(`not in the Confluent wire format (magic byte 0, 4-byte schema id), ${value.length} bytes`);
  const id = value.readInt32BE(1);
  let schema: { fromBuffer(b: Buffer): unknown };
  try {
    schema = (await serde.registry.getSchema(id)) as unknown as { fromBuffer(b: Buffer): unknown };
  } catch (e) {
    const status = (e as { status?: unknown }).status;
    if (status === 404) return E.left(`schema id ${id} is not in the registry`);
    throw e;
  }
  try {
    const decoded = schema.fromBuffer(value.subarray(5));
    return typeof decoded === 'object' && decoded !== null ? E.right(decoded as Record<string, unknown>) : E.left(`schema id ${id} is not a record schema`);
  } catch (e) {
    return E.left(`does not decode with schema id ${id}: ${(e as Error).message}`);
  }
};
