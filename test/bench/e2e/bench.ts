import { Benchmark, percentile, progress } from '../benchmark';
import { parseArgs } from '../../../services/cli/command';
import { createLogger } from '../../../services/common/log';
import { createScenario } from '../../../services/simulator/model/fleet';
import { createSimulator } from '../../../services/simulator/simulator';
import { uniq } from '../../support/stack';
import { startDay, feasibility } from '../../e2e/support/day';
import { startSystem } from '../../e2e/support/system';

/** End to end: the whole system in one process on a private broker (test/e2e/support/system.ts), driven by the
 *  depot simulator.
 *  1. Plug-in → profile: N chargers boot, vehicles plug in over a minute; for each plug-in, the time from the charger
 *     sending StartTransaction (1.6J) / TransactionEvent Started (2.0.1) to the optimizer's SetChargingProfile
 *     arriving at that charger (through normalizer, vehicle matching, debounce, the LP, ocpp.commands, the gateway).
 *     Baseline in the same run: the plain OCPP round trip of that StartTransaction / TransactionEvent (CALL →
 *     CALLRESULT, which includes the gateway's durable write to Kafka).
 *  2. An accelerated depot day (compressed to --day-minutes, 1-minute optimizer slots): how long it took against the
 *     simulated day, peak load against the limit, vehicles leaving with their required SoC. */
const pct = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${percentile(s, 50)} ms, p99 ${percentile(s, 99)} ms, max ${s[s.length - 1]} ms (n=${s.length})`;
};

export const benchmark: Benchmark = {
  name: 'e2e',
  summary: 'Plug-in → SetChargingProfile latency through the whole system, and an accelerated depot day',
  run: async (args) => {
    const { flags } = parseArgs(args);
    const chargers = Number(flags.chargers ?? 20);
    const dayMinutes = Number(flags['day-minutes'] ?? 8);
    const log = createLogger('bench-e2e', 'error');
    console.log('Starting the system (private Kafka broker, every service in this process)...');
    const sys = await startSystem({ env: { OPTIMIZER_SLOT_MINUTES: '1' }, log: () => undefined });
    if (sys.failed.length) console.log(`  services that failed to start: ${sys.failed.map((f) => `${f.name} (${f.error})`).join(', ')}`);
    try {
      // 1. latency
      const scenario = createScenario({ seed: 7, chargers, vehicles: chargers, startMs: Date.now(), initialArrivalsWithinMs: 60000, idPrefix: uniq('BENCH'), share201: 0.4, gridLimitKw: Math.round(chargers * 11 * 0.45) });
      const sim = createSimulator({ scenario, ocppUrl: sys.ocppUrl, api: { url: sys.apiUrl, adminKey: sys.config.adminKey }, meterIntervalS: 10, log });
      const t0 = Date.now();
      await sim.start();
      console.log(`  ${chargers} chargers configured and connected in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const bar = progress('plug-ins answered with a profile', chargers);
      const deadline = Date.now() + 180000;
      while (sim.latencies.length < chargers && Date.now() < deadline) {
        bar.tick(sim.latencies.length);
        await new Promise((r) => setTimeout(r, 250));
      }
      bar.tick(chargers);
      await sim.stop();
      const rtt = sim.traffic.filter((t) => t.direction === 'out' && t.detail === 'plugIn' && t.rttMs !== undefined).map((t) => t.rttMs!);
      console.log(`\nPlug-in → SetChargingProfile at the charger, ${chargers} chargers (${scenario.chargers.filter((c) => c.protocol === 'ocpp2.0.1').length} on 2.0.1):`);
      console.log(`  ${sim.latencies.length ? pct(sim.latencies.map((l) => l.ms)) : 'no profile arrived'}${sim.latencies.length < chargers ? `  (${chargers - sim.latencies.length} plug-ins got no profile within 3 min)` : ''}`);
      console.log(`  purposes of the first profile: ${[...new Set(sim.latencies.map((l) => l.purpose))].join(', ')}`);
      console.log(`  baseline, the plug-in CALL → CALLRESULT round trip: ${rtt.length ? pct(rtt) : '-'}`);

      // 2. the accelerated day
      console.log(`\nAccelerated depot day: 4 chargers, 4 vehicles, a ${dayMinutes}-minute day (×${(1440 / dayMinutes).toFixed(0)}), 1-minute slots...`);
      const t1 = Date.now();
      const run = await startDay(sys, { prefix: uniq('BDAY'), seed: 42, chargers: 4, vehicles: 4, dayMinutes, gridLimitKw: 20, meterIntervalS: 5, log, telematics: true });
      const dayBar = progress('vehicles departed', 4);
      const done = run.finished(dayMinutes * 60000 * 1.5);
      const timer = setInterval(() => dayBar.tick(new Set(run.sim.state().departures.map((d) => d.vehicleId)).size, `${((Date.now() - t1) / 1000).toFixed(0)} s`), 500);
      const departures = await done.finally(() => clearInterval(timer));
      dayBar.tick(4);
      const wall = (Date.now() - t1) / 1000;
      await run.sim.stop();
      const byAt = new Map<number, number>();
      for (const m of run.meters) byAt.set(m.at, (byAt.get(m.at) ?? 0) + m.powerW / 1000);
      const peak = Math.max(...byAt.values());
      const f = feasibility(run, departures);
      const met = departures.filter((d) => d.socPct >= d.visit.requiredSocPct).length;
      const feasibleN = departures.filter((d) => f.get(d.vehicleId)?.feasible).length;
      console.log(`  simulated ${((departures.reduce((a, d) => Math.max(a, d.visit.departAt), 0) - run.scenario.startMs) / 60000).toFixed(1)} compressed minutes (${(((departures.reduce((a, d) => Math.max(a, d.visit.departAt), 0) - run.scenario.startMs) / run.scenario.dayMs) * 24).toFixed(1)} depot hours) in ${wall.toFixed(1)} s wall`);
      console.log(`  peak site load ${peak.toFixed(2)} kW against a ${run.scenario.gridLimitKw} kW limit over ${byAt.size} metered instants`);
      console.log(`  vehicles leaving with their required SoC: ${met}/${departures.length} (${feasibleN} feasible)`);
      for (const d of departures) console.log(`    ${d.vehicleId}: arrived ${d.arrivedSocPct.toFixed(0)} %, needed ${d.visit.requiredSocPct} %, left with ${d.socPct.toFixed(1)} %`);
      return 0;
    } finally {
      await sys.stop();
    }
  },
};
