import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { Agent, request } from 'node:http';
import { Message } from 'kafkajs';
import { Benchmark, machine, percentile, progress } from '../benchmark';
import { createContext } from '../../../services/common/context';
import { loadConfig } from '../../../services/common/config';
import { createDurableProducer, DURABLE_ACKS } from '../../../services/common/kafka';
import { ServiceContext } from '../../../services/common/service';
import { Topics } from '../../../schemas/topics';
import { ConfigBody, configKey, configToAvro } from '../../../schemas/fleet-config';
import { decodeProviders } from '../../../services/telematics-ingest/providers';
import { startTelematics } from '../../../services/telematics-ingest/service';
import { readingIdOf, readingToAvro } from '../../../services/telematics-ingest/reading';

/** Telematics ingest throughput: readings/s sustained through POST /api/v1/telematics/voltstream (standalone server,
 *  real auth, validation, de-duplication, jump checks, Avro, acks=all into telematics.readings), batches of 1 and 100,
 *  against a baseline in the same run: the same records produced straight into Kafka with the same durable producer
 *  (no HTTP, no checks). Client and server share this process and the machine with Kafka and the registry.
 *  Options: --seconds <n> per scenario (default 10), --concurrency <n> requests in flight (default 32). */
const arg = (args: readonly string[], name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

const Vehicles = 64;
const apiKeyValue = `bench-${randomUUID()}`;

interface Fleet {
  readonly refs: string[];
  /** The next reading of a vehicle: one second after its previous one, SoC and odometer moving plausibly. */
  next(): Record<string, unknown>;
}

const fleet = (runId: string): Fleet => {
  const refs = Array.from({ length: Vehicles }, (_, i) => `bench-${runId}-${i}`);
  const state = refs.map(() => ({ n: 0 }));
  const start = Date.now() - 6 * 3_600_000;
  let turn = 0;
  return {
    refs,
    next: () => {
      const v = turn++ % Vehicles;
      const s = state[v]!;
      s.n++;
      return {
        readingId: `${runId}-${v}-${s.n}`,
        vehicleRef: refs[v],
        readingAt: new Date(start + s.n * 1000).toISOString(),
        socPct: 20 + ((s.n / 100) % 70),
        odometerKm: 1000 + s.n * 0.01,
        chargingState: 'CHARGING',
        pluggedIn: true,
      };
    },
  };
};

const configureFleet = async (ctx: ServiceContext, refs: readonly string[]): Promise<void> => {
  const producer = createDurableProducer(ctx.kafka);
  await producer.connect();
  const messages: Message[] = [];
  for (const ref of refs) {
    const body: ConfigBody = {
      type: 'VehicleConfigured',
      vehicleId: `veh-${ref}`,
      batteryCapacityKwh: 77,
      maxAcPowerKw: 11,
      maxDcPowerKw: 150,
      consumptionKwhPerKm: 0.18,
      idTags: [],
      telematicsProvider: 'voltstream',
      providerVehicleId: ref,
      siteId: null,
    };
    messages.push({ key: configKey(body), value: await ctx.serde.encode(Topics.fleetConfig, configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'bench', body })) });
  }
  await producer.send({ topic: Topics.fleetConfig, acks: DURABLE_ACKS, messages });
  await producer.disconnect();
};

const postJson = (agent: Agent, port: number, body: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request(
      { agent, host: '127.0.0.1', port, method: 'POST', path: '/api/v1/telematics/voltstream', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'X-Api-Key': apiKeyValue } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });

interface Result {
  readonly label: string;
  readonly readings: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
  readonly failures: number;
}

/** Runs `step` with `concurrency` workers for `seconds`; each step returns how many readings it carried. */
const sustain = async (label: string, seconds: number, concurrency: number, step: () => Promise<number>): Promise<Result> => {
  const bar = progress(label.padEnd(34), seconds);
  const latencies: number[] = [];
  let readings = 0;
  let failures = 0;
  const t0 = Date.now();
  const until = t0 + seconds * 1000;
  const ticker = setInterval(() => {
    const el = (Date.now() - t0) / 1000;
    bar.tick(Math.min(seconds, Math.floor(el)), `${Math.round(readings / Math.max(el, 0.001))} readings/s`);
  }, 250);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        const s = process.hrtime.bigint();
        try {
          const n = await step(); // not `readings += await step()`: that reads `readings` before the await
          readings += n;
        } catch {
          failures++;
        }
        latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }),
  );
  clearInterval(ticker);
  const elapsed = (Date.now() - t0) / 1000;
  bar.tick(seconds, `${Math.round(readings / elapsed)} readings/s`);
  return { label, readings, seconds: elapsed, latenciesMs: latencies.sort((a, b) => a - b), failures };
};

