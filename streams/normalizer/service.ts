import { ServiceDefinition } from '../../services/common/service';
import { Topics } from '../../schemas/topics';
import { startKafkaProcessor } from '../sink/kafka-processor';
import { createNormalizer } from './processor';

/** ocpp.frames + ocpp.command-results → charging.events, exactly once (Kafka transactions). One instance per
 *  transactional id: NORMALIZER_TRANSACTIONAL_ID (default voltstream-normalizer). */
export const service: ServiceDefinition = {
  name: 'normalizer',
  summary: 'Normalizes OCPP 1.6J and 2.0.1 frames into charging.events, exactly once',
  order: 10,
  start: async (ctx) => {
    const running = await startKafkaProcessor({
      name: 'normalizer',
      groupId: process.env.NORMALIZER_GROUP_ID || 'voltstream-normalizer',
      transactionalId: process.env.NORMALIZER_TRANSACTIONAL_ID || 'voltstream-normalizer',
      inputs: [Topics.ocppFrames, Topics.ocppCommandResults],
      output: Topics.chargingEvents,
      kafka: ctx.kafka,
      serde: ctx.serde,
      log: ctx.log.child({ processor: 'normalizer' }),
      metrics: ctx.metrics,
      processor: createNormalizer(),
    });
    return { name: 'normalizer', stop: running.stop };
  },
};
