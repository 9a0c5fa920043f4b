import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';
import { AddressInfo } from 'node:net';
import * as t from 'io-ts';
import * as E from 'fp-ts/Either';
import { Counter, Histogram, Registry } from 'prom-client';
import { BodyTooLarge, compilePath, HttpRoute, readBody, RouteParams, sendProblem } from '../common/http';
import { parseJson } from '../common/decode';
import { formatProblems } from './problems';
import { Logger } from '../common/log';
import { hasScope, Principal } from './auth';
import { redactUrl } from './redact';

/** The API's HTTP server: node:http, a route table, bearer-key authentication with scopes, problem+json errors,
 *  Prometheus request metrics, and WebSocket upgrades for routes that stream. */

export interface QueryParam {
  readonly name: string;
  readonly description: string;
  readonly schema?: Record<string, unknown>;
  readonly required?: boolean;
}

/** An HttpRoute with what the OpenAPI document needs to describe it. Routes of other folders are plain HttpRoutes. */
export interface ApiRoute extends HttpRoute {
  readonly tag?: string;
  readonly description?: string;
  readonly requestBody?: t.Any;
  readonly query?: readonly QueryParam[];
  /** Response media types besides application/json (e.g. text/csv). */
  readonly produces?: readonly string[];
  /** Successful status code, for the document (default 200). */
  readonly okStatus?: number;
  /** Answered with a WebSocket upgrade (see UpgradeHandler). */
  readonly websocket?: boolean;
}

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, params: RouteParams, url: URL) => void;

export interface ApiServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly routes: readonly HttpRoute[];
  /** WebSocket endpoints by route path (the route itself answers a plain GET, e.g. with 426). */
  readonly upgrades?: ReadonlyMap<string, UpgradeHandler>;
  readonly authenticate: (token: string) => Promise<Principal | undefined>;
  readonly metrics: Registry;
  readonly log: Logger;
}

export interface ApiServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

const principals = new WeakMap<IncomingMessage, Principal>();
/** The authenticated caller of a request (undefined on public routes). */
export const principalOf = (req: IncomingMessage): Principal | undefined => principals.get(req);

/** `partner:{partnerId}` with the route's parameters filled in. */
export const requiredScope = (route: Pick<HttpRoute, 'scope'>, params: RouteParams): string =>
  route.scope.replace(/\{(\w+)\}/g, (_m, name: string) => params[name] ?? '');

export const bearerToken = (req: IncomingMessage, url: URL): string | undefined => {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  if (m) return m[1];
  // Browsers can't set headers on a WebSocket: the feed also takes ?access_token= (RFC 6750 §2.3).
  return req.headers.upgrade ? (url.searchParams.get('access_token') ?? undefined) : undefined;
};

interface Compiled {
  readonly route: HttpRoute;
  readonly re: RegExp;
}

const match = (table: readonly Compiled[], pathname: string) => {
  const found: { route: HttpRoute; params: RouteParams }[] = [];
  for (const c of table) {
    const m = c.re.exec(pathname);
    if (!m) continue;
    try {
      found.push({ route: c.route, params: Object.fromEntries(Object.entries(m.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)])) });
    } catch {
      continue;
    }
  }
  return found;
};

type AuthOutcome = { ok: true; principal: Principal | undefined } | { ok: false; status: 401 | 403; title: string; problems: string[] };

export const authorize = async (
  route: HttpRoute,
  params: RouteParams,
  req: IncomingMessage,
  url: URL,
  authenticate: ApiServerOptions['authenticate'],
): Promise<AuthOutcome> => {
  if (route.scope === 'public' || route.scope === 'self') return { ok: true, principal: undefined };
  const token = bearerToken(req, url);
  if (!token) return { ok: false, status: 401, title: 'Unauthorized', problems: ['missing API key: send Authorization: Bearer <key>'] };
  const principal = await authenticate(token);
  if (!principal) return { ok: false, status: 401, title: 'Unauthorized', problems: ['unknown or revoked API key'] };
  const scope = requiredScope(route, params);
  if (!hasScope(principal, scope)) return { ok: false, status: 403, title: 'Forbidden', problems: [`this API key lacks the scope ${scope}`] };
  return { ok: true, principal };
};

