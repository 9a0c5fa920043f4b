import { ProjectionInput, TelematicsReading } from '../projection';

/** What the log says about one vehicle's comings and goings, as a pure fold: `decide(history, input) => facts`,
 *  `evolve(history, fact) => history`. The forecast's statistics (./stats.ts) are computed from it when asked.
 *
 *  Inputs (each keyed by the vehicle):
 *  - charging.events VehicleMatched: the vehicle came back and a session started (`session` arrival at the match's
 *    time; an id-tag match is decided at the session start, a telematics or energy match a few minutes later);
 *  - telematics.readings: a switch of `pluggedIn` from false to true is a `telematics` arrival with the SoC of that
 *    reading (or the last one kept, within SOC_FRESH_MS), true to false an `unplugged` departure; the latest ETA;
 *  - fleet.config VehicleConfigured (site, battery) and DepartureScheduled (`scheduled` departure with its need).
 *
 *  The fold is the same whatever the interleaving of the three topics (live consumption vs. replay): the telematics
 *  state (plugged in, last SoC, ETA) is changed by readings only, which are one partition per vehicle; the arrivals
 *  and departures are sets keyed by id (a session, a reading, a departure id), ordered by (time, id), trimmed to the
 *  WINDOW_MS before the latest recorded observation and to the newest MAX_OBSERVATIONS: both keep the same elements
 *  whatever the order they came in. What it cannot see: a match corrected to another vehicle (replacesVehicleId) stays an
 *  arrival of the first vehicle, whose row the correction (keyed by the new vehicle) does not reach.
 *
 *  Readings come every minute or so and the row holds up to 240 observations (about 15 kB): a reading changes the
 *  row only when it switches the plug state, when the SoC kept is SOC_EVERY_MS old, or when the ETA appears,
 *  disappears or moves by ETA_MOVE_MS. Otherwise the row is left alone and the sink writes nothing
 *  (sink.bench.ts: rewriting it at every reading made the readings' apply five times slower). */

export const WINDOW_MS = 8 * 7 * 24 * 3600_000;
export const MAX_OBSERVATIONS = 120;
/** A reading's SoC counts as the SoC at plug-in when the plug-in reading has none, if it is at most this old. */
export const SOC_FRESH_MS = 3600_000;
/** The SoC kept for that is renewed at most this often. */
export const SOC_EVERY_MS = 15 * 60_000;
/** An ETA is renewed when it moves by this much (the optimizer re-plans on the same threshold). */
export const ETA_MOVE_MS = 15 * 60_000;

export interface ArrivalObservation {
  /** sessionId (source session) or readingId (source telematics). */
  readonly id: string;
  readonly at: number;
  readonly source: 'session' | 'telematics';
  readonly socPct: number | null;
}

export interface DepartureObservation {
  /** departureId (scheduled) or readingId (unplugged). */
  readonly id: string;
  readonly at: number;
  readonly source: 'scheduled' | 'unplugged';
  /** When the log recorded it (the configuration event, the reading): the window counts from this, so a departure
   *  scheduled months ahead does not push the history out. */
  readonly recordedAt: number;
  readonly requiredSocPct: number | null;
  readonly requiredEnergyKwh: number | null;
}

export interface VehicleHistory {
  readonly siteId: string | null;
  readonly batteryCapacityKwh: number | null;
  /** Plugged in, per the latest reading that said, and that reading's time (the switch to it, or the first one). */
  readonly pluggedIn: boolean | null;
  readonly pluggedAt: number | null;
  /** A recent telematics SoC (renewed every SOC_EVERY_MS). */
  readonly lastSocPct: number | null;
  readonly lastSocAt: number | null;
  /** Expected arrival at the depot, per the reading at etaReadingAt (null when it had none). */
  readonly etaAt: number | null;
  readonly etaReadingAt: number | null;
  readonly arrivals: readonly ArrivalObservation[];
  readonly departures: readonly DepartureObservation[];
}

export const initial: VehicleHistory = {
  siteId: null,
  batteryCapacityKwh: null,
  pluggedIn: null,
  pluggedAt: null,
  lastSocPct: null,
  lastSocAt: null,
  etaAt: null,
  etaReadingAt: null,
  arrivals: [],
  departures: [],
};

export type HistoryFact =
  | { readonly type: 'Configured'; readonly siteId: string | null; readonly batteryCapacityKwh: number }
  | { readonly type: 'PlugStateSeen'; readonly at: number; readonly pluggedIn: boolean }
  | { readonly type: 'SocSeen'; readonly at: number; readonly socPct: number }
  | { readonly type: 'EtaSeen'; readonly at: number; readonly etaAt: number | null }
  | { readonly type: 'Arrived'; readonly observation: ArrivalObservation }
  | { readonly type: 'Departed'; readonly observation: DepartureObservation };

/** What the fold reads: the projections' inputs, with a reading only as far as the fold looks at it, so a folder that
 *  keeps less of a reading (the optimizer, services/optimizer/forecast-fold.ts) runs the same decide and evolve. */
export type ReadingSeen = Pick<TelematicsReading, 'readingId' | 'vehicleId' | 'readingAt' | 'socPct' | 'pluggedIn' | 'etaAt'>;
export type ForecastInput = Exclude<ProjectionInput, { kind: 'reading' }> | { readonly kind: 'reading'; readonly reading: ReadingSeen };

/** The vehicle an input is about, or undefined when it does not concern the forecast. */
export const vehicleOf = (i: ForecastInput): string | undefined => {
  if (i.kind === 'reading') return i.reading.vehicleId;
  if (i.kind === 'event' && i.event.body.type === 'VehicleMatched') return i.event.body.vehicleId;
  if (i.kind === 'config' && (i.config.body.type === 'VehicleConfigured' || i.config.body.type === 'DepartureScheduled')) return i.config.body.vehicleId;
  return undefined;
};

