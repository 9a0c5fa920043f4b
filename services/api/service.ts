import * as E from 'fp-ts/Either';
import { HttpRoute } from '../common/http';
import { refuseDefaultAdminKey } from '../common/defaults';
import { createDurableProducer } from '../common/kafka';
import { RunningService, ServiceContext, ServiceDefinition } from '../common/service';
import { migrate } from '../../infra/database/migrate';
import { createKeyStore, keyMigrations } from './auth';
import { createConfigLog } from './config-log';
import { buildOpenApi } from './openapi';
import { configRoutes } from './routes/config';
import { credentialPepper } from '../common/credential-pepper';
import { keyRoutes, systemRoutes } from './routes/system';
import { startApiServer, UpgradeHandler } from './server';
import { discoverExternalRoutes } from './external-routes';
import { partnerRoutes } from './routes/partners';
import { historyRoutes } from './routes/history';
import { deadLetterRoutes } from './routes/dead-letters';
import { stateRoutes } from './routes/state';
import { commandRoutes } from './routes/commands';
import { siteLimitRoutes } from './routes/site-limits';
import { forecastRoutes } from './routes/forecast';
import { idTokenRoutes } from './routes/id-tokens';
import { localListRoutes } from './routes/local-lists';
import { reservationRoutes } from './routes/reservations';
import { deviceModelRoutes } from './routes/device-model';
import { createCommandSender } from './command-sender';
import { peersFromEnv } from '../common/peers';
import { analyticsMigrations } from './analytics';
import { createPartnerFeed } from './partner-feed';

/** services/api: the HTTP API on API_PORT (8080). See services/api/README.md. */
export interface ApiOptions {
  /** Port to listen on; 0 picks a free one (tests). Default: ctx.config.apiPort. */
  readonly port?: number;
  /** Schema of the API's own table (api_keys). Default `api`. */
  readonly apiSchema?: string;
  /** Schema the projections live in (read by history and state). Default `projections`. */
  readonly projectionSchema?: string;
  /** Routes to mount besides the API's own (other folders' routes are also discovered, see external-routes.ts). */
  readonly extraRoutes?: readonly HttpRoute[];
  /** Schema of the analysts' views (services/api/ANALYTICS.md). Default `analytics`. */
  readonly analyticsSchema?: string;
  /** Skip discovery of services/telematics-ingest/http.ts and services/dashboard/http.ts. */
  readonly discover?: boolean;
}

export interface RunningApi extends RunningService {
  readonly url: string;
  readonly port: number;
}

export const startApi = async (ctx: ServiceContext, opts: ApiOptions = {}): Promise<RunningApi> => {
  const adminKey = refuseDefaultAdminKey(ctx.config);
  if (E.isLeft(adminKey)) throw new Error(adminKey.left);
  const apiSchema = opts.apiSchema ?? 'api';
  const schemas = { api: apiSchema, projections: opts.projectionSchema ?? 'projections' };
  const analyticsSchema = opts.analyticsSchema ?? 'analytics';
  await migrate(ctx.pool, apiSchema, keyMigrations);
  // The views need the projection tables (streams/projections migrates them when it starts): retry until they exist.
  let analyticsTimer: NodeJS.Timeout | undefined;
  const migrateAnalytics = async (): Promise<void> => {
    try {
      await migrate(ctx.pool, analyticsSchema, analyticsMigrations({ analytics: analyticsSchema, ...schemas }));
    } catch (e) {
      if (!/does not exist/.test((e as Error).message)) {
        ctx.log.error('analytics views could not be created; SQL access for analysts is unavailable', { err: e });
        return;
      }
      ctx.log.warn('analytics views wait for the projection tables; retrying in 30 s', { err: e });
      analyticsTimer = setTimeout(() => void migrateAnalytics(), 30_000);
      analyticsTimer.unref();
    }
  };
  await migrateAnalytics();
  const peers = E.getOrElseW((message: string) => {
    throw new Error(message);
  })(peersFromEnv());
  const keys = createKeyStore({ pool: ctx.pool, schema: apiSchema, adminKey: ctx.config.adminKey });
  const producer = createDurableProducer(ctx.kafka);
  await producer.connect();
  const admin = ctx.kafka.admin();
  await admin.connect();
  const external = opts.discover === false ? { routes: [], closers: [], notes: [] } : await discoverExternalRoutes(ctx);
  for (const n of external.notes) ctx.log.info('external routes', { note: n });

  const feed = createPartnerFeed({ kafka: ctx.kafka, admin, serde: ctx.serde, log: ctx.log.child({ component: 'partner-feed' }) });
  const upgrades = new Map<string, UpgradeHandler>([['/api/v1/partners/{partnerId}/feed', feed.upgrade]]);
  let openapi: unknown = {};
  const configLog = createConfigLog(producer, ctx.serde);
  const sender = createCommandSender({ pool: ctx.pool, projections: schemas.projections, producer, serde: ctx.serde });
  const routes: HttpRoute[] = [
    ...systemRoutes({
      metrics: ctx.metrics,
      parts: ctx.health,
      peers,
      openapi: () => openapi,
      health: async () => ({
        kafka: await admin.describeCluster().then(() => true, () => false),
        database: await ctx.pool.query('SELECT 1').then(() => true, () => false),
      }),
    }),
    ...keyRoutes(keys),
    ...configRoutes(configLog, credentialPepper(ctx.config.home)),
    ...partnerRoutes({ admin, serde: ctx.serde, config: ctx.config }),
    ...historyRoutes(ctx.pool, schemas),
    ...deadLetterRoutes(ctx.pool, schemas.projections),
    ...stateRoutes(ctx.pool, schemas),
    ...commandRoutes({ pool: ctx.pool, schemas, producer, serde: ctx.serde }),
    ...siteLimitRoutes({ pool: ctx.pool, schemas, log: configLog }),
    ...forecastRoutes(ctx.pool, schemas),
    ...idTokenRoutes({ pool: ctx.pool, schemas, log: configLog, commands: sender }),
    ...localListRoutes({ pool: ctx.pool, schemas, commands: sender }),
    ...reservationRoutes({ pool: ctx.pool, schemas, log: configLog, commands: sender }),
    ...deviceModelRoutes({ pool: ctx.pool, schemas, commands: sender }),
    ...external.routes,
    ...(opts.extraRoutes ?? []),
  ];
  const server = await startApiServer({
    port: opts.port ?? ctx.config.apiPort,
    host: ctx.config.apiHost,
    routes,
    upgrades,
    authenticate: keys.authenticate,
    metrics: ctx.metrics,
    log: ctx.log.child({ component: 'api' }),
  });
  openapi = buildOpenApi(routes, { serverUrl: server.url });
  return {
    name: 'api',
    url: server.url,
    port: server.port,
    endpoints: [`${server.url}/openapi.json`, `${server.url}/health`],
    stop: async () => {
      if (analyticsTimer) clearTimeout(analyticsTimer);
      await feed.close();
      await server.close();
      for (const c of external.closers) await c().catch(() => undefined);
      await producer.disconnect();
      await admin.disconnect();
    },
  };
};

export const createApiService = (opts: ApiOptions = {}): ServiceDefinition => ({
  name: 'api',
  summary: 'HTTP API: configuration as events, history, site state, partner feeds (port 8080)',
  order: 50,
  start: (ctx) => startApi(ctx, opts),
});

export const service: ServiceDefinition = createApiService();