export const startApiServer = async (opts: ApiServerOptions): Promise<ApiServer> => {
  const table: Compiled[] = opts.routes.map((route) => ({ route, re: compilePath(route.path) }));
  const requests = (opts.metrics.getSingleMetric('voltstream_api_requests_total') as Counter<'method' | 'route' | 'status'> | undefined) ?? new Counter({
    name: 'voltstream_api_requests_total',
    help: 'HTTP requests answered by the API, by route template and status',
    labelNames: ['method', 'route', 'status'],
    registers: [opts.metrics],
  });
  const latency = (opts.metrics.getSingleMetric('voltstream_api_request_seconds') as Histogram<'method' | 'route'> | undefined) ?? new Histogram({
    name: 'voltstream_api_request_seconds',
    help: 'HTTP request duration by route template',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [opts.metrics],
  });
  const wwwAuth = { 'WWW-Authenticate': 'Bearer realm="voltstream"' };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<string> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const candidates = match(table, url.pathname);
    if (candidates.length === 0) {
      sendProblem(res, 404, 'Not Found', [`no route for ${url.pathname}`]);
      return 'unmatched';
    }
    const hit = candidates.find((c) => c.route.method === req.method);
    if (!hit) {
      const allow = [...new Set(candidates.map((c) => c.route.method))].join(', ');
      sendProblem(res, 405, 'Method Not Allowed', [`${req.method} is not allowed on ${url.pathname}; allowed: ${allow}`], { Allow: allow });
      return candidates[0]!.route.path;
    }
    const auth = await authorize(hit.route, hit.params, req, url, opts.authenticate);
    if (!auth.ok) {
      sendProblem(res, auth.status, auth.title, auth.problems, auth.status === 401 ? wwwAuth : {});
      return hit.route.path;
    }
    if (auth.principal) principals.set(req, auth.principal);
    await hit.route.handle(req, res, hit.params, url);
    return hit.route.path;
  };

  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    let routeLabel = 'unmatched';
    handle(req, res)
      .then((r) => {
        routeLabel = r;
      })
      .catch((e: unknown) => {
        if (e instanceof BodyTooLarge) {
          if (!res.headersSent) sendProblem(res, 413, 'Payload Too Large', [e.message]);
          return;
        }
        opts.log.error('request failed', { method: req.method, url: redactUrl(req.url), err: e });
        if (!res.headersSent) sendProblem(res, 500, 'Internal Server Error', ['the request failed; see the server log']);
        else res.destroy();
      })
      .finally(() => {
        const method = req.method ?? 'GET';
        requests.inc({ method, route: routeLabel, status: String(res.statusCode) });
        latency.observe({ method, route: routeLabel }, Number(process.hrtime.bigint() - started) / 1e9);
      });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const hit = match(table, url.pathname).find((c) => c.route.method === 'GET' && opts.upgrades?.has(c.route.path));
    const refuse = (status: number, title: string, problems: string[]) => {
      const body = JSON.stringify({ type: 'about:blank', status, title, problems });
      socket.end(`HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    if (!hit) return refuse(404, 'Not Found', [`no WebSocket endpoint at ${url.pathname}`]);
    authorize(hit.route, hit.params, req, url, opts.authenticate)
      .then((auth) => {
        if (!auth.ok) return refuse(auth.status, auth.title, auth.problems);
        if (auth.principal) principals.set(req, auth.principal);
        opts.upgrades!.get(hit.route.path)!(req, socket, head, hit.params, url);
      })
      .catch((e: unknown) => {
        opts.log.error('upgrade failed', { url: redactUrl(req.url), err: e });
        refuse(500, 'Internal Server Error', ['the upgrade failed; see the server log']);
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};

export type BodyOutcome<A> = E.Either<{ status: number; title: string; problems: string[] }, A>;

/** Reads and decodes a JSON body: 415 for another media type, 400 for broken JSON or listing every invalid field. */
export const readJsonBody = async <A, O>(req: IncomingMessage, codec: t.Type<A, O, unknown>): Promise<BodyOutcome<A>> => {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const buf = await readBody(req);
  if (type !== 'application/json' && !(type === '' && buf.length === 0)) {
    return E.left({ status: 415, title: 'Unsupported Media Type', problems: [`expected Content-Type: application/json, got ${type || 'none'}`] });
  }
  const json = parseJson(buf.length ? buf.toString('utf8') : '');
  if (E.isLeft(json)) return E.left({ status: 400, title: 'Bad Request', problems: [json.left] });
  const decoded = codec.decode(json.right);
  if (E.isLeft(decoded)) return E.left({ status: 400, title: 'Invalid request body', problems: formatProblems(decoded.left) });
  return E.right(decoded.right);
};
