import { ConfigEvent } from '../../schemas/fleet-config';
import { ChargingEvent } from '../../schemas/events';
import { capsDue } from './caps-policy';
import { evolve, FleetState, initial, Input } from './state';

/** When the fallback caps are due: given the fold, when an input, then which caps (no Kafka). */
const T0 = Date.UTC(2026, 0, 5, 18, 0, 0);

const config = (body: ConfigEvent['body'], at = T0): Input => ({ kind: 'config', event: { at, body } as ConfigEvent });
const charging = (chargePointId: string, body: ChargingEvent['body'], at = T0): Input => ({ kind: 'event', event: { chargePointId, occurredAt: at, body } as ChargingEvent });
const meter = (importKw: number, at: number): Input => ({
  kind: 'meter',
  reading: { siteId: 'north', meterId: 'grid', role: 'connection', measuredAt: at, importKw } as Extract<Input, { kind: 'meter' }>['reading'],
});

const given = (...inputs: Input[]): FleetState => inputs.reduce(evolve, initial);
const when = (s: FleetState, i: Input) => capsDue(s, evolve(s, i), i);

const site = config({ type: 'SiteConfigured', siteId: 'north', name: 'North', gridLimitKw: 40, latitude: 0, longitude: 0, timezone: 'UTC' } as ConfigEvent['body']);
const cp = (id: string) => config({ type: 'ChargerConfigured', chargePointId: id, siteId: 'north', maxPowerKw: 11, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 } as ConfigEvent['body']);
const booted = (id: string, at = T0) => charging(id, { type: 'ChargerBooted', protocol: 'ocpp1.6', vendor: 'v', model: 'm', serialNumber: null, firmwareVersion: null, accepted: true, heartbeatIntervalS: 300 }, at);
const connected = (id: string, at = T0) => charging(id, { type: 'ChargerConnected', protocol: 'ocpp2.0.1', gatewayId: 'gw' }, at);

describe('caps policy', () => {
  const fleet = given(site, cp('a'), cp('b'));

  test('a charger that boots or connects gets its own caps at once, and the fold keeps when', () => {
    expect(when(fleet, booted('a'))).toEqual({ siteId: 'north', chargePointId: 'a' });
    expect(when(fleet, connected('b', T0 + 5000))).toEqual({ siteId: 'north', chargePointId: 'b' });
    expect(given(site, cp('a'), connected('a', T0), booted('a', T0 + 1000)).connectedAt.get('a')).toBe(T0 + 1000);
    // A later record of an earlier connection does not move it back (topics interleave on a restore).
    expect(given(site, cp('a'), booted('a', T0 + 1000), connected('a', T0)).connectedAt.get('a')).toBe(T0 + 1000);
  });

  test('a charger nobody configured has no site and no caps', () => {
    expect(when(fleet, booted('stranger'))).toBeNull();
  });

  test('what changes every share makes every charger of the site due', () => {
    const all = { siteId: 'north', chargePointId: null };
    expect(when(fleet, cp('c'))).toEqual(all);
    expect(when(fleet, config({ type: 'PanelConfigured', siteId: 'north', panelId: 'bay', limitKw: 12 } as ConfigEvent['body']))).toEqual(all);
    const dr = config({ type: 'LimitEventScheduled', siteId: 'north', limitEventId: 'dr1', startAt: T0 + 3600000, endAt: T0 + 7200000, limitKw: 30 } as ConfigEvent['body']);
    expect(when(fleet, dr)).toEqual(all);
    expect(when(given(site, cp('a'), dr), config({ type: 'LimitEventCancelled', siteId: 'north', limitEventId: 'dr1' } as ConfigEvent['body']))).toEqual(all);
    expect(when(fleet, config({ type: 'SiteConfigured', siteId: 'north', name: 'North', gridLimitKw: 35, latitude: 0, longitude: 0, timezone: 'UTC' } as ConfigEvent['body']))).toEqual(all);
    // The same limits written again (a rename): nothing.
    expect(when(fleet, config({ type: 'SiteConfigured', siteId: 'north', name: 'North depot', gridLimitKw: 40, latitude: 0, longitude: 0, timezone: 'UTC' } as ConfigEvent['body']))).toBeNull();
  });

  test('the building: its first reading, a reading above its recent peak, and a meter back from silence', () => {
    const all = { siteId: 'north', chargePointId: null };
    expect(when(fleet, meter(10, T0))).toEqual(all);
    const heard = given(site, cp('a'), meter(10, T0), meter(14, T0 + 5000), meter(8, T0 + 10000));
    expect(when(heard, meter(12, T0 + 15000))).toBeNull();
    expect(when(heard, meter(14.5, T0 + 15000))).toEqual(all);
    expect(when(heard, meter(8, T0 + 10000 + 3 * 60000))).toEqual(all);
  });

  test('inputs that leave the shares alone are not due', () => {
    expect(when(fleet, charging('a', { type: 'HeartbeatReceived' }))).toBeNull();
    expect(when(fleet, config({ type: 'TariffConfigured', siteId: 'north', currency: 'EUR', periods: [], demandChargePerKwMonth: 0 } as ConfigEvent['body']))).toBeNull();
  });
});
