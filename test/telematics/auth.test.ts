import { Topics } from '../../schemas/topics';
import { signedHeaders } from '../../services/telematics-ingest/auth';
import { uniq } from '../support/stack';
import { apiKey, Harness, iso, markTopic, post, readSince, ReadingRecord, secrets, signed, startHarness } from './support';

/** Push authentication: API keys per provider, HMAC-SHA256 webhook signatures with a replay window. A refused request
 *  writes nothing. */
describe('telematics ingest: authentication', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  const event = (ref: string, id: string) => ({ eventId: id, eventType: 'VEHICLE_STATE', vehicleId: ref, data: { recordedAt: iso(Date.now() - 10_000), battery: { percentRemaining: 0.42 } } });

  it('checks API keys per provider (plain and sha256-configured), writing nothing when refused', async () => {
    const ref = uniq('vs');
    const vehicleId = await h.configureVehicle('voltstream', ref);
    const mark = await markTopic(Topics.telematicsReadings);
    const body = { readingId: uniq('r'), vehicleRef: ref, readingAt: iso(Date.now() - 1000), socPct: 10 };
    const missing = await post(h.url('voltstream'), body);
    expect(missing.status).toBe(401);
    expect(missing.body.problems).toEqual(['missing x-api-key header']);
    expect((await post(h.url('voltstream'), body, apiKey('wrong-key-123'))).status).toBe(401);
    // Another provider's key is not this provider's key.
    expect((await post(h.url('voltstream'), body, apiKey(secrets.fleet))).status).toBe(401);
    expect((await readSince(Topics.telematicsReadings, mark, (r) => r.key === vehicleId)).length).toBe(0);
    expect((await post(h.url('voltstream'), body, apiKey(secrets.voltstream))).status).toBe(200);

    const dev = uniq('G9');
    await h.configureVehicle('fleet-demo', dev);
    const fleet = { records: [{ device: { id: dev }, diagnostic: { id: 'DiagnosticStateOfChargeId' }, dateTime: iso(Date.now() - 1000), data: 50 }] };
    expect((await post(h.url('fleet-demo'), fleet, apiKey(secrets.fleet))).status).toBe(200);
  });

  it('checks webhook signatures: good, tampered body, wrong secret, missing headers', async () => {
    const ref = uniq('cc');
    const vehicleId = await h.configureVehicle('webhook-demo', ref);
    const mark = await markTopic(Topics.telematicsReadings);
    const good = signed(event(ref, uniq('e')));
    const tampered = good.text.replace('0.42', '0.99');
    const t = await post(h.url('webhook-demo'), tampered, good.headers);
    expect(t.status).toBe(401);
    expect(t.body.problems).toEqual(['x-webhook-signature does not match the body']);
    const wrong = signed(event(ref, uniq('e')), Date.now(), 'not-the-secret');
    expect((await post(h.url('webhook-demo'), wrong.text, wrong.headers)).status).toBe(401);
    const none = await post(h.url('webhook-demo'), good.text);
    expect(none.status).toBe(401);
    expect(none.body.problems).toEqual(['missing x-webhook-timestamp header']);
    // An API key is no substitute for a signature.
    expect((await post(h.url('webhook-demo'), good.text, apiKey(secrets.voltstream))).status).toBe(401);
    expect((await readSince(Topics.telematicsReadings, mark, (r) => r.key === vehicleId)).length).toBe(0);
    expect((await post(h.url('webhook-demo'), good.text, good.headers)).status).toBe(200);
  });

  it('refuses a replayed signature outside the window; re-signed or replayed within it, the readings are duplicates', async () => {
    const ref = uniq('cc');
    const vehicleId = await h.configureVehicle('webhook-demo', ref);
    const mark = await markTopic(Topics.telematicsReadings);
    const body = JSON.stringify(event(ref, uniq('e')));
    // Captured six minutes ago and replayed now.
    const old = signedHeaders({ secret: secrets.webhook }, body, Date.now() - 6 * 60_000);
    const replay = await post(h.url('webhook-demo'), body, old);
    expect(replay.status).toBe(401);
    expect((replay.body.problems as string[])[0]).toMatch(/^x-webhook-timestamp is 36\d s from our clock \(at most 300 s\): replayed or stale signature$/);
    // A timestamp from the future is no better.
    expect((await post(h.url('webhook-demo'), body, signedHeaders({ secret: secrets.webhook }, body, Date.now() + 10 * 60_000))).status).toBe(401);
    // Changing the timestamp header breaks the signature.
    const forged = { ...old, 'x-webhook-timestamp': String(Math.floor(Date.now() / 1000)) };
    expect((await post(h.url('webhook-demo'), body, forged)).status).toBe(401);

    const fresh = signedHeaders({ secret: secrets.webhook }, body);
    expect((await post(h.url('webhook-demo'), body, fresh)).body).toMatchObject({ accepted: 1 });
    expect((await post(h.url('webhook-demo'), body, fresh)).body).toMatchObject({ accepted: 0, duplicates: 1 });
    expect((await readSince(Topics.telematicsReadings, mark, (r) => r.key === vehicleId)).map((r) => (r.value as ReadingRecord).socPct)).toEqual([42]);
  });

  it('answers 404 for an unknown provider and counts refusals in the metrics', async () => {
    const res = await post(h.url('no-such-provider'), {}, apiKey(secrets.voltstream));
    expect(res.status).toBe(404);
    const metrics = await (await fetch(h.url('x').replace(/\/api\/v1\/telematics\/x$/, '/metrics'))).text();
    expect(metrics).toMatch(/voltstream_telematics_auth_failures_total\{provider="webhook-demo",reason="invalid"\} \d+/);
    expect(metrics).toMatch(/voltstream_telematics_auth_failures_total\{provider="voltstream",reason="missing"\} 1/);
    expect(metrics).toMatch(/voltstream_telematics_readings_accepted_total\{provider="voltstream"\} \d+/);
    expect(metrics).toMatch(/voltstream_telematics_produce_seconds_count\{outcome="ok"\} \d+/);
  });
});
