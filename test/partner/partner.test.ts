import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { createContext } from '../../services/common/context';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { ServiceContext } from '../../services/common/service';
import { ChargingEvent, toAvro } from '../../schemas/events';
import { partnerTopic, Topics } from '../../schemas/topics';
import { RunningRouter, startPartnerRouter } from '../../streams/partner-router/router';
import { readTopicUntil, testConfig, uniq } from '../support/stack';
import { startTestApi, TestApi } from '../api/harness';
import { consoleConsume } from './console-consumer';
import { decodePosition } from '../../services/api/partner-feed';
import { partnerAcls } from '../../services/api/partners';

/** Partner feeds end to end on the real broker: partners configured through the API (SCRAM users + ACLs), the
 *  router writing each event to the partner that owned the charger at the event's time, partners reading with
 *  Apache Kafka's stock console consumer over SASL/SCRAM, and the WebSocket feed of the API. */
jest.setTimeout(240_000);

let t: TestApi;
let routerCtx: ServiceContext;
let router: RunningRouter;
const A = uniq('acme');
const B = uniq('bolt');
const pw = { [A]: `pw-${randomUUID()}`, [B]: `pw-${randomUUID()}` };
const cpA = uniq('CP-A');
const cpB = uniq('CP-B');
const cpX = uniq('CP-X');
const mine = new Set([cpA, cpB, cpX]);
const sent: Record<string, ChargingEvent[]> = { [A]: [], [B]: [] };
let lateEventId = '';

const event = (cp: string, occurredAt: number, status: string): ChargingEvent => ({
  eventId: randomUUID(),
  chargePointId: cp,
  occurredAt,
  source: null,
  body: { type: 'ConnectorStatusChanged', connectorId: 1, status, errorCode: null, info: null },
});

const produce = async (events: ChargingEvent[]) => {
  const producer = createDurableProducer(routerCtx.kafka);
  await producer.connect();
  for (const e of events) {
    await producer.send({ topic: Topics.chargingEvents, acks: DURABLE_ACKS, messages: [{ key: e.chargePointId, value: await routerCtx.serde.encode(Topics.chargingEvents, toAvro(e)) }] });
  }
  await producer.disconnect();
};

const charger = (owner: string) => ({ siteId: 'site-p', maxPowerKw: 22, ownerPartnerId: owner });

beforeAll(async () => {
  t = await startTestApi();
  for (const p of [A, B]) {
    const r = await t.call('PUT', `/api/v1/partners/${p}`, { body: { password: pw[p], name: p } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ partnerId: p, topic: partnerTopic(p), groupPrefix: `partner.${p}.`, kafka: { bootstrap: `127.0.0.1:${t.ctx.config.partnerKafkaPort}`, username: p } });
  }

  // The router starts at the current end of charging.events (a fresh group with its offsets set there), and only
  // routes this test's chargers: other tests and developers share the broker.
  routerCtx = createContext(testConfig({ logLevel: 'warn' }), uniq('router-test'));
  const groupId = uniq('partner-router-test');
  const admin = routerCtx.kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(Topics.chargingEvents);
  await admin.setOffsets({ groupId, topic: Topics.chargingEvents, partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })) });
  await admin.disconnect();
  router = await startPartnerRouter(routerCtx, { groupId, acceptCharger: (cp) => mine.has(cp) });

  for (const [cp, owner] of [[cpA, A], [cpB, B], [cpX, A]] as const) expect((await t.call('PUT', `/api/v1/chargers/${cp}`, { body: charger(owner) })).status).toBe(200);
  const before = [event(cpA, Date.now(), 'Available'), event(cpB, Date.now(), 'Available'), event(cpX, Date.now(), 'Available'), event(cpA, Date.now(), 'Charging'), event(cpX, Date.now(), 'Charging')];
  await produce(before);
  sent[A]!.push(before[0]!, before[2]!, before[3]!, before[4]!);
  sent[B]!.push(before[1]!);

  // cpX changes hands: from this configuration event's time on, its events belong to B.
  const change = await t.call('PUT', `/api/v1/chargers/${cpX}`, { body: charger(B) });
  expect(change.status).toBe(200);
  const changedAt = Date.parse(change.json.at);
  const after = [event(cpX, Date.now() + 1, 'Finishing'), event(cpX, Date.now() + 2, 'Available')];
  // Dated before the change by the charger's clock, but received after it: B's (ownership never follows a charger's
  // clock, issue 14 item 5; test/security/partner-router-clock.test.ts).
  const late = event(cpX, changedAt - 1, 'SuspendedEV');
  lateEventId = late.eventId;
  await produce([...after, late]);
  sent[B]!.push(...after, late);
});

