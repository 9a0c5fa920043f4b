/** Security profiles by configuration: 1 = Basic auth over ws, 2 = TLS + Basic, 3 = mutual TLS (client certificate
 *  CN = charge point id). Unknown ids and bad credentials are refused at the handshake and recorded in ocpp.rejected.
 *  Certificates are made with openssl in a temp dir. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { Topics } from '../../schemas/topics';
import { createGateway, Gateway } from '../../services/ocpp-gateway/gateway';
import { uniq } from '../support/stack';
import { configureFleet, dropSchema, ensureContractTopics, gatewayContext, Json, ocppClient, pgSchemaName, readFrom, topicEnds } from './support';

const ctx = gatewayContext();
const schema = pgSchemaName('gw_sec');
const prefix = uniq('sec');
const cp1 = `${prefix}-p1`;
const cp2 = `${prefix}-p2`;
const cpLegacy = `${prefix}-legacy`;
const cp3 = `${prefix}-p3`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-tls-'));
const f = (n: string) => path.join(dir, n);
let gw: Gateway;
let rejectedFrom: Map<number, number>;

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
const makeCert = (name: string, subject: string, ca: { cert: string; key: string } | 'self', ext?: string) => {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', subject);
  if (ext) fs.writeFileSync(f(`${name}.ext`), ext);
  if (ca === 'self') openssl('x509', '-req', '-in', f(`${name}.csr`), '-signkey', f(`${name}.key`), '-out', f(`${name}.crt`), '-days', '2');
  else openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', ...(ext ? ['-extfile', f(`${name}.ext`)] : []));
};

beforeAll(async () => {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=Voltstream Test CA');
  const ca = { cert: f('ca.crt'), key: f('ca.key') };
  makeCert('server', '/CN=127.0.0.1', ca, 'subjectAltName=IP:127.0.0.1\n');
  makeCert('client3', `/CN=${cp3}`, ca, 'extendedKeyUsage=clientAuth\n');
  makeCert('other', '/CN=someone-else', ca);
  makeCert('rogue', `/CN=${cp3}`, 'self');

  await ensureContractTopics(ctx.kafka);
  await configureFleet(ctx.kafka, ctx.serde, [
    { id: cp1, password: 'pw-one', securityProfile: 1 },
    { id: cpLegacy, password: 'pw-legacy', passwordScheme: 'scrypt', securityProfile: 1 },
    { id: cp2, password: 'pw-two', securityProfile: 2 },
    { id: cp3, securityProfile: 3 },
  ]);
  rejectedFrom = await topicEnds(ctx.kafka, Topics.ocppRejected);
  gw = await createGateway(ctx, {
    gatewayId: uniq('gw-sec'),
    port: 0,
    settings: { dbSchema: schema, tls: { port: 0, cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') } },
    consumeCommands: false,
  });
});

afterAll(async () => {
  await gw?.stop();
  await dropSchema(ctx.pool, schema);
  await ctx.pool.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

const wssUrl = () => `wss://127.0.0.1:${gw.tlsPort}/ocpp`;
const basic = (user: string, pw: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });
const tlsOpts = (client?: string) => ({ ca: fs.readFileSync(f('ca.crt')), ...(client ? { cert: fs.readFileSync(f(`${client}.crt`)), key: fs.readFileSync(f(`${client}.key`)) } : {}) });

/** HTTP status of the WebSocket handshake: 101 when the connection opened. */
const handshake = (url: string, opts: { protocols?: string[]; headers?: Record<string, string>; tls?: ReturnType<typeof tlsOpts> } = {}): Promise<number> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? ['ocpp1.6'], { headers: opts.headers, ...(opts.tls ?? {}) });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', (e) => reject(e));
  });

test('profile 1: Basic auth over ws; wrong or missing secrets, unknown ids, wrong subprotocols refused', async () => {
  const c = ocppClient({ endpoint: gw.url, identity: cp1, password: 'pw-one', protocols: ['ocpp1.6'] });
  await c.connect();
  expect((await c.call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' })).status).toBe('Accepted');
  await c.close();
  expect(await handshake(`${gw.url}/${cp1}`, { headers: basic(cp1, 'wrong') })).toBe(401);
  expect(await handshake(`${gw.url}/${cp1}`)).toBe(401);
  expect(await handshake(`${gw.url}/${cp1}`, { headers: basic(cp2, 'pw-two') })).toBe(401);
  // An unknown id is answered as a wrong password is: nothing tells an attacker which ids exist.
  expect(await handshake(`${gw.url}/${prefix}-unknown`, { headers: basic(`${prefix}-unknown`, 'x') })).toBe(401);
  expect(await handshake(`${gw.url}/${cp1}`, { headers: basic(cp1, 'pw-one'), protocols: ['ocpp1.5'] })).toBe(400);
  expect(await handshake(`${gw.url}/${cp1}`, { headers: basic(cp1, 'pw-one'), protocols: ['ocpp2.0.1'] })).toBe(101);
});

test('profile 1: a password hashed with scrypt before hashes were peppered still opens, and only with itself', async () => {
  expect(await handshake(`${gw.url}/${cpLegacy}`, { headers: basic(cpLegacy, 'pw-legacy') })).toBe(101);
  expect(await handshake(`${gw.url}/${cpLegacy}`, { headers: basic(cpLegacy, 'pw-one') })).toBe(401);
});

test('profile 2: TLS + Basic; refused over plain ws and with a wrong secret', async () => {
  expect(await handshake(`${gw.url}/${cp2}`, { headers: basic(cp2, 'pw-two') })).toBe(403);
  expect(await handshake(`${wssUrl()}/${cp2}`, { headers: basic(cp2, 'wrong'), tls: tlsOpts() })).toBe(401);
  const c = ocppClient({ endpoint: wssUrl(), identity: cp2, password: 'pw-two', protocols: ['ocpp2.0.1'], wsOpts: tlsOpts() });
  await c.connect();
  expect((await c.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'M', vendorName: 'V' } })).status).toBe('Accepted');
  await c.close();
});

test('profile 3: mutual TLS, client certificate CN = charge point id, signed by the configured CA', async () => {
  expect(await handshake(`${wssUrl()}/${cp3}`, { tls: tlsOpts() })).toBe(401);
  expect(await handshake(`${wssUrl()}/${cp3}`, { tls: tlsOpts('other') })).toBe(401);
  expect(await handshake(`${wssUrl()}/${cp3}`, { tls: tlsOpts('rogue') })).toBe(401);
  expect(await handshake(`${gw.url}/${cp3}`)).toBe(403);
  const c = ocppClient({ endpoint: wssUrl(), identity: cp3, protocols: ['ocpp1.6'], wsOpts: tlsOpts('client3') });
  await c.connect();
  expect((await c.call('BootNotification', { chargePointVendor: 'A', chargePointModel: 'B' })).status).toBe('Accepted');
  await c.close();

  const rejected = await readFrom<Json>(ctx.kafka, Topics.ocppRejected, rejectedFrom, (k) => k.startsWith(prefix), (r) => r.length >= 12);
  expect(rejected.every((r: Json) => r.stage === 'HANDSHAKE')).toBe(true);
  expect(rejected.map((r: Json) => `${r.chargePointId.slice(prefix.length + 1)} ${r.errorCode}`).sort()).toEqual(
    ['p1 401', 'p1 401', 'p1 401', 'unknown 401', 'legacy 401', 'p1 400', 'p2 403', 'p2 401', 'p3 401', 'p3 401', 'p3 401', 'p3 403'].sort(),
  );
});
