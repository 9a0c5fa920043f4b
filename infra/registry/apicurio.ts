import * as fs from 'node:fs';
import * as path from 'node:path';
import { apicurioDir, fetchApicurio } from '../fetch';
import { findJava } from '../java';
import { hostPort, hostToReach } from '../../services/common/addresses';
import { stopDaemon, Daemon, isAlive, readPid, spawnDaemon, stopPid, StopWaiting, tailFile, waitUntil } from '../process';

/** Apicurio Registry 3 with its Confluent-compatible API under /apis/ccompat/v7. Storage `kafkasql`: every schema
 *  lives in a Kafka topic (kafkasql-journal), like Confluent's own registry, so ids survive restarts and a replayed
 *  log always finds its schemas. The management interface (health, metrics) moves off port 9000, the OCPP port. */
export interface RegistryOptions {
  readonly dir: string;
  /** Bind address of the API and the management interface; default 127.0.0.1 (REGISTRY_HOST). */
  readonly host?: string;
  readonly port: number;
  readonly managementPort: number;
  readonly kafkaBrokers: readonly string[];
  readonly heapMb?: number;
  /** Kafka client properties (security.protocol, sasl.*, ssl.*) for a broker that authenticates its clients; written to
   *  config/application.properties (mode 0600) as apicurio.kafka.common.*, never on the command line. */
  readonly kafkaClientProperties?: Readonly<Record<string, string>>;
}

export const defaultRegistryOptions = (home: string, kafkaBrokers: readonly string[]): RegistryOptions => ({
  dir: path.join(home, 'registry'),
  port: 8081,
  // Not 8091: the projections' health port (services/cli/services.ts), which then fell back to a random one.
  managementPort: Number(process.env.REGISTRY_MANAGEMENT_PORT ?? 8088),
  kafkaBrokers,
});

export const ccompatUrl = (port: number, host = '127.0.0.1'): string => `http://${hostPort(host, port)}/apis/ccompat/v7`;

export const registryReady = async (port: number, host = '127.0.0.1'): Promise<boolean> => {
  try {
    const res = await fetch(`${ccompatUrl(port, hostToReach(host))}/subjects`, { signal: AbortSignal.timeout(1500) });
    return res.ok;
  } catch {
    return false;
  }
};

export const startRegistry = async (o: RegistryOptions, log: (s: string) => void = console.log): Promise<Daemon> => {
  fetchApicurio(log);
  const pidFile = path.join(o.dir, 'registry.pid');
  const logFile = path.join(o.dir, 'registry.log');
  const existing = readPid(pidFile);
  const host = o.host ?? '127.0.0.1';
  if (existing && isAlive(existing) && (await registryReady(o.port, host))) return { name: 'registry', pid: existing, logFile };
  fs.mkdirSync(o.dir, { recursive: true });
  const applicationProperties = path.join(o.dir, 'config', 'application.properties');
  fs.rmSync(applicationProperties, { force: true });
  if (o.kafkaClientProperties) {
    fs.mkdirSync(path.dirname(applicationProperties), { recursive: true });
    const escape = (v: string) => v.replace(/\\/g, '\\\\');
    fs.writeFileSync(applicationProperties, Object.entries(o.kafkaClientProperties).map(([k, v]) => `apicurio.kafka.common.${k}=${escape(v)}\n`).join(''), { mode: 0o600 });
  }
  const java = findJava(21);
  const props: Record<string, string> = {
    'quarkus.http.host': host,
    'quarkus.http.port': String(o.port),
    'quarkus.management.host': host,
    'quarkus.management.port': String(o.managementPort),
    'apicurio.storage.kind': 'kafkasql',
    'apicurio.kafkasql.bootstrap.servers': o.kafkaBrokers.join(','),
    'apicurio.storage.snapshot.location': o.dir,
    'quarkus.log.level': 'WARN',
    'quarkus.log.category."io.apicurio".level': 'WARN',
    'quarkus.http.access-log.enabled': 'false',
    'apicurio.ccompat.legacy-id-mode.enabled': 'false',
  };
  const heap = o.heapMb ?? 512;
  const daemon = spawnDaemon(
    'registry',
    java.bin,
    [`-Xmx${heap}m`, '-XX:+UseSerialGC', ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`), '-jar', path.join(apicurioDir, 'quarkus-run.jar')],
    { pidFile, logFile, cwd: o.dir },
  );
  try {
    await waitUntil(`Schema registry on ${hostPort(host, o.port)}`, async () => {
      if (!isAlive(daemon.pid)) throw new StopWaiting('schema registry exited');
      return registryReady(o.port, host);
    }, 120000, `see ${logFile}`);
  } catch (e) {
    await stopPid(daemon.pid, 5000);
    throw new Error(`${(e as Error).message}\n${tailFile(logFile)}`);
  }
  return daemon;
};

export const stopRegistry = (o: Pick<RegistryOptions, 'dir'>): Promise<string> => stopDaemon(path.join(o.dir, 'registry.pid'), 20000);
