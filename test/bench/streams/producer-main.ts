/** The sustained run's producer, in its own process as the normalizer is in production: encodes `BENCH_N` events,
 *  says 'ready', and on 'go' produces them at `BENCH_RATE` events/s to `BENCH_TOPIC`, then says 'done'. */
import { loadConfig } from '../../../services/common/config';
import { createKafka } from '../../../services/common/kafka';
import { toAvro } from '../../../schemas/events';
import { createTopicSerde } from '../../../schemas/registry';
import { Topics } from '../../../schemas/topics';
import { generate } from './events';

/** Events per request: about 250 KiB of encoded events. */
const MAX_PER_SEND = 1000;

const main = async () => {
  const env = process.env;
  const [topic, rate, n, prefix] = [env.BENCH_TOPIC!, Number(env.BENCH_RATE), Number(env.BENCH_N), env.BENCH_PREFIX!];
  const config = loadConfig(env);
  const serde = createTopicSerde(config.schemaRegistryUrl);
  const producer = createKafka(config, `bench-streams-producer-${process.pid}`).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const encoded: { key: string; value: Buffer }[] = [];
  for (const e of generate(n, 500, prefix)) encoded.push({ key: e.chargePointId, value: await serde.encode(Topics.chargingEvents, toAvro(e)) });
  await new Promise<void>((go) => {
    process.on('message', (m: { type: string }) => m.type === 'go' && go());
    process.send!({ type: 'ready' });
  });
  const t0 = Date.now();
  let sent = 0;
  while (sent < n) {
    const due = Math.min(n, Math.floor(((Date.now() - t0) / 1000) * rate) + Math.floor(rate / 10));
    // A producer that fell behind catches up in requests the broker still accepts (message.max.bytes, 1 MiB).
    while (due > sent) {
      const upTo = Math.min(due, sent + MAX_PER_SEND);
      await producer.send({ topic, messages: encoded.slice(sent, upTo), acks: -1 });
      sent = upTo;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const producedMs = Date.now() - t0;
  await producer.disconnect();
  process.send!({ type: 'done', producedMs }, () => process.exit(0));
};

main().catch((e: unknown) => {
  console.error(`benchmark producer failed: ${(e as Error).message}`);
  process.exit(1);
});
