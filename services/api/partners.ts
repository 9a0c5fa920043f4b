import { execFile } from 'node:child_process';
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import { Admin, AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } from 'kafkajs';
import { Config } from '../common/config';
import { ensureTopics, javaClientProperties, KafkaClientConfig, resolveKafkaClientSecurity } from '../common/kafka';
import { reservedPrincipalProblem } from '../common/kafka-principals';
import { localBrokerDir, readLocalKafkaAccess } from '../common/kafka-access';
import { TopicSerde } from '../../schemas/registry';
import { partnerTopic, partnerTopicSpec } from '../../schemas/topics';
import { fetchKafka, kafkaLibDir } from '../../infra/fetch';
import { findJava } from '../../infra/java';

/** Partner access to Kafka. A partner is a SCRAM user named after its partner id, allowed (by the broker's
 *  StandardAuthorizer, nothing else) to READ and DESCRIBE its own topic partner.{id}.events and to use consumer groups
 *  whose names start with `partner.{id}.`. Nothing else is granted, and the broker denies what no ACL allows
 *  (allow.everyone.if.no.acl.found=false), so partner A is refused on partner B's topic. kafkajs has no
 *  AlterUserScramCredentials, so the SCRAM credentials are set by a few lines of Java against Kafka's own Admin client. */
export interface PartnerAccess {
  readonly partnerId: string;
  readonly topic: string;
  readonly groupPrefix: string;
  readonly mechanisms: readonly string[];
}

export const partnerGroupPrefix = (partnerId: string): string => `partner.${partnerId}.`;

/** Sets SCRAM-SHA-256 and -512 credentials through the Kafka Admin API (services/api/ScramCredentials.java, run by
 *  Java's single-file launcher with the broker's class path); user, password and the client's own credentials travel
 *  on stdin. Platform user names (kafka-principals.ts) are refused before anything runs. */
export const setScramCredentials = (config: KafkaClientConfig, user: string, password: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const reserved = reservedPrincipalProblem(user);
    if (reserved !== undefined) return reject(new Error(`refusing to set SCRAM credentials: ${reserved}`));
    const security = resolveKafkaClientSecurity(config);
    if (E.isLeft(security)) return reject(new Error(security.left));
    const clientProperties = Object.entries(javaClientProperties(security.right)).map(([k, v]) => `${k}=${v}\n`).join('');
    fetchKafka(() => undefined);
    const java = findJava(17);
    const child = execFile(
      java.bin,
      ['-cp', `${kafkaLibDir}/*`, '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-Dlog4j2.level=WARN', path.join(__dirname, 'ScramCredentials.java'), config.kafkaBrokers.join(',')],
      { encoding: 'utf8', timeout: 90_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`setting SCRAM credentials for ${user} failed: ${stderr.trim().split('\n').slice(-3).join(' ') || err.message}`)) : resolve()),
    );
    child.stdin?.end(`${user}\n${password}\n${clientProperties}`);
  });

export const partnerAcls = (partnerId: string) => {
  const principal = `User:${partnerId}`;
  const allow = { principal, host: '*', permissionType: AclPermissionTypes.ALLOW };
  const topic = { resourceType: AclResourceTypes.TOPIC, resourceName: partnerTopic(partnerId), resourcePatternType: ResourcePatternTypes.LITERAL };
  const group = { resourceType: AclResourceTypes.GROUP, resourceName: partnerGroupPrefix(partnerId), resourcePatternType: ResourcePatternTypes.PREFIXED };
  return [
    { ...topic, ...allow, operation: AclOperationTypes.READ },
    { ...topic, ...allow, operation: AclOperationTypes.DESCRIBE },
    { ...group, ...allow, operation: AclOperationTypes.READ },
    { ...group, ...allow, operation: AclOperationTypes.DESCRIBE },
  ];
};

/** Creates (idempotently) the partner's topic and schema subject, its SCRAM user and its ACLs. */
export const provisionPartner = async (
  deps: { admin: Admin; serde: TopicSerde; config: Config },
  partnerId: string,
  password: string,
): Promise<PartnerAccess> => {
  const reserved = reservedPrincipalProblem(partnerId);
  if (reserved !== undefined) throw new Error(`refusing to provision partner: ${reserved}`);
  const spec = partnerTopicSpec(partnerId);
  await ensureTopics(deps.admin, { partitions: deps.config.partitions, replicationFactor: deps.config.replicationFactor, minInsyncReplicas: deps.config.minInsyncReplicas }, [spec]);
  await deps.serde.ensure(spec);
  await setScramCredentials(deps.config, partnerId, password);
  await deps.admin.createAcls({ acl: partnerAcls(partnerId) });
  return { partnerId, topic: spec.name, groupPrefix: partnerGroupPrefix(partnerId), mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'] };
};

export interface PartnerListener {
  readonly bootstrap: string;
  readonly securityProtocol: 'SASL_SSL' | 'SASL_PLAINTEXT';
  /** PEM file of the CA that signed the listener's certificate (local stack: VOLTSTREAM_HOME/kafka/tls/ca.pem). */
  readonly caCertificateFile: string | null;
}

/** Where partners connect, as the local broker described its listener at its last start; without that description
 *  (a broker not started by this repository) the partner listener on KAFKA_PARTNER_PORT, with TLS. */
export const partnerListener = (config: Pick<Config, 'home' | 'partnerKafkaPort'>): PartnerListener => {
  const local = readLocalKafkaAccess(localBrokerDir(config.home));
  if (E.isRight(local) && local.right) return { bootstrap: local.right.partner.bootstrap, securityProtocol: local.right.partner.protocol, caCertificateFile: local.right.partner.caFile };
  return { bootstrap: `127.0.0.1:${config.partnerKafkaPort}`, securityProtocol: 'SASL_SSL', caCertificateFile: null };
};
