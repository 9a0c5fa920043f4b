import * as E from 'fp-ts/Either';
import { ChargingEvent } from '../../schemas/events';
import { TrackerInput } from '../../schemas/site-routed';
import { specFor } from '../runtime/spec';
import { defaultParams, evolve, initialTracker, publishedEvents, TrackerState } from './decide';
import { decideTracker, TrackerReceived } from './fold';
import { simulate, SimSession, SimVehicle } from './simulation';
import { TrackerStateCodec } from './store';

const spec = specFor({ initial: initialTracker, decide: decideTracker(), evolve });

type SimInput = ReturnType<typeof simulate>['inputs'][number];
const asTrackerInput = (i: SimInput): TrackerInput[] => (i.kind === 'event' || i.kind === 'reading' || i.kind === 'config' ? [i] : []);

/** Inputs as the tracker receives them from vehicle-tracker.by-site: one site, first read at in[0]@offset. */
const received = (inputs: readonly SimInput[], first = 0): TrackerReceived[] =>
  inputs.flatMap(asTrackerInput).map((input, i) => ({ from: 'bySite', key: 'DEPOT', value: { input, source: { topic: 'in', partition: 0, offset: first + i } }, source: { topic: 'vehicle-tracker.by-site', partition: 0, offset: first + i }, timestamp: 0 }));

const fold = (inputs: readonly SimInput[], state: TrackerState = initialTracker, first = 0) => {
  const o = spec.givenState(state).when(...received(inputs, first));
  return { state: o.state, events: publishedEvents(o.events) };
};

const min = 60_000;
const t0 = Date.UTC(2026, 4, 4, 17, 0);
const van = (vehicleId: string, extra: Partial<SimVehicle> = {}): SimVehicle => ({ vehicleId, capacityKwh: 60, socPct: 25, telematicsEveryMs: 2 * min, efficiency: 0.9, ...extra });
const matches = (events: ChargingEvent[]) =>
  events.filter((e) => e.body.type === 'VehicleMatched').map((e) => {
    const b = e.body as { sessionId: string; vehicleId: string; method: string; replacesVehicleId: string | null };
    return [b.sessionId, b.vehicleId, b.method, b.replacesVehicleId];
  });

