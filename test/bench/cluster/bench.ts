/** `voltstream bench cluster`: the OCPP gateway on one broker and on a 3-broker cluster (replication factor 3,
 *  min.insync.replicas 2), in the same run, with the same load: chargers driven by a third-party OCPP-J client library
 *  (ocpp-rpc's RPCClient, half 1.6J, half 2.0.1) against ONE gateway process (a child process, test/bench/gateway/
 *  gateway-main.ts). Measures per target: durable CALLs/s (closed loop, every charger one CALL at a time), CALL→
 *  CALLRESULT p50/p99 at a fixed rate (default 1,000/s); on the cluster also the leader of ocpp.frames partition 0
 *  SIGKILLed at that rate: InternalErrors, the window from the first to the last, and the latency spike. The single
 *  broker is the baseline. Both are private (free ports, temp directories, removed afterwards); the registry and
 *  PostgreSQL are the running ones (the gateway's tables go to a throw-away schema).
 *
 *  Options: --chargers N (default 200), --seconds S throughput phase (default 15), --rate R and --latency-seconds S
 *  (default 1000/s for 15 s), --kill-seconds S of load after the kill (default 40). */
import { ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Benchmark, machine, percentile, progress } from '../benchmark';
import { parseArgs } from '../../../services/cli/command';
import { loadConfig } from '../../../services/common/config';
import { createKafka } from '../../../services/common/kafka';
import { createPool, quoteIdent } from '../../../services/common/db';
import { hashSecret } from '../../../services/common/password';
import { createTopicSerde } from '../../../schemas/registry';
import { configKey, configToAvro, ConfigBody } from '../../../schemas/fleet-config';
import { Topics } from '../../../schemas/topics';
import { nodePid, restartNode, RunningCluster, startCluster, stopCluster } from '../../../infra/kafka/cluster';
import { createTopicsReady, freeClusterBase } from '../../cluster/support';

interface Client {
  connect(): Promise<unknown>;
  call(method: string, params: unknown, o?: { callTimeoutMs?: number }): Promise<unknown>;
  close(o?: { force?: boolean }): Promise<unknown>;
}
const { RPCClient } = require('ocpp-rpc') as { RPCClient: new (o: unknown) => Client };

interface Options {
  readonly chargers: number;
  readonly seconds: number;
  readonly rate: number;
  readonly latencySeconds: number;
  readonly killSeconds: number;
}

interface Sample {
  readonly sentAt: number;
  readonly ms: number;
  readonly error: string | undefined;
}

interface TargetResult {
  readonly name: string;
  readonly callsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** CALLs answered per second in the fixed-rate phase (below the target when chargers were still waiting). */
  readonly answeredRate: number;
  readonly kill?: { internalErrors: number; otherErrors: number; windowMs: number; maxMs: number; p99AfterMs: number; acknowledged: number };
}

const meter = (protocol: string, n: number) =>
  protocol === 'ocpp1.6'
    ? { connectorId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: String(n) }] }] }
    : { evseId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: n }] }] };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const forkGateway = (env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> =>
  new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, '..', 'gateway', 'gateway-main.ts'), [], {
      execArgv: ['--max-old-space-size=1024', '-r', 'tsx/cjs'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const onExit = (code: number | null) => reject(new Error(`gateway exited with ${code}`));
    child.once('exit', onExit);
    child.on('message', (m: { type: string; port?: number }) => {
      if (m.type !== 'ready') return;
      child.off('exit', onExit);
      resolve({
        child,
        port: m.port!,
        stop: () =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
            child.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            child.send({ type: 'stop' });
          }),
      });
    });
  });

/** Sends CALLs at `rate` per second in total, spread over the clients, for `seconds`; each client one CALL at a time
 *  (a client still waiting skips its turn, counted as skipped). */
