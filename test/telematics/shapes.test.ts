import { Topics } from '../../schemas/topics';
import { readingIdOf } from '../../services/telematics-ingest/reading';
import { uniq } from '../support/stack';
import { apiKey, Harness, iso, markTopic, post, readSince, ReadingRecord, secrets, signed, startHarness } from './support';

/** Each payload shape through the HTTP endpoint into telematics.readings, read back with a plain registry client,
 *  every field and unit checked. */
describe('telematics ingest: payload shapes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  const readingsFor = async (mark: Map<number, number>, vehicleIds: string[]) => {
    const ids = new Set(vehicleIds);
    return (await readSince<ReadingRecord>(Topics.telematicsReadings, mark, (r) => ids.has(r.key ?? ''))).map((r) => ({ key: r.key, ...r.value }));
  };

  it('takes our own JSON format, single and batch, and writes every field in our units', async () => {
    const ref = uniq('vs-car');
    const vehicleId = await h.configureVehicle('voltstream', ref);
    const mark = await markTopic(Topics.telematicsReadings);
    const t0 = Date.now() - 60_000;
    const rid = uniq('r');
    const single = {
      readingId: rid,
      vehicleRef: ref,
      readingAt: iso(t0),
      socPct: 81.5,
      rangeKm: 312.4,
      odometerKm: 12345.6,
      position: { lat: 52.52, lon: 13.405 },
      chargingState: 'CHARGING',
      pluggedIn: true,
      batteryCapacityKwh: 77,
      etaAt: iso(t0 + 3_600_000),
    };
    const before = Date.now();
    const r1 = await post(h.url('voltstream'), single, apiKey(secrets.voltstream));
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: 0, results: [{ item: 'reading', status: 'accepted', readingId: readingIdOf('voltstream', rid) }] });

    const batch = { readings: [1, 2].map((i) => ({ readingId: `${rid}-${i}`, vehicleRef: ref, readingAt: iso(t0 + i * 60_000), socPct: 81.5 + i, odometerKm: 12345.6 })) };
    const r2 = await post(h.url('voltstream'), batch, apiKey(secrets.voltstream));
    expect(r2.status).toBe(200);
    expect(r2.body).toMatchObject({ accepted: 2 });

    const recs = await readingsFor(mark, [vehicleId]);
    expect(recs).toHaveLength(3);
    const first = recs.find((r) => r.providerReadingId === rid)!;
    expect(first).toEqual({
      key: vehicleId,
      readingId: readingIdOf('voltstream', rid),
      vehicleId,
      provider: 'voltstream',
      providerReadingId: rid,
      readingAt: t0,
      receivedAt: expect.any(Number),
      socPct: 81.5,
      rangeKm: 312.4,
      odometerKm: 12345.6,
      latitude: 52.52,
      longitude: 13.405,
      chargingState: 'CHARGING',
      pluggedIn: true,
      batteryCapacityKwh: 77,
      etaAt: t0 + 3_600_000,
    });
    expect(first.receivedAt).toBeGreaterThanOrEqual(before - 5);
    expect(first.receivedAt).toBeLessThanOrEqual(Date.now());
    const second = recs.find((r) => r.providerReadingId === `${rid}-2`)!;
    expect(second).toMatchObject({ socPct: 83.5, rangeKm: null, latitude: null, chargingState: null, pluggedIn: null, batteryCapacityKwh: null, etaAt: null, readingAt: t0 + 120_000 });
  });
});
