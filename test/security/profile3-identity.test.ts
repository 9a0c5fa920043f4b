/** Identity edges of the charger-facing TLS listener, from outside (issue 14 item 7): security profile 3 needs a CA
 *  bundle to start; a client certificate must chain to it, carry clientAuth (and digitalSignature where it has a
 *  keyUsage) and name the charger in its CN; a certificate on the CRL is refused, and a charger whose certificate a new
 *  CRL revokes is disconnected; a charger registered for profile 3 cannot connect with profile 2 or 1 until a downgrade
 *  made through the API, which is on fleet.config with the key that made it. Certificates and CRLs are made with
 *  openssl (EC P-256, fast) in a temp dir. Refusals come from separate loopback addresses so that the audit's
 *  per-source thinning (10 records per source and status a minute) keeps every one this test looks for. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { Topics } from '../../schemas/topics';
import { createContext } from '../../services/common/context';
import { quoteIdent } from '../../services/common/db';
import { ServiceContext } from '../../services/common/service';
import { startApi, RunningApi } from '../../services/api/service';
import { decodeSettings } from '../../services/ocpp-gateway/config';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { testConfig, uniq } from '../support/stack';
import { dropSchema, ensureContractTopics, gatewayContext, Json, pgSchemaName, readFrom, topicEnds } from '../gateway/support';

jest.setTimeout(120_000);

const ctx = gatewayContext();
const schema = pgSchemaName('gw_p3');
const prefix = uniq('p3');
const cpGood = `${prefix}-good`;
const cpLive = `${prefix}-live`;
const cpRevoked = `${prefix}-revoked`;
const cpDown = `${prefix}-down`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-p3-'));
const f = (n: string) => path.join(dir, n);
const adminKey = uniq('admin-key');
const apiSchema = uniq('api_p3').replace(/-/g, '_');
const analyticsSchema = uniq('analytics_p3').replace(/-/g, '_');
let apiCtx: ServiceContext;
let api: RunningApi;
let gw: Gateway;
let rejectedFrom: Map<number, number>;
let configFrom: Map<number, number>;

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe', cwd: dir });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const makeCa = (name: string) => openssl('req', '-x509', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-days', '2', '-subj', `/CN=${name} ${prefix}`);
const makeCert = (name: string, cn: string, ca: string, ext: string) => {
  openssl('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}/O=Voltstream test`);
  fs.writeFileSync(f(`${name}.ext`), ext);
  openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.crt`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`));
};
const clientExt = 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n';
/** Revokes `names` in the CA's database and writes a new CRL to `out` (via a rename, as a CRL job would). */
const publishCrl = (out: string, ...names: string[]) => {
  for (const n of names) openssl('ca', '-config', f('ca.cnf'), '-revoke', f(`${n}.crt`), '-keyfile', f('ca.key'), '-cert', f('ca.crt'));
  openssl('ca', '-config', f('ca.cnf'), '-gencrl', '-keyfile', f('ca.key'), '-cert', f('ca.crt'), '-out', f('crl.next'));
  fs.renameSync(f('crl.next'), out);
};