afterAll(async () => {
  await router?.stop();
  // The shared broker keeps no partner topics or ACLs of finished test runs (the SCRAM users are left: a few bytes).
  const admin = routerCtx?.kafka.admin();
  if (admin) {
    await admin.connect();
    await admin.deleteAcls({ filters: [A, B].flatMap((p) => partnerAcls(p)) }).catch(() => undefined);
    await admin.deleteTopics({ topics: [partnerTopic(A), partnerTopic(B)] }).catch(() => undefined);
    await admin.disconnect();
  }
  await routerCtx?.pool.end();
  await t?.stop();
});

const partnerRecords = (p: string, n: number) =>
  readTopicUntil<Record<string, unknown>>(partnerTopic(p), (r) => r.length >= n, { timeoutMs: 30_000, filter: (r) => mine.has(r.key ?? '') });

test('each event lands in the topic of the partner that owned the charger when the event was received, and nowhere else', async () => {
  const a = await partnerRecords(A, sent[A]!.length);
  const b = await partnerRecords(B, sent[B]!.length);
  expect(a.map((r) => r.value.eventId).sort()).toEqual(sent[A]!.map((e) => e.eventId).sort());
  expect(b.map((r) => r.value.eventId).sort()).toEqual(sent[B]!.map((e) => e.eventId).sort());
  expect(b.map((r) => r.value.eventId)).toContain(lateEventId);
  expect(b.every((r) => r.key === cpB || r.key === cpX)).toBe(true);
  expect(a.some((r) => r.key === cpB)).toBe(false);
  // After the change, cpX's later events went to B only.
  expect(a.filter((r) => r.key === cpX).map((r) => (r.value.body as Record<string, { status: string }>)['io.voltstream.events.ConnectorStatusChanged']!.status).sort()).toEqual(['Available', 'Charging']);
  expect(b.filter((r) => r.key === cpX).map((r) => (r.value.body as Record<string, { status: string }>)['io.voltstream.events.ConnectorStatusChanged']!.status).sort()).toEqual(['Available', 'Finishing', 'SuspendedEV']);
});

test("partner A's Kafka user reads its topic with the stock console consumer over SASL/SCRAM", async () => {
  await partnerRecords(A, sent[A]!.length);
  const r = await consoleConsume({ bootstrap: `127.0.0.1:${t.ctx.config.partnerKafkaPort}`, username: A, password: pw[A]!, topic: partnerTopic(A), group: `partner.${A}.audit`, maxMessages: sent[A]!.length, timeoutMs: 15000 });
  expect(r.code).toBe(0);
  const keys = r.stdout.split('\n').filter((l) => mine.has(l.split('\t').pop() ?? '')).map((l) => l.split('\t').pop());
  expect(keys.sort()).toEqual(sent[A]!.map((e) => e.chargePointId).sort());
  expect(r.stdout + r.stderr).not.toMatch(/AuthorizationException|Authentication failed/);
});

