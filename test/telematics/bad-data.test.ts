import { Topics } from '../../schemas/topics';
import { readingIdOf } from '../../services/telematics-ingest/reading';
import { uniq } from '../support/stack';
import { apiKey, Harness, iso, markTopic, post, rawText, readSince, ReadingRecord, Rejection, secrets, signed, startHarness } from './support';

/** Bad data: refused with every problem listed, kept in telematics.rejected; duplicates written once; out-of-order kept. */
describe('telematics ingest: bad data, duplicates, ordering', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  const vs = (body: unknown) => post(h.url('voltstream'), body, apiKey(secrets.voltstream));
  const reading = (ref: string, id: string, at: number, extra: Record<string, unknown> = {}) => ({ readingId: id, vehicleRef: ref, readingAt: iso(at), ...extra });
  const readingsOf = async (mark: Map<number, number>, vehicleId: string) =>
    (await readSince<ReadingRecord>(Topics.telematicsReadings, mark, (r) => r.key === vehicleId)).map((r) => r.value);
  const rejectionsWith = async (mark: Map<number, number>, needle: string) =>
    (await readSince<Rejection>(Topics.telematicsRejected, mark, (r) => rawText(r.value).includes(needle))).map((r) => r.value);

  it('refuses an unknown vehicle with 422 and keeps an audit record', async () => {
    const marks = { readings: await markTopic(Topics.telematicsReadings), rejected: await markTopic(Topics.telematicsRejected) };
    const ref = uniq('nobody');
    const res = await vs(reading(ref, uniq('r'), Date.now() - 1000, { socPct: 50 }));
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.problems).toEqual([`reading: vehicle '${ref}' is not registered for provider 'voltstream'`]);
    const rej = await rejectionsWith(marks.rejected, ref);
    expect(rej).toHaveLength(1);
    expect(rej[0]).toMatchObject({ provider: 'voltstream', httpStatus: 422, problems: res.body.problems });
    expect(JSON.parse(rawText(rej[0]!))).toMatchObject({ vehicleRef: ref, socPct: 50 });
    expect(await readSince(Topics.telematicsReadings, marks.readings, (r) => JSON.stringify(r.value).includes(ref))).toHaveLength(0);
  });

  it('lists every problem of a reading: SoC outside 0–100, future time, bad position, unknown vehicle', async () => {
    const ref = uniq('nobody');
    const res = await vs(reading(ref, uniq('r'), Date.now() + 10 * 60_000, { socPct: 120, position: { lat: 95, lon: 13 } }));
    expect(res.status).toBe(422);
    const problems = res.body.problems as string[];
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^reading: socPct: expected percent between 0 and 100, got 120$/),
        expect.stringMatching(/^reading: latitude: expected latitude between -90 and 90, got 95$/),
        expect.stringMatching(/^reading: readingAt .* is 60\d s ahead of the receive time \(at most 300 s\)$/),
        `reading: vehicle '${ref}' is not registered for provider 'voltstream'`,
      ]),
    );
  });

  it('refuses SoC out of range in every shape (a webhook fraction above 1, a negative one)', async () => {
    const ref = uniq('cc');
    await h.configureVehicle('webhook-demo', ref);
    const marks = { rejected: await markTopic(Topics.telematicsRejected) };
    const ev = (id: string, fraction: number) => ({ eventId: id, eventType: 'VEHICLE_STATE', vehicleId: ref, data: { recordedAt: iso(Date.now() - 5000), battery: { percentRemaining: fraction } } });
    const { text, headers } = signed({ events: [ev(uniq('e'), 81.5), ev(uniq('e'), -0.1)] });
    const res = await post(h.url('webhook-demo'), text, headers);
    expect(res.status).toBe(422);
    expect(res.body.problems).toEqual(['events[0]: socPct: expected percent between 0 and 100, got 8150', 'events[1]: socPct: expected percent between 0 and 100, got -10']);
    const rej = await rejectionsWith(marks.rejected, ref);
    expect(rej).toHaveLength(2);
    expect(rej.map((r) => r.problems[0])).toEqual(res.body.problems);
  });

  it('accepts 4 minutes ahead (clock skew) but not more than 5', async () => {
    const ref = uniq('vs');
    await h.configureVehicle('voltstream', ref);
    const marks = { rejected: await markTopic(Topics.telematicsRejected) };
    const skewed = uniq('r');
    expect((await vs(reading(ref, skewed, Date.now() + 4 * 60_000, { socPct: 40 }))).status).toBe(200);
    const ahead = uniq('r');
    const readingAt = Date.now() + 6 * 60_000;
    const res = await vs(reading(ref, ahead, readingAt, { socPct: 40 }));
    expect(res.status).toBe(422);
    expect(res.body.problems).toEqual([expect.stringContaining('ahead of the receive time')]);
    // The refused reading is kept as an audit record (the accepted one is not).
    const rej = await rejectionsWith(marks.rejected, ref);
    expect(rej).toHaveLength(1);
    expect(rej[0]).toMatchObject({ provider: 'voltstream', httpStatus: 422, problems: res.body.problems });
    expect(JSON.parse(rawText(rej[0]!))).toEqual(reading(ref, ahead, readingAt, { socPct: 40 }));
  });

  it('refuses impossible jumps against the vehicle’s earlier readings, and keeps plausible out-of-order ones', async () => {
    const ref = uniq('vs');
    const vehicleId = await h.configureVehicle('voltstream', ref);
    const mark = await markTopic(Topics.telematicsReadings);
    const rejectedMark = await markTopic(Topics.telematicsRejected);
    const t0 = Date.now() - 3_600_000;
    const base = uniq('r');
    expect((await vs(reading(ref, `${base}-a`, t0, { socPct: 20, odometerKm: 1000 }))).status).toBe(200);
    expect((await vs(reading(ref, `${base}-b`, t0 + 30 * 60_000, { socPct: 40, odometerKm: 1030 }))).status).toBe(200);

    const down = await vs(reading(ref, `${base}-c`, t0 + 40 * 60_000, { odometerKm: 1020 }));
    expect(down.status).toBe(422);
    expect(down.body.problems).toEqual([expect.stringMatching(/^reading: odometerKm decreased from 1030 km .* to 1020 km/)]);

    const fast = await vs(reading(ref, `${base}-d`, t0 + 35 * 60_000, { socPct: 90 }));
    expect(fast.status).toBe(422);
    expect(fast.body.problems).toEqual([expect.stringMatching(/^reading: socPct rose from 40 % to 90 % in 5\.0 min, faster than 300 %\/h$/)]);

    const teleport = await vs(reading(ref, `${base}-e`, t0 + 31 * 60_000, { odometerKm: 1100 }));
    expect(teleport.status).toBe(422);
    expect(teleport.body.problems).toEqual([expect.stringMatching(/odometerKm advanced 70 km in 1\.0 min, faster than 300 km\/h/)]);

    // Late but plausible: fits between a and b; readingAt stays authoritative.
    const late = await vs(reading(ref, `${base}-f`, t0 + 15 * 60_000, { socPct: 30, odometerKm: 1015 }));
    expect(late.status).toBe(200);
    // Late and not fitting: odometer above the later reading b.
    const lateBad = await vs(reading(ref, `${base}-g`, t0 + 20 * 60_000, { odometerKm: 1040 }));
    expect(lateBad.status).toBe(422);
    expect(lateBad.body.problems).toEqual([expect.stringMatching(/odometerKm decreased from 1040 km .* to 1030 km/)]);

    const recs = await readingsOf(mark, vehicleId);
    expect(recs.map((r) => r.providerReadingId)).toEqual([`${base}-a`, `${base}-b`, `${base}-f`]);
    expect(recs.map((r) => r.readingAt)).toEqual([t0, t0 + 30 * 60_000, t0 + 15 * 60_000]);

    // Each refused jump is kept as an audit record with its raw reading and its problem; the accepted ones are not.
    const rej = await rejectionsWith(rejectedMark, base);
    const refused = [
      [`${base}-c`, down],
      [`${base}-d`, fast],
      [`${base}-e`, teleport],
      [`${base}-g`, lateBad],
    ] as const;
    expect(rej.map((r) => JSON.parse(rawText(r)).readingId)).toEqual(refused.map(([id]) => id));
    rej.forEach((r, i) => expect(r).toMatchObject({ provider: 'voltstream', httpStatus: 422, problems: refused[i]![1].body.problems }));
  });

  it('answers a mixed batch per item (207): good readings written, bad ones refused and audited', async () => {
    const ref = uniq('vs');
    const vehicleId = await h.configureVehicle('voltstream', ref);
    const marks = { readings: await markTopic(Topics.telematicsReadings), rejected: await markTopic(Topics.telematicsRejected) };
    const base = uniq('r');
    const t0 = Date.now() - 60_000;
    const res = await vs({
      readings: [
        reading(ref, `${base}-0`, t0, { socPct: 50 }),
        reading(ref, `${base}-1`, t0 + 1000, { socPct: 101 }),
        { readingId: `${base}-2`, vehicleRef: ref, readingAt: 'yesterday', soc: 3 },
        reading(ref, `${base}-3`, t0 + 2000, { socPct: 51 }),
      ],
    });
    expect(res.status).toBe(207);
    expect(res.body).toMatchObject({ accepted: 2, rejected: 2, duplicates: 0 });
    const results = res.body.results as { item: string; status: string; problems?: string[] }[];
    expect(results.map((r) => [r.item, r.status])).toEqual([
      ['readings[0]', 'accepted'],
      ['readings[1]', 'rejected'],
      ['readings[2]', 'rejected'],
      ['readings[3]', 'accepted'],
    ]);
    expect(results[2]!.problems).toEqual(['readingAt: expected ISO 8601 time with zone, got "yesterday"', 'soc: unknown field']);
    expect((await readingsOf(marks.readings, vehicleId)).map((r) => r.socPct)).toEqual([50, 51]);
    const rej = await rejectionsWith(marks.rejected, base);
    expect(rej).toHaveLength(2);
    expect(rej.every((r) => r.httpStatus === 207)).toBe(true);
  });

  it('refuses a body that is not JSON (400) or not the provider’s shape (422), and audits the raw bytes', async () => {
    const marks = { rejected: await markTopic(Topics.telematicsRejected) };
    const marker = uniq('garbage');
    const notJson = await vs(`{"readingId": "${marker}", oops`);
    expect(notJson.status).toBe(400);
    expect((notJson.body.problems as string[])[0]).toMatch(/^not JSON/);
    const wrongShape = await vs({ readings: `${marker}-not-a-list` });
    expect(wrongShape.status).toBe(422);
    expect(wrongShape.body.problems).toEqual(['readings: expected an array of readings']);
    const rej = await rejectionsWith(marks.rejected, marker);
    expect(rej.map((r) => r.httpStatus).sort()).toEqual([400, 422]);
    expect(rej.some((r) => rawText(r) === `{"readingId": "${marker}", oops`)).toBe(true);
  });

  it('accepts duplicates idempotently and writes them once (again later, in one batch, concurrently)', async () => {
    const ref = uniq('vs');
    const vehicleId = await h.configureVehicle('voltstream', ref);
    const mark = await markTopic(Topics.telematicsReadings);
    const id = uniq('dup');
    const r = reading(ref, id, Date.now() - 10_000, { socPct: 70 });
    const first = await vs(r);
    expect(first.body).toMatchObject({ accepted: 1 });
    const again = await vs(r);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 1, results: [{ status: 'duplicate', readingId: readingIdOf('voltstream', id) }] });
    const inBatch = await vs({ readings: [reading(ref, `${id}-x`, Date.now() - 5000, { socPct: 70 }), reading(ref, `${id}-x`, Date.now() - 5000, { socPct: 70 }), r] });
    expect(inBatch.body).toMatchObject({ accepted: 1, duplicates: 2 });
    const concurrent = await Promise.all(Array.from({ length: 8 }, () => vs(reading(ref, `${id}-y`, Date.now() - 4000, { socPct: 70 }))));
    expect(concurrent.every((c) => c.status === 200)).toBe(true);
    expect(concurrent.reduce((n, c) => n + (c.body.accepted as number), 0)).toBe(1);
    const recs = await readingsOf(mark, vehicleId);
    expect(recs.map((x) => x.providerReadingId).sort()).toEqual([id, `${id}-x`, `${id}-y`].sort());
  });
});
