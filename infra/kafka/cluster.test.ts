import * as E from 'fp-ts/Either';
import { clusterLayout, ClusterSpec } from './cluster';
import { serverProperties } from './broker';
import { decodeConfig } from '../../services/common/config';

const spec: ClusterSpec = { dir: '/tmp/k', brokers: 3, addresses: ['127.0.0.1:9092'], listenHosts: [], controllerPort: 9093, partnerPort: 9094 };
const shared = { clusterId: 'abc', controllerPassword: 'pw' };
const tls = { caFile: '/tmp/k/tls/ca.pem', keystoreFile: '/tmp/k/tls/broker.p12', keystorePassword: 'ks' };
const props = (text: string) => new Map(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

test('three brokers from the first address: ports + 100 each, own directories, one quorum of three voters', () => {
  const nodes = E.getOrElseW((e: string) => { throw new Error(e); })(clusterLayout(spec, shared));
  expect(nodes.map((n) => [n.dir, n.port, n.controllerPort, n.partnerPort])).toEqual([
    ['/tmp/k', 9092, 9093, 9094],
    ['/tmp/k/node-2', 9192, 9193, 9194],
    ['/tmp/k/node-3', 9292, 9293, 9294],
  ]);
  const p = props(serverProperties(nodes[1]!, { controllerPassword: 'pw', servicePassword: undefined, tls }));
  expect(p.get('node.id')).toBe('2');
  expect(p.get('controller.quorum.voters')).toBe('1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293');
  expect(p.get('advertised.listeners')).toBe('SERVICE://127.0.0.1:9192,PARTNER://127.0.0.1:9194');
  expect(p.get('min.insync.replicas')).toBe('2');
  expect(p.get('default.replication.factor')).toBe('3');
  expect(p.get('offsets.topic.replication.factor')).toBe('3');
  expect(p.get('transaction.state.log.replication.factor')).toBe('3');
  expect(p.get('transaction.state.log.min.isr')).toBe('2');
});

test('bind and advertised addresses per broker: KAFKA_BROKERS lists every broker, KAFKA_LISTEN_HOSTS one for all', () => {
  const nodes = E.getOrElseW((e: string) => { throw new Error(e); })(
    clusterLayout({ ...spec, addresses: ['kafka-1.example:9092', 'kafka-2.example:9092', 'kafka-3.example:9092'], listenHosts: ['0.0.0.0'] }, shared),
  );
  const p = props(serverProperties(nodes[2]!, { controllerPassword: 'pw', servicePassword: 'svc', tls }));
  expect(p.get('listeners')).toBe('SERVICE://0.0.0.0:9092,CONTROLLER://0.0.0.0:9293,PARTNER://0.0.0.0:9294');
  expect(p.get('advertised.listeners')).toBe('SERVICE://kafka-3.example:9092,PARTNER://kafka-3.example:9294');
  expect(p.get('controller.quorum.voters')).toBe('1@kafka-1.example:9093,2@kafka-2.example:9193,3@kafka-3.example:9293');
  expect(p.get('listener.security.protocol.map')).toBe('SERVICE:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT,PARTNER:SASL_SSL');
});

test('one broker keeps the single-node configuration', () => {
  const nodes = E.getOrElseW((e: string) => { throw new Error(e); })(clusterLayout({ ...spec, brokers: 1 }, shared));
  const p = props(serverProperties(nodes[0]!, { controllerPassword: 'pw', servicePassword: undefined, tls }));
  expect(p.get('controller.quorum.voters')).toBe('1@127.0.0.1:9093');
  expect(p.get('listeners')).toBe('SERVICE://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,PARTNER://127.0.0.1:9094');
  expect(p.get('min.insync.replicas')).toBe('1');
});

test('inconsistent addresses are refused with the reason', () => {
  expect(clusterLayout({ ...spec, addresses: ['127.0.0.1:9092', '127.0.0.1:9192'] }, shared)).toEqual(E.left(expect.stringContaining('KAFKA_BROKERS lists 2 brokers for a cluster of 3')));
  expect(clusterLayout({ ...spec, listenHosts: ['127.0.0.1', '127.0.0.2'] }, shared)).toEqual(E.left(expect.stringContaining('KAFKA_LISTEN_HOSTS lists 2')));
  expect(clusterLayout({ ...spec, addresses: ['nonsense'] }, shared)).toEqual(E.left(expect.stringContaining("'nonsense' is not host:port")));
  expect(clusterLayout({ ...spec, brokers: 0 }, shared)).toEqual(E.left(expect.stringContaining('at least one broker')));
});

test('the environment decodes bind addresses and replication, and refuses a min ISR above the replication factor', () => {
  const c = decodeConfig({ KAFKA_LISTEN_HOSTS: '10.0.0.1, 10.0.0.2', API_HOST: '0.0.0.0', OCPP_HOST: '10.0.0.9', REGISTRY_HOST: '10.0.0.3', EMBEDDED_DB_HOST: '10.0.0.4', KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2' });
  expect(E.isRight(c) && [c.right.kafkaListenHosts, c.right.apiHost, c.right.ocppHost, c.right.registryHost, c.right.embeddedDbHost, c.right.replicationFactor, c.right.minInsyncReplicas]).toEqual([
    ['10.0.0.1', '10.0.0.2'], '0.0.0.0', '10.0.0.9', '10.0.0.3', '10.0.0.4', 3, 2,
  ]);
  const defaults = decodeConfig({});
  expect(E.isRight(defaults) && [defaults.right.apiHost, defaults.right.ocppHost, defaults.right.registryHost, defaults.right.embeddedDbHost, defaults.right.replicationFactor]).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1', undefined]);
  expect(decodeConfig({ KAFKA_REPLICATION_FACTOR: '1', KAFKA_MIN_INSYNC_REPLICAS: '2' })).toEqual(E.left(expect.stringContaining('KAFKA_MIN_INSYNC_REPLICAS (2) exceeds KAFKA_REPLICATION_FACTOR (1)')));
});
