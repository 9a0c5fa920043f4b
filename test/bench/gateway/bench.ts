/** `voltstream bench gateway`: N simulated chargers, driven by a third-party OCPP-J client library (ocpp-rpc's
 *  RPCClient, half on OCPP 1.6J, half on 2.0.1), against ONE gateway process (a child process, so its memory and file
 *  descriptors are its own) on the running stack. Measures: connections held, inbound frames/s sustained with durable
 *  acks (every acknowledged CALL is in ocpp.frames with its CALLRESULT), CALL→CALLRESULT latency p50/p99 at a fixed
 *  rate, memory per connection. Baseline in the same run: the durable Kafka producer alone on the same broker.
 *
 *  Options: --chargers N (default 10000), --seconds S for the throughput phase (default 20), --rate R and
 *  --latency-seconds S for the latency phase (default 1000/s for 15 s), --concurrency C for connecting (default 250).
 *  --shared-stack: use the running broker (KAFKA_BROKERS) instead of a private one. By default the benchmark starts
 *  its own single-node broker (ports 19192-19194, data in a temp dir, removed afterwards) so that its 10,000 charger
 *  configurations and millions of frames don't land in the shared topics; the schema registry and PostgreSQL are the
 *  running ones (the gateway's tables go to a throw-away schema).
 *  Needs about 2 file descriptors per charger across the two processes: `ulimit -n` of at least N + 1000. */
import { ChildProcess, fork } from 'node:child_process';
import { execSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Benchmark, machine, percentile, progress } from '../benchmark';
import { parseArgs } from '../../../services/cli/command';
import { loadConfig } from '../../../services/common/config';
import { createDurableProducer, createKafka, DURABLE_ACKS, ensureTopics } from '../../../services/common/kafka';
import { Config } from '../../../services/common/config';
import { startBroker, stopBroker } from '../../../infra/kafka/broker';
import { Kafka } from 'kafkajs';
import { hashSecret } from '../../../services/common/password';
import { createPool, quoteIdent } from '../../../services/common/db';
import { createTopicSerde } from '../../../schemas/registry';
import { configKey, configToAvro, ConfigBody } from '../../../schemas/fleet-config';
import { Topics } from '../../../schemas/topics';

interface Client {
  connect(): Promise<unknown>;
  call(method: string, params: unknown): Promise<unknown>;
  close(o?: { force?: boolean }): Promise<unknown>;
}
const { RPCClient } = require('ocpp-rpc') as { RPCClient: new (o: unknown) => Client };

interface Stats {
  rss: number;
  heapUsed: number;
  cpu: { user: number; system: number };
  connected: number;
}

