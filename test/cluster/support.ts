/** Helpers for the cluster failure tests: a private 3-broker cluster on free ports in a temp directory, a steady OCPP
 *  load from ocpp-rpc through a gateway started in this process, the broker that leads the load's partitions, and the
 *  checks every scenario shares (each acknowledged frame exactly once, InternalError only in the failover window and
 *  only for the chargers of the partitions that lost their leader). */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Admin, Kafka, Partitioners } from 'kafkajs';
import { BrokerOptions } from '../../infra/kafka/broker';
import { nodePid, RunningCluster, startCluster, stopCluster } from '../../infra/kafka/cluster';
import { databaseReady } from '../../services/common/db';
import { createKafka, ensureTopics } from '../../services/common/kafka';
import { Topics, topicSpecs } from '../../schemas/topics';
import { Gateway } from '../../services/ocpp-gateway/gateway';
import { checkChain, Json, meterValuesPayload, ocppClient, OcppClient } from '../gateway/support';
import { plainRegistryClient, uniq } from '../support/stack';

const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** A first port p such that p, p+1, p+2 and the same +100 and +200 (three nodes' service, controller and partner
 *  listeners) are free now. Below Linux's ephemeral range (32768 and up), where a client's outgoing connection could
 *  take a port between this check and the broker's bind. */
export const freeClusterBase = async (): Promise<number> => {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 21000 + Math.floor(Math.random() * 110) * 100;
    const ports = [0, 100, 200].flatMap((d) => [base + d, base + d + 1, base + d + 2]);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error('no free ports for a test cluster');
};

export interface TestCluster extends RunningCluster {
  readonly dir: string;
  readonly kafka: Kafka;
  stop(): Promise<void>;
}

/** Another process may still take one of the ports before a broker binds it: then a second try on other ports. */
const startOnFreePorts = async (log: (s: string) => void): Promise<{ dir: string; cluster: RunningCluster }> => {
  for (let attempt = 1; ; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-cluster-'));
    const base = await freeClusterBase();
    try {
      return { dir, cluster: await startCluster({ dir, brokers: 3, addresses: [`127.0.0.1:${base}`], listenHosts: [], controllerPort: base + 1, partnerPort: base + 2, heapMb: 384 }, log) };
    } catch (e) {
      await stopCluster(dir, 5000);
      fs.rmSync(dir, { recursive: true, force: true });
      if (attempt >= 2 || !/BindException|Address already in use|Net\.bind/.test((e as Error).message)) throw e;
      log(`a port was taken meanwhile (${(e as Error).message.split('\n')[0]}); trying other ports`);
    }
  }
};

export const startTestCluster = async (log: (s: string) => void): Promise<TestCluster> => {
  const { dir, cluster } = await startOnFreePorts(log);
  const kafka = createKafka({ kafkaBrokers: cluster.bootstrap.split(',') }, 'cluster-test-admin');
  const stop = async () => {
    await stopCluster(dir, 10000);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const admin = kafka.admin();
  try {
    await admin.connect();
    await createTopicsReady(admin);
  } catch (e) {
    await stop();
    throw e;
  } finally {
    await admin.disconnect();
  }
  return {
    ...cluster,
    dir,
    kafka,
    stop,
  };
};

/** The contract's topics, created with the cluster's replication (3 copies, 2 in sync) and answering offset requests
 *  on every partition: a cluster that has just formed may still say that a broker "does not host this topic-partition"
 *  for a moment after the topic exists. */
export const createTopicsReady = async (admin: Admin): Promise<void> => {
  for (let attempt = 0; ; attempt++) {
    try {
      await ensureTopics(admin, { partitions: 6 });
      for (const spec of topicSpecs) await admin.fetchTopicOffsets(spec.name);
      return;
    } catch (e) {
      if (attempt >= 60) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
};

export interface PartitionState {
  readonly partition: number;
  readonly leader: number;
  readonly isr: readonly number[];
  readonly replicas: readonly number[];
}

export const partitionStates = async (admin: Admin, topic: string): Promise<PartitionState[]> => {
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  return md.topics[0]!.partitions.map((p) => ({ partition: p.partitionId, leader: p.leader, isr: p.isr, replicas: p.replicas }));
};

/** The ocpp.frames partition the gateway writes a charger's frames to (its frame log's partitioner). */
export const framesPartitionOf = (chargePointId: string, partitions: number): number =>
  Partitioners.DefaultPartitioner()({
    topic: Topics.ocppFrames,
    partitionMetadata: Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, replicas: [], isr: [] })) as never,
    message: { key: chargePointId, value: null },
  });

