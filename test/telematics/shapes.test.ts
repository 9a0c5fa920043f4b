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

  it('takes consumer-car webhooks: nested objects, SoC fraction, miles or km by the unit field, signed', async () => {
    const inMiles = uniq('cc-mi');
    const inKm = uniq('cc-km');
    const vMiles = await h.configureVehicle('webhook-demo', inMiles);
    const vKm = await h.configureVehicle('webhook-demo', inKm);
    const mark = await markTopic(Topics.telematicsReadings);
    const t0 = Date.now() - 120_000;
    const evMiles = uniq('evt');
    const event = {
      eventId: evMiles,
      eventType: 'VEHICLE_STATE',
      vehicleId: inMiles,
      deliveredAt: iso(t0 + 2000),
      data: {
        recordedAt: '2026-01-01T00:00:00.123+02:00'.replace('2026-01-01T00:00:00.123', new Date(t0 + 2 * 3_600_000).toISOString().slice(0, 23)),
        distanceUnit: 'miles',
        battery: { percentRemaining: 0.815, range: 194.2, capacityKwh: 75 },
        charge: { state: 'FULLY_CHARGED', isPluggedIn: true },
        location: { latitude: 48.137, longitude: 11.575 },
        odometer: { distance: 7671.3 },
      },
    };
    const one = signed(event);
    const r1 = await post(h.url('webhook-demo'), one.text, one.headers);
    expect(r1.status).toBe(200);

    const evKm = uniq('evt');
    const batch = {
      events: [
        { eventId: evKm, eventType: 'VEHICLE_STATE', vehicleId: inKm, data: { recordedAt: iso(t0), distanceUnit: 'km', battery: { percentRemaining: 0.5, range: 200 }, charge: { state: 'CHARGING', isPluggedIn: true }, odometer: { distance: 1000 } } },
        { eventId: uniq('ping'), eventType: 'VERIFY', vehicleId: inKm },
        { eventId: `${evKm}-b`, eventType: 'VEHICLE_STATE', vehicleId: inKm, data: { recordedAt: iso(t0 + 1000), charge: { state: 'SOMETHING_NEW', isPluggedIn: false } } },
      ],
    };
    const many = signed(batch);
    const r2 = await post(h.url('webhook-demo'), many.text, many.headers);
    expect(r2.status).toBe(200);
    expect(r2.body).toMatchObject({ accepted: 2, ignored: 1, rejected: 0 });

    const recs = await readingsFor(mark, [vMiles, vKm]);
    expect(recs).toHaveLength(3);
    const m = recs.find((r) => r.vehicleId === vMiles)!;
    expect(m).toMatchObject({ key: vMiles, provider: 'webhook-demo', providerReadingId: evMiles, readingId: readingIdOf('webhook-demo', evMiles), chargingState: 'COMPLETE', pluggedIn: true, batteryCapacityKwh: 75, latitude: 48.137, longitude: 11.575, etaAt: null });
    expect(m.readingAt).toBe(t0 + 2 * 3_600_000 - 2 * 3_600_000);
    expect(m.socPct).toBeCloseTo(81.5, 9);
    expect(m.rangeKm).toBeCloseTo(194.2 * 1.609344, 9);
    expect(m.odometerKm).toBeCloseTo(7671.3 * 1.609344, 9);
    const k = recs.find((r) => r.providerReadingId === evKm)!;
    expect(k).toMatchObject({ vehicleId: vKm, readingAt: t0, socPct: 50, rangeKm: 200, odometerKm: 1000, chargingState: 'CHARGING', latitude: null, batteryCapacityKwh: null });
    expect(recs.find((r) => r.providerReadingId === `${evKm}-b`)).toMatchObject({ chargingState: 'UNKNOWN', pluggedIn: false, socPct: null, odometerKm: null });
  });

  it('takes fleet diagnostic records: grouped per device and instant, metres to km, Wh to kWh, offsets to UTC', async () => {
    const dev = uniq('G9');
    const vehicleId = await h.configureVehicle('fleet-demo', dev);
    const mark = await markTopic(Topics.telematicsReadings);
    // 14:59:00+01:00 is 13:59:00Z; the same instant written with another offset is the same reading.
    const t0 = Math.floor((Date.now() - 3_600_000) / 1000) * 1000;
    const plus1 = new Date(t0 + 3_600_000).toISOString().slice(0, 19) + '+01:00';
    const minus0530 = new Date(t0 - 5.5 * 3_600_000).toISOString().slice(0, 19) + '.000-0530';
    const rec = (id: string, diagnostic: string, dateTime: string, data: number) => ({ id, device: { id: dev }, diagnostic: { id: diagnostic }, dateTime, data });
    const body = {
      records: [
        rec('b1', 'DiagnosticStateOfChargeId', plus1, 64.5),
        rec('b2', 'DiagnosticOdometerId', plus1, 12_345_600),
        rec('b3', 'DiagnosticElectricVehicleRangeId', minus0530, 250_500),
        rec('b4', 'DiagnosticLatitudeId', plus1, 53.55),
        rec('b5', 'DiagnosticLongitudeId', plus1, 9.99),
        rec('b6', 'DiagnosticBatteryUsableCapacityId', plus1, 98_000),
        rec('b7', 'DiagnosticChargingStateId', plus1, 2),
        rec('b8', 'DiagnosticChargeCableConnectedId', plus1, 1),
        rec('b9', 'DiagnosticTirePressureFrontLeftId', plus1, 250),
        rec('c1', 'DiagnosticStateOfChargeId', new Date(t0 + 600_000).toISOString().replace('Z', '+00:00'), 66),
        rec('d1', 'DiagnosticTirePressureFrontLeftId', new Date(t0 + 900_000).toISOString(), 251),
      ],
      toVersion: '000042',
    };
    const res = await post(h.url('fleet-demo'), body, apiKey(secrets.fleet));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, ignored: 1, rejected: 0 });

    const recs = await readingsFor(mark, [vehicleId]);
    expect(recs).toHaveLength(2);
    const a = recs.find((r) => r.readingAt === t0)!;
    expect(a).toEqual({
      key: vehicleId,
      readingId: readingIdOf('fleet-demo', `${dev}@${iso(t0)}`),
      vehicleId,
      provider: 'fleet-demo',
      providerReadingId: `${dev}@${iso(t0)}`,
      readingAt: t0,
      receivedAt: expect.any(Number),
      socPct: 64.5,
      rangeKm: 250.5,
      odometerKm: 12345.6,
      latitude: 53.55,
      longitude: 9.99,
      chargingState: 'CHARGING',
      pluggedIn: true,
      batteryCapacityKwh: 98,
      etaAt: null,
    });
    expect(recs.find((r) => r.readingAt === t0 + 600_000)).toMatchObject({ socPct: 66, odometerKm: null, chargingState: null });
  });
});
