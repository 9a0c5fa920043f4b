/** Starts, describes and stops the topology of topology.ts: the Kafka cluster and registry through infra/stack.ts
 *  (with a VOLTSTREAM_HOME of its own, so nothing is shared with the developer stack), a database of its own on the
 *  PostgreSQL server of DATABASE_URL, and each placement as a detached `voltstream service` process with its pid file
 *  and log in the topology's directory. What was started is recorded in topology.json, which `status` and `down` read. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { Client } from 'pg';
import { loadConfig } from '../common/config';
import { decodeWith, parseJson } from '../common/decode';
import { quoteIdent } from '../common/db';
import * as stack from '../../infra/stack';
import { isAlive, readPid, sleep, spawnDaemon, stopPid } from '../../infra/process';
import { peersOf, Placement, Topology, topologyLayout, TopologyOptions } from './topology';

const root = path.join(__dirname, '..', '..');
const cli = path.join(root, 'bin', 'voltstream.js');

const Recorded = t.type({
  /** Environment of the stack parts, for `down`. */
  stackEnv: t.record(t.string, t.string),
  databaseUrl: t.string,
  registryUrl: t.string,
  brokers: t.array(t.string),
  registryStarted: t.boolean,
  placements: t.array(
    t.intersection([
      t.type({ label: t.string, service: t.string, host: t.string, readyUrl: t.string, pidFile: t.string, logFile: t.string }),
      t.partial({ endpoint: t.string }),
    ]),
  ),
});
type Recorded = t.TypeOf<typeof Recorded>;

const recordFile = (dir: string) => path.join(dir, 'topology.json');

export const readRecord = (dir: string): E.Either<string, Recorded | undefined> => {
  const file = recordFile(dir);
  if (!fs.existsSync(file)) return E.right(undefined);
  return pipe(
    E.tryCatch(() => fs.readFileSync(file, 'utf8'), (e) => `cannot read ${file}: ${(e as Error).message}`),
    E.chain(parseJson),
    E.chain((json) => pipe(decodeWith(Recorded)(json), E.mapLeft((p) => `${file}: ${p.join('; ')}`))),
  );
};

/** The same server as `url`, database `name`, created when missing. */
const ensureDatabase = async (url: string, name: string): Promise<string> => {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

const ready = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(1500) }).then(
    (r) => r.ok,
    () => false,
  );

export interface UpOptions {
  readonly dir: string;
  readonly topology: TopologyOptions;
  /** A running schema registry to use instead of starting one on the topology's registry address. */
  readonly registryUrl: string | undefined;
  /** PostgreSQL server (its database is replaced by `database`). */
  readonly databaseUrl: string;
  readonly database: string;
  readonly readyTimeoutMs: number;
  readonly say: (line: string) => void;
}

const maxStartRestarts = 3;

const placementFiles = (dir: string, p: Placement) => ({ pidFile: path.join(dir, 'pids', `${p.label}.pid`), logFile: path.join(dir, 'logs', `${p.label}.log`) });

/** Environment the topology's own processes must not inherit: these are set per topology or per process. */
const inheritedOut = [
  'KAFKA_BROKERS', 'KAFKA_LISTEN_HOSTS', 'KAFKA_CONTROLLER_PORT', 'KAFKA_PARTNER_PORT', 'SCHEMA_REGISTRY_URL', 'REGISTRY_HOST', 'DATABASE_URL',
  'VOLTSTREAM_HOME', 'VOLTSTREAM_PEERS', 'OCPP_HOST', 'OCPP_PORT', 'OCPP_INTERNAL_HOST', 'OCPP_INTERNAL_PORT', 'OCPP_INTERNAL_URL', 'API_HOST', 'API_PORT', 'GATEWAY_ID', 'HEALTH_HOST',
  'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_TLS', 'KAFKA_TLS_CA_FILE',
];

const baseEnv = (): Record<string, string> => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !inheritedOut.includes(k) && !k.endsWith('_HEALTH_PORT')) env[k] = v;
  return env;
};

/** Stops the recorded processes (all at once), then the stack parts this topology started. */
export const down = async (dir: string, say: (line: string) => void): Promise<void> => {
  const rec = readRecord(dir);
  if (E.isLeft(rec)) throw new Error(rec.left);
  if (!rec.right) {
    say(`nothing recorded in ${recordFile(dir)}: no topology there`);
    return;
  }
  const r = rec.right;
  const results = await Promise.all(
    r.placements.map(async (p) => {
      const pid = readPid(p.pidFile);
      const result = pid ? await stopPid(pid, 20000) : 'not running';
      fs.rmSync(p.pidFile, { force: true });
      return `${p.label} ${result}`;
    }),
  );
  say(`  services  ${results.join(', ')}`);
  await stack.down(loadConfig(r.stackEnv), (l) => say(l));
  fs.rmSync(recordFile(dir), { force: true });
};