/** The node (its id) leading the partition of `chargePointId`. */
export const nodeOf = (cluster: TestCluster, nodeId: number): BrokerOptions => cluster.nodes[nodeId - 1]!;

export const pidOf = (o: BrokerOptions): number => {
  const pid = nodePid(o);
  if (!pid) throw new Error(`no pid for the broker in ${o.dir}`);
  return pid;
};

/** One CALL of the load: when it was sent and answered, and how. */
export interface CallRecord {
  readonly n: number;
  readonly sentAt: number;
  answeredAt: number;
  error: string | undefined;
}

export interface LoadCharger {
  readonly id: string;
  readonly protocol: 'ocpp1.6' | 'ocpp2.0.1';
  readonly client: OcppClient;
  readonly calls: CallRecord[];
  running: boolean;
  loop?: Promise<void>;
}

const meter = meterValuesPayload;

/** Connects a charger to `gw` and sends MeterValues in a loop (the counter in the value), one CALL at a time, at most
 *  about 6 a second (the gateway's per-connection limit is 20 frames/s), again 250 ms after an error. */
export const startCharger = (gw: Gateway, id: string, protocol: LoadCharger['protocol']): Promise<LoadCharger> => startChargerAt(gw.url, id, protocol);

export const stopChargers = async (chargers: readonly LoadCharger[]) => {
  for (const c of chargers) c.running = false;
  await Promise.all(chargers.map((c) => c.loop));
  for (const c of chargers) await c.client.close();
};

export const acked = (c: LoadCharger): CallRecord[] => c.calls.filter((r) => r.answeredAt > 0 && r.error === undefined);
export const failed = (c: LoadCharger): CallRecord[] => c.calls.filter((r) => r.error !== undefined);

const quantile = (xs: readonly number[], q: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

export interface FailoverReport {
  readonly acknowledged: number;
  readonly internalErrors: number;
  /** From the first CALL answered with an error to the last one (ms); 0 when none. */
  readonly errorWindowMs: number;
  /** From the signal to the first acknowledged CALL sent after the last error (ms). */
  readonly recoveryMs: number;
  readonly p50BeforeMs: number;
  readonly p99BeforeMs: number;
  /** The slowest CALL→CALLRESULT among CALLs sent after the signal. */
  readonly maxAfterMs: number;
  /** Runs of InternalErrors (answered less than 2 s apart): from and to, in ms after the signal, and how many. */
  readonly bursts: readonly { fromMs: number; toMs: number; count: number }[];
}

const burstsOf = (answeredAt: readonly number[], signalAt: number): FailoverReport['bursts'] => {
  const out: { fromMs: number; toMs: number; count: number }[] = [];
  for (const t of [...answeredAt].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && t - signalAt - last.toMs < 2000) {
      last.toMs = t - signalAt;
      last.count++;
    } else out.push({ fromMs: t - signalAt, toMs: t - signalAt, count: 1 });
  }
  return out;
};

