import { routineInputs } from '../../../streams/projections/vehicle-forecast/history-fixture';
import { asOptimizerInput } from '../../../services/optimizer/forecast-fixture';
import { siteReserve } from '../../../services/optimizer/site-reserve';
import { evolve, FleetState, initial, Input } from '../../../services/optimizer/state';
import { DAY_START, DepotDay, depotDay, DepotVehicle, mulberry32, SLOT_MS } from './depot';

/** Depots with a history: every vehicle keeps a routine (its own usual return time, SoC at return and departure, which
 *  vary from day to day), lived for `weeks` before the measured day, so that the forecasts of issue 18 have something
 *  to learn from. The usual values are depotDay's vehicles; each day (the measured one too) moves the return by up to
 *  ±1.5 h, the SoC at return by up to ±8 points and the departure by up to ±30 min. The history is the log as the
 *  service folds it (streams/projections/vehicle-forecast/history-fixture.ts: plug transitions, session matches,
 *  scheduled departures) through the optimizer's own fold (services/optimizer/state.ts, forecast-fold.ts); the measured
 *  day's departures are scheduled at its start, as the fleet schedule is in the plain depot days. */

const DAY = 24 * 3600_000;
const MIN = 60_000;
export const SITE_ID = 'depot';

interface DayOf {
  readonly returnAt: number;
  readonly socPct: number;
  readonly departAt: number;
}

/** Vehicle `v`'s day `d` days from its usual one (d = 0: the measured day; negative: the history). */
const dayOf = (seed: number, v: DepotVehicle, index: number, d: number): DayOf => {
  const rnd = mulberry32(seed * 1_000_003 + index * 7919 + (d + 1000) * 31);
  const jitter = (width: number) => width * (2 * rnd() - 1);
  const departAt = v.departAt + d * DAY + Math.round(jitter(30) / 15) * 15 * MIN;
  // Never back before the day starts nor later than an hour before it leaves; on slot boundaries like depotDay's.
  const usual = v.arrivalAt + d * DAY + Math.round(jitter(90) / 15) * 15 * MIN;
  const returnAt = Math.min(Math.max(usual, DAY_START + d * DAY + SLOT_MS), departAt - 3600_000);
  return { returnAt, socPct: Math.min(60, Math.max(5, Math.round(v.arrivalSocPct + jitter(8)))), departAt };
};

const config = (body: Extract<Input, { kind: 'config' }>['event']['body'], at: number, id: string): Input => ({ kind: 'config', event: { eventId: id, at, actor: 'bench', body } });

export interface DepotWithHistory {
  readonly day: DepotDay;
  /** The optimizer's fold of the weeks before the measured day and its departures, up to its start. */
  readonly state: FleetState;
}

export const depotWithHistory = (seed: number, chargers: number, limitShare: number, weeks: number): DepotWithHistory => {
  const usual = depotDay(seed, chargers, limitShare);
  const days = weeks * 7;
  const from = DAY_START - days * DAY;
  // Minutes from the local midnight of history day `d` (UTC site): past 24 h for a return after midnight.
  const midnight = from - (from % DAY);
  const minuteOn = (at: number, d: number) => Math.round((at - midnight - d * DAY) / MIN);
  const histories = usual.vehicles.flatMap((v, i) => {
    const past = (d: number) => dayOf(seed, v, i, d - days);
    return routineInputs({
      vehicleId: v.vehicleId,
      siteId: SITE_ID,
      batteryCapacityKwh: v.capacityKwh,
      timeZone: 'UTC',
      from,
      days,
      returnOn: (d) => ({ minute: minuteOn(past(d).returnAt, d), socPct: past(d).socPct }),
      departNextDay: (d) => ({ minute: minuteOn(past(d).departAt, d + 1), requiredSocPct: v.targetSocPct }),
    }).flatMap(asOptimizerInput);
  });
  const measured = usual.vehicles.map((v, i) => {
    const x = dayOf(seed, v, i, 0);
    const etaLead = v.arrivalAt - v.etaKnownAt;
    return { ...v, arrivalAt: x.returnAt, departAt: x.departAt, etaKnownAt: x.returnAt - etaLead, arrivalSocPct: x.socPct, outage: v.outage && { from: x.returnAt + 3600_000, to: x.returnAt + 7 * 3600_000 } };
  });
  const site = [
    config({ type: 'SiteConfigured', siteId: SITE_ID, name: SITE_ID, gridLimitKw: usual.gridLimitKw, latitude: 0, longitude: 0, timezone: 'UTC' }, from - 2 * DAY, 'site'),
    ...usual.chargers.map((c) => config({ type: 'ChargerConfigured', chargePointId: c.chargePointId, siteId: SITE_ID, maxPowerKw: c.maxPowerKw, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: c.phases, currentType: c.currentType, rateUnit: c.rateUnit, maxSchedulePeriods: c.maxSchedulePeriods }, from - 2 * DAY, `c:${c.chargePointId}`)),
  ];
  const schedule = measured.map((v) =>
    config({ type: 'DepartureScheduled', departureId: `${v.vehicleId}:measured`, vehicleId: v.vehicleId, departAt: v.departAt, requiredSocPct: v.targetSocPct, requiredEnergyKwh: null, routeKm: null, priority: v.priority }, DAY_START - MIN, `d:${v.vehicleId}`),
  );
  const time = (i: Input) => (i.kind === 'config' ? i.event.at : i.kind === 'event' ? i.event.occurredAt : i.kind === 'reading' ? i.reading.readingAt : 0);
  const inputs = [...site, ...histories, ...schedule].filter((i) => time(i) < DAY_START).sort((a, b) => time(a) - time(b));
  return { day: { ...usual, vehicles: measured }, state: inputs.reduce(evolve, initial) };
};

/** The departure reserve the service would keep for `absent` vehicles at `now`, from the history (site-reserve.ts). */
export const learnedReserve = (h: DepotWithHistory) => (now: number, absent: readonly string[], efficiency: number): readonly number[] =>
  siteReserve(h.state, { siteId: SITE_ID, timeZone: 'UTC', now, slotMinutes: SLOT_MS / MIN, slots: 144, efficiency, chargers: h.day.chargers, absent }).reserveKw;
