import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { Config, loadConfig } from '../../../services/common/config';
import { createContext } from '../../../services/common/context';
import { serviceDefinitions } from '../../../services/cli/services';
import { RunningService, ServiceContext } from '../../../services/common/service';
import { prepareKafka } from '../../../infra/stack';
import { startBroker, stopBroker } from '../../../infra/kafka/broker';
import { freePort, uniq } from '../../support/stack';

export interface System {
  readonly config: Config;
  readonly ctx: ServiceContext;
  readonly services: RunningService[];
  readonly failed: { name: string; error: string }[];
  readonly apiUrl: string;
  readonly ocppUrl: string;
  stop(): Promise<void>;
}

/** The whole backend, isolated for one end-to-end run: a Kafka broker of its own on free ports (so fixed consumer
 *  groups and the test's traffic never mix with other runs on the shared broker), the shared schema registry, a fresh
 *  PostgreSQL database on the machine's server, and every discovered service in one process, as `voltstream start`
 *  runs them. */
export const startSystem = async (opts: { log?: (s: string) => void; env?: Record<string, string> } = {}): Promise<System> => {
  const log = opts.log ?? ((s: string) => process.stderr.write(`[e2e] ${s}\n`));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-e2e-'));
  const [port, controllerPort, partnerPort, apiPort, ocppPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const brokerDir = path.join(dir, 'kafka');
  const t0 = Date.now();
  await startBroker({ dir: brokerDir, port, controllerPort, partnerPort, heapMb: 512 }, log);
  log(`private broker on 127.0.0.1:${port} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const dbName = uniq('e2e').replace(/-/g, '_');
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${dbName}`;
  const config = loadConfig({
    ...process.env,
    KAFKA_BROKERS: `127.0.0.1:${port}`,
    KAFKA_PARTITIONS: '3',
    DATABASE_URL: dbUrl.toString(),
    API_PORT: String(apiPort),
    OCPP_PORT: String(ocppPort),
    VOLTSTREAM_HOME: dir,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...opts.env,
  });
  // Services read their own settings (OPTIMIZER_*, TELEMATICS_*) from the process environment.
  const previous = Object.fromEntries(Object.keys(opts.env ?? {}).map((k) => [k, process.env[k]]));
  Object.assign(process.env, opts.env ?? {});
  let ctx: ServiceContext | undefined;
  const services: RunningService[] = [];
  const failed: { name: string; error: string }[] = [];
  const stop = async () => {
    for (const s of [...services].reverse()) await s.stop().catch((e: Error) => log(`${s.name} stop: ${e.message}`));
    await ctx?.pool.end().catch(() => undefined);
    await stopBroker({ dir: brokerDir }).catch(() => undefined);
    const a = new Client({ connectionString: adminUrl });
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await a.end();
    fs.rmSync(dir, { recursive: true, force: true });
    for (const [k, v] of Object.entries(previous)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  try {
    await prepareKafka(config);
    ctx = createContext(config, 'e2e');
    for (const def of serviceDefinitions()) {
      const t1 = Date.now();
      try {
        services.push(await def.start(ctx));
        log(`${def.name} started in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
      } catch (e) {
        failed.push({ name: def.name, error: (e as Error).message });
        log(`${def.name} FAILED to start: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { config, ctx, services, failed, apiUrl: `http://127.0.0.1:${apiPort}`, ocppUrl: `ws://127.0.0.1:${ocppPort}/ocpp`, stop };
};

/** Waits until the API's /ready answers 200: every consumer of the process runs and has caught up. Resolves with the
 *  wall ms it took; rejects naming what was still not ready. */
export const waitReady = async (sys: System, timeoutMs: number): Promise<number> => {
  const t0 = Date.now();
  let last = '';
  for (;;) {
    const r = await fetch(`${sys.apiUrl}/ready`).then(
      async (x) => ({ ok: x.status === 200, body: await x.text() }),
      (e: Error) => ({ ok: false, body: e.message }),
    );
    if (r.ok) return Date.now() - t0;
    last = r.body;
    if (Date.now() - t0 > timeoutMs) throw new Error(`not ready after ${timeoutMs / 1000} s: ${last.slice(0, 500)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
};