export const failoverReport = (chargers: readonly LoadCharger[], signalAt: number): FailoverReport => {
  const all = chargers.flatMap((c) => c.calls.filter((r) => r.answeredAt > 0));
  const errors = all.filter((r) => r.error !== undefined);
  const ok = all.filter((r) => r.error === undefined);
  const lastError = Math.max(signalAt, ...errors.map((r) => r.answeredAt));
  const firstAfter = Math.min(...ok.filter((r) => r.sentAt >= lastError).map((r) => r.answeredAt));
  const before = ok.filter((r) => r.answeredAt < signalAt).map((r) => r.answeredAt - r.sentAt);
  return {
    acknowledged: ok.length,
    internalErrors: errors.length,
    errorWindowMs: errors.length ? Math.max(...errors.map((r) => r.answeredAt)) - Math.min(...errors.map((r) => r.answeredAt)) : 0,
    recoveryMs: firstAfter - signalAt,
    p50BeforeMs: quantile(before, 0.5),
    p99BeforeMs: quantile(before, 0.99),
    maxAfterMs: Math.max(...ok.filter((r) => r.sentAt >= signalAt).map((r) => r.answeredAt - r.sentAt)),
    bursts: burstsOf(errors.map((r) => r.answeredAt), signalAt),
  };
};

/** Every record of ocpp.frames up to its end offsets taken now, read_committed, decoded with a registry client that
 *  knows nothing but the URL, grouped by key. */
export const readAllFrames = async (kafka: Kafka, keys: ReadonlySet<string>): Promise<Map<string, Json[]>> => {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(Topics.ocppFrames)).map((p) => [p.partition, Number(p.high)]));
  await admin.disconnect();
  const registry = plainRegistryClient();
  const consumer = kafka.consumer({ groupId: uniq('cluster-test-reader'), maxWaitTimeInMs: 100, readUncommitted: false });
  const out = new Map<string, Json[]>();
  const reached = new Map<number, number>();
  const done = () => [...ends].every(([p, end]) => end === 0 || (reached.get(p) ?? -1) >= end - 1);
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: Topics.ocppFrames, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      if (done()) resolve();
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            reached.set(partition, Number(message.offset));
            const key = message.key?.toString() ?? '';
            if (keys.has(key) && message.value) out.set(key, [...(out.get(key) ?? []), await registry.decode(message.value)]);
            if (done()) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
};

/** Checks that every acknowledged CALL of the charger is in its frames exactly once, with its CALLRESULT, in an
 *  unbroken chain. */
export const checkFramesExactlyOnce = (c: LoadCharger, unsorted: readonly Json[]): number => {
  const frames = [...unsorted].sort((a: Json, b: Json) => Number(a.seq) - Number(b.seq));
  expect(new Set(frames.map((f: Json) => Number(f.seq))).size).toBe(frames.length);
  checkChain(frames);
  const calls = frames.filter((f: Json) => f.kind === 'CALL' && f.action === 'MeterValues');
  const valueOf = (f: Json) => Number(JSON.parse(f.payloadJson).meterValue[0].sampledValue[0].value);
  const written = calls.map(valueOf);
  // Nothing twice: a CALL retried inside the producer (idempotence) or after InternalError has a new counter value.
  expect(written.length - new Set(written).size).toBe(0);
  const ackedValues = acked(c).map((r) => r.n);
  expect(ackedValues.filter((n) => !written.includes(n))).toEqual([]);
  const results = new Set(frames.filter((f: Json) => f.kind === 'CALLRESULT').map((f: Json) => f.uniqueId));
  const ackedSet = new Set(ackedValues);
  expect(calls.filter((f: Json) => ackedSet.has(valueOf(f)) && !results.has(f.uniqueId)).map(valueOf)).toEqual([]);
  return frames.length;
};