export const up = async (o: UpOptions): Promise<Recorded> => {
  const topo: Topology = topologyLayout(o.topology);
  const home = path.join(o.dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  const before = readRecord(o.dir);
  if (E.isRight(before) && before.right && before.right.placements.some((p) => isAlive(readPid(p.pidFile) ?? -1)))
    throw new Error(`a topology already runs from ${o.dir}: voltstream topology down --dir ${o.dir} first`);

  const registryUrl = o.registryUrl ?? `http://${topo.registryHost}:${o.topology.registryPort}/apis/ccompat/v7`;
  const registryHost = o.registryUrl ? new URL(o.registryUrl).hostname : topo.registryHost;
  o.say(`Creating database ${o.database} (if missing) on ${new URL(o.databaseUrl).host}...`);
  const databaseUrl = await ensureDatabase(o.databaseUrl, o.database);
  const stackEnv: Record<string, string> = {
    ...baseEnv(),
    VOLTSTREAM_MODE: 'development',
    VOLTSTREAM_HOME: home,
    KAFKA_BROKERS: topo.brokers.join(','),
    KAFKA_CONTROLLER_PORT: String(o.topology.controllerPort),
    KAFKA_PARTNER_PORT: String(o.topology.partnerPort),
    SCHEMA_REGISTRY_URL: registryUrl,
    REGISTRY_HOST: registryHost,
    DATABASE_URL: databaseUrl,
  };
  const record: Recorded = { stackEnv, databaseUrl, registryUrl, brokers: [...topo.brokers], registryStarted: false, placements: [] };
  const save = () => fs.writeFileSync(recordFile(o.dir), `${JSON.stringify(record, null, 2)}\n`);
  save();

  o.say(`Starting ${topo.brokers.length} broker${topo.brokers.length === 1 ? '' : 's'} (${topo.brokers.join(', ')})${o.registryUrl ? '' : ` and the registry (${registryHost})`}...`);
  const t0 = Date.now();
  const s = await stack.up(loadConfig(stackEnv), { database: false, secure: false, brokers: topo.brokers.length, log: (l) => o.say(l) });
  record.registryStarted = s.started.includes('registry');
  save();
  o.say(`  stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const shared = { ...stackEnv, VOLTSTREAM_PEERS: peersOf(topo), LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };
  o.say(`Starting ${topo.placements.length} service processes (logs in ${path.join(o.dir, 'logs')})...`);
  const t1 = Date.now();
  const spawn = (p: Placement) => spawnDaemon(p.label, process.execPath, [cli, 'service', p.service], { ...placementFiles(o.dir, p), env: { ...shared, ...p.env }, cwd: root });
  for (const p of topo.placements) {
    spawn(p);
    record.placements.push({ label: p.label, service: p.service, host: p.host, readyUrl: p.readyUrl, ...placementFiles(o.dir, p), ...(p.endpoint ? { endpoint: p.endpoint } : {}) });
    save();
  }
  // A cluster that has just formed answers some first requests with retriable errors ("not the correct coordinator")
  // that make a service fail its start: until every process is ready, one that exits is started again, a few times.
  const restarts = new Map<string, number>();
  const deadline = Date.now() + o.readyTimeoutMs;
  let waiting = record.placements;
  while (waiting.length) {
    const dead = waiting.filter((p) => !isAlive(readPid(p.pidFile) ?? -1));
    const givenUp = dead.filter((p) => (restarts.get(p.label) ?? 0) >= maxStartRestarts);
    if (givenUp.length) throw new Error(`exited before it was ready, ${maxStartRestarts + 1} times: ${givenUp.map((p) => `${p.label} (log: ${p.logFile})`).join(', ')}`);
    for (const p of dead) {
      restarts.set(p.label, (restarts.get(p.label) ?? 0) + 1);
      o.say(`  ${p.label} exited before it was ready; starting it again (log: ${p.logFile})`);
      spawn(topo.placements.find((x) => x.label === p.label)!);
    }
    const answers = await Promise.all(waiting.map((p) => ready(p.readyUrl)));
    waiting = waiting.filter((_, i) => !answers[i]);
    if (waiting.length && Date.now() > deadline) throw new Error(`not ready after ${o.readyTimeoutMs / 1000} s: ${waiting.map((p) => `${p.label} ${p.readyUrl} (log: ${p.logFile})`).join(', ')}`);
    if (waiting.length) await sleep(1000);
  }
  o.say(`  all ready in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  return record;
};

export interface ProcessState {
  readonly label: string;
  readonly pid: number | undefined;
  readonly alive: boolean;
  readonly ready: boolean;
}

export const processStates = (r: Recorded): Promise<ProcessState[]> =>
  Promise.all(
    r.placements.map(async (p) => {
      const pid = readPid(p.pidFile);
      const alive = pid !== undefined && isAlive(pid);
      return { label: p.label, pid, alive, ready: alive && (await ready(p.readyUrl)) };
    }),
  );

/** Whether each broker, the registry and the database answer. */
export const stackState = (r: Recorded): Promise<stack.StackStatus> => stack.status(loadConfig(r.stackEnv));

/** The table of what runs where; with states, whether each part answers. */
export const describe = (r: Recorded, states?: readonly ProcessState[], parts?: stack.StackStatus): string[] => {
  const answers = (up: boolean | undefined) => (up === undefined ? '' : up ? '   answering' : '   NOT ANSWERING');
  const state = (label: string) => {
    const s = states?.find((x) => x.label === label);
    if (!s) return '';
    return s.ready ? `ready    pid ${s.pid}` : s.alive ? `running, not ready    pid ${s.pid}` : 'not running';
  };
  const rows: [string, string, string][] = [
    ...r.brokers.map((b, i): [string, string, string] => [`kafka-${i + 1}`, b, `KRaft broker + controller${answers(parts?.kafkaBrokers.find((x) => x.address === b)?.up ?? (parts ? false : undefined))}`]),
    ['registry', new URL(r.registryUrl).host, `${r.registryStarted ? 'started by this topology' : 'a registry already running'}${answers(parts?.registry)}`],
    ['database', new URL(r.databaseUrl).host + new URL(r.databaseUrl).pathname, `PostgreSQL (DATABASE_URL)${answers(parts?.database)}`],
    ...r.placements.map((p): [string, string, string] => [p.label, p.host, [p.endpoint, p.readyUrl, state(p.label)].filter(Boolean).join('   ')]),
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  return rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
};
