import { fork } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { Benchmark, progress } from '../benchmark';
import { parseArgs } from '../../../services/cli/command';
import { loadConfig } from '../../../services/common/config';
import { createKafka, ensureTopics } from '../../../services/common/kafka';
import { createLogger } from '../../../services/common/log';
import { createPool, quoteIdent } from '../../../services/common/db';
import { toAvro } from '../../../schemas/events';
import { generate } from './events';
import { createTopicSerde, TopicSerde } from '../../../schemas/registry';
import { Topics } from '../../../schemas/topics';
import { startEmbeddedDb } from '../../../infra/database/embedded';
import { startProjections } from '../../../streams/projections/run';
import { endOffsets } from '../../../streams/sink/pg-sink';
import { digestSchema } from '../../../streams/replay/digest';
import { freePort } from '../../support/stack';
import { measureClients } from './embedded-clients';

/** Projections throughput: events/s from Kafka into the machine's PostgreSQL and into an embedded TimescaleDB, the
 *  time to rebuild every projection from N events, and a sustained run at a fixed rate watching the lag. Baseline in
 *  the same run: consuming and decoding the same records without writing anything. */

const log = createLogger('bench-streams', 'warn');

interface BenchTopics {
  events: string;
  readings: string;
  config: string;
}

const produceEvents = async (kafka: Kafka, serde: TopicSerde, topic: string, n: number, chargers: number, prefix: string): Promise<number> => {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const bar = progress('producing', n);
  let sent = 0;
  let batch: { key: string; value: Buffer }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await producer.send({ topic, messages: batch, acks: -1 });
    sent += batch.length;
    batch = [];
    bar.tick(sent);
  };
  for (const e of generate(n, chargers, prefix)) {
    if (sent + batch.length >= n) break;
    batch.push({ key: e.chargePointId, value: await serde.encode(Topics.chargingEvents, toAvro(e)) });
    if (batch.length >= 5000) await flush();
  }
  await flush();
  await producer.disconnect();
  return sent;
};

/** Baseline: consume and decode, write nothing. */
const consumeOnly = async (kafka: Kafka, serde: TopicSerde, topic: string, n: number): Promise<number> => {
  const consumer = kafka.consumer({ groupId: `bench-baseline-${Date.now()}`, maxBytesPerPartition: 4 * 1024 * 1024, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const t0 = Date.now();
  let seen = 0;
  const bar = progress('baseline: consume + decode', n);
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) if (m.value) await serde.decode(m.value);
          seen += batch.messages.length;
          bar.tick(Math.min(seen, n));
          if (seen >= n) resolve();
        },
      })
      .catch(reject);
  });
  const ms = Date.now() - t0;
  await consumer.disconnect();
  return ms;
};

const project = async (kafka: Kafka, serde: TopicSerde, pool: Pool, schema: string, topics: BenchTopics, label: string, total: number, timeoutMs = 60 * 60_000, concurrency = 1) => {
  const bar = progress(label, total);
  const t0 = Date.now();
  const running = await startProjections({ kafka, serde, pool, log, schema, groupId: `bench-${schema}`, topics, refreshEveryMs: Number.MAX_SAFE_INTEGER, partitionsConcurrently: concurrency, onProgress: (n) => bar.tick(Math.min(n, total), 'events') });
  const setupMs = Date.now() - t0;
  try {
    await running.sink.reached(await endOffsets(kafka, [topics.events, topics.readings, topics.config]), timeoutMs);
  } catch (e) {
    await running.stop().catch(() => undefined);
    throw e;
  }
  const ms = Date.now() - t0 - setupMs;
  bar.tick(total);
  await running.stop();
  const r0 = Date.now();
  await running.refreshAggregates();
  return { ms, refreshMs: Date.now() - r0 };
};

const LAG_SAMPLE_MS = 500;

/** The producer of the sustained run, in a child process (see producer-main.ts). */
const startProducer = (env: NodeJS.ProcessEnv): Promise<{ go(): Promise<number> }> =>
  new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'producer-main.ts'), [], { execArgv: ['-r', 'tsx/cjs'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    // Whichever is waiting on the child: start-up (reject), or the run after 'go'.
    let failed = reject as (e: Error) => void;
    let done: ((producedMs: number) => void) | undefined;
    child.on('message', (m: { type: string; producedMs?: number }) => {
      if (m.type === 'ready')
        resolve({
          go: () =>
            new Promise<number>((res, rej) => {
              done = res;
              failed = rej;
              child.send({ type: 'go' });
            }),
        });
      if (m.type === 'done') done?.(m.producedMs!);
    });
    child.on('exit', (code) => code !== 0 && failed(new Error(`the benchmark producer exited with ${code}`)));
  });

