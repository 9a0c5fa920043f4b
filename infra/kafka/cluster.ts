import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaSasl } from '../../services/common/config';
import { decodeWith, parseJson } from '../../services/common/decode';
import { kafkajsSasl } from '../../services/common/kafka';
import { topicReplication } from '../../services/common/topic-replication';
import { hostPort, hostToReach, parseHostPort } from '../../services/common/addresses';
import { Daemon, isAlive, readPid, sleep, stopPid } from '../process';
import { awaitBroker, BrokerOptions, brokerReady, newClusterId, prepareBroker, PreparedBroker, serviceAddress, spawnBroker } from './broker';

/** N KRaft nodes on this machine, each a broker and a voter of the controller quorum, each with its own directory and
 *  ports. The first node lives where a broker alone would (its directory, its ports: 127.0.0.1:9092 by default), so
 *  `stack up` and `stack up --brokers 3` share one layout; node i (0-based) uses the first node's ports + 100·i unless
 *  KAFKA_BROKERS names every node. What was started is recorded in cluster.json beside the first node, so `stack
 *  status` and `stack down` find every node. Internal and default topics: min(3, N) copies, min(2, N) in sync. */
export interface ClusterSpec {
  /** The first node's directory; the others get `node-<id>` inside it. */
  readonly dir: string;
  readonly brokers: number;
  /** Services' listener of each node as clients reach it (KAFKA_BROKERS): one entry per node, or the first node's. */
  readonly addresses: readonly string[];
  /** Bind address of each node (KAFKA_LISTEN_HOSTS): one per node, one for all, or none (each binds its address). */
  readonly listenHosts: readonly string[];
  readonly controllerPort: number;
  readonly partnerPort: number;
  readonly heapMb?: number;
  readonly secure?: boolean;
}

export const portStride = 100;

const nodeDir = (dir: string, nodeId: number) => (nodeId === 1 ? dir : path.join(dir, `node-${nodeId}`));

/** Every node's options, from the spec and the cluster's shared id and controller password. */
export const clusterLayout = (spec: ClusterSpec, shared: { clusterId: string; controllerPassword: string }): E.Either<string, BrokerOptions[]> => {
  const n = spec.brokers;
  if (!Number.isInteger(n) || n < 1) return E.left(`a cluster needs at least one broker, not ${n}`);
  if (spec.addresses.length !== 1 && spec.addresses.length !== n)
    return E.left(`KAFKA_BROKERS lists ${spec.addresses.length} brokers for a cluster of ${n}: list every broker, or only the first (the others then take its ports + ${portStride}·i)`);
  if (spec.listenHosts.length > 1 && spec.listenHosts.length !== n) return E.left(`KAFKA_LISTEN_HOSTS lists ${spec.listenHosts.length} addresses for a cluster of ${n}: give one for all, or one per broker`);
  const parsed = spec.addresses.map((a) => ({ a, hp: parseHostPort(a) }));
  const bad = parsed.find((p) => p.hp === undefined);
  if (bad) return E.left(`KAFKA_BROKERS: '${bad.a}' is not host:port`);
  const first = parsed[0]!.hp!;
  const nodes = Array.from({ length: n }, (_, i) => {
    const given = spec.addresses.length === n ? parsed[i]!.hp! : { host: first.host, port: first.port + portStride * i };
    const bindHost = spec.listenHosts.length === 0 ? given.host : (spec.listenHosts[spec.listenHosts.length === 1 ? 0 : i] as string);
    return {
      dir: nodeDir(spec.dir, i + 1),
      port: given.port,
      controllerPort: spec.controllerPort + portStride * i,
      partnerPort: spec.partnerPort + portStride * i,
      bindHost,
      advertisedHost: given.host,
      ...(spec.heapMb !== undefined ? { heapMb: spec.heapMb } : {}),
      ...(spec.secure !== undefined ? { secure: spec.secure } : {}),
    };
  });
  const voters = nodes.map((o, i) => `${i + 1}@${hostPort(o.advertisedHost, o.controllerPort)}`);
  const replication = topicReplication(n);
  const all = nodes.map((o) => serviceAddress(o));
  const dup = all.find((a, i) => all.indexOf(a) !== i);
  if (dup) return E.left(`two brokers of the cluster would listen on ${dup}`);
  return E.right(
    n === 1
      ? nodes
      : nodes.map((o, i) => ({
          ...o,
          cluster: { nodeId: i + 1, voters, clusterId: shared.clusterId, firstNodeDir: spec.dir, controllerPassword: shared.controllerPassword, replication },
        })),
  );
};

