import { Registry, collectDefaultMetrics } from 'prom-client';
import { Config } from './config';
import { createKafka } from './kafka';
import { createLogger } from './log';
import { createPool } from './db';
import { createTopicSerde } from '../../schemas/registry';
import { ServiceContext } from './service';
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
    pool: createPool({ url: config.databaseUrl ?? embeddedDbUrl(config), embedded: embeddedDb, application: name === 'voltstream' ? name : `voltstream-${name}` }),
    embeddedDb,
    metrics,
    health: createHealth(metrics),
  };
};
