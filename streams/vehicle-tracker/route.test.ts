import { ChargingEvent, EventBody } from '../../schemas/events';
import { ConfigBody, ConfigEvent } from '../../schemas/fleet-config';
import { TrackerInput } from '../../schemas/site-routed';
import { emptySiteTable, NO_SITE, route, SiteTable, unknownTo, withSiteConfig } from './route';

const at = Date.UTC(2026, 4, 4, 17);
const config = (body: ConfigBody): ConfigEvent => ({ eventId: `c-${Math.random()}`, at, actor: 'test', body });
const event = (chargePointId: string, body: EventBody): TrackerInput => ({ kind: 'event', event: { eventId: 'e1', chargePointId, occurredAt: at, source: null, body } as ChargingEvent });
const source = { topic: 'charging.events', partition: 3, offset: 42 };
const charger = (chargePointId: string, siteId: string): ConfigBody => ({ type: 'ChargerConfigured', chargePointId, siteId, maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 }) as ConfigBody;
const vehicle = (vehicleId: string, siteId: string | null): ConfigBody => ({ type: 'VehicleConfigured', vehicleId, batteryCapacityKwh: 60, maxAcPowerKw: 22, maxDcPowerKw: 50, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId }) as ConfigBody;
const reading = (vehicleId: string): TrackerInput => ({ kind: 'reading', reading: { readingId: 'r', vehicleId, provider: 'sim', providerReadingId: 'r', readingAt: at, receivedAt: at, socPct: 50, rangeKm: null, odometerKm: null, latitude: null, longitude: null, chargingState: null, pluggedIn: true, batteryCapacityKwh: null, etaAt: null } });
const started = (cp: string) => event(cp, { type: 'SessionStarted', sessionId: `${cp}:1`, transactionId: '1', connectorId: 1, idTag: null, meterStartWh: 0 });

describe('vehicle tracker router: every input to the site it concerns', () => {
  const given = (...bodies: ConfigBody[]): SiteTable => bodies.map(config).reduce(withSiteConfig, emptySiteTable);

  it('given a charger of site A, when its session starts, then the session goes to A, keeping where it was read', () => {
    expect(route(given(charger('CP-1', 'A')), started('CP-1'), source)).toEqual([{ site: 'A', source, input: started('CP-1') }]);
  });

  it('given a vehicle of site B and one configured without a site, then their readings go to B and to the no-site key', () => {
    const t = given(vehicle('V1', 'B'), vehicle('V2', null));
    expect(route(t, reading('V1'), source).map((r) => r.site)).toEqual(['B']);
    expect(route(t, reading('V2'), source).map((r) => r.site)).toEqual([NO_SITE]);
    expect(unknownTo(t, reading('V2'))).toBe(false);
    expect(unknownTo(t, reading('V3'))).toBe(true);
  });

  it('given a charger moved from A to B, then its events go to B from then on', () => {
    expect(route(given(charger('CP-1', 'A'), charger('CP-1', 'B')), started('CP-1'), source).map((r) => r.site)).toEqual(['B']);
  });

  it('when configuration arrives, then it goes to the site it names; other configuration nowhere', () => {
    const t = emptySiteTable;
    const site: ConfigBody = { type: 'SiteConfigured', siteId: 'A', name: 'A', gridLimitKw: 100, latitude: 52, longitude: 13, timezone: 'Europe/Berlin' } as ConfigBody;
    expect(route(t, { kind: 'config', config: config(site) }, source).map((r) => r.site)).toEqual(['A']);
    expect(route(t, { kind: 'config', config: config(charger('CP-9', 'C')) }, source).map((r) => r.site)).toEqual(['C']);
    expect(route(t, { kind: 'config', config: config(vehicle('V9', null)) }, source).map((r) => r.site)).toEqual([NO_SITE]);
    const departure = { type: 'DepartureScheduled', vehicleId: 'V9', departAt: at, requiredSocPct: 80, requiredEnergyKwh: null, routeKm: null, priority: 1 } as ConfigBody;
    expect(route(t, { kind: 'config', config: config(departure) }, source)).toEqual([]);
  });

  it('when a status change or one of our own decisions arrives on charging.events, then it is not routed (the tracker has no use for it)', () => {
    const t = given(charger('CP-1', 'A'));
    expect(route(t, event('CP-1', { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Charging', errorCode: null, info: null }), source)).toEqual([]);
    expect(route(t, event('CP-1', { type: 'VehicleMatched', sessionId: 'CP-1:1', vehicleId: 'V1', confidence: 1, method: 'idTag', replacesVehicleId: null }), source)).toEqual([]);
    expect(unknownTo(emptySiteTable, event('CP-1', { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Charging', errorCode: null, info: null }))).toBe(false);
    expect(unknownTo(emptySiteTable, started('CP-1'))).toBe(true);
  });
});
