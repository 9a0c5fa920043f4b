import { ChargingEvent } from '../../schemas/events';
import { specFor } from '../runtime/spec';
import { ChargerFact, evolve, initialCharger, publishedEvents } from './decide';
import { decideNormalizer, NormalizerInput } from './fold';
import { OcppFrame } from './frame';
import { comparable, session16, session201, SessionScript } from './fixtures';
import { normalizeUnit, sample16, sample201 } from './units';

const spec = specFor({ initial: initialCharger, decide: decideNormalizer, evolve });

/** Frames as they arrive from ocpp.frames partition 0, numbered from `first`. */
const frames = (fs: readonly OcppFrame[], first = 0): NormalizerInput[] =>
  fs.map((f, i) => ({ from: 'frames', value: f, key: f.chargePointId, source: { topic: 'ocpp.frames', partition: 0, offset: first + i }, timestamp: f.receivedAt }));

const events = (facts: readonly ChargerFact[]): ChargingEvent[] => publishedEvents(facts);

const script: SessionScript = { chargePointId: 'CP-1', t0: Date.UTC(2026, 0, 5, 8), idTag: 'TAG-1', meterStartWh: 120_000, energyWh: 30_000, minutes: 60, socStartPct: 30 };

describe('normalizer decide', () => {
  it('given a CALL the gateway refused, or one that breaks the OCPP schema, then nothing changes', () => {
    const session = session16(script);
    const status = session.find((f) => f.kind === 'CALL' && f.action === 'StatusNotification')!;
    const before = spec.givenInputs(frames(session.slice(0, session.indexOf(status))));
    const payload: Record<string, unknown> = { ...(JSON.parse(status.payloadJson!) as Record<string, unknown>), status: 'Faulted', errorCode: 'GroundFailure' };
    const variant = (p: Record<string, unknown>, refusal: string | null): OcppFrame => ({ ...status, payloadJson: JSON.stringify(p), errorCode: refusal, errorDescription: refusal && 'refused by the gateway' });
    // Taken: the status change comes out (so the two cases below would show one).
    expect(events(before.when(...frames([variant(payload, null)])).events).map((e) => e.body)).toEqual([{ type: 'ConnectorStatusChanged', connectorId: 1, status: 'Faulted', errorCode: 'GroundFailure', info: null }]);
    const refused = before.when(...frames([variant(payload, 'OccurrenceConstraintViolation')]));
    refused.then([]);
    refused.then({ state: refused.before });
    const { connectorId: _missing, ...withoutConnector } = payload;
    const invalid = before.when(...frames([variant(withoutConnector, null)]));
    invalid.then([]);
    invalid.then({ state: invalid.before });
  });

  it('given a 1.6 session, when folded, then connection, boot, statuses, session, meter samples and SoC come out in order', () => {
    const folded = spec.given().when(...frames(session16(script)));
    const { state } = folded;
    const published = events(folded.events);
    const types = published.map((e) => e.body.type);
    expect(types.slice(0, 7)).toEqual(['ChargerConnected', 'ChargerBooted', 'ConnectorStatusChanged', 'ConnectorStatusChanged', 'TokenAuthorized', 'SessionStarted', 'ConnectorStatusChanged']);
    expect(types.slice(-4)).toEqual(['SessionEnded', 'ConnectorStatusChanged', 'ConnectorStatusChanged', 'ChargerDisconnected']);
    const started = published.find((e) => e.body.type === 'SessionStarted')!;
    expect(started.body).toEqual({ type: 'SessionStarted', sessionId: 'CP-1:4242', transactionId: '4242', connectorId: 1, idTag: 'TAG-1', meterStartWh: 120_000 });
    expect(started.occurredAt).toBe(script.t0 + 2000);
    const ended = published.find((e) => e.body.type === 'SessionEnded')!;
    expect(ended.body).toMatchObject({ sessionId: 'CP-1:4242', meterStopWh: 150_000, energyWh: 30_000, reason: 'EVDisconnected' });
    expect(published.filter((e) => e.body.type === 'MeterSampled')).toHaveLength(11);
    expect(published.filter((e) => e.body.type === 'ChargerReportedSoc')).toHaveLength(11);
    expect(published.filter((e) => e.body.type === 'HeartbeatReceived')).toHaveLength(5);
    expect(state.sessions).toEqual({});
    expect(new Set(published.map((e) => e.eventId)).size).toBe(published.length);
  });

  it('given the same session in 1.6 and 2.0.1, then the same event sequence (apart from ids and protocol)', () => {
    const a = events(spec.given().when(...frames(session16(script))).events);
    const b = events(spec.given().when(...frames(session201(script))).events);
    expect(b.map(comparable)).toEqual(a.map(comparable));
  });

  it('given kWh / kW units in either version, then Wh / W come out', () => {
    const a = events(spec.given().when(...frames(session16({ ...script, kilo: true }))).events);
    const b = events(spec.given().when(...frames(session201({ ...script, kilo: true }))).events);
    expect(b.map(comparable)).toEqual(a.map(comparable));
    const m = a.find((e) => e.body.type === 'MeterSampled')!.body as { samples: { measurand: string; unit: string; value: number }[] };
    expect(m.samples.find((s) => s.measurand === 'Energy.Active.Import.Register')).toMatchObject({ unit: 'Wh', value: 122_500 });
    expect(m.samples.find((s) => s.measurand === 'Power.Active.Import')).toMatchObject({ unit: 'W', value: 30_000 });
    expect(a.map(comparable)).toEqual(events(spec.given().when(...frames(session16(script))).events).map(comparable));
  });

  it('given StartTransaction whose answer has not come yet, then no session; after the CALLRESULT, the session', () => {
    const session = session16(script);
    const start = session.findIndex((f) => f.action === 'StartTransaction' && f.kind === 'CALL');
    const before = spec.given().when(...frames(session.slice(0, start + 1)));
    expect(events(before.events).some((e) => e.body.type === 'SessionStarted')).toBe(false);
    expect(Object.keys(before.state.pending)).toHaveLength(1);
    const after = spec.givenState(before.state).when(...frames([session[start + 1]!], start + 1));
    expect(events(after.events).map((e) => e.body.type)).toEqual(['SessionStarted']);
  });

  it('given a StopTransaction without meterStop samples known, then energy = meterStop - meterStart; a CALLERROR drops the pending call', () => {
    const session = session16({ ...script, minutes: 3 });
    expect(events(spec.given().when(...frames(session)).events).find((e) => e.body.type === 'SessionEnded')!.body).toMatchObject({ energyWh: 30_000 });
    const call = session.find((f) => f.action === 'StartTransaction' && f.kind === 'CALL')!;
    const err = spec.givenInputs(frames([call])).when(...frames([{ ...call, kind: 'CALLERROR', direction: 'OUT', payloadJson: null, errorCode: 'InternalError' }], 99));
    expect(err.before.pending).not.toEqual({});
    expect(err.state.pending).toEqual({});
    expect(events(err.events)).toEqual([]);
  });

  it('given a 2.0.1 NotifyEVChargingNeeds with DC SoC, then charging needs and charger SoC of the running session', () => {
    const session = session201(script);
    const started = session.findIndex((f) => f.action === 'TransactionEvent');
    const charging = spec.givenInputs(frames(session.slice(0, started + 2)));
    const f: OcppFrame = {
      ...session[started]!,
      action: 'NotifyEVChargingNeeds',
      payloadJson: JSON.stringify({ evseId: 1, chargingNeeds: { requestedEnergyTransfer: 'DC', departureTime: '2026-01-05T16:00:00Z', dcChargingParameters: { evMaxCurrent: 200, evMaxVoltage: 800, energyAmount: 40000, evMaxPower: 150000, stateOfCharge: 37 } } }),
    };
    const d = charging.when(...frames([f], 500));
    expect(events(d.events).map((e) => e.body)).toEqual([
      { type: 'EvChargingNeedsReported', connectorId: 1, energyAmountWh: 40000, departureTime: Date.UTC(2026, 0, 5, 16), evMaxPowerW: 150000 },
      { type: 'ChargerReportedSoc', sessionId: 'CP-1:b7c1e0f2', connectorId: 1, socPct: 37 },
    ]);
  });

  it('given the same status twice, then one ConnectorStatusChanged; a fault is always reported', () => {
    const f = session16(script).find((x) => x.action === 'StatusNotification' && x.kind === 'CALL')!;
    const once = spec.given().when(...frames([f, { ...f, seq: f.seq + 1 }])).events;
    expect(once).toHaveLength(1);
    const fault = { ...f, payloadJson: JSON.stringify({ connectorId: 1, errorCode: 'GroundFailure', status: 'Faulted', info: 'RCD' }) };
    expect(events(spec.given().when(...frames([f, fault])).events).map((e) => e.body)).toEqual([
      { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Available', errorCode: null, info: null },
      { type: 'ConnectorStatusChanged', connectorId: 1, status: 'Faulted', errorCode: 'GroundFailure', info: 'RCD' },
    ]);
  });
});

describe('units', () => {
  it('normalizes kWh, kW, kvarh, Celcius and 2.0.1 multipliers; defaults by measurand', () => {
    expect(normalizeUnit('Energy.Active.Import.Register', 'kWh', 1.5)).toEqual({ unit: 'Wh', value: 1500 });
    expect(normalizeUnit('Power.Active.Import', 'kW', 7.4)).toEqual({ unit: 'W', value: 7400 });
    expect(normalizeUnit('Energy.Reactive.Import.Register', 'kvarh', 2)).toEqual({ unit: 'varh', value: 2000 });
    expect(normalizeUnit('Temperature', 'Celcius', 31)).toEqual({ unit: 'Celsius', value: 31 });
    expect(sample16({ value: '12.5' })).toEqual({ measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: null, unit: 'Wh', value: 12.5 });
    expect(sample16({ value: 'abc' })).toBeUndefined();
    expect(sample16({ value: '1', format: 'SignedData' })).toBeUndefined();
    expect(sample201({ value: 7, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W', multiplier: 3 } })).toMatchObject({ unit: 'W', value: 7000 });
    expect(sample201({ value: 16, measurand: 'Current.Import', phase: 'L2' })).toMatchObject({ unit: 'A', phase: 'L2' });
  });
});
