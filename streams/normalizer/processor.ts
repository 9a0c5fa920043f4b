import { toAvro } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { OutRecord, Processor } from '../sink/kafka-processor';
import { ChargerState, commandCompleted, decide, initialCharger } from './decide';
import { normalizeCommandResult, normalizeFrame } from './frame';

/** The normalizer's edge: one ChargerState per charger (the pure fold is ./decide.ts), frames from `frames`,
 *  command results from `commandResults`, events out in the charging.events schema. */
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
        const e = commandCompleted(normalizeCommandResult(r.value), source);
        return [{ schemaTopic: Topics.chargingEvents, key: e.chargePointId, value: toAvro(e) }];
      }
      const f = normalizeFrame(r.value);
      const d = decide(chargers.get(f.chargePointId) ?? initialCharger, f, source);
      chargers.set(f.chargePointId, d.state);
      return d.events.map((e) => ({ schemaTopic: Topics.chargingEvents, key: e.chargePointId, value: toAvro(e) }));
    },
  };
};
