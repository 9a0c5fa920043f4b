/** The multi-address topology `voltstream topology up` runs on one machine, as data: which process runs which
 *  service on which loopback address, with which environment. Every process gets an address of its own in one /24 of
 *  127.0.0.0/8 (default 127.0.0.x), so each listener (broker, registry, gateway, health port, API) is bound the way
 *  it would be on a host of its own; nothing here starts anything (topology-run.ts does). */
import { hostPort } from '../common/addresses';
import { findDeployable, healthPortVariable } from './services';

export interface TopologyOptions {
  /** First three octets of every address, e.g. `127.0.0`. */
  readonly net: string;
  readonly brokers: number;
  readonly gateways: number;
  /** Instances of each stream processor (normalizer, vehicle tracker, projections). */
  readonly instances: number;
  /** Only what a charging session needs on its way to PostgreSQL: gateways, normalizer, projections and the API. */
  readonly minimal: boolean;
  readonly kafkaPort: number;
  readonly controllerPort: number;
  readonly partnerPort: number;
  readonly registryPort: number;
  readonly ocppPort: number;
  readonly apiPort: number;
}

export const defaultTopology: TopologyOptions = {
  net: '127.0.0',
  brokers: 3,
  gateways: 2,
  instances: 2,
  minimal: false,
  kafkaPort: 9092,
  controllerPort: 9093,
  partnerPort: 9094,
  registryPort: 8081,
  ocppPort: 9000,
  apiPort: 8080,
};

/** One `voltstream service` process. */
export interface Placement {
  /** Unique in the topology: the service name, with the instance number when there are several. */
  readonly label: string;
  readonly service: string;
  readonly host: string;
  /** Its /ready (the API's on API_PORT). */
  readonly readyUrl: string;
  /** What clients connect to, when it is more than its health port. */
  readonly endpoint?: string;
  /** Environment of this process on top of the topology's shared one. */
  readonly env: Readonly<Record<string, string>>;
}

export interface Topology {
  readonly brokers: readonly string[];
  readonly registryHost: string;
  readonly placements: readonly Placement[];
}

/** Last octet of the first address of each group; instance i takes first + i. */
const firstOctet = {
  broker: 2,
  registry: 5,
  'ocpp-gateway': 11,
  normalizer: 21,
  'vehicle-tracker': 31,
  projections: 41,
  optimizer: 51,
  'partner-router': 52,
  'audit-checkpoints': 53,
  'site-meters': 54,
  api: 60,
} as const;

type Placed = keyof typeof firstOctet;

const at = (o: TopologyOptions, what: Placed, i = 0) => `${o.net}.${firstOctet[what] + i}`;

const healthPortOf = (service: string): number => {
  const p = findDeployable(service)?.healthPort;
  if (typeof p !== 'number') throw new Error(`no health port for ${service}`);
  return p;
};

const processPlacement = (o: TopologyOptions, service: Exclude<Placed, 'broker' | 'registry'>, i: number, count: number): Placement => {
  const host = at(o, service, i);
  const label = count > 1 ? `${service}-${i + 1}` : service;
  if (service === 'api')
    return { label, service, host, readyUrl: `http://${hostPort(host, o.apiPort)}/ready`, endpoint: `http://${hostPort(host, o.apiPort)}`, env: { API_HOST: host, API_PORT: String(o.apiPort) } };
  const port = healthPortOf(service);
  const env: Record<string, string> = { HEALTH_HOST: host, [healthPortVariable(service)]: String(port) };
  if (service === 'ocpp-gateway') Object.assign(env, { OCPP_HOST: host, OCPP_PORT: String(o.ocppPort), OCPP_INTERNAL_HOST: host, GATEWAY_ID: `gateway-${host}` });
  return {
    label,
    service,
    host,
    readyUrl: `http://${hostPort(host, port)}/ready`,
    ...(service === 'ocpp-gateway' ? { endpoint: `ws://${hostPort(host, o.ocppPort)}/ocpp/{chargePointId}` } : {}),
    env,
  };
};

/** Problems with the options, or none. */
export const topologyProblems = (o: TopologyOptions): string[] => [
  ...(/^127\.\d{1,3}\.\d{1,3}$/.test(o.net) && o.net.split('.').every((x) => Number(x) <= 255) ? [] : [`--net must be the first three octets of a loopback address (127.x.y), not '${o.net}'`]),
  ...(Number.isInteger(o.brokers) && o.brokers >= 1 && o.brokers <= 3 ? [] : [`--brokers must be 1, 2 or 3, not ${o.brokers}`]),
  ...(Number.isInteger(o.gateways) && o.gateways >= 1 && o.gateways <= 9 ? [] : [`--gateways must be 1 to 9, not ${o.gateways}`]),
  ...(Number.isInteger(o.instances) && o.instances >= 1 && o.instances <= 9 ? [] : [`--instances must be 1 to 9, not ${o.instances}`]),
];

/** Everything's address; processes in start order (processors before the gateways that feed them, the API last). */
export const topologyLayout = (o: TopologyOptions): Topology => {
  const times = (n: number, service: Exclude<Placed, 'broker' | 'registry'>) => Array.from({ length: n }, (_, i) => processPlacement(o, service, i, n));
  const processors: Exclude<Placed, 'broker' | 'registry'>[] = o.minimal ? ['projections', 'normalizer'] : ['projections', 'normalizer', 'vehicle-tracker'];
  const singles: Exclude<Placed, 'broker' | 'registry'>[] = o.minimal ? [] : ['partner-router', 'optimizer', 'audit-checkpoints', 'site-meters'];
  return {
    brokers: Array.from({ length: o.brokers }, (_, i) => hostPort(at(o, 'broker', i), o.kafkaPort)),
    registryHost: at(o, 'registry'),
    placements: [...processors.flatMap((p) => times(o.instances, p)), ...singles.flatMap((s) => times(1, s)), ...times(o.gateways, 'ocpp-gateway'), ...times(1, 'api')],
  };
};

/** VOLTSTREAM_PEERS for the API: every other process's health address, so its /health covers them. */
export const peersOf = (t: Topology): string =>
  t.placements
    .filter((p) => p.service !== 'api')
    .map((p) => `${p.label}=${p.readyUrl.replace(/\/ready$/, '')}`)
    .join(',');
