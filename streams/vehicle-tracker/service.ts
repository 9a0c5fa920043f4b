import { ServiceDefinition } from '../../services/common/service';
import { Topics } from '../../schemas/topics';
import { startKafkaProcessor } from '../sink/kafka-processor';
import { createTracker, defaultTrackerTopics } from './processor';
import { superviseConsumer } from '../../services/common/supervised-consumer';

/** Vehicle ↔ session matching and the SoC backup estimate: charging.events + telematics.readings + fleet.config →
 *  VehicleMatched / SocEstimated / SocEstimateChecked on charging.events, exactly once (Kafka transactions). */
export const service: ServiceDefinition = {
  name: 'vehicle-tracker',
  summary: 'Matches sessions to vehicles and estimates SoC when telematics is silent (charging.events)',
  order: 10,
  start: async (ctx) => {
    const groupId = process.env.VEHICLE_TRACKER_GROUP_ID || 'voltstream-vehicle-tracker';
    const inputs = [Topics.chargingEvents, Topics.telematicsReadings, Topics.fleetConfig];
    const supervisor = await superviseConsumer(ctx, 'vehicle-tracker', async () => {
      const running = await startKafkaProcessor({
        name: 'vehicle-tracker',
        groupId,
        transactionalId: process.env.VEHICLE_TRACKER_TRANSACTIONAL_ID || 'voltstream-vehicle-tracker',
        inputs,
        output: Topics.chargingEvents,
        kafka: ctx.kafka,
        serde: ctx.serde,
        log: ctx.log.child({ processor: 'vehicle-tracker' }),
        metrics: ctx.metrics,
        processor: createTracker(defaultTrackerTopics),
      });
      return { topics: inputs, groupId, positions: running.positions, consumers: [running.consumer], died: running.died, stop: running.stop };
    });
    return { name: 'vehicle-tracker', stop: supervisor.stop };
  },
};
