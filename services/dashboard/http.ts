import { IncomingMessage, ServerResponse } from 'node:http';
import * as E from 'fp-ts/Either';
import { HttpRoute, readBody, sendJson, sendProblem } from '../common/http';
import { ServiceContext } from '../common/service';
import { signingKey } from '../api/signing-key';
import { createKeyStore, hasScope, Principal } from '../api/auth';
import { DashboardFeed, startDashboardFeed } from './feed';
import { maskIdTags, snapshot } from './model';
import { dashboardHtml, loginHtml } from './page';
import { dashboardCommandRoutes } from './commands';
import { clearSessionCookie, DashboardSession, sessionCookie, setSessionCookie, signSession, verifySession } from './session';

/** The dashboard's routes, mounted by services/api (external-routes.ts): the page at /dashboard (and / redirects to
 *  it), its data as JSON at /dashboard/state and live at /dashboard/events (server-sent events: a `snapshot` event
 *  whenever the folded state changed, at most once per second, plus a comment every 15 s to keep proxies open).
 *
 *  Every route but `/` needs an API key, of any scope: `Authorization: Bearer <key>`, or the session cookie that
 *  POST /dashboard/session (the login form) issues for a key. Id tags in what it sends are masked unless the key
 *  has history:read. The returned array carries `stop()` (the API calls it at shutdown). */
export type DashboardRoutes = HttpRoute[] & { stop(): Promise<void> };

export interface DashboardOptions {
  lookbackMs?: number;
  pushEveryMs?: number;
  /** Schema of the API's key table (default `api`, as services/api). */
  apiSchema?: string;
  /** How long a login lasts (default DASHBOARD_SESSION_TTL_S, else 3600 s); a revoked key's sessions end within it. */
  sessionTtlS?: number;
  authenticate?: (key: string) => Promise<Principal | undefined>;
  /** Schema of the projections the command buttons read outcomes from (default `projections`). */
  projectionSchema?: string;
}

type Viewer = { ok: true; session: DashboardSession; fromBearer: boolean } | { ok: false; problem: string };

const bearer = (req: IncomingMessage): string | undefined => /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];

const formField = (body: string, name: string): string | undefined => {
  const v = new URLSearchParams(body).get(name);
  return v === null ? undefined : v;
};

