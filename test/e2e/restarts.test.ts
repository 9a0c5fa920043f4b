import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { freePort, testConfig } from '../support/stack';
import { committedMessagesOf } from '../../streams/runtime/committed-records';

/** The system as `npm start` runs it (every service in its own process, embedded TimescaleDB, the simulated depot
 *  driving chargers through a third-party OCPP client library), on ports and a state directory of its own. Service
 *  processes are SIGKILLed one at a time at random moments while the depot runs; each comes back (the API's /ready,
 *  which asks every process, is 200 again), and at the end:
 *  - charging.events holds every event once (event ids come from the source offsets: a batch committed twice, or
 *    folded twice after a restore, would repeat them);
 *  - `voltstream replay --compare`, run beside the running depot, finds the projections equal to a rebuild from
 *    offset 0;
 *  - stopped with Ctrl-C and started again at rest on the same state, it is ready again and still equal. */
jest.setTimeout(900000);

const root = path.join(__dirname, '..', '..');
const cli = path.join(root, 'bin', 'voltstream.js');
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

const start = (env: NodeJS.ProcessEnv, args: string[]): Started => {
  let out = '';
  const child = spawn(process.execPath, [cli, 'start', '--status-every', '0', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
};

const until = async <T>(what: string, probe: () => Promise<T | undefined>, ms: number, s?: Started): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (s && s.child.exitCode !== null) throw new Error(`voltstream start exited (${s.child.exitCode}) while waiting for ${what}:\n${s.output()}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${s ? `:\n${s.output().slice(-4000)}` : ''}`);
    await sleep(1000);
  }
};