const openLoop = async (clients: readonly { client: Client; protocol: string }[], rate: number, seconds: number, label: string, during?: (elapsedMs: number) => void) => {
  const samples: Sample[] = [];
  const busy = new Set<number>();
  let skipped = 0;
  let next = 0;
  let n = 0;
  const t0 = Date.now();
  const bar = progress(label, seconds);
  const pending: Promise<void>[] = [];
  const tickMs = 10;
  let due = 0;
  while (Date.now() - t0 < seconds * 1000) {
    const elapsed = Date.now() - t0;
    during?.(elapsed);
    const target = Math.floor((elapsed / 1000) * rate);
    for (; due < target; due++) {
      const i = next++ % clients.length;
      if (busy.has(i)) {
        skipped++;
        continue;
      }
      busy.add(i);
      const { client, protocol } = clients[i]!;
      const sentAt = Date.now();
      const t = performance.now();
      pending.push(
        client
          .call('MeterValues', meter(protocol, ++n), { callTimeoutMs: 60000 })
          .then(
            () => void samples.push({ sentAt, ms: performance.now() - t, error: undefined }),
            (e: { rpcErrorCode?: string; message: string }) => void samples.push({ sentAt, ms: performance.now() - t, error: e.rpcErrorCode ?? e.message }),
          )
          .finally(() => busy.delete(i)),
      );
    }
    bar.tick(Math.floor(elapsed / 1000), `${samples.length} answered`);
    await sleep(tickMs);
  }
  bar.tick(seconds);
  await Promise.all(pending);
  return { samples, skipped };
};

const closedLoop = async (clients: readonly { client: Client; protocol: string }[], seconds: number, label: string): Promise<number> => {
  let acked = 0;
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  const bar = progress(label, seconds);
  const timer = setInterval(() => bar.tick(Math.min(seconds, Math.floor((Date.now() - t0) / 1000)), `${acked} acknowledged`), 250);
  await Promise.all(
    clients.map(async ({ client, protocol }, i) => {
      let n = 0;
      while (Date.now() < end) {
        await client.call('MeterValues', meter(protocol, i * 1e6 + ++n), { callTimeoutMs: 60000 }).then(
          () => void acked++,
          () => sleep(100),
        );
      }
    }),
  );
  clearInterval(timer);
  bar.tick(seconds);
  return acked / ((Date.now() - t0) / 1000);
};

const runTarget = async (brokers: number, o: Options): Promise<TargetResult> => {
  const name = brokers === 1 ? '1 broker' : `${brokers} brokers`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-'));
  const base = await freeClusterBase();
  console.log(`\n--- ${name}: starting on 127.0.0.1:${base}${brokers > 1 ? ` (+100 per broker)` : ''} ...`);
  let cluster: RunningCluster | undefined;
  const run = randomUUID().slice(0, 8);
  const schema = `cluster_bench_${run}`;
  const config = loadConfig({ ...process.env, KAFKA_BROKERS: `127.0.0.1:${base}`, DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
  const pool = createPool({ url: config.databaseUrl!, embedded: false, max: 1 });
  let gateway: Awaited<ReturnType<typeof forkGateway>> | undefined;
  const clients: { client: Client; protocol: string }[] = [];
  try {
    cluster = await startCluster({ dir, brokers, addresses: [`127.0.0.1:${base}`], listenHosts: [], controllerPort: base + 1, partnerPort: base + 2, heapMb: 512 }, (l) => console.log(l));
    const kafka = createKafka({ ...config, kafkaBrokers: cluster.bootstrap.split(',') }, 'bench-cluster');
    const admin = kafka.admin();
    await admin.connect();
    await createTopicsReady(admin);
    const serde = createTopicSerde(config.schemaRegistryUrl);
    const ids = Array.from({ length: o.chargers }, (_, i) => `bench-cl-${run}-${i}`);
    const password = 'bench-secret';
    const passwordHash = await hashSecret(password);
    const producer = kafka.producer();
    await producer.connect();
    const messages = [];
    for (const id of ids) {
      const body: ConfigBody = { type: 'ChargerConfigured', chargePointId: id, siteId: `bench-${run}`, maxPowerKw: 22, securityProfile: 1, passwordHash, ownerPartnerId: null, phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 };
      messages.push({ key: configKey(body), value: await serde.encode(Topics.fleetConfig, configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'bench', body })) });
    }
    await producer.send({ topic: Topics.fleetConfig, acks: -1, messages });
    await producer.disconnect();

    gateway = await forkGateway({ KAFKA_BROKERS: cluster.bootstrap, BENCH_GATEWAY_ID: `gw-bench-${run}`, OCPP_PORT: '0', OCPP_DB_SCHEMA: schema, VOLTSTREAM_MODE: 'development' });
    const bar = progress(`connecting ${o.chargers} chargers`, o.chargers);
    for (const [i, id] of ids.entries()) {
      const protocol = i % 2 === 0 ? 'ocpp1.6' : 'ocpp2.0.1';
      const client = new RPCClient({ endpoint: `ws://127.0.0.1:${gateway.port}/ocpp`, identity: id, password, protocols: [protocol], strictMode: true, reconnect: false });
      await client.connect();
      clients.push({ client, protocol });
      bar.tick(i + 1);
    }
    await closedLoop(clients, 3, 'warm-up');
    const callsPerSecond = await closedLoop(clients, o.seconds, 'throughput');
    const latency = await openLoop(clients, o.rate, o.latencySeconds, `latency at ${o.rate}/s`);
    const ok = latency.samples.filter((s) => s.error === undefined).map((s) => s.ms).sort((a, b) => a - b);
    if (latency.skipped) console.log(`  ${latency.skipped} CALLs skipped (the charger's previous CALL was still unanswered)`);
    const result: TargetResult = { name, callsPerSecond, p50: percentile(ok, 50), p99: percentile(ok, 99), answeredRate: latency.samples.length / o.latencySeconds };
    if (brokers === 1) return result;

    const md = await admin.fetchTopicMetadata({ topics: [Topics.ocppFrames] });
    const victim = md.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
    const victimNode = cluster.nodes[victim - 1]!;
    let killedAt = 0;
    const kill = await openLoop(clients, o.rate, o.killSeconds, `leader kill at ${o.rate}/s`, (elapsed) => {
      if (killedAt === 0 && elapsed >= 5000) {
        killedAt = Date.now();
        process.kill(nodePid(victimNode)!, 'SIGKILL');
      }
    });
    const after = kill.samples.filter((s) => s.sentAt >= killedAt);
    const internal = after.filter((s) => s.error === 'InternalError');
    const errorTimes = internal.map((s) => s.sentAt + s.ms);
    const afterOk = after.filter((s) => s.error === undefined).map((s) => s.ms).sort((a, b) => a - b);
    await admin.disconnect();
    console.log(`  restarting broker ${victim} ...`);
    await restartNode(victimNode, cluster.sasl);
    return {
      ...result,
      kill: {
        internalErrors: internal.length,
        otherErrors: after.filter((s) => s.error !== undefined && s.error !== 'InternalError').length,
        windowMs: errorTimes.length ? Math.max(...errorTimes) - Math.min(...errorTimes) : 0,
        maxMs: Math.max(...after.map((s) => s.ms)),
        p99AfterMs: percentile(afterOk, 99),
        acknowledged: afterOk.length,
      },
    };
  } finally {
    await Promise.all(clients.map((c) => c.client.close({ force: true }).catch(() => undefined)));
    await gateway?.stop();
    await stopCluster(dir, 10000);
    fs.rmSync(dir, { recursive: true, force: true });
    await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
    await pool.end();
  }
};

