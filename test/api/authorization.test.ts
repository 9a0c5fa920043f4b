/** Who may charge, end to end: the id-token registry written through the API (fleet.config IdTokenConfigured), a real
 *  gateway that answers Authorize / StartTransaction / TransactionEvent from it, local authorization lists kept in sync
 *  through SendLocalList, and reservations through ReserveNow / CancelReservation. The chargers are driven by the
 *  third-party ocpp-rpc client in strict mode (every frame checked against the official schemas on its side too).
 *
 *  The gateway and the projections follow the real fleet.config (where the API writes); the charger's version and its
 *  sessions reach the projections from this test's own charging.events topic, written the way the normalizer would. */
import { randomUUID } from 'node:crypto';
import { uniq } from '../support/stack';
import { Json, OcppClient, waitFor } from '../gateway/support';
import { Answer, CommandBed, startCommandBed } from './command-bed';
import { startTestApi, TestApi } from './harness';

jest.setTimeout(180_000);

const prefix = uniq('auth');
/** 1.6 idTags have at most 20 characters. */
const short = randomUUID().slice(0, 6);
const tag = (name: string) => `${short}${name}`.slice(0, 20);
let bed: CommandBed;
let api: TestApi;
let key: string;

const v16 = { id: `${prefix}-16`, protocol: 'ocpp1.6' } as const;
const v201 = { id: `${prefix}-201`, protocol: 'ocpp2.0.1' } as const;
type Charger = typeof v16 | typeof v201;

const putToken = async (idToken: string, body: Json) => {
  const r = await api.call('PUT', `/api/v1/id-tokens/${encodeURIComponent(idToken)}`, { key, body });
  expect([r.status, r.json?.problems]).toEqual([200, undefined]);
  return r.json;
};

/** fleet.config has one partition, folded in order by the gateway: once a token written last is answered Accepted,
 *  everything written before it is in the gateway's view too. */
const gatewaySees = async (c: OcppClient, protocol: string) => {
  const sentinel = tag(`s${randomUUID().slice(0, 8)}`);
  await putToken(sentinel, { status: 'Accepted' });
  await waitFor(`the gateway to fold ${sentinel}`, async () => (await authorize(c, protocol, sentinel)).status === 'Accepted', 30_000, 100);
};

const authorize = async (c: OcppClient, protocol: string, idTag: string): Promise<Json> =>
  protocol === 'ocpp1.6' ? (await c.call('Authorize', { idTag })).idTagInfo : (await c.call('Authorize', { idToken: { idToken: idTag, type: 'ISO14443' } })).idTokenInfo;

/** A charger's local list as the charger keeps it (version and entries), answering GetLocalListVersion and SendLocalList. */
interface ChargerList {
  version: number;
  tags: Map<string, Json>;
}
const lists: Record<string, ChargerList> = {};

const connect = async (ch: Charger): Promise<OcppClient> => {
  const list: ChargerList = (lists[ch.id] = { version: 0, tags: new Map() });
  const is16 = ch.protocol === 'ocpp1.6';
  const accepted: Answer = () => ({ status: 'Accepted' });
  const c = await bed.connect(ch.id, ch.protocol, {
    GetLocalListVersion: () => (is16 ? { listVersion: list.version } : { versionNumber: list.version }),
    SendLocalList: (p) => {
      if (p.updateType === 'Full') list.tags.clear();
      for (const e of p.localAuthorizationList ?? []) {
        const id = is16 ? e.idTag : e.idToken.idToken;
        const info = is16 ? e.idTagInfo : e.idTokenInfo;
        if (info) list.tags.set(id, info);
        else list.tags.delete(id);
      }
      list.version = is16 ? p.listVersion : p.versionNumber;
      return { status: 'Accepted' };
    },
    ReserveNow: accepted,
    CancelReservation: accepted,
    [is16 ? 'RemoteStopTransaction' : 'RequestStopTransaction']: accepted,
  });
  await bed.announce(ch.id, ch.protocol);
  return c;
};

const client: Record<string, OcppClient> = {};

beforeAll(async () => {
  bed = await startCommandBed({ name: 'api-auth', prefix, chargerIds: [v16.id, v201.id] });
  api = await startTestApi({ projectionSchema: bed.db.schema });
  key = await api.issueKey(['config:write', 'commands:write', 'history:read']);
  client[v16.id] = await connect(v16);
  client[v201.id] = await connect(v201);
});

afterAll(async () => {
  await api?.stop();
  await bed?.stop();
});

const hourFromNow = () => new Date(Date.now() + 3600_000).toISOString();