/** What `startCluster` recorded beside the first node: how many nodes, where, and how clients reach them. */
const ClusterRecord = t.type({
  brokers: t.number,
  nodes: t.array(t.type({ nodeId: t.number, dir: t.string, address: t.string })),
});
export type ClusterRecord = t.TypeOf<typeof ClusterRecord>;

const recordFile = (dir: string) => path.join(dir, 'cluster.json');

/** Right(undefined): no cluster recorded here (nothing started yet, or a broker alone started before clusters). */
export const readClusterRecord = (dir: string): E.Either<string, ClusterRecord | undefined> => {
  const file = recordFile(dir);
  if (!fs.existsSync(file)) return E.right(undefined);
  return pipe(
    E.tryCatch(() => fs.readFileSync(file, 'utf8'), (e) => `cannot read ${file}: ${(e as Error).message}`),
    E.chain(parseJson),
    E.chain((json) => pipe(decodeWith(ClusterRecord)(json), E.mapLeft((p) => `${file}: ${p.join('; ')}`))),
  );
};

const metaClusterId = (dir: string): string | undefined => {
  try {
    return /^cluster\.id=(.+)$/m.exec(fs.readFileSync(path.join(dir, 'data', 'meta.properties'), 'utf8'))?.[1]?.trim();
  } catch {
    return undefined;
  }
};

/** The controller password of a node that still runs: a node started again must be let into the running quorum. */
const runningControllerPassword = (nodes: readonly BrokerOptions[]): string | undefined => {
  for (const o of nodes) {
    const pid = readPid(path.join(o.dir, 'broker.pid'));
    if (!pid || !isAlive(pid)) continue;
    try {
      const m = /^listener\.name\.controller\.plain\.sasl\.jaas\.config=.* password="([^"]+)"/m.exec(fs.readFileSync(path.join(o.dir, 'server.properties'), 'utf8'));
      if (m) return m[1];
    } catch {
      // no configuration to read: this node cannot tell
    }
  }
  return undefined;
};

export interface RunningCluster {
  readonly nodes: readonly BrokerOptions[];
  /** KAFKA_BROKERS of this cluster: every node's services' listener. */
  readonly bootstrap: string;
  /** The service user of a secure cluster. */
  readonly sasl: KafkaSasl | undefined;
  /** Nodes this call started. */
  readonly started: readonly Daemon[];
}