const call = async (method: string, p: string, body?: unknown, key = adminKey) => {
  const r = await fetch(`${api.url}${p}`, { method, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Json };
};

beforeAll(async () => {
  makeCa('ca');
  makeCa('otherca');
  makeCert('server', '127.0.0.1', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  makeCert('good', cpGood, 'ca', clientExt);
  makeCert('live', cpLive, 'ca', clientExt);
  makeCert('revoked', cpRevoked, 'ca', clientExt);
  makeCert('down', cpDown, 'ca', clientExt);
  makeCert('foreign', cpGood, 'otherca', clientExt);
  makeCert('noeku', cpGood, 'ca', 'keyUsage=critical,digitalSignature\n');
  makeCert('serveronly', cpGood, 'ca', 'extendedKeyUsage=serverAuth,emailProtection\n');
  makeCert('nodigsig', cpGood, 'ca', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,keyAgreement\n');
  makeCert('othercn', `${prefix}-someone-else`, 'ca', clientExt);
  fs.writeFileSync(f('index.txt'), '');
  fs.writeFileSync(f('crlnumber'), '01\n');
  fs.writeFileSync(f('ca.cnf'), `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${f('index.txt')}\ncrlnumber = ${f('crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 2\n`);
  publishCrl(f('crl.pem'), 'revoked');
  // A CRL the gateway must not take: signed by a CA outside its bundle.
  openssl('ca', '-config', f('ca.cnf'), '-gencrl', '-keyfile', f('otherca.key'), '-cert', f('otherca.crt'), '-out', f('foreign-crl.pem'));

  await ensureContractTopics(ctx.kafka);
  rejectedFrom = await topicEnds(ctx.kafka, Topics.ocppRejected);
  configFrom = await topicEnds(ctx.kafka, Topics.fleetConfig);
  apiCtx = createContext(testConfig({ adminKey, logLevel: 'warn' }), uniq('p3-api'));
  api = await startApi(apiCtx, { port: 0, apiSchema, analyticsSchema, discover: false });
  for (const cp of [cpGood, cpLive, cpRevoked, cpDown]) expect((await call('PUT', `/api/v1/chargers/${cp}`, { siteId: 'site-p3', maxPowerKw: 22, securityProfile: 3 })).status).toBe(200);
  gw = await createGateway(ctx, {
    gatewayId: uniq('gw-p3'),
    port: 0,
    settings: {
      dbSchema: schema,
      failedHandshakesPerCharger: 1000,
      failedHandshakesPerSource: 10_000,
      tls: { port: 0, cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt'), crl: f('crl.pem'), crlCheckS: 1 },
    },
    consumeCommands: false,
  });
});

afterAll(async () => {
  await gw?.stop();
  await api?.stop();
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
  await apiCtx?.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(apiSchema)} CASCADE`);
  await apiCtx?.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(analyticsSchema)} CASCADE`);
  await apiCtx?.pool.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

const wss = () => `wss://127.0.0.1:${gw.tlsPort}/ocpp`;
const basic = (user: string, pw: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });
const withCert = (name?: string) => ({ ca: fs.readFileSync(f('ca.crt')), ...(name ? { cert: fs.readFileSync(f(`${name}.crt`)), key: fs.readFileSync(f(`${name}.key`)) } : {}) });

/** Opens a WebSocket: resolves with 101 and the open socket, or the refusal's HTTP status. */
const connect = (url: string, opts: { cert?: string; headers?: Record<string, string>; from?: string } = {}): Promise<{ status: number; ws?: WebSocket }> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['ocpp1.6'], { headers: opts.headers, localAddress: opts.from, ...(url.startsWith('wss') ? withCert(opts.cert) : {}) });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on('error', reject);
  });
const status = async (url: string, opts: Parameters<typeof connect>[1] = {}) => {
  const r = await connect(url, opts);
  r.ws?.close();
  return r.status;
};

test('a TLS listener serving profile 3 without a CA bundle, or with a CRL no CA of it signed, does not start', async () => {
  const env = { OCPP_TLS_PORT: '0', OCPP_TLS_CERT: f('server.crt'), OCPP_TLS_KEY: f('server.key') };
  expect(decodeSettings(env)).toEqual({ _tag: 'Left', left: expect.stringContaining('needs OCPP_TLS_CA') });
  expect(decodeSettings({ ...env, OCPP_TLS_PROFILE3: 'off' })._tag).toBe('Right');
  const start = (tls: Record<string, unknown>) => createGateway(ctx, { gatewayId: uniq('gw-p3-bad'), port: 0, settings: { dbSchema: schema, tls: { port: 0, cert: f('server.crt'), key: f('server.key'), ca: undefined, ...tls } }, consumeCommands: false });
  await expect(start({})).rejects.toThrow(/security profile 3 .*needs OCPP_TLS_CA/);
  await expect(start({ ca: f('ca.crt'), crl: f('foreign-crl.pem') })).rejects.toThrow(/not signed by any certificate of the CA bundle/);
});

test('profile 3: only a certificate from the CA, for client authentication, naming this charger, not revoked', async () => {
  const url = `${wss()}/${cpGood}`;
  expect(await status(url, { cert: 'foreign', from: '127.0.0.11' })).toBe(401);
  expect(await status(url, { cert: 'noeku', from: '127.0.0.12' })).toBe(401);
  expect(await status(url, { cert: 'serveronly', from: '127.0.0.13' })).toBe(401);
  expect(await status(url, { cert: 'nodigsig', from: '127.0.0.14' })).toBe(401);
  expect(await status(url, { cert: 'othercn', from: '127.0.0.15' })).toBe(401);
  expect(await status(`${wss()}/${cpRevoked}`, { cert: 'revoked', from: '127.0.0.16' })).toBe(401);
  expect(await status(url, { cert: 'good', from: '127.0.0.17' })).toBe(101);

  const rejected = await readFrom<Json>(ctx.kafka, Topics.ocppRejected, rejectedFrom, (k) => k === cpGood || k === cpRevoked, (r) => r.length >= 6);
  const reasons = rejected.map((r: Json) => `${r.errorCode} ${r.reason}`);
  expect(reasons).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^401 client certificate missing or not trusted .*peer 127\.0\.0\.11/),
      expect.stringMatching(/^401 client certificate has no extended key usage; clientAuth is required .*peer 127\.0\.0\.12/),
      // An extended key usage without clientAuth already fails TLS's own purpose check; no extended key usage at all
      // (above) passes it, and is refused by the gateway's.
      expect.stringMatching(/^401 client certificate missing or not trusted \(INVALID_PURPOSE\) .*peer 127\.0\.0\.13/),
      expect.stringMatching(/^401 client certificate has a keyUsage without digitalSignature .*peer 127\.0\.0\.14/),
      expect.stringMatching(/^401 client certificate CN ".*-someone-else" does not match .*peer 127\.0\.0\.15/),
      expect.stringMatching(/^401 certificate serial [0-9A-F]+ .* is revoked by .*peer 127\.0\.0\.16/),
    ]),
  );
});

