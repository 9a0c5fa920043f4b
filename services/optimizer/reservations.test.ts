import { ConfigBody } from '../../schemas/fleet-config';
import { EventBody } from '../../schemas/events';
import { defaultOptimizerConfig } from './config';
import { lowestIn } from './limits';
import { replanReason } from './replan';
import { snapshotOf } from './site-snapshot';
import { evolve, FleetState, initial, Input } from './state';

/** A reserved charger is kept free until its reservation expires: given config / when time passes / then the
 *  charger's limits in the snapshot the planner works from. No broker. */
const T = Date.UTC(2026, 0, 5, 8, 0);
const HOUR = 3600_000;
const cfg = defaultOptimizerConfig;

const config = (body: ConfigBody, at = T): Input => ({ kind: 'config', event: { eventId: `c${Math.random()}`, at, actor: 't', body } });
const event = (cp: string, body: EventBody, at = T): Input => ({ kind: 'event', event: { eventId: `e${Math.random()}`, chargePointId: cp, occurredAt: at, source: null, body } });
const given = (...inputs: Input[]): FleetState => inputs.reduce(evolve, initial);
const charger = (id: string): ConfigBody => ({ type: 'ChargerConfigured', chargePointId: id, siteId: 'S', maxPowerKw: 11, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 });

const depot = [
  config({ type: 'SiteConfigured', siteId: 'S', name: 's', gridLimitKw: 50, latitude: 0, longitude: 0, timezone: 'Europe/Berlin' }),
  config(charger('CP1')),
  config(charger('CP2')),
  config({ type: 'ReservationMade', chargePointId: 'CP1', reservationId: 7, connectorId: 0, idTag: 'CARD', expiresAt: T + HOUR, commandId: 'c' }),
];

/** The most power the snapshot lets a charger take in the interval. */
const capKw = (s: FleetState, cp: string, now: number, from: number, to: number): number => {
  const c = snapshotOf(s, 'S', now, cfg)!.chargers.find((x) => x.chargePointId === cp)!;
  return Math.min(c.maxPowerKw, lowestIn(c.externalLimits, from, to));
};

describe('a reservation in the optimizer', () => {
  test('holds the reserved charger at 0 kW until it expires; the other charger is free', () => {
    const s = given(...depot);
    expect(capKw(s, 'CP1', T, T, T + HOUR / 2)).toBe(0);
    expect(capKw(s, 'CP1', T, T + HOUR, T + 2 * HOUR)).toBe(11);
    expect(capKw(s, 'CP2', T, T, T + HOUR / 2)).toBe(11);
    expect(capKw(s, 'CP1', T + HOUR + 1, T + HOUR + 1, T + 2 * HOUR)).toBe(11);
  });

  test('making or cancelling a reservation re-plans its site', () => {
    const before = given(...depot.slice(0, 3));
    const made = depot[3]!;
    expect(replanReason(before, evolve(before, made), made, () => undefined)).toBe('reservation');
  });

  test('a cancelled reservation holds nothing', () => {
    const s = given(...depot, config({ type: 'ReservationCancelled', chargePointId: 'CP1', reservationId: 7, commandId: null }));
    expect(capKw(s, 'CP1', T, T, T + HOUR / 2)).toBe(11);
  });

  test("once a session runs on the reserved charger (the reserving vehicle's), it is planned as usual", () => {
    const s = given(...depot, event('CP1', { type: 'SessionStarted', sessionId: 'S1', transactionId: 'tx1', connectorId: 1, idTag: 'CARD', meterStartWh: 0 }));
    expect(capKw(s, 'CP1', T + 60_000, T + 60_000, T + HOUR / 2)).toBe(11);
  });
});
