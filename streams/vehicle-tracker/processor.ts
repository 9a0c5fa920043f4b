import { toAvro } from '../../schemas/events';
import { Topics } from '../../schemas/topics';
import { toInput } from '../projections/run';
import { OutRecord, Processor } from '../sink/kafka-processor';
import { decide, defaultParams, initialTracker, TrackerParams, TrackerState } from './decide';

export interface TrackerTopics {
  readonly events: string;
  readonly readings: string;
  readonly config: string;
}

export const defaultTrackerTopics: TrackerTopics = { events: Topics.chargingEvents, readings: Topics.telematicsReadings, config: Topics.fleetConfig };

/** The tracker's edge: the state of ./decide.ts, decoded records in, charging.events out. */
export const createTracker = (topics: TrackerTopics = defaultTrackerTopics, params: TrackerParams = defaultParams): Processor & { state(): TrackerState } => {
  let state = initialTracker;
  const role = new Map<string, string>([
    [topics.events, Topics.chargingEvents],
    [topics.readings, Topics.telematicsReadings],
    [topics.config, Topics.fleetConfig],
  ]);
  return {
    state: () => state,
    stateful: () => true,
    reset: () => {
      state = initialTracker;
    },
    process: (r): OutRecord[] => {
      const input = toInput({ topic: role.get(r.topic) ?? r.topic, value: r.value });
      if (!input) return [];
      const d = decide(state, input, { topic: r.topic, partition: r.partition, offset: r.offset }, params);
      state = d.state;
      return d.events.map((e) => ({ schemaTopic: Topics.chargingEvents, topic: topics.events, key: e.chargePointId, value: toAvro(e) }));
    },
  };
};