describe.each([v16, v201])('Authorize at a $protocol charger', (ch) => {
  test('accepted tokens pass; blocked, expired (by status or by date), unknown and blocked-group tokens are refused with their status', async () => {
    const t = (n: string) => tag(`${ch.protocol === 'ocpp1.6' ? 'a' : 'b'}${n}`);
    await putToken(t('ok'), { status: 'Accepted', expiresAt: hourFromNow(), parentIdTag: t('grp'), driverId: 'driver-1' });
    await putToken(t('grp'), { status: 'Accepted', type: 'Central' });
    await putToken(t('blk'), { status: 'Blocked' });
    await putToken(t('exp'), { status: 'Expired' });
    await putToken(t('old'), { status: 'Accepted', expiresAt: new Date(Date.now() - 60_000).toISOString() });
    await putToken(t('bgrp'), { status: 'Blocked', type: 'Central' });
    await putToken(t('kid'), { status: 'Accepted', parentIdTag: t('bgrp') });
    const c = client[ch.id]!;
    await gatewaySees(c, ch.protocol);
    const ok = await authorize(c, ch.protocol, t('ok'));
    const statuses = await Promise.all(['blk', 'exp', 'old', 'unknown', 'kid'].map(async (n) => (await authorize(c, ch.protocol, t(n))).status));
    expect(statuses).toEqual(['Blocked', 'Expired', 'Expired', 'Invalid', 'Blocked']);
    if (ch.protocol === 'ocpp1.6') expect(ok).toEqual({ status: 'Accepted', expiryDate: expect.any(String), parentIdTag: t('grp') });
    else expect(ok).toEqual({ status: 'Accepted', cacheExpiryDateTime: expect.any(String), groupIdToken: { idToken: t('grp'), type: 'Central' } });
    // The same decision at the start of a transaction.
    const started =
      ch.protocol === 'ocpp1.6'
        ? (await c.call('StartTransaction', { connectorId: 1, idTag: t('blk'), meterStart: 0, timestamp: new Date().toISOString() })).idTagInfo
        : (await c.call('TransactionEvent', { eventType: 'Started', timestamp: new Date().toISOString(), triggerReason: 'Authorized', seqNo: 0, transactionInfo: { transactionId: uniq('tx') }, idToken: { idToken: t('blk'), type: 'ISO14443' }, evse: { id: 1, connectorId: 1 } })).idTokenInfo;
    expect(started.status).toBe('Blocked');
    // Every change is in the registry's history.
    await bed.projected('the registry', `SELECT 1 FROM ${bed.db.schema}.id_tokens WHERE id_token = $1`, [t('kid')]);
    const one = await api.call('GET', `/api/v1/id-tokens/${t('ok')}`, { key });
    expect(one.json).toMatchObject({ idToken: t('ok'), status: 'Accepted', parentIdTag: t('grp'), driverId: 'driver-1' });
    await putToken(t('ok'), { status: 'Blocked' });
    await bed.projected('the change', `SELECT 1 FROM ${bed.db.schema}.id_token_changes WHERE id_token = $1 AND status = 'Blocked'`, [t('ok')]);
    const history = await api.call('GET', `/api/v1/id-tokens/${t('ok')}/history`, { key });
    expect(history.json.items.map((i: Json) => i.status)).toEqual(['Accepted', 'Blocked']);
  });

  test('blocking a token with stopRunningSessions stops its running session through the commands path', async () => {
    const t = tag(`${ch.protocol === 'ocpp1.6' ? 'a' : 'b'}run`);
    const transactionId = ch.protocol === 'ocpp1.6' ? '4711' : uniq('tx');
    await bed.emit(ch.id, { type: 'SessionStarted', sessionId: `${ch.id}:${transactionId}`, transactionId, connectorId: 1, idTag: t, meterStartWh: 0 });
    await bed.projected('the session', `SELECT 1 FROM ${bed.db.schema}.sessions WHERE id_tag = $1 AND active`, [t]);
    const before = bed.received[ch.id]!.length;
    const r = await putToken(t, { status: 'Blocked', stopRunningSessions: true });
    expect(r.stoppedSessions).toEqual([{ sessionId: `${ch.id}:${transactionId}`, chargePointId: ch.id, commandId: expect.any(String) }]);
    const outcome = await api.call('GET', `/api/v1/commands/${r.stoppedSessions[0].commandId}?wait=30`, { key });
    expect([outcome.json.status, outcome.json.error]).toEqual(['accepted', undefined]);
    const stop = ch.protocol === 'ocpp1.6' ? { action: 'RemoteStopTransaction', params: { transactionId: 4711 } } : { action: 'RequestStopTransaction', params: { transactionId } };
    expect(bed.received[ch.id]!.slice(before)).toEqual([stop]);
  });
});