describe('vehicle ↔ session matching', () => {
  it('given an id tag of a vehicle, then matched at once with confidence 1', () => {
    const sim = simulate({ vehicles: [van('V1', { idTags: ['RFID-1'] })], sessions: [{ vehicleId: 'V1', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 30_000, durationMs: 60 * min, powerW: 11_000, idTag: 'RFID-1' }], from: t0 - 30 * min, to: t0 + 90 * min });
    const { events } = fold(sim.inputs);
    expect(matches(events)).toEqual([['CP-A:1000', 'V1', 'idTag', null]]);
    expect(events.find((e) => e.body.type === 'VehicleMatched')!.body).toMatchObject({ confidence: 1 });
  });

  it('given three vehicles arriving minutes apart without id tags, then each session gets the right vehicle', () => {
    const sessions: SimSession[] = [
      { vehicleId: 'V2', chargePointId: 'CP-B', plugAt: t0 + 4 * min, startDelayMs: 30_000, durationMs: 60 * min, powerW: 11_000, idTag: 'FLEET' },
      { vehicleId: 'V1', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 40_000, durationMs: 60 * min, powerW: 11_000, idTag: 'FLEET' },
      { vehicleId: 'V3', chargePointId: 'CP-C', plugAt: t0 + 8 * min, startDelayMs: 50_000, durationMs: 60 * min, powerW: 11_000, idTag: 'FLEET' },
    ];
    const sim = simulate({ vehicles: [van('V1', { telematicsPhaseMs: 10_000 }), van('V2', { telematicsPhaseMs: 50_000 }), van('V3', { telematicsPhaseMs: 90_000 })], sessions, from: t0 - 30 * min, to: t0 + 90 * min });
    const { events } = fold(sim.inputs);
    expect(matches(events).sort()).toEqual([
      ['CP-A:1001', 'V1', 'telematics', null],
      ['CP-B:1000', 'V2', 'telematics', null],
      ['CP-C:1002', 'V3', 'telematics', null],
    ]);
  });

  it('given two identical vehicles plugged in seconds apart, charging alike, then both sessions stay unmatched', () => {
    const sessions: SimSession[] = [
      { vehicleId: 'V1', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 30_000, durationMs: 90 * min, powerW: 11_000, idTag: 'FLEET' },
      { vehicleId: 'V2', chargePointId: 'CP-B', plugAt: t0 + 20_000, startDelayMs: 30_000, durationMs: 90 * min, powerW: 11_000, idTag: 'FLEET' },
    ];
    const sim = simulate({ vehicles: [van('V1'), van('V2', { telematicsPhaseMs: 20_000 })], sessions, from: t0 - 30 * min, to: t0 + 120 * min });
    const { events } = fold(sim.inputs);
    expect(matches(events)).toEqual([]);
  });

  it('given two vehicles plugged in seconds apart at different powers, then energy consistency settles one and elimination the other', () => {
    const sessions: SimSession[] = [
      { vehicleId: 'V1', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 30_000, durationMs: 90 * min, powerW: 22_000, idTag: 'FLEET' },
      { vehicleId: 'V2', chargePointId: 'CP-B', plugAt: t0 + 20_000, startDelayMs: 30_000, durationMs: 90 * min, powerW: 7_400, idTag: 'FLEET' },
    ];
    const sim = simulate({ vehicles: [van('V1'), van('V2', { telematicsPhaseMs: 20_000 })], sessions, from: t0 - 30 * min, to: t0 + 120 * min });
    const { events } = fold(sim.inputs);
    const m = matches(events);
    expect(m.map((x) => x.slice(0, 2)).sort()).toEqual([
      ['CP-A:1000', 'V1'],
      ['CP-B:1001', 'V2'],
    ]);
    expect(m[0]![2]).toBe('energy');
  });

  it('given a telematics match that energy contradicts, then a correction event replaces it', () => {
    // V2's telematics claims the plug-in closest to CP-A's start, but CP-A's energy only fits V1's SoC rise.
    const sessions: SimSession[] = [{ vehicleId: 'V1', chargePointId: 'CP-A', plugAt: t0 + 4 * min, startDelayMs: 20_000, durationMs: 90 * min, powerW: 22_000, idTag: 'FLEET' }];
    const vehicles = [van('V1', { telematicsPhaseMs: 10_000 }), van('V2', { telematicsPhaseMs: 30_000 })];
    const sim = simulate({ vehicles, sessions, from: t0 - 30 * min, to: t0 + 120 * min });
    // V2 plugs in (elsewhere in the depot, on no charger we know) right when CP-A starts; V1's first plugged-in reading is late.
    const inputs = sim.inputs.map((i) => {
      if (i.kind !== 'reading') return i;
      const r = i.reading;
      if (r.vehicleId === 'V2' && r.readingAt >= t0 + 4 * min) return { ...i, reading: { ...r, pluggedIn: true, latitude: 52.5203 } };
      if (r.vehicleId === 'V1' && r.readingAt < t0 + 7 * min && r.readingAt >= t0 + 4 * min) return { ...i, reading: { ...r, pluggedIn: false, chargingState: 'NOT_CHARGING' } };
      return i;
    });
    const { events } = fold(inputs);
    expect(matches(events)).toEqual([
      ['CP-A:1000', 'V2', 'telematics', null],
      ['CP-A:1000', 'V1', 'energy', 'V2'],
    ]);
  });
});

