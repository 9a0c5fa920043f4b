import { ProjectionInput } from '../../streams/projections/projection';
import { Routine, routineInputs } from '../../streams/projections/vehicle-forecast/history-fixture';
import { T0 } from './fixtures';
import { evolve, FleetState, initial, Input } from './state';

/** A depot whose vehicle 'late' has six weeks of history, for the tests of the reserve through the optimizer's fold
 *  (site-reserve.test.ts, forecast-plan.test.ts). Site 'north' (UTC, 30 kW, chargers a and b of 22 kW); 'late' (200
 *  kWh) comes back every morning between 04:00 and 06:00 with 20 % and leaves at 10:00 needing 50 %: a p90 need of
 *  60 kWh, the late vehicle of departure-reserve.fixture.ts's scenario. T0 is a Monday 00:00 UTC; the history ends
 *  the day before and today's departure is not scheduled yet, so at T0 the vehicle is neither plugged in nor
 *  expected. */

const DAY = 24 * 3600_000;
const MIN = 60_000;

export const lateRoutine = (days = 42): Routine => ({
  vehicleId: 'late',
  siteId: 'north',
  batteryCapacityKwh: 200,
  timeZone: 'UTC',
  from: T0 - days * DAY,
  days,
  // Every weekday over six weeks: 04:00, 04:40, 05:20, 06:00, 06:00, 06:00 (p10 04:20, p90 06:00).
  returnOn: (d) => ({ minute: 4 * 60 + 40 * Math.min(3, Math.floor(d / 7)), socPct: 20 }),
  departNextDay: (d) => (d + 1 < days ? { minute: 10 * 60, requiredSocPct: 50 } : null),
});

/** A projection input as the optimizer's fold reads it (the inverse of forecast-fold.ts's forecastInputOf). */
export const asOptimizerInput = (i: ProjectionInput): Input[] =>
  i.kind === 'config' ? [{ kind: 'config', event: i.config }] : i.kind === 'event' ? [{ kind: 'event', event: i.event }] : i.kind === 'reading' ? [{ kind: 'reading', reading: i.reading }] : [];

const config = (body: Extract<Input, { kind: 'config' }>['event']['body'], at: number): Input => ({ kind: 'config', event: { eventId: `c:${JSON.stringify(body).length}:${at}`, at, actor: 'test', body } });

export const northDepot = (at: number): Input[] => [
  config({ type: 'SiteConfigured', siteId: 'north', name: 'north', gridLimitKw: 30, latitude: 0, longitude: 0, timezone: 'UTC' }, at),
  ...['a', 'b'].map((cp) =>
    config({ type: 'ChargerConfigured', chargePointId: cp, siteId: 'north', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 }, at + MIN),
  ),
];

/** The depot and 'late''s history folded up to `upTo`. */
export const lateDepotState = (days = 42, upTo = T0): FleetState => {
  const history = routineInputs(lateRoutine(days)).flatMap(asOptimizerInput);
  const inputs = [...northDepot(T0 - (days + 2) * DAY), ...history];
  const time = (i: Input) => (i.kind === 'config' ? i.event.at : i.kind === 'event' ? i.event.occurredAt : i.kind === 'reading' ? i.reading.readingAt : 0);
  return inputs.filter((i) => time(i) <= upTo).reduce(evolve, initial);
};
