import { EventBody } from '../../schemas/events';
import { ConfigBody } from '../../schemas/fleet-config';
import { SiteMeterReading } from '../../schemas/site-meter-record';
import { isBlind, plannedBaseLoadKw } from './building-load';
import { defaultOptimizerConfig } from './config';
import { replanReason } from './replan';
import { snapshotOf } from './site-snapshot';
import { evolve, FleetState, initial, Input } from './state';

/** The site's limits as the optimizer's fold keeps them (issue 17): given inputs / when input / then snapshot or
 *  re-plan reason. No broker. */
const T = Date.UTC(2026, 0, 5, 8, 0); // 09:00 in Berlin
const MIN = 60000;
const cfg = defaultOptimizerConfig;

const config = (body: ConfigBody, at = T): Input => ({ kind: 'config', event: { eventId: `c${at}${body.type}`, at, actor: 't', body } });
const event = (cp: string, body: EventBody, at = T): Input => ({ kind: 'event', event: { eventId: `e${at}${body.type}`, chargePointId: cp, occurredAt: at, source: null, body } });
const reading = (importKw: number, at: number): Input => ({
  kind: 'meter',
  reading: { readingId: `r${at}`, siteId: 'S', meterId: 'main', role: 'connection', panelId: null, measuredAt: at, receivedAt: at, importKw, l1A: null, l2A: null, l3A: null, voltageV: null, source: 'push' } satisfies SiteMeterReading,
});
const given = (...inputs: Input[]): FleetState => inputs.reduce(evolve, initial);
const noPlan = () => undefined;

const site: ConfigBody = { type: 'SiteConfigured', siteId: 'S', name: 's', gridLimitKw: 60, latitude: 0, longitude: 0, timezone: 'Europe/Berlin', maxCurrentA: 100, baseLoadProfile: [] };
const depot: Input[] = [
  config(site),
  config({ type: 'PanelConfigured', siteId: 'S', panelId: 'feeder', name: 'Feeder', parentPanelId: null, limitKw: 30, maxCurrentA: 40 }),
  config({ type: 'ChargerConfigured', chargePointId: 'CP1', siteId: 'S', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24, panelId: 'feeder', maxCurrentA: 32, phaseRotation: 'STR', phaseSwitching: true }),
  config({ type: 'VehicleConfigured', vehicleId: 'V1', batteryCapacityKwh: 60, maxAcPowerKw: 7.4, maxDcPowerKw: 50, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId: 'S', acPhases: 1 }),
  event('CP1', { type: 'ChargerConnected', protocol: 'ocpp2.0.1', gatewayId: 'g' }),
  event('CP1', { type: 'SessionStarted', sessionId: 'S1', transactionId: 'tx1', connectorId: 1, idTag: null, meterStartWh: 0 }),
  event('CP1', { type: 'VehicleMatched', sessionId: 'S1', vehicleId: 'V1', confidence: 1, method: 'idTag', replacesVehicleId: null }),
];

describe('the site hierarchy and phases in the fold', () => {
  test('given a panel, a charger on it and a one-phase vehicle, then the snapshot carries them', () => {
    const snap = snapshotOf(given(...depot), 'S', T + MIN, cfg)!;
    expect(snap.maxCurrentA).toBe(100);
    expect(snap.panels).toEqual([{ panelId: 'feeder', limitKw: 30, parentPanelId: null, maxCurrentA: 40 }]);
    expect(snap.chargers[0]).toMatchObject({ panelId: 'feeder', maxCurrentA: 32, phaseRotation: 'STR', phaseSwitching: true });
    expect(snap.vehicles[0]).toMatchObject({ vehicleId: 'V1', acPhases: 1 });
  });

  test('a panel written re-plans its site', () => {
    const before = given(...depot);
    const panel = config({ type: 'PanelConfigured', siteId: 'S', panelId: 'feeder', name: 'Feeder', parentPanelId: null, limitKw: 20, maxCurrentA: null }, T + MIN);
    expect(replanReason(before, evolve(before, panel), panel, noPlan)).toBe('panel');
  });
});

