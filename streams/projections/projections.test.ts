import { ChargingEvent, EventBody } from '../../schemas/events';
import { ConfigBody } from '../../schemas/fleet-config';
import { chargerStatusHistoryProjection, chargerStatusProjection, connectorStatusProjection } from './charger-status';
import { fleetChargersProjection, fleetDeparturesProjection, fleetSitesProjection, fleetVehiclesProjection } from './fleet';
import { DocumentProjection, foldDocuments, ProjectionInput, TelematicsReading } from './projection';
import { commandOutcomesProjection, meterValuesProjection, sessionsProjection, vehicleMatchesProjection } from './sessions';
import { socEstimateChecksProjection, socHistoryProjection, telematicsReadingsProjection, vehicleStateProjection } from './vehicles';

/** Given / when / then over the pure folds: no broker, no database. */
let n = 0;
const ev = (at: number, body: EventBody, cp = 'CP-1'): ProjectionInput => ({ kind: 'event', event: { eventId: `e:${n++}`, chargePointId: cp, occurredAt: at, source: null, body } as ChargingEvent });
const reading = (at: number, r: Partial<TelematicsReading> = {}): ProjectionInput => ({
  kind: 'reading',
  reading: { readingId: `r:${at}`, vehicleId: 'V1', provider: 'p', providerReadingId: `${at}`, readingAt: at, receivedAt: at + 1, socPct: null, rangeKm: null, odometerKm: null, latitude: null, longitude: null, chargingState: null, pluggedIn: null, batteryCapacityKwh: null, etaAt: null, ...r },
});
const config = (at: number, body: ConfigBody): ProjectionInput => ({ kind: 'config', config: { eventId: `c:${at}`, at, actor: 'test', body } });

const only = (p: DocumentProjection, given: ProjectionInput[]) => {
  const rows = [...foldDocuments(p, given).values()];
  expect(rows).toHaveLength(1);
  return rows[0]!;
};

const started = (at: number, sessionId = 'CP-1:7'): ProjectionInput => ev(at, { type: 'SessionStarted', sessionId, transactionId: '7', connectorId: 1, idTag: 'T', meterStartWh: 1000 });
const register = (at: number, wh: number, sessionId: string | null = 'CP-1:7'): ProjectionInput =>
  ev(at, { type: 'MeterSampled', sessionId, connectorId: 1, samples: [{ measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: null, unit: 'Wh', value: wh }, { measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: 7000 }] });

describe('charger_status', () => {
  it('given connect and boot, when a disconnect follows, then offline with the boot facts kept', () => {
    const row = only(chargerStatusProjection, [
      ev(1000, { type: 'ChargerConnected', protocol: 'ocpp1.6', gatewayId: 'gw1' }),
      ev(2000, { type: 'ChargerBooted', protocol: 'ocpp1.6', vendor: 'V', model: 'M', serialNumber: null, firmwareVersion: '1', accepted: true, heartbeatIntervalS: 60 }),
      ev(3000, { type: 'HeartbeatReceived' }),
      ev(4000, { type: 'ChargerDisconnected', gatewayId: 'gw1', reason: 'ping timeout' }),
    ]);
    expect(row).toMatchObject({ online: false, vendor: 'V', heartbeat_interval_s: 60, connected_at: 1000, booted_at: 2000, last_heartbeat_at: 3000, disconnected_at: 4000, disconnect_reason: 'ping timeout', last_seen_at: 4000 });
  });

  it('given an offline charger, when a heartbeat arrives, then online again', () => {
    const row = only(chargerStatusProjection, [ev(1, { type: 'ChargerDisconnected', gatewayId: 'g', reason: null }), ev(2, { type: 'HeartbeatReceived' })]);
    expect(row.online).toBe(true);
  });

  it('given a meter sample with an older time, then last_seen_at does not go back', () => {
    const row = only(chargerStatusProjection, [ev(5000, { type: 'HeartbeatReceived' }), register(4000, 1)]);
    expect(row.last_seen_at).toBe(5000);
  });
});

