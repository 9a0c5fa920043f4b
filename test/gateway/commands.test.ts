/** Commands on ocpp.commands reach the charger on whichever of two gateway instances holds it, also when it
 *  reconnects to the other instance while the command is in flight; outcomes land on ocpp.command-results. */
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { Topics } from '../../schemas/topics';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, Json, ocppClient, OcppClient, pgSchemaName, readFrom, topicEnds, waitFor } from './support';

const ctx = gatewayContext();
const schema = pgSchemaName('gw_cmd');
const prefix = uniq('cmd');
const group = uniq('gw-commands');
const ids = {
  onA: `${prefix}-a16`,
  onB: `${prefix}-b201`,
  mover: `${prefix}-mover`,
  slow: `${prefix}-slow`,
  offline: `${prefix}-offline`,
  invalid: `${prefix}-inv`,
  generic16: `${prefix}-g16`,
  generic201: `${prefix}-g201`,
  later: `${prefix}-later`,
};
let a: Gateway;
let b: Gateway;
let resultsFrom: Map<number, number>;
const clients: OcppClient[] = [];

interface Result {
  commandId: string;
  chargePointId: string;
  outcome: string;
  status: string | null;
  detail: string | null;
  gatewayId: string;
  responseJson: string | null;
}

const producer = ctx.kafka.producer();

const sendCommand = async (chargePointId: string, action: string, payload: unknown, expiresAt: number | null = null): Promise<string> => {
  const commandId = randomUUID();
  const value = await ctx.serde.encode(Topics.ocppCommands, {
    commandId,
    chargePointId,
    action,
    payloadJson: JSON.stringify(payload),
    issuedBy: 'test',
    issuedAt: Date.now(),
    expiresAt,
    planId: null,
  });
  await producer.send({ topic: Topics.ocppCommands, acks: -1, messages: [{ key: chargePointId, value }] });
  return commandId;
};

const resultOf = async (commandId: string, chargePointId: string): Promise<Result> => {
  const found = await readFrom<Result>(ctx.kafka, Topics.ocppCommandResults, resultsFrom, (k) => k === chargePointId, (r) => r.some((x) => x.commandId === commandId), 45000);
  const r = found.find((x) => x.commandId === commandId);
  if (!r) throw new Error(`no outcome recorded for ${commandId}`);
  return r;
};

const connect = async (gw: Gateway, identity: string, protocol: string): Promise<OcppClient> => {
  const c = ocppClient({ endpoint: gw.url, identity, password: 'pw-' + identity, protocols: [protocol] });
  clients.push(c);
  await c.connect();
  return c;
};

const profile16 = (periods = 1, extra: Record<string, unknown> = {}) => ({
  connectorId: 1,
  csChargingProfiles: {
    chargingProfileId: 7,
    stackLevel: 0,
    chargingProfilePurpose: 'TxDefaultProfile',
    chargingProfileKind: 'Absolute',
    chargingSchedule: {
      startSchedule: new Date().toISOString(),
      chargingRateUnit: 'A',
      chargingSchedulePeriod: Array.from({ length: periods }, (_, i) => ({ startPeriod: i * 900, limit: 16 })),
    },
    ...extra,
  },
});

const profile201 = () => ({
  evseId: 1,
  chargingProfile: {
    id: 8,
    stackLevel: 0,
    chargingProfilePurpose: 'TxDefaultProfile',
    chargingProfileKind: 'Absolute',
    chargingSchedule: [{ id: 1, startSchedule: new Date().toISOString(), chargingRateUnit: 'W', chargingSchedulePeriod: [{ startPeriod: 0, limit: 7400 }] }],
  },
});

beforeAll(async () => {
  await ensureContractTopics(ctx.kafka);
  await producer.connect();
  await configureFleet(
    ctx.kafka,
    ctx.serde,
    Object.values(ids).map((id) => ({ id, password: 'pw-' + id, maxSchedulePeriods: 5, rateUnit: id === ids.onB ? 'W' : 'A' })),
  );
  resultsFrom = await topicEnds(ctx.kafka, Topics.ocppCommandResults);
  const common = { port: 0, settings: { dbSchema: schema, callTimeoutMs: 1500, internalToken: uniq('token') }, commandsGroupId: group, acceptsCommandsFor: (id: string) => id.startsWith(prefix) };
  // A reads ocpp.commands; B only takes what A forwards to it, so every command for a charger on B crosses instances.
  a = await createGateway(ctx, { ...common, gatewayId: uniq('gw-A'), metrics: new Registry() });
  b = await createGateway(ctx, { ...common, gatewayId: uniq('gw-B'), metrics: new Registry(), consumeCommands: false });
});

afterAll(async () => {
  for (const c of clients) await c.close({ force: true }).catch(() => undefined);
  await a?.stop();
  await b?.stop();
  await producer.disconnect();
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
});