describe('restarts of the running system', () => {
  let home: string;
  let current: Started | undefined;
  afterAll(async () => {
    if (current && current.child.exitCode === null) {
      current.child.kill('SIGINT');
      await Promise.race([current.exited, sleep(60000)]);
      if (current.child.exitCode === null) current.child.kill('SIGKILL');
    }
    if (home) {
      await run(process.execPath, [cli, 'stack', 'down'], { cwd: root, env: { ...envOf(home), VOLTSTREAM_MODE: 'development' } }).catch(() => undefined);
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  let ports: Record<string, number>;
  const envOf = (dir: string): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      VOLTSTREAM_HOME: dir,
      KAFKA_BROKERS: `127.0.0.1:${ports.kafka}`,
      KAFKA_CONTROLLER_PORT: String(ports.controller),
      KAFKA_PARTNER_PORT: String(ports.partner),
      KAFKA_PARTITIONS: '3',
      EMBEDDED_DB_PORT: String(ports.db),
      OCPP_PORT: String(ports.ocpp),
      API_PORT: String(ports.api),
      TELEMATICS_PULL: '0',
      LOG_LEVEL: 'warn',
    };
    delete env.DATABASE_URL;
    for (const name of ['PROJECTIONS', 'NORMALIZER', 'VEHICLE_TRACKER', 'OCPP_GATEWAY', 'PARTNER_ROUTER', 'OPTIMIZER']) env[`${name}_HEALTH_PORT`] = '0';
    return env;
  };

  test('every service SIGKILLed at random comes back; events exactly once; projections equal a rebuild, after a restart at rest too', async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'voltstream-restarts-'));
    const [kafka, controller, partner, db, ocpp, api] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    ports = { kafka, controller, partner, db, ocpp, api };
    const env = envOf(home);
    const apiUrl = `http://127.0.0.1:${api}`;
    const ready = async () => ((await fetch(`${apiUrl}/ready`, { signal: AbortSignal.timeout(5000) })).status === 200 ? true : undefined);

    current = start(env, ['--chargers', '12', '--vehicles', '14', '--speed', '20', '--meter-interval', '60', '--arrive-within', '30']);
    await until('the ready banner', async () => (current!.output().includes('Voltstream is running') ? true : undefined), 300000, current);
    // "  normalizer           pid 1234     http://127.0.0.1:40123/ready"
    const healthOf = new Map([...current.output().matchAll(/^ {2}([a-z-]+) +pid \d+ +(http:\/\/\S+)\/ready$/gm)].map((m) => [m[1]!, m[2]!]));
    const victims = ['normalizer', 'vehicle-tracker', 'projections', 'optimizer', 'partner-router', 'ocpp-gateway'];
    for (const v of victims) expect(healthOf.get(v)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await until('/ready 200 at start', ready, 180000, current);

    const kills: string[] = [];
    for (let round = 0; round < 6; round++) {
      await sleep(4000 + Math.floor(Math.random() * 12000));
      const victim = victims[Math.floor(Math.random() * victims.length)]!;
      const { pid } = (await (await fetch(`${healthOf.get(victim)}/health`)).json()) as { pid: number };
      process.kill(pid, 'SIGKILL');
      kills.push(victim);
      // It is reported, then comes back by itself (voltstream start restarts the process).
      await until(`${victim} back after SIGKILL`, async () => {
        const body = (await (await fetch(`${healthOf.get(victim)}/health`)).json()) as { pid: number };
        return body.pid !== pid ? true : undefined;
      }, 120000, current);
      await until(`/ready 200 after killing ${victim}`, ready, 180000, current);
    }
    process.stderr.write(`[restarts] killed ${kills.join(', ')}\n`);
    expect(current.output()).toMatch(/exited \(SIGKILL\); restarting/);

    const compare = async () => {
      const r = await run(process.execPath, [cli, 'replay', '--compare'], { cwd: root, env, timeout: 300000 }).catch((e: { stdout?: string; stderr?: string; message: string }) => ({ stdout: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` }));
      return r.stdout;
    };
    const first = await compare();
    expect(first).toContain('No differences');

    // Every event of charging.events once, read as committed.
    const k = new Kafka({ clientId: 'restarts-test', brokers: [`127.0.0.1:${kafka}`], logLevel: logLevel.NOTHING });
    const admin = k.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets('charging.events');
    await admin.disconnect();
    const registry = new SchemaRegistry({ host: testConfig().schemaRegistryUrl });
    const ids = new Map<string, number>();
    const consumer = k.consumer({ groupId: `restarts-reader-${process.pid}`, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic: 'charging.events', fromBeginning: true });
    const reached = new Map<number, number>();
    await new Promise<void>((resolve, reject) => {
      // (A partition may end in a transaction's commit marker, which no consumer sees.)
      const done = () => ends.every((e) => Number(e.high) === 0 || (reached.get(e.partition) ?? -1) >= Number(e.high) - 2);
      const timer = setTimeout(() => reject(new Error(`charging.events not read to its end: ${JSON.stringify([...reached])} of ${JSON.stringify(ends)}`)), 120000);
      consumer
        .run({
          // Read committed as the runtime reads it: kafkajs alone hands out aborted records (committed-records.ts).
          eachBatch: async ({ batch }) => {
            for (const message of committedMessagesOf(batch)) {
              const e = (await registry.decode(message.value!)) as { eventId: string };
              ids.set(e.eventId, (ids.get(e.eventId) ?? 0) + 1);
            }
            reached.set(batch.partition, Number(batch.lastOffset()));
            if (done()) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    const repeated = [...ids].filter(([, n]) => n > 1);
    process.stderr.write(`[restarts] ${ids.size} events, ${repeated.length} repeated\n`);
    expect(ids.size).toBeGreaterThan(100);
    expect(repeated).toEqual([]);

    // At rest: Ctrl-C, then the same state started again without the depot.
    current.child.kill('SIGINT');
    expect(await Promise.race([current.exited, sleep(120000).then(() => 'timeout')])).toBe(0);
    const t0 = Date.now();
    current = start(env, ['--no-simulator']);
    await until('/ready 200 after a restart at rest', ready, 240000, current);
    process.stderr.write(`[restarts] ready ${((Date.now() - t0) / 1000).toFixed(1)} s after a start at rest\n`);
    expect(await compare()).toContain('No differences');
  });
});
