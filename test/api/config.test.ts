import { ConfigEvent, configFromAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { loadConfig } from '../../services/common/config';
import { credentialPepper } from '../../services/common/credential-pepper';
import { verifyChargerSecret } from '../../services/common/password';
import { readTopicUntil, ReadRecord, uniq } from '../support/stack';
import { startTestApi, TestApi } from './harness';

/** Configuration endpoints against the real stack: each write is an event on fleet.config, acknowledged after Kafka. */
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(async () => {
  await t.stop();
});

const configEvent = async (key: string, eventId: string): Promise<{ event: ConfigEvent; raw: Buffer | null }> => {
  const recs = await readTopicUntil<Record<string, unknown>>(Topics.fleetConfig, (r) => r.length > 0, {
    filter: (r: ReadRecord<Record<string, unknown>>) => r.key === key && r.value.eventId === eventId,
  });
  expect(recs).toHaveLength(1);
  return { event: configFromAvro(recs[0]!.value), raw: null };
};

describe('system routes', () => {
  test('GET /health answers without a key', async () => {
    const r = await t.call('GET', '/health', { key: null });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ok', pid: expect.any(Number), checks: { kafka: true, database: true }, parts: {} });
  });

  test('GET /ready answers without a key, 200 with every part of the process running', async () => {
    const r = await t.call('GET', '/ready', { key: null });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'ready', parts: {} });
  });

  test('GET /metrics is Prometheus text with request counters', async () => {
    await t.call('GET', '/health', { key: null });
    const r = await t.call('GET', '/metrics', { key: null });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(r.text).toMatch(/voltstream_api_requests_total\{method="GET",route="\/health",status="200"\} \d+/);
  });

  test('GET /openapi.json describes every route with its scope and request body schema', async () => {
    const r = await t.call('GET', '/openapi.json', { key: null });
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe('3.1.0');
    const put = r.json.paths['/api/v1/chargers/{chargePointId}'].put;
    expect(put['x-scope']).toBe('config:write');
    expect(put.security).toEqual([{ apiKey: ['config:write'] }]);
    expect(put.parameters).toEqual([{ name: 'chargePointId', in: 'path', required: true, schema: { type: 'string' } }]);
    const schema = put.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(['siteId', 'maxPowerKw']);
    expect(schema.properties.securityProfile).toMatchObject({ type: 'integer', enum: [1, 2, 3], default: 1 });
    expect(schema.properties.password.anyOf[0]).toMatchObject({ type: 'string', writeOnly: true });
    for (const p of ['/api/v1/sites/{siteId}', '/api/v1/sites/{siteId}/tariff', '/api/v1/vehicles/{vehicleId}', '/api/v1/vehicles/{vehicleId}/departures', '/health', '/metrics', '/api/v1/api-keys']) {
      expect(r.json.paths[p]).toBeDefined();
    }
  });

  test('unknown path 404, wrong method 405, both problem+json', async () => {
    const a = await t.call('GET', '/api/v1/nothing-here');
    expect(a.status).toBe(404);
    expect(a.headers.get('content-type')).toBe('application/problem+json');
    const b = await t.call('DELETE', '/api/v1/sites/x');
    expect(b.status).toBe(405);
    expect(b.headers.get('allow')).toBe('PUT');
  });
});

