import { EventBody } from '../../schemas/events';
import { ConfigBody } from '../../schemas/fleet-config';
import { replanReason } from './replan';
import { evolve, FleetState, initial, Input, TelematicsReading } from './state';

/** The re-plan policy: given a state, when an input is folded, then the reason it re-plans its site (or none). */
const T = Date.UTC(2026, 0, 5, 20, 0);
const MIN = 60000;
const config = (body: ConfigBody): Input => ({ kind: 'config', event: { eventId: 'c', at: T, actor: 't', body } });
const event = (body: EventBody, at = T): Input => ({ kind: 'event', event: { eventId: 'e', chargePointId: 'CP1', occurredAt: at, source: null, body } });
const reading = (r: Partial<TelematicsReading>): Input => ({ kind: 'reading', reading: { readingId: 'r', vehicleId: 'V1', readingAt: T, socPct: 40, pluggedIn: false, etaAt: T + 60 * MIN, batteryCapacityKwh: 80, ...r } });
const siteWith = (gridLimitKw: number) => config({ type: 'SiteConfigured', siteId: 'S', name: 's', gridLimitKw, latitude: 0, longitude: 0, timezone: 'UTC' });
const given = (...inputs: Input[]): FleetState => inputs.reduce(evolve, initial);
const when = (s: FleetState, i: Input, plannedKw?: number) => replanReason(s, evolve(s, i), i, () => plannedKw);

const depot = given(
  siteWith(50),
  config({ type: 'ChargerConfigured', chargePointId: 'CP1', siteId: 'S', maxPowerKw: 11, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 }),
  config({ type: 'VehicleConfigured', vehicleId: 'V1', batteryCapacityKwh: 80, maxAcPowerKw: 11, maxDcPowerKw: 100, consumptionKwhPerKm: 0.25, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId: 'S' }),
);
const plugged = evolve(depot, event({ type: 'SessionStarted', sessionId: 'S1', transactionId: 't', connectorId: 1, idTag: null, meterStartWh: 0 }));

describe('the re-plan policy', () => {
  test('plug-in, match, unplug', () => {
    expect(when(depot, event({ type: 'SessionStarted', sessionId: 'S1', transactionId: 't', connectorId: 1, idTag: null, meterStartWh: 0 }))).toBe('plug-in');
    expect(when(plugged, event({ type: 'VehicleMatched', sessionId: 'S1', vehicleId: 'V1', confidence: 1, method: 'idTag', replacesVehicleId: null }))).toBe('match');
    expect(when(plugged, event({ type: 'SessionEnded', sessionId: 'S1', transactionId: 't', connectorId: 1, meterStopWh: 0, energyWh: 0, reason: null }))).toBe('unplug');
  });

  test('a site limit that did not change is no reason; a changed one is', () => {
    expect(when(depot, siteWith(50))).toBeNull();
    expect(when(depot, siteWith(40))).toBe('limit');
  });

  test('a connector faulting and recovering re-plans; other status changes do not', () => {
    const faulted = event({ type: 'ConnectorStatusChanged', connectorId: 1, status: 'Faulted', errorCode: null, info: null });
    const available = event({ type: 'ConnectorStatusChanged', connectorId: 1, status: 'Available', errorCode: null, info: null });
    expect(when(plugged, faulted)).toBe('fault');
    expect(when(evolve(plugged, faulted), available)).toBe('fault');
    expect(when(plugged, available)).toBeNull();
  });

  test('telematics: a first reading, a SoC point, an ETA moved by more than 15 minutes; older readings are none', () => {
    const seen = evolve(depot, reading({}));
    expect(when(depot, reading({}))).toBe('soc');
    expect(when(seen, reading({ readingAt: T + MIN, socPct: 40.5 }))).toBeNull();
    expect(when(seen, reading({ readingAt: T + MIN, socPct: 41 }))).toBe('soc');
    expect(when(seen, reading({ readingAt: T + MIN, etaAt: T + 70 * MIN }))).toBeNull();
    expect(when(seen, reading({ readingAt: T + MIN, etaAt: T + 80 * MIN }))).toBe('eta');
    expect(when(seen, reading({ readingAt: T - MIN, socPct: 10 }))).toBeNull();
  });

  test('a meter more than 10 % off the plan, and nothing without a plan', () => {
    const meter = (kw: number) => event({ type: 'MeterSampled', sessionId: 'S1', connectorId: 1, samples: [{ measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: kw * 1000 }] }, T + MIN);
    expect(when(plugged, meter(8), 7)).toBe('meter');
    expect(when(plugged, meter(7.5), 7)).toBeNull();
    expect(when(plugged, meter(8))).toBeNull();
  });

  test('what the optimizer itself commanded never re-plans', () => {
    expect(when(plugged, { kind: 'commanded', chargePointId: 'CP1', connectorId: 1, commandId: 'c', limitKw: 3, at: T })).toBeNull();
  });
});