const report = (r: Result, unit: string) =>
  `  ${r.label.padEnd(34)} ${String(Math.round(r.readings / r.seconds)).padStart(7)} readings/s   ${unit} p50 ${percentile(r.latenciesMs, 50).toFixed(1)} ms, p99 ${percentile(r.latenciesMs, 99).toFixed(1)} ms` +
  `${r.failures ? `   (${r.failures} failed)` : ''}`;

const offsetsSum = async (ctx: ServiceContext): Promise<number> => {
  const admin = ctx.kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(Topics.telematicsReadings)).reduce((s, o) => s + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
};

export const benchmark: Benchmark = {
  name: 'telematics',
  summary: 'Telematics readings/s through the HTTP endpoint into Kafka, batches of 1 and 100, vs. producing directly',
  run: async (args) => {
    const seconds = arg(args, 'seconds', 10);
    const concurrency = arg(args, 'concurrency', 32);
    const ctx = createContext(loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }), 'bench-telematics');
    const runId = randomUUID().slice(0, 8);
    const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
    console.log(`Machine: ${machine()}; load average ${load()}; Kafka ${ctx.config.kafkaBrokers.join(',')}; ${seconds} s per scenario, ${concurrency} requests in flight`);
    const providers = decodeProviders({ providers: { voltstream: { shape: 'voltstream', push: { type: 'api-key', keys: [apiKeyValue] } } } });
    if (providers._tag === 'Left') throw new Error(providers.left.join('; '));
    const f = fleet(runId);
    await configureFleet(ctx, f.refs);
    const telematics = await startTelematics(ctx, { providers: providers.right, port: 0, pull: false });
    const port = telematics.server!.port;
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    const results: string[] = [];
    let status = 0;
    try {
      // Baseline: the same records straight into Kafka, same durable producer settings, no HTTP or checks.
      const producer = createDurableProducer(ctx.kafka);
      await producer.connect();
      const encoded = async (n: number): Promise<Message[]> =>
        Promise.all(
          Array.from({ length: n }, async () => {
            const r = f.next();
            const value = await ctx.serde.encode(
              Topics.telematicsReadings,
              readingToAvro({
                readingId: readingIdOf('bench-baseline', String(r.readingId)),
                vehicleId: `veh-${String(r.vehicleRef)}`,
                provider: 'bench-baseline',
                providerReadingId: String(r.readingId),
                readingAt: Date.parse(String(r.readingAt)),
                receivedAt: Date.now(),
                socPct: r.socPct as number,
                rangeKm: null,
                odometerKm: r.odometerKm as number,
                latitude: null,
                longitude: null,
                chargingState: 'CHARGING',
                pluggedIn: true,
                batteryCapacityKwh: null,
                etaAt: null,
              }),
            );
            return { key: `veh-${String(r.vehicleRef)}`, value };
          }),
        );
      const b1 = await sustain('baseline: Kafka send, 1/send', Math.min(seconds, 5), 1, async () => {
        await producer.send({ topic: Topics.telematicsReadings, acks: DURABLE_ACKS, messages: await encoded(1) });
        return 1;
      });
      results.push(report(b1, 'per send'));
      const b100 = await sustain('baseline: Kafka send, 100/send', Math.min(seconds, 5), 1, async () => {
        await producer.send({ topic: Topics.telematicsReadings, acks: DURABLE_ACKS, messages: await encoded(100) });
        return 100;
      });
      results.push(report(b100, 'per send'));
      await producer.disconnect();

      const before = await offsetsSum(ctx);
      let accepted = 0;
      const post = async (n: number) => {
        const body = n === 1 ? JSON.stringify(f.next()) : JSON.stringify({ readings: Array.from({ length: n }, () => f.next()) });
        const code = await postJson(agent, port, body);
        if (code !== 200) throw new Error(`HTTP ${code}`);
        accepted += n;
        return n;
      };
      const h1 = await sustain(`HTTP, batch of 1 (${concurrency} in flight)`, seconds, concurrency, () => post(1));
      results.push(report(h1, 'per request'));
      const c100 = Math.max(1, Math.round(concurrency / 4));
      const h100 = await sustain(`HTTP, batch of 100 (${c100} in flight)`, seconds, c100, () => post(100));
      results.push(report(h100, 'per request'));
      const after = await offsetsSum(ctx);
      console.log(`\nResults (${machine()}; load average now ${load()}: the machine is shared, figures move with it):`);
      results.forEach((l) => console.log(l));
      console.log(`  check: ${accepted} readings answered 200, telematics.readings grew by ${after - before} records (other writers included)`);
      if (h1.failures || h100.failures) status = 1;
    } finally {
      agent.destroy();
      await telematics.stop();
      await ctx.pool.end().catch(() => undefined);
    }
    return status;
  },
};
