/** The optimizer's restore cost without Kafka: a synthetic history of N chargers and N vehicles on one site (about 167
 *  records per charger, the shape of issue 13's 1,000-charger system) folded through evolve, siteOf and replanReason
 *  as the service does per record; then what the service derives from the state: the snapshot, the safe caps of every
 *  charger and one plan's TxProfiles; and the checkpoint a restart reads instead. `npx tsx services/optimizer/fold.bench.ts 1000 10000`. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as avro from 'avsc';
import * as E from 'fp-ts/Either';
import { EventBody, toAvro } from '../../schemas/events';
import { ConfigBody, configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { heuristicPlan } from './baselines';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint';
import { defaultOptimizerConfig } from './config';
import { decodeInput, InputTopic } from './inputs';
import { safeCapCommands, txProfileCommands } from './profiles';
import { replanReason } from './replan';
import { snapshotOf } from './site-snapshot';
import { evolve, FleetState, initial, Input, siteOf } from './state';

const cfg = defaultOptimizerConfig;
const MIN = 60000;

export const syntheticHistory = (n: number, now: number): Input[] => {
  const start = now - 6 * 3600000;
  const inputs: Input[] = [];
  let seq = 0;
  const config = (body: ConfigBody, at: number): Input => ({ kind: 'config', event: { eventId: `c${seq++}`, at, actor: 'bench', body } });
  const event = (cp: string, body: EventBody, at: number): Input => ({ kind: 'event', event: { eventId: `e${seq++}`, chargePointId: cp, occurredAt: at, source: null, body } });
  inputs.push(config({ type: 'SiteConfigured', siteId: 'S', name: 'bench', gridLimitKw: n * 4, latitude: 0, longitude: 0, timezone: 'Europe/Berlin' }, start));
  inputs.push(config({ type: 'TariffConfigured', siteId: 'S', currency: 'EUR', periods: [{ from: '22:00', to: '06:00', pricePerKwh: 0.1 }, { from: '06:00', to: '22:00', pricePerKwh: 0.3 }], demandChargePerKwMonth: 10 }, start));
  for (let i = 0; i < n; i++) {
    inputs.push(config({ type: 'ChargerConfigured', chargePointId: `CP${i}`, siteId: 'S', maxPowerKw: 11, securityProfile: 1, passwordHash: null, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 }, start));
    inputs.push(config({ type: 'VehicleConfigured', vehicleId: `V${i}`, batteryCapacityKwh: 80, maxAcPowerKw: 11, maxDcPowerKw: 100, consumptionKwhPerKm: 0.2, idTags: [], telematicsProvider: null, providerVehicleId: null, siteId: 'S' }, start));
    inputs.push(config({ type: 'DepartureScheduled', departureId: `D${i}`, vehicleId: `V${i}`, departAt: now + 8 * 3600000, requiredSocPct: 80, requiredEnergyKwh: null, routeKm: null, priority: 1 }, start));
  }
  // Six hours, interleaved over chargers as partitions deliver them: per charger a session, 120 meter samples,
  // 12 SoC estimates and 30 telematics readings; the whole fleet reconnected in the last hour (a restart).
  const steps = 360;
  for (let m = 0; m < steps; m++) {
    const at = start + m * MIN;
    for (let i = 0; i < n; i++) {
      const cp = `CP${i}`;
      if (m === 0) {
        inputs.push(event(cp, { type: 'ChargerConnected', protocol: i % 2 ? 'ocpp2.0.1' : 'ocpp1.6', gatewayId: 'g' }, at));
        inputs.push(event(cp, { type: 'SessionStarted', sessionId: `S${i}`, transactionId: `${i}`, connectorId: 1, idTag: null, meterStartWh: 0 }, at));
        inputs.push(event(cp, { type: 'VehicleMatched', sessionId: `S${i}`, vehicleId: `V${i}`, confidence: 1, method: 'idTag', replacesVehicleId: null }, at));
      }
      if (m === steps - 30) inputs.push(event(cp, { type: 'ChargerConnected', protocol: i % 2 ? 'ocpp2.0.1' : 'ocpp1.6', gatewayId: 'g' }, at));
      if (m % 3 === 0) {
        const kw = 4 + ((i + m) % 7);
        inputs.push(event(cp, { type: 'MeterSampled', sessionId: `S${i}`, connectorId: 1, samples: [{ measurand: 'Power.Active.Import', phase: null, location: null, context: null, unit: 'W', value: kw * 1000 }, { measurand: 'Energy.Active.Import.Register', phase: null, location: null, context: null, unit: 'Wh', value: m * 100 }] }, at));
      }
      if (m % 30 === 5) inputs.push(event(cp, { type: 'SocEstimated', vehicleId: `V${i}`, sessionId: `S${i}`, socPct: 20 + m / 10, uncertaintyPct: 3, baseSocPct: 20, baseAt: start, deliveredWhSinceBase: m * 100 }, at));
      if (m % 12 === 7) inputs.push({ kind: 'reading', reading: { readingId: `r${seq++}`, vehicleId: `V${i}`, readingAt: at, socPct: 20 + m / 12, pluggedIn: true, etaAt: null, batteryCapacityKwh: 80 } });
    }
  }
  return inputs;
};

/** CPU time (user + system) of `f`, in ms: the machine is shared, its wall time says little. */
const time = <T>(f: () => T): [T, number] => {
  const t0 = process.cpuUsage();
  const r = f();
  const d = process.cpuUsage(t0);
  return [r, (d.user + d.system) / 1000];
};