/** Produce at `rate` events/s for `seconds` from another process while the sink runs; sample the lag every 500 ms. */
const sustained = async (kafka: Kafka, pool: Pool, serde: TopicSerde, schema: string, topics: BenchTopics, rate: number, seconds: number, prefix: string, concurrency: number) => {
  const running = await startProjections({ kafka, serde, pool, log, schema, groupId: `bench-${schema}`, topics, refreshEveryMs: 15_000, partitionsConcurrently: concurrency });
  const admin = kafka.admin();
  try {
    const n = rate * seconds;
    const producer = await startProducer({ BENCH_TOPIC: topics.events, BENCH_RATE: String(rate), BENCH_N: String(n), BENCH_PREFIX: prefix });
    await admin.connect();
    const lagOf = async () => {
      let sum = 0;
      const pos = running.sink.positions();
      for (const p of await admin.fetchTopicOffsets(topics.events)) sum += Math.max(0, Number(p.high) - (pos.get(`${topics.events}:${p.partition}`) ?? 0));
      return sum;
    };
    const lags: number[] = [];
    const bar = progress(`sustained ${rate} events/s`, seconds);
    const t0 = Date.now();
    let producerRunning = true;
    // Settles when the producer is done or has failed (then awaiting it below throws).
    const producing = producer.go();
    void producing.catch(() => undefined).finally(() => (producerRunning = false));
    while (producerRunning) {
      await new Promise((r) => setTimeout(r, LAG_SAMPLE_MS));
      if (!producerRunning) break;
      lags.push(await lagOf());
      bar.tick(Math.min(seconds, Math.floor((Date.now() - t0) / 1000)), `lag ${lags[lags.length - 1]}`);
    }
    const producedMs = await producing;
    bar.tick(seconds);
    const d0 = Date.now();
    await running.sink.reached(await endOffsets(kafka, [topics.events]), 10 * 60_000);
    const drainMs = Date.now() - d0;
    return { achievedRate: Math.round(n / (producedMs / 1000)), maxLag: Math.max(...lags, 0), lastLag: lags[lags.length - 1] ?? 0, lags, drainMs };
  } finally {
    // Also when the producer failed: a sink or an admin client left running would keep the benchmark alive after its
    // topics are gone.
    await admin.disconnect();
    await running.stop();
  }
};

