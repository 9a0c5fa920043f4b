/** Operator commands end to end: the API checks a command against the charger's OCPP version and writes it to
 *  ocpp.commands; a real gateway delivers it to a charger driven by the third-party ocpp-rpc client (strict mode, so
 *  every frame is checked against the official schemas on the charger's side too); the charger's answer comes back
 *  through ocpp.command-results and the projection `commands` to GET /api/v1/commands/{id}, the history and the CLI.
 *
 *  The charger's version reaches the API from projections.charger_status, which the normalizer fills from
 *  ocpp.frames in production. The normalizer reads all of ocpp.frames, which other tests share, so this test writes
 *  the ChargerConnected event the normalizer would write (and the ChargerConfigured event the API writes) to topics
 *  of its own, which its projections read beside the real ocpp.commands and ocpp.command-results. */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Topics } from '../../schemas/topics';
import { ConfigBody, configKey, configToAvro } from '../../schemas/fleet-config';
import { replay } from '../../streams/replay/replay';
import { uniq } from '../support/stack';
import { Json } from '../gateway/support';
import { produce, quietLog, testSerde } from '../streams/support';
import { answeringAll, CommandBed, startCommandBed } from './command-bed';
import { startTestApi, TestApi } from './harness';

jest.setTimeout(240_000);

const run = promisify(execFile);
const prefix = uniq('apicmd');
const ids = { v16: `${prefix}-16`, v201: `${prefix}-201`, offline: `${prefix}-off`, silent: `${prefix}-new` };
const serde = testSerde();
let bed: CommandBed;
let api: TestApi;
let key: string;
let keyId: string;

const configured = (id: string): ConfigBody => ({
  type: 'ChargerConfigured', chargePointId: id, siteId: 'site-test', maxPowerKw: 22, securityProfile: 1, passwordHash: null, ownerPartnerId: null,
  phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24,
});

const post = (id: string, route: string, body: unknown, k: string | null = key) => api.call('POST', `/api/v1/chargers/${id}/commands${route}`, { key: k, body });
const outcome = async (commandId: string) => {
  const r = await api.call('GET', `/api/v1/commands/${commandId}?wait=45`, { key });
  expect(r.status).toBe(200);
  return r.json;
};

beforeAll(async () => {
  // The gateway follows the real fleet.config; the projections read this test's copy of the same events.
  bed = await startCommandBed({
    name: 'api-cmd',
    prefix,
    chargerIds: Object.values(ids),
    projectionsConfigTopic: (topics) => topics.config,
    beforeProjections: (kafka, topics) =>
      produce(kafka, serde, topics.config, Topics.fleetConfig, Object.values(ids).map((id) => ({ key: configKey(configured(id)), value: configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'test', body: configured(id) }) }))),
  });
  api = await startTestApi({ projectionSchema: bed.db.schema });
  key = await api.issueKey(['commands:write']);
  keyId = /^vsk_([a-f0-9]+)_/.exec(key)![1]!;
});

afterAll(async () => {
  await api?.stop();
  await bed?.stop();
});

