/** What the supervision tests share: a broker of their own (stopping it to kill consumers disturbs no other test), a
 *  service context on it, and writes to its fleet.config. */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prepareKafka } from '../../infra/stack';
import { startBroker, stopBroker, BrokerOptions } from '../../infra/kafka/broker';
import { createContext } from '../../services/common/context';
import { createDurableProducer, DURABLE_ACKS } from '../../services/common/kafka';
import { ServiceContext } from '../../services/common/service';
import { ConfigBody, configKey, configToAvro } from '../../schemas/fleet-config';
import { Topics } from '../../schemas/topics';
import { freePort, testConfig } from '../support/stack';

export interface PrivateBroker {
  readonly broker: BrokerOptions;
  readonly ctx: ServiceContext;
  /** Stops the broker and removes its data (the context's pool is the caller's to end). */
  remove(): Promise<void>;
}

export const startPrivateBroker = async (name: string): Promise<PrivateBroker> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `voltstream-${name}-`));
  const [port, controllerPort, partnerPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const broker: BrokerOptions = { dir: path.join(dir, 'kafka'), port, controllerPort, partnerPort, heapMb: 384 };
  await startBroker(broker, () => undefined);
  const config = testConfig({ kafkaBrokers: [`127.0.0.1:${port}`], partitions: 2, logLevel: 'error' });
  await prepareKafka(config);
  return {
    broker,
    ctx: createContext(config, `${name}-test`),
    remove: async () => {
      await stopBroker(broker);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** Appends `body` to fleet.config as the API does. */
export const configure = async (ctx: ServiceContext, body: ConfigBody): Promise<void> => {
  const producer = createDurableProducer(ctx.kafka);
  await producer.connect();
  try {
    await producer.send({ topic: Topics.fleetConfig, acks: DURABLE_ACKS, messages: [{ key: configKey(body), value: await ctx.serde.encode(Topics.fleetConfig, configToAvro({ eventId: randomUUID(), at: Date.now(), actor: 'test', body })) }] });
  } finally {
    await producer.disconnect();
  }
};
