/** The dashboard's operator buttons end to end: a person logged in with a key holding commands:write presses unlock,
 *  reset and stop on a charger; the dashboard sends them with its session through the commands path to a real gateway
 *  and a charger driven by ocpp-rpc in strict mode, and shows the charger's answer as the outcome. A session of a key
 *  without commands:write, and a request without the dashboard's header, are refused. */
import { createContext } from '../../services/common/context';
import { quoteIdent } from '../../services/common/db';
import { ServiceContext } from '../../services/common/service';
import { RunningApi, startApi } from '../../services/api/service';
import { createDashboardRoutes, DashboardRoutes } from '../../services/dashboard/http';
import { dashboardHtml } from '../../services/dashboard/page';
import { testConfig, uniq } from '../support/stack';
import { Json } from '../gateway/support';
import { answering, CommandBed, startCommandBed } from './command-bed';

jest.setTimeout(180_000);

const prefix = uniq('dashcmd');
const chargers = { v16: { id: `${prefix}-16`, protocol: 'ocpp1.6' }, v201: { id: `${prefix}-201`, protocol: 'ocpp2.0.1' } } as const;
const adminKey = uniq('admin-key');
const apiSchema = uniq('api_dashcmd').replace(/-/g, '_');
const analyticsSchema = uniq('analytics_dashcmd').replace(/-/g, '_');
let bed: CommandBed;
let ctx: ServiceContext;
let api: RunningApi;
let dashboard: DashboardRoutes;

const call = (method: string, path: string, init: { key?: string; cookie?: string; body?: string; form?: boolean; header?: boolean } = {}) =>
  fetch(`${api.url}${path}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(init.key ? { Authorization: `Bearer ${init.key}` } : {}),
      ...(init.cookie ? { Cookie: init.cookie } : {}),
      ...(init.body !== undefined ? { 'Content-Type': init.form ? 'application/x-www-form-urlencoded' : 'application/json' } : {}),
      ...(init.header === false ? {} : { 'X-Voltstream-Dashboard': '1' }),
    },
    body: init.body,
  });

const issue = async (scopes: string[]) => {
  const r = await call('POST', '/api/v1/api-keys', { key: adminKey, body: JSON.stringify({ scopes, label: 'dashboard commands test' }) });
  expect(r.status).toBe(201);
  return ((await r.json()) as { key: string }).key;
};

/** Logs in through the form, as a browser does; the session cookie. */
const login = async (key: string) => {
  const r = await call('POST', '/dashboard/session', { body: new URLSearchParams({ key }).toString(), form: true, header: false });
  expect(r.status).toBe(303);
  return r.headers.get('set-cookie')!.split(';')[0]!;
};

beforeAll(async () => {
  bed = await startCommandBed({ name: 'dash-cmd', prefix, chargerIds: Object.values(chargers).map((c) => c.id) });
  ctx = createContext(testConfig({ adminKey, logLevel: 'warn' }), uniq('dash-cmd'));
  dashboard = createDashboardRoutes(ctx, { apiSchema, projectionSchema: bed.db.schema, lookbackMs: 60_000 });
  api = await startApi(ctx, { port: 0, apiSchema, analyticsSchema, projectionSchema: bed.db.schema, discover: false, extraRoutes: dashboard });
  for (const ch of Object.values(chargers)) {
    await bed.connect(ch.id, ch.protocol, {
      UnlockConnector: answering({ status: 'Unlocked' }),
      Reset: answering({ status: 'Accepted' }),
      [ch.protocol === 'ocpp1.6' ? 'RemoteStopTransaction' : 'RequestStopTransaction']: answering({ status: 'Rejected' }),
    });
    await bed.announce(ch.id, ch.protocol);
  }
});

afterAll(async () => {
  await api?.stop();
  await dashboard?.stop();
  await bed?.stop();
  await ctx?.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(apiSchema)} CASCADE`);
  await ctx?.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(analyticsSchema)} CASCADE`);
  await ctx?.pool.end();
});

test('the page has the unlock, reset and stop buttons and sends them with its header', () => {
  for (const op of ['data-op="unlock"', 'data-op="reset"', 'data-op="remote-stop"', "'X-Voltstream-Dashboard': '1'", '/dashboard/commands/']) expect(dashboardHtml).toContain(op);
});

describe.each(Object.values(chargers))('buttons on a $protocol charger', (ch) => {
  let cookie: string;
  beforeAll(async () => {
    cookie = await login(await issue(['commands:write']));
  });

  const press = async (op: string, body: unknown) => {
    const before = bed.received[ch.id]!.length;
    const r = await call('POST', `/dashboard/chargers/${ch.id}/commands/${op}`, { cookie, body: JSON.stringify(body) });
    const sent = (await r.json()) as Json;
    expect([r.status, sent.problems]).toEqual([202, undefined]);
    const outcome = (await (await call('GET', `/dashboard/commands/${sent.commandId}?wait=30`, { cookie })).json()) as Json;
    return { outcome, got: bed.received[ch.id]!.slice(before) };
  };

  test('unlock, reset and stop reach the charger; its answers are the outcomes shown', async () => {
    const is16 = ch.protocol === 'ocpp1.6';
    const unlock = await press('unlock', { connectorId: 1 });
    expect(unlock.got).toEqual([{ action: 'UnlockConnector', params: is16 ? { connectorId: 1 } : { evseId: 1, connectorId: 1 } }]);
    expect(unlock.outcome).toMatchObject({ status: 'rejected', response: { status: 'Unlocked' }, issuedBy: expect.stringMatching(/^api:/) });
    const reset = await press('reset', {});
    expect(reset.got).toEqual([{ action: 'Reset', params: { type: is16 ? 'Soft' : 'OnIdle' } }]);
    expect(reset.outcome).toMatchObject({ status: 'accepted' });
    const stop = await press('remote-stop', { sessionId: `${ch.id}:${is16 ? '31' : 'tx-31'}` });
    expect(stop.got).toEqual([{ action: is16 ? 'RemoteStopTransaction' : 'RequestStopTransaction', params: { transactionId: is16 ? 31 : 'tx-31' } }]);
    expect(stop.outcome).toMatchObject({ status: 'rejected', response: { status: 'Rejected' } });
  });
});

test("a session without commands:write, or a request without the dashboard's header, sends nothing", async () => {
  const id = chargers.v16.id;
  const before = bed.received[id]!.length;
  const viewer = await login(await issue(['history:read']));
  const denied = await call('POST', `/dashboard/chargers/${id}/commands/reset`, { cookie: viewer, body: '{}' });
  expect(denied.status).toBe(403);
  const operator = await login(await issue(['commands:write']));
  const crossSite = await call('POST', `/dashboard/chargers/${id}/commands/reset`, { cookie: operator, body: '{}', header: false });
  expect(crossSite.status).toBe(403);
  expect((await call('POST', `/dashboard/chargers/${id}/commands/reset`, { body: '{}' })).status).toBe(401);
  expect(bed.received[id]!.slice(before)).toEqual([]);
});