describe('authentication and scopes', () => {
  const site = { name: 'Depot', gridLimitKw: 400, location: { lat: 52.5, lon: 13.4 }, timezone: 'Europe/Berlin' };

  test('401 without a key and with an unknown key', async () => {
    const a = await t.call('PUT', `/api/v1/sites/${uniq('site')}`, { key: null, body: site });
    expect(a.status).toBe(401);
    expect(a.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(a.json.problems).toEqual(['missing API key: send Authorization: Bearer <key>']);
    const b = await t.call('PUT', `/api/v1/sites/${uniq('site')}`, { key: 'vsk_0123456789abcdef_' + 'x'.repeat(43), body: site });
    expect(b.status).toBe(401);
  });

  test('403 with a key that lacks config:write; the admin endpoints need admin', async () => {
    const reader = await t.issueKey(['history:read']);
    const a = await t.call('PUT', `/api/v1/sites/${uniq('site')}`, { key: reader, body: site });
    expect(a.status).toBe(403);
    expect(a.json.problems).toEqual(['this API key lacks the scope config:write']);
    const b = await t.call('POST', '/api/v1/api-keys', { key: reader, body: { scopes: ['admin'] } });
    expect(b.status).toBe(403);
  });

  test('a config:write key writes, and its key id is the actor of the event; a revoked key is refused', async () => {
    const issued = await t.call('POST', '/api/v1/api-keys', { body: { scopes: ['config:write'], label: 'ops' } });
    expect(issued.status).toBe(201);
    const { key, keyId } = issued.json;
    expect(key).toMatch(/^vsk_[0-9a-f]{16}_/);
    const list = await t.call('GET', '/api/v1/api-keys');
    expect(JSON.stringify(list.json)).not.toContain(key.slice(21));
    expect(list.json.items.find((k: { keyId: string }) => k.keyId === keyId)).toMatchObject({ scopes: ['config:write'], label: 'ops', revokedAt: null });
    const siteId = uniq('site');
    const w = await t.call('PUT', `/api/v1/sites/${siteId}`, { key, body: site });
    expect(w.status).toBe(200);
    const { event } = await configEvent(`site:${siteId}`, w.json.eventId);
    expect(event.actor).toBe(keyId);
    expect((await t.call('DELETE', `/api/v1/api-keys/${keyId}`)).status).toBe(204);
    expect((await t.call('PUT', `/api/v1/sites/${siteId}`, { key, body: site })).status).toBe(401);
  });

  test('bad scope names are refused when issuing keys', async () => {
    const r = await t.call('POST', '/api/v1/api-keys', { body: { scopes: ['history:read', 'root'] } });
    expect(r.status).toBe(400);
    expect(r.json.problems).toEqual(['scopes.1: expected a scope: history:read, config:write, commands:write, admin or partner:<partnerId>, got "root"']);
  });
});

describe('configuration writes become fleet.config events', () => {
  test('PUT /api/v1/sites/{siteId}', async () => {
    const siteId = uniq('site');
    const r = await t.call('PUT', `/api/v1/sites/${siteId}`, { body: { name: 'North depot', gridLimitKw: 250, location: { lat: 48.1, lon: 11.6 }, timezone: 'Europe/Berlin' } });
    expect(r.status).toBe(200);
    expect(r.json.log).toMatchObject({ topic: 'fleet.config', key: `site:${siteId}` });
    const { event } = await configEvent(`site:${siteId}`, r.json.eventId);
    expect(event.actor).toBe('admin');
    expect(event.body).toEqual({ type: 'SiteConfigured', siteId, name: 'North depot', gridLimitKw: 250, latitude: 48.1, longitude: 11.6, timezone: 'Europe/Berlin', maxCurrentA: null, baseLoadProfile: [] });
  });

  test('PUT /api/v1/sites/{siteId}/tariff', async () => {
    const siteId = uniq('site');
    const periods = [
      { from: '00:00', to: '06:00', pricePerKwh: 0.12 },
      { from: '06:00', to: '24:00', pricePerKwh: 0.31 },
    ];
    const r = await t.call('PUT', `/api/v1/sites/${siteId}/tariff`, { body: { currency: 'EUR', periods, demandChargePerKwMonth: 9.5 } });
    expect(r.status).toBe(200);
    const { event } = await configEvent(`tariff:${siteId}`, r.json.eventId);
    expect(event.body).toEqual({ type: 'TariffConfigured', siteId, currency: 'EUR', periods, demandChargePerKwMonth: 9.5 });
  });

  test('PUT /api/v1/chargers/{id} stores only the hash of the password', async () => {
    const cp = uniq('CP');
    const r = await t.call('PUT', `/api/v1/chargers/${cp}`, { body: { siteId: 'site-1', maxPowerKw: 22, securityProfile: 1, password: 'correct horse battery', ownerPartnerId: 'acme' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ chargePointId: cp, passwordSet: true, ownerPartnerId: 'acme' });
    expect(r.text).not.toContain('correct horse');
    const recs = await readTopicUntil<Record<string, unknown>>(Topics.fleetConfig, (x) => x.length > 0, { filter: (x) => x.key === `charger:${cp}` });
    const event = configFromAvro(recs[0]!.value);
    expect(JSON.stringify(recs[0]!.value)).not.toContain('correct horse');
    if (event.body.type !== 'ChargerConfigured') throw new Error('wrong type');
    expect(event.body).toMatchObject({ chargePointId: cp, siteId: 'site-1', maxPowerKw: 22, securityProfile: 1, ownerPartnerId: 'acme', phases: 3, currentType: 'AC', rateUnit: 'A', maxSchedulePeriods: 24 });
    // A salted HMAC under the deployment's pepper, which is on neither the log nor the database.
    const pepper = credentialPepper(loadConfig().home);
    expect(event.body.passwordHash).toMatch(/^hmac-sha256\$[0-9a-f]{8}\$/);
    expect(verifyChargerSecret('correct horse battery', event.body.passwordHash!, pepper)).toBe(true);
    expect(verifyChargerSecret('correct horse batterY', event.body.passwordHash!, pepper)).toBe(false);
    expect(verifyChargerSecret('correct horse battery', event.body.passwordHash!, Buffer.alloc(32, 7))).toBe(false);
  });

  test('a charger registered without a security profile gets profile 1 (Basic auth), as the contract says', async () => {
    const cp = uniq('CP');
    const r = await t.call('PUT', `/api/v1/chargers/${cp}`, { body: { siteId: 'site-1', maxPowerKw: 11, password: 'correct horse battery' } });
    expect(r.status).toBe(200);
    const recs = await readTopicUntil<Record<string, unknown>>(Topics.fleetConfig, (x) => x.length > 0, { filter: (x) => x.key === `charger:${cp}` });
    expect(configFromAvro(recs[0]!.value).body).toMatchObject({ type: 'ChargerConfigured', chargePointId: cp, securityProfile: 1 });
  });

  test('PUT /api/v1/vehicles/{id}', async () => {
    const v = uniq('veh');
    const r = await t.call('PUT', `/api/v1/vehicles/${v}`, {
      body: { batteryCapacityKwh: 75, maxAcPowerKw: 11, maxDcPowerKw: 150, consumptionKwhPerKm: 0.18, idTags: ['TAG1'], telematics: { provider: 'acme-telematics', providerVehicleId: 'X-9' } },
    });
    expect(r.status).toBe(200);
    const { event } = await configEvent(`vehicle:${v}`, r.json.eventId);
    expect(event.body).toEqual({
      type: 'VehicleConfigured', vehicleId: v, batteryCapacityKwh: 75, maxAcPowerKw: 11, maxDcPowerKw: 150, consumptionKwhPerKm: 0.18,
      idTags: ['TAG1'], telematicsProvider: 'acme-telematics', providerVehicleId: 'X-9', siteId: null, acPhases: 3,
    });
  });

  test('POST /api/v1/vehicles/{id}/departures with exactly one target', async () => {
    const v = uniq('veh');
    const r = await t.call('POST', `/api/v1/vehicles/${v}/departures`, { body: { departAt: '2030-01-31T06:00:00Z', routeKm: 180, priority: 2 } });
    expect(r.status).toBe(201);
    expect(r.json.departureId).toMatch(/^[0-9a-f-]{36}$/);
    const { event } = await configEvent(`departure:${v}`, r.json.eventId);
    expect(event.body).toEqual({
      type: 'DepartureScheduled', departureId: r.json.departureId, vehicleId: v, departAt: Date.parse('2030-01-31T06:00:00Z'),
      requiredSocPct: null, requiredEnergyKwh: null, routeKm: 180, priority: 2,
    });
  });
});

describe('invalid input: 4xx listing every problem, nothing written', () => {
  test('departure with two targets', async () => {
    const r = await t.call('POST', `/api/v1/vehicles/${uniq('veh')}/departures`, { body: { departAt: '2030-01-31T06:00:00Z', requiredSocPct: 80, routeKm: 100 } });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect(r.json.problems).toEqual(['exactly one of requiredSocPct, requiredEnergyKwh, routeKm is allowed, got requiredSocPct, routeKm']);
  });

  test('departure with no target', async () => {
    const r = await t.call('POST', `/api/v1/vehicles/${uniq('veh')}/departures`, { body: { departAt: '2030-01-31T06:00:00Z' } });
    expect(r.status).toBe(400);
    expect(r.json.problems).toEqual(['exactly one of requiredSocPct, requiredEnergyKwh, routeKm is required, none given']);
  });

  test('every invalid field of a site is listed', async () => {
    const r = await t.call('PUT', `/api/v1/sites/${uniq('site')}`, { body: { name: '', gridLimitKw: -5, location: { lat: 95 }, timezone: 'Mars/Olympus' } });
    expect(r.status).toBe(400);
    expect(r.json.problems).toEqual([
      'name: expected a non-empty string of at most 200 characters, got ""',
      'gridLimitKw: expected a number > 0, got -5',
      'location.lat: expected a latitude between -90 and 90, got 95',
      'location.lon: expected a longitude between -180 and 180, got nothing',
      'timezone: expected an IANA time zone such as Europe/Berlin, got "Mars/Olympus"',
    ]);
  });

  test('broken JSON is 400, another media type 415', async () => {
    const a = await t.call('PUT', `/api/v1/sites/${uniq('site')}`, { body: '{"name": ' });
    expect(a.status).toBe(400);
    expect(a.json.problems[0]).toMatch(/^not JSON/);
    const b = await t.call('PUT', `/api/v1/sites/${uniq('site')}`, { body: 'name=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(b.status).toBe(415);
  });

  test('charger: bad security profile, short password, bad partner id', async () => {
    const r = await t.call('PUT', `/api/v1/chargers/${uniq('CP')}`, { body: { siteId: 's', maxPowerKw: 22, securityProfile: 4, password: 'short', ownerPartnerId: 'a b' } });
    expect(r.status).toBe(400);
    expect(r.json.problems).toEqual(expect.arrayContaining([
      'securityProfile: expected an OCPP security profile 1, 2 or 3, got 4',
      expect.stringMatching(/^password: expected a secret of 8 to 128 characters/),
      expect.stringMatching(/^ownerPartnerId: expected a partner id/),
    ]));
  });
});
