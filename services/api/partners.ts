import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { Admin, AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } from 'kafkajs';
import { Config } from '../common/config';
import { ensureTopics } from '../common/kafka';
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
 *  Java's single-file launcher with the broker's class path); user and password travel on stdin. */
export const setScramCredentials = (config: Pick<Config, 'kafkaBrokers'>, user: string, password: string): Promise<void> =>
  new Promise((resolve, reject) => {
    fetchKafka(() => undefined);
    const java = findJava(17);
    const child = execFile(
      java.bin,
      ['-cp', `${kafkaLibDir}/*`, '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-Dlog4j2.level=WARN', path.join(__dirname, 'ScramCredentials.java'), config.kafkaBrokers.join(',')],
      { encoding: 'utf8', timeout: 90_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`setting SCRAM credentials for ${user} failed: ${stderr.trim().split('\n').slice(-3).join(' ') || err.message}`)) : resolve()),
    );
    child.stdin?.end(`${user}\n${password}\n`);
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
  const spec = partnerTopicSpec(partnerId);
  await ensureTopics(deps.admin, { partitions: deps.config.partitions, replicationFactor: deps.config.replicationFactor }, [spec]);
  await deps.serde.ensure(spec);
  await setScramCredentials(deps.config, partnerId, password);
  await deps.admin.createAcls({ acl: partnerAcls(partnerId) });
  return { partnerId, topic: spec.name, groupPrefix: partnerGroupPrefix(partnerId), mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'] };
};
