import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import * as E from 'fp-ts/Either';
import { Kafka, KafkaConfig, logLevel } from 'kafkajs';
import { startBroker, stopBroker } from '../../infra/kafka/broker';
import { createKafka, ensureTopics, kafkajsSasl } from '../../services/common/kafka';
import { LocalKafkaAccess, readLocalKafkaAccess } from '../../services/common/kafka-access';
import { controllerUserName } from '../../services/common/kafka-principals';
import { partnerAcls, setScramCredentials } from '../../services/api/partners';
import { partnerTopic, partnerTopicSpec, topicSpecs, Topics } from '../../schemas/topics';
import { freePort, uniq } from '../support/stack';
import { consoleConsume } from '../partner/console-consumer';

/** A broker of its own started in secure mode (`voltstream stack up --secure`): who reaches which listener, and as
 *  whom. Before the secure mode, the services' listener took anyone as the super user ANONYMOUS. */
jest.setTimeout(180_000);

let dir: string;
let ports: { service: number; controller: number; partner: number };
let access: LocalKafkaAccess;
let caPem: string;
const partner = uniq('acme');
const partnerPassword = `pw-${uniq('p')}`;

const client = (port: number, extra: Partial<KafkaConfig> = {}): Kafka =>
  new Kafka({ clientId: uniq('probe'), brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 3000, requestTimeout: 5000, ...extra });