describe('external limits in the fold', () => {
  test('given a demand-response event, when it is scheduled, then the snapshot has it and the site re-plans; when cancelled, it is gone', () => {
    const s0 = given(...depot);
    const dr = config({ type: 'LimitEventScheduled', siteId: 'S', limitEventId: 'L1', startAt: T + 60 * MIN, endAt: T + 120 * MIN, limitKw: 25, source: 'api', reference: null }, T + MIN);
    const s1 = evolve(s0, dr);
    expect(replanReason(s0, s1, dr, noPlan)).toBe('limit-event');
    expect(snapshotOf(s1, 'S', T + 2 * MIN, cfg)!.limitEvents).toEqual([{ from: T + 60 * MIN, to: T + 120 * MIN, limitKw: 25, source: 'api' }]);
    // Over by the time it ended, it no longer matters.
    expect(snapshotOf(s1, 'S', T + 121 * MIN, cfg)!.limitEvents).toEqual([]);
    const cancel = config({ type: 'LimitEventCancelled', siteId: 'S', limitEventId: 'L1' }, T + 3 * MIN);
    const s2 = evolve(s1, cancel);
    expect(replanReason(s1, s2, cancel, noPlan)).toBe('limit-event');
    expect(snapshotOf(s2, 'S', T + 4 * MIN, cfg)!.limitEvents).toEqual([]);
  });

  test("given an EMS's NotifyChargingLimit in A, then the charger's limit is in kW for its periods; ClearedChargingLimit removes it; our own (CSO) is ignored", () => {
    const s0 = given(...depot);
    const notify = event('CP1', {
      type: 'ExternalLimitReported',
      evseId: 0,
      source: 'EMS',
      isGridCritical: null,
      schedules: [{ startAt: T, durationS: 3600, unit: 'A', periods: [{ startS: 0, limit: 16, numberPhases: null }, { startS: 1800, limit: 10, numberPhases: 1 }] }],
    }, T + MIN);
    const s1 = evolve(s0, notify);
    expect(replanReason(s0, s1, notify, noPlan)).toBe('external-limit');
    expect(snapshotOf(s1, 'S', T + 2 * MIN, cfg)!.chargers[0]!.externalLimits).toEqual([
      { from: T, to: T + 30 * MIN, limitKw: 11.04, source: 'EMS' },
      { from: T + 30 * MIN, to: T + 60 * MIN, limitKw: 2.3, source: 'EMS' },
    ]);
    const own = event('CP1', { type: 'ExternalLimitReported', evseId: 0, source: 'CSO', isGridCritical: null, schedules: [{ startAt: T, durationS: null, unit: 'W', periods: [{ startS: 0, limit: 1000, numberPhases: null }] }] }, T + 2 * MIN);
    expect(evolve(s1, own)).toBe(s1);
    const cleared = event('CP1', { type: 'ExternalLimitCleared', evseId: 0, source: 'EMS' }, T + 3 * MIN);
    const s2 = evolve(s1, cleared);
    expect(replanReason(s1, s2, cleared, noPlan)).toBe('external-limit');
    expect(snapshotOf(s2, 'S', T + 4 * MIN, cfg)!.chargers[0]!.externalLimits).toEqual([]);
  });
});

describe('the building load in the fold', () => {
  const charging = event('CP1', { type: 'MeterSampled', sessionId: 'S1', connectorId: 1, samples: [{ measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: 7000 }] }, T + MIN);

  test('given connection readings, then the building is the connection less our chargers, planned on in slot 0 while the meter speaks', () => {
    const s = given(...depot, charging, reading(27, T + 2 * MIN), reading(25, T + 3 * MIN));
    const snap = snapshotOf(s, 'S', T + 4 * MIN, cfg)!;
    expect(snap.buildingLoad).toMatchObject({ measuredKw: 18, measuredAt: T + 3 * MIN, recentPeakKw: 20 });
    expect(isBlind(snap)).toBe(false);
    // A short history: the forecast is its recent peak of 15-minute means (19), above the meter now (18).
    expect(plannedBaseLoadKw(snap, 1)[0]).toBe(19);
  });

  test('given the meter silent for longer than OPTIMIZER_METER_BLIND_MINUTES, then the plan is blind', () => {
    const s = given(...depot, charging, reading(27, T + 2 * MIN));
    expect(isBlind(snapshotOf(s, 'S', T + 2 * MIN + cfg.meterBlindMinutes * MIN + 1, cfg)!)).toBe(true);
  });

  test('a building load jump of more than 5 % of the connection limit re-plans, a small change does not; the meter back after a silence does', () => {
    const s = given(...depot, charging, reading(27, T + 2 * MIN));
    const small = reading(28, T + 3 * MIN);
    expect(replanReason(s, evolve(s, small), small, noPlan)).toBeNull();
    const jump = reading(35, T + 3 * MIN);
    expect(replanReason(s, evolve(s, jump), jump, noPlan)).toBe('building');
    const back = reading(27, T + 20 * MIN);
    expect(replanReason(s, evolve(s, back), back, noPlan)).toBe('meter-back');
  });

  test('a ramp of small steps re-plans once the building is 5 % of the connection limit above what the plan counted; a fall does not', () => {
    // The chargers draw 7 kW: the building is 20, 21, 22 kW, then 23 (a step of 1 kW; 5 % of the 60 kW limit is 3 kW).
    const s = given(...depot, charging, reading(27, T + 2 * MIN), reading(28, T + 3 * MIN), reading(29, T + 4 * MIN));
    const plannedAt = (kw: number) => () => kw;
    const step = reading(30, T + 5 * MIN);
    expect(replanReason(s, evolve(s, step), step, noPlan, plannedAt(20))).toBeNull();
    expect(replanReason(s, evolve(s, step), step, noPlan, plannedAt(19))).toBe('building');
    expect(replanReason(s, evolve(s, step), step, noPlan)).toBeNull();
    const fall = reading(28, T + 5 * MIN);
    expect(replanReason(s, evolve(s, fall), fall, noPlan, plannedAt(19))).toBeNull();
  });

  test('without a meter, a configured daily pattern is the stand-in, planned on at its upper values (never measured: blind)', () => {
    const withProfile: ConfigBody = { ...site, baseLoadProfile: [{ from: '00:00', to: '08:00', kw: 5, upperKw: 8 }, { from: '08:00', to: '24:00', kw: 20, upperKw: 26 }] };
    const snap = snapshotOf(given(...depot, config(withProfile)), 'S', T - 75 * MIN, cfg)!; // 07:45 Berlin
    expect(snap.buildingLoad!.expectedKw.slice(0, 2)).toEqual([20, 20]);
    expect(isBlind(snap)).toBe(true);
    expect([...plannedBaseLoadKw(snap, 2)]).toEqual([26, 26]);
    expect(snap.buildingLoad!.recentPeakKw).toBe(26);
  });
});