test('SetChargingProfile reaches the charger on either instance; outcome recorded by the holder', async () => {
  const got: Record<string, Json> = {};
  const c16 = await connect(a, ids.onA, 'ocpp1.6');
  c16.handle('SetChargingProfile', ({ params }) => {
    got.a = params;
    return { status: 'Accepted' };
  });
  const c201 = await connect(b, ids.onB, 'ocpp2.0.1');
  c201.handle('SetChargingProfile', ({ params }) => {
    got.b = params;
    return { status: 'Rejected' };
  });
  const idA = await sendCommand(ids.onA, 'SetChargingProfile', profile16(3));
  const idB = await sendCommand(ids.onB, 'SetChargingProfile', profile201());
  const [ra, rb] = await Promise.all([resultOf(idA, ids.onA), resultOf(idB, ids.onB)]);
  expect(ra).toMatchObject({ outcome: 'ACCEPTED', status: 'Accepted', gatewayId: a.gatewayId });
  expect(rb).toMatchObject({ outcome: 'REJECTED', status: 'Rejected', gatewayId: b.gatewayId });
  expect(got.a.csChargingProfiles.chargingSchedule.chargingSchedulePeriod).toHaveLength(3);
  expect(got.b.chargingProfile.id).toBe(8);

  // The outbound CALL and its answer are in ocpp.frames with the command id.
  const frames = await readFrom<Json>(ctx.kafka, Topics.ocppFrames, resultsFromFrames, (k) => k === ids.onB, (r) => r.filter((f: Json) => f.commandId === idB).length >= 2);
  expect(frames.filter((f: Json) => f.commandId === idB).map((f: Json) => `${f.direction} ${f.kind} ${f.action}`)).toEqual(['OUT CALL SetChargingProfile', 'IN CALLRESULT SetChargingProfile']);
});

let resultsFromFrames: Map<number, number>;
beforeAll(async () => {
  resultsFromFrames = await topicEnds(ctx.kafka, Topics.ocppFrames);
});

test('charging profiles are checked before sending: INVALID with the reason', async () => {
  const c = await connect(a, ids.invalid, 'ocpp1.6');
  let calls = 0;
  c.handle('SetChargingProfile', () => {
    calls++;
    return { status: 'Accepted' };
  });
  const noStart = profile16(1);
  delete (noStart.csChargingProfiles.chargingSchedule as Partial<typeof noStart.csChargingProfiles.chargingSchedule>).startSchedule;
  const tooMany = profile16(6);
  const wrongUnit = profile16(1);
  wrongUnit.csChargingProfiles.chargingSchedule.chargingRateUnit = 'W';
  const schemaBad = { connectorId: 'one', csChargingProfiles: {} };
  const cmds = await Promise.all([noStart, tooMany, wrongUnit, schemaBad].map((p) => sendCommand(ids.invalid, 'SetChargingProfile', p)));
  const results = await Promise.all(cmds.map((id) => resultOf(id, ids.invalid)));
  expect(results.map((r) => r.outcome)).toEqual(['INVALID', 'INVALID', 'INVALID', 'INVALID']);
  expect(results[0]!.detail).toMatch(/Absolute profile needs startSchedule/);
  expect(results[1]!.detail).toMatch(/6 periods, the charger takes at most 5/);
  expect(results[2]!.detail).toMatch(/rate unit W is not supported/);
  expect(results[3]!.detail).toMatch(/^schema:/);
  expect(calls).toBe(0);
  // A valid one still goes through on the same connection.
  const ok = await sendCommand(ids.invalid, 'SetChargingProfile', profile16(5));
  expect((await resultOf(ok, ids.invalid)).outcome).toBe('ACCEPTED');
});

test('offline charger: OFFLINE; past expiresAt: EXPIRED', async () => {
  const off = await sendCommand(ids.offline, 'ClearChargingProfile', {});
  const exp = await sendCommand(ids.offline, 'ClearChargingProfile', {}, Date.now() - 1000);
  expect((await resultOf(off, ids.offline)).outcome).toBe('OFFLINE');
  expect((await resultOf(exp, ids.offline)).outcome).toBe('EXPIRED');
});

