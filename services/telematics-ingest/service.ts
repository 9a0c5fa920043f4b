import * as E from 'fp-ts/Either';
import { HttpRoute, sendProblem } from '../common/http';
import { ServiceDefinition, ServiceContext } from '../common/service';
import { decodeTelematicsConfig, TelematicsConfig } from './config';
import { createTelematicsRoutes, serveRoutes, StandaloneServer, TelematicsPath } from './http';
import { Ingest, startIngest } from './ingest';
import { loadProviders, Providers } from './providers';
import { Poller, startPoller } from './pull';

/** services/telematics-ingest: provider telematics in, telematics.readings (and telematics.rejected) out.
 *
 *  How it is served:
 *  - in `voltstream start`, services/api mounts `telematicsRoutes` (below) on API_PORT (8080); they delegate to the
 *    ingest this service started in the same process and answer 503 while it is not running;
 *  - alone (`voltstream service telematics-ingest`, tests), set TELEMATICS_PORT (or TELEMATICS_STANDALONE=1 for 8082)
 *    and the same routes are served by a small node:http server of its own.
 *  Environment: services/telematics-ingest/config.ts. Providers and their dev credentials: providers.ts. */
export interface RunningTelematics {
  readonly ingest: Ingest;
  readonly routes: HttpRoute[];
  readonly server: StandaloneServer | undefined;
  readonly pollers: readonly Poller[];
  stop(): Promise<void>;
}

export const startTelematics = async (
  ctx: ServiceContext,
  opts: { providers: Providers; port?: number; produceTimeoutMs?: number; pull?: boolean; registryCatchUpMs?: number },
): Promise<RunningTelematics> => {
  const ingest = await startIngest(ctx, { providers: opts.providers, produceTimeoutMs: opts.produceTimeoutMs, registryCatchUpMs: opts.registryCatchUpMs });
  const routes = createTelematicsRoutes(ingest);
  const server = opts.port !== undefined ? await serveRoutes(routes, opts.port, ctx.metrics) : undefined;
  const pollers = opts.pull === false ? [] : [...opts.providers.values()].filter((p) => p.pull).map((p) => startPoller(ingest, p, ctx.log));
  return {
    ingest,
    routes,
    server,
    pollers,
    stop: async () => {
      await Promise.all(pollers.map((p) => p.stop()));
      await server?.close();
      await ingest.stop();
    },
  };
};

let active: RunningTelematics | undefined;

/** The routes for services/api: stable objects that delegate to the ingest running in this process. */
export const telematicsRoutes: HttpRoute[] = [
  {
    method: 'POST',
    path: TelematicsPath,
    scope: 'self',
    summary: 'Telematics readings of one provider (single or batch), authenticated per provider (API key or HMAC signature)',
    handle: async (req, res, params, url) => {
      const route = active?.routes.find((r) => r.method === 'POST' && r.path === TelematicsPath);
      if (!route) {
        req.resume();
        return sendProblem(res, 503, 'telematics ingest not running', [], { 'Retry-After': '5' });
      }
      return route.handle(req, res, params, url);
    },
  },
];

const configOrThrow = (env: NodeJS.ProcessEnv): { config: TelematicsConfig; providers: Providers } => {
  const config = decodeTelematicsConfig(env);
  if (E.isLeft(config)) throw new Error(`invalid telematics environment: ${config.left.join('; ')}`);
  const providers = loadProviders(config.right.providersFile);
  if (E.isLeft(providers)) throw new Error(`invalid telematics providers: ${providers.left.join('; ')}`);
  return { config: config.right, providers: providers.right };
};

export const service: ServiceDefinition = {
  name: 'telematics-ingest',
  summary: 'Vehicle telematics from push and pull providers into telematics.readings',
  order: 30,
  start: async (ctx) => {
    const { config, providers } = configOrThrow(process.env);
    const running = await startTelematics(ctx, { providers, port: config.port, produceTimeoutMs: config.produceTimeoutMs, pull: config.pull });
    active = running;
    ctx.log.info('telematics ingest started', { providers: [...providers.keys()], standalonePort: running.server?.port, vehicles: running.ingest.registry.size });
    return {
      name: 'telematics-ingest',
      endpoints: [
        running.server ? `http://127.0.0.1:${running.server.port}${TelematicsPath}` : `${TelematicsPath} (on the API port)`,
        ...running.pollers.map((p) => `polling ${providers.get(p.provider)?.pull?.url ?? ''} (${p.provider})`),
      ],
      stop: async () => {
        if (active === running) active = undefined;
        await running.stop();
      },
    };
  },
};
