import { Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { embeddedDbUrl } from '../../infra/stack';
import { loadConfig } from '../common/config';
import { createKafka } from '../common/kafka';
import { createTopicSerde, TopicSerde } from '../../schemas/registry';

/** What the audit commands share: Kafka and the registry from the environment, a progress bar on stderr. */
export const auditClients = (): { kafka: Kafka; serde: TopicSerde } => {
  const config = loadConfig();
  return { kafka: createKafka(config, `voltstream-audit-${process.pid}`), serde: createTopicSerde(config.schemaRegistryUrl) };
};

/** A progress bar on stderr when it is a terminal (and only after the first second, so quick reads stay quiet). */
export const progressBar = (label: string) => {
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    update: (done: number, total: number) => {
      if (!tty || Date.now() - started < 1000) return;
      shown = true;
      const width = 30;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      process.stderr.write(`\r${label} [${bar}] ${done}/${total} records`);
    },
    done: () => {
      if (shown) process.stderr.write('\n');
    },
  };
};

export const parseInstant = (flag: string, v: string | true | undefined): { ms?: number; error?: string } => {
  if (v === undefined) return {};
  if (v === true) return { error: `--${flag} needs an ISO 8601 time` };
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? { error: `--${flag}: not an ISO 8601 time: ${v}` } : { ms };
};

/** The checkpoint store as `verify` reads it: the projection database of the environment, one connection, a short
 *  timeout (a store that does not answer is reported, not waited for). */
export const checkpointStore = (): { pool: Pool; home: string } => {
  const config = loadConfig();
  return { pool: new Pool({ connectionString: config.databaseUrl ?? embeddedDbUrl(config), max: 1, connectionTimeoutMillis: 5000 }), home: config.home };
};