describe('connector_status and history', () => {
  it('given Preparing, when the session starts and Charging follows, then Charging with the session; after the end, no session', () => {
    const given = [ev(1, { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Preparing', errorCode: null, info: null }), started(2), ev(3, { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Charging', errorCode: null, info: null })];
    expect(only(connectorStatusProjection, given)).toMatchObject({ status: 'Charging', since: 3, session_id: 'CP-1:7' });
    const after = [...given, ev(9, { type: 'SessionEnded', sessionId: 'CP-1:7', transactionId: '7', connectorId: 1, meterStopWh: 5000, energyWh: 4000, reason: null })];
    expect(only(connectorStatusProjection, after)).toMatchObject({ status: 'Charging', session_id: null });
  });

  it('history: one row per status change and per connect / disconnect / boot', () => {
    const rows = [
      ev(1, { type: 'ChargerConnected', protocol: 'ocpp2.0.1', gatewayId: 'g' }),
      ev(2, { type: 'ConnectorStatusChanged', connectorId: 2, status: 'Faulted', errorCode: 'GroundFailure', info: null }),
      ev(3, { type: 'HeartbeatReceived' }),
      ev(4, { type: 'ChargerDisconnected', gatewayId: 'g', reason: 'bye' }),
    ].flatMap(chargerStatusHistoryProjection.rows);
    expect(rows.map((r) => [r.at, r.connector_id, r.status, r.error_code, r.info])).toEqual([
      [1, 0, 'Online', null, 'ocpp2.0.1'],
      [2, 2, 'Faulted', 'GroundFailure', null],
      [4, 0, 'Offline', null, 'bye'],
    ]);
  });
});

describe('sessions', () => {
  it('given a started session, when registers arrive, then energy follows the register; at the end the final energy', () => {
    const running = only(sessionsProjection, [started(1), register(2, 3000), register(3, 4500)]);
    expect(running).toMatchObject({ active: true, energy_wh: 3500, last_meter_at: 3 });
    const ended = only(sessionsProjection, [started(1), register(2, 3000), ev(4, { type: 'SessionEnded', sessionId: 'CP-1:7', transactionId: '7', connectorId: 1, meterStopWh: 6000, energyWh: 5000, reason: 'Local' })]);
    expect(ended).toMatchObject({ active: false, energy_wh: 5000, meter_stop_wh: 6000, ended_at: 4, stop_reason: 'Local' });
  });

  it('given a match, when a correction follows, then the new vehicle and one correction', () => {
    const row = only(sessionsProjection, [
      started(1),
      ev(2, { type: 'VehicleMatched', sessionId: 'CP-1:7', vehicleId: 'V1', confidence: 0.6, method: 'telematics', replacesVehicleId: null }),
      ev(3, { type: 'VehicleMatched', sessionId: 'CP-1:7', vehicleId: 'V2', confidence: 0.9, method: 'energy', replacesVehicleId: 'V1' }),
    ]);
    expect(row).toMatchObject({ vehicle_id: 'V2', match_confidence: 0.9, match_method: 'energy', match_corrections: 1 });
  });

  it('given charger SoC reports, then the latest by time wins', () => {
    const row = only(sessionsProjection, [started(1), ev(5, { type: 'ChargerReportedSoc', sessionId: 'CP-1:7', connectorId: 1, socPct: 50 }), ev(4, { type: 'ChargerReportedSoc', sessionId: 'CP-1:7', connectorId: 1, socPct: 45 })]);
    expect(row).toMatchObject({ charger_soc_pct: 50, charger_soc_at: 5 });
  });

  it('meter values: one row per sample; matches and command outcomes: one row per event', () => {
    expect(meterValuesProjection.rows(register(2, 3000)).map((r) => [r.measurand, r.unit, r.value, r.idx])).toEqual([
      ['Energy.Active.Import.Register', 'Wh', 3000, 0],
      ['Power.Active.Import', 'W', 7000, 1],
    ]);
    expect(vehicleMatchesProjection.rows(ev(2, { type: 'VehicleMatched', sessionId: 's', vehicleId: 'V', confidence: 1, method: 'idTag', replacesVehicleId: null }))).toHaveLength(1);
    expect(commandOutcomesProjection.rows(ev(2, { type: 'CommandCompleted', commandId: 'c', action: 'SetChargingProfile', outcome: 'ACCEPTED', detail: null }))[0]).toMatchObject({ outcome: 'ACCEPTED', command_id: 'c' });
  });
});

