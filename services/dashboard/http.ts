import { HttpRoute, sendJson } from '../common/http';
import { ServiceContext } from '../common/service';
import { DashboardFeed, startDashboardFeed } from './feed';
import { snapshot } from './model';
import { dashboardHtml } from './page';

/** The dashboard's routes, mounted by services/api (external-routes.ts): the page at /dashboard (and / redirects to
 *  it), its data as JSON at /dashboard/state and live at /dashboard/events (server-sent events: a `snapshot` event
 *  whenever the folded state changed, at most once per second, plus a comment every 15 s to keep proxies open).
 *  All public and read-only. The returned array carries `stop()` (the API calls it at shutdown). */
export type DashboardRoutes = HttpRoute[] & { stop(): Promise<void> };

export const createDashboardRoutes = (ctx: ServiceContext, opts: { lookbackMs?: number; pushEveryMs?: number } = {}): DashboardRoutes => {
  let feed: DashboardFeed | undefined;
  let failed: string | undefined;
  const starting = startDashboardFeed(ctx, opts).then(
    (f) => {
      feed = f;
      return f;
    },
    (e: Error) => {
      failed = e.message;
      ctx.log.error('dashboard feed failed to start', { err: e });
      return undefined;
    },
  );
  const streams = new Set<() => void>();
  const pushEveryMs = opts.pushEveryMs ?? 1000;

  const snap = (url: URL) => {
    const site = url.searchParams.get('site') || undefined;
    return feed ? snapshot(feed.state, Date.now(), site && feed.state.sites.has(site) ? site : undefined) : { at: Date.now(), siteIds: [], sites: [], chargers: [], vehicles: [], traffic: [], starting: !failed, error: failed };
  };

  const routes: HttpRoute[] = [
    {
      method: 'GET',
      path: '/',
      scope: 'public',
      summary: 'Redirects to the dashboard',
      handle: async (_req, res) => {
        res.writeHead(302, { Location: '/dashboard' });
        res.end();
      },
    },
    {
      method: 'GET',
      path: '/dashboard',
      scope: 'public',
      summary: 'The live depot dashboard (HTML)',
      handle: async (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache', 'Content-Length': Buffer.byteLength(dashboardHtml) });
        res.end(dashboardHtml);
      },
    },
    {
      method: 'GET',
      path: '/dashboard/state',
      scope: 'public',
      summary: "The dashboard's data for one site (?site=, default the most active): chargers, vehicles, load, price, plan, OCPP traffic",
      handle: async (_req, res, _params, url) => sendJson(res, 200, snap(url), { 'Cache-Control': 'no-cache' }),
    },
    {
      method: 'GET',
      path: '/dashboard/events',
      scope: 'public',
      summary: 'Server-sent events: a `snapshot` of /dashboard/state whenever it changes (at most once per second)',
      handle: async (req, res, _params, url) => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
        res.write('retry: 2000\n\n');
        let sent = -1;
        let lastWrite = Date.now();
        const push = () => {
          const v = feed ? feed.version() : 0;
          if (v !== sent) {
            sent = v;
            res.write(`event: snapshot\ndata: ${JSON.stringify(snap(url))}\n\n`);
            lastWrite = Date.now();
          } else if (Date.now() - lastWrite > 15000) {
            res.write(': keep-alive\n\n');
            lastWrite = Date.now();
          }
        };
        push();
        const timer = setInterval(push, pushEveryMs);
        const close = () => {
          clearInterval(timer);
          streams.delete(close);
          res.end();
        };
        streams.add(close);
        req.on('close', close);
      },
    },
  ];
  return Object.assign(routes, {
    stop: async () => {
      for (const close of [...streams]) close();
      const f = await starting;
      await f?.stop();
    },
  });
};