export const createDashboardRoutes = (ctx: ServiceContext, opts: DashboardOptions = {}): DashboardRoutes => {
  const authenticate = opts.authenticate ?? createKeyStore({ pool: ctx.pool, schema: opts.apiSchema ?? 'api', adminKey: ctx.config.adminKey }).authenticate;
  const ttlS = opts.sessionTtlS ?? (Number(process.env.DASHBOARD_SESSION_TTL_S) || 3600);
  const sessionKey = signingKey('dashboard-session');
  let feed: DashboardFeed | undefined;
  let failed: string | undefined;
  // The feed seeds its state from the same projections (feed.ts): the schema named here, else PROJECTIONS_SCHEMA.
  const feedOpts = { ...(opts.lookbackMs !== undefined ? { lookbackMs: opts.lookbackMs } : {}), ...(opts.projectionSchema ? { projections: { pool: ctx.pool, schema: opts.projectionSchema, consumer: 'projections' } } : {}) };
  const starting = startDashboardFeed(ctx, feedOpts).then(
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

  const sessionFor = (p: Principal): DashboardSession => ({ principal: p.id, seesIdTags: hasScope(p, 'history:read'), mayCommand: hasScope(p, 'commands:write'), expiresAt: Date.now() + ttlS * 1000 });

  /** Who is asking: a bearer key (checked like the API checks it) or a session cookie (checked by its MAC). */
  const viewer = async (req: IncomingMessage): Promise<Viewer> => {
    const key = bearer(req);
    if (key) {
      const p = await authenticate(key);
      return p ? { ok: true, session: sessionFor(p), fromBearer: true } : { ok: false, problem: 'unknown or revoked API key' };
    }
    const cookie = sessionCookie(req.headers.cookie);
    if (!cookie) return { ok: false, problem: 'missing API key: send Authorization: Bearer <key>, or log in at /dashboard' };
    const s = verifySession(sessionKey, cookie, Date.now());
    return E.isRight(s) ? { ok: true, session: s.right, fromBearer: false } : { ok: false, problem: s.left };
  };

  const unauthorized = (res: ServerResponse, problem: string) => sendProblem(res, 401, 'Unauthorized', [problem], { 'WWW-Authenticate': 'Bearer realm="voltstream"' });

  const snap = (url: URL, session: DashboardSession) => {
    const site = url.searchParams.get('site') || undefined;
    if (!feed) return { at: Date.now(), siteIds: [], sites: [], chargers: [], vehicles: [], traffic: [], starting: !failed, error: failed };
    const s = snapshot(feed.state, Date.now(), site && feed.state.sites.has(site) ? site : undefined);
    return session.seesIdTags ? s : maskIdTags(s);
  };

  const sendLogin = (res: ServerResponse, status: number, site: string | undefined, problem?: string, headers: Record<string, string> = {}) => {
    const html = loginHtml({ site, problem });
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(html), ...headers });
    res.end(html);
  };

  const dashboardPath = (site: string | undefined) => (site ? `/dashboard?site=${encodeURIComponent(site)}` : '/dashboard');

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
      scope: 'self',
      summary: 'The live depot dashboard (HTML); without a key or session, its login form (401)',
      handle: async (req, res, _params, url) => {
        const v = await viewer(req);
        if (!v.ok) return sendLogin(res, 401, url.searchParams.get('site') || undefined, req.headers.cookie || bearer(req) ? v.problem : undefined);
        const headers: Record<string, string> = { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': String(Buffer.byteLength(dashboardHtml)) };
        // A browser sent by a tool with a bearer header gets the cookie its event stream needs.
        if (v.fromBearer) headers['Set-Cookie'] = setSessionCookie(signSession(sessionKey, v.session), ttlS);
        res.writeHead(200, headers);
        res.end(dashboardHtml);
      },
    },
    {
      method: 'POST',
      path: '/dashboard/session',
      scope: 'self',
      summary: 'Log in: an API key (form field `key`, or Authorization: Bearer) for a session cookie; 303 to the dashboard',
      handle: async (req, res) => {
        const body = (await readBody(req, 8192)).toString('utf8');
        const site = formField(body, 'site') || undefined;
        const key = formField(body, 'key') ?? bearer(req);
        const p = key ? await authenticate(key) : undefined;
        if (!p) return sendLogin(res, 401, site, key ? 'unknown or revoked API key' : 'type an API key');
        res.writeHead(303, { Location: dashboardPath(site), 'Set-Cookie': setSessionCookie(signSession(sessionKey, sessionFor(p)), ttlS), 'Cache-Control': 'no-store' });
        res.end();
      },
    },
    {
      method: 'POST',
      path: '/dashboard/logout',
      scope: 'public',
      summary: "Log out: clears the dashboard's session cookie; 303 to the login form",
      handle: async (_req, res) => {
        res.writeHead(303, { Location: '/dashboard', 'Set-Cookie': clearSessionCookie, 'Cache-Control': 'no-store' });
        res.end();
      },
    },
    {
      method: 'GET',
      path: '/dashboard/state',
      scope: 'self',
      summary: "The dashboard's data for one site (?site=, default the most active): chargers, vehicles, load, price, plan, OCPP traffic; id tags masked without history:read",
      handle: async (req, res, _params, url) => {
        const v = await viewer(req);
        if (!v.ok) return unauthorized(res, v.problem);
        sendJson(res, 200, snap(url, v.session), { 'Cache-Control': 'no-store' });
      },
    },
    {
      method: 'GET',
      path: '/dashboard/events',
      scope: 'self',
      summary: 'Server-sent events: a `snapshot` of /dashboard/state whenever it changes (at most once per second), until the session ends',
      handle: async (req, res, _params, url) => {
        const v = await viewer(req);
        if (!v.ok) return unauthorized(res, v.problem);
        const session = v.session;
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
        res.write('retry: 2000\n\n');
        let sent = -1;
        let lastWrite = Date.now();
        const push = () => {
          // A stream lives no longer than the session it was opened with; the page then finds the login form.
          if (!v.fromBearer && Date.now() >= session.expiresAt) return close();
          const version = feed ? feed.version() : 0;
          if (version !== sent) {
            sent = version;
            res.write(`event: snapshot\ndata: ${JSON.stringify(snap(url, session))}\n\n`);
            lastWrite = Date.now();
          } else if (Date.now() - lastWrite > 15000) {
            res.write(': keep-alive\n\n');
            lastWrite = Date.now();
          }
        };
        const timer = setInterval(push, pushEveryMs);
        const close = () => {
          clearInterval(timer);
          streams.delete(close);
          res.end();
        };
        streams.add(close);
        req.on('close', close);
        push();
      },
    },
  ];
  const commands = dashboardCommandRoutes(ctx, viewer, opts.projectionSchema ?? 'projections');
  routes.push(...commands);
  return Object.assign(routes, {
    stop: async () => {
      await commands.stop();
      for (const close of [...streams]) close();
      const f = await starting;
      await f?.stop();
    },
  });
};
