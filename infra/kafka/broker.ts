import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaSasl } from '../../services/common/config';
import { decodeWith } from '../../services/common/decode';
import { kafkajsSasl } from '../../services/common/kafka';
import { LocalKafkaAccess, localBrokerDir, readLocalKafkaAccess, writeLocalKafkaAccess } from '../../services/common/kafka-access';
import { controllerUserName, serviceUserName } from '../../services/common/kafka-principals';
import { BrokerTls, ensureBrokerTls } from './tls';
import { TopicReplication } from '../../services/common/topic-replication';
import { hostPort, hostToReach } from '../../services/common/addresses';
import { fetchKafka, kafkaLibDir } from '../fetch';
import { findJava } from '../java';
import { stopDaemon, StopWaiting, Daemon, portOpen, readPid, spawnDaemon, stopPid, tailFile, waitUntil, isAlive } from '../process';

/** A KRaft broker and controller in one process: alone (a quorum of one), or one node of a cluster (cluster.ts).
 *  Listeners, bound to `bindHost` (default 127.0.0.1) and advertised at `advertisedHost`:
 *  - SERVICE (`port`): the services'. Development: PLAINTEXT, its anonymous principal a super user. Secure
 *    (`secure: true`): SASL_PLAINTEXT with SCRAM, and only the generated service user (voltstream-service, password
 *    kept in service-user.json, mode 0600) is a super user.
 *  - PARTNER (`partnerPort`): SASL_SSL with SCRAM, certificate signed by the broker directory's own CA (tls.ts); what a
 *    partner may do is what its ACLs allow (StandardAuthorizer, allow.everyone.if.no.acl.found=false).
 *  - CONTROLLER (`controllerPort`): never advertised to clients, SASL/PLAIN with one static user made at each start of
 *    the node or cluster (the password lives in server.properties, mode 0600), so no SCRAM user (a partner's included)
 *    authenticates there.
 *  How clients reach it is written to access.json in `dir` (services/common/kafka-access.ts). See SECURITY.md. */
export interface BrokerOptions {
  readonly dir: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly partnerPort: number;
  readonly heapMb?: number;
  /** Services authenticate (SCRAM service user) instead of connecting anonymously. */
  readonly secure?: boolean;
  /** Where the listeners bind; default 127.0.0.1. */
  readonly bindHost?: string;
  /** Where clients and the other nodes reach this broker; default the bind host (loopback for a wildcard bind). */
  readonly advertisedHost?: string;
  /** Set for a node of a cluster of several; absent: a quorum of one, internal topics with one copy. */
  readonly cluster?: ClusterMembership;
}

/** What a node shares with the other nodes of its cluster. */
export interface ClusterMembership {
  readonly nodeId: number;
  /** `id@host:controllerPort` of every controller (every node here: each runs broker and controller). */
  readonly voters: readonly string[];
  readonly clusterId: string;
  /** The first node's directory: its CA signs every node's partner certificate, its service-user.json is the service
   *  user of every node. */
  readonly firstNodeDir: string;
  readonly controllerPassword: string;
  readonly replication: TopicReplication;
}

const bindHostOf = (o: BrokerOptions): string => o.bindHost ?? '127.0.0.1';
export const advertisedHostOf = (o: BrokerOptions): string => o.advertisedHost ?? hostToReach(bindHostOf(o));
export const serviceAddress = (o: BrokerOptions): string => hostPort(advertisedHostOf(o), o.port);
const partnerAddress = (o: BrokerOptions): string => hostPort(advertisedHostOf(o), o.partnerPort);
const membershipOf = (o: BrokerOptions): Omit<ClusterMembership, 'controllerPassword' | 'clusterId'> =>
  o.cluster ?? { nodeId: 1, voters: [`1@${hostPort(advertisedHostOf(o), o.controllerPort)}`], firstNodeDir: o.dir, replication: { replicationFactor: 1, minInsyncReplicas: 1 } };

/** The stack's first broker (cluster.ts lays out the others). */
export const defaultBrokerOptions = (home: string): BrokerOptions => ({
  dir: localBrokerDir(home),
  port: 9092,
  controllerPort: Number(process.env.KAFKA_CONTROLLER_PORT ?? 9093),
  partnerPort: Number(process.env.KAFKA_PARTNER_PORT ?? 9094),
});

