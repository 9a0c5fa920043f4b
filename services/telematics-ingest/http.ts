import { HttpRoute, sendProblem } from '../common/http';
import { ServiceContext } from '../common/service';
import { activeTelematics, startFromEnv } from './service';
import { TelematicsPath } from './routes';

/** What services/api mounts (services/api/external-routes.ts calls `telematicsRoutes(ctx)`):
 *  - in `voltstream start` this service (order 30) is already running in the process: the routes delegate to it, and
 *    answer 503 + Retry-After once it stopped;
 *  - with the API alone (`voltstream service api`), the ingest is started here on the API's context (providers and
 *    options from the environment, no standalone server) and stopped with the API.
 *  Only this factory is exported here: the API calls every exported function whose name contains "routes". */
const delegating: HttpRoute[] = [
  {
    method: 'POST',
    path: TelematicsPath,
    scope: 'self',
    summary: 'Telematics readings of one provider (single or batch), authenticated per provider (API key or HMAC signature)',
    handle: async (req, res, params, url) => {
      const route = activeTelematics()?.routes[0];
      if (!route) {
        req.resume();
        return sendProblem(res, 503, 'telematics ingest not running', [], { 'Retry-After': '5' });
      }
      return route.handle(req, res, params, url);
    },
  },
];

export const telematicsRoutes = async (ctx: ServiceContext): Promise<{ routes: HttpRoute[]; stop?: () => Promise<void> }> => {
  if (activeTelematics()) return { routes: delegating };
  const running = await startFromEnv(ctx, { standalone: false });
  return { routes: running.routes, stop: () => running.stop() };
};
