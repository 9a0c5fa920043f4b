import { EventBody } from '../../schemas/events';
import { ConfigBody } from '../../schemas/fleet-config';
import { defaultOptimizerConfig } from './config';
import { replanReason } from './replan';
import { snapshotOf } from './site-snapshot';
import { evolve, FleetState, initial, Input } from './state';
import { priceAt } from './tariff';

/** given inputs / when input / then state, snapshot or re-plan reason: no broker. */
const T = Date.UTC(2026, 0, 5, 8, 0);
const MIN = 60000;
const cfg = defaultOptimizerConfig;

const config = (body: ConfigBody, at = T): Input => ({ kind: 'config', event: { eventId: `c${Math.random()}`, at, actor: 't', body } });
const event = (cp: string, body: EventBody, at = T): Input => ({ kind: 'event', event: { eventId: `e${Math.random()}`, chargePointId: cp, occurredAt: at, source: null, body } });
const given = (...inputs: Input[]): FleetState => inputs.reduce(evolve, initial);

const depot: Input[] = [
  config({ type: 'SiteConfigured', siteId: 'S', name: 's', gridLimitKw: 50, latitude: 0, longitude: 0, timezone: 'Europe/Berlin' }),
  config({ type: 'TariffConfigured', siteId: 'S', currency: 'EUR', periods: [{ from: '22:00', to: '06:00', pricePerKwh: 0.1 }, { from: '06:00', to: '22:00', pricePerKwh: 0.3 }], demandChargePerKwMonth: 10 }),
  config({ type: 'ChargerConfigured', chargePointId: 'CP1', siteId: 'S', maxPowerKw: 11, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 }),
  config({ type: 'VehicleConfigured', vehicleId: 'V1', batteryCapacityKwh: 80, maxAcPowerKw: 11, maxDcPowerKw: 100, consumptionKwhPerKm: 0.25, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId: 'S' }),
  event('CP1', { type: 'ChargerConnected', protocol: 'ocpp2.0.1', gatewayId: 'g' }),
  event('CP1', { type: 'SessionStarted', sessionId: 'S1', transactionId: 'tx1', connectorId: 1, idTag: null, meterStartWh: 0 }),
];
const meter = (kw: number, at: number): Input => event('CP1', { type: 'MeterSampled', sessionId: 'S1', connectorId: 1, samples: [{ measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: kw * 1000 }] }, at);