const files = (o: Pick<BrokerOptions, 'dir'>) => ({
  data: path.join(o.dir, 'data'),
  config: path.join(o.dir, 'server.properties'),
  log4j: path.join(o.dir, 'log4j2.properties'),
  log: path.join(o.dir, 'broker.log'),
  pid: path.join(o.dir, 'broker.pid'),
});
const serviceUserFile = (o: BrokerOptions) => path.join(membershipOf(o).firstNodeDir, 'service-user.json');

/** The secrets a start of the broker needs. */
export interface BrokerSecrets {
  readonly controllerPassword: string;
  /** Secure brokers only. */
  readonly servicePassword: string | undefined;
  readonly tls: BrokerTls;
}

const scramModule = 'org.apache.kafka.common.security.scram.ScramLoginModule';
const plainModule = 'org.apache.kafka.common.security.plain.PlainLoginModule';

export const serverProperties = (o: BrokerOptions, secrets: BrokerSecrets): string => {
  const service = secrets.servicePassword;
  const superUsers = [service ? `User:${serviceUserName}` : 'User:ANONYMOUS', `User:${controllerUserName}`];
  const member = membershipOf(o);
  const bind = bindHostOf(o);
  const { replicationFactor, minInsyncReplicas } = member.replication;
  return [
    'process.roles=broker,controller',
    `node.id=${member.nodeId}`,
    `controller.quorum.voters=${member.voters.join(',')}`,
    `listeners=SERVICE://${hostPort(bind, o.port)},CONTROLLER://${hostPort(bind, o.controllerPort)},PARTNER://${hostPort(bind, o.partnerPort)}`,
    // The controller listener is known only to the quorum (controller.quorum.voters), never in client metadata.
    `advertised.listeners=SERVICE://${serviceAddress(o)},PARTNER://${partnerAddress(o)}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=SERVICE',
    `listener.security.protocol.map=SERVICE:${service ? 'SASL_PLAINTEXT' : 'PLAINTEXT'},CONTROLLER:SASL_PLAINTEXT,PARTNER:SASL_SSL`,
    'sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512',
    'sasl.mechanism.controller.protocol=PLAIN',
    'listener.name.controller.sasl.enabled.mechanisms=PLAIN',
    `listener.name.controller.plain.sasl.jaas.config=${plainModule} required username="${controllerUserName}" password="${secrets.controllerPassword}" user_${controllerUserName}="${secrets.controllerPassword}";`,
    ...(service
      ? [
          'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
          'listener.name.service.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512',
          `listener.name.service.scram-sha-512.sasl.jaas.config=${scramModule} required username="${serviceUserName}" password="${service}";`,
          `listener.name.service.scram-sha-256.sasl.jaas.config=${scramModule} required username="${serviceUserName}" password="${service}";`,
        ]
      : []),
    'listener.name.partner.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512',
    `listener.name.partner.scram-sha-256.sasl.jaas.config=${scramModule} required;`,
    `listener.name.partner.scram-sha-512.sasl.jaas.config=${scramModule} required;`,
    'listener.name.partner.ssl.keystore.type=PKCS12',
    `listener.name.partner.ssl.keystore.location=${secrets.tls.keystoreFile}`,
    `listener.name.partner.ssl.keystore.password=${secrets.tls.keystorePassword}`,
    `listener.name.partner.ssl.key.password=${secrets.tls.keystorePassword}`,
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    `super.users=${superUsers.join(';')}`,
    'allow.everyone.if.no.acl.found=false',
    `log.dirs=${files(o).data}`,
    'num.partitions=1',
    `default.replication.factor=${replicationFactor}`,
    `min.insync.replicas=${minInsyncReplicas}`,
    `offsets.topic.replication.factor=${replicationFactor}`,
    'offsets.topic.num.partitions=10',
    `transaction.state.log.replication.factor=${replicationFactor}`,
    `transaction.state.log.min.isr=${minInsyncReplicas}`,
    'transaction.state.log.num.partitions=10',
    `share.coordinator.state.topic.replication.factor=${replicationFactor}`,
    `share.coordinator.state.topic.min.isr=${minInsyncReplicas}`,
    'unclean.leader.election.enable=false',
    'auto.create.topics.enable=false',
    'group.initial.rebalance.delay.ms=0',
    'log.retention.hours=-1',
    'message.max.bytes=2097152',
    '',
  ].join('\n');
};

const log4jProperties = [
  'rootLogger.level=WARN',
  'rootLogger.appenderRef.stdout.ref=STDOUT',
  'appender.stdout.type=Console',
  'appender.stdout.name=STDOUT',
  'appender.stdout.layout.type=PatternLayout',
  'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
  'logger.server.name=kafka.server.KafkaRaftServer',
  'logger.server.level=INFO',
  '',
].join('\n');

const classpath = () => `${kafkaLibDir}/*`;

/** Whether the broker answers on `port` (at `host`, default 127.0.0.1), asked as `sasl` (anonymously without). */
export const brokerReady = async (o: Pick<BrokerOptions, 'port'> & { readonly host?: string }, sasl?: KafkaSasl): Promise<boolean> => {
  const host = hostToReach(o.host ?? '127.0.0.1');
  if (!(await portOpen(o.port, host))) return false;
  const kafka = new Kafka({
    clientId: 'voltstream-probe',
    brokers: [hostPort(host, o.port)],
    ...(sasl ? { sasl: kafkajsSasl(sasl) } : {}),
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1000,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

/** Runs one of Kafka's own command-line tools (e.g. kafka.admin.ConfigCommand) with the broker's class path. */
export const runKafkaTool = (mainClass: string, args: readonly string[]): string => {
  fetchKafka();
  const java = findJava(17);
  return execFileSync(java.bin, ['-cp', classpath(), '-Dlog4j2.level=WARN', mainClass, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
};

/** A KRaft cluster id: 16 random bytes in base64url, as Kafka makes them, and like Kafka's never starting with '-'
 *  (the storage tool would read `-t -abc...` as an option: one format in 64 failed). */
export const newClusterId = (): string => {
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url').slice(0, 22);
    if (!id.startsWith('-')) return id;
  }
};

const ServiceUserFile = t.type({ username: t.string, password: t.string });

/** The service user's password: made when a secure broker formats its storage (the SCRAM credential is written into
 *  the metadata log then, before any client can connect) and kept beside it. */
const serviceUserPassword = (o: BrokerOptions, formatted: boolean): E.Either<string, string | undefined> => {
  const file = serviceUserFile(o);
  if (!o.secure) return E.right(undefined);
  if (fs.existsSync(file))
    return pipe(
      E.tryCatch(() => JSON.parse(fs.readFileSync(file, 'utf8')) as unknown, (e) => `${file}: ${(e as Error).message}`),
      E.chain((json) => pipe(decodeWith(ServiceUserFile)(json), E.mapLeft((p) => `${file}: ${p.join('; ')}`))),
      E.map((u) => u.password),
    );
  if (formatted)
    return E.left(
      `the broker storage in ${files(o).data} was formatted without the service user, so a secure broker could not authenticate anyone ` +
        'on its services listener: start it without --secure (development), or remove that directory to start afresh',
    );
  const password = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${JSON.stringify({ username: serviceUserName, password })}\n`, { mode: 0o600 });
  return E.right(password);
};

/** `bootstrap`: the services' listener of every node of the cluster, comma-separated (one node: its own). */
const accessOf = (o: BrokerOptions, secrets: BrokerSecrets, bootstrap: string): LocalKafkaAccess => ({
  bootstrap,
  serviceProtocol: secrets.servicePassword ? 'SASL_PLAINTEXT' : 'PLAINTEXT',
  service: serviceSasl(secrets.servicePassword) ?? null,
  partner: { bootstrap: partnerAddress(o), protocol: 'SASL_SSL', caFile: secrets.tls.caFile },
});

const serviceSasl = (password: string | undefined) =>
  password ? ({ mechanism: 'scram-sha-512', username: serviceUserName, password } as const) : undefined;

/** A node whose configuration and storage are ready, not started yet. */
export interface PreparedBroker {
  readonly options: BrokerOptions;
  readonly sasl: KafkaSasl | undefined;
  /** The node was already running and answering: nothing to start. */
  readonly running: Daemon | undefined;
}

/** Writes the node's configuration, TLS material and access file, and formats its storage the first time (with the
 *  cluster's id, or a new one for a node alone). */
export const prepareBroker = async (
  o: BrokerOptions,
  opts: { controllerPassword: string; bootstrap: string },
  log: (s: string) => void,
): Promise<PreparedBroker> => {
  fetchKafka(log);
  const f = files(o);
  const existing = readPid(f.pid);
  if (existing && isAlive(existing)) {
    const access = readLocalKafkaAccess(o.dir);
    const sasl = E.isRight(access) ? (access.right?.service ?? undefined) : undefined;
    if (await brokerReady({ port: o.port, host: advertisedHostOf(o) }, sasl)) return { options: o, sasl, running: { name: 'kafka', pid: existing, logFile: f.log } };
  }
  const java = findJava(17);
  fs.mkdirSync(f.data, { recursive: true });
  const formatted = fs.existsSync(path.join(f.data, 'meta.properties'));
  // Only the first node makes the service user; the others take it from there.
  const firstNode = membershipOf(o).firstNodeDir === o.dir;
  const servicePassword = serviceUserPassword(o, formatted || !firstNode);
  if (E.isLeft(servicePassword)) throw new Error(servicePassword.left);
  const tls = ensureBrokerTls(o.dir, { caDir: membershipOf(o).firstNodeDir, hosts: [advertisedHostOf(o)] });
  const secrets: BrokerSecrets = { controllerPassword: opts.controllerPassword, servicePassword: servicePassword.right, tls };
  fs.writeFileSync(f.config, serverProperties(o, secrets), { mode: 0o600 });
  fs.chmodSync(f.config, 0o600);
  fs.writeFileSync(f.log4j, log4jProperties);
  writeLocalKafkaAccess(o.dir, accessOf(o, secrets, opts.bootstrap));
  if (!formatted) {
    const clusterId = o.cluster?.clusterId ?? newClusterId();
    const scram = secrets.servicePassword
      ? ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${serviceUserName},password=${secrets.servicePassword}]`])
      : [];
    execFileSync(java.bin, ['-cp', classpath(), `-Dlog4j2.configurationFile=${f.log4j}`, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', f.config, ...scram], { stdio: 'pipe' });
    log(`  formatted KRaft storage in ${f.data} (cluster ${clusterId}${scram.length ? `, service user ${serviceUserName}` : ''})`);
  }
  return { options: o, sasl: serviceSasl(secrets.servicePassword), running: undefined };
};

/** Starts a prepared node's JVM with the configuration prepareBroker wrote, without waiting for it. */
export const spawnBroker = (o: BrokerOptions): Daemon => {
  const f = files(o);
  const java = findJava(17);
  const heap = o.heapMb ?? 768;
  return spawnDaemon(
    'kafka',
    java.bin,
    [`-Xms${Math.min(256, heap)}m`, `-Xmx${heap}m`, '-XX:+UseG1GC', '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${f.log4j}`, '-cp', classpath(), 'kafka.Kafka', f.config],
    { pidFile: f.pid, logFile: f.log },
  );
};

/** Waits until the node answers on its services' listener; stops it and throws with its log's tail when it does not. */
export const awaitBroker = async (o: BrokerOptions, daemon: Daemon, sasl: KafkaSasl | undefined, timeoutMs = 90000): Promise<void> => {
  const f = files(o);
  try {
    await waitUntil(`Kafka broker on ${serviceAddress(o)}`, async () => {
      if (!isAlive(daemon.pid)) throw new StopWaiting('Kafka broker exited');
      return brokerReady({ port: o.port, host: advertisedHostOf(o) }, sasl);
    }, timeoutMs, `see ${f.log}`);
  } catch (e) {
    await stopPid(daemon.pid, 5000);
    throw new Error(`${(e as Error).message}\n${tailFile(f.log)}`);
  }
};

/** A broker alone (a quorum of one), or one node of a cluster when `o.cluster` is set: a cluster's quorum forms only
 *  once a majority of its voters runs, so cluster.ts spawns every node before awaiting any. */
export const startBroker = async (o: BrokerOptions, log: (s: string) => void = console.log): Promise<Daemon> => {
  const prepared = await prepareBroker(
    o,
    { controllerPassword: o.cluster?.controllerPassword ?? crypto.randomBytes(24).toString('base64url'), bootstrap: serviceAddress(o) },
    log,
  );
  if (prepared.running) return prepared.running;
  const daemon = spawnBroker(o);
  await awaitBroker(o, daemon, prepared.sasl);
  return daemon;
};

export const stopBroker = (o: Pick<BrokerOptions, 'dir'>): Promise<string> => stopDaemon(path.join(o.dir, 'broker.pid'), 30000);
