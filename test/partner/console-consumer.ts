import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cacheDir, fetchKafka, kafkaLibDir } from '../../infra/fetch';
import { findJava } from '../../infra/java';
import { KAFKA_VERSION } from '../../infra/versions';
import { localBrokerDir, readLocalKafkaAccess } from '../../services/common/kafka-access';
import { testConfig } from '../support/stack';

/** Apache Kafka's own console consumer (`kafka-console-consumer`, org.apache.kafka.tools.consumer.ConsoleConsumer) as
 *  the partner's stock client. Its jar (org.apache.kafka:kafka-tools) is fetched once from Maven Central beside the
 *  broker's jars; everything else it needs is on the broker's class path. (Debian 12's kcat links librdkafka 2.0.2,
 *  whose SCRAM client-final-message Kafka 4.x rejects; librdkafka 2.6.1 fixed it.) */
const toolsDir = path.join(cacheDir, `kafka-tools-${KAFKA_VERSION}`);

export const ensureConsoleConsumer = (): void => {
  fetchKafka(() => undefined);
  if (fs.existsSync(path.join(toolsDir, `kafka-tools-${KAFKA_VERSION}.jar`))) return;
  const tmp = `${toolsDir}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  execFileSync('mvn', ['-B', '-q', '-f', path.join(__dirname, '..', '..', 'infra', 'kafka', 'pom.xml'), 'dependency:copy', `-Dartifact=org.apache.kafka:kafka-tools:${KAFKA_VERSION}`, `-DoutputDirectory=${tmp}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  fs.rmSync(toolsDir, { recursive: true, force: true });
  fs.renameSync(tmp, toolsDir);
};

export interface ConsoleResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How the stack's partner listener is secured, as its broker wrote at start (access.json): SASL_SSL, verified with the
 *  broker's CA; a broker started before it offered TLS wrote no such file and speaks SASL_PLAINTEXT. */
export const partnerSecurityProperties = (): string[] => {
  const access = readLocalKafkaAccess(localBrokerDir(testConfig().home));
  if (access._tag === 'Left') throw new Error(access.left);
  const partner = access.right?.partner;
  if (!partner || partner.protocol === 'SASL_PLAINTEXT') return ['security.protocol=SASL_PLAINTEXT'];
  return ['security.protocol=SASL_SSL', 'ssl.truststore.type=PEM', `ssl.truststore.location=${partner.caFile}`];
};

/** Reads `topic` over the partner listener as SCRAM user `username`, printing each record's key; stops after
 *  `maxMessages` or when nothing arrives for `timeoutMs`. */
export const consoleConsume = (opts: {
  bootstrap: string;
  username: string;
  password: string;
  topic: string;
  group: string;
  mechanism?: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  maxMessages?: number;
  timeoutMs?: number;
  /** security.protocol and ssl.* lines; default: what the stack's partner listener offers. */
  securityProperties?: readonly string[];
}): Promise<ConsoleResult> => {
  ensureConsoleConsumer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'partner-client-'));
  const props = path.join(dir, 'client.properties');
  fs.writeFileSync(
    props,
    [
      ...(opts.securityProperties ?? partnerSecurityProperties()),
      `sasl.mechanism=${opts.mechanism ?? 'SCRAM-SHA-256'}`,
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${opts.username}" password="${opts.password}";`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const args = [
    '-cp', `${toolsDir}/*:${kafkaLibDir}/*`, '-Dlog4j2.level=WARN', 'org.apache.kafka.tools.consumer.ConsoleConsumer',
    '--bootstrap-server', opts.bootstrap, '--consumer.config', props, '--topic', opts.topic, '--group', opts.group, '--from-beginning',
    '--property', 'print.key=true', '--property', 'print.value=false', '--property', 'print.offset=true',
    '--timeout-ms', String(opts.timeoutMs ?? 8000),
    ...(opts.maxMessages ? ['--max-messages', String(opts.maxMessages)] : []),
  ];
  return new Promise((resolve) => {
    execFile(findJava(17).bin, args, { encoding: 'utf8', timeout: 90_000 }, (err, stdout, stderr) => {
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
};
