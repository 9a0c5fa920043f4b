import { ChargingEvent } from '../../../schemas/events';
import { ConfigBody } from '../../../schemas/fleet-config';
import { specFor } from '../../runtime/spec';
import { foldDocuments, ProjectionInput, TelematicsReading } from '../projection';
import { decide, evolve, HistoryFact, initial, MAX_OBSERVATIONS, VehicleHistory, WINDOW_MS } from './fold';
import { historyOfRow, vehicleForecastHistoryProjection } from './projection';

const spec = specFor<VehicleHistory, ProjectionInput, HistoryFact>({ initial, decide, evolve });

const min = 60_000;
const day = 24 * 60 * min;
const T0 = Date.UTC(2026, 10, 2, 16, 0); // Monday 2026-11-02 16:00 UTC

let n = 0;
const matched = (at: number, sessionId: string, vehicleId = 'V1'): ProjectionInput => ({
  kind: 'event',
  event: { eventId: `e:${n++}`, chargePointId: 'CP-1', occurredAt: at, source: null, body: { type: 'VehicleMatched', sessionId, vehicleId, confidence: 1, method: 'idTag', replacesVehicleId: null } } as ChargingEvent,
});
const reading = (at: number, r: Partial<TelematicsReading> = {}): ProjectionInput => ({
  kind: 'reading',
  reading: { readingId: `r:${at}`, vehicleId: 'V1', provider: 'p', providerReadingId: `${at}`, readingAt: at, receivedAt: at + 1, socPct: null, rangeKm: null, odometerKm: null, latitude: null, longitude: null, chargingState: null, pluggedIn: null, batteryCapacityKwh: null, etaAt: null, ...r },
});
const config = (at: number, body: ConfigBody): ProjectionInput => ({ kind: 'config', config: { eventId: `c:${at}`, at, actor: 'test', body } });
const departure = (at: number, departureId: string, departAt: number, requiredSocPct = 80): ProjectionInput =>
  config(at, { type: 'DepartureScheduled', departureId, vehicleId: 'V1', departAt, requiredSocPct, requiredEnergyKwh: null, routeKm: null, priority: 1 });
const vehicle = (at: number): ProjectionInput =>
  config(at, { type: 'VehicleConfigured', vehicleId: 'V1', batteryCapacityKwh: 80, maxAcPowerKw: 11, maxDcPowerKw: 100, consumptionKwhPerKm: 0.2, idTags: ['T1'], telematicsProvider: 'p', providerVehicleId: 'x', siteId: 'north' });

