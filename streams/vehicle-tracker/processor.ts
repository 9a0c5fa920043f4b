import { ChargingEvent, toAvro } from '../../schemas/events';
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

/** The tracker's edge: the state of ./decide.ts, decoded records in, charging.events out.
 *
 *  Restore: outputs of records folded while restoring are dropped (they were produced when those records were first
 *  processed). But each partition restores on its own while others are already live, so a restore can fold the inputs
 *  in an order the first run never saw: e.g. a new SessionStarted processed live before the restore of fleet.config
 *  reaches the VehicleConfigured mapping its id tag decides the id-tag match inside the restore, where it would be
 *  dropped although no earlier run produced it. An id-tag match decided while restoring is therefore kept, and produced
 *  with the next live record of the session's charging.events partition unless it has come back on charging.events
 *  by then (an id-tag match depends only on the session's tag and the configuration, so producing it again at worst
 *  repeats the same decision). */
export const createTracker = (topics: TrackerTopics = defaultTrackerTopics, params: TrackerParams = defaultParams): Processor & { state(): TrackerState } => {
  let state = initialTracker;
  const role = new Map<string, string>([
    [topics.events, Topics.chargingEvents],
    [topics.readings, Topics.telematicsReadings],
    [topics.config, Topics.fleetConfig],
  ]);
  /** charging.events partition of each charge point (its events and our decisions about it share the key). */
  const partitionOf = new Map<string, number>();
  /** Id-tag matches decided while restoring and not seen back on charging.events yet, by session. */
  const unconfirmed = new Map<string, ChargingEvent>();
  const toOut = (e: ChargingEvent): OutRecord => ({ schemaTopic: Topics.chargingEvents, topic: topics.events, key: e.chargePointId, value: toAvro(e) });
  return {
    state: () => state,
    stateful: () => true,
    reset: () => {
      state = initialTracker;
      partitionOf.clear();
      unconfirmed.clear();
    },
    process: (r, restoring): OutRecord[] => {
      const input = toInput({ topic: role.get(r.topic) ?? r.topic, value: r.value });
      if (!input) return [];
      const d = decide(state, input, { topic: r.topic, partition: r.partition, offset: r.offset }, params);
      state = d.state;
      const late: ChargingEvent[] = [];
      if (input.kind === 'event') {
        const e = input.event;
        partitionOf.set(e.chargePointId, r.partition);
        if (e.body.type === 'VehicleMatched' && e.body.method === 'idTag' && unconfirmed.get(e.body.sessionId)?.body.type === 'VehicleMatched') {
          const u = unconfirmed.get(e.body.sessionId)!.body as { vehicleId: string };
          if (u.vehicleId === e.body.vehicleId) unconfirmed.delete(e.body.sessionId);
        }
        if (!restoring) {
          for (const [sessionId, u] of unconfirmed) {
            if (partitionOf.get(u.chargePointId) !== r.partition) continue;
            unconfirmed.delete(sessionId);
            // Still the session's match (a later decision would have replaced it in the state)?
            const s = state.sessions[sessionId];
            const b = u.body as { vehicleId: string };
            if (s && s.active && s.method === 'idTag' && s.vehicleId === b.vehicleId) late.push(u);
          }
        }
      }
      if (restoring) {
        for (const e of d.events) if (e.body.type === 'VehicleMatched' && e.body.method === 'idTag') unconfirmed.set(e.body.sessionId, e);
        return [];
      }
      for (const e of d.events) if (e.body.type === 'VehicleMatched') unconfirmed.delete(e.body.sessionId);
      return [...late, ...d.events].map(toOut);
    },
  };
};