/** Bucket counts of a Prometheus histogram (summed over labels) from the text format. */
const histogram = (text: string, name: string): Map<number, number> => {
  const out = new Map<number, number>();
  const re = new RegExp(`^${name}_bucket\\{(?:[^}]*,)?le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) {
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    out.set(le, (out.get(le) ?? 0) + Number(m[2]));
  }
  return out;
};

/** Quantile of the observations between two snapshots, as the upper bound of the bucket it falls in (ms). */
const bucketQuantile = (before: Map<number, number>, after: Map<number, number>, q: number): string => {
  const les = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return 'n/a';
  for (const le of les) if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= q * total) return le === Infinity ? '> max bucket' : `<= ${le * 1000} ms`;
  return 'n/a';
};

/** Busy and total jiffies of the whole machine (/proc/stat), to say how loaded it was while measuring. */
const machineCpu = (): { busy: number; total: number } => {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (line[3] ?? 0) + (line[4] ?? 0);
    const total = line.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
};

/** A topic just created may not have a leader yet: wait until its offsets can be read. */
const topicReady = async (kafka: Kafka, topic: string) => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let i = 0; ; i++) {
      try {
        await admin.fetchTopicOffsets(topic);
        return;
      } catch (e) {
        if (i > 60) throw e;
        await sleep(500);
      }
    }
  } finally {
    await admin.disconnect();
  }
};

const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const startGateway = (env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number; ask<T>(type: string): Promise<T> }> =>
  new Promise((resolve, reject) => {
    // BENCH_GATEWAY_MAIN: another gateway-main.ts (e.g. of an older commit's worktree), to measure before/after.
    const child = fork(process.env.BENCH_GATEWAY_MAIN ?? path.join(__dirname, 'gateway-main.ts'), [], {
      // BENCH_GATEWAY_NODE_ARGS: extra node flags for the gateway process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
      execArgv: ['--expose-gc', '--max-old-space-size=4096', ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean), '-r', 'tsx/cjs'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const waiting = new Map<string, ((m: unknown) => void)[]>();
    child.on('message', (m: { type: string; port?: number }) => {
      if (m.type === 'ready') {
        resolve({
          child,
          port: m.port!,
          ask: <T>(type: string) =>
            new Promise<T>((res) => {
              waiting.set(type === 'stop' ? 'stopped' : type, [...(waiting.get(type) ?? []), res as (m: unknown) => void]);
              child.send({ type });
            }),
        });
        return;
      }
      const list = waiting.get(m.type);
      list?.shift()?.(m);
    });
    child.on('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });

/** Runs `work(i)` for i in [0, n) with at most `concurrency` at a time. */
const pool = async (n: number, concurrency: number, work: (i: number) => Promise<void>, onDone: (done: number) => void) => {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        await work(i);
        onDone(++done);
      }
    }),
  );
};

const meterValues = (v16: boolean, n: number) =>
  v16
    ? { connectorId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: String(n), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] }
    : { evseId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: n, measurand: 'Energy.Active.Import.Register' }] }] };

export const benchmark: Benchmark = {
  name: 'gateway',
  summary: 'OCPP gateway: connections held, durable inbound frames/s, CALL→CALLRESULT p50/p99, memory per connection',
  run: async (args) => {
    const { flags } = parseArgs(args);
    const n = Number(flags.chargers ?? 10000);
    const fdLimit = Number(execSync('sh -c "ulimit -n"').toString().trim());
    console.log(`Machine: ${machine()}; file descriptor limit ${fdLimit} per process`);
    if (fdLimit < n + 1000) console.log(`WARNING: ulimit -n ${fdLimit} is low for ${n} chargers; raise it (ulimit -n ${n + 2000}) or use --chargers`);

    const shared = flags['shared-stack'] === true;
    const brokerOpts = { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'bench-gateway-kafka-')), port: 19192, controllerPort: 19193, partnerPort: 19194, heapMb: 1024 };
    if (!shared) {
      console.log(`Starting a private Kafka broker on 127.0.0.1:${brokerOpts.port} ...`);
      await startBroker(brokerOpts, (l) => console.log(l));
    }
    const brokers = shared ? undefined : `127.0.0.1:${brokerOpts.port}`;
    const config = loadConfig({ ...process.env, ...(brokers ? { KAFKA_BROKERS: brokers } : {}), DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
    const kafka = createKafka(config, 'bench-gateway');
    if (!shared) {
      const admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, { partitions: config.partitions, replicationFactor: 1 });
      await admin.disconnect();
      for (const t of Object.values(Topics)) await topicReady(kafka, t);
    }
    try {
      return await measure(flags, n, config, kafka, brokers);
    } finally {
      if (!shared) {
        await stopBroker(brokerOpts);
        fs.rmSync(brokerOpts.dir, { recursive: true, force: true });
      }
    }
  },
};

const measure = async (flags: Record<string, string | true>, n: number, config: Config, kafka: Kafka, brokers: string | undefined): Promise<number> => {
  const seconds = Number(flags.seconds ?? 20);
  const rate = Number(flags.rate ?? 1000);
  const latencySeconds = Number(flags['latency-seconds'] ?? 15);
  const concurrency = Number(flags.concurrency ?? 250);
  const serde = createTopicSerde(config.schemaRegistryUrl);
  const run = randomUUID().slice(0, 8);
  const schema = `gateway_bench_${run}`;
  const ids = Array.from({ length: n }, (_, i) => `bench-${run}-${i}`);
  const password = 'bench-secret';

  // Baseline: the durable producer alone on the same broker, one frame-sized record per request, on a throw-away topic.
  const baseline = await (async () => {
    const topic = `bench.gateway-baseline.${run}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: config.replicationFactor }] });
    await topicReady(kafka, topic);
    const producer = createDurableProducer(kafka);
    await producer.connect();
    const value = Buffer.alloc(600, 'x');
    const single: number[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        await producer.send({ topic, acks: DURABLE_ACKS, messages: [{ key: 'baseline', value }] });
        single.push(performance.now() - t0);
      }
    } finally {
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
    single.sort((a, b) => a - b);
    return { p50: percentile(single, 50), p99: percentile(single, 99) };
  })();

  console.log(`Configuring ${n} chargers on fleet.config ...`);
  const passwordHash = await hashSecret(password);
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < n; i += 1000) {
    const messages = [];
    for (const id of ids.slice(i, i + 1000)) {
      const body: ConfigBody = { type: 'ChargerConfigured', chargePointId: id, siteId: `bench-${run}`, maxPowerKw: 22, securityProfile: 1, passwordHash, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 };
      messages.push({ key: configKey(body), value: await serde.encode(Topics.fleetConfig, configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'bench', body })) });
    }
    await producer.send({ topic: Topics.fleetConfig, acks: -1, messages });
  }
  await producer.disconnect();

  const gw = await startGateway({
    BENCH_GATEWAY_ID: `gw-bench-${run}`,
    OCPP_PORT: '0',
    OCPP_DB_SCHEMA: schema,
    OCPP_RATE_PER_SEC: '1000',
    OCPP_RATE_BURST: '1000',
    LOG_LEVEL: 'warn',
    KAFKAJS_LOG_LEVEL: 'nothing',
    ...(brokers ? { KAFKA_BROKERS: brokers } : {}),
  });
  const url = `ws://127.0.0.1:${gw.port}/ocpp`;
  const s0 = await gw.ask<Stats>('stats');

  // Phase 1: connect, boot, status.
  const clients: Client[] = new Array(n);
  let failedConnects = 0;
  const t1 = performance.now();
  const bar1 = progress('connect + BootNotification + StatusNotification', n);
  await pool(
    n,
    concurrency,
    async (i) => {
      const v16 = i % 2 === 0;
      const c = new RPCClient({ endpoint: url, identity: ids[i], password, protocols: [v16 ? 'ocpp1.6' : 'ocpp2.0.1'], strictMode: false, reconnect: false, callTimeoutMs: 120000, pingIntervalMs: 0 });
      try {
        await c.connect();
        if (v16) {
          await c.call('BootNotification', { chargePointVendor: 'Bench', chargePointModel: 'B1' });
          await c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
        } else {
          await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'B2', vendorName: 'Bench' } });
          await c.call('StatusNotification', { timestamp: new Date().toISOString(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
        }
        clients[i] = c;
      } catch {
        failedConnects++;
      }
    },
    (d) => bar1.tick(d),
  );
  const connectSeconds = (performance.now() - t1) / 1000;
  await sleep(1000);
  const s1 = await gw.ask<Stats>('stats');
  const live = clients.map((c, i) => ({ c, i })).filter((x) => x.c);

  await sleep(2000);
  // Phase 2: every charger sends MeterValues back to back (one outstanding CALL each) for `seconds`.
  const mc2 = machineCpu();
  const own2 = process.cpuUsage();
  const load2 = os.loadavg()[0]!;
  let acked = 0;
  let errors = 0;
  const lat2: number[] = [];
  let running = true;
  const t2 = performance.now();
  const cpu2 = s1.cpu;
  const bar2 = progress(`throughput (${seconds} s, ${live.length} chargers)`, seconds);
  const ticker = setInterval(() => bar2.tick(Math.min(seconds, Math.floor((performance.now() - t2) / 1000)), `${Math.round(acked / ((performance.now() - t2) / 1000))} frames/s`), 250);
  await Promise.all(
    live.map(async ({ c, i }) => {
      let k = 0;
      while (running) {
        const t = performance.now();
        try {
          await c.call('MeterValues', meterValues(i % 2 === 0, ++k));
          acked++;
          lat2.push(performance.now() - t);
        } catch {
          errors++;
          await sleep(100);
        }
        if (performance.now() - t2 > seconds * 1000) running = false;
      }
    }),
  );
  clearInterval(ticker);
  bar2.tick(seconds);
  const throughputSeconds = (performance.now() - t2) / 1000;
  const mc2b = machineCpu();
  const own2b = process.cpuUsage(own2);
  const machineBusy = (mc2b.busy - mc2.busy) / Math.max(1, mc2b.total - mc2.total);
  const loadGenCpu = (own2b.user + own2b.system) / 1e6 / throughputSeconds;
  const s2 = await gw.ask<Stats>('stats');
  const gwCpu = (s2.cpu.user + s2.cpu.system - cpu2.user - cpu2.system) / 1e6 / throughputSeconds;

  await sleep(3000);
  const m3before = (await gw.ask<{ text: string }>('metrics')).text;
  // Phase 3: open-loop fixed rate, round robin over the chargers that are idle.
  const lat3: number[] = [];
  let sent3 = 0;
  let errors3 = 0;
  const busy = new Set<number>();
  let cursor = 0;
  const t3 = performance.now();
  const bar3 = progress(`latency at ${rate} frames/s (${latencySeconds} s)`, latencySeconds);
  const inflight: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - t3;
      if (elapsed > latencySeconds * 1000) {
        clearInterval(tick);
        resolve();
        return;
      }
      bar3.tick(Math.floor(elapsed / 1000));
      const due = Math.floor((elapsed / 1000) * rate) - sent3;
      for (let j = 0; j < due; j++) {
        let tries = 0;
        while (busy.has(cursor % live.length) && tries++ < live.length) cursor++;
        const slot = cursor++ % live.length;
        const { c, i } = live[slot]!;
        busy.add(slot);
        sent3++;
        const t = performance.now();
        inflight.push(
          c.call('MeterValues', meterValues(i % 2 === 0, sent3)).then(
            () => {
              lat3.push(performance.now() - t);
              busy.delete(slot);
            },
            () => {
              errors3++;
              busy.delete(slot);
            },
          ),
        );
      }
    }, 5);
  });
  await Promise.all(inflight);
  bar3.tick(latencySeconds);
  const achieved = lat3.length / latencySeconds;

  const metricsText = (await gw.ask<{ text: string }>('metrics')).text;
  const produceBefore = histogram(m3before, 'ocpp_gateway_kafka_produce_seconds');
  const produceAfter = histogram(metricsText, 'ocpp_gateway_kafka_produce_seconds');
  const serverBefore = histogram(m3before, 'ocpp_gateway_call_result_seconds');
  const serverAfter = histogram(metricsText, 'ocpp_gateway_call_result_seconds');
  const bar4 = progress('closing connections', live.length);
  await pool(live.length, 500, async (j) => void (await live[j]!.c.close().catch(() => undefined)), (d) => bar4.tick(d));
  await gw.ask('stop');
  const pg = createPool({ url: config.databaseUrl!, embedded: false, max: 1 });
  await pg.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await pg.end();

  lat2.sort((a, b) => a - b);
  lat3.sort((a, b) => a - b);
  const batch = /ocpp_gateway_produce_batch_records_sum (\S+)/.exec(metricsText);
  const batches = /ocpp_gateway_produce_batch_records_count (\S+)/.exec(metricsText);
  const f = (x: number) => x.toFixed(1);
  console.log('');
  console.log(`gateway benchmark (run ${run}), ${machine()}, Kafka: ${brokers ? `private single-node broker ${brokers}` : `shared broker ${config.kafkaBrokers.join(',')}`}`);
  console.log(`  connections held                 ${s1.connected} of ${n} (${failedConnects} failed), opened with Boot + Status in ${f(connectSeconds)} s (${Math.round(live.length / connectSeconds)}/s)`);
  console.log(`  memory per connection            ${((s1.rss - s0.rss) / Math.max(1, s1.connected) / 1024).toFixed(1)} KiB RSS, ${((s1.heapUsed - s0.heapUsed) / Math.max(1, s1.connected) / 1024).toFixed(1)} KiB heap (gateway RSS ${mb(s0.rss)} idle → ${mb(s1.rss)})`);
  console.log(`  durable inbound frames/s         ${Math.round(acked / throughputSeconds)} CALLs/s acknowledged (${errors} errors) over ${f(throughputSeconds)} s, ${live.length} chargers each with one CALL outstanding`);
  console.log(`                                   = ${Math.round((2 * acked) / throughputSeconds)} ocpp.frames records/s (CALL + CALLRESULT)`);
  console.log(`                                   CPU meanwhile: gateway ${(gwCpu * 100).toFixed(0)}% of one core, load generator ${(loadGenCpu * 100).toFixed(0)}%, whole machine ${(machineBusy * 100).toFixed(0)}% busy of ${os.cpus().length} cores (load average ${load2.toFixed(1)} before; Kafka, registry and other work share them)`);
  console.log(`                                   latency under saturation p50 ${f(percentile(lat2, 50))} ms, p99 ${f(percentile(lat2, 99))} ms`);
  if (batch && batches) console.log(`                                   ${(Number(batch[1]) / Math.max(1, Number(batches[1]))).toFixed(0)} records per produce request on average`);
  console.log(`  CALL→CALLRESULT at ${rate}/s       p50 ${f(percentile(lat3, 50))} ms, p99 ${f(percentile(lat3, 99))} ms, max ${f(lat3[lat3.length - 1] ?? NaN)} ms (achieved ${Math.round(achieved)}/s, ${errors3} errors)`);
  console.log(`                                   gateway side: CALL→CALLRESULT p50 ${bucketQuantile(serverBefore, serverAfter, 0.5)}, p99 ${bucketQuantile(serverBefore, serverAfter, 0.99)}; Kafka produce request p50 ${bucketQuantile(produceBefore, produceAfter, 0.5)}, p99 ${bucketQuantile(produceBefore, produceAfter, 0.99)}`);
  console.log(`  baseline: one durable produce    p50 ${f(baseline.p50)} ms, p99 ${f(baseline.p99)} ms (kafkajs idempotent producer, acks=-1, one record per request)`);
  console.log(`  goals: 10000 connections, >= 5000 durable frames/s, p99 < 100 ms at 1000 frames/s`);
  return 0;
};
