import * as t from 'io-ts';
import { initialTracker, TrackerState } from './decide';

/** The tracker's keyed store: one TrackerState per site (the key of vehicle-tracker.by-site), restored from
 *  vehicle-tracker.sites.changelog. `shape` must change with the codec. */
const nullable = <C extends t.Mixed>(c: C) => t.union([c, t.null]);

const VehicleTrackCodec = t.type({
  capacityKwh: nullable(t.number),
  lastReadingAt: nullable(t.number),
  socPct: nullable(t.number),
  socAt: nullable(t.number),
  connected: t.boolean,
  transitions: t.readonlyArray(t.type({ at: t.number, lat: nullable(t.number), lon: nullable(t.number) })),
  socs: t.readonlyArray(t.type({ at: t.number, soc: t.number })),
  estimate: nullable(t.type({ socPct: t.number, at: t.number, sessionId: t.string })),
  lastSessionCp: nullable(t.string),
});

const SessionTrackCodec = t.type({
  chargePointId: t.string,
  startedAt: t.number,
  meterStartWh: t.number,
  deliveredWh: t.number,
  deliveries: t.readonlyArray(t.type({ at: t.number, wh: t.number })),
  active: t.boolean,
  idTag: nullable(t.string),
  vehicleId: nullable(t.string),
  method: nullable(t.string),
  chargerSoc: nullable(t.type({ soc: t.number, at: t.number })),
});

export const TrackerStateCodec: t.Type<TrackerState, unknown, unknown> = t.type({
  vehicles: t.record(t.string, VehicleTrackCodec),
  idTags: t.record(t.string, t.string),
  sites: t.record(t.string, t.type({ lat: t.number, lon: t.number })),
  chargerSite: t.record(t.string, t.string),
  sessions: t.record(t.string, SessionTrackCodec),
  telematicsWatermark: t.number,
});

export const siteStore = { name: 'sites', shape: 1, codec: TrackerStateCodec, initial: initialTracker } as const;