describe('matching by id tag, whatever the interleaving of the input topics', () => {
  // The tracker reads charging.events, telematics.readings and fleet.config: across topics (and partitions) the order
  // it folds records in is arbitrary, live and during a restore.
  const isVehicleConfig = (i: ReturnType<typeof simulate>['inputs'][number]) => i.kind === 'config' && i.config.body.type === 'VehicleConfigured';
  /** The inputs with every VehicleConfigured moved to just after the record satisfying `after` (the config is late). */
  const configLate = (inputs: ReturnType<typeof simulate>['inputs'], after: (i: ReturnType<typeof simulate>['inputs'][number]) => boolean) => {
    const cfg = inputs.filter(isVehicleConfig);
    const rest = inputs.filter((i) => !isVehicleConfig(i));
    const at = rest.findIndex(after);
    return [...rest.slice(0, at + 1), ...cfg, ...rest.slice(at + 1)];
  };
  const started = (i: ReturnType<typeof simulate>['inputs'][number]) => i.kind === 'event' && i.event.body.type === 'SessionStarted';

  it('given a SessionStarted with an id tag folded before the VehicleConfigured that maps the tag, then the session is matched by id tag once the config arrives', () => {
    const sim = simulate({ vehicles: [van('V1', { idTags: ['RFID-1'] })], sessions: [{ vehicleId: 'V1', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 30_000, durationMs: 60 * min, powerW: 11_000, idTag: 'RFID-1' }], from: t0 - 30 * min, to: t0 + 90 * min });
    const { events } = fold(configLate(sim.inputs, started));
    expect(matches(events)).toEqual([['CP-A:1000', 'V1', 'idTag', null]]);
    expect(events.find((e) => e.body.type === 'VehicleMatched')!.body).toMatchObject({ confidence: 1 });
  });

  it('given four vehicles with id tags, then every session is matched by id tag, config folded before the sessions, after them, or after telematics matched them', () => {
    const vehicles = ['V1', 'V2', 'V3', 'V4'].map((v, i) => van(v, { idTags: [`RFID-${v}`], telematicsPhaseMs: i * 20_000 }));
    const sessions: SimSession[] = vehicles.map((v, i) => ({ vehicleId: v.vehicleId, chargePointId: `CP-${i}`, plugAt: t0 + i * 20_000, startDelayMs: 30_000, durationMs: 60 * min, powerW: 11_000, idTag: `RFID-${v.vehicleId}` }));
    const sim = simulate({ vehicles, sessions, from: t0 - 30 * min, to: t0 + 90 * min });
    const expected = sessions.map((s) => [s.vehicleId, 'idTag']).sort();
    const lastStart = sim.inputs.map(started).lastIndexOf(true);
    for (const inputs of [sim.inputs, configLate(sim.inputs, (i) => i === sim.inputs[lastStart]), configLate(sim.inputs, (i) => i.kind === 'reading' && i.reading.readingAt >= t0 + 30 * min)]) {
      const m = matches(fold(inputs).events);
      expect(m.map((x) => [x[1], x[2]]).sort()).toEqual(expected);
    }
  });

  it('given a session matched by telematics before its id tag was mapped, then the id tag match corrects it (replacesVehicleId)', () => {
    // V2's plug-in is the only one near CP-A's start, so telematics matches it; the driver's tag says V1.
    const sessions: SimSession[] = [{ vehicleId: 'V2', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 30_000, durationMs: 90 * min, powerW: 11_000, idTag: 'RFID-1' }];
    const sim = simulate({ vehicles: [van('V1', { idTags: ['RFID-1'] }), van('V2')], sessions, from: t0 - 30 * min, to: t0 + 120 * min });
    const { events, state } = fold(configLate(sim.inputs, (i) => i.kind === 'reading' && i.reading.readingAt >= t0 + 30 * min));
    expect(matches(events)).toEqual([
      ['CP-A:1000', 'V2', 'telematics', null],
      ['CP-A:1000', 'V1', 'idTag', 'V2'],
    ]);
    expect(state.sessions['CP-A:1000']).toMatchObject({ vehicleId: 'V1', method: 'idTag' });
  });

  it('given our own decisions coming back on charging.events, then they are no input: nothing is decided and the state stays', () => {
    const sessions: SimSession[] = [{ vehicleId: 'V2', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 30_000, durationMs: 90 * min, powerW: 11_000, idTag: 'RFID-1' }];
    const sim = simulate({ vehicles: [van('V1', { idTags: ['RFID-1'] }), van('V2')], sessions, from: t0 - 30 * min, to: t0 + 120 * min });
    const inputs = configLate(sim.inputs, (i) => i.kind === 'reading' && i.reading.readingAt >= t0 + 30 * min);
    const { state, events } = fold(inputs);
    expect(matches(events)).toEqual([
      ['CP-A:1000', 'V2', 'telematics', null],
      ['CP-A:1000', 'V1', 'idTag', 'V2'],
    ]);
    // The telematics match read back after the id-tag match was decided does not undo it (the old tracker needed a
    // guard for this: it folded its outputs twice, once deciding them and once reading them back).
    const echoed = spec.givenState(state).when(...received(events.map((event) => ({ kind: 'event', event }) as const), inputs.length));
    echoed.then([]);
    echoed.then({ state });
  });

  it('given a session started with a mapped id tag, then decide publishes one match and evolve applies it once', () => {
    const sim = simulate({ vehicles: [van('V1', { idTags: ['RFID-1'] })], sessions: [{ vehicleId: 'V1', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 30_000, durationMs: 60 * min, powerW: 11_000, idTag: 'RFID-1' }], from: t0 - 30 * min, to: t0 + 90 * min });
    const firstStart = sim.inputs.findIndex(started);
    const before = spec.givenInputs(received(sim.inputs.slice(0, firstStart)));
    const o = before.when(...received([sim.inputs[firstStart]!], firstStart));
    expect(o.events.map((f) => (f.kind === 'observed' ? `observed ${f.input.kind}` : `published ${f.event.body.type}`))).toEqual(['observed event', 'published VehicleMatched']);
    expect(o.events[1]).toMatchObject({ event: { eventId: `vt:in:0:${firstStart}:0`, chargePointId: 'CP-A', source: { topic: 'in', partition: 0, offset: firstStart } } });
    expect(o.state.sessions['CP-A:1000']).toMatchObject({ vehicleId: 'V1', method: 'idTag' });
    expect(o.state.vehicles['V1']).toMatchObject({ lastSessionCp: 'CP-A' });
  });
});