/** Least-squares slope of lag samples taken every `everyMs`, in records per second. */
const lagGrowthPerSecond = (lags: readonly number[], everyMs: number): number => {
  const n = lags.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = lags.reduce((a, y) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  lags.forEach((y, i) => {
    num += (i - mx) * (y - my);
    den += (i - mx) ** 2;
  });
  return (num / den) * (1000 / everyMs);
};

export const benchmark: Benchmark = {
  name: 'streams',
  summary: 'Projections: events/s Kafka → PostgreSQL / embedded TimescaleDB, rebuild time from N events, sustained lag',
  run: async (args) => {
    const { flags } = parseArgs(args);
    const num = (k: string, d: number) => (typeof flags[k] === 'string' ? Number(flags[k]) : d);
    const rebuildEvents = num('events', 200_000);
    const tsEvents = num('timescale-events', 50_000);
    const rate = num('rate', 20_000);
    const seconds = num('seconds', 20);
    const chargers = num('chargers', 500);
    const concurrency = num('concurrency', 3);
    const clientCounts = typeof flags['embedded-clients'] === 'string' ? flags['embedded-clients'].split(',').map(Number) : [1, 4, 8];
    const opSeconds = num('embedded-op-seconds', 5);
    console.log(`Cores: ${os.cpus().length}. Options: --events ${rebuildEvents} (PostgreSQL drain = rebuild), --timescale-events ${tsEvents}, --rate ${rate} --seconds ${seconds} (sustained), --chargers ${chargers}, --concurrency ${concurrency} (partitions applied in parallel on PostgreSQL), --embedded-clients ${clientCounts.join(',')} --embedded-op-seconds ${opSeconds} (clients at once on the embedded database)`);
    const config = loadConfig({ ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
    const kafka = createKafka(config, `bench-streams-${process.pid}`);
    const serde = createTopicSerde(config.schemaRegistryUrl);
    const id = `${Date.now().toString(36)}`;
    const mk = (name: string): BenchTopics => ({ events: `bench.${id}.${name}.charging.events`, readings: `bench.${id}.${name}.telematics.readings`, config: `bench.${id}.${name}.fleet.config` });
    const big = mk('rebuild');
    const small = mk('timescale');
    const live = mk('sustained');
    const admin = kafka.admin();
    await admin.connect();
    const spec = (name: string, partitions?: number) => ({ name, schemaFile: '', key: '', producer: 'bench', configs: {}, ...(partitions ? { partitions } : {}) });
    await ensureTopics(admin, { partitions: config.partitions, replicationFactor: 1 }, [big, small, live].flatMap((t) => [spec(t.events), spec(t.readings), spec(t.config, 1)]));
    const pg = createPool({ url: config.databaseUrl!, embedded: false, max: 6 });
    const schemas: string[] = [];
    try {
      const n = await produceEvents(kafka, serde, big.events, rebuildEvents, chargers, `${id}a`);
      const baseMs = await consumeOnly(kafka, serde, big.events, n);
      console.log(`baseline (consume + Avro decode, no writes): ${n} events in ${(baseMs / 1000).toFixed(1)} s = ${Math.round(n / (baseMs / 1000))} events/s`);

      const pgSchema = `bench_${id}_pg`;
      schemas.push(pgSchema);
      const p = await project(kafka, serde, pg, pgSchema, big, `PostgreSQL ${n} events`, n, 60 * 60_000, concurrency);
      const rows = (await digestSchema(pg, pgSchema)).reduce((a, d) => a + d.rows, 0);
      console.log(`PostgreSQL (machine, plain dialect): ${n} events → ${rows} rows in ${(p.ms / 1000).toFixed(1)} s = ${Math.round(n / (p.ms / 1000))} events/s (rebuild of all projections from ${n} events: ${(p.ms / 1000).toFixed(1)} s; aggregate refresh ${p.refreshMs} ms)`);

      if (!flags['skip-timescale']) {
        const m = await produceEvents(kafka, serde, small.events, tsEvents, Math.min(chargers, 200), `${id}b`);
        const emb = await startEmbeddedDb({ port: await freePort() });
        try {
          // One client is the baseline: before the session front (infra/database/session-front.ts) the embedded
          // database took only one connection.
          await measureClients(emb.url, 1, 2, `bench_${id}_ops`); // warm-up: table, WebAssembly JIT
          for (const c of clientCounts) {
            const r = await measureClients(emb.url, c, opSeconds, `bench_${id}_ops`);
            console.log(`embedded TimescaleDB, ${c} client(s) at once for ${opSeconds} s: ${r.queries} operations = ${r.perSecond}/s; latency per operation mean ${r.meanMs.toFixed(2)} ms, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms; point read (one query) p50 ${r.readP50Ms.toFixed(2)} ms, p99 ${r.readP99Ms.toFixed(2)} ms; BEGIN + upsert + COMMIT p50 ${r.writeP50Ms.toFixed(2)} ms`);
          }
          for (const [i, c] of clientCounts.entries()) {
            const tsPool = createPool({ url: emb.url, embedded: true, max: c });
            tsPool.on('error', () => undefined);
            try {
              const t = await project(kafka, serde, tsPool, `bench_${id}_ts${i}`, small, `embedded TimescaleDB ${m} events, ${c} connection(s)`, m, num('timescale-timeout', 300) * 1000, c);
              console.log(`embedded TimescaleDB (PGlite, ${c} connection(s), ${c} partition(s) applied in parallel, hypertables): ${m} events in ${(t.ms / 1000).toFixed(1)} s = ${Math.round(m / (t.ms / 1000))} events/s (continuous aggregate refresh ${t.refreshMs} ms)`);
            } catch (e) {
              console.log(`embedded TimescaleDB, ${c} connection(s): FAILED (${(e as Error).message})`);
            } finally {
              await tsPool.end();
            }
          }
        } finally {
          await emb.stop();
        }
      }

      if (seconds > 0) {
        const sSchema = `bench_${id}_live`;
        schemas.push(sSchema);
        const s = await sustained(kafka, pg, serde, sSchema, live, rate, seconds, `${id}c`, concurrency);
        // Bounded: over the second half of the run the lag does not keep growing (least-squares slope under 2 % of the
        // offered rate), or it never exceeds half a second of input.
        const growth = lagGrowthPerSecond(s.lags.slice(Math.floor(s.lags.length / 2)), LAG_SAMPLE_MS);
        const bounded = growth <= 0.02 * rate || s.maxLag <= rate / 2;
        console.log(
          `sustained on PostgreSQL: offered ${rate} events/s for ${seconds} s (achieved ${s.achievedRate}/s); lag max ${s.maxLag}, at end ${s.lastLag}, growing ${Math.round(growth)}/s over the second half, drained ${(s.drainMs / 1000).toFixed(1)} s after the producer stopped → ${bounded ? 'bounded' : 'NOT bounded'}`,
        );
        console.log(`  lag samples (every ${LAG_SAMPLE_MS} ms): ${s.lags.join(' ')}`);
      }
      return 0;
    } finally {
      for (const s of schemas) await pg.query(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`).catch(() => undefined);
      await pg.end();
      await admin.deleteTopics({ topics: [big, small, live].flatMap((t) => [t.events, t.readings, t.config]) }).catch(() => undefined);
      await admin.disconnect();
    }
  },
};
