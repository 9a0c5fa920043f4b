import { ChargingEvent, EventBody } from '../../schemas/events';
import { ConfigBody } from '../../schemas/fleet-config';
import { chargerStatusProjection, connectorStatusProjection } from '../../streams/projections/charger-status';
import { foldDocuments, ProjectionInput, TelematicsReading } from '../../streams/projections/projection';
import { meterValuesProjection, sessionsProjection } from '../../streams/projections/sessions';
import { vehicleStateProjection } from '../../streams/projections/vehicles';
import { DashboardState, evolveConfig, evolveEvent, evolveReading, initialDashboard, snapshot } from './model';
import { emptySeed, meterEvents, Seed, seedDashboard } from './seed';

/** Given what happened, when the dashboard is seeded from the projections' rows of it instead of folding it, then it
 *  shows the same chargers and vehicles. The rows are made by the projections' own folds, renamed as the seed query
 *  selects them. No broker, no database. */

const t0 = Date.parse('2026-03-02T18:00:00Z');
const since = t0 - 3600000;
let n = 0;
const ev = (cp: string, at: number, body: EventBody): ChargingEvent => ({ eventId: `e${String(n++).padStart(4, '0')}`, chargePointId: cp, occurredAt: at, source: null, body });
const cfg = (body: ConfigBody) => ({ eventId: `c${n++}`, at: t0, actor: 'test', body });
const w = (measurand: string, unit: string, value: number, phase: string | null = null) => ({ measurand, phase, location: null, context: null, unit, value });
const reading = (vehicleId: string, at: number, socPct: number): TelematicsReading => ({
  readingId: `r${n++}`, vehicleId, provider: 'p', providerReadingId: `${at}`, readingAt: at, receivedAt: at, socPct, rangeKm: null, odometerKm: null, latitude: null, longitude: null, chargingState: null, pluggedIn: true, batteryCapacityKwh: null, etaAt: null,
});

const configure = (s: DashboardState) => {
  evolveConfig(s, cfg({ type: 'SiteConfigured', siteId: 'S1', name: 'Depot', gridLimitKw: 40, latitude: 0, longitude: 0, timezone: 'UTC' }));
  for (const cp of ['CP1', 'CP2', 'CP3']) evolveConfig(s, cfg({ type: 'ChargerConfigured', chargePointId: cp, siteId: 'S1', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 }));
  for (const v of ['EV1', 'EV2']) evolveConfig(s, cfg({ type: 'VehicleConfigured', vehicleId: v, batteryCapacityKwh: 60, maxAcPowerKw: 11, maxDcPowerKw: 50, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId: 'S1' }));
  return s;
};

