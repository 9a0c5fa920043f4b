import * as E from 'fp-ts/Either';
import { catalog } from '../../schemas/catalog';
import { SiteMeterReading } from '../../schemas/site-meter-record';
import { signedHeaders } from '../../services/telematics-ingest/auth';
import { meterReadingId } from '../../services/site-meters/reading';
import { uniq } from '../support/stack';
import { apiKey, iso, markTopic, post, readSince } from '../telematics/support';
import { rawOf, RejectionRecord, SiteMetersHarness, startSiteMetersHarness } from './support';

/** The push endpoint against the real Kafka and registry: authentication as telematics, good readings written to
 *  site.meter-readings (key siteId) with role and panel from the site's configuration, bad data refused with every
 *  reason and kept on site.meter-rejected. */
describe('site meters: HTTP push', () => {
  const key = 'test-site-meter-key';
  const secret = 'test-site-meter-secret';
  const site = uniq('depot');
  const signedSite = uniq('depot');
  let h: SiteMetersHarness;
  beforeAll(async () => {
    h = await startSiteMetersHarness({
      sites: {
        [site]: {
          push: { type: 'api-key', keys: [key] },
          meters: { grid: { role: 'connection', maxKw: 800 }, workshop: { role: 'submeter', panelId: 'panel-w' } },
        },
        [signedSite]: { push: { type: 'hmac-sha256', secrets: [secret] }, meters: { grid: { role: 'connection' } } },
      },
    });
  });
  afterAll(async () => {
    await h.stop();
  });

  const readingsOf = async (mark: Map<number, number>, siteId: string) =>
    (await readSince<unknown>(catalog.siteMeterReadings.name, mark, (r) => r.key === siteId)).map((r) => {
      const d = catalog.siteMeterReadings.decode(r.value);
      if (E.isLeft(d)) throw new Error(d.left);
      return d.right;
    });
  const rejectionsOf = async (mark: Map<number, number>, siteId: string) =>
    (await readSince<RejectionRecord>(catalog.siteMeterRejected.name, mark, (r) => r.key === siteId)).map((r) => r.value);
  const marks = async () => ({ readings: await markTopic(catalog.siteMeterReadings.name), rejected: await markTopic(catalog.siteMeterRejected.name) });

  it('writes a good reading with role and panel from the configuration, and a re-sent one only once', async () => {
    const m = await marks();
    const at = Date.now() - 2000;
    const body = { meterId: 'workshop', measuredAt: iso(at), importKw: 41.5, l1A: 60, l2A: 61, l3A: 59.5, voltageV: 231 };
    const res = await post(h.url(site), body, apiKey(key));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: 0 });
    const again = await post(h.url(site), body, apiKey(key));
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 1 });
    const written = await readingsOf(m.readings, site);
    expect(written).toEqual<SiteMeterReading[]>([
      {
        readingId: meterReadingId(site, 'workshop', at),
        siteId: site,
        meterId: 'workshop',
        role: 'submeter',
        panelId: 'panel-w',
        measuredAt: at,
        receivedAt: written[0]!.receivedAt,
        importKw: 41.5,
        l1A: 60,
        l2A: 61,
        l3A: 59.5,
        voltageV: 231,
        source: 'push',
      },
    ]);
    expect(written[0]!.receivedAt).toBeGreaterThanOrEqual(at);
  });

  it('writes a reading pushed five times at once exactly once', async () => {
    const m = await marks();
    const body = { meterId: 'grid', measuredAt: iso(Date.now() - 3000), importKw: 77 };
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(h.url(site), body, apiKey(key))));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((a) => (a.body as { accepted: number }).accepted).sort()).toEqual([0, 0, 0, 0, 1]);
    expect((await readingsOf(m.readings, site)).map((r) => r.importKw)).toEqual([77]);
  });

  it('refuses bad readings of a batch with every reason (207), writes the good one, keeps the bad ones for audit', async () => {
    const m = await marks();
    const now = Date.now();
    const res = await post(
      h.url(site),
      {
        readings: [
          { meterId: 'grid', measuredAt: iso(now - 1000), importKw: 300 },
          { meterId: 'grid', measuredAt: iso(now - 900), importKw: 5000, voltageV: 20 },
          { meterId: 'boiler', measuredAt: iso(now - 800), importKw: 3 },
          { meterId: 'grid', measuredAt: 'yesterday', importKw: '12', colour: 'red' },
          { meterId: 'grid', measuredAt: iso(now - 700), importKw: 200, l1A: 10, l2A: 10, l3A: 10, voltageV: 230 },
          { meterId: 'grid', measuredAt: iso(now + 3600_000), importKw: 1 },
        ],
      },
      apiKey(key),
    );
    expect(res.status).toBe(207);
    expect(res.body).toMatchObject({ accepted: 1, rejected: 5 });
    const results = res.body.results as { item: string; status: string; problems?: string[] }[];
    expect(results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
    expect(results[1]!.problems).toEqual(["importKw: 5000 kW is beyond ±800 kW of meter 'grid'", 'voltageV: 20 V is outside 80–300 V (phase to neutral)']);
    expect(results[2]!.problems).toEqual([`meter 'boiler' is not configured for site '${site}'`]);
    expect(results[3]!.problems).toEqual(['measuredAt: expected ISO 8601 time with Z or an offset, got "yesterday"', 'importKw: expected number, got "12"', 'colour: unknown field']);
    expect(results[4]!.problems).toEqual(['importKw: 200 kW is more than the 6.9 kVA that 230 V and 10/10/10 A can carry']);
    expect(results[5]!.problems![0]).toMatch(/^measuredAt .* is 3\d{3} s ahead of our clock \(at most 300 s\)$/);

    expect((await readingsOf(m.readings, site)).map((r) => r.importKw)).toEqual([300]);
    const rejected = await rejectionsOf(m.rejected, site);
    expect(rejected.map((r) => [r.meterId, r.httpStatus, r.source])).toEqual([
      ['grid', 207, 'push'],
      ['boiler', 207, 'push'],
      [null, 207, 'push'],
      ['grid', 207, 'push'],
      ['grid', 207, 'push'],
    ]);
    expect(rejected[0]!.problems).toEqual(results[1]!.problems!.map((p) => `readings[1]: ${p}`));
    expect(JSON.parse(rawOf(rejected[2]!))).toEqual({ meterId: 'grid', measuredAt: 'yesterday', importKw: '12', colour: 'red' });
  });

  it('answers 400 with each reason when nothing is taken (a bad reading, not JSON, not a reading), kept for audit', async () => {
    const m = await marks();
    const bad = await post(h.url(site), { meterId: 'grid', measuredAt: iso(Date.now()), importKw: -900 }, apiKey(key));
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('application/problem+json');
    expect(bad.body.problems).toEqual(["reading: importKw: -900 kW is beyond ±800 kW of meter 'grid'"]);
    const notJson = await post(h.url(site), '{"meterId": "grid",', apiKey(key));
    expect(notJson.status).toBe(400);
    expect((notJson.body.problems as string[])[0]).toMatch(/^not JSON: /);
    const notReading = await post(h.url(site), [1, 2], apiKey(key));
    expect(notReading.status).toBe(400);
    expect(notReading.body.problems).toEqual(['(root): expected a reading object or { "readings": [...] }']);

    const rejected = await rejectionsOf(m.rejected, site);
    expect(rejected.map((r) => r.httpStatus)).toEqual([400, 400, 400]);
    expect(rawOf(rejected[1]!)).toBe(JSON.stringify('{"meterId": "grid",'));
    expect(await readingsOf(m.readings, site)).toEqual([]);
  });

  it('authenticates per site like telematics: API key, HMAC signature; a refused push writes nothing', async () => {
    const m = await marks();
    const body = JSON.stringify({ meterId: 'grid', measuredAt: iso(Date.now() - 500), importKw: 120 });
    const missing = await post(h.url(site), body);
    expect(missing.status).toBe(401);
    expect(missing.body.problems).toEqual(['missing x-api-key header']);
    expect((await post(h.url(site), body, apiKey('not-the-key'))).status).toBe(401);
    // One site's credentials are not another's.
    expect((await post(h.url(signedSite), body, apiKey(key))).status).toBe(401);
    expect((await post(h.url(uniq('nowhere')), body, apiKey(key))).status).toBe(404);
    expect(await readingsOf(m.readings, signedSite)).toEqual([]);
    expect((await post(h.url(signedSite), body, signedHeaders({ secret }, body))).status).toBe(200);
    expect((await readingsOf(m.readings, signedSite)).map((r) => r.importKw)).toEqual([120]);
  });
});