describe('the optimizer fold', () => {
  test('an unmatched session is planned as an unknown vehicle with the configured defaults', () => {
    const snap = snapshotOf(given(...depot), 'S', T + MIN, cfg)!;
    expect(snap.vehicles).toHaveLength(1);
    expect(snap.vehicles[0]).toMatchObject({ known: false, chargePointId: 'CP1', connectorId: 1, transactionId: 'tx1', batteryCapacityKwh: 60, socPct: 30, socSource: 'default', departAt: T + 8 * 3600000, targetKwh: 48 });
    expect(snap.chargers[0]).toMatchObject({ protocol: 'ocpp2.0.1', controllable: true, rateUnit: 'A' });
  });

  test('a matched vehicle uses its configuration, departure (route km + reserve) and telematics SoC', () => {
    const s = given(
      ...depot,
      event('CP1', { type: 'VehicleMatched', sessionId: 'S1', vehicleId: 'V1', confidence: 1, method: 'idTag', replacesVehicleId: null }),
      config({ type: 'DepartureScheduled', departureId: 'd', vehicleId: 'V1', departAt: T + 5 * 3600000, requiredSocPct: null, requiredEnergyKwh: null, routeKm: 200, priority: 3 }),
      { kind: 'reading', reading: { readingId: 'r', vehicleId: 'V1', readingAt: T, socPct: 40, pluggedIn: true, etaAt: null, batteryCapacityKwh: 80 } },
    );
    const v = snapshotOf(s, 'S', T + MIN, cfg)!.vehicles[0]!;
    expect(v).toMatchObject({ vehicleId: 'V1', known: true, batteryCapacityKwh: 80, socPct: 40, socSource: 'telematics', departAt: T + 5 * 3600000, priority: 3 });
    expect(v.targetKwh).toBeCloseTo(200 * 0.25 + 8);
  });

  test('telematics silent for long: the SoC is estimated from the meter and its uncertainty widens', () => {
    const s = given(
      ...depot,
      event('CP1', { type: 'VehicleMatched', sessionId: 'S1', vehicleId: 'V1', confidence: 1, method: 'idTag', replacesVehicleId: null }),
      { kind: 'reading', reading: { readingId: 'r', vehicleId: 'V1', readingAt: T, socPct: 40, pluggedIn: true, etaAt: null, batteryCapacityKwh: 80 } },
      event('CP1', { type: 'MeterSampled', sessionId: 'S1', connectorId: 1, samples: [{ measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: null, unit: 'Wh', value: 8000 }] }, T + 60 * MIN),
    );
    const v = snapshotOf(s, 'S', T + 60 * MIN, cfg)!.vehicles[0]!;
    expect(v.socSource).toBe('estimated');
    expect(v.socPct).toBeCloseTo(40 + (100 * 8 * 0.92) / 80);
    expect(v.socUncertaintyPct).toBeCloseTo(5);
  });

  test('the site plans with the charging efficiency it measured: SoC rise times capacity per metered grid kWh', () => {
    const register = (wh: number, at: number) => event('CP1', { type: 'MeterSampled', sessionId: 'S1', connectorId: 1, samples: [{ measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: null, unit: 'Wh', value: wh }] }, at);
    const reading = (id: string, socPct: number, at: number): Input => ({ kind: 'reading', reading: { readingId: id, vehicleId: 'V1', readingAt: at, socPct, pluggedIn: true, etaAt: null, batteryCapacityKwh: 80 } });
    const matched = [...depot, event('CP1', { type: 'VehicleMatched', sessionId: 'S1', vehicleId: 'V1', confidence: 1, method: 'idTag', replacesVehicleId: null })];
    // Before there is enough behind it, the configured figure.
    expect(snapshotOf(given(...matched, reading('a', 20, T)), 'S', T, cfg)!.efficiency).toBe(cfg.efficiency);
    // 20 % → 47 % of 80 kWh is 21.6 kWh in the battery for 24 kWh metered: 0.9.
    const s = given(...matched, reading('a', 20, T), register(12000, T + 60 * MIN), reading('b', 33, T + 61 * MIN), register(24000, T + 120 * MIN), reading('c', 47, T + 121 * MIN));
    expect(snapshotOf(s, 'S', T + 122 * MIN, cfg)!.efficiency).toBeCloseTo(0.9, 9);
  });

  test('an expected arrival from a telematics ETA is in the snapshot before it plugs in', () => {
    const s = given(
      ...depot,
      config({ type: 'VehicleConfigured', vehicleId: 'V2', batteryCapacityKwh: 60, maxAcPowerKw: 11, maxDcPowerKw: 50, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId: 'S' }),
      { kind: 'reading', reading: { readingId: 'r2', vehicleId: 'V2', readingAt: T, socPct: 20, pluggedIn: false, etaAt: T + 90 * MIN, batteryCapacityKwh: 60 } },
    );
    const v = snapshotOf(s, 'S', T, cfg)!.vehicles.find((x) => x.vehicleId === 'V2')!;
    expect(v).toMatchObject({ chargePointId: null, arrivalAt: T + 90 * MIN, socPct: 20 });
  });

  test('a vehicle with a departure but no ETA is forecast to arrive before it (capacity kept for it)', () => {
    const s = given(...depot, config({ type: 'DepartureScheduled', departureId: 'd', vehicleId: 'V1', departAt: T + 20 * 3600000, requiredSocPct: 80, requiredEnergyKwh: null, routeKm: null, priority: 1 }));
    const v = snapshotOf(s, 'S', T, cfg)!.vehicles.find((x) => x.vehicleId === 'V1')!;
    expect(v).toMatchObject({ chargePointId: null, arrivalAt: T + 14 * 3600000, socSource: 'default', targetKwh: 64 });
    const soon = snapshotOf(s, 'S', T + 18 * 3600000, cfg)!.vehicles.find((x) => x.vehicleId === 'V1')!;
    expect(soon.arrivalAt).toBe(T + 18 * 3600000 + 15 * MIN);
  });

  test('tariff periods in local time: 22:00-06:00 cheap in Europe/Berlin', () => {
    const periods = [{ from: '22:00', to: '06:00', pricePerKwh: 0.1 }, { from: '06:00', to: '22:00', pricePerKwh: 0.3 }];
    expect(priceAt(periods, 'Europe/Berlin', Date.UTC(2026, 0, 5, 4, 30))).toBe(0.1); // 05:30 local
    expect(priceAt(periods, 'Europe/Berlin', Date.UTC(2026, 0, 5, 5, 30))).toBe(0.3); // 06:30 local
    expect(priceAt(periods, 'Europe/Berlin', Date.UTC(2026, 0, 5, 21, 30))).toBe(0.1); // 22:30 local
    expect(priceAt([{ from: '2026-01-05T00:00:00Z', to: '2026-01-06T00:00:00Z', pricePerKwh: 0.05 }], 'UTC', Date.UTC(2026, 0, 5, 12))).toBe(0.05);
    const snap = snapshotOf(given(...depot), 'S', Date.UTC(2026, 0, 5, 4, 45), cfg)!; // 05:45 local: slot 0 cheap, slot 1 not
    expect(snap.pricePerKwh.slice(0, 2)).toEqual([0.1, 0.3]);
  });

  test('a charger drawing well above its profile three times (after a grace period) becomes uncontrollable', () => {
    let s = given(...depot, { kind: 'commanded', chargePointId: 'CP1', connectorId: 1, commandId: 'c1', limitKw: 4.14, at: T });
    s = evolve(s, meter(11, T + MIN)); // within the grace period: not counted
    s = evolve(s, meter(11, T + 3 * MIN));
    s = evolve(s, meter(11, T + 4 * MIN));
    expect(snapshotOf(s, 'S', T + 4 * MIN, cfg)!.chargers[0]!.controllable).toBe(true);
    const before = s;
    s = evolve(s, meter(11, T + 5 * MIN));
    expect(replanReason(before, s, meter(11, T + 5 * MIN), () => 4.14)).toBe('uncontrollable');
    const c = snapshotOf(s, 'S', T + 5 * MIN, cfg)!.chargers[0]!;
    expect(c).toMatchObject({ controllable: false, measuredKw: 11 });
  });

  test('re-plan triggers: departure moved > 15 min, meter off plan > 10 %, SoC change, rejected profile', () => {
    const dep = (min: number) => config({ type: 'DepartureScheduled', departureId: 'd', vehicleId: 'V1', departAt: T + min * MIN, requiredSocPct: 80, requiredEnergyKwh: null, routeKm: null, priority: 1 });
    const s0 = given(...depot, dep(300));
    expect(replanReason(s0, evolve(s0, dep(310)), dep(310), () => undefined)).toBeNull();
    expect(replanReason(s0, evolve(s0, dep(320)), dep(320), () => undefined)).toBe('departure');
    expect(replanReason(s0, evolve(s0, meter(7.5, T)), meter(7.5, T), () => 7)).toBeNull();
    expect(replanReason(s0, evolve(s0, meter(8, T)), meter(8, T), () => 7)).toBe('meter');
    const soc = (pct: number): Input => event('CP1', { type: 'SocEstimated', vehicleId: 'V1', sessionId: 'S1', socPct: pct, uncertaintyPct: 3, baseSocPct: 40, baseAt: T, deliveredWhSinceBase: 0 });
    const s1 = evolve(s0, soc(40));
    expect(replanReason(s1, evolve(s1, soc(40.5)), soc(40.5), () => undefined)).toBeNull();
    expect(replanReason(s1, evolve(s1, soc(42)), soc(42), () => undefined)).toBe('soc');
    const sent = evolve(s0, { kind: 'commanded', chargePointId: 'CP1', connectorId: 1, commandId: 'cmd-1', limitKw: 5, at: T });
    const rejected = event('CP1', { type: 'CommandCompleted', commandId: 'cmd-1', action: 'SetChargingProfile', outcome: 'REJECTED', detail: null });
    expect(replanReason(sent, evolve(sent, rejected), rejected, () => undefined)).toBe('rejected');
    const other = event('CP1', { type: 'CommandCompleted', commandId: 'someone-else', action: 'SetChargingProfile', outcome: 'REJECTED', detail: null });
    expect(replanReason(sent, evolve(sent, other), other, () => undefined)).toBeNull();
  });

  test('a command folded again (sent, then read back after a checkpoint) changes nothing', () => {
    const command: Input = { kind: 'commanded', chargePointId: 'CP1', connectorId: 1, commandId: 'cmd-1', limitKw: 5, at: T };
    const once = given(...depot, command);
    expect(evolve(once, command)).toBe(once);
    const next = evolve(once, { ...command, commandId: 'cmd-2', limitKw: 6, at: T + MIN });
    expect(next.control.get('CP1:1')).toMatchObject({ commandIds: ['cmd-1', 'cmd-2'], limitKw: 6, since: T + MIN });
    expect(evolve(next, { ...command, commandId: 'cmd-0', limitKw: 3, at: T - MIN })).toBe(next);
  });

  test('an ended session leaves nothing to plan', () => {
    const s = given(...depot, event('CP1', { type: 'SessionEnded', sessionId: 'S1', transactionId: 'tx1', connectorId: 1, meterStopWh: 10, energyWh: 10, reason: null }));
    expect(snapshotOf(s, 'S', T, cfg)!.vehicles).toHaveLength(0);
  });
});