/** The per-record work of the service's fold: evolve, the record's site and whether it re-plans. */
export const foldAll = (inputs: readonly Input[]): FleetState => {
  let s = initial;
  for (const i of inputs) {
    const before = s;
    s = evolve(s, i);
    if (siteOf(s, i)) replanReason(before, s, i, () => undefined);
  }
  return s;
};

const avroType = (topic: string) => avro.Type.forSchema(JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'schemas', 'avro', `${topic}.avsc`), 'utf8')) as avro.Schema);

/** The history as the topics hold it (Avro, without the registry's 5-byte header). */
const encoded = (inputs: readonly Input[]): { topic: InputTopic; value: Buffer }[] => {
  const types = new Map([Topics.fleetConfig, Topics.chargingEvents, Topics.telematicsReadings].map((t) => [t, avroType(t)]));
  return inputs.flatMap((i): { topic: InputTopic; value: Buffer }[] => {
    if (i.kind === 'config') return [{ topic: Topics.fleetConfig, value: types.get(Topics.fleetConfig)!.toBuffer(configToAvro(i.event)) }];
    if (i.kind === 'event') return [{ topic: Topics.chargingEvents, value: types.get(Topics.chargingEvents)!.toBuffer(toAvro(i.event)) }];
    if (i.kind !== 'reading') return [];
    const r = i.reading;
    const record = { ...r, provider: 'bench', providerReadingId: r.readingId, receivedAt: r.readingAt, rangeKm: null, odometerKm: null, latitude: null, longitude: null, chargingState: null };
    return [{ topic: Topics.telematicsReadings, value: types.get(Topics.telematicsReadings)!.toBuffer(record) }];
  });
};

/** What a restore does per record without the broker: Avro-decode, decode at the boundary, fold. */
const decodeAndFold = (records: readonly { topic: InputTopic; value: Buffer }[]): FleetState => {
  const types = new Map<string, avro.Type>();
  let s = initial;
  for (const r of records) {
    let type = types.get(r.topic);
    if (!type) types.set(r.topic, (type = avroType(r.topic)));
    const d = decodeInput(r.topic, type.fromBuffer(r.value));
    if (E.isRight(d) && d.right.kind === 'input') s = evolve(s, d.right.input);
  }
  return s;
};

const run = (n: number) => {
  const now = Date.UTC(2026, 0, 5, 20, 0);
  const r = (x: number) => Math.round(x);
  const say = (what: string) => console.log(`${n} chargers: ${what}`);
  const inputs = syntheticHistory(n, now);
  const [state, foldMs] = time(() => foldAll(inputs));
  say(`fold of ${inputs.length} records ${r(foldMs)} ms (${r((inputs.length / foldMs) * 1000)} records/s)`);
  const records = encoded(inputs);
  const [, decodeMs] = time(() => decodeAndFold(records));
  say(`Avro decode + decode + fold ${r(decodeMs)} ms (${r((records.length / decodeMs) * 1000)} records/s)`);
  // What a restart from a checkpoint does instead of the two lines above (checkpoint.ts): its cost grows with the state.
  const [body, writeMs] = time(() => encodeCheckpoint({ takenAt: now, state, positions: new Map(), lastKw: new Map(), unconfigured: new Map() }));
  const [, readMs] = time(() => decodeCheckpoint(body));
  say(`checkpoint ${r(body.length / 1024)} KiB: written in ${r(writeMs)} ms, read in ${r(readMs)} ms`);
  const [snap, snapMs] = time(() => snapshotOf(state, 'S', now, cfg)!);
  const [caps, capsMs] = time(() => snap.chargers.flatMap((c) => safeCapCommands(snap, c, now)));
  say(`snapshot ${r(snapMs)} ms (${snap.vehicles.length} vehicles); caps of ${snap.chargers.length} chargers ${r(capsMs)} ms (${caps.length} commands)`);
  const plan = heuristicPlan(snap, 'edf');
  const [profiles, profilesMs] = time(() => txProfileCommands(snap, plan, 'p', { profileSlots: cfg.profileSlots, minPauseSlots: cfg.minPauseSlots }));
  say(`TxProfiles of one plan ${r(profilesMs)} ms (${profiles.length})`);
  // What the service did at start-up before: the caps of the whole site at each recent (re)connection.
  const recent = inputs.filter((i) => i.kind === 'event' && i.event.body.type === 'ChargerConnected' && now - i.event.occurredAt < 3600000).length;
  const sample = Math.min(recent, n > 2000 ? 3 : 20);
  const [, perConnectMs] = time(() => {
    for (let k = 0; k < sample; k++) {
      const s = snapshotOf(state, 'S', now, cfg)!;
      s.chargers.flatMap((c) => safeCapCommands(s, c, now));
    }
  });
  say(`the site's caps at each of ${recent} recent connections (what start-up did before it restored first): ${r((perConnectMs / Math.max(1, sample)) * recent)} ms (extrapolated from ${sample})`);
};

if (require.main === module) {
  console.log(`${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}, node ${process.version}; load ${os.loadavg()[0]!.toFixed(1)}; times are CPU ms`);
  for (const n of process.argv.slice(2).map(Number)) run(n);
}