describe('vehicle_state, telematics, SoC history', () => {
  const estimate = (at: number, soc: number): ProjectionInput => ev(at, { type: 'SocEstimated', vehicleId: 'V1', sessionId: 'CP-1:7', socPct: soc, uncertaintyPct: 2, baseSocPct: 40, baseAt: 0, deliveredWhSinceBase: 1000 });
  it('given readings and estimates in any interleaving, then the same state (latest by time per source)', () => {
    const inputs = [reading(1000, { socPct: 40, pluggedIn: true, chargingState: 'CHARGING' }), estimate(2000, 45), reading(1500, { latitude: 1, longitude: 2 }), estimate(3000, 50), reading(4000, { socPct: 52, pluggedIn: true, chargingState: 'CHARGING', latitude: 1, longitude: 2 })];
    const a = only(vehicleStateProjection, inputs);
    const b = only(vehicleStateProjection, [...inputs].reverse());
    expect(a).toEqual(b);
    expect(a).toMatchObject({ telematics_soc_pct: 52, telematics_at: 4000, estimate_soc_pct: 50, estimate_at: 3000, plugged_in: true, charging_state: 'CHARGING', latitude: 1, last_reading_at: 4000 });
  });

  it('given an estimate check, then the error is kept', () => {
    const row = only(vehicleStateProjection, [ev(5, { type: 'SocEstimateChecked', vehicleId: 'V1', estimatedSocPct: 60, reportedSocPct: 58, errorPct: 2 })]);
    expect(row).toMatchObject({ last_estimate_error_pct: 2, last_estimate_checked_at: 5 });
    expect(socEstimateChecksProjection.rows(ev(5, { type: 'SocEstimateChecked', vehicleId: 'V1', estimatedSocPct: 60, reportedSocPct: 58, errorPct: 2 }))).toHaveLength(1);
  });

  it('telematics rows and SoC history from all three sources', () => {
    expect(telematicsReadingsProjection.rows(reading(7, { socPct: 33 }))[0]).toMatchObject({ reading_at: 7, vehicle_id: 'V1', soc_pct: 33 });
    const h = [reading(7, { socPct: 33 }), reading(8), ev(9, { type: 'ChargerReportedSoc', sessionId: 's', connectorId: 1, socPct: 34 }), estimate(10, 35)].flatMap(socHistoryProjection.rows);
    expect(h.map((r) => [r.source, r.soc_pct, r.vehicle_id])).toEqual([
      ['telematics', 33, 'V1'],
      ['charger', 34, null],
      ['estimate', 35, 'V1'],
    ]);
  });
});

