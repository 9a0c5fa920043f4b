import { ServiceDefinition } from '../../services/common/service';
import { supervise } from '../../services/common/supervise';
import { startRouter, startSiteTracker } from './run';

/** Vehicle ↔ session matching and the SoC backup estimate, exactly once on the fold runtime, as two supervised folds
 *  (README.md): the router re-keys charging.events, telematics.readings and fleet.config by site onto
 *  vehicle-tracker.by-site; the tracker folds that per site into VehicleMatched / SocEstimated / SocEstimateChecked
 *  on charging.events. Any number of instances share the groups `<VEHICLE_TRACKER_GROUP_ID>` (tracker, default
 *  voltstream-vehicle-tracker) and `<VEHICLE_TRACKER_GROUP_ID>-router`; transactional ids start with
 *  VEHICLE_TRACKER_TRANSACTIONAL_ID (default voltstream-vehicle-tracker) and `...-router`. */
export const service: ServiceDefinition = {
  name: 'vehicle-tracker',
  summary: 'Matches sessions to vehicles and estimates SoC when telematics is silent (charging.events)',
  order: 10,
  start: async (ctx) => {
    const groupId = process.env.VEHICLE_TRACKER_GROUP_ID || 'voltstream-vehicle-tracker';
    const txid = process.env.VEHICLE_TRACKER_TRANSACTIONAL_ID || 'voltstream-vehicle-tracker';
    const routerLog = ctx.log.child({ processor: 'vehicle-tracker-router' });
    const routerPart = ctx.health.part('vehicle-tracker-router');
    const router = await supervise({
      name: 'vehicle-tracker-router',
      part: routerPart,
      log: routerLog,
      start: () => startRouter({ kafka: ctx.kafka, serde: ctx.serde, log: routerLog, metrics: ctx.metrics, part: routerPart, groupId: `${groupId}-router`, transactionalIdPrefix: `${txid}-router` }),
    });
    const log = ctx.log.child({ processor: 'vehicle-tracker' });
    const part = ctx.health.part('vehicle-tracker');
    const tracker = await supervise({
      name: 'vehicle-tracker',
      part,
      log,
      start: () => startSiteTracker({ kafka: ctx.kafka, serde: ctx.serde, log, metrics: ctx.metrics, part, groupId, transactionalIdPrefix: txid }),
    });
    return {
      name: 'vehicle-tracker',
      stop: async () => {
        await router.stop();
        await tracker.stop();
      },
    };
  },
};
