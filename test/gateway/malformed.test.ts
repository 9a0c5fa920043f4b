/** Bad input, per version: each kind gets the spec's CALLERROR code (or, for responses, no answer), a record in
 *  ocpp.rejected with the raw bytes and the reason, and the connection and the other chargers carry on.
 *  Driven with the raw `ws` client, since a conforming OCPP library refuses to send most of these. */
import { once } from 'node:events';
import WebSocket from 'ws';
import { Topics } from '../../schemas/topics';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, Json, ocppClient, pgSchemaName, readFrom, topicEnds, waitFor } from './support';

const ctx = gatewayContext();
const schema = pgSchemaName('gw_bad');
const prefix = uniq('bad');
const MAX = 4096;
let gw: Gateway;
let rejectedFrom: Map<number, number>;
let framesFrom: Map<number, number>;

interface RawPeer {
  readonly ws: WebSocket;
  next(timeoutMs?: number): Promise<Json>;
  readonly closed: Promise<[number, Buffer]>;
}

const rawPeer = async (id: string, protocol: string): Promise<RawPeer> => {
  const ws = new WebSocket(`${gw.url}/${id}`, [protocol], { headers: { Authorization: `Basic ${Buffer.from(`${id}:pw-${id}`).toString('base64')}` } });
  const inbox: Json[] = [];
  const waiting: ((m: Json) => void)[] = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  const closed = once(ws, 'close') as Promise<[number, Buffer]>;
  await once(ws, 'open');
  return {
    ws,
    closed,
    next: (timeoutMs = 10000) =>
      inbox.length
        ? Promise.resolve(inbox.shift())
        : new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error('no message from the gateway')), timeoutMs);
            waiting.push((m) => {
              clearTimeout(t);
              resolve(m);
            });
          }),
  };
};

interface Case {
  readonly name: string;
  readonly frame: string | Buffer;
  /** Expected CALLERROR code per version; null: no answer (responses are never answered). */
  readonly code: { '1.6': string | null; '2.0.1': string | null };
  /** The unique id the CALLERROR carries ("-1" when the frame's own can't be read). */
  readonly id: string;
  /** Rejection code when it differs from the answer's (responses). */
  readonly rejectCode?: { '1.6': string; '2.0.1': string };
}

const both = (c: string) => ({ '1.6': c, '2.0.1': c });
const ts = () => new Date().toISOString();

