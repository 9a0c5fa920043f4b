import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { fetchKafka, kafkaLibDir } from '../fetch';
import { findJava } from '../java';
import { stopDaemon, StopWaiting, Daemon, portOpen, readPid, spawnDaemon, stopPid, tailFile, waitUntil, isAlive } from '../process';

/** A single-node KRaft broker (broker and controller in one process) on loopback.
 *  Listeners: PLAINTEXT for the services, SASL_PLAINTEXT/SCRAM for partners (ACLs enforced by the
 *  StandardAuthorizer; the services' anonymous principal is a super user), and the controller's. */
export interface BrokerOptions {
  readonly dir: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly partnerPort: number;
  readonly heapMb?: number;
}

export const defaultBrokerOptions = (home: string): BrokerOptions => ({
  dir: path.join(home, 'kafka'),
  port: 9092,
  controllerPort: Number(process.env.KAFKA_CONTROLLER_PORT ?? 9093),
  partnerPort: Number(process.env.KAFKA_PARTNER_PORT ?? 9094),
});

const files = (o: BrokerOptions) => ({
  data: path.join(o.dir, 'data'),
  config: path.join(o.dir, 'server.properties'),
  log4j: path.join(o.dir, 'log4j2.properties'),
  log: path.join(o.dir, 'broker.log'),
  pid: path.join(o.dir, 'broker.pid'),
});

export const serverProperties = (o: BrokerOptions): string =>
  [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${o.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort},PARTNER://127.0.0.1:${o.partnerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${o.port},PARTNER://127.0.0.1:${o.partnerPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PARTNER:SASL_PLAINTEXT',
    'sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512',
    'listener.name.partner.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.partner.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users=User:ANONYMOUS',
    'allow.everyone.if.no.acl.found=false',
    `log.dirs=${files(o).data}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'auto.create.topics.enable=false',
    'group.initial.rebalance.delay.ms=0',
    'log.retention.hours=-1',
    'message.max.bytes=2097152',
    '',
  ].join('\n');

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

export const brokerReady = async (o: Pick<BrokerOptions, 'port'>): Promise<boolean> => {
  if (!(await portOpen(o.port))) return false;
  const kafka = new Kafka({ clientId: 'voltstream-probe', brokers: [`127.0.0.1:${o.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000 });
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

export const startBroker = async (o: BrokerOptions, log: (s: string) => void = console.log): Promise<Daemon> => {
  fetchKafka(log);
  const f = files(o);
  const existing = readPid(f.pid);
  if (existing && isAlive(existing) && (await brokerReady(o))) return { name: 'kafka', pid: existing, logFile: f.log };
  const java = findJava(17);
  fs.mkdirSync(f.data, { recursive: true });
  fs.writeFileSync(f.config, serverProperties(o));
  fs.writeFileSync(f.log4j, log4jProperties);
  const jvmLog = [`-Dlog4j2.configurationFile=${f.log4j}`];
  if (!fs.existsSync(path.join(f.data, 'meta.properties'))) {
    const clusterId = newClusterId();
    execFileSync(java.bin, ['-cp', classpath(), ...jvmLog, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', f.config], { stdio: 'pipe' });
    log(`  formatted KRaft storage in ${f.data} (cluster ${clusterId})`);
  }
  const heap = o.heapMb ?? 768;
  const daemon = spawnDaemon(
    'kafka',
    java.bin,
    [`-Xms${Math.min(256, heap)}m`, `-Xmx${heap}m`, '-XX:+UseG1GC', '-Djava.awt.headless=true', ...jvmLog, '-cp', classpath(), 'kafka.Kafka', f.config],
    { pidFile: f.pid, logFile: f.log },
  );
  try {
    await waitUntil(`Kafka broker on 127.0.0.1:${o.port}`, async () => {
      if (!isAlive(daemon.pid)) throw new StopWaiting('Kafka broker exited');
      return brokerReady(o);
    }, 90000, `see ${f.log}`);
  } catch (e) {
    await stopPid(daemon.pid, 5000);
    throw new Error(`${(e as Error).message}\n${tailFile(f.log)}`);
  }
  return daemon;
};

export const stopBroker = (o: Pick<BrokerOptions, 'dir'>): Promise<string> => stopDaemon(path.join(o.dir, 'broker.pid'), 30000);
