import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLogger } from '../../services/common/log';
import { Topics } from '../../schemas/topics';
import { percentile } from '../bench/benchmark';
import { uniq } from '../support/stack';
import { artifactsDir } from './support/browser';
import { DayRun, departureOutcomes, feasibility, startDay } from './support/day';
import { readWholeTopic } from './support/log';
import { FrameRecord, meteredKw, sumKw } from './support/metered';
import { startSystem, System } from './support/system';

/** An accelerated depot day end to end: every service in one process on a private broker, a simulated depot of
 *  4 chargers (OCPP 1.6J and 2.0.1, one DC) and 4 vehicles configured through the API, a compressed 8-minute day
 *  (arrivals from 16:00, departures 05:30-08:00, late returns and early departures), telematics through the ingest
 *  API with delays and an outage, the optimizer planning in 1-minute slots (a compressed day's 3 hours). */
jest.setTimeout(900000);

const DAY_MINUTES = 8;
const canonical = (x: unknown): string =>
  JSON.stringify(x, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v));

describe('an accelerated depot day', () => {
  let sys: System;
  let run: DayRun;
  let outcome: { vehicleId: string; feasible: boolean; leftWithSocPct: number; requiredSocPct: number }[] | undefined;
  const log = createLogger('e2e-day', 'warn');
  beforeAll(async () => {
    // The day runs compressed (~180x): batteries charge as fast in wall time as the ingest's impossible-jump rule
    // (SoC rising faster than 300 %/h) forbids, so that rule is off here; every other check of the ingest stays on.
    // Every service runs in this one process here, so its event loop stalls for seconds at times, which a deployment
    // (a process per service) does not see; with the default 10 s instance lease the gateway then refused frames for
    // lack of a timely renewal (CI, 2026-12-07), and a charger it refused was at full power at one metered instant.
    // Nothing is killed in this test, so a longer lease costs nothing here.
    sys = await startSystem({ env: { OPTIMIZER_SLOT_MINUTES: '1', TELEMATICS_JUMP_CHECKS: '0', OCPP_LEASE_TTL_MS: '30000' } });
  });
  afterAll(async () => {
    await run?.sim.stop();
    await sys?.stop();
  });

  test('no grid-limit violation at any metered instant, every frame and reading in the log', async () => {
    expect(sys.failed).toEqual([]);
    const t0 = Date.now();
    run = await startDay(sys, { prefix: uniq('E2E'), seed: 42, chargers: 4, vehicles: 4, dayMinutes: DAY_MINUTES, gridLimitKw: 20, meterIntervalS: 5, log, telematics: true });
    const departures = await run.finished(DAY_MINUTES * 60000 * 1.5);
    const dayWallMs = Date.now() - t0;
    await run.sim.stop();
    const s = run.scenario;
    const mine = new Set(s.chargers.map((c) => c.id));

    // 1. The grid limit, at every metered instant, from the meter values in the log (what the chargers reported).
    const frames = await readWholeTopic<FrameRecord>(sys.config, Topics.ocppFrames, (k) => k !== null && mine.has(k));
    const instants = [...meteredKw(frames)].map(([at, m]) => ({ at, kw: sumKw(m) })).sort((a, b) => a.at - b.at);
    const simInstants = new Set(run.meters.map((m) => m.at));
    expect(instants.length).toBe(simInstants.size);
    const violations = instants.filter((i) => i.kw > s.gridLimitKw + 1e-6);
    const peak = Math.max(...instants.map((i) => i.kw));

    // 2. Every vehicle whose need was feasible left with its required SoC.
    const feasible = feasibility(run, departures);
    outcome = departureOutcomes(departures, feasible);

    // 3. Every frame both ways and every reading is in the log.
    const inCalls = new Map<string, number>();
    const outCalls = new Map<string, number>();
    for (const f of frames) {
      if (f.kind !== 'CALL' || !f.payloadJson) continue;
      const key = `${f.chargePointId} ${f.action} ${canonical(JSON.parse(f.payloadJson))}`;
      const m = f.direction === 'IN' ? inCalls : outCalls;
      m.set(key, (m.get(key) ?? 0) + 1);
    }
    const missing: string[] = [];
    const take = (m: Map<string, number>, key: string) => {
      const n = m.get(key) ?? 0;
      if (n === 0) missing.push(key.slice(0, 200));
      else m.set(key, n - 1);
    };
    const sent = run.sim.traffic.filter((t) => t.direction === 'out' && t.ok);
    const received = run.sim.traffic.filter((t) => t.direction === 'in');
    for (const t of sent) take(inCalls, `${t.chargerId} ${t.method} ${canonical(t.params)}`);
    for (const t of received) take(outCalls, `${t.chargerId} ${t.method} ${canonical(t.params)}`);
    const vehicleIds = new Set(s.vehicles.map((v) => v.id));
    const readings = await readWholeTopic<{ providerReadingId: string }>(sys.config, Topics.telematicsReadings, (k) => k !== null && vehicleIds.has(k));
    const rejected = await readWholeTopic<{ provider: string; raw: string }>(sys.config, Topics.telematicsRejected);
    const inLog = new Set(readings.map((r) => r.providerReadingId));
    const rejectedRaw = rejected.filter((r) => r.provider === 'voltstream').map((r) => r.raw).join('\n');
    const answered = run.readings.flatMap((r) => r.readingIds.map((id) => ({ id, status: r.status })));
    const lostReadings = answered.filter((r) => !inLog.has(r.id) && !rejectedRaw.includes(r.id));

    const detail = departures.map((d) => {
      const plug = run.plugIns.find((p) => p.vehicleId === d.vehicleId);
      const cp = plug ? s.chargers.find((c) => c.id === plug.chargerId) : undefined;
      const ms = (t: number) => Math.round((t - (plug?.at ?? 0)) / 100) / 10;
      return {
        vehicleId: d.vehicleId,
        chargePointId: cp?.id,
        protocol: cp?.protocol,
        currentType: cp?.currentType,
        pluggedAtS: plug ? Math.round((plug.at - t0) / 100) / 10 : null,
        departAfterS: plug ? ms(d.visit.departAt) : null,
        plannedDepartAfterS: plug ? ms(d.visit.plannedDepartAt) : null,
        profiles: received
          .filter((t) => t.chargerId === cp?.id && t.method === 'SetChargingProfile')
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          .map((t) => ({ atS: ms(t.simAt), status: t.detail, profile: JSON.stringify((t.params as any).csChargingProfiles ?? (t.params as any).chargingProfile).slice(0, 400) })),
        powerKw: run.meters.filter((m) => m.chargerId === cp?.id && m.tx).map((m) => [ms(m.at), m.powerW / 1000]),
      };
    });
    // What the backend believed: vehicle matches and the last plan's view of each vehicle.
    const events = await readWholeTopic<{ body: Record<string, Record<string, unknown>> }>(sys.config, Topics.chargingEvents, (k) => k !== null && mine.has(k));
    const matches = events.map((e) => Object.values(e.body)[0]!).filter((b) => 'vehicleId' in b && 'confidence' in b);
    const plans = await readWholeTopic<{ decidedAt: number; trigger: string; inputsJson: string; vehicles: { vehicleId: string; chargePointId: string | null; powerKw: number[]; targetKwh: number; plannedKwh: number; shortfallKwh: number; departAt: number | null }[] }>(
      sys.config,
      Topics.optimizerPlans,
      (k) => k === s.siteId,
    );
    const backend = {
      matches,
      plans: plans.length,
      triggers: plans.reduce<Record<string, number>>((a, p) => ({ ...a, [p.trigger]: (a[p.trigger] ?? 0) + 1 }), {}),
      lastPlans: plans.slice(-3).map((p) => ({ decidedAt: new Date(Number(p.decidedAt)).toISOString(), trigger: p.trigger, vehicles: p.vehicles.map((v) => ({ ...v, departAt: v.departAt === null ? null : new Date(Number(v.departAt)).toISOString() })) })),
      departures: departures.map((d) => ({ vehicleId: d.vehicleId, plannedDepartAt: new Date(d.visit.plannedDepartAt).toISOString(), departAt: new Date(d.visit.departAt).toISOString() })),
      // Per plugged vehicle and plan: seconds after plug-in, trigger, the SoC the plan started from (and its source),
      // the true SoC then (the simulator's model), the energy the plan still wanted in the battery and its slot 0-2 power.
      beliefs: Object.fromEntries(
        run.plugIns.map((plug) => {
          const dep = departures.find((d) => d.vehicleId === plug.vehicleId);
          const trueSoc = run.socs.filter((x) => x.vehicleId === plug.vehicleId);
          const socAt = (t: number) => trueSoc.reduce<number | null>((m, x) => (x.at <= t ? x.socPct : m), null);
          const rows = plans
            .filter((p) => Number(p.decidedAt) >= plug.at && (!dep || Number(p.decidedAt) <= dep.visit.departAt))
            .flatMap((p) => {
              const v = p.vehicles.find((x) => x.vehicleId === plug.vehicleId && x.chargePointId !== null);
              const snap = (JSON.parse(p.inputsJson) as { vehicles: { vehicleId: string; socPct: number; socSource: string }[] }).vehicles.find((x) => x.vehicleId === plug.vehicleId);
              if (!v || !snap) return [];
              const r = (x: number) => Math.round(x * 1000) / 1000;
              return [[Math.round((Number(p.decidedAt) - plug.at) / 100) / 10, p.trigger, r(snap.socPct), snap.socSource, socAt(Number(p.decidedAt)), r(v.targetKwh), v.powerKw.slice(0, 3).map(r)]];
            });
          return [plug.vehicleId, rows];
        }),
      ),
    };
    fs.mkdirSync(artifactsDir, { recursive: true });
    fs.writeFileSync(path.join(artifactsDir, 'e2e-day-detail.json'), JSON.stringify({ detail, backend }, null, 1));
    const lat = run.sim.latencies.map((l) => l.ms).sort((a, b) => a - b);
    const report = {
      dayMinutes: DAY_MINUTES,
      dayWallSeconds: Math.round(dayWallMs / 100) / 10,
      gridLimitKw: s.gridLimitKw,
      meteredInstants: instants.length,
      peakKw: Math.round(peak * 100) / 100,
      violations: violations.slice(0, 20),
      vehicles: outcome,
      framesSent: sent.length,
      framesReceived: received.length,
      framesMissing: missing.slice(0, 20),
      readingsAnswered: answered.length,
      readingsAccepted: answered.filter((r) => r.status < 300).length,
      readingsLost: lostReadings.slice(0, 20),
      plugInToProfileMs: { n: lat.length, p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] },
    };
    fs.mkdirSync(artifactsDir, { recursive: true });
    fs.writeFileSync(path.join(artifactsDir, 'e2e-day.json'), JSON.stringify(report, null, 2));
    process.stderr.write(`[e2e] ${JSON.stringify(report, null, 2)}\n`);

    expect(sent.length).toBeGreaterThan(100);
    expect(received.filter((t) => t.method === 'SetChargingProfile').length).toBeGreaterThan(0);
    expect(violations).toEqual([]);
    expect(outcome.filter((v) => v.feasible).length).toBeGreaterThan(0);
    expect(missing).toEqual([]);
    expect(answered.length).toBeGreaterThan(0);
    expect(lostReadings).toEqual([]);
    expect(lat.length).toBe(run.plugIns.length);
  });

  test('every vehicle whose need was feasible leaves with its required SoC', () => {
    expect(outcome).toBeDefined();
    expect(outcome!.filter((v) => v.feasible && v.leftWithSocPct < v.requiredSocPct)).toEqual([]);
  });
});