/** Whether the cluster's metadata lists `n` brokers, asked of `address`. */
const clusterComplete = async (address: string, n: number, sasl: KafkaSasl | undefined): Promise<boolean> => {
  const kafka = new Kafka({ clientId: 'voltstream-probe', brokers: [address], ...(sasl ? { sasl: kafkajsSasl(sasl) } : {}), logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000 });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers.length === n;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

/** Starts the nodes that are not running yet and resolves once every node answers and the cluster's metadata lists
 *  all of them. A storage formatted for a cluster of another size is refused: its quorum has other voters. */
export const startCluster = async (spec: ClusterSpec, log: (s: string) => void = console.log): Promise<RunningCluster> => {
  const recorded = readClusterRecord(spec.dir);
  if (E.isLeft(recorded)) throw new Error(recorded.left);
  const formattedSize = recorded.right?.brokers ?? (metaClusterId(spec.dir) ? 1 : undefined);
  if (formattedSize !== undefined && formattedSize !== spec.brokers)
    throw new Error(
      `the Kafka storage in ${spec.dir} belongs to a cluster of ${formattedSize} broker${formattedSize === 1 ? '' : 's'}, not ${spec.brokers}: ` +
        `start it with --brokers ${formattedSize}, or stop it (voltstream stack down) and remove ${spec.dir} to start afresh`,
    );
  const provisional = clusterLayout(spec, { clusterId: '', controllerPassword: '' });
  if (E.isLeft(provisional)) throw new Error(provisional.left);
  const shared = {
    clusterId: metaClusterId(spec.dir) ?? newClusterId(),
    controllerPassword: runningControllerPassword(provisional.right) ?? crypto.randomBytes(24).toString('base64url'),
  };
  const nodes = pipe(clusterLayout(spec, shared), E.getOrElseW((message) => { throw new Error(message); }));
  const bootstrap = nodes.map(serviceAddress).join(',');
  const prepared: PreparedBroker[] = [];
  for (const o of nodes) prepared.push(await prepareBroker(o, { controllerPassword: shared.controllerPassword, bootstrap }, log));
  const record: ClusterRecord = { brokers: spec.brokers, nodes: nodes.map((o, i) => ({ nodeId: i + 1, dir: o.dir, address: serviceAddress(o) })) };
  fs.writeFileSync(recordFile(spec.dir), `${JSON.stringify(record, null, 2)}\n`);
  const started = prepared.filter((p) => !p.running).map((p) => ({ options: p.options, daemon: spawnBroker(p.options) }));
  const sasl = prepared[0]!.sasl;
  try {
    for (const s of started) await awaitBroker(s.options, s.daemon, sasl, 120000);
    const deadline = Date.now() + 60000;
    while (!(await clusterComplete(serviceAddress(nodes[0]!), nodes.length, sasl))) {
      if (Date.now() > deadline) throw new Error(`the cluster at ${bootstrap} did not list its ${nodes.length} brokers within 60 s`);
      await sleep(250);
    }
  } catch (e) {
    await Promise.all(started.map((s) => stopPid(s.daemon.pid, 5000)));
    throw e;
  }
  return { nodes, bootstrap, sasl, started: started.map((s) => s.daemon) };
};

/** Starts one node of a running cluster again with the configuration it had (after a test killed it). */
export const restartNode = async (o: BrokerOptions, sasl: KafkaSasl | undefined): Promise<Daemon> => {
  const daemon = spawnBroker(o);
  await awaitBroker(o, daemon, sasl, 120000);
  return daemon;
};

export const nodePid = (o: Pick<BrokerOptions, 'dir'>): number | undefined => readPid(path.join(o.dir, 'broker.pid'));

/** Each recorded node (or the first node alone) and whether it answers. */
export const clusterStatus = async (dir: string, first: { host: string; port: number }, sasl: KafkaSasl | undefined): Promise<{ address: string; up: boolean }[]> => {
  const recorded = readClusterRecord(dir);
  const addresses = E.isRight(recorded) && recorded.right ? recorded.right.nodes.map((n) => n.address) : [hostPort(first.host, first.port)];
  return Promise.all(
    addresses.map(async (address) => {
      const hp = parseHostPort(address)!;
      return { address, up: await brokerReady({ port: hp.port, host: hostToReach(hp.host) }, sasl) };
    }),
  );
};

/** Stops every node (all at once: a node waiting for a quorum the others already left would wait out its grace). */
export const stopCluster = async (dir: string, graceMs = 30000): Promise<string[]> => {
  const recorded = readClusterRecord(dir);
  const dirs = E.isRight(recorded) && recorded.right ? recorded.right.nodes.map((n) => n.dir) : [dir];
  return Promise.all(
    dirs.map(async (d) => {
      const pidFile = path.join(d, 'broker.pid');
      const pid = readPid(pidFile);
      const result = pid ? await stopPid(pid, graceMs) : 'not running';
      fs.rmSync(pidFile, { force: true });
      return result;
    }),
  );
};