describe('SoC backup estimate', () => {
  it('tracks a simulated battery within 3 pp over a 2-hour telematics outage, and records the error when telematics returns', () => {
    const outage = { from: t0 + 30 * min, to: t0 + 150 * min };
    const sim = simulate({
      vehicles: [van('V1', { idTags: ['RFID-1'], telematicsEveryMs: 5 * min, outage, socPct: 10, capacityKwh: 77, efficiency: 0.9 })],
      sessions: [{ vehicleId: 'V1', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 30_000, durationMs: 170 * min, powerW: 11_000, idTag: 'RFID-1' }],
      from: t0 - 20 * min,
      to: t0 + 180 * min,
    });
    const { events } = fold(sim.inputs);
    const estimates = events.filter((e) => e.body.type === 'SocEstimated');
    expect(estimates.length).toBeGreaterThanOrEqual(20);
    for (const e of estimates) {
      const b = e.body as { socPct: number; uncertaintyPct: number; vehicleId: string };
      expect(e.occurredAt).toBeGreaterThan(outage.from + defaultParams.staleMs - 5 * min);
      expect(e.occurredAt).toBeLessThan(outage.to);
      expect(Math.abs(b.socPct - sim.trueSoc('V1', e.occurredAt))).toBeLessThan(3);
    }
    const first = estimates[0]!.body as { uncertaintyPct: number };
    const last = estimates[estimates.length - 1]!.body as { uncertaintyPct: number; socPct: number };
    expect(last.uncertaintyPct).toBeGreaterThan(first.uncertaintyPct);
    expect(last.socPct - sim.trueSoc('V1', estimates[estimates.length - 1]!.occurredAt)).not.toBe(0);
    const checks = events.filter((e) => e.body.type === 'SocEstimateChecked');
    expect(checks).toHaveLength(1);
    expect(checks[0]!.occurredAt).toBe(outage.to);
    expect(Math.abs((checks[0]!.body as { errorPct: number }).errorPct)).toBeLessThan(3);
  });

  it('given a charger that reports SoC, then no estimate during the outage', () => {
    const sim = simulate({
      vehicles: [van('V1', { idTags: ['RFID-1'], telematicsEveryMs: 5 * min, outage: { from: t0 + 30 * min, to: t0 + 150 * min } })],
      sessions: [{ vehicleId: 'V1', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 30_000, durationMs: 170 * min, powerW: 11_000, idTag: 'RFID-1', chargerSoc: true }],
      from: t0 - 20 * min,
      to: t0 + 180 * min,
    });
    expect(fold(sim.inputs).events.filter((e) => e.body.type === 'SocEstimated')).toEqual([]);
  });

  it('given the state the first half left (what the changelog holds, read back through its codec), when the second half arrives, then the decisions of one uninterrupted run', () => {
    const sim = simulate({ vehicles: [van('V1', { idTags: ['RFID-1'], telematicsEveryMs: 5 * min, outage: { from: t0 + 30 * min, to: t0 + 150 * min } })], sessions: [{ vehicleId: 'V1', chargePointId: 'CP-A', plugAt: t0, startDelayMs: 30_000, durationMs: 170 * min, powerW: 11_000, idTag: 'RFID-1' }], from: t0 - 20 * min, to: t0 + 180 * min });
    const half = Math.floor(sim.inputs.length / 2);
    const a = fold(sim.inputs.slice(0, half));
    const restored = TrackerStateCodec.decode(JSON.parse(JSON.stringify(a.state)));
    if (E.isLeft(restored)) throw new Error('the state does not read back');
    expect(restored.right).toEqual(a.state);
    const b = fold(sim.inputs.slice(half), restored.right, half);
    const all = fold(sim.inputs);
    expect([...a.events, ...b.events]).toEqual(all.events);
    expect(b.state).toEqual(all.state);
    expect(all.events.filter((e) => e.body.type === 'SocEstimated').length).toBeGreaterThan(0);
  });
});