describe('fleet configuration', () => {
  it('given a charger configured twice, then the last configuration', () => {
    const c = (at: number, siteId: string) => config(at, { type: 'ChargerConfigured', chargePointId: 'CP-1', siteId, maxPowerKw: 22, securityProfile: 1, passwordHash: 'x', ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 });
    expect(only(fleetChargersProjection, [c(1, 'S1'), c(2, 'S2')])).toMatchObject({ site_id: 'S2', configured_at: 2 });
    const v = config(3, { type: 'VehicleConfigured', vehicleId: 'V1', batteryCapacityKwh: 75, maxAcPowerKw: 11, maxDcPowerKw: 150, consumptionKwhPerKm: 0.2, idTags: ['A', 'B'], telematicsProvider: 'p', providerVehicleId: 'x', siteId: 'S1' });
    expect(only(fleetVehiclesProjection, [v])).toMatchObject({ vehicle_id: 'V1', id_tags: ['A', 'B'] });
  });

  const site = (at: number, siteId: string, gridLimitKw: number, name = 'Depot'): ProjectionInput =>
    config(at, { type: 'SiteConfigured', siteId, name, gridLimitKw, latitude: 52.5, longitude: 13.4, timezone: 'Europe/Berlin' });
  const departure = (at: number, vehicleId: string, departureId: string, departAt: number, d: Partial<{ requiredSocPct: number | null; requiredEnergyKwh: number | null; routeKm: number | null; priority: number }> = {}): ProjectionInput =>
    config(at, { type: 'DepartureScheduled', departureId, vehicleId, departAt, requiredSocPct: 80, requiredEnergyKwh: null, routeKm: null, priority: 1, ...d });

  it('given a site configured, then one row with every field', () => {
    expect(only(fleetSitesProjection, [site(1, 'S1', 100)])).toEqual({ site_id: 'S1', name: 'Depot', grid_limit_kw: 100, latitude: 52.5, longitude: 13.4, timezone: 'Europe/Berlin', configured_at: 1 });
  });

  it('given a site configured, when it is re-configured, then the new configuration replaces the old one', () => {
    expect(only(fleetSitesProjection, [site(1, 'S1', 100, 'Depot'), site(2, 'S1', 150, 'Depot North')])).toEqual({
      site_id: 'S1',
      name: 'Depot North',
      grid_limit_kw: 150,
      latitude: 52.5,
      longitude: 13.4,
      timezone: 'Europe/Berlin',
      configured_at: 2,
    });
  });

  it('sites: one row per site; other configuration events leave them alone', () => {
    const rows = foldDocuments(fleetSitesProjection, [
      site(1, 'S1', 100),
      site(2, 'S2', 40),
      config(3, { type: 'TariffConfigured', siteId: 'S1', currency: 'EUR', periods: [], demandChargePerKwMonth: 0 }),
      departure(4, 'V1', 'D1', 10_000),
      ev(5, { type: 'HeartbeatReceived' }),
    ]);
    expect([...rows.values()].map((r) => [r.site_id, r.grid_limit_kw, r.configured_at])).toEqual([
      ['S1', 100, 1],
      ['S2', 40, 2],
    ]);
    const s1 = rows.get(JSON.stringify(['S1']));
    expect(fleetSitesProjection.evolve(s1, config(6, { type: 'TariffConfigured', siteId: 'S1', currency: 'EUR', periods: [], demandChargePerKwMonth: 0 }))).toBe(s1);
  });

  it('given a departure scheduled, then one row per vehicle with every field', () => {
    expect(only(fleetDeparturesProjection, [departure(1, 'V1', 'D1', 10_000, { requiredSocPct: null, requiredEnergyKwh: 30, routeKm: 120, priority: 2 })])).toEqual({
      vehicle_id: 'V1',
      departure_id: 'D1',
      depart_at: 10_000,
      required_soc_pct: null,
      required_energy_kwh: 30,
      route_km: 120,
      priority: 2,
      configured_at: 1,
    });
  });

  it('given a departure scheduled, when another is scheduled for the same vehicle, then it replaces the first', () => {
    const row = only(fleetDeparturesProjection, [departure(1, 'V1', 'D1', 10_000, { requiredSocPct: 80 }), departure(2, 'V1', 'D2', 20_000, { requiredSocPct: 60, priority: 3 })]);
    expect(row).toEqual({ vehicle_id: 'V1', departure_id: 'D2', depart_at: 20_000, required_soc_pct: 60, required_energy_kwh: null, route_km: null, priority: 3, configured_at: 2 });
  });

  it('departures: one row per vehicle; other configuration events leave them alone', () => {
    const rows = foldDocuments(fleetDeparturesProjection, [departure(1, 'V1', 'D1', 10_000), departure(2, 'V2', 'D2', 20_000), site(3, 'S1', 100), departure(4, 'V1', 'D3', 30_000)]);
    expect([...rows.values()].map((r) => [r.vehicle_id, r.departure_id, r.depart_at, r.configured_at])).toEqual([
      ['V1', 'D3', 30_000, 4],
      ['V2', 'D2', 20_000, 2],
    ]);
    const v1 = rows.get(JSON.stringify(['V1']));
    expect(fleetDeparturesProjection.evolve(v1, config(5, { type: 'VehicleConfigured', vehicleId: 'V1', batteryCapacityKwh: 75, maxAcPowerKw: 11, maxDcPowerKw: 150, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId: null }))).toBe(v1);
  });
});
