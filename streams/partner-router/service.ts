import { ServiceDefinition } from '../../services/common/service';
import { startPartnerRouter } from './router';
import { superviseConsumer } from '../../services/common/supervised-consumer';
import { Topics } from '../../schemas/topics';

/** streams/partner-router: charging.events → partner.{partnerId}.events by charger ownership at event time. */
export const service: ServiceDefinition = {
  name: 'partner-router',
  summary: 'Route each charger event to the feed of the partner operating the charger at that time',
  order: 30,
  start: async (ctx) => {
    const supervisor = await superviseConsumer(ctx, 'partner-router', async () => {
      const r = await startPartnerRouter(ctx);
      return { topics: [Topics.chargingEvents], groupId: r.groupId, consumers: r.consumers, died: r.died, stop: r.stop };
    });
    return { name: 'partner-router', stop: supervisor.stop };
  },
};
