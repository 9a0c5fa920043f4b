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
import { fetchKafka, kafkaLibDir } from '../fetch';
import { findJava } from '../java';
import { stopDaemon, StopWaiting, Daemon, portOpen, readPid, spawnDaemon, stopPid, tailFile, waitUntil, isAlive } from '../process';

/** A single-node KRaft broker (broker and controller in one process) on loopback. Listeners:
 *  - SERVICE (`port`): the services'. Development: PLAINTEXT, its anonymous principal a super user. Secure
 *    (`secure: true`): SASL_PLAINTEXT with SCRAM, and only the generated service user (voltstream-service, password
 *    kept in service-user.json, mode 0600) is a super user.
 *  - PARTNER (`partnerPort`): SASL_SSL with SCRAM, certificate signed by the broker directory's own CA (tls.ts); what a
 *    partner may do is what its ACLs allow (StandardAuthorizer, allow.everyone.if.no.acl.found=false).
 *  - CONTROLLER (`controllerPort`): loopback only, never advertised, SASL/PLAIN with one static user made at each start
 *    (the password lives in server.properties, mode 0600), so no SCRAM user (a partner's included) authenticates there.
 *  How clients reach it is written to access.json in `dir` (services/common/kafka-access.ts). See SECURITY.md. */
export interface BrokerOptions {
  readonly dir: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly partnerPort: number;
  readonly heapMb?: number;
  /** Services authenticate (SCRAM service user) instead of connecting anonymously. */
  readonly secure?: boolean;
}

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
  serviceUser: path.join(o.dir, 'service-user.json'),
});

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
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${o.controllerPort}`,
    `listeners=SERVICE://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort},PARTNER://127.0.0.1:${o.partnerPort}`,
    `advertised.listeners=SERVICE://127.0.0.1:${o.port},PARTNER://127.0.0.1:${o.partnerPort}`,
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

/** Whether the broker answers on `port`, asked as `sasl` (anonymously without). */
export const brokerReady = async (o: Pick<BrokerOptions, 'port'>, sasl?: KafkaSasl): Promise<boolean> => {
  if (!(await portOpen(o.port))) return false;
  const kafka = new Kafka({
    clientId: 'voltstream-probe',
    brokers: [`127.0.0.1:${o.port}`],
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
  const file = files(o).serviceUser;
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

const accessOf = (o: BrokerOptions, secrets: BrokerSecrets): LocalKafkaAccess => ({
  bootstrap: `127.0.0.1:${o.port}`,
  serviceProtocol: secrets.servicePassword ? 'SASL_PLAINTEXT' : 'PLAINTEXT',
  service: secrets.servicePassword ? { mechanism: 'scram-sha-512', username: serviceUserName, password: secrets.servicePassword } : null,
  partner: { bootstrap: `127.0.0.1:${o.partnerPort}`, protocol: 'SASL_SSL', caFile: secrets.tls.caFile },
});

export const startBroker = async (o: BrokerOptions, log: (s: string) => void = console.log): Promise<Daemon> => {
  fetchKafka(log);
  const f = files(o);
  const existing = readPid(f.pid);
  if (existing && isAlive(existing)) {
    const access = readLocalKafkaAccess(o.dir);
    const sasl = E.isRight(access) ? (access.right?.service ?? undefined) : undefined;
    if (await brokerReady(o, sasl)) return { name: 'kafka', pid: existing, logFile: f.log };
  }
  const java = findJava(17);
  fs.mkdirSync(f.data, { recursive: true });
  const formatted = fs.existsSync(path.join(f.data, 'meta.properties'));
  const servicePassword = serviceUserPassword(o, formatted);
  if (E.isLeft(servicePassword)) throw new Error(servicePassword.left);
  const secrets: BrokerSecrets = { controllerPassword: crypto.randomBytes(24).toString('base64url'), servicePassword: servicePassword.right, tls: ensureBrokerTls(o.dir) };
  fs.writeFileSync(f.config, serverProperties(o, secrets), { mode: 0o600 });
  fs.chmodSync(f.config, 0o600);
  fs.writeFileSync(f.log4j, log4jProperties);
  writeLocalKafkaAccess(o.dir, accessOf(o, secrets));
  const jvmLog = [`-Dlog4j2.configurationFile=${f.log4j}`];
  if (!formatted) {
    const clusterId = newClusterId();
    const scram = secrets.servicePassword
      ? ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${serviceUserName},password=${secrets.servicePassword}]`])
      : [];
    execFileSync(java.bin, ['-cp', classpath(), ...jvmLog, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', f.config, ...scram], { stdio: 'pipe' });
    log(`  formatted KRaft storage in ${f.data} (cluster ${clusterId}${scram.length ? `, service user ${serviceUserName}` : ''})`);
  }
  const heap = o.heapMb ?? 768;
  const daemon = spawnDaemon(
    'kafka',
    java.bin,
    [`-Xms${Math.min(256, heap)}m`, `-Xmx${heap}m`, '-XX:+UseG1GC', '-Djava.awt.headless=true', ...jvmLog, '-cp', classpath(), 'kafka.Kafka', f.config],
    { pidFile: f.pid, logFile: f.log },
  );
  try {
    const sasl = secrets.servicePassword ? ({ mechanism: 'scram-sha-512', username: serviceUserName, password: secrets.servicePassword } as const) : undefined;
    await waitUntil(`Kafka broker on 127.0.0.1:${o.port}`, async () => {
      if (!isAlive(daemon.pid)) throw new StopWaiting('Kafka broker exited');
      return brokerReady(o, sasl);
    }, 90000, `see ${f.log}`);
  } catch (e) {
    await stopPid(daemon.pid, 5000);
    throw new Error(`${(e as Error).message}\n${tailFile(f.log)}`);
  }
  return daemon;
};

export const stopBroker = (o: Pick<BrokerOptions, 'dir'>): Promise<string> => stopDaemon(path.join(o.dir, 'broker.pid'), 30000);
