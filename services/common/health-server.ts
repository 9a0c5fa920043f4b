import * as http from 'node:http';
import { Registry } from 'prom-client';
import { Health, HealthReport } from './health';
import { sendJson } from './http';

/** A process's own `/health`, `/ready` and `/metrics`, on a port of its own (the contract: every service process
 *  serves these three). `/health` is 503 while a part is down; `/ready` is 503 while a part starts, restores or is
 *  down, and names it. */
export interface HealthServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export const healthBody = (service: string, r: HealthReport, which: 'health' | 'ready') => ({
  status: which === 'health' ? (r.alive ? 'ok' : 'degraded') : r.ready ? 'ready' : 'not ready',
  service,
  pid: process.pid,
  ...(r.notReady.length ? { notReady: r.notReady } : {}),
  parts: r.parts,
});

export const serveHealth = (o: { service: string; health: Health; metrics: Registry; port: number; host?: string }): Promise<HealthServer> =>
  new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'only GET' }, { Allow: 'GET' });
      if (path === '/health' || path === '/ready') {
        const r = o.health.report();
        const ok = path === '/health' ? r.alive : r.ready;
        return sendJson(res, ok ? 200 : 503, healthBody(o.service, r, path === '/health' ? 'health' : 'ready'));
      }
      if (path === '/metrics') {
        o.metrics.metrics().then(
          (text) => {
            res.writeHead(200, { 'Content-Type': o.metrics.contentType });
            res.end(text);
          },
          (e: Error) => sendJson(res, 500, { error: e.message }),
        );
        return;
      }
      sendJson(res, 404, { error: 'not found', paths: ['/health', '/ready', '/metrics'] });
    });
    server.once('error', reject);
    const host = o.host ?? '127.0.0.1';
    server.listen(o.port, host, () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://${host}:${port}`,
        port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
