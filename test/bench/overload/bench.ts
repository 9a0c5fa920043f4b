/** `voltstream bench overload`: N chargers (ocpp-rpc clients, half 1.6J, half 2.0.1, each its own password hash) connect
 *  all at once and run a closed loop of MeterValues for --seconds; then the same connections answer an open loop at
 *  --rate CALLs/s. For each N of --chargers (default 100,1000): CALLs/s per second (peak, lowest once all were in),
 *  p50/p99, 503s (with Retry-After, retried after it), errors, and p50/p99 at the fixed rate afterwards. The run
 *  with 100 chargers is the baseline of the same run.
 *
 *  Target: by default a gateway started by the benchmark (gateway alone, in a process of its own, on the running
 *  broker, registry and PostgreSQL; per-connection rate limit raised to 1000/s so the closed loop measures capacity,
 *  not the limit). `--target ws://host:port/ocpp`: an already running system (chargers registered on its fleet.config
 *  at KAFKA_BROKERS; its own settings apply).
 *  Passwords are hashed as the API hashes them (hmac-sha256 under the credential pepper); `--password-scheme scrypt`
 *  measures chargers whose hashes predate that (scrypt, about 50-70 ms of a core per handshake).
 *  Options: --chargers 100,1000,10000  --seconds 60  --rate 200  --rate-seconds 10  --gateway-env K=V,K=V
 *           --password-scheme hmac-sha256|scrypt */
import * as os from 'node:os';
import { randomUUID } from 'node:crypto';
import { Benchmark, machine, progress } from '../benchmark';
import { parseArgs } from '../../../services/cli/command';
import { loadConfig } from '../../../services/common/config';
import { createKafka } from '../../../services/common/kafka';
import { createPool, quoteIdent } from '../../../services/common/db';
import { createTopicSerde } from '../../../schemas/registry';
import { startGateway } from '../gateway/bench';
import { chargers, createDriver, registerChargers, summarizeBurst } from './driver';

/** Mean seconds per phase of ocpp_gateway_handshake_seconds, from the gateway's metrics text. */
const handshakePhases = (text: string): string => {
  const read = (kind: string) => new Map([...text.matchAll(new RegExp(`^ocpp_gateway_handshake_seconds_${kind}\\{phase="(\\w+)"\\} (\\S+)$`, 'gm'))].map((m) => [m[1]!, Number(m[2])]));
  const sums = read('sum');
  const counts = read('count');
  return [...sums].map(([p, sum]) => `${p} ${((sum / Math.max(1, counts.get(p) ?? 0)) * 1000).toFixed(1)} ms (${counts.get(p)})`).join(', ');
};

const f1 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(1));

export const benchmark: Benchmark = {
  name: 'overload',
  summary: 'OCPP gateway under a connection burst: throughput per second, p50/p99, 503 + Retry-After, answers afterwards',
  run: async (args) => {
    const { flags } = parseArgs(args);
    const sizes = String(flags.chargers ?? '100,1000').split(',').map(Number).filter((n) => n > 0);
    const seconds = Number(flags.seconds ?? 60);
    const rate = Number(flags.rate ?? 200);
    const rateSeconds = Number(flags['rate-seconds'] ?? 10);
    const target = typeof flags.target === 'string' ? flags.target : undefined;
    const scheme = flags['password-scheme'] === 'scrypt' ? 'scrypt' : 'hmac-sha256';
    const gatewayEnv = Object.fromEntries(
      String(flags['gateway-env'] ?? '')
        .split(',')
        .filter(Boolean)
        .map((kv) => kv.split('=') as [string, string]),
    );
    const config = loadConfig({ ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
    const kafka = createKafka(config, 'bench-overload');
    const serde = createTopicSerde(config.schemaRegistryUrl);
    const run = randomUUID().slice(0, 8);
    console.log(`Machine: ${machine()}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; target ${target ?? 'gateway started by the benchmark'}; passwords ${scheme}`);
    const lines: string[] = [];
    for (const n of sizes) {
      const list = await chargers(n, `ovl-${run}-${n}`, config.home, scheme);
      await registerChargers(kafka, serde, list, `bench-overload-${run}`);
      const schema = `gateway_overload_${run}_${n}`;
      const gw = target
        ? undefined
        : await startGateway({ BENCH_GATEWAY_ID: `gw-overload-${run}-${n}`, OCPP_PORT: '0', OCPP_DB_SCHEMA: schema, OCPP_RATE_PER_SEC: '1000', OCPP_RATE_BURST: '1000', LOG_LEVEL: 'warn', KAFKAJS_LOG_LEVEL: 'nothing', ...gatewayEnv });
      const endpoint = target ?? `ws://127.0.0.1:${gw!.port}/ocpp`;
      const driver = createDriver(endpoint, list);
      const bar = progress(`${n} chargers: burst + closed loop (${seconds} s)`, seconds);
      const burst = await driver.burst(seconds, (s) => bar.tick(Math.min(seconds, s.at + 1), `${s.connected} in, ${s.calls} CALLs/s, p99 ${f1(s.p99)} ms, 503s ${s.refused503}, errors ${s.errors}`));
      bar.tick(seconds);
      const after = await driver.fixedRate(rate, rateSeconds);
      const phases = gw ? handshakePhases((await gw.ask<{ text: string }>('metrics')).text) : '';
      await driver.close();
      if (gw) {
        await gw.ask('stop');
        const pg = createPool({ url: config.databaseUrl!, embedded: false, max: 1 });
        await pg.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
        await pg.end();
      }
      const s = summarizeBurst(burst);
      const steady = burst.seconds.filter((x) => burst.allConnectedAfter !== undefined && x.at >= Math.ceil(burst.allConnectedAfter));
      const within = steady.filter((x) => x.calls >= 0.8 * s.peak).length;
      const series = burst.seconds.map((x) => x.calls).join(' ');
      lines.push(
        `  ${String(n).padStart(6)} chargers  connected ${burst.connected}/${n}${burst.allConnectedAfter !== undefined ? ` (all after ${f1(burst.allConnectedAfter)} s)` : ''}; 503 + Retry-After ${burst.refused503}; errors ${JSON.stringify(burst.errors)}`,
        `                   closed loop: ${Math.round(burst.calls / burst.elapsed)} CALLs/s on average, peak ${s.peak}/s, lowest once all in ${s.minAfterConnected ?? 'n/a'}/s (${within} of ${steady.length} such seconds within 20 % of peak); p50 ${f1(s.p50)} ms, p99 ${f1(s.p99)} ms`,
        `                   per second: ${series}`,
        ...(phases ? [`                   handshake time (mean per handshake, gateway side): ${phases}`] : []),
        `                   afterwards at ${rate}/s: achieved ${Math.round(after.achieved)}/s, p50 ${f1(after.p50)} ms, p99 ${f1(after.p99)} ms, max ${f1(after.max)} ms, errors ${JSON.stringify(after.errors)}`,
      );
    }
    console.log('');
    console.log(`overload benchmark (run ${run}), ${machine()}, Kafka ${config.kafkaBrokers.join(',')} (shared), target ${target ?? 'gateway process started here'}`);
    for (const l of lines) console.log(l);
    console.log('  goals: every charger connects (503s retried after Retry-After), throughput within 20 % of its peak, p99 at 200/s afterwards as with 100 chargers');
    return 0;
  },
};
