import { EventBody } from '../../schemas/events';
import { defaultOptimizerConfig } from './config';
import { T0, SLOT_MS } from './fixtures';
import { lateDepotState } from './forecast-fixture';
import { snapshotOf } from './site-snapshot';
import { evolve, FleetState, Input } from './state';

/** given the fold of a depot with a history / when a snapshot is taken / then the reserve and the vehicles planned. */
const HOUR = 3600_000;
const cfg = defaultOptimizerConfig;
const event = (cp: string, body: EventBody, at: number): Input => ({ kind: 'event', event: { eventId: `e:${cp}:${at}:${body.type}`, chargePointId: cp, occurredAt: at, source: null, body } });
const plugIn = (s: FleetState, at: number): FleetState =>
  [
    event('a', { type: 'SessionStarted', sessionId: 'A1', transactionId: 'tx', connectorId: 1, idTag: null, meterStartWh: 0 }, at),
    event('a', { type: 'VehicleMatched', sessionId: 'A1', vehicleId: 'late', confidence: 1, method: 'idTag', replacesVehicleId: null }, at),
  ].reduce(evolve, s);

describe('the reserve in the snapshot, from the fold’s histories', () => {
  const away = lateDepotState();

  it('keeps capacity for a vehicle with a history of late, large returns that is not back yet, from its p90 return to its departure', () => {
    const snap = snapshotOf(away, 'north', T0, cfg)!;
    expect(snap.vehicles).toEqual([]);
    // p90 return 06:00, departure 10:00, p90 need (50 − 20) % of 200 kWh.
    const kw = 60 / (cfg.efficiency * 4);
    const reserve = snap.reserveKw!;
    expect(reserve).toHaveLength(snap.maxSlots);
    reserve.forEach((x, t) => expect(x).toBeCloseTo(t >= (6 * HOUR) / SLOT_MS && t < (10 * HOUR) / SLOT_MS ? kw : 0));
    expect(snap.atRisk).toEqual([]);
    expect(away.histories.get('late')!.arrivals.length).toBeGreaterThan(30);
  });

  it('keeps none for the same vehicle plugged in: it is planned instead', () => {
    const snap = snapshotOf(plugIn(away, T0 - HOUR), 'north', T0, cfg)!;
    expect(snap.vehicles.map((v) => v.vehicleId)).toEqual(['late']);
    expect(snap.reserveKw).toBeUndefined();
  });

  it('keeps none for it expected by a telematics ETA: planned from its ETA', () => {
    const eta: Input = { kind: 'reading', reading: { readingId: 'eta', vehicleId: 'late', readingAt: T0, socPct: 22, pluggedIn: false, etaAt: T0 + 5 * HOUR, batteryCapacityKwh: null } };
    const snap = snapshotOf(evolve(away, eta), 'north', T0, cfg)!;
    expect(snap.vehicles).toMatchObject([{ vehicleId: 'late', arrivalAt: T0 + 5 * HOUR }]);
    expect(snap.reserveKw).toBeUndefined();
  });

  it('keeps none without enough history (three returns), nor for the fallback caps', () => {
    expect(snapshotOf(lateDepotState(3), 'north', T0, cfg)!.reserveKw).toBeUndefined();
    expect(snapshotOf(away, 'north', T0, cfg, { reserve: false })!.reserveKw).toBeUndefined();
  });

  it('names the vehicles at risk with the reason and the energy short', () => {
    // At 09:55 the next return and departure the forecast gives leave too little time for 60 kWh at 22 kW.
    const snap = snapshotOf(away, 'north', T0 + 9 * HOUR + 55 * 60_000, cfg)!;
    expect(snap.atRisk).toMatchObject([{ vehicleId: 'late', reason: 'window-too-short', detail: expect.stringContaining('needs 60 kWh') }]);
    expect(snap.atRisk[0]!.shortKwh!).toBeGreaterThan(0);
  });
});
