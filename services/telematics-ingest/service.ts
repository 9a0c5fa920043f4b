import * as E from 'fp-ts/Either';
import { HttpRoute } from '../common/http';
import { ServiceDefinition, ServiceContext } from '../common/service';
import { decodeTelematicsConfig } from './config';
import { createTelematicsRoutes, TelematicsPath } from './routes';
import { serveStandalone, StandaloneServer } from './standalone';
import { Ingest, startIngest } from './ingest';
import { loadProviders, Providers } from './providers';
import { Poller, startPoller } from './pull';

/** services/telematics-ingest: provider telematics in, telematics.readings (and telematics.rejected) out.
 *
 *  How it is served:
 *  - in `voltstream start`, services/api mounts the route from http.ts on API_PORT (8080); it delegates to the ingest
 *    this service started in the same process;
 *  - alone (`voltstream service telematics-ingest`, tests), set TELEMATICS_PORT (or TELEMATICS_STANDALONE=1 for 8082)
 *    and the same route is served by a small node:http server of its own (plus /health and /metrics).
 *  Environment: config.ts. Providers and their default dev credentials: providers.ts. */
export interface RunningTelematics {
  readonly ingest: Ingest;
  readonly routes: HttpRoute[];
  readonly server: StandaloneServer | undefined;
  readonly pollers: readonly Poller[];
  stop(): Promise<void>;
}

export const startTelematics = async (
  ctx: ServiceContext,
  opts: { providers: Providers; port?: number; produceTimeoutMs?: number; pull?: boolean; registryCatchUpMs?: number; jumpChecks?: boolean },
): Promise<RunningTelematics> => {
  const ingest = await startIngest(ctx, { providers: opts.providers, produceTimeoutMs: opts.produceTimeoutMs, registryCatchUpMs: opts.registryCatchUpMs, jumpChecks: opts.jumpChecks });
  const routes = createTelematicsRoutes(ingest);
  const server = opts.port !== undefined ? await serveStandalone(routes, opts.port, ctx.metrics) : undefined;
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

/** The ingest the service started in this process, for services/api (http.ts). */
let active: RunningTelematics | undefined;
export const activeTelematics = (): RunningTelematics | undefined => active;

export const startFromEnv = async (ctx: ServiceContext, opts: { standalone: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<RunningTelematics> => {
  const config = decodeTelematicsConfig(env);
  if (E.isLeft(config)) throw new Error(`invalid telematics environment: ${config.left.join('; ')}`);
  const providers = loadProviders(config.right.providersFile);
  if (E.isLeft(providers)) throw new Error(`invalid telematics providers: ${providers.left.join('; ')}`);
  const running = await startTelematics(ctx, {
    providers: providers.right,
    port: opts.standalone ? config.right.port : undefined,
    produceTimeoutMs: config.right.produceTimeoutMs,
    pull: config.right.pull,
    jumpChecks: config.right.jumpChecks,
  });
  ctx.log.info('telematics ingest started', { providers: [...providers.right.keys()], standalonePort: running.server?.port, vehicles: running.ingest.registry.size });
  return running;
};

export const service: ServiceDefinition = {
  name: 'telematics-ingest',
  summary: 'Vehicle telematics from push and pull providers into telematics.readings',
  order: 30,
  start: async (ctx) => {
    const running = await startFromEnv(ctx, { standalone: true });
    active = running;
    return {
      name: 'telematics-ingest',
      endpoints: [
        running.server ? `http://127.0.0.1:${running.server.port}${TelematicsPath}` : `POST ${TelematicsPath} (served by the API)`,
        ...running.pollers.map((p) => `polling ${running.ingest.providers.get(p.provider)?.pull?.url ?? ''} (${p.provider})`),
      ],
      stop: async () => {
        if (active === running) active = undefined;
        await running.stop();
      },
    };
  },
};