const cases = (v: '1.6' | '2.0.1'): Case[] => {
  const is16 = v === '1.6';
  const rpc = { '1.6': 'FormationViolation', '2.0.1': 'RpcFrameworkError' };
  const formation = { '1.6': 'FormationViolation', '2.0.1': 'FormatViolation' };
  const protocol = { '1.6': 'ProtocolError', '2.0.1': 'RpcFrameworkError' };
  const occurrence = { '1.6': 'OccurenceConstraintViolation', '2.0.1': 'OccurrenceConstraintViolation' };
  return [
    { name: 'not JSON', frame: '[2, "x1", "Heartbeat", {', code: rpc, id: '-1' },
    { name: 'JSON but not an array', frame: '{"messageTypeId":2}', code: rpc, id: '-1' },
    { name: 'empty array', frame: '[]', code: rpc, id: '-1' },
    { name: 'unique id not a string', frame: '[2, 17, "Heartbeat", {}]', code: rpc, id: '-1' },
    { name: 'unique id longer than 36', frame: `[2, "${'u'.repeat(37)}", "Heartbeat", {}]`, code: rpc, id: '-1' },
    { name: 'unknown messageTypeId', frame: '[7, "x6", "Heartbeat", {}]', code: { '1.6': 'ProtocolError', '2.0.1': 'MessageTypeNotSupported' }, id: 'x6' },
    { name: 'CALL with 3 elements', frame: '[2, "x7", "Heartbeat"]', code: protocol, id: 'x7' },
    { name: 'action not a string', frame: '[2, "x8", 42, {}]', code: formation, id: 'x8' },
    { name: 'payload not an object', frame: '[2, "x9", "Heartbeat", [1]]', code: formation, id: 'x9' },
    { name: 'unknown action', frame: '[2, "x10", "MakeCoffee", {}]', code: both('NotImplemented'), id: 'x10' },
    { name: 'action for the other direction', frame: JSON.stringify([2, 'x11', 'Reset', is16 ? { type: 'Hard' } : { type: 'Immediate' }]), code: both('NotSupported'), id: 'x11' },
    {
      name: 'required field missing',
      frame: JSON.stringify([2, 'x12', 'BootNotification', is16 ? { chargePointVendor: 'Acme' } : { reason: 'PowerUp' }]),
      code: occurrence,
      id: 'x12',
    },
    {
      name: 'wrong type',
      frame: JSON.stringify([2, 'x13', 'StatusNotification', is16 ? { connectorId: 'one', errorCode: 'NoError', status: 'Available' } : { timestamp: ts(), connectorStatus: 'Available', evseId: 'one', connectorId: 1 }]),
      code: both('TypeConstraintViolation'),
      id: 'x13',
    },
    {
      name: 'value not in the enumeration',
      frame: JSON.stringify([2, 'x14', 'StatusNotification', is16 ? { connectorId: 1, errorCode: 'NoError', status: 'Sleeping' } : { timestamp: ts(), connectorStatus: 'Sleeping', evseId: 1, connectorId: 1 }]),
      code: both('PropertyConstraintViolation'),
      id: 'x14',
    },
    {
      name: 'string longer than allowed',
      frame: JSON.stringify([2, 'x15', 'Authorize', is16 ? { idTag: 'T'.repeat(21) } : { idToken: { idToken: 'T'.repeat(37), type: 'ISO14443' } }]),
      code: both('PropertyConstraintViolation'),
      id: 'x15',
    },
    { name: 'field the PDU does not have', frame: '[2, "x16", "Heartbeat", {"foo": 1}]', code: formation, id: 'x16' },
    {
      name: 'malformed date-time',
      frame: JSON.stringify([2, 'x17', is16 ? 'StartTransaction' : 'StatusNotification', is16 ? { connectorId: 1, idTag: 'A', meterStart: 0, timestamp: 'yesterday' } : { timestamp: 'yesterday', connectorStatus: 'Available', evseId: 1, connectorId: 1 }]),
      code: both('PropertyConstraintViolation'),
      id: 'x17',
    },
    { name: 'frame over the size limit', frame: JSON.stringify([2, 'x18', 'DataTransfer', { vendorId: 'acme', data: 'd'.repeat(MAX + 100) }]), code: formation, id: 'x18' },
    { name: 'binary frame', frame: Buffer.from([2, 0, 1, 255]), code: rpc, id: '-1' },
    { name: 'CALLRESULT for no outstanding CALL', frame: '[3, "x20", {}]', code: { '1.6': null, '2.0.1': null }, id: 'x20', rejectCode: protocol },
    { name: 'CALLERROR for no outstanding CALL', frame: '[4, "x21", "GenericError", "", {}]', code: { '1.6': null, '2.0.1': null }, id: 'x21', rejectCode: protocol },
    { name: 'CALLRESULT with 2 elements', frame: '[3, "x22"]', code: { '1.6': null, '2.0.1': null }, id: 'x22', rejectCode: protocol },
  ];
};

beforeAll(async () => {
  await ensureContractTopics(ctx.kafka);
  const ids = ['16', '201', 'dup16', 'dup201', 'flood', 'bystander', 'huge'].map((s) => `${prefix}-${s}`);
  await configureFleet(ctx.kafka, ctx.serde, ids.map((id) => ({ id, password: `pw-${id}` })));
  rejectedFrom = await topicEnds(ctx.kafka, Topics.ocppRejected);
  framesFrom = await topicEnds(ctx.kafka, Topics.ocppFrames);
  gw = await createGateway(ctx, {
    gatewayId: uniq('gw-bad'),
    port: 0,
    settings: { dbSchema: schema, maxFrameBytes: MAX, ratePerSec: 5, rateBurst: 60 },
    commandsGroupId: uniq('cmds'),
    acceptsCommandsFor: (id) => id.startsWith(prefix),
  });
});

