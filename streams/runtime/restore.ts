import * as E from 'fp-ts/Either';
import { Admin, Producer } from 'kafkajs';
import { TopicSerde } from '../../schemas/registry';
import { DURABLE_ACKS } from '../../services/common/kafka';
import { Logger } from '../../services/common/log';
import { Changelog, fromPositionChange, fromStoreChange, POSITION_KEY, toPositionChange, toStoreChange } from './changelog';
import { InputDecoder } from './decode-input';
import { evolveAll, InputTopics, StatefulFold } from './fold';
import { PartitionReader } from './partition-reader';

/** A store partition back in memory: from its changelog, or, when the changelog holds another shape of the state,
 *  rebuilt once from the input's history and written back to the changelog. */
export interface RestoreContext<S, I extends InputTopics, Ev, O> {
  readonly fold: StatefulFold<S, I, Ev, O>;
  readonly admin: Admin;
  readonly reader: PartitionReader;
  readonly serde: TopicSerde;
  readonly changelog: Changelog;
  readonly decode: InputDecoder<I>;
  readonly log: Logger;
  readonly progress: (partition: number, done: number, total: number) => void;
}

const yieldToLoop = () => new Promise((r) => setImmediate(r));

const partitionOffsets = async (admin: Admin, topic: string, partition: number): Promise<{ low: number; high: number }> => {
  const p = (await admin.fetchTopicOffsets(topic)).find((x) => x.partition === partition);
  if (!p) throw new Error(`${topic} has no partition ${partition}`);
  return { low: Number(p.low), high: Number(p.high) };
};

export const changeRecord = <S>(c: { fold: { name: string; store: { name: string; shape: number } }; serde: TopicSerde; changelog: Changelog }, key: string, partition: number, state: S) =>
  c.serde.encode(c.changelog.schemaTopic, toStoreChange(`${c.fold.name}.${c.fold.store.name}`, c.fold.store.shape, state)).then((value) => ({ key, partition, value }));

/** The record of the next input offset, written in every transaction of the partition (changelog.ts, POSITION_KEY). */
export const positionRecord = (c: { fold: { name: string; store: { name: string } }; serde: TopicSerde; changelog: Changelog }, partition: number, next: number) =>
  c.serde.encode(c.changelog.schemaTopic, toPositionChange(`${c.fold.name}.${c.fold.store.name}`, next)).then((value) => ({ key: POSITION_KEY, partition, value }));

export interface RestoredStore<S> {
  readonly states: Map<string, S>;
  /** The next input offset as the partition's last transaction wrote it; null before any did. */
  readonly position: number | null;
}

/** The store partition `partition`, as of input offset `upTo` (the committed offset), read after `producer` (the
 *  partition's transactional producer) was initialised. */
export const restoreStore = async <S, I extends InputTopics, Ev, O>(c: RestoreContext<S, I, Ev, O>, partition: number, upTo: number, producer: Producer): Promise<RestoredStore<S>> => {
  const store = c.fold.store;
  const { low, high } = await partitionOffsets(c.admin, c.changelog.name, partition);
  const states = new Map<string, S>();
  const otherShape = new Set<string>();
  const started = Date.now();
  let records = 0;
  let position: number | null = null;
  c.progress(partition, 0, high - low);
  await c.reader.read(c.changelog.name, partition, low, high, async (msgs) => {
    for (const m of msgs) {
      const key = m.key?.toString();
      if (key === undefined) continue;
      records++;
      if (key === POSITION_KEY) {
        const next = m.value ? fromPositionChange(await c.serde.decode(m.value)) : E.left('no value');
        if (E.isRight(next)) position = next.right;
        else c.log.error('changelog position record does not decode; skipped', { topic: c.changelog.name, partition, offset: m.offset, reason: next.left });
        continue;
      }
      if (!m.value) {
        states.delete(key);
        otherShape.delete(key);
        continue;
      }
      const entry = fromStoreChange(store.codec, store.shape, await c.serde.decode(m.value));
      if (E.isLeft(entry)) {
        c.log.error('changelog record does not decode; key skipped', { topic: c.changelog.name, partition, offset: m.offset, reason: entry.left });
      } else if (entry.right.kind === 'shape') {
        otherShape.add(key);
        states.delete(key);
      } else {
        states.set(key, entry.right.state);
        otherShape.delete(key);
      }
    }
    c.progress(partition, Number(msgs[msgs.length - 1]!.offset) + 1 - low, high - low);
    await yieldToLoop();
  });
  c.log.info('store restored from changelog', { store: store.name, partition, keys: states.size, records, ms: Date.now() - started });
  // A rebuild folds the input as far as the last transaction went, which its position says when the group's offset lags.
  const target = Math.max(upTo, position ?? upTo);
  if (otherShape.size > 0) {
    c.log.warn('store shape changed: rebuilding the store partition from the input history', { store: store.name, shape: store.shape, partition, staleKeys: otherShape.size });
    return { states: await rebuildStore(c, partition, target, producer, otherShape), position: target };
  }
  // No changelog, yet the group has folded part of the input: its offsets were committed without a store (the old
  // re-reading processor, or a changelog topic deleted).
  if (high === 0 && upTo > (await partitionOffsets(c.admin, c.fold.inputs[store.input]!.name, partition)).low) {
    c.log.warn('store has no changelog but its group has committed offsets: rebuilding the store partition from the input history', { store: store.name, partition, upTo });
    return { states: await rebuildStore(c, partition, target, producer, otherShape), position: target };
  }
  return { states, position };
};

/** Folds the input partition's history up to `upTo` (no outputs) and writes every key's state to the changelog, with
 *  tombstones for keys of the old shape that no longer exist. */
const rebuildStore = async <S, I extends InputTopics, Ev, O>(c: RestoreContext<S, I, Ev, O>, partition: number, upTo: number, producer: Producer, stale: ReadonlySet<string>): Promise<Map<string, S>> => {
  const { fold } = c;
  const store = fold.store;
  const topic = fold.inputs[store.input]!.name;
  const { low } = await partitionOffsets(c.admin, topic, partition);
  const states = new Map<string, S>();
  let lastLogged = Date.now();
  c.progress(partition, 0, upTo - low);
  await c.reader.read(topic, partition, low, upTo, async (msgs) => {
    for (const m of msgs) {
      const input = await c.decode(topic, partition, m);
      if (E.isLeft(input)) continue;
      const key = store.keyOf(input.right);
      const s = states.get(key) ?? store.initial;
      states.set(key, evolveAll(fold.evolve, s, fold.decide(s, input.right)));
    }
    const done = Number(msgs[msgs.length - 1]!.offset) + 1 - low;
    c.progress(partition, done, upTo - low);
    if (Date.now() - lastLogged > 2000) {
      lastLogged = Date.now();
      c.log.info('rebuilding store partition', { store: store.name, partition, done, total: upTo - low });
    }
    await yieldToLoop();
  });
  const txn = await producer.transaction();
  try {
    const messages: { key: string; partition: number; value: Buffer | null }[] = [];
    for (const [key, s] of states) messages.push(await changeRecord(c, key, partition, s));
    for (const key of stale) if (!states.has(key)) messages.push({ key, partition, value: null });
    messages.push(await positionRecord(c, partition, upTo));
    for (let i = 0; i < messages.length; i += 5000) await txn.send({ topic: c.changelog.name, messages: messages.slice(i, i + 5000), acks: DURABLE_ACKS });
    await txn.commit();
  } catch (e) {
    await txn.abort().catch(() => undefined);
    throw e;
  }
  c.log.info('store partition rebuilt', { store: store.name, partition, keys: states.size });
  return states;
};
