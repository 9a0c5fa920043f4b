/** What the forecasts add to a re-plan's snapshot: N vehicles on one site with six weeks of history each (the
 *  vehicle-forecast fold in the optimizer's state), half of them plugged in and half not back yet; snapshotOf with the
 *  reserve (the forecasts of the absent half, their pools from all) against the same without (`reserve: false`), CPU
 *  time, median of R runs. `npx tsx services/optimizer/forecast.bench.ts 1000 7`. */
import * as os from 'node:os';
import { EventBody } from '../../schemas/events';
import { routineInputs } from '../../streams/projections/vehicle-forecast/history-fixture';
import { defaultOptimizerConfig } from './config';
import { T0 } from './fixtures';
import { asOptimizerInput, lateRoutine, northDepot } from './forecast-fixture';
import { snapshotOf } from './site-snapshot';
import { evolve, FleetState, initial, Input } from './state';

const n = Number(process.argv[2] ?? 1000);
const runs = Number(process.argv[3] ?? 7);
const cfg = defaultOptimizerConfig;
const DAY = 24 * 3600_000;

const cpu = <T>(f: () => T): [T, number] => {
  const t0 = process.cpuUsage();
  const r = f();
  const d = process.cpuUsage(t0);
  return [r, (d.user + d.system) / 1000];
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const event = (cp: string, body: EventBody, at: number): Input => ({ kind: 'event', event: { eventId: `e:${cp}:${body.type}`, chargePointId: cp, occurredAt: at, source: null, body } });
const charger = (i: number): Input => ({
  kind: 'config',
  event: { eventId: `cp${i}`, at: T0 - 50 * DAY, actor: 'bench', body: { type: 'ChargerConfigured', chargePointId: `CP${i}`, siteId: 'north', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 } },
});

const inputs: Input[] = [...northDepot(T0 - 50 * DAY)];
for (let i = 0; i < n; i++) {
  inputs.push(charger(i));
  const base = lateRoutine();
  const vehicleId = `V${i}`;
  const shift = (i % 12) * 20;
  const history = routineInputs({ ...base, vehicleId, returnOn: (d) => ({ minute: 2 * 60 + shift + 30 * (Math.floor(d / 7) % 5), socPct: 15 + (i % 20) }) }).flatMap(asOptimizerInput);
  inputs.push(...history.filter((x) => (x.kind === 'config' ? x.event.at : x.kind === 'event' ? x.event.occurredAt : x.kind === 'reading' ? x.reading.readingAt : 0) <= T0));
  if (i % 2 === 0) {
    inputs.push(event(`CP${i}`, { type: 'SessionStarted', sessionId: `S${i}`, transactionId: `${i}`, connectorId: 1, idTag: null, meterStartWh: 0 }, T0 - 3600_000));
    inputs.push(event(`CP${i}`, { type: 'VehicleMatched', sessionId: `S${i}`, vehicleId, confidence: 1, method: 'idTag', replacesVehicleId: null }, T0 - 3600_000));
  }
}

const [state, foldMs] = cpu(() => inputs.reduce(evolve, initial as FleetState));
process.stdout.write(`${os.cpus().length} cores, node ${process.version}; ${n} vehicles (${n / 2} plugged in, ${n / 2} not back), ${inputs.length} inputs folded in ${Math.round(foldMs)} ms CPU\n`);
const withReserve: number[] = [];
const without: number[] = [];
let reserved = 0;
for (let r = 0; r < runs; r++) {
  const [a, ms1] = cpu(() => snapshotOf(state, 'north', T0 + r * 60_000, cfg)!);
  const [, ms2] = cpu(() => snapshotOf(state, 'north', T0 + r * 60_000, cfg, { reserve: false })!);
  withReserve.push(ms1);
  without.push(ms2);
  reserved = Math.max(...(a.reserveKw ?? [0]));
  process.stdout.write(`run ${r + 1}/${runs}\r`);
}
process.stdout.write(
  `snapshot without the reserve: median ${median(without).toFixed(1)} ms CPU; with it: first (no statistics cached) ${withReserve[0]!.toFixed(1)} ms, median ${median(withReserve).toFixed(1)} ms CPU (highest reserve ${reserved.toFixed(0)} kW)\n`,
);
