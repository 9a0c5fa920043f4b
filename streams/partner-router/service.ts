import { ServiceDefinition } from '../../services/common/service';
import { startPartnerRouter } from './router';

/** streams/partner-router: charging.events → partner.{partnerId}.events by charger ownership at event time. */
export const service: ServiceDefinition = {
  name: 'partner-router',
  summary: 'Route each charger event to the feed of the partner operating the charger at that time',
  order: 30,
  start: async (ctx) => {
    const r = await startPartnerRouter(ctx);
    return { name: 'partner-router', stop: r.stop };
  },
};
