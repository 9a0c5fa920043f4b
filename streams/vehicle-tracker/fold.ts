import { catalog, renamed } from '../../schemas/catalog';
import { ChargingEvent } from '../../schemas/events';
import { ConfigEvent } from '../../schemas/fleet-config';
import { TelematicsReadingRecord } from '../../schemas/records';
import { SiteRouted, TrackerInput } from '../../schemas/site-routed';
import { Topics } from '../../schemas/topics';
import { FoldDefinition, InputTopic, Received, StatefulFold } from '../runtime/fold';
import { decide, defaultParams, evolve, TrackerFact, TrackerParams, TrackerState } from './decide';
import { route, SiteTable, unknownTo } from './route';
import { siteStore } from './store';

/** The vehicle tracker as two folds on the runtime, joined by vehicle-tracker.by-site:
 *  - the router (stateless): charging.events + telematics.readings + fleet.config → each input the tracker uses,
 *    keyed by its site (./route.ts), looked up in the fleet.config global table;
 *  - the tracker: vehicle-tracker.by-site → VehicleMatched / SocEstimated / SocEstimateChecked on charging.events,
 *    its state one TrackerState per site (./decide.ts) in the `sites` store. */
export interface TrackerTopics {
  readonly events: string;
  readonly readings: string;
  readonly config: string;
  readonly bySite: string;
}

export const defaultTrackerTopics: TrackerTopics = { events: Topics.chargingEvents, readings: Topics.telematicsReadings, config: Topics.fleetConfig, bySite: Topics.vehicleTrackerBySite };

export type RouterInputs = {
  readonly events: InputTopic<ChargingEvent>;
  readonly readings: InputTopic<TelematicsReadingRecord>;
  readonly config: InputTopic<ConfigEvent>;
};

export type TrackerInputs = { readonly bySite: InputTopic<Omit<SiteRouted, 'site'>> };

/** What the router needs of the fleet.config global table. */
export interface SiteLookup {
  current(): SiteTable;
  catchUp(): Promise<boolean>;
}

const trackerInput = (r: Received<RouterInputs>): TrackerInput =>
  r.from === 'events' ? { kind: 'event', event: r.value } : r.from === 'readings' ? { kind: 'reading', reading: r.value } : { kind: 'config', config: r.value };

export const routerFold = (sites: SiteLookup, topics: TrackerTopics = defaultTrackerTopics): FoldDefinition<null, RouterInputs, SiteRouted, Omit<SiteRouted, 'site'>> => ({
  name: 'vehicle-tracker-router',
  inputs: {
    events: renamed(catalog.chargingEvents, topics.events),
    readings: renamed(catalog.telematicsReadings, topics.readings),
    config: renamed(catalog.fleetConfig, topics.config),
  },
  output: renamed(catalog.vehicleTrackerBySite, topics.bySite),
  initial: null,
  // A charger is registered (fleet.config) before it can connect, so its events are routed after a catch-up at most.
  beforeDecide: async (r) => {
    if (unknownTo(sites.current(), trackerInput(r))) await sites.catchUp();
  },
  decide: (_, r) => route(sites.current(), trackerInput(r), r.source),
  evolve: (s) => s,
  publish: (routed) => ({ key: routed.site, value: { source: routed.source, input: routed.input } }),
});

export type TrackerReceived = Received<TrackerInputs>;

export const decideTracker =
  (params: TrackerParams = defaultParams) =>
  (state: TrackerState, r: TrackerReceived): readonly TrackerFact[] =>
    decide(state, r.value.input, r.value.source, params);

export const trackerFold = (topics: TrackerTopics = defaultTrackerTopics, params: TrackerParams = defaultParams): StatefulFold<TrackerState, TrackerInputs, TrackerFact, ChargingEvent> => ({
  name: 'vehicle-tracker',
  inputs: { bySite: renamed(catalog.vehicleTrackerBySite, topics.bySite) },
  output: renamed(catalog.chargingEvents, topics.events),
  store: { ...siteStore, input: 'bySite', keyOf: (r) => r.key ?? '' },
  decide: decideTracker(params),
  evolve,
  publish: (f) => (f.kind === 'published' ? { key: f.event.chargePointId, value: f.event } : undefined),
});
