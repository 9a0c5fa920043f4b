import * as E from 'fp-ts/Either';
import { catalog } from '../../schemas/catalog';
import { toAvro } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { evolveAll } from '../runtime/fold';
import { OutRecord, Processor } from '../sink/kafka-processor';
import { ChargerState, commandCompleted, decide, evolve, initialCharger, publishedEvents } from './decide';

/** The normalizer on the old re-read-everything processor (streams/sink/kafka-processor.ts). The service runs on the
 *  fold runtime (./fold.ts); this stays as the baseline of `voltstream bench restart`. Records that don't decode are
 *  skipped. */
export const createNormalizer = (topics: { frames: string; commandResults: string } = { frames: Topics.ocppFrames, commandResults: Topics.ocppCommandResults }): Processor & { chargers(): ReadonlyMap<string, ChargerState> } => {
  let chargers = new Map<string, ChargerState>();
  return {
    chargers: () => chargers,
    stateful: (topic) => topic === topics.frames,
    reset: () => {
      chargers = new Map();
    },
    process: (r): OutRecord[] => {
      const source = { topic: r.topic, partition: r.partition, offset: r.offset };
      if (r.topic === topics.commandResults) {
        const result = catalog.ocppCommandResults.decode(r.value);
        if (E.isLeft(result)) return [];
        const e = commandCompleted(result.right, source);
        return [{ schemaTopic: Topics.chargingEvents, key: e.chargePointId, value: toAvro(e) }];
      }
      const frame = catalog.ocppFrames.decode(r.value);
      if (E.isLeft(frame)) return [];
      const before = chargers.get(frame.right.chargePointId) ?? initialCharger;
      const facts = decide(before, frame.right, source);
      chargers.set(frame.right.chargePointId, evolveAll(evolve, before, facts));
      return publishedEvents(facts).map((e) => ({ schemaTopic: Topics.chargingEvents, key: e.chargePointId, value: toAvro(e) }));
    },
  };
};