afterAll(async () => {
  await gw?.stop();
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

const heartbeatWorks = async (p: RawPeer, id: string) => {
  p.ws.send(JSON.stringify([2, id, 'Heartbeat', {}]));
  const m = await p.next();
  expect(m).toEqual([3, id, expect.anything()]);
  expect(typeof m[2].currentTime).toBe('string');
};

describe.each([
  ['1.6', 'ocpp1.6', '16'],
  ['2.0.1', 'ocpp2.0.1', '201'],
] as const)('OCPP %s', (v, protocol, suffix) => {
  test(`${cases(v).length} kinds of bad frames: exact error codes, ocpp.rejected records, the connection carries on`, async () => {
    const id = `${prefix}-${suffix}`;
    const p = await rawPeer(id, protocol);
    const list = cases(v);
    for (const [i, c] of list.entries()) {
      p.ws.send(c.frame, { binary: Buffer.isBuffer(c.frame) });
      if (c.code[v] !== null) {
        const m = await p.next();
        expect({ name: c.name, frame: m.slice(0, 3) }).toEqual({ name: c.name, frame: [4, c.id, c.code[v]] });
        expect(typeof m[3]).toBe('string');
        expect(m[4]).toEqual({});
      }
      // The connection carries on after every bad frame (and a response is never answered).
      await heartbeatWorks(p, `hb-${i}`);
    }
    const rejected = await readFrom<Json>(ctx.kafka, Topics.ocppRejected, rejectedFrom, (k) => k === id, (r) => r.length >= list.length);
    expect(rejected).toHaveLength(list.length);
    rejected.forEach((r: Json, i: number) => {
      const c = list[i]!;
      const raw = Buffer.isBuffer(c.frame) ? c.frame : Buffer.from(c.frame);
      expect({ name: c.name, code: r.errorCode, stage: r.stage, protocol: r.protocol }).toEqual({ name: c.name, code: c.rejectCode?.[v] ?? c.code[v], stage: 'FRAME', protocol });
      expect(Number(r.rawSize)).toBe(raw.length);
      expect(Buffer.from(r.raw).equals(raw.subarray(0, 8192))).toBe(true);
      expect(r.reason.length).toBeGreaterThan(5);
    });
    expect(await gw.metrics.metrics()).toMatch(/ocpp_gateway_rejected_total\{stage="FRAME",reason="NotImplemented"\} [1-9]/);
    p.ws.close();
  });

  test('duplicate unique id, and a second CALL, while the first is pending', async () => {
    const id = `${prefix}-dup${suffix}`;
    const p = await rawPeer(id, protocol);
    // Sent together: the first is still waiting for its durable write when the others arrive.
    p.ws.send('[2, "same", "Heartbeat", {}]');
    p.ws.send('[2, "same", "Heartbeat", {}]');
    p.ws.send('[2, "other", "Heartbeat", {}]');
    const got = [await p.next(), await p.next(), await p.next()];
    const code = v === '1.6' ? 'ProtocolError' : 'RpcFrameworkError';
    expect(got.filter((m) => m[0] === 4).map((m) => [m[1], m[2]]).sort()).toEqual([
      ['other', code],
      ['same', code],
    ]);
    expect(got.filter((m) => m[0] === 3).map((m) => m[1])).toEqual(['same']);
    expect(got.find((m) => m[0] === 4 && m[1] === 'same')[3]).toMatch(/duplicate unique id/);
    await heartbeatWorks(p, 'after');
    // Both refused frames are kept in ocpp.rejected with their raw bytes and the reason; the accepted CALL is not.
    const rejected = await readFrom<Json>(ctx.kafka, Topics.ocppRejected, rejectedFrom, (k) => k === id, (r) => r.length >= 2);
    expect(rejected).toHaveLength(2);
    const byId = new Map(rejected.map((r: Json) => [r.uniqueId, r]));
    for (const [uniqueId, reason] of [
      ['same', /^duplicate unique id same: a CALL with this id is still pending$/],
      ['other', /^CALL same is still pending: one outstanding CALL per direction$/],
    ] as const) {
      const r = byId.get(uniqueId);
      const raw = Buffer.from(`[2, "${uniqueId}", "Heartbeat", {}]`);
      expect({ uniqueId, code: r?.errorCode, stage: r?.stage, protocol: r?.protocol, action: r?.action, chargePointId: r?.chargePointId }).toEqual({ uniqueId, code, stage: 'FRAME', protocol, action: 'Heartbeat', chargePointId: id });
      expect(Number(r.rawSize)).toBe(raw.length);
      expect(Buffer.from(r.raw).equals(raw)).toBe(true);
      expect(r.reason).toMatch(reason);
    }
    // In ocpp.frames every inbound CALL is kept; the refused ones carry their refusal, so the normalizer skips them.
    const calls = (await readFrom<Json>(ctx.kafka, Topics.ocppFrames, framesFrom, (k) => k === id, (r) => r.filter((f: Json) => f.kind === 'CALL' && f.direction === 'IN').length >= 4))
      .filter((f: Json) => f.kind === 'CALL' && f.direction === 'IN' && f.uniqueId !== 'after')
      .map((f: Json) => ({ uniqueId: f.uniqueId, errorCode: f.errorCode, refused: f.errorDescription !== null }))
      .sort((a: Json, b: Json) => (a.uniqueId === b.uniqueId ? Number(b.refused) - Number(a.refused) : a.uniqueId < b.uniqueId ? -1 : 1));
    expect(calls).toEqual([
      { uniqueId: 'other', errorCode: code, refused: true },
      { uniqueId: 'same', errorCode: code, refused: true },
      { uniqueId: 'same', errorCode: null, refused: false },
    ]);
    p.ws.close();
  });
});

test('a flood is refused (GenericError, then close 1008) while another charger carries on; a huge frame closes with 1009', async () => {
  const bystander = ocppClient({ endpoint: gw.url, identity: `${prefix}-bystander`, password: `pw-${prefix}-bystander`, protocols: ['ocpp1.6'] });
  await bystander.connect();
  const flood = await rawPeer(`${prefix}-flood`, 'ocpp1.6');
  const answers: Json[] = [];
  flood.ws.on('message', (d) => answers.push(JSON.parse(d.toString())));
  for (let i = 0; i < 300; i++) flood.ws.send(JSON.stringify([2, `f${i}`, 'Heartbeat', {}]));
  const [code] = await flood.closed;
  expect(code).toBe(1008);
  const refused = answers.filter((m) => m[0] === 4);
  expect(refused.length).toBeGreaterThan(0);
  // Sent without waiting, so besides the rate limit the flood also breaks "one outstanding CALL".
  expect(refused.some((m) => m[2] === 'GenericError' && /rate limit/.test(m[3]))).toBe(true);
  expect(refused.every((m) => (m[2] === 'GenericError' && /rate limit/.test(m[3])) || (m[2] === 'ProtocolError' && /still pending/.test(m[3])))).toBe(true);
  expect(answers.filter((m) => m[0] === 3).length).toBeLessThanOrEqual(61);
  expect(await bystander.call('Heartbeat', {})).toHaveProperty('currentTime');

  const huge = await rawPeer(`${prefix}-huge`, 'ocpp1.6');
  huge.ws.send(JSON.stringify([2, 'big', 'DataTransfer', { vendorId: 'acme', data: 'x'.repeat(MAX * 5) }]));
  const [hugeCode] = await huge.closed;
  expect(hugeCode).toBe(1009);
  expect(await bystander.call('Heartbeat', {})).toHaveProperty('currentTime');
  await bystander.close();

  const rejected = await readFrom<Json>(ctx.kafka, Topics.ocppRejected, rejectedFrom, (k) => k === `${prefix}-huge` || k === `${prefix}-flood`, (r) => r.some((x: Json) => x.errorCode === '1009') && r.some((x: Json) => x.errorCode === '1008'));
  expect(rejected.some((x: Json) => x.chargePointId === `${prefix}-huge` && x.errorCode === '1009')).toBe(true);
  expect(rejected.some((x: Json) => x.chargePointId === `${prefix}-flood` && x.errorCode === '1008')).toBe(true);
  expect(rejected.some((x: Json) => x.chargePointId === `${prefix}-flood` && x.errorCode === 'GenericError')).toBe(true);
  await waitFor('the flood connection to be released', () => gw.connectedCount() === 0);
});
