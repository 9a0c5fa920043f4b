import { ChargingEvent } from '../../../schemas/events';
import { evolveAll } from '../../runtime/fold';
import { ProjectionInput, TelematicsReading } from '../projection';
import { decide, evolve, initial, VehicleHistory } from './fold';
import { localInstant } from './stats';

/** Synthetic log histories for tests (this folder's and the optimizer's departure-reserve test): a vehicle's weekday
 *  routine as the log would hold it, folded through the projection's fold. */

const MIN = 60_000;

export interface Routine {
  readonly vehicleId: string;
  readonly siteId: string;
  readonly batteryCapacityKwh: number;
  readonly timeZone: string;
  /** First local day of the history (any instant in it), and how many days. */
  readonly from: number;
  readonly days: number;
  /** Per day index: local minute of the return and SoC at return, or null (no trip that day). */
  readonly returnOn: (day: number) => { minute: number; socPct: number } | null;
  /** Per day index: local minute of the next day's departure and its required SoC (scheduled the evening before). */
  readonly departNextDay: (day: number) => { minute: number; requiredSocPct: number } | null;
}

/** The log records of a routine, in time order: configuration, the telematics plug transitions, session matches and
 *  scheduled departures. */
export const routineInputs = (r: Routine): ProjectionInput[] => {
  let n = 0;
  const out: { at: number; input: ProjectionInput }[] = [];
  const reading = (at: number, x: Partial<TelematicsReading>): ProjectionInput => ({
    kind: 'reading',
    reading: { readingId: `${r.vehicleId}:r:${at}`, vehicleId: r.vehicleId, provider: 'p', providerReadingId: `${at}`, readingAt: at, receivedAt: at, socPct: null, rangeKm: null, odometerKm: null, latitude: null, longitude: null, chargingState: null, pluggedIn: null, batteryCapacityKwh: null, etaAt: null, ...x },
  });
  const config = r.from - 24 * 60 * MIN;
  out.push({
    at: config,
    input: { kind: 'config', config: { eventId: `c:${r.vehicleId}`, at: config, actor: 'test', body: { type: 'VehicleConfigured', vehicleId: r.vehicleId, batteryCapacityKwh: r.batteryCapacityKwh, maxAcPowerKw: 22, maxDcPowerKw: 100, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: 'p', providerVehicleId: null, siteId: r.siteId } } },
  });
  for (let d = 0; d < r.days; d++) {
    const ret = r.returnOn(d);
    if (ret) {
      const at = localInstant(r.from, d, ret.minute, r.timeZone);
      out.push({ at: at - 30 * MIN, input: reading(at - 30 * MIN, { pluggedIn: false, socPct: ret.socPct + 2 }) });
      out.push({ at, input: reading(at, { pluggedIn: true, socPct: ret.socPct }) });
      const sessionId = `${r.vehicleId}:s${d}`;
      out.push({ at: at + MIN, input: { kind: 'event', event: { eventId: `e:${r.vehicleId}:${n++}`, chargePointId: 'CP', occurredAt: at + MIN, source: null, body: { type: 'VehicleMatched', sessionId, vehicleId: r.vehicleId, confidence: 1, method: 'idTag', replacesVehicleId: null } } as ChargingEvent } });
    }
    const dep = r.departNextDay(d);
    if (dep) {
      const departAt = localInstant(r.from, d + 1, dep.minute, r.timeZone);
      const scheduledAt = localInstant(r.from, d, 20 * 60, r.timeZone);
      out.push({ at: scheduledAt, input: { kind: 'config', config: { eventId: `c:${r.vehicleId}:${d}`, at: scheduledAt, actor: 'test', body: { type: 'DepartureScheduled', departureId: `${r.vehicleId}:d${d}`, vehicleId: r.vehicleId, departAt, requiredSocPct: dep.requiredSocPct, requiredEnergyKwh: null, routeKm: null, priority: 1 } } } });
      out.push({ at: departAt + 2 * MIN, input: reading(departAt + 2 * MIN, { pluggedIn: false }) });
    }
  }
  return out.sort((a, b) => a.at - b.at).map((x) => x.input);
};

/** A routine folded into its history, as the projection holds it. */
export const historyOf = (r: Routine, upTo = Infinity): VehicleHistory =>
  routineInputs(r)
    .filter((i) => (i.kind === 'reading' ? i.reading.readingAt : i.kind === 'event' ? i.event.occurredAt : i.kind === 'config' ? i.config.at : 0) <= upTo)
    .reduce((h, i) => evolveAll(evolve, h, decide(h, i)), initial);