test('an outstanding command never blocks the charger\'s own CALLs; no answer in time: TIMEOUT; CALLERROR answer recorded', async () => {
  const c = await connect(a, ids.slow, 'ocpp1.6');
  let release: () => void = () => undefined;
  const answered = new Promise<void>((r) => (release = r));
  let received = 0;
  c.handle('GetCompositeSchedule', async () => {
    received++;
    await answered;
    return { status: 'Accepted' };
  });
  c.handle('Reset', () => {
    throw new Error('nope');
  });
  const id = await sendCommand(ids.slow, 'GetCompositeSchedule', { connectorId: 1, duration: 3600 });
  await waitFor('the command to reach the charger', () => received === 1);
  // The charger's CALLs are answered while the central system's CALL waits for the charger.
  expect(await c.call('Heartbeat', {})).toHaveProperty('currentTime');
  expect((await c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging' }))).toEqual({});
  const r = await resultOf(id, ids.slow);
  expect(r.outcome).toBe('TIMEOUT');
  release();
  const reset = await sendCommand(ids.slow, 'Reset', { type: 'Soft' });
  const rr = await resultOf(reset, ids.slow);
  expect(rr.outcome).toBe('CALLERROR');
  expect(rr.detail).toMatch(/^GenericError: nope/);
});

test('a charger that reconnects to the other instance while a command is in flight gets it there', async () => {
  const first = await connect(a, ids.mover, 'ocpp1.6');
  let second: OcppClient | undefined;
  const seen: string[] = [];
  first.handle('SetChargingProfile', async () => {
    seen.push('first');
    // The connection drops before the charger answers; it comes back on instance B.
    await first.close({ force: true });
    second = await connect(b, ids.mover, 'ocpp1.6');
    second.handle('SetChargingProfile', () => {
      seen.push('second');
      return { status: 'Accepted' };
    });
    return new Promise(() => undefined);
  });
  const id = await sendCommand(ids.mover, 'SetChargingProfile', profile16(2));
  const r = await resultOf(id, ids.mover);
  expect(r).toMatchObject({ outcome: 'ACCEPTED', gatewayId: b.gatewayId });
  expect(seen).toEqual(['first', 'second']);
});

test('other actions of both versions go through the same path (Remote Trigger, Local Auth List, Get/SetVariables, Request*Transaction, Reset)', async () => {
  const c16 = await connect(a, ids.generic16, 'ocpp1.6');
  c16.handle('TriggerMessage', () => ({ status: 'Accepted' }));
  c16.handle('RemoteStartTransaction', () => ({ status: 'Accepted' }));
  c16.handle('SendLocalList', () => ({ status: 'Accepted' }));
  c16.handle('GetLocalListVersion', () => ({ listVersion: 3 }));
  const c201 = await connect(b, ids.generic201, 'ocpp2.0.1');
  const variable = { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } };
  c201.handle('GetVariables', () => ({ getVariableResult: [{ attributeStatus: 'Accepted', attributeValue: '300', ...variable }] }));
  c201.handle('SetVariables', () => ({ setVariableResult: [{ attributeStatus: 'Accepted', ...variable }] }));
  c201.handle('RequestStartTransaction', () => ({ status: 'Accepted' }));
  c201.handle('RequestStopTransaction', () => ({ status: 'Accepted' }));
  c201.handle('Reset', () => ({ status: 'Rejected' }));
  c201.handle('TriggerMessage', () => ({ status: 'NotImplemented' }));
  const sent: [string, string, unknown][] = [
    [ids.generic16, 'TriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 1 }],
    [ids.generic16, 'RemoteStartTransaction', { idTag: 'TAG1', connectorId: 1 }],
    [ids.generic16, 'SendLocalList', { listVersion: 3, updateType: 'Full', localAuthorizationList: [{ idTag: 'TAG1', idTagInfo: { status: 'Accepted' } }] }],
    [ids.generic16, 'GetLocalListVersion', {}],
    [ids.generic201, 'GetVariables', { getVariableData: [variable] }],
    [ids.generic201, 'SetVariables', { setVariableData: [{ attributeValue: '60', ...variable }] }],
    [ids.generic201, 'RequestStartTransaction', { idToken: { idToken: 'TAG1', type: 'ISO14443' }, remoteStartId: 1 }],
    [ids.generic201, 'RequestStopTransaction', { transactionId: 'tx-1' }],
    [ids.generic201, 'Reset', { type: 'Immediate' }],
    [ids.generic201, 'TriggerMessage', { requestedMessage: 'MeterValues' }],
  ];
  const cmdIds = [];
  for (const [cp, action, payload] of sent) cmdIds.push(await sendCommand(cp, action, payload));
  const results = await Promise.all(cmdIds.map((id, i) => resultOf(id, sent[i]![0])));
  expect(results.map((r) => `${r.outcome} ${r.status ?? ''}`.trim())).toEqual([
    'ACCEPTED Accepted',
    'ACCEPTED Accepted',
    'ACCEPTED Accepted',
    'ACCEPTED',
    'ACCEPTED',
    'ACCEPTED',
    'ACCEPTED Accepted',
    'ACCEPTED Accepted',
    'REJECTED Rejected',
    'REJECTED NotImplemented',
  ]);
  expect(JSON.parse(results[3]!.responseJson!)).toEqual({ listVersion: 3 });
});

test('a command with expiresAt waits for a charger that is offline and is delivered when it connects', async () => {
  const id = await sendCommand(ids.later, 'ClearChargingProfile', { id: 7 }, Date.now() + 20000);
  await new Promise((r) => setTimeout(r, 1000));
  const c = ocppClient({ endpoint: b.url, identity: ids.later, password: 'pw-' + ids.later, protocols: ['ocpp1.6'] });
  c.handle('ClearChargingProfile', () => ({ status: 'Accepted' }));
  clients.push(c);
  await c.connect();
  expect(await resultOf(id, ids.later)).toMatchObject({ outcome: 'ACCEPTED', gatewayId: b.gatewayId });
});
