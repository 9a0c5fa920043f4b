import { createContext } from '../../services/common/context';
import { quoteIdent } from '../../services/common/db';
import { startApi, RunningApi } from '../../services/api/service';
import { createDashboardRoutes, DashboardRoutes } from '../../services/dashboard/http';
import { ServiceContext } from '../../services/common/service';
import { testConfig, uniq, waitForValue } from '../support/stack';
import { chain, writeFrames } from '../audit/frames-fixture';

/** The dashboard from outside: its page, state and event stream need an API key (bearer, or the session cookie its
 *  login form issues), and id tags in the OCPP traffic it shows are masked for a key without history:read. */
jest.setTimeout(180_000);

let ctx: ServiceContext;
let api: RunningApi;
let dashboard: DashboardRoutes;
const adminKey = uniq('admin-key');
const apiSchema = uniq('api_dash').replace(/-/g, '_');
const analyticsSchema = uniq('analytics_dash').replace(/-/g, '_');
const site = uniq('SITE-DASH');
const cp = uniq('CP-DASH');
const tag = `TAG${Date.now()}`;
let reader: string;
let viewerKey: string;

const call = (method: string, path: string, init: { key?: string; cookie?: string; body?: string; type?: string } = {}) =>
  fetch(`${api.url}${path}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(init.key ? { Authorization: `Bearer ${init.key}` } : {}),
      ...(init.cookie ? { Cookie: init.cookie } : {}),
      ...(init.body !== undefined ? { 'Content-Type': init.type ?? 'application/json' } : {}),
    },
    body: init.body,
  });

const issue = async (scopes: string[]) => {
  const r = await call('POST', '/api/v1/api-keys', { key: adminKey, body: JSON.stringify({ scopes, label: 'dashboard test' }) });
  expect(r.status).toBe(201);
  return ((await r.json()) as { key: string }).key;
};

beforeAll(async () => {
  ctx = createContext(testConfig({ adminKey, logLevel: 'warn' }), uniq('dash-test'));
  dashboard = createDashboardRoutes(ctx, { apiSchema, lookbackMs: 10 * 60_000 });
  api = await startApi(ctx, { port: 0, apiSchema, analyticsSchema, discover: false, extraRoutes: dashboard });
  reader = await issue(['history:read']);
  viewerKey = await issue(['config:write']);
  const put = async (path: string, body: unknown) => expect((await call('PUT', path, { key: adminKey, body: JSON.stringify(body) })).status).toBeLessThan(300);
  await put(`/api/v1/sites/${site}`, { name: 'Dashboard auth depot', gridLimitKw: 50, location: { lat: 52.5, lon: 13.4 }, timezone: 'UTC' });
  await put(`/api/v1/chargers/${cp}`, { siteId: site, maxPowerKw: 22, securityProfile: 1, password: 'charger-password-1' });
  const t0 = Date.now();
  await writeFrames(ctx.kafka, ctx.serde, chain(cp, [
    { direction: 'IN', kind: 'CALL', action: 'Authorize', uniqueId: 'a1', payload: { idTag: tag }, receivedAt: t0 },
    { direction: 'OUT', kind: 'CALLRESULT', action: 'Authorize', uniqueId: 'a1', payload: { idTagInfo: { status: 'Accepted', parentIdTag: `${tag}-parent` } }, receivedAt: t0 + 10 },
  ]));
});

afterAll(async () => {
  await api?.stop();
  await dashboard?.stop();
  await ctx?.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(apiSchema)} CASCADE`);
  await ctx?.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(analyticsSchema)} CASCADE`);
  await ctx?.pool.end();
});

test('without a key: the state and the event stream are 401, the page is the login form', async () => {
  for (const path of [`/dashboard/state?site=${site}`, `/dashboard/events?site=${site}`]) {
    const r = await call('GET', path);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('Bearer');
    expect(await r.text()).not.toContain(cp);
  }
  expect((await call('GET', `/dashboard/state?site=${site}`, { key: 'not-a-key' })).status).toBe(401);
  const page = await call('GET', `/dashboard?site=${site}`);
  expect(page.status).toBe(401);
  const html = await page.text();
  expect(html).toContain('action="/dashboard/session"');
  expect(html).not.toContain('EventSource');
});

test('the login form trades a key for a session cookie that opens the page and its data; a forged cookie does not', async () => {
  const wrong = await call('POST', '/dashboard/session', { body: `key=nope&site=${site}`, type: 'application/x-www-form-urlencoded' });
  expect(wrong.status).toBe(401);
  expect(wrong.headers.get('set-cookie')).toBeNull();
  const login = await call('POST', '/dashboard/session', { body: `key=${encodeURIComponent(reader)}&site=${encodeURIComponent(site)}`, type: 'application/x-www-form-urlencoded' });
  expect(login.status).toBe(303);
  expect(login.headers.get('location')).toBe(`/dashboard?site=${encodeURIComponent(site)}`);
  const setCookie = login.headers.get('set-cookie')!;
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  expect(setCookie).not.toContain(reader);
  const cookie = setCookie.split(';')[0]!;
  const page = await call('GET', `/dashboard?site=${site}`, { cookie });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('EventSource');
  expect((await call('GET', `/dashboard/state?site=${site}`, { cookie })).status).toBe(200);
  // The session says history:read; claiming it for another principal, or editing it at all, breaks its MAC.
  const [name, value] = cookie.split('=') as [string, string];
  const [body, mac] = value.split('.') as [string, string];
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { exp: number };
  const forged = `${name}=${Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 86_400_000 })).toString('base64url')}.${mac}`;
  expect((await call('GET', `/dashboard/state?site=${site}`, { cookie: forged })).status).toBe(401);
  const logout = await call('POST', '/dashboard/logout', { cookie });
  expect(logout.headers.get('set-cookie')).toMatch(/Max-Age=0/);
});

type State = { chargers: { chargePointId: string }[]; traffic: { chargePointId: string; action: string | null; payload: string }[] };

test('id tags are shown to a key with history:read and masked for one without, in the state and in the event stream', async () => {
  const stateWith = async (key: string) => (await (await call('GET', `/dashboard/state?site=${encodeURIComponent(site)}`, { key })).json()) as State;
  const full = await waitForValue('the Authorize frames on the dashboard', async () => {
    const s = await stateWith(reader);
    return s.traffic.filter((f) => f.action === 'Authorize').length === 2 ? s : undefined;
  }, 120_000, 500);
  expect(JSON.stringify(full.traffic)).toContain(tag);

  const masked = await stateWith(viewerKey);
  expect(masked.chargers.map((c) => c.chargePointId)).toEqual([cp]);
  expect(masked.traffic.filter((f) => f.action === 'Authorize')).toHaveLength(2);
  expect(JSON.stringify(masked)).not.toContain(tag);
  expect(masked.traffic.map((f) => f.payload)).toEqual(expect.arrayContaining(['{"idTag":"***"}', '{"idTagInfo":{"status":"Accepted","parentIdTag":"***"}}']));

  const controller = new AbortController();
  const events = await fetch(`${api.url}/dashboard/events?site=${encodeURIComponent(site)}`, { headers: { Authorization: `Bearer ${viewerKey}` }, signal: controller.signal });
  expect(events.status).toBe(200);
  const reader_ = events.body!.getReader();
  let text = '';
  while (!/event: snapshot\ndata: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader_.read()).value);
  controller.abort();
  expect(text).toContain('Authorize');
  expect(text).not.toContain(tag);
});
