import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Topics } from '../../schemas/topics';
import { uniq } from '../support/stack';
import { apiKey, Harness, iso, markTopic, post, readSince, ReadingRecord, secrets, startHarness, testProviders } from './support';

/** The pull adapter against a small local provider server: a feed of diagnostic records with versions, polled with
 *  the last `toVersion` as cursor. */
describe('telematics ingest: pull provider', () => {
  let h: Harness;
  let server: Server;
  const feed: { version: number; record: Record<string, unknown> }[] = [];
  const requests: { fromVersion: string | null; key: string | undefined }[] = [];
  let failNext = 0;
  const dev = uniq('PULL');

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      requests.push({ fromVersion: url.searchParams.get('fromVersion'), key: req.headers['x-provider-key'] as string | undefined });
      if (failNext > 0) {
        failNext--;
        res.writeHead(500).end('provider hiccup');
        return;
      }
      const from = Number(url.searchParams.get('fromVersion') ?? '0');
      const page = feed.filter((f) => f.version > from).slice(0, 4);
      const toVersion = page.length ? page[page.length - 1]!.version : from;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ records: page.map((p) => p.record), toVersion: String(toVersion).padStart(6, '0') }));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
    const port = (server.address() as AddressInfo).port;
    h = await startHarness({
      providers: testProviders({
        'pull-test': { shape: 'fleet-diagnostics', pull: { url: `http://127.0.0.1:${port}/feed`, intervalMs: 150, headers: { 'x-provider-key': 'provider-side-key' } } },
      }),
    });
  });

  afterAll(async () => {
    await h.stop();
    await new Promise<void>((ok) => server.close(() => ok()));
  });

  const add = (diagnostic: string, at: number, data: number) =>
    feed.push({ version: feed.length + 1, record: { id: `b${feed.length + 1}`, device: { id: dev }, diagnostic: { id: diagnostic }, dateTime: iso(at).replace('Z', '+00:00'), data } });

  const waitForReadings = async (mark: Map<number, number>, vehicleId: string, count: number) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const recs = await readSince<ReadingRecord>(Topics.telematicsReadings, mark, (r) => r.key === vehicleId);
      if (recs.length >= count || Date.now() > deadline) return recs.map((r) => r.value);
      await new Promise((ok) => setTimeout(ok, 300));
    }
  };

  it('polls the provider on an interval, follows its cursor, survives errors, and writes each reading once', async () => {
    const vehicleId = await h.configureVehicle('pull-test', dev);
    const mark = await markTopic(Topics.telematicsReadings);
    const t0 = Date.now() - 3_600_000;
    add('DiagnosticStateOfChargeId', t0, 30);
    add('DiagnosticOdometerId', t0, 5_000_000);
    add('DiagnosticStateOfChargeId', t0 + 60_000, 31);
    add('DiagnosticOdometerId', t0 + 60_000, 5_001_000);
    add('DiagnosticStateOfChargeId', t0 + 120_000, 32);

    const first = await waitForReadings(mark, vehicleId, 3);
    expect(first.map((r) => [r.readingAt, r.socPct, r.odometerKm])).toEqual([
      [t0, 30, 5000],
      [t0 + 60_000, 31, 5001],
      [t0 + 120_000, 32, null],
    ]);
    expect(first.every((r) => r.provider === 'pull-test')).toBe(true);

    failNext = 2;
    add('DiagnosticStateOfChargeId', t0 + 180_000, 33);
    const all = await waitForReadings(mark, vehicleId, 4);
    // Let several more polls pass: nothing may be written twice.
    const polled = requests.length;
    while (requests.length < polled + 5) await new Promise((ok) => setTimeout(ok, 100));
    const after = await readSince<ReadingRecord>(Topics.telematicsReadings, mark, (r) => r.key === vehicleId);
    expect(after).toHaveLength(4);
    expect(all.map((r) => r.socPct)).toEqual([30, 31, 32, 33]);
    expect(requests[0]).toEqual({ fromVersion: null, key: 'provider-side-key' });
    expect(requests.map((r) => r.fromVersion)).toEqual(expect.arrayContaining(['000004', '000005', '000006']));
    expect(h.telematics.pollers.find((p) => p.provider === 'pull-test')?.cursor).toBe('000006');
  });

  it('does not take pushes for a pull-only provider', async () => {
    const res = await post(h.url('pull-test'), { records: [] }, apiKey(secrets.voltstream));
    expect(res.status).toBe(404);
  });
});