export const decide = (h: VehicleHistory, i: ForecastInput): HistoryFact[] => {
  if (i.kind === 'event') {
    const e = i.event;
    if (e.body.type !== 'VehicleMatched') return [];
    return [{ type: 'Arrived', observation: { id: e.body.sessionId, at: e.occurredAt, source: 'session', socPct: null } }];
  }
  if (i.kind === 'config') {
    const b = i.config.body;
    if (b.type === 'VehicleConfigured') return [{ type: 'Configured', siteId: b.siteId, batteryCapacityKwh: b.batteryCapacityKwh }];
    if (b.type === 'DepartureScheduled')
      return [{ type: 'Departed', observation: { id: b.departureId, at: b.departAt, source: 'scheduled', recordedAt: i.config.at, requiredSocPct: b.requiredSocPct, requiredEnergyKwh: b.requiredEnergyKwh } }];
    return [];
  }
  if (i.kind !== 'reading') return [];
  const r = i.reading;
  const facts: HistoryFact[] = [];
  // A reading older than the plug state's (a provider's late delivery) tells nothing about a switch.
  if (r.pluggedIn !== null && r.pluggedIn !== h.pluggedIn && (h.pluggedAt === null || r.readingAt > h.pluggedAt)) {
    if (r.pluggedIn && h.pluggedIn === false) {
      const soc = r.socPct ?? (h.lastSocAt !== null && r.readingAt - h.lastSocAt <= SOC_FRESH_MS && r.readingAt >= h.lastSocAt ? h.lastSocPct : null);
      facts.push({ type: 'Arrived', observation: { id: r.readingId, at: r.readingAt, source: 'telematics', socPct: soc } });
    }
    if (!r.pluggedIn && h.pluggedIn === true)
      facts.push({ type: 'Departed', observation: { id: r.readingId, at: r.readingAt, source: 'unplugged', recordedAt: r.readingAt, requiredSocPct: null, requiredEnergyKwh: null } });
    facts.push({ type: 'PlugStateSeen', at: r.readingAt, pluggedIn: r.pluggedIn });
  }
  if (r.socPct !== null && (h.lastSocAt === null || r.readingAt - h.lastSocAt >= SOC_EVERY_MS)) facts.push({ type: 'SocSeen', at: r.readingAt, socPct: r.socPct });
  const etaMoved = (h.etaAt === null) !== (r.etaAt === null) || (r.etaAt !== null && h.etaAt !== null && Math.abs(r.etaAt - h.etaAt) >= ETA_MOVE_MS);
  if (etaMoved && (h.etaReadingAt === null || r.readingAt > h.etaReadingAt)) facts.push({ type: 'EtaSeen', at: r.readingAt, etaAt: r.etaAt });
  return facts;
};

const byTimeThenId = (a: { at: number; id: string }, b: { at: number; id: string }): number => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** When an observation was recorded: a return when it happened, a departure when it was scheduled or seen. */
const recorded = (o: ArrivalObservation | DepartureObservation): number => ('recordedAt' in o ? o.recordedAt : o.at);

/** The window and the cap over both lists: kept are the newest MAX_OBSERVATIONS of those recorded within WINDOW_MS of
 *  the latest recorded. */
const trimmed = (h: VehicleHistory): VehicleHistory => {
  let newest = -Infinity;
  for (const o of h.arrivals) newest = Math.max(newest, recorded(o));
  for (const o of h.departures) newest = Math.max(newest, recorded(o));
  const keep = <O extends ArrivalObservation | DepartureObservation>(xs: readonly O[]): readonly O[] => {
    const inWindow = xs.filter((o) => recorded(o) >= newest - WINDOW_MS);
    const kept = inWindow.length > MAX_OBSERVATIONS ? inWindow.slice(inWindow.length - MAX_OBSERVATIONS) : inWindow;
    return kept.length === xs.length ? xs : kept;
  };
  const arrivals = keep(h.arrivals);
  const departures = keep(h.departures);
  return arrivals === h.arrivals && departures === h.departures ? h : { ...h, arrivals, departures };
};

/** Inserts or replaces by id, kept sorted; `merge` decides what a repeat of an id keeps. */
const upsert = <O extends { at: number; id: string }>(xs: readonly O[], o: O, merge: (old: O, next: O) => O): readonly O[] => {
  const old = xs.find((x) => x.id === o.id);
  const next = old ? merge(old, o) : o;
  if (old === next) return xs;
  return [...xs.filter((x) => x.id !== o.id), next].sort(byTimeThenId);
};

export const evolve = (h: VehicleHistory, f: HistoryFact): VehicleHistory => {
  switch (f.type) {
    case 'Configured':
      return { ...h, siteId: f.siteId, batteryCapacityKwh: f.batteryCapacityKwh };
    case 'PlugStateSeen':
      return { ...h, pluggedIn: f.pluggedIn, pluggedAt: f.at };
    case 'SocSeen':
      return { ...h, lastSocPct: f.socPct, lastSocAt: f.at };
    case 'EtaSeen':
      return { ...h, etaAt: f.etaAt, etaReadingAt: f.at };
    case 'Arrived':
      // A session matched twice (a repeat, or an earlier and a later match of the same session): the earliest time counts.
      return trimmed({ ...h, arrivals: upsert(h.arrivals, f.observation, (old, next) => (next.at < old.at ? next : old)) });
    case 'Departed':
      // A departure rescheduled under the same id: the later configuration wins (fleet.config is one partition).
      return trimmed({ ...h, departures: upsert(h.departures, f.observation, (_old, next) => next) });
  }
};
