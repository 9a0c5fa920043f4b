import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createContext } from '../../services/common/context';
import { service } from '../../services/telematics-ingest/service';
import { telematicsRoutes } from '../../services/telematics-ingest/http';
import { serveStandalone } from '../../services/telematics-ingest/standalone';
import { Topics } from '../../schemas/topics';
import { testConfig, uniq } from '../support/stack';
import { apiKey, iso, markTopic, post, readSince, startHarness } from './support';

/** The service as `voltstream start` / `voltstream service` run it (environment, providers file, standalone port), and
 *  the route the API mounts from http.ts, delegating to it. */
describe('telematics ingest: service and API mounting', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telematics-service-'));
  const file = path.join(dir, 'providers.json');
  const key = `svc-${uniq('key')}`;
  const saved = { ...process.env };

  beforeAll(() => {
    fs.writeFileSync(file, JSON.stringify({ providers: { acme: { shape: 'voltstream', push: { type: 'api-key', header: 'X-Acme-Key', keys: [key] } } } }));
    Object.assign(process.env, { TELEMATICS_PORT: '0', TELEMATICS_PROVIDERS_FILE: file, TELEMATICS_PULL: '0' });
  });
  afterAll(() => {
    for (const k of ['TELEMATICS_PORT', 'TELEMATICS_PROVIDERS_FILE', 'TELEMATICS_PULL']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs from its environment, serves standalone, and the API’s route delegates to it', async () => {
    // A harness only to configure the vehicle through fleet.config.
    const h = await startHarness();
    const ctx = createContext(testConfig(), uniq('telematics-svc'));
    const ref = uniq('acme');
    const vehicleId = await h.configureVehicle('acme', ref);
    const mark = await markTopic(Topics.telematicsReadings);
    const running = await service.start(ctx);
    const standalone = running.endpoints?.[0];
    expect(standalone).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/telematics\/\{provider\}$/);
    const url = standalone!.replace('{provider}', 'acme');
    const r = (id: string) => ({ readingId: id, vehicleRef: ref, readingAt: iso(Date.now() - 1000), socPct: 33 });
    const id1 = uniq('r');
    expect((await post(url, r(id1), { 'X-Acme-Key': key })).status).toBe(200);
    expect((await post(url, r(uniq('r')), apiKey(key))).status).toBe(401);

    // What services/api mounts: the factory finds the running ingest and delegates.
    const mounted = await telematicsRoutes(ctx);
    expect(mounted.stop).toBeUndefined();
    expect(mounted.routes.map((x) => [x.method, x.path, x.scope])).toEqual([['POST', '/api/v1/telematics/{provider}', 'self']]);
    const api = await serveStandalone(mounted.routes, 0);
    const viaApi = `http://127.0.0.1:${api.port}/api/v1/telematics/acme`;
    const id2 = uniq('r');
    expect((await post(viaApi, r(id2), { 'X-Acme-Key': key })).status).toBe(200);

    await running.stop();
    const down = await post(viaApi, r(uniq('r')), { 'X-Acme-Key': key });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('5');

    // With no ingest running in the process (the API alone), the factory starts one and hands back its stop.
    const own = await telematicsRoutes(ctx);
    expect(typeof own.stop).toBe('function');
    const api2 = await serveStandalone(own.routes, 0);
    const id3 = uniq('r');
    expect((await post(`http://127.0.0.1:${api2.port}/api/v1/telematics/acme`, r(id3), { 'X-Acme-Key': key })).status).toBe(200);
    await own.stop!();
    await api.close();
    await api2.close();

    const recs = await readSince<{ providerReadingId: string }>(Topics.telematicsReadings, mark, (x) => x.key === vehicleId);
    expect(recs.map((x) => x.value.providerReadingId)).toEqual([id1, id2, id3]);
    await ctx.pool.end().catch(() => undefined);
    await h.stop();
  });
});
