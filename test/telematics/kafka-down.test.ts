import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startBroker, stopBroker } from '../../infra/kafka/broker';
import { createKafka, ensureTopics } from '../../services/common/kafka';
import { Topics } from '../../schemas/topics';
import { testConfig, uniq } from '../support/stack';
import { apiKey, Harness, iso, markTopic, post, readSince, ReadingRecord, secrets, startHarness } from './support';

/** Kafka down: 503 + Retry-After, nothing acknowledged; after the broker is back the provider's retries succeed,
 *  nothing lost, nothing doubled. Runs its OWN broker (ports 29092-29094); the shared one is never touched. */
jest.setTimeout(240_000);

describe('telematics ingest: Kafka down', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telematics-kafka-down-'));
  const broker = { dir, port: 29092, controllerPort: 29093, partnerPort: 29094, heapMb: 384 };
  const brokers = [`127.0.0.1:${broker.port}`];
  const log = (s: string) => process.stderr.write(`[kafka-down] ${s}\n`);
  let h: Harness | undefined;

  beforeAll(async () => {
    await startBroker(broker, log);
    const admin = createKafka(testConfig({ kafkaBrokers: brokers }), uniq('kafka-down-admin')).admin();
    await admin.connect();
    await ensureTopics(admin, { partitions: 3, replicationFactor: 1 });
    await admin.disconnect();
    h = await startHarness({ config: { kafkaBrokers: brokers }, produceTimeoutMs: 3000 });
  });

  afterAll(async () => {
    await h?.stop().catch(() => undefined);
    await stopBroker(broker);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while Kafka is down, then takes the retries exactly once', async () => {
    const kafka = () => createKafka(testConfig({ kafkaBrokers: brokers }), uniq('kafka-down-reader'));
    const ref = uniq('vs');
    const vehicleId = await h!.configureVehicle('voltstream', ref);
    const mark = await markTopic(Topics.telematicsReadings, kafka());
    const base = uniq('r');
    const t0 = Date.now() - 600_000;
    const r = (i: number) => ({ readingId: `${base}-${i}`, vehicleRef: ref, readingAt: iso(t0 + i * 60_000), socPct: 50 + i, odometerKm: 100 + i });
    const send = (body: unknown) => post(h!.url('voltstream'), body, apiKey(secrets.voltstream));

    expect((await send(r(0))).status).toBe(200);

    log('stopping the test broker');
    await stopBroker(broker);
    const single = await send(r(1));
    expect(single.status).toBe(503);
    expect(single.headers.get('retry-after')).toBe('5');
    expect(single.body.title).toMatch(/Kafka unavailable/);
    const batch = await send({ readings: [r(2), r(3), r(4)] });
    expect(batch.status).toBe(503);

    log('starting the test broker again');
    await startBroker(broker, log);
    // The provider retries until it gets a 2xx.
    const retry = async (body: unknown) => {
      for (let i = 0; i < 30; i++) {
        const res = await send(body);
        if (res.status !== 503) return res;
        await new Promise((ok) => setTimeout(ok, 1000));
      }
      throw new Error('still 503 after 30 retries');
    };
    const s2 = await retry(r(1));
    expect(s2.status).toBe(200);
    const b2 = await retry({ readings: [r(2), r(3), r(4)] });
    expect(b2.status).toBe(200);
    expect((b2.body.accepted as number) + (b2.body.duplicates as number)).toBe(3);
    expect((await send(r(5))).status).toBe(200);

    // The vehicle registry kept following fleet.config through the outage: a vehicle configured now is known.
    const ref2 = uniq('vs');
    const vehicle2 = await h!.configureVehicle('voltstream', ref2);
    const late = await retry({ readingId: `${base}-new`, vehicleRef: ref2, readingAt: iso(Date.now() - 1000), socPct: 10 });
    expect(late.status).toBe(200);

    const recs = await readSince<ReadingRecord>(Topics.telematicsReadings, mark, (x) => x.key === vehicleId || x.key === vehicle2, kafka());
    expect(recs.map((x) => x.value.providerReadingId).sort()).toEqual([...[0, 1, 2, 3, 4, 5].map((i) => `${base}-${i}`), `${base}-new`].sort());
  });
});
