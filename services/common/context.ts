import * as fs from 'node:fs';
import * as path from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { Config } from './config';
import { createKafka } from './kafka';
import { createLogger } from './log';
import { createPool } from './db';
import { createTopicSerde } from '../../schemas/registry';
import { ServiceContext, ServiceDefinition } from './service';
import { embeddedDbUrl } from '../../infra/stack';
import { createHealth } from './health';

export const createContext = (config: Config, name = 'voltstream'): ServiceContext => {
  const embeddedDb = config.databaseUrl === undefined;
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  return {
    config,
    log: createLogger(name, config.logLevel),
    kafka: createKafka(config, `${name}-${config.gatewayId}`),
    serde: createTopicSerde(config.schemaRegistryUrl),
    pool: createPool({ url: config.databaseUrl ?? embeddedDbUrl(config), embedded: embeddedDb }),
    embeddedDb,
    metrics,
    health: createHealth(metrics),
  };
};

/** Every service and processor of the repository: services/<x>/service.ts and streams/<x>/service.ts. */
export const discoverServices = (): ServiceDefinition[] => {
  const root = path.join(__dirname, '..', '..');
  const found: ServiceDefinition[] = [];
  for (const top of ['services', 'streams']) {
    const dir = path.join(root, top);
    if (!fs.existsSync(dir)) continue;
    for (const entry of fs.readdirSync(dir)) {
      const file = path.join(dir, entry, 'service.ts');
      if (!fs.existsSync(file)) continue;
      const def = (require(file) as { service?: ServiceDefinition }).service;
      if (def) found.push(def);
    }
  }
  return found.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
};
