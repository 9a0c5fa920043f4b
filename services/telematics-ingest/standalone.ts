import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { HttpRoute, matchRoute, sendJson, sendProblem } from '../common/http';

/** A small node:http server for the routes, for running the ingest without services/api (tests, TELEMATICS_PORT).
 *  Also `GET /health` and `GET /metrics`. */
export interface StandaloneServer {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

export const serveStandalone = async (routes: readonly HttpRoute[], port: number, metrics?: Registry, host = '127.0.0.1'): Promise<StandaloneServer> => {
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    if (req.method === 'GET' && url.pathname === '/health') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && url.pathname === '/metrics' && metrics) {
      const text = await metrics.metrics();
      res.writeHead(200, { 'Content-Type': metrics.contentType });
      return void res.end(text);
    }
    for (const route of routes) {
      const params = matchRoute(route, req.method ?? '', url.pathname);
      if (params) return route.handle(req, res, params, url);
    }
    req.resume();
    sendProblem(res, 404, 'not found', [`${req.method} ${url.pathname}`]);
  };
  const server = createServer((req, res) => {
    handler(req, res).catch((e: Error) => {
      if (!res.headersSent) sendProblem(res, 500, 'internal error', [e.message]);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