/** The topics `kafka` may list, or the error that refused it. */
const listTopics = async (kafka: Kafka): Promise<E.Either<string, string[]>> => {
  const admin = kafka.admin();
  try {
    await admin.connect();
    return E.right((await admin.listTopics()).sort());
  } catch (e) {
    return E.left(`${(e as Error).name}: ${(e as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

const asPartner = (mechanism: 'scram-sha-256' | 'scram-sha-512' = 'scram-sha-256') => kafkajsSasl({ mechanism, username: partner, password: partnerPassword });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-secure-broker-'));
  ports = { service: await freePort(), controller: await freePort(), partner: await freePort() };
  await startBroker({ dir, port: ports.service, controllerPort: ports.controller, partnerPort: ports.partner, secure: true, heapMb: 384 }, () => undefined);
  const read = readLocalKafkaAccess(dir);
  if (E.isLeft(read) || !read.right) throw new Error(`the secure broker wrote no access file: ${E.isLeft(read) ? read.left : 'missing'}`);
  access = read.right;
  caPem = fs.readFileSync(access.partner.caFile!, 'utf8');

  const config = { kafkaBrokers: [access.bootstrap], kafkaSasl: access.service ?? undefined };
  const admin = createKafka(config, uniq('secure-admin')).admin();
  await admin.connect();
  await ensureTopics(admin, { partitions: 1, replicationFactor: 1 }, [...topicSpecs.filter((s) => s.name === Topics.ocppFrames || s.name === Topics.fleetConfig), partnerTopicSpec(partner)]);
  await setScramCredentials(config, partner, partnerPassword);
  await admin.createAcls({ acl: partnerAcls(partner) });
  await admin.disconnect();
});

afterAll(async () => {
  if (dir) {
    await stopBroker({ dir });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the broker describes its listeners: SCRAM for the services, SASL_SSL with its own CA for partners', () => {
  expect(access).toMatchObject({
    bootstrap: `127.0.0.1:${ports.service}`,
    serviceProtocol: 'SASL_PLAINTEXT',
    service: { mechanism: 'scram-sha-512', username: 'voltstream-service' },
    partner: { bootstrap: `127.0.0.1:${ports.partner}`, protocol: 'SASL_SSL' },
  });
  expect(fs.statSync(path.join(dir, 'access.json')).mode & 0o077).toBe(0);
  expect(fs.readFileSync(path.join(dir, 'server.properties'), 'utf8')).toMatch(/^super\.users=User:voltstream-service;User:voltstream-controller$/m);
});

test('an unauthenticated client is refused on every listener', async () => {
  const attempts = {
    service: await listTopics(client(ports.service)),
    controller: await listTopics(client(ports.controller)),
    partnerPlain: await listTopics(client(ports.partner)),
    partnerTls: await listTopics(client(ports.partner, { ssl: { ca: [caPem] } })),
  };
  for (const [listener, result] of Object.entries(attempts)) expect({ listener, refused: E.isLeft(result) }).toEqual({ listener, refused: true });
});

test('the service user reaches every topic; a partner sees only its own topic, on either listener', async () => {
  const service = await listTopics(client(ports.service, { sasl: kafkajsSasl(access.service!) }));
  expect(service).toEqual(E.right(expect.arrayContaining([Topics.ocppFrames, Topics.fleetConfig, partnerTopic(partner)])));
  expect(await listTopics(client(ports.partner, { ssl: { ca: [caPem] }, sasl: asPartner() }))).toEqual(E.right([partnerTopic(partner)]));
  expect(await listTopics(client(ports.partner, { ssl: { ca: [caPem] }, sasl: asPartner('scram-sha-512') }))).toEqual(E.right([partnerTopic(partner)]));
  expect(await listTopics(client(ports.service, { sasl: asPartner('scram-sha-512') }))).toEqual(E.right([partnerTopic(partner)]));

  const admin = client(ports.partner, { ssl: { ca: [caPem] }, sasl: asPartner() }).admin();
  await admin.connect();
  try {
    await expect(admin.fetchTopicMetadata({ topics: [Topics.ocppFrames] })).rejects.toThrow(/Not authorized to access topics/);
  } finally {
    await admin.disconnect();
  }
});

test("a partner's credentials give nothing on the controller listener, which no listener advertises", async () => {
  const scram = await listTopics(client(ports.controller, { sasl: asPartner() }));
  expect(scram).toEqual(E.left(expect.stringMatching(/does not support the requested SASL mechanism/)));
  const plain = await listTopics(client(ports.controller, { sasl: { mechanism: 'plain', username: partner, password: partnerPassword } }));
  expect(plain).toEqual(E.left(expect.stringMatching(/Authentication failed/)));
  const service = await listTopics(client(ports.controller, { sasl: { mechanism: 'plain', username: controllerUserName, password: partnerPassword } }));
  expect(E.isLeft(service)).toBe(true);

  const admin = client(ports.partner, { ssl: { ca: [caPem] }, sasl: asPartner() }).admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers.map((b) => b.port)).toEqual([ports.partner]);
  } finally {
    await admin.disconnect();
  }
});

const handshake = (ca: string | undefined): Promise<E.Either<string, tls.PeerCertificate>> =>
  new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: ports.partner, ...(ca ? { ca: [ca] } : {}) }, () => {
      const cert = socket.getPeerCertificate(true);
      socket.end();
      resolve(E.right(cert));
    });
    socket.on('error', (e) => resolve(E.left(e.message)));
  });

test('the partner listener completes a TLS handshake verified with the generated CA, and only with it', async () => {
  const verified = await handshake(caPem);
  expect(E.isRight(verified)).toBe(true);
  if (E.isRight(verified)) {
    expect(verified.right.subjectaltname).toContain('IP Address:127.0.0.1');
    expect(verified.right.issuer.CN).toBe('Voltstream local Kafka CA');
  }
  expect(await handshake(undefined)).toEqual(E.left(expect.stringMatching(/self[- ]signed certificate/)));
});

test("a partner reads its topic with Kafka's stock console consumer configured as SECURITY.md says", async () => {
  const producer = createKafka({ kafkaBrokers: [access.bootstrap], kafkaSasl: access.service ?? undefined }, uniq('secure-producer')).producer();
  await producer.connect();
  await producer.send({ topic: partnerTopic(partner), messages: [{ key: 'CP-secure-1', value: 'x' }] });
  await producer.disconnect();
  const tlsProperties = ['security.protocol=SASL_SSL', 'ssl.truststore.type=PEM', `ssl.truststore.location=${access.partner.caFile}`];
  const r = await consoleConsume({ bootstrap: access.partner.bootstrap, username: partner, password: partnerPassword, topic: partnerTopic(partner), group: `partner.${partner}.audit`, maxMessages: 1, timeoutMs: 15_000, securityProperties: tlsProperties });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('CP-secure-1');
});