/** Waits until every partition of `topic` has all `replicas` in sync (a scenario starts from a whole cluster). */
export const waitForFullIsr = async (admin: Admin, topic: string, replicas: number, timeoutMs = 120000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await partitionStates(admin, topic).catch(() => []);
    if (states.length > 0 && states.every((s) => s.isr.length === replicas)) return;
    if (Date.now() > deadline) throw new Error(`${topic}: not every partition has ${replicas} replicas in sync: ${JSON.stringify(states)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
};

export interface ScenarioResult {
  readonly victim: number;
  readonly report: FailoverReport;
  /** InternalErrors of the chargers whose partitions the victim led, and of the others. */
  readonly errorsOnVictimPartitions: number;
  readonly errorsElsewhere: number;
  /** From the signal until no ocpp.frames partition named the victim as leader (ms). */
  readonly leadersMovedMs: number;
  /** InternalErrors for CALLs sent after the leaders had moved (a live leader for every partition). */
  readonly errorsAfterLeadersMoved: number;
  /** From the signal until the victim was back in every ISR (ms). */
  readonly wholeAgainMs: number;
}

/** What a scenario does to the victim broker: `disturb` right away; `restore` (SIGKILL: start it again; SIGSTOP:
 *  SIGCONT) `restoreAfterMs` after the signal, or, without it, once every charger is acknowledged again; after which
 *  the cluster must become whole again. */
export interface Disturbance {
  disturb(victim: BrokerOptions, pid: number): void;
  restore(victim: BrokerOptions, pid: number): Promise<void>;
  readonly restoreAfterMs?: number;
}

/** Steady load from four chargers (two on partitions the victim leads, two elsewhere), the victim disturbed, load kept
 *  on until every charger has 30 acknowledgements after its last error, the victim restored and back in every ISR;
 *  then the frames are checked charger by charger. */
export const failoverScenario = async (
  cluster: TestCluster,
  gateway: (chargerIds: readonly string[]) => Promise<Gateway>,
  prefix: string,
  disturbance: Disturbance,
  log: (s: string) => void,
): Promise<ScenarioResult> => {
  // Short requests and few retries: with the client's defaults, asking a frozen broker who leads held the measurement
  // of when the leaders moved for up to the whole freeze.
  const admin = createKafka({ kafkaBrokers: cluster.bootstrap.split(',') }, uniq('cluster-test-watch'), { requestTimeout: 2000, retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 } }).admin();
  await admin.connect();
  const chargers: LoadCharger[] = [];
  let stopped = false;
  let gw: Gateway | undefined;
  try {
    await waitForFullIsr(admin, Topics.ocppFrames, 3);
    const states = await partitionStates(admin, Topics.ocppFrames);
    const victim = states[0]!.leader;
    const leaderOf = (id: string) => states.find((s) => s.partition === framesPartitionOf(id, states.length))!.leader;
    const onVictim: string[] = [];
    const elsewhere: string[] = [];
    for (let i = 0; onVictim.length < 2 || elsewhere.length < 2; i++) {
      const id = `${prefix}-${i}`;
      const group = leaderOf(id) === victim ? onVictim : elsewhere;
      if (group.length < 2) group.push(id);
    }
    const ids = [...onVictim, ...elsewhere];
    gw = await gateway(ids);
    for (const [i, id] of ids.entries()) chargers.push(await startCharger(gw, id, i % 2 === 0 ? 'ocpp1.6' : 'ocpp2.0.1'));
    const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await until('steady load', () => chargers.every((c) => acked(c).length >= 30), 120000);
    log(`victim: broker ${victim} (leads ${states.filter((s) => s.leader === victim).map((s) => s.partition).join(', ')} of ocpp.frames); load on ${ids.join(', ')}`);
    const victimNode = nodeOf(cluster, victim);
    const victimPid = pidOf(victimNode);
    const signalAt = Date.now();
    disturbance.disturb(victimNode, victimPid);
    const restoreAfterMs = disturbance.restoreAfterMs;
    let restored: Promise<void> | undefined;
    if (restoreAfterMs !== undefined) restored = new Promise((r) => setTimeout(r, restoreAfterMs)).then(() => disturbance.restore(victimNode, victimPid));
    let leadersMovedAt = 0;
    await until('leaders away from the victim', async () => {
      const now = await partitionStates(admin, Topics.ocppFrames).catch(() => []);
      if (leadersMovedAt === 0 && now.length > 0 && now.every((s) => s.leader !== victim && s.leader >= 0)) leadersMovedAt = Date.now();
      return leadersMovedAt > 0 || Date.now() - signalAt > 60000;
    }, 90000);
    log(`leaders moved ${leadersMovedAt - signalAt} ms after the signal`);
    const lastErrorAt = (c: LoadCharger) => Math.max(signalAt, ...failed(c).map((r) => r.answeredAt));
    await until('30 acknowledgements per charger after its last error', () => chargers.every((c) => acked(c).filter((r) => r.sentAt > lastErrorAt(c)).length >= 30), 180000);
    log(`acknowledging again ${Date.now() - signalAt} ms after the signal; ${chargers.map((c) => failed(c).length).join('/')} InternalErrors so far`);
    await (restored ?? disturbance.restore(victimNode, victimPid));
    await until('the victim back in every ISR', async () => {
      const now = await partitionStates(admin, Topics.ocppFrames).catch(() => []);
      return now.length > 0 && now.every((s) => s.isr.length === 3);
    }, 180000);
    const wholeAt = Date.now();
    log(`victim back in every ISR ${wholeAt - signalAt} ms after the signal`);
    const tail = chargers.map((c) => acked(c).length);
    await until('10 more acknowledgements with the cluster whole', () => chargers.every((c, i) => acked(c).length >= tail[i]! + 10), 60000);
    await stopChargers(chargers);
    stopped = true;
    await gw.stop();
    gw = undefined;
    const report = failoverReport(chargers, signalAt);
    const errorsOf = (group: readonly string[]) => chargers.filter((c) => group.includes(c.id)).reduce((sum, c) => sum + failed(c).length, 0);
    const result: ScenarioResult = {
      victim,
      report,
      errorsOnVictimPartitions: errorsOf(onVictim),
      errorsElsewhere: errorsOf(elsewhere),
      leadersMovedMs: leadersMovedAt > 0 ? leadersMovedAt - signalAt : NaN,
      errorsAfterLeadersMoved: chargers.flatMap((c) => failed(c)).filter((r) => leadersMovedAt > 0 && r.sentAt >= leadersMovedAt).length,
      wholeAgainMs: wholeAt - signalAt,
    };
    log(JSON.stringify(result));

    // Only InternalError, and only for CALLs answered after the signal.
    const errors = chargers.flatMap((c) => failed(c));
    expect([...new Set(errors.map((r) => r.error))].filter((e) => e !== 'InternalError')).toEqual([]);
    expect(errors.filter((r) => r.answeredAt < signalAt)).toEqual([]);
    expect(leadersMovedAt).toBeGreaterThan(0);
    // Chargers whose partitions kept their leader are never refused: each partition has a lane of its own.
    expect(result.errorsElsewhere).toBe(0);
    // With the cluster whole again and a CALL acknowledged after that, the gateway (never restarted) refuses nothing:
    // the failure is over for it too. Errors between the leaders moving and this point are measured, not asserted:
    // see docs/DEPLOYMENT.md, "What losing a broker costs".
    const firstAckWhole = Math.min(...chargers.flatMap((c) => acked(c)).filter((r) => r.sentAt >= wholeAt).map((r) => r.answeredAt));
    expect(Number.isFinite(firstAckWhole)).toBe(true);
    expect(errors.filter((r) => r.sentAt > firstAckWhole)).toEqual([]);
    const frames = await readAllFrames(cluster.kafka, new Set(ids));
    for (const c of chargers) {
      const records = checkFramesExactlyOnce(c, frames.get(c.id) ?? []);
      log(`${c.id}: ${acked(c).length} acknowledged, ${failed(c).length} InternalErrors, ${records} records`);
    }
    return result;
  } finally {
    if (!stopped) await stopChargers(chargers).catch(() => undefined);
    await gw?.stop().catch(() => undefined);
    await admin.disconnect();
  }
};

/** A charger of the load like `startCharger`, connected to any gateway URL (e.g. a gateway in another process). */
export const startChargerAt = async (url: string, id: string, protocol: LoadCharger['protocol']): Promise<LoadCharger> => {
  const client = ocppClient({ endpoint: url, identity: id, password: `pw-${id}`, protocols: [protocol] });
  await client.connect();
  const c: LoadCharger = { id, protocol, client, calls: [], running: true };
  c.loop = (async () => {
    let n = 0;
    while (c.running) {
      const rec: CallRecord = { n: ++n, sentAt: Date.now(), answeredAt: 0, error: undefined };
      c.calls.push(rec);
      try {
        await client.call('MeterValues', meter(protocol, rec.n), { callTimeoutMs: 120000 });
        rec.answeredAt = Date.now();
        await new Promise((r) => setTimeout(r, 150));
      } catch (e) {
        rec.answeredAt = Date.now();
        rec.error = (e as { rpcErrorCode?: string }).rpcErrorCode ?? (e as Error).message;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  })();
  return c;
};

/** A PostgreSQL of the test's own that it may stop: the embedded TimescaleDB (infra/database/embedded-main.ts, as
 *  `voltstream stack up` runs it) in a child process, its data in a temp directory, on a port the system chose. Never
 *  the shared one. `pause`/`resume` freeze it (SIGSTOP/SIGCONT: connections stay open, nothing answers);
 *  `shutDown`/`startAgain` stop it cleanly (SIGTERM: connections closed, new ones refused) and start it again on the
 *  same port and data. */
export interface PrivateDatabase {
  readonly url: string;
  readonly port: number;
  pid(): number;
  pause(): void;
  resume(): void;
  shutDown(): Promise<void>;
  startAgain(): Promise<void>;
  stop(): Promise<void>;
}

const systemFreePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });

export const startPrivateDatabase = async (log: (s: string) => void): Promise<PrivateDatabase> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-private-db-'));
  const port = await systemFreePort();
  const root = path.join(__dirname, '..', '..');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';
  const shutDown = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGCONT');
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(t);
  };
  const stop = async () => {
    await shutDown();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const startAgain = async () => {
    const c = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), path.join(root, 'infra', 'database', 'embedded-main.ts')], {
      cwd: root,
      env: { ...process.env, EMBEDDED_DB_PORT: String(port), EMBEDDED_DB_HOST: '127.0.0.1', EMBEDDED_DB_DIR: path.join(dir, 'data') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = c;
    c.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    exited = new Promise<void>((r) => c.once('exit', () => r()));
    const deadline = Date.now() + 90000;
    while (!(await databaseReady(url))) {
      if (c.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`private database on port ${port} did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await startAgain();
  log(`private database (pid ${child!.pid}) at ${url}, data in ${dir}`);
  return {
    url,
    port,
    pid: () => child!.pid!,
    pause: () => void child!.kill('SIGSTOP'),
    resume: () => void child!.kill('SIGCONT'),
    shutDown,
    startAgain,
    stop,
  };
};

/** A gateway instance in a process of its own (test/cluster/gateway-runner.ts); resolves once it printed `ready`. */
export interface GatewayProcess {
  readonly name: string;
  readonly url: string;
  readonly instanceId: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** SIGTERM (a clean stop: sessions released, lease ended), SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

export const startGatewayProcess = async (name: string, env: NodeJS.ProcessEnv, log: (s: string) => void): Promise<GatewayProcess> => {
  const root = path.join(__dirname, '..', '..');
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'gateway-runner.ts')], { cwd: root, env: { ...env, GW_ID: uniq(name) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => process.stderr.write(`[${name}] ${c}`));
  const stop = async (timeoutMs = 15000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(t);
  };
  return new Promise((resolve, reject) => {
    void exited.then(() => reject(new Error(`${name} exited before it was ready`)));
    let rest = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        const [what, port, instanceId] = l.split(' ');
        if (what === 'ready') {
          log(`${name} ready on port ${port} (${instanceId})`);
          resolve({ name, url: `ws://127.0.0.1:${port}/ocpp`, instanceId: instanceId!, child, exited, stop });
        }
      }
    });
  });
};
