import { decide, evolve as evolveHistory, ForecastInput, initial as noHistory, VehicleHistory, vehicleOf } from '../../streams/projections/vehicle-forecast/fold';
import { evolveAll } from '../../streams/runtime/fold';
import { PMap } from './pmap';
import type { Input } from './state';

/** The vehicle-forecast history (streams/projections/vehicle-forecast/fold.ts) kept in the optimizer's fold, one per
 *  configured vehicle: the projection's own decide and evolve over the optimizer's inputs, so the planner forecasts from
 *  the same facts as `GET /api/v1/vehicles/{id}/forecast` without reading the database. Bounded like the projection's
 *  row (8 weeks, at most 120 returns and 120 departures per vehicle). A reading that changes nothing (most of them)
 *  leaves the map as it was. */

export const forecastInputOf = (i: Input): ForecastInput | null =>
  i.kind === 'config' ? { kind: 'config', config: i.event } : i.kind === 'event' ? { kind: 'event', event: i.event } : i.kind === 'reading' ? { kind: 'reading', reading: i.reading } : null;

/** The histories after one input; `known` says whose are kept (the optimizer keeps configured vehicles only). */
export const withHistory = (histories: PMap<VehicleHistory>, known: (vehicleId: string) => boolean, i: Input): PMap<VehicleHistory> => {
  // Most records are meter samples: no allocation for them.
  if (i.kind === 'event' && i.event.body.type !== 'VehicleMatched') return histories;
  const f = forecastInputOf(i);
  const vehicleId = f === null ? undefined : vehicleOf(f);
  if (f === null || vehicleId === undefined || !known(vehicleId)) return histories;
  const h = histories.get(vehicleId) ?? noHistory;
  const facts = decide(h, f);
  if (facts.length === 0) return histories;
  const next = evolveAll(evolveHistory, h, facts);
  return next === h ? histories : histories.set(vehicleId, next);
};
