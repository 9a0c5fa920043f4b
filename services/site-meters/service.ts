import * as E from 'fp-ts/Either';
import { ServiceContext, ServiceDefinition } from '../common/service';
import { portOrFree } from '../common/ports';
import { serveStandalone, StandaloneServer } from '../telematics-ingest/standalone';
import { decodeSiteMetersConfig } from './config';
import { SiteMeterIngest, startSiteMeterIngest } from './ingest';
import { hostPort, hostToReach } from '../common/addresses';
import { ModbusPoller, startModbusPoller } from './modbus-poller';
import { createSiteMeterRoutes, SiteMeterPath } from './routes';
import { loadSiteMeters, modbusMeters, SiteMeters } from './sites';

/** services/site-meters: readings of the sites' grid-connection meters and sub-meters, pushed over HTTP or polled over
 *  Modbus TCP, into site.meter-readings (refusals into site.meter-rejected). Its own deployable: the push endpoint
 *  on SITE_METERS_PORT (default 8087, with /health and /metrics), the health port of `voltstream service` on
 *  SITE_METERS_HEALTH_PORT (services/cli/services.ts). Environment: config.ts. Sites and meters: sites.ts. */
export interface RunningSiteMeters {
  readonly ingest: SiteMeterIngest;
  readonly server: StandaloneServer;
  readonly poller: ModbusPoller;
  stop(): Promise<void>;
}

export const startSiteMeters = async (
  ctx: ServiceContext,
  opts: { config: SiteMeters; port: number; host?: string; produceTimeoutMs?: number; modbus?: boolean; pollAutomatically?: boolean },
): Promise<RunningSiteMeters> => {
  const ingest = await startSiteMeterIngest(ctx, { produceTimeoutMs: opts.produceTimeoutMs });
  const server = await serveStandalone(createSiteMeterRoutes(ingest, opts.config), opts.port, ctx.metrics, opts.host);
  const meters = opts.modbus === false ? [] : modbusMeters(opts.config);
  const poller = startModbusPoller(ingest, meters, { ...opts.config.modbus, log: ctx.log, autoStart: opts.pollAutomatically });
  return {
    ingest,
    server,
    poller,
    stop: async () => {
      await poller.stop();
      await server.close();
      await ingest.stop();
    },
  };
};

export const service: ServiceDefinition = {
  name: 'site-meters',
  summary: 'Site grid-connection meters and sub-meters (HTTP push, Modbus TCP poll) into site.meter-readings',
  order: 30,
  start: async (ctx: ServiceContext) => {
    const env = decodeSiteMetersConfig(process.env);
    if (E.isLeft(env)) throw new Error(`invalid site meters environment: ${env.left.join('; ')}`);
    const config = loadSiteMeters(env.right.file);
    if (E.isLeft(config)) throw new Error(`invalid site meters file: ${config.left.join('; ')}`);
    const running = await startSiteMeters(ctx, { config: config.right, port: await portOrFree(env.right.port, env.right.host), host: env.right.host, produceTimeoutMs: env.right.produceTimeoutMs, modbus: env.right.modbus });
    const polled = env.right.modbus ? modbusMeters(config.right) : [];
    ctx.log.info('site meters started', { sites: [...config.right.sites.keys()], port: running.server.port, modbusMeters: polled.length });
    return {
      name: 'site-meters',
      endpoints: [`http://${hostPort(hostToReach(env.right.host), running.server.port)}${SiteMeterPath}`, ...polled.map((m) => `polling ${m.modbus!.host}:${m.modbus!.port} (${m.siteId}/${m.meterId})`)],
      stop: () => running.stop(),
    };
  },
};