describe.each([v16, v201])('the local list of a $protocol charger', (ch) => {
  const sync = async () => {
    const r = await api.call('POST', `/api/v1/chargers/${ch.id}/local-list/sync`, { key, body: {} });
    expect([r.status, r.json?.problems]).toEqual([200, undefined]);
    return r.json;
  };
  const sentLists = (from: number) => bed.received[ch.id]!.slice(from).filter((x) => x.action === 'SendLocalList');
  const inRegistry = (idToken: string, status: string) => bed.projected(`${idToken} ${status} in the registry`, `SELECT 1 FROM ${bed.db.schema}.id_tokens WHERE id_token = $1 AND status = $2`, [idToken, status]);

  test('a sync after three changes sends one differential update with the next version; diverged versions get a full update', async () => {
    const t = (n: string) => tag(`${ch.protocol === 'ocpp1.6' ? 'l' : 'm'}${n}`);
    await putToken(t('one'), { status: 'Accepted' });
    await putToken(t('two'), { status: 'Accepted' });
    await inRegistry(t('two'), 'Accepted');
    const first = await sync();
    expect(first).toMatchObject({ outcome: 'sent', updateType: 'Full', version: 1, status: 'accepted' });
    expect(lists[ch.id]!.version).toBe(1);
    expect([...lists[ch.id]!.tags.keys()]).toEqual(expect.arrayContaining([t('one'), t('two')]));

    // Three changes: a new token, one blocked, one given an expiry.
    const expiry = hourFromNow();
    await putToken(t('three'), { status: 'Accepted' });
    await putToken(t('one'), { status: 'Blocked' });
    await putToken(t('two'), { status: 'Accepted', expiresAt: expiry });
    await inRegistry(t('three'), 'Accepted');
    await inRegistry(t('one'), 'Blocked');
    await bed.projected('the expiry', `SELECT 1 FROM ${bed.db.schema}.id_tokens WHERE id_token = $1 AND expires_at IS NOT NULL`, [t('two')]);
    const before = bed.received[ch.id]!.length;
    const second = await sync();
    expect(second).toMatchObject({ outcome: 'sent', updateType: 'Differential', version: 2, status: 'accepted' });
    const sent = sentLists(before);
    expect(sent).toHaveLength(1);
    const p = sent[0]!.params;
    const is16 = ch.protocol === 'ocpp1.6';
    expect([is16 ? p.listVersion : p.versionNumber, p.updateType]).toEqual([2, 'Differential']);
    // Only this test's three tokens changed (other tests may write tokens of their own meanwhile).
    const mine = (p.localAuthorizationList as Json[]).filter((e) => String(is16 ? e.idTag : e.idToken.idToken).startsWith(tag(is16 ? 'l' : 'm')));
    const info = (e: Json) => (is16 ? e.idTagInfo : e.idTokenInfo);
    const idOf = (e: Json) => (is16 ? e.idTag : e.idToken.idToken);
    expect(mine.map((e) => [idOf(e), info(e).status])).toEqual([[t('one'), 'Blocked'], [t('three'), 'Accepted'], [t('two'), 'Accepted']].sort((a, b) => a[0]!.localeCompare(b[0]!)));
    expect(Date.parse(info(mine.find((e) => idOf(e) === t('two')))[is16 ? 'expiryDate' : 'cacheExpiryDateTime'])).toBe(Date.parse(expiry));
    expect(lists[ch.id]!.version).toBe(2);
    expect(lists[ch.id]!.tags.get(t('one'))?.status).toBe('Blocked');

    // The charger lost its list (a reset): versions diverge, the next sync is a full update.
    lists[ch.id]!.version = 0;
    lists[ch.id]!.tags.clear();
    const reset = bed.received[ch.id]!.length;
    const third = await sync();
    expect(third).toMatchObject({ outcome: 'sent', updateType: 'Full', version: 3, chargerVersion: 0 });
    expect(sentLists(reset)).toHaveLength(1);
    expect(lists[ch.id]!.tags.get(t('three'))?.status).toBe('Accepted');
    const held = await api.call('GET', `/api/v1/chargers/${ch.id}/local-list`, { key });
    expect(held.json.version).toBe(3);
  });
});

