import { ConfigBody } from '../../schemas/fleet-config';
import { DeviceVariable, EventBody } from '../../schemas/events';
import { defaultOptimizerConfig } from './config';
import { Plan } from './formulation';
import { txProfileCommands } from './profiles';
import { snapshotOf } from './site-snapshot';
import { evolve, FleetState, initial, Input } from './state';

/** What a charger reports about itself (device model) wins over its static configuration in the profiles the
 *  optimizer sends: a charger that reports one schedule period and watts only gets profiles with one period in W,
 *  valid against the official OCPP schema. given events / when planned / then the SetChargingProfile payload. */
const validators = require('ocpp-rpc/lib/standard-validators') as { subprotocol: string; validate(schemaId: string, payload: unknown): boolean }[];
const valid = (protocol: string, payload: unknown) => validators.find((v) => v.subprotocol === protocol)!.validate('urn:SetChargingProfile.req', payload);

const T = Date.UTC(2026, 0, 5, 8, 0);
const cfg = defaultOptimizerConfig;
const config = (body: ConfigBody): Input => ({ kind: 'config', event: { eventId: `c${Math.random()}`, at: T, actor: 't', body } });
const event = (body: EventBody): Input => ({ kind: 'event', event: { eventId: `e${Math.random()}`, chargePointId: 'CP1', occurredAt: T, source: null, body } });
const given = (...inputs: Input[]): FleetState => inputs.reduce(evolve, initial);

const depot = (protocol: 'ocpp1.6' | 'ocpp2.0.1'): Input[] => [
  config({ type: 'SiteConfigured', siteId: 'S', name: 's', gridLimitKw: 50, latitude: 0, longitude: 0, timezone: 'Europe/Berlin' }),
  // Statically configured as amps with 24 periods: the report must win.
  config({ type: 'ChargerConfigured', chargePointId: 'CP1', siteId: 'S', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 }),
  event({ type: 'ChargerConnected', protocol, gatewayId: 'g' }),
  event({ type: 'SessionStarted', sessionId: 'S1', transactionId: '7', connectorId: 1, idTag: null, meterStartWh: 0 }),
];

const report = (protocol: 'ocpp1.6' | 'ocpp2.0.1', entries: DeviceVariable[]): Input =>
  event({ type: 'DeviceModelReported', protocol, source: protocol === 'ocpp1.6' ? 'GetConfiguration' : 'NotifyReport', requestId: null, entries });

const onePeriodWattsOnly = {
  'ocpp1.6': report('ocpp1.6', [
    { component: null, variable: 'ChargingScheduleMaxPeriods', value: '1', readonly: true },
    { component: null, variable: 'ChargingScheduleAllowedChargingRateUnit', value: 'Power', readonly: true },
  ]),
  'ocpp2.0.1': report('ocpp2.0.1', [
    { component: 'SmartChargingCtrlr', variable: 'PeriodsPerSchedule', value: '1', readonly: true },
    { component: 'SmartChargingCtrlr', variable: 'RateUnit', value: 'W', readonly: true },
  ]),
};

/** A plan that changes power every slot: without the limit it would take several periods. */
const profileFor = (s: FleetState) => {
  const snap = snapshotOf(s, 'S', T + 60_000, cfg)!;
  const v = snap.vehicles[0]!;
  const powerKw = [11, 7, 11, 7, 11, 7, 11, 7];
  const plan: Plan = {
    siteId: 'S', horizonStart: snap.now, slotMinutes: 15, status: 'Optimal', objective: 0, solveMs: 0, gridLimitKw: 50, siteKw: powerKw, energyCost: 0, peakKw: 11,
    vehicles: [{ vehicleId: v.vehicleId, known: v.known, chargePointId: 'CP1', connectorId: 1, transactionId: '7', arrivalAt: null, powerKw, targetKwh: 10, plannedKwh: 10, shortfallKwh: 0, departAt: v.departAt, priority: 1 }],
  };
  const [cmd] = txProfileCommands(snap, plan, 'plan-1');
  return { snap, payload: cmd!.payload as Record<string, unknown> };
};

const scheduleOf = (protocol: string, payload: Record<string, unknown>) =>
  protocol === 'ocpp1.6' ? (payload.csChargingProfiles as { chargingSchedule: { chargingRateUnit: string; chargingSchedulePeriod: unknown[] } }).chargingSchedule : (payload.chargingProfile as { chargingSchedule: { chargingRateUnit: string; chargingSchedulePeriod: unknown[] }[] }).chargingSchedule[0]!;

describe.each(['ocpp1.6', 'ocpp2.0.1'] as const)('a %s charger reporting one schedule period and watts only', (protocol) => {
  test('receives profiles in W with one period, valid against the official schema', () => {
    const { snap, payload } = profileFor(given(...depot(protocol), onePeriodWattsOnly[protocol]));
    expect(snap.chargers[0]).toMatchObject({ rateUnit: 'W', maxSchedulePeriods: 1 });
    const schedule = scheduleOf(protocol, payload);
    expect(schedule.chargingRateUnit).toBe('W');
    expect(schedule.chargingSchedulePeriod).toHaveLength(1);
    expect(valid(protocol, payload)).toBe(true);
  });

  test('without a report, the static configuration (A, 24 periods) stands', () => {
    const { payload } = profileFor(given(...depot(protocol)));
    const schedule = scheduleOf(protocol, payload);
    expect(schedule.chargingRateUnit).toBe('A');
    expect(schedule.chargingSchedulePeriod.length).toBeGreaterThan(1);
  });
});