test('a connected charger whose certificate a new CRL revokes is disconnected', async () => {
  const { status: s, ws } = await connect(`${wss()}/${cpLive}`, { cert: 'live', from: '127.0.0.21' });
  expect(s).toBe(101);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws!.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  // The charger is in and answered before the CRL changes.
  const answer = new Promise<string>((resolve) => ws!.once('message', (m) => resolve(m.toString())));
  ws!.send(JSON.stringify([2, 'hb-1', 'Heartbeat', {}]));
  expect(JSON.parse(await answer)).toEqual([3, 'hb-1', { currentTime: expect.any(String) }]);

  publishCrl(f('crl.pem'), 'live');
  expect(await closed).toEqual({ code: 1008, reason: 'client certificate revoked' });
  expect(await status(`${wss()}/${cpLive}`, { cert: 'live', from: '127.0.0.22' })).toBe(401);
  const rejected = await readFrom<Json>(ctx.kafka, Topics.ocppRejected, rejectedFrom, (k) => k === cpLive, (r) => r.some((x: Json) => x.errorCode === '1008'));
  expect(rejected.find((x: Json) => x.errorCode === '1008')?.reason).toMatch(/^connection closed: certificate serial .* is revoked by /);
});

test('a profile-3 charger cannot connect with profile 2 or 1 until a downgrade made through the API, which the log records with its issuer', async () => {
  const url = `${wss()}/${cpDown}`;
  const pw = basic(cpDown, 'down-password-1');
  expect(await status(url, { headers: pw, from: '127.0.0.31' })).toBe(401); // profile 2: TLS + Basic, no certificate
  expect(await status(`${gw.url}/${cpDown}`, { headers: pw, from: '127.0.0.31' })).toBe(403); // profile 1: plain ws

  const operator = await call('POST', '/api/v1/api-keys', { scopes: ['config:write'], label: 'p3 downgrade test' });
  expect(operator.status).toBe(201);
  // A write that leaves securityProfile out (so means 1) and sets a password is not a downgrade...
  expect((await call('PUT', `/api/v1/chargers/${cpDown}`, { siteId: 'site-p3', maxPowerKw: 11, password: 'down-password-1' }, operator.body.key)).status).toBe(200);
  // ...so once the gateway has folded it (a charger configured after it can connect), profile 2 is still refused.
  const marker = `${prefix}-marker`;
  expect((await call('PUT', `/api/v1/chargers/${marker}`, { siteId: 'site-p3', maxPowerKw: 11, securityProfile: 2, password: 'marker-password' })).status).toBe(200);
  expect(await status(`${wss()}/${marker}`, { headers: basic(marker, 'marker-password'), from: '127.0.0.32' })).toBe(101);
  expect(await status(url, { headers: pw, from: '127.0.0.33' })).toBe(401);
  expect(await status(url, { cert: 'down', from: '127.0.0.33' })).toBe(101);

  const down = await call('PUT', `/api/v1/chargers/${cpDown}`, { siteId: 'site-p3', maxPowerKw: 11, securityProfile: 2, securityProfileDowngrade: true, password: 'down-password-1' }, operator.body.key);
  expect(down.status).toBe(200);
  expect(down.body).toMatchObject({ securityProfile: 2, securityProfileDowngrade: true });
  // Now profile 2 is accepted (once the gateway has read the downgrade), profile 1 still is not.
  let accepted = 0;
  for (let i = 0; i < 200 && accepted !== 101; i++) accepted = await status(url, { headers: pw, from: '127.0.0.34' });
  expect(accepted).toBe(101);
  expect(await status(`${gw.url}/${cpDown}`, { headers: pw, from: '127.0.0.34' })).toBe(403);

  const log = await readFrom<Json>(ctx.kafka, Topics.fleetConfig, configFrom, (k) => k === `charger:${cpDown}`, (r) => r.length >= 3);
  const bodies = log.map((r: Json) => ({ actor: r.actor, ...Object.values(r.body as Record<string, Json>)[0] }));
  expect(bodies.map((b) => [b.actor, b.securityProfile, b.securityProfileDowngrade])).toEqual([
    ['admin', 3, false],
    [operator.body.keyId, 1, false],
    [operator.body.keyId, 2, true],
  ]);
});