test("partner A's Kafka user is refused on partner B's topic, and on a consumer group outside its prefix", async () => {
  const r = await consoleConsume({ bootstrap: `127.0.0.1:${t.ctx.config.partnerKafkaPort}`, username: A, password: pw[A]!, topic: partnerTopic(B), group: `partner.${A}.peek`, timeoutMs: 8000 });
  expect(r.stdout + r.stderr).toContain(`TopicAuthorizationException: Not authorized to access topics: [${partnerTopic(B)}]`);
  expect(r.stdout).not.toContain(cpB);
  expect(r.stdout + r.stderr).toContain('Processed a total of 0 messages');
  const g = await consoleConsume({ bootstrap: `127.0.0.1:${t.ctx.config.partnerKafkaPort}`, username: A, password: pw[A]!, topic: partnerTopic(A), group: `partner.${B}.sneaky`, timeoutMs: 8000 });
  expect(g.stdout + g.stderr).toContain('GroupAuthorizationException');
});

test('a wrong password is refused at authentication', async () => {
  const r = await consoleConsume({ bootstrap: `127.0.0.1:${t.ctx.config.partnerKafkaPort}`, username: A, password: 'not-the-password', topic: partnerTopic(A), group: `partner.${A}.x`, timeoutMs: 5000 });
  expect(r.stdout + r.stderr).toMatch(/Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256/);
});

interface FeedMessage {
  type: string;
  position: string;
  partition?: number;
  offset?: string;
  event?: ChargingEvent;
}

const readFeed = (url: string, key: string, until: (msgs: FeedMessage[]) => boolean): Promise<FeedMessage[]> =>
  new Promise((resolve, reject) => {
    const msgs: FeedMessage[] = [];
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${key}` } });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`feed timeout after ${msgs.length} messages`));
    }, 30_000);
    ws.on('message', (data) => {
      msgs.push(JSON.parse(data.toString()) as FeedMessage);
      if (until(msgs)) {
        clearTimeout(timer);
        ws.close();
        resolve(msgs);
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`HTTP ${res.statusCode}`));
    });
    ws.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });

test('the WebSocket feed streams the partner topic and resumes from a position', async () => {
  await partnerRecords(A, sent[A]!.length);
  const key = await t.issueKey([`partner:${A}`]);
  const feedUrl = `${t.api.url.replace('http', 'ws')}/api/v1/partners/${A}/feed`;
  const ofMine = (m: FeedMessage) => m.type === 'event' && mine.has(m.event!.chargePointId);
  const all = await readFeed(`${feedUrl}?from=earliest`, key, (m) => m.filter(ofMine).length >= sent[A]!.length);
  expect(all[0]!.type).toBe('ready');
  const events = all.filter(ofMine);
  expect(events.map((m) => m.event!.eventId).sort()).toEqual(sent[A]!.map((e) => e.eventId).sort());
  expect(events[0]!.event!.body).toEqual({ type: 'ConnectorStatusChanged', connectorId: 1, status: expect.any(String), errorCode: null, info: null });

  // Resume from the position after the second of our events: exactly the records after it (per partition) come again.
  const token = events[1]!.position;
  const pos = decodePosition(token)!;
  const expected = events.filter((m) => BigInt(m.offset!) >= BigInt(pos.get(m.partition!)!)).map((m) => m.event!.eventId);
  expect(expected.length).toBeGreaterThan(0);
  expect(expected.length).toBeLessThan(events.length);
  const rest = await readFeed(`${feedUrl}?from=${token}`, key, (m) => m.filter(ofMine).length >= expected.length);
  expect(rest[0]).toMatchObject({ type: 'ready', position: token });
  expect(rest.filter(ofMine).map((m) => m.event!.eventId).sort()).toEqual(expected.sort());
});

test("the feed refuses a key without the partner's scope, and a missing key", async () => {
  const other = await t.issueKey([`partner:${B}`]);
  const feedUrl = `${t.api.url.replace('http', 'ws')}/api/v1/partners/${A}/feed`;
  await expect(readFeed(feedUrl, other, () => true)).rejects.toThrow('HTTP 403');
  await expect(readFeed(feedUrl, 'nope', () => true)).rejects.toThrow('HTTP 401');
  const plain = await t.call('GET', `/api/v1/partners/${A}/feed`);
  expect(plain.status).toBe(426);
});