const accepted = { status: 'Accepted' };
const answers16: Record<string, Json> = {
  RemoteStartTransaction: accepted,
  RemoteStopTransaction: accepted,
  UnlockConnector: { status: 'Unlocked' },
  Reset: accepted,
  ChangeAvailability: { status: 'Scheduled' },
  TriggerMessage: accepted,
  ClearCache: accepted,
  GetConfiguration: { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }], unknownKey: [] },
  ChangeConfiguration: { status: 'Rejected' },
};
const answers201: Record<string, Json> = {
  RequestStartTransaction: accepted,
  RequestStopTransaction: accepted,
  UnlockConnector: { status: 'Unlocked' },
  Reset: accepted,
  ChangeAvailability: accepted,
  TriggerMessage: { status: 'Rejected' },
  ClearCache: accepted,
  GetVariables: { getVariableResult: [{ attributeStatus: 'Accepted', attributeValue: '300', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] },
  SetVariables: { setVariableResult: [{ attributeStatus: 'Accepted', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] },
};

/** route, body, then what the charger must receive: action and the payload fields to check. */
type Case = [string, Json, string, Json];
const cases16: Case[] = [
  ['remote-start', { idTag: 'TAG-16', connectorId: 1 }, 'RemoteStartTransaction', { idTag: 'TAG-16', connectorId: 1 }],
  ['remote-stop', { transactionId: '7' }, 'RemoteStopTransaction', { transactionId: 7 }],
  ['unlock-connector', { connectorId: 2 }, 'UnlockConnector', { connectorId: 2 }],
  ['reset', { type: 'Soft' }, 'Reset', { type: 'Soft' }],
  ['change-availability', { connectorId: 0, available: false }, 'ChangeAvailability', { connectorId: 0, type: 'Inoperative' }],
  ['trigger-message', { message: 'StatusNotification', connectorId: 1 }, 'TriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 1 }],
  ['clear-cache', {}, 'ClearCache', {}],
  ['get-configuration', { keys: ['HeartbeatInterval'] }, 'GetConfiguration', { key: ['HeartbeatInterval'] }],
  ['set-configuration', { key: 'HeartbeatInterval', value: '60' }, 'ChangeConfiguration', { key: 'HeartbeatInterval', value: '60' }],
];
const cases201: Case[] = [
  ['remote-start', { idTag: 'TAG-201', connectorId: 1 }, 'RequestStartTransaction', { idToken: { idToken: 'TAG-201', type: 'Central' }, evseId: 1 }],
  ['remote-stop', { transactionId: 'tx-9' }, 'RequestStopTransaction', { transactionId: 'tx-9' }],
  ['unlock-connector', { connectorId: 2 }, 'UnlockConnector', { evseId: 2, connectorId: 1 }],
  ['reset', { type: 'Hard' }, 'Reset', { type: 'Immediate' }],
  ['change-availability', { connectorId: 1, available: true }, 'ChangeAvailability', { operationalStatus: 'Operative', evse: { id: 1 } }],
  ['trigger-message', { message: 'Heartbeat' }, 'TriggerMessage', { requestedMessage: 'Heartbeat' }],
  ['clear-cache', {}, 'ClearCache', {}],
  ['get-variables', { variables: [{ component: 'OCPPCommCtrlr', variable: 'HeartbeatInterval' }] }, 'GetVariables', { getVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] }],
  ['set-variables', { variables: [{ component: 'OCPPCommCtrlr', variable: 'HeartbeatInterval', value: '60' }] }, 'SetVariables', { setVariableData: [{ attributeValue: '60', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] }],
];

/** The gateway's rule (services/ocpp-gateway/connection.ts outcomeOf): an answer without status, or with Accepted, is accepted. */
const expectedStatus = (answer: Json) => (answer.status === undefined || answer.status === 'Accepted' ? 'accepted' : 'rejected');

describe.each([
  ['ocpp1.6', () => ids.v16, cases16, answers16],
  ['ocpp2.0.1', () => ids.v201, cases201, answers201],
] as const)('every everyday command to an %s charger', (protocol, id, cases, answers) => {
  beforeAll(async () => {
    await bed.connect(id(), protocol, answeringAll(answers));
    await bed.announce(id(), protocol);
  });

  test.each(cases.map((c) => [c[0], c] as const))('%s: the charger receives the right CALL and its answer is the outcome', async (_name, [route, body, action, payload]) => {
    const before = bed.received[id()]!.length;
    const sent = await post(id(), `/${route}`, body);
    expect([sent.status, sent.json?.status, sent.json?.problems]).toEqual([202, 'pending', undefined]);
    const got = await outcome(sent.json.commandId);
    expect(bed.received[id()]!.slice(before)).toEqual([{ action, params: expect.objectContaining(payload) }]);
    expect(got).toMatchObject({ commandId: sent.json.commandId, chargePointId: id(), action, status: expectedStatus(answers[action]), response: answers[action], issuedBy: `api:${keyId}` });
    expect(Date.parse(got.completedAt)).toBeGreaterThanOrEqual(Date.parse(got.issuedAt));
  });
});

describe('any command (POST /api/v1/chargers/{id}/commands)', () => {
  test('a payload the official schema refuses is a 400 naming every schema error; nothing reaches the charger', async () => {
    const before = bed.received[ids.v16]!.length;
    const r = await post(ids.v16, '', { action: 'ChangeAvailability', payload: { connectorId: 'one', kind: 'Inoperative' } });
    expect(r.status).toBe(400);
    expect(r.json.problems).toEqual(expect.arrayContaining(['payload: unknown field kind', "payload: must have required property 'type'", 'payload.connectorId: must be integer']));
    const r201 = await post(ids.v201, '', { action: 'Reset', payload: { type: 'Soft' } });
    expect([r201.status, r201.json.problems]).toEqual([400, ['payload.type: must be one of Immediate, OnIdle']]);
    expect(bed.received[ids.v16]!.length).toBe(before);
  });

  test("an action of the other version, or one chargers send, is refused", async () => {
    const other = await post(ids.v201, '', { action: 'RemoteStartTransaction', payload: { idTag: 'T' } });
    expect([other.status, other.json.problems]).toEqual([400, ['action: RemoteStartTransaction is an ocpp1.6 action; this charger speaks ocpp2.0.1']]);
    const wrongWay = await post(ids.v16, '', { action: 'Heartbeat', payload: {} });
    expect([wrongWay.status, wrongWay.json.problems]).toEqual([400, ['action: Heartbeat is sent by chargers to the central system, not to chargers']]);
    const typed = await post(ids.v201, '/get-configuration', {});
    expect([typed.status, typed.json.problems]).toEqual([400, ['get-configuration is for ocpp1.6 chargers; this charger speaks ocpp2.0.1 (use get-variables)']]);
  });

  test('a raw action is delivered as given; the same idempotencyKey and body give the same command, sent once', async () => {
    const before = bed.received[ids.v16]!.length;
    const body = { action: 'Reset', payload: { type: 'Hard' }, idempotencyKey: uniq('idem') };
    const [first, second] = await Promise.all([post(ids.v16, '', body), post(ids.v16, '', body)]);
    // Two copies at once: one writes, the other is told the first is still in progress (409) or replays it (202).
    const answers = [first, second].sort((a, b) => a.status - b.status);
    expect(answers[0]!.status).toBe(202);
    const commandId = answers[0]!.json.commandId;
    expect([202, 409]).toContain(answers[1]!.status);
    if (answers[1]!.status === 202) expect(answers[1]!.json.commandId).toBe(commandId);
    expect((await outcome(commandId)).status).toBe('accepted');
    const again = await post(ids.v16, '', body);
    expect([again.status, again.json.commandId, again.json.status]).toEqual([202, commandId, 'accepted']);
    expect(bed.received[ids.v16]!.slice(before)).toEqual([{ action: 'Reset', params: { type: 'Hard' } }]);
    const changed = await post(ids.v16, '', { ...body, payload: { type: 'Soft' } });
    expect(changed.status).toBe(409);
    expect(changed.json.problems[0]).toMatch(/already used for charger .* with a different request/);
  });

  test('commands:write is needed; an unknown charger is a 404, one that never connected a 409', async () => {
    const reader = await api.issueKey(['history:read']);
    expect((await post(ids.v16, '/reset', { type: 'Soft' }, reader)).status).toBe(403);
    expect((await post(`${prefix}-nobody`, '/reset', { type: 'Soft' })).status).toBe(404);
    const silent = await post(ids.silent, '/reset', { type: 'Soft' });
    expect([silent.status, silent.json.problems[0]]).toEqual([409, expect.stringMatching(/OCPP version of .* is not known yet/)]);
  });
});

describe('a charger that is not connected', () => {
  beforeAll(async () => {
    // It spoke 1.6 once (the projections know its version) and is gone now.
    await bed.announce(ids.offline, 'ocpp1.6');
  });

  test('gets an explicit outcome: offline at once, or expired when expiresAt passes', async () => {
    const now = await post(ids.offline, '/reset', { type: 'Soft' });
    const later = await post(ids.offline, '/reset', { type: 'Soft', expiresAt: new Date(Date.now() + 2000).toISOString() });
    expect([now.status, later.status]).toEqual([202, 202]);
    expect(await outcome(now.json.commandId)).toMatchObject({ status: 'offline', error: expect.stringMatching(/not connected/) });
    expect(await outcome(later.json.commandId)).toMatchObject({ status: 'expired', error: expect.stringMatching(/expire/) });
  });
});

describe('reading commands', () => {
  test("a charger's history lists its commands with outcome and issuer, cursor-paged", async () => {
    const page1 = await api.call('GET', `/api/v1/chargers/${ids.v201}/commands?limit=4`, { key });
    expect(page1.status).toBe(200);
    expect(page1.json.items).toHaveLength(4);
    const pages = [page1.json.items];
    let cursor = page1.json.nextCursor;
    while (cursor) {
      const next = await api.call('GET', `/api/v1/chargers/${ids.v201}/commands?limit=4&cursor=${encodeURIComponent(cursor)}`, { key });
      pages.push(next.json.items);
      cursor = next.json.nextCursor;
    }
    const items = pages.flat();
    expect(items.map((i: Json) => i.action)).toEqual(cases201.map((c) => c[2]));
    expect(items.every((i: Json) => i.issuedBy === `api:${keyId}` && i.chargePointId === ids.v201)).toBe(true);
    expect(items.find((i: Json) => i.action === 'TriggerMessage')).toMatchObject({ status: 'rejected', response: { status: 'Rejected' } });
  });

  test('an unknown command is a 404, a bad wait a 400', async () => {
    expect((await api.call('GET', `/api/v1/commands/${randomUUID()}`, { key })).status).toBe(404);
    expect((await api.call('GET', `/api/v1/commands/${randomUUID()}?wait=soon`, { key })).status).toBe(400);
  });

  test('/openapi.json lists every command route', async () => {
    const doc = (await api.call('GET', '/openapi.json', { key: null })).json;
    const paths = Object.keys(doc.paths);
    expect(paths).toEqual(expect.arrayContaining(['/api/v1/chargers/{chargePointId}/commands', '/api/v1/commands/{commandId}', ...cases16.concat(cases201).map((c) => `/api/v1/chargers/{chargePointId}/commands/${c[0]}`)]));
    expect(doc.paths['/api/v1/chargers/{chargePointId}/commands'].post['x-scope']).toBe('commands:write');
    expect(doc.paths['/api/v1/chargers/{chargePointId}/commands'].get['x-scope']).toBe('commands:write');
    expect(Object.keys(doc.paths['/api/v1/chargers/{chargePointId}/commands'].post.requestBody.content['application/json'].schema.properties)).toEqual(['action', 'payload', 'expiresAt', 'idempotencyKey']);
  });
});

describe('replay', () => {
  test('rebuilding the projections from the log gives the same commands table', async () => {
    const fresh = `${bed.db.schema}_replay`;
    try {
      const r = await replay({
        kafka: bed.kafka, serde, pool: bed.db.pool, log: quietLog, schema: fresh, liveSchema: bed.db.schema,
        topics: { events: bed.topics.events, readings: bed.topics.readings, config: bed.topics.config, commands: Topics.ocppCommands, commandResults: Topics.ocppCommandResults },
      });
      expect(r.differences).toEqual([]);
      const mine = await bed.db.pool.query(`SELECT count(*)::int AS n FROM ${fresh}.commands WHERE charge_point_id LIKE $1 AND outcome IS NOT NULL`, [`${prefix}%`]);
      expect(mine.rows[0].n).toBeGreaterThanOrEqual(cases16.length);
    } finally {
      await bed.db.pool.query(`DROP SCHEMA IF EXISTS ${fresh} CASCADE`);
    }
  });
});

describe('voltstream command', () => {
  const cli = path.join(__dirname, '..', '..', 'bin', 'voltstream.js');
  const voltstream = (args: string[]) =>
    run(process.execPath, [cli, 'command', ...args, '--url', api.api.url, '--key', key], { env: { ...process.env, VOLTSTREAM_MODE: 'development' } }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  test('prints the outcome; exit 0 only when accepted', async () => {
    const ok = await voltstream([ids.v16, 'TriggerMessage', '{"requestedMessage":"Heartbeat"}', '--timeout', '45']);
    expect(ok.stdout).toMatch(/status: accepted\nresponse: \{"status":"Accepted"\}\nissued by api:[a-f0-9]+ at /);
    expect(ok.code).toBe(0);
    expect(bed.received[ids.v16]!.at(-1)).toEqual({ action: 'TriggerMessage', params: { requestedMessage: 'Heartbeat' } });
    const off = await voltstream([ids.offline, 'reset', '{"type":"Hard"}', '--timeout', '45']);
    expect([off.code, off.stdout]).toEqual([1, expect.stringContaining('status: offline')]);
    const bad = await voltstream([ids.v16, 'Reset', '{"type":"Later"}']);
    expect([bad.code, bad.stderr]).toEqual([3, expect.stringContaining('payload.type: must be one of Hard, Soft')]);
    const usage = await voltstream([ids.v16]);
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining('Usage: voltstream command <chargePointId> <action> [json]')]);
  });
});
