import { Producer } from 'kafkajs';
import { createContext } from '../../services/common/context';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { ServiceContext } from '../../services/common/service';
import { Topics } from '../../schemas/topics';
import { defaultOptimizerConfig } from '../../services/optimizer/config';
import { createOptimizer, Optimizer } from '../../services/optimizer/service';
import { ReadRecord, testConfig, uniq } from '../support/stack';
import { collector, Collector, CommandRecord, inputWriters, PlanRecord, purposeOf, validate } from './support';

/** The optimizer against the real broker and registry: configuration, sessions and telematics go in as the other
 *  services would write them; a SetChargingProfile per plugged vehicle (matched or not) comes out on ocpp.commands,
 *  the plan with its inputs on optimizer.plans. */
describe('optimizer service', () => {
  let ctx: ServiceContext;
  let reader: Collector;
  let producer: Producer;
  let optimizer: Optimizer;
  const siteId = uniq('site');
  const cp16 = uniq('cp16');
  const cp201 = uniq('cp201');
  const vehicleId = uniq('veh');
  const now = Date.now();

  const { sendConfig, sendEvents } = inputWriters(() => ({ ctx, producer }));

  beforeAll(async () => {
    ctx = createContext(testConfig(), uniq('optimizer-test'));
    reader = await collector([Topics.ocppCommands, Topics.optimizerPlans], (key) => key === siteId || key === cp16 || key === cp201);
    producer = createDurableProducer(ctx.kafka);
    await producer.connect();
    optimizer = await createOptimizer(ctx, { ...defaultOptimizerConfig, sites: [siteId], debounceMs: 300, groupId: uniq('optimizer-test'), readingsLookbackMinutes: 5 }, { instanceId: uniq('i') });

    await sendConfig(
      { type: 'SiteConfigured', siteId, name: 'Test depot', gridLimitKw: 20, latitude: 52.5, longitude: 13.4, timezone: 'Europe/Berlin' },
      { type: 'TariffConfigured', siteId, currency: 'EUR', periods: [{ from: '00:00', to: '06:00', pricePerKwh: 0.12 }, { from: '06:00', to: '00:00', pricePerKwh: 0.3 }], demandChargePerKwMonth: 12 },
      { type: 'ChargerConfigured', chargePointId: cp16, siteId, maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 10 },
      { type: 'ChargerConfigured', chargePointId: cp201, siteId, maxPowerKw: 11, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A,W', maxSchedulePeriods: 24 },
      { type: 'VehicleConfigured', vehicleId, batteryCapacityKwh: 80, maxAcPowerKw: 11, maxDcPowerKw: 100, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId },
      { type: 'DepartureScheduled', departureId: uniq('dep'), vehicleId, departAt: now + 3 * 3600000, requiredSocPct: 60, requiredEnergyKwh: null, routeKm: null, priority: 2 },
    );
    await producer.send({
      topic: Topics.telematicsReadings,
      acks: DURABLE_ACKS,
      messages: [
        {
          key: vehicleId,
          value: await ctx.serde.encode(Topics.telematicsReadings, {
            readingId: uniq('r'), vehicleId, provider: 'test', providerReadingId: uniq('p'), readingAt: now, receivedAt: now,
            socPct: 25, rangeKm: null, odometerKm: null, latitude: null, longitude: null, chargingState: 'NOT_CHARGING', pluggedIn: true, batteryCapacityKwh: 80, etaAt: null,
          }),
        },
      ],
    });
    await sendEvents(cp16, { type: 'ChargerConnected', protocol: 'ocpp1.6', gatewayId: 'gw-test' });
    await sendEvents(cp201, { type: 'ChargerConnected', protocol: 'ocpp2.0.1', gatewayId: 'gw-test' });
    const session16 = uniq('s');
    await sendEvents(
      cp16,
      { type: 'SessionStarted', sessionId: session16, transactionId: '4711', connectorId: 1, idTag: 'TAG', meterStartWh: 1000 },
      { type: 'VehicleMatched', sessionId: session16, vehicleId, confidence: 1, method: 'idTag', replacesVehicleId: null },
    );
    // Nobody matched this one: it is planned as an unknown vehicle with the configured defaults.
    await sendEvents(cp201, { type: 'SessionStarted', sessionId: uniq('s'), transactionId: 'a3c9e0f2-7d41', connectorId: 1, idTag: null, meterStartWh: 0 });
  });

  afterAll(async () => {
    await optimizer?.stop();
    await reader?.stop();
    await producer?.disconnect();
  });

  test('SetChargingProfile TxProfiles for both plugged vehicles (1.6 and 2.0.1) and safe caps on every charger', async () => {
    const records = await reader.until<CommandRecord>(Topics.ocppCommands, (rs) =>
      [cp16, cp201].every((cp) => rs.some((r) => r.value.chargePointId === cp && r.value.action === 'SetChargingProfile' && purposeOf(r.value) === 'TxProfile')),
    );
    const tx = (cp: string) => records.find((r) => r.value.chargePointId === cp && r.value.action === 'SetChargingProfile' && purposeOf(r.value) === 'TxProfile')!.value;
    const p16 = JSON.parse(tx(cp16).payloadJson) as { connectorId: number; csChargingProfiles: { transactionId: number; chargingSchedule: { chargingRateUnit: string; chargingSchedulePeriod: { limit: number }[] } } };
    expect(validate('ocpp1.6', p16)).toBe(true);
    expect(p16.connectorId).toBe(1);
    expect(p16.csChargingProfiles.transactionId).toBe(4711);
    expect(p16.csChargingProfiles.chargingSchedule.chargingRateUnit).toBe('A');
    expect(p16.csChargingProfiles.chargingSchedule.chargingSchedulePeriod.length).toBeLessThanOrEqual(10);
    const p201 = JSON.parse(tx(cp201).payloadJson) as { evseId: number; chargingProfile: { transactionId: string } };
    expect(validate('ocpp2.0.1', p201)).toBe(true);
    expect(p201.chargingProfile.transactionId).toBe('a3c9e0f2-7d41');
    expect(tx(cp16).issuedBy).toBe('optimizer');
    expect(tx(cp16).planId).toBeTruthy();
    expect(tx(cp16).commandId).toMatch(/^[0-9a-f]{32}$/);

    // Safe caps (connector 0, stack level 0) on both chargers; and the read-back of the profile.
    for (const cp of [cp16, cp201]) {
      const purposes = records.filter((r) => r.value.chargePointId === cp && r.value.action === 'SetChargingProfile').map((r) => purposeOf(r.value));
      expect(purposes).toContain('TxDefaultProfile');
      expect(purposes.some((p) => p === 'ChargePointMaxProfile' || p === 'ChargingStationMaxProfile')).toBe(true);
    }
    const gets = (await reader.until<CommandRecord>(Topics.ocppCommands, (rs) => rs.filter((r) => r.value.action === 'GetCompositeSchedule').length >= 2)).filter((r) => r.value.action === 'GetCompositeSchedule');
    expect(gets.length).toBeGreaterThanOrEqual(2);
  });

  test('the plan is on optimizer.plans with its inputs, within the grid limit', async () => {
    // Topics are consumed side by side: wait for the plan that has seen the match and the telematics reading.
    const complete = (r: ReadRecord<PlanRecord>) =>
      r.value.vehicles.length === 2 && (JSON.parse(r.value.inputsJson) as { vehicles: { vehicleId: string; socSource: string; chargePointId: string | null }[] }).vehicles.some((v) => v.vehicleId === vehicleId && v.socSource === 'telematics' && v.chargePointId === cp16);
    const plans = await reader.until<PlanRecord>(Topics.optimizerPlans, (rs) => rs.some(complete));
    const plan = plans.find(complete)!.value;
    expect(plan.status).toBe('Optimal');
    expect(plan.gridLimitKw).toBe(20);
    for (const kw of plan.siteKw) expect(kw).toBeLessThanOrEqual(20 + 1e-6);
    const known = plan.vehicles.find((v) => v.vehicleId === vehicleId)!;
    expect(known.chargePointId).toBe(cp16);
    expect(known.shortfallKwh).toBeCloseTo(0, 6);
    expect(plan.vehicles.find((v) => v.chargePointId === cp201)!.vehicleId).toMatch(/^unknown:/);
    const inputs = JSON.parse(plan.inputsJson) as { siteId: string; vehicles: { vehicleId: string; socPct: number; socSource: string }[] };
    expect(inputs.siteId).toBe(siteId);
    expect(inputs.vehicles.find((v) => v.vehicleId === vehicleId)).toMatchObject({ socPct: 25, socSource: 'telematics' });
  });

  test('a departure moved by more than 15 minutes re-plans the site', async () => {
    await sendConfig({ type: 'DepartureScheduled', departureId: uniq('dep'), vehicleId, departAt: now + 2.5 * 3600000, requiredSocPct: 50, requiredEnergyKwh: null, routeKm: null, priority: 2 });
    const moved = (r: ReadRecord<PlanRecord>) =>
      (JSON.parse(r.value.inputsJson) as { vehicles: { vehicleId: string; departAt: number }[] }).vehicles.some((v) => v.vehicleId === vehicleId && v.departAt === now + 2.5 * 3600000);
    const plans = await reader.until<PlanRecord>(Topics.optimizerPlans, (rs) => rs.some(moved));
    const replanned = plans.find(moved)!.value;
    expect(replanned.trigger.split(',')).toContain('departure');
    expect(replanned.vehicles.find((v) => v.vehicleId === vehicleId)!.shortfallKwh).toBeCloseTo(0, 6);
  });
});