describe.each([v16, v201])('a reservation on a $protocol charger', (ch) => {
  const start = async (idTag: string, connectorId: number): Promise<string> => {
    const c = client[ch.id]!;
    if (ch.protocol === 'ocpp1.6') return (await c.call('StartTransaction', { connectorId, idTag, meterStart: 0, timestamp: new Date().toISOString() })).idTagInfo.status;
    const tx = { transactionId: uniq('tx') };
    return (await c.call('TransactionEvent', { eventType: 'Started', timestamp: new Date().toISOString(), triggerReason: 'Authorized', seqNo: 0, transactionInfo: tx, idToken: { idToken: idTag, type: 'ISO14443' }, evse: { id: connectorId, connectorId: 1 } })).idTokenInfo.status;
  };
  const refused = ch.protocol === 'ocpp1.6' ? 'Invalid' : 'NotAtThisTime';

  test('holds the connector for its token until it expires; a cancelled one holds nothing', async () => {
    const t = (n: string) => tag(`${ch.protocol === 'ocpp1.6' ? 'r' : 'q'}${n}`);
    await putToken(t('mine'), { status: 'Accepted' });
    await putToken(t('other'), { status: 'Accepted' });
    const expiresAt = Date.now() + 12_000;
    const before = bed.received[ch.id]!.length;
    const r = await api.call('POST', `/api/v1/chargers/${ch.id}/reservations`, { key, body: { idTag: t('mine'), connectorId: 1, expiresAt: new Date(expiresAt).toISOString(), reservationId: 42 } });
    expect([r.status, r.json]).toEqual([201, expect.objectContaining({ reservationId: 42, status: 'accepted' })]);
    const reserve = bed.received[ch.id]!.slice(before);
    expect(reserve).toEqual([
      ch.protocol === 'ocpp1.6'
        ? { action: 'ReserveNow', params: { connectorId: 1, idTag: t('mine'), reservationId: 42, expiryDate: new Date(expiresAt).toISOString() } }
        : { action: 'ReserveNow', params: { id: 42, evseId: 1, idToken: { idToken: t('mine'), type: 'ISO14443' }, expiryDateTime: new Date(expiresAt).toISOString() } },
    ]);
    await gatewaySees(client[ch.id]!, ch.protocol);
    expect(Date.now()).toBeLessThan(expiresAt); // the checks below need the reservation still open; a slow machine fails here, not later
    expect([await start(t('other'), 1), await start(t('other'), 2), await start(t('mine'), 1)]).toEqual([refused, 'Accepted', 'Accepted']);
    await bed.projected('the reservation', `SELECT 1 FROM ${bed.db.schema}.reservations WHERE charge_point_id = $1 AND reservation_id = 42`, [ch.id]);
    const listed = await api.call('GET', `/api/v1/chargers/${ch.id}/reservations`, { key });
    expect(listed.json.items).toEqual([expect.objectContaining({ reservationId: 42, idTag: t('mine') })]);

    await waitFor('the reservation to expire', () => Date.now() > expiresAt + 50, 30_000, 100);
    expect(await start(t('other'), 1)).toBe('Accepted');
    expect((await api.call('GET', `/api/v1/chargers/${ch.id}/reservations`, { key })).json.items[0].active).toBe(false);

    // Cancelled before it expires: CancelReservation on the charger, and nothing held any more.
    const again = await api.call('POST', `/api/v1/chargers/${ch.id}/reservations`, { key, body: { idTag: t('mine'), connectorId: 1, expiresAt: hourFromNow(), reservationId: 43 } });
    expect(again.status).toBe(201);
    await gatewaySees(client[ch.id]!, ch.protocol);
    expect(await start(t('other'), 1)).toBe(refused);
    await bed.projected('the second reservation', `SELECT 1 FROM ${bed.db.schema}.reservations WHERE charge_point_id = $1 AND reservation_id = 43`, [ch.id]);
    const cancelledAt = bed.received[ch.id]!.length;
    const cancel = await api.call('DELETE', `/api/v1/chargers/${ch.id}/reservations/43`, { key });
    expect([cancel.status, cancel.json.status]).toEqual([200, 'accepted']);
    expect(bed.received[ch.id]!.slice(cancelledAt)).toEqual([{ action: 'CancelReservation', params: { reservationId: 43 } }]);
    await gatewaySees(client[ch.id]!, ch.protocol);
    expect(await start(t('other'), 1)).toBe('Accepted');
  });
});

test('/openapi.json lists the authorization routes', async () => {
  const doc = (await api.call('GET', '/openapi.json', { key: null })).json;
  expect(Object.keys(doc.paths)).toEqual(
    expect.arrayContaining([
      '/api/v1/id-tokens/{idToken}',
      '/api/v1/id-tokens/{idToken}/history',
      '/api/v1/chargers/{chargePointId}/local-list',
      '/api/v1/chargers/{chargePointId}/local-list/sync',
      '/api/v1/chargers/{chargePointId}/reservations',
      '/api/v1/chargers/{chargePointId}/reservations/{reservationId}',
    ]),
  );
  expect(doc.paths['/api/v1/id-tokens/{idToken}'].put['x-scope']).toBe('config:write');
});