const num = (flag: string | true | undefined, fallback: number): number => (typeof flag === 'string' && Number(flag) > 0 ? Number(flag) : fallback);

export const benchmark: Benchmark = {
  name: 'cluster',
  summary: 'OCPP gateway on one broker and on a 3-broker cluster: durable CALLs/s, p50/p99 at 1,000/s, leader kill',
  run: async (args) => {
    const { flags } = parseArgs(args);
    const o: Options = {
      chargers: num(flags.chargers, 200),
      seconds: num(flags.seconds, 15),
      rate: num(flags.rate, 1000),
      latencySeconds: num(flags['latency-seconds'], 15),
      killSeconds: num(flags['kill-seconds'], 40),
    };
    console.log(`Machine: ${machine()}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const results = [await runTarget(1, o), await runTarget(3, o)];
    const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
    const rows: [string, (r: TargetResult) => string][] = [
      ['durable CALLs/s (closed loop)', (r) => fmt(r.callsPerSecond)],
      [`CALL→CALLRESULT p50 / p99 at ${o.rate}/s (ms)`, (r) => `${fmt(r.p50)} / ${fmt(r.p99)}`],
      [`CALLs answered per second at the ${o.rate}/s target`, (r) => fmt(r.answeredRate)],
      ['leader SIGKILL: InternalErrors', (r) => (r.kill ? String(r.kill.internalErrors + r.kill.otherErrors) : '(no replica to fail over to)')],
      ['leader SIGKILL: first→last error (ms)', (r) => (r.kill ? fmt(r.kill.windowMs) : '')],
      ['leader SIGKILL: slowest CALL / p99 of acknowledged (ms)', (r) => (r.kill ? `${fmt(r.kill.maxMs)} / ${fmt(r.kill.p99AfterMs)}` : '')],
    ];
    console.log(`\n| ${o.chargers} chargers, one gateway process | ${results.map((r) => r.name).join(' | ')} |`);
    console.log(`| --- | ${results.map(() => '---').join(' | ')} |`);
    for (const [label, f] of rows) console.log(`| ${label} | ${results.map(f).join(' | ')} |`);
    console.log(`\nLoad average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    return 0;
  },
};
