import { ServiceDefinition } from '../../services/common/service';
import { supervise } from '../../services/common/supervise';
import { runFold } from '../runtime/run-fold';
import { normalizerFold } from './fold';

/** ocpp.frames + ocpp.command-results → charging.events, exactly once, on the fold runtime: the state of each
 *  charger in the `chargers` store, restored from normalizer.chargers.changelog. Any number of instances share the
 *  group NORMALIZER_GROUP_ID (default voltstream-normalizer); transactional ids are
 *  `<NORMALIZER_TRANSACTIONAL_ID>-<topic>-<partition>` (default prefix voltstream-normalizer). */
export const service: ServiceDefinition = {
  name: 'normalizer',
  summary: 'Normalizes OCPP 1.6J and 2.0.1 frames into charging.events, exactly once',
  order: 10,
  start: async (ctx) => {
    const log = ctx.log.child({ processor: 'normalizer' });
    const part = ctx.health.part('normalizer');
    const supervisor = await supervise({
      name: 'normalizer',
      part,
      log,
      start: () =>
        runFold({
          fold: normalizerFold(),
          kafka: ctx.kafka,
          serde: ctx.serde,
          log,
          metrics: ctx.metrics,
          part,
          groupId: process.env.NORMALIZER_GROUP_ID || 'voltstream-normalizer',
          transactionalIdPrefix: process.env.NORMALIZER_TRANSACTIONAL_ID || 'voltstream-normalizer',
        }),
    });
    return { name: 'normalizer', stop: supervisor.stop };
  },
};