describe('vehicle forecast history: given / when / then', () => {
  it('given the vehicle away, when telematics says plugged in, then a telematics arrival with the SoC of that reading', () => {
    spec
      .givenInputs([reading(T0 - 30 * min, { pluggedIn: false, socPct: 35 })])
      .when(reading(T0, { pluggedIn: true, socPct: 31 }))
      .then([
        { type: 'Arrived', observation: { id: `r:${T0}`, at: T0, source: 'telematics', socPct: 31 } },
        { type: 'PlugStateSeen', at: T0, pluggedIn: true },
        { type: 'SocSeen', at: T0, socPct: 31 },
      ]);
  });

  it('given a reading with SoC 20 minutes before, when the plug-in reading has none, then the arrival takes the earlier SoC', () => {
    const out = spec.givenInputs([reading(T0 - 20 * min, { pluggedIn: false, socPct: 28 })]).when(reading(T0, { pluggedIn: true }));
    expect(out.state.arrivals).toEqual([{ id: `r:${T0}`, at: T0, source: 'telematics', socPct: 28 }]);
  });

  it('given no earlier reading, when the first reading says plugged in, then no arrival (the switch was not seen)', () => {
    spec.given([]).when(reading(T0, { pluggedIn: true, socPct: 50 })).then([{ type: 'PlugStateSeen', at: T0, pluggedIn: true }, { type: 'SocSeen', at: T0, socPct: 50 }]);
  });

  it('given the vehicle plugged in, when it unplugs, then an unplugged departure; a late older reading changes nothing', () => {
    const out = spec.givenInputs([reading(T0, { pluggedIn: true })]).when(reading(T0 + 12 * 60 * min, { pluggedIn: false, socPct: 90 }), reading(T0 + 60 * min, { pluggedIn: false }));
    expect(out.state.departures).toEqual([{ id: `r:${T0 + 12 * 60 * min}`, at: T0 + 12 * 60 * min, source: 'unplugged', recordedAt: T0 + 12 * 60 * min, requiredSocPct: null, requiredEnergyKwh: null }]);
    expect(out.state).toMatchObject({ pluggedIn: false, pluggedAt: T0 + 12 * 60 * min, lastSocPct: 90 });
  });

  it('when a session is matched to the vehicle, then a session arrival at the match time; a second match of it keeps the earliest', () => {
    spec.given([]).when(matched(T0, 'CP-1:7')).then([{ type: 'Arrived', observation: { id: 'CP-1:7', at: T0, source: 'session', socPct: null } }]);
    expect(spec.given([]).when(matched(T0 + 5 * min, 'CP-1:7'), matched(T0, 'CP-1:7'), matched(T0 + 9 * min, 'CP-1:7')).state.arrivals).toEqual([{ id: 'CP-1:7', at: T0, source: 'session', socPct: null }]);
  });

  it('when departures are scheduled, then scheduled departures with their need; a reschedule of the same id replaces it', () => {
    const out = spec.given([]).when(departure(T0, 'D1', T0 + 15 * 60 * min), departure(T0 + min, 'D1', T0 + 16 * 60 * min, 90), departure(T0 + 2 * min, 'D0', T0 - day));
    expect(out.state.departures).toEqual([
      { id: 'D0', at: T0 - day, source: 'scheduled', recordedAt: T0 + 2 * min, requiredSocPct: 80, requiredEnergyKwh: null },
      { id: 'D1', at: T0 + 16 * 60 * min, source: 'scheduled', recordedAt: T0 + min, requiredSocPct: 90, requiredEnergyKwh: null },
    ]);
  });

  it('given a reading a minute ago, when the next says the same with another SoC and an ETA a minute later, then nothing changes (no write)', () => {
    spec
      .givenInputs([reading(T0 - min, { pluggedIn: false, socPct: 50, etaAt: T0 + 60 * min })])
      .when(reading(T0, { pluggedIn: false, socPct: 49, etaAt: T0 + 61 * min }))
      .then([]);
    spec
      .givenInputs([reading(T0 - min, { pluggedIn: false, socPct: 50, etaAt: T0 + 60 * min })])
      .when(reading(T0 + 15 * min, { pluggedIn: false, socPct: 45, etaAt: T0 + 80 * min }))
      .then([{ type: 'SocSeen', at: T0 + 15 * min, socPct: 45 }, { type: 'EtaSeen', at: T0 + 15 * min, etaAt: T0 + 80 * min }]);
  });

  it('when the vehicle is configured, then its site and battery; an ETA is kept until a later reading has none', () => {
    const out = spec.given([]).when(vehicle(T0), reading(T0, { pluggedIn: false, etaAt: T0 + 40 * min }));
    expect(out.state).toMatchObject({ siteId: 'north', batteryCapacityKwh: 80, etaAt: T0 + 40 * min });
    expect(spec.givenState(out.state).when(reading(T0 + min, { pluggedIn: true })).state.etaAt).toBeNull();
  });

  it('as days pass, observations older than the window before the newest are dropped, and at most MAX_OBSERVATIONS are kept', () => {
    const old = spec.given([]).when(matched(T0, 'old'), matched(T0 + WINDOW_MS + day, 'new'));
    expect(old.state.arrivals.map((a) => a.id)).toEqual(['new']);
    // A departure scheduled far ahead counts from when it was scheduled: the history stays.
    const ahead = spec.given([]).when(matched(T0, 'old'), departure(T0 + min, 'D9', T0 + 3 * WINDOW_MS));
    expect(ahead.state.arrivals.map((a) => a.id)).toEqual(['old']);
    const many = Array.from({ length: MAX_OBSERVATIONS + 10 }, (_, k) => matched(T0 + k * 60 * min, `s${k}`));
    const kept = spec.given([]).when(...many).state.arrivals;
    expect(kept).toHaveLength(MAX_OBSERVATIONS);
    expect(kept[0]!.id).toBe('s10');
  });

  it('the same state whatever the interleaving of the topics (readings in their own order)', () => {
    const readings = [reading(T0 - 10 * min, { pluggedIn: false, socPct: 40 }), reading(T0, { pluggedIn: true, socPct: 39 }), reading(T0 + 14 * 60 * min, { pluggedIn: false, socPct: 95 })];
    const others = [vehicle(T0 - day), matched(T0 + 2 * min, 'CP-1:1'), departure(T0 + 3 * min, 'D1', T0 + 14 * 60 * min), matched(T0 - WINDOW_MS - day, 'ancient')];
    const a = spec.given([]).when(...readings, ...others).state;
    const b = spec.given([]).when(...others, ...readings).state;
    const c = spec.given([]).when(others[0]!, readings[0]!, others[3]!, readings[1]!, others[1]!, others[2]!, readings[2]!).state;
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(a.arrivals.map((x) => x.id)).toEqual([`r:${T0}`, 'CP-1:1']);
  });
});

describe('vehicle_forecast_history projection (the fold as rows)', () => {
  it('keys every input by its vehicle, ignores the rest, and a row read back folds on', () => {
    const inputs = [vehicle(T0), reading(T0, { pluggedIn: false }), reading(T0 + 60 * min, { pluggedIn: true, socPct: 20 }), matched(T0 + 61 * min, 'CP-1:2'), { kind: 'event', event: { eventId: 'hb', chargePointId: 'CP-1', occurredAt: T0, source: null, body: { type: 'HeartbeatReceived' } } } as ProjectionInput];
    const rows = foldDocuments(vehicleForecastHistoryProjection, inputs);
    expect([...rows.keys()]).toEqual(['["V1"]']);
    const row = rows.get('["V1"]')!;
    expect(row).toMatchObject({ vehicle_id: 'V1', site_id: 'north', battery_capacity_kwh: 80, plugged_in: true, last_soc_pct: 20 });
    expect(historyOfRow(row).arrivals.map((a) => a.source)).toEqual(['telematics', 'session']);
    expect(vehicleForecastHistoryProjection.evolve(row, matched(T0, 'x', 'V1'))).not.toBe(row);
    expect(vehicleForecastHistoryProjection.evolve(row, reading(T0 - min, { pluggedIn: false }))).toBe(row);
  });
});