const history: (ChargingEvent | TelematicsReading)[] = [
  ev('CP1', t0, { type: 'ChargerConnected', protocol: 'ocpp1.6', gatewayId: 'g' }),
  ev('CP1', t0 + 1, { type: 'ConnectorStatusChanged', connectorId: 0, status: 'Available', errorCode: null, info: null }),
  ev('CP1', t0 + 2, { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Charging', errorCode: null, info: null }),
  ev('CP1', t0 + 3, { type: 'SessionStarted', sessionId: 'CP1:1', transactionId: '1', connectorId: 1, idTag: 'T', meterStartWh: 0 }),
  ev('CP1', t0 + 3, { type: 'VehicleMatched', sessionId: 'CP1:1', vehicleId: 'EV1', confidence: 1, method: 'idTag', replacesVehicleId: null }),
  ev('CP1', t0 + 10000, { type: 'MeterSampled', sessionId: 'CP1:1', connectorId: 1, samples: [w('Power.Active.Import', 'W', 7000), w('Energy.Active.Import.Register', 'Wh', 100), w('SoC', 'Percent', 40)] }),
  reading('EV1', t0 + 15000, 42),
  ev('CP1', t0 + 20000, { type: 'MeterSampled', sessionId: 'CP1:1', connectorId: 1, samples: [w('Power.Active.Import', 'W', 7400), w('Energy.Active.Import.Register', 'Wh', 141)] }),
  ev('CP1', t0 + 25000, { type: 'ChargerReportedSoc', sessionId: 'CP1:1', connectorId: 1, socPct: 44 }),
  // Three phases and no total: the power is their sum; then the session ends after the sample.
  ev('CP2', t0, { type: 'ChargerBooted', protocol: 'ocpp2.0.1', vendor: 'V', model: 'M', serialNumber: null, firmwareVersion: null, accepted: true, heartbeatIntervalS: 60 }),
  ev('CP2', t0 + 1, { type: 'SessionStarted', sessionId: 'CP2:9', transactionId: '9', connectorId: 1, idTag: null, meterStartWh: 0 }),
  ev('CP2', t0 + 1, { type: 'VehicleMatched', sessionId: 'CP2:9', vehicleId: 'EV2', confidence: 0.8, method: 'telematics', replacesVehicleId: null }),
  ev('CP2', t0 + 10000, { type: 'MeterSampled', sessionId: 'CP2:9', connectorId: 1, samples: ['L1', 'L2', 'L3'].map((p) => w('Power.Active.Import', 'kW', 3.7, p)) }),
  ev('CP2', t0 + 11000, { type: 'SessionEnded', sessionId: 'CP2:9', transactionId: '9', connectorId: 1, meterStopWh: 500, energyWh: 500, reason: 'EVDisconnected' }),
  ev('CP2', t0 + 12000, { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Available', errorCode: null, info: null }),
  ev('CP2', t0 + 30000, { type: 'SocEstimated', vehicleId: 'EV2', sessionId: 'CP2:9', socPct: 61, uncertaintyPct: 2.25, baseSocPct: 50, baseAt: t0, deliveredWhSinceBase: 500 }),
  ev('CP3', t0 + 5000, { type: 'ChargerDisconnected', gatewayId: 'g', reason: 'bye' }),
];

const isReading = (x: ChargingEvent | TelematicsReading): x is TelematicsReading => 'readingId' in x;
const inputs: ProjectionInput[] = history.map((x) => (isReading(x) ? { kind: 'reading', reading: x } : { kind: 'event', event: x }));

/** What the seed query selects, from the projections' rows. */
const seedOf = (given: readonly ProjectionInput[]): Seed => {
  const rows = (p: Parameters<typeof foldDocuments>[0]) => [...foldDocuments(p, given).values()];
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const meters = given.flatMap(meterValuesProjection.rows).map((r) => ({ chargePointId: String(r.charge_point_id), eventId: String(r.event_id), at: Number(r.at), measurand: String(r.measurand), phase: (r.phase as string | null) ?? null, unit: String(r.unit), value: Number(r.value) }));
  const sessions = rows(sessionsProjection).map((r) => ({ sessionId: String(r.session_id), chargePointId: String(r.charge_point_id), vehicleId: (r.vehicle_id as string | null) ?? null, startedAt: Number(r.started_at), endedAt: num(r.ended_at), chargerSocPct: num(r.charger_soc_pct), chargerSocAt: num(r.charger_soc_at) }));
  return {
    ...emptySeed,
    chargers: rows(chargerStatusProjection).map((r) => ({
      chargePointId: String(r.charge_point_id), online: r.online as boolean, protocol: (r.protocol as string | null) ?? null, lastSeenAt: Number(r.last_seen_at),
      meterAt: meters.filter((m) => m.chargePointId === r.charge_point_id).reduce<number | null>((at, m) => Math.max(at ?? -Infinity, m.at), null),
    })),
    connectors: rows(connectorStatusProjection).map((r) => ({ chargePointId: String(r.charge_point_id), connectorId: Number(r.connector_id), status: String(r.status), since: Number(r.since), sessionId: (r.session_id as string | null) ?? null })),
    sessions,
    meters,
    vehicleSoc: rows(vehicleStateProjection).map((r) => ({ vehicleId: String(r.vehicle_id), telematicsSocPct: num(r.telematics_soc_pct), telematicsAt: num(r.telematics_at), estimateSocPct: num(r.estimate_soc_pct), estimateUncertaintyPct: num(r.estimate_uncertainty_pct), estimateAt: num(r.estimate_at) })),
    actual: sessions.flatMap((x) => (x.vehicleId ? meters.filter((m) => m.chargePointId === x.chargePointId && m.measurand === 'Power.Active.Import' && m.at >= x.startedAt && m.at <= (x.endedAt ?? Infinity)).map((m) => ({ ...m, vehicleId: x.vehicleId! })) : [])),
  };
};

const folded = () => {
  const s = configure(initialDashboard());
  for (const x of history) {
    if (isReading(x)) evolveReading(s, x);
    else evolveEvent(s, x);
  }
  return s;
};

const shown = (s: DashboardState) => {
  const snap = snapshot(s, t0 + 60000, 'S1');
  return { chargers: snap.chargers, vehicles: snap.vehicles, lastEventAt: s.lastEventAt, sessions: [...s.sessions] };
};

describe('dashboard seed from the projections', () => {
  it('given the history, when seeded from its projection rows, then the chargers and vehicles shown are those of folding it', () => {
    const seeded = seedDashboard(configure(initialDashboard()), seedOf(inputs), since);
    expect(shown(seeded)).toEqual(shown(folded()));
  });

  it('given a seed, when the events after its offsets are folded, then the same as folding everything', () => {
    const cut = 8;
    const seeded = seedDashboard(configure(initialDashboard()), seedOf(inputs.slice(0, cut)), since);
    for (const x of history.slice(cut)) {
      if (isReading(x)) evolveReading(seeded, x);
      else evolveEvent(seeded, x);
    }
    expect(shown(seeded)).toEqual(shown(folded()));
  });

  it('a MeterSampled event cut off by the row limit is dropped, the others kept newest first', () => {
    const row = (eventId: string, at: number, phase: string) => ({ chargePointId: 'CP', eventId, at, measurand: 'Power.Active.Import', phase, unit: 'W', value: 1 });
    const events = meterEvents([row('b', 2, 'L1'), row('b', 2, 'L2'), row('a', 1, 'L1')], 3);
    expect(events.map((e) => [e.at, e.samples.length])).toEqual([[2, 2]]);
  });

  it('a profile is the latest SetChargingProfile command with the status of the answer', () => {
    const payload = { connectorId: 1, csChargingProfiles: { chargingProfilePurpose: 'TxProfile', chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] } } };
    const s = seedDashboard(initialDashboard(), { ...emptySeed, profiles: [{ chargePointId: 'CP1', payload, issuedAt: t0, outcome: 'ACCEPTED', status: 'Accepted' }] }, since);
    expect(s.chargers.get('CP1')!.profile).toEqual({ limit: 16, unit: 'A', purpose: 'TxProfile', at: t0, status: 'Accepted', uniqueId: null });
  });
});
