import { ChargingEvent, EventBody } from '../../schemas/events';
import { ConfigBody } from '../../schemas/fleet-config';
import { evolveConfig, evolveEvent, evolveFrame, evolvePlan, evolveReading, initialDashboard, priceAt, snapshot } from './model';

const t0 = Date.parse('2026-03-02T18:00:00Z');
let n = 0;
const ev = (cp: string, at: number, body: EventBody): ChargingEvent => ({ eventId: `e${n++}`, chargePointId: cp, occurredAt: at, source: null, body });
const cfg = (body: ConfigBody) => ({ eventId: `c${n++}`, at: t0, actor: 'test', body });
const meter = (w: number, wh: number, soc?: number) => [
  { measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: w },
  { measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: null, unit: 'Wh', value: wh },
  ...(soc !== undefined ? [{ measurand: 'SoC', phase: null, location: null, context: null, unit: 'Percent', value: soc }] : []),
];

describe('dashboard fold', () => {
  const given = () => {
    const s = initialDashboard();
    evolveConfig(s, cfg({ type: 'SiteConfigured', siteId: 'S1', name: 'Depot', gridLimitKw: 20, latitude: 0, longitude: 0, timezone: 'Europe/Amsterdam' }));
    evolveConfig(s, cfg({ type: 'TariffConfigured', siteId: 'S1', currency: 'EUR', periods: [{ from: '00:00', to: '19:00', pricePerKwh: 0.2 }, { from: '19:00', to: '24:00', pricePerKwh: 0.4 }], demandChargePerKwMonth: 5 }));
    for (const cp of ['CP1', 'CP2']) evolveConfig(s, cfg({ type: 'ChargerConfigured', chargePointId: cp, siteId: 'S1', maxPowerKw: 11, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 }));
    evolveConfig(s, cfg({ type: 'VehicleConfigured', vehicleId: 'EV1', batteryCapacityKwh: 60, maxAcPowerKw: 11, maxDcPowerKw: 50, consumptionKwhPerKm: 0.2, idTags: ['T1'], telematicsProvider: null, providerVehicleId: null, siteId: 'S1' }));
    evolveConfig(s, cfg({ type: 'DepartureScheduled', departureId: 'd1', vehicleId: 'EV1', departAt: t0 + 12 * 3600000, requiredSocPct: 80, requiredEnergyKwh: null, routeKm: null, priority: 1 }));
    evolveConfig(s, cfg({ type: 'SiteConfigured', siteId: 'OTHER', name: 'x', gridLimitKw: 5, latitude: 0, longitude: 0, timezone: 'UTC' }));
    return s;
  };

  test('a session: status, matched vehicle, power and SoC from the charger, site load summed per meter instant', () => {
    const s = given();
    evolveEvent(s, ev('CP1', t0, { type: 'ChargerConnected', protocol: 'ocpp1.6', gatewayId: 'g' }));
    evolveEvent(s, ev('CP1', t0, { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Charging', errorCode: null, info: null }));
    evolveEvent(s, ev('CP1', t0, { type: 'SessionStarted', sessionId: 's1', transactionId: '1', connectorId: 1, idTag: 'T1', meterStartWh: 0 }));
    evolveEvent(s, ev('CP1', t0, { type: 'VehicleMatched', sessionId: 's1', vehicleId: 'EV1', confidence: 1, method: 'idTag', replacesVehicleId: null }));
    evolveEvent(s, ev('CP1', t0 + 10000, { type: 'MeterSampled', sessionId: 's1', connectorId: 1, samples: meter(7000, 100, 41) }));
    evolveEvent(s, ev('CP2', t0 + 10000, { type: 'MeterSampled', sessionId: null, connectorId: 1, samples: meter(4000, 50) }));
    const snap = snapshot(s, t0 + 20000, 'S1');
    expect(snap.chargers.map((c) => [c.chargePointId, c.powerKw, c.vehicleId])).toEqual([['CP1', 7, 'EV1'], ['CP2', 4, null]]);
    expect(snap.sites[0]!.load).toEqual([[t0 + 10000, 11]]);
    expect(snap.vehicles[0]).toMatchObject({ vehicleId: 'EV1', socPct: 41, socSource: 'charger', requiredSocPct: 80, chargePointId: 'CP1' });
    expect(snap.siteIds).toEqual(['OTHER', 'S1']);
    evolveReading(s, { vehicleId: 'EV1', readingAt: t0 + 15000, socPct: 43, pluggedIn: true });
    evolveReading(s, { vehicleId: 'EV1', readingAt: t0 + 5000, socPct: 39, pluggedIn: true });
    expect(snapshot(s, t0 + 20000, 'S1').vehicles[0]).toMatchObject({ socPct: 43, socSource: 'telematics' });
    evolveEvent(s, ev('CP1', t0 + 30000, { type: 'SessionEnded', sessionId: 's1', transactionId: '1', connectorId: 1, meterStopWh: 200, energyWh: 200, reason: null }));
    const after = snapshot(s, t0 + 40000, 'S1');
    expect(after.chargers[0]).toMatchObject({ vehicleId: null, powerKw: 0 });
    expect(after.vehicles[0]!.chargePointId).toBeNull();
  });

  test('profiles sent and answered, traffic newest first, plan and price curve in the site timezone', () => {
    const s = given();
    evolveFrame(s, { chargePointId: 'CP1', direction: 'OUT', kind: 'CALL', action: 'SetChargingProfile', uniqueId: 'u1', receivedAt: t0, protocol: 'ocpp1.6', payloadJson: JSON.stringify({ connectorId: 1, csChargingProfiles: { chargingProfilePurpose: 'TxProfile', chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 10 }] } } }) });
    evolveFrame(s, { chargePointId: 'CP1', direction: 'IN', kind: 'CALLRESULT', action: 'SetChargingProfile', uniqueId: 'u1', receivedAt: t0 + 50, protocol: 'ocpp1.6', payloadJson: '{"status":"Accepted"}' });
    evolvePlan(s, { siteId: 'S1', planId: 'p1', decidedAt: t0, trigger: 'plug-in', status: 'Optimal', horizonStart: t0, slotMinutes: 15, gridLimitKw: 20, siteKw: [6.9, 6.9], vehicles: [{ vehicleId: 'EV1', chargePointId: 'CP1', powerKw: [6.9, 6.9], targetKwh: 20, plannedKwh: 3.45, shortfallKwh: 0 }] });
    const snap = snapshot(s, t0 + 1000, 'S1');
    expect(snap.chargers[0]!.profile).toMatchObject({ limit: 10, unit: 'A', purpose: 'TxProfile', status: 'Accepted' });
    expect(snap.traffic.map((f) => f.kind)).toEqual(['CALLRESULT', 'CALL']);
    expect(snap.sites[0]!.plan!.planId).toBe('p1');
    expect(priceAt([{ from: '00:00', to: '19:00', pricePerKwh: 0.2 }, { from: '19:00', to: '24:00', pricePerKwh: 0.4 }], 'Europe/Amsterdam', t0)).toBe(0.4);
    expect(priceAt([{ from: '2026-03-02T00:00:00Z', to: '2026-03-03T00:00:00Z', pricePerKwh: 0.3 }], 'UTC', t0)).toBe(0.3);
  });
});
