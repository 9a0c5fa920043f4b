import { randomUUID } from 'node:crypto';
import { Producer } from 'kafkajs';
import { DURABLE_ACKS } from '../common/kafka';
import { TopicSerde } from '../../schemas/registry';
import { Topics } from '../../schemas/topics';
import { ConfigBody, ConfigEvent, configKey, configToAvro } from '../../schemas/fleet-config';

/** Appends configuration events to fleet.config. Resolves only once every in-sync replica has the record
 *  (durable producer, acks -1), so an HTTP 2xx means the change is in the log. */
export interface Appended {
  readonly eventId: string;
  readonly at: number;
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface ConfigLog {
  append(body: ConfigBody, actor: string): Promise<Appended>;
}

export const createConfigLog = (producer: Producer, serde: TopicSerde, now: () => number = Date.now): ConfigLog => ({
  append: async (body, actor) => {
    const event: ConfigEvent = { eventId: randomUUID(), at: now(), actor, body };
    const key = configKey(body);
    const value = await serde.encode(Topics.fleetConfig, configToAvro(event));
    const [meta] = await producer.send({ topic: Topics.fleetConfig, acks: DURABLE_ACKS, messages: [{ key, value, timestamp: String(event.at) }] });
    return { eventId: event.eventId, at: event.at, key, topic: Topics.fleetConfig, partition: meta?.partition ?? 0, offset: meta?.baseOffset ?? '' };
  },
});
