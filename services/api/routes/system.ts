import { Registry } from 'prom-client';
import * as E from 'fp-ts/Either';
import { HttpRoute, sendJson, sendProblem } from '../../common/http';
import { Health } from '../../common/health';
import { askPeers, Peer } from '../../common/peers';
import { ApiRoute, readJsonBody } from '../server';
import { KeyStore } from '../auth';
import { ApiKeyBody } from '../codecs';

/** Health, metrics, the OpenAPI document, and API key administration (scope admin). */
export const systemRoutes = (opts: {
  metrics: Registry;
  health: () => Promise<Record<string, boolean>>;
  /** This process's parts (consumers, processors). */
  parts: Health;
  /** The deployment's other processes, reported beside this one. */
  peers: readonly Peer[];
  openapi: () => unknown;
}): ApiRoute[] => [
  {
    method: 'GET',
    path: '/health',
    scope: 'public',
    tag: 'system',
    summary: 'Liveness: 200 when Kafka and the database answer and no consumer of this process or of its peer processes is down, 503 naming what is not',
    handle: async (_req, res) => {
      const [checks, peers] = await Promise.all([opts.health(), askPeers(opts.peers, 'health')]);
      const report = opts.parts.report();
      const ok = Object.values(checks).every(Boolean) && report.alive && Object.values(peers).every((p) => p.ok);
      sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'degraded', pid: process.pid, checks, ...(report.notReady.length ? { notReady: report.notReady } : {}), parts: report.parts, ...(opts.peers.length ? { peers } : {}) });
    },
  },
  {
    method: 'GET',
    path: '/ready',
    scope: 'public',
    tag: 'system',
    summary: 'Readiness: 200 when every consumer of this process and of its peer processes runs and has caught up; 503 naming each one starting, restoring or down',
    handle: async (_req, res) => {
      const peers = await askPeers(opts.peers, 'ready');
      const report = opts.parts.report();
      const notReady = [...report.notReady, ...Object.entries(peers).filter(([, p]) => !p.ok).map(([name, p]) => `${name}: ${p.detail}`)];
      sendJson(res, notReady.length ? 503 : 200, { status: notReady.length ? 'not ready' : 'ready', ...(notReady.length ? { notReady } : {}), parts: report.parts, ...(opts.peers.length ? { peers } : {}) });
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    scope: 'public',
    tag: 'system',
    summary: 'Prometheus metrics of this process (text exposition format)',
    produces: ['text/plain'],
    handle: async (_req, res) => {
      const text = await opts.metrics.metrics();
      res.writeHead(200, { 'Content-Type': opts.metrics.contentType });
      res.end(text);
    },
  },
  {
    method: 'GET',
    path: '/openapi.json',
    scope: 'public',
    tag: 'system',
    summary: 'This API, as an OpenAPI 3.1 document generated from the route table',
    handle: async (_req, res) => sendJson(res, 200, opts.openapi()),
  },
];

export const keyRoutes = (keys: KeyStore): ApiRoute[] => [
  {
    method: 'POST',
    path: '/api/v1/api-keys',
    scope: 'admin',
    tag: 'administration',
    summary: 'Issue an API key with scopes (history:read, config:write, commands:write, admin, partner:<id>); the key is shown once',
    requestBody: ApiKeyBody,
    okStatus: 201,
    handle: async (req, res) => {
      const body = await readJsonBody(req, ApiKeyBody);
      if (E.isLeft(body)) return sendProblem(res, body.left.status, body.left.title, body.left.problems);
      if (body.right.scopes.length === 0) return sendProblem(res, 400, 'Invalid request body', ['scopes: expected at least one scope']);
      sendJson(res, 201, await keys.issue(body.right.scopes, body.right.label ?? null));
    },
  },
  {
    method: 'GET',
    path: '/api/v1/api-keys',
    scope: 'admin',
    tag: 'administration',
    summary: 'List API keys (ids, scopes, labels; never the keys)',
    handle: async (_req, res) => sendJson(res, 200, { items: await keys.list() }),
  },
  {
    method: 'DELETE',
    path: '/api/v1/api-keys/{keyId}',
    scope: 'admin',
    tag: 'administration',
    summary: 'Revoke an API key',
    handle: async (_req, res, params) => {
      if (!(await keys.revoke(params.keyId!))) return sendProblem(res, 404, 'Not Found', [`no active API key ${params.keyId}`]);
      res.writeHead(204).end();
    },
  },
];

export type { HttpRoute };
