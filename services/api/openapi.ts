import { HttpRoute } from '../common/http';
import { ApiRoute } from './server';
import { toJsonSchema } from './json-schema';

/** The OpenAPI 3.1 document of the API, generated from the route table: every route with its path parameters,
 *  query parameters, required scope (as a security requirement and `x-scope`), request body schema (from the io-ts
 *  codec that decodes it) and response media types. */
const problem = {
  description: 'RFC 9457 problem details; `problems` lists every failed check',
  content: {
    'application/problem+json': {
      schema: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'integer' }, title: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } } },
    },
  },
};

export const buildOpenApi = (routes: readonly HttpRoute[], opts: { serverUrl: string; version?: string }) => {
  const paths: Record<string, Record<string, unknown>> = {};
  const scopes = new Set<string>();
  for (const r of routes as readonly ApiRoute[]) {
    const pathParams = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const secured = r.scope !== 'public' && r.scope !== 'self';
    if (secured) scopes.add(r.scope);
    const ok = String(r.okStatus ?? 200);
    const media = ['application/json', ...(r.produces ?? [])];
    const op: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag ?? 'other'],
      'x-scope': r.scope,
      security: secured ? [{ apiKey: [r.scope] }] : r.scope === 'self' ? [{ signedRequest: [] }] : [],
      parameters: [
        ...pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
        ...(r.query ?? []).map((q) => ({ name: q.name, in: 'query', required: q.required ?? false, description: q.description, schema: q.schema ?? { type: 'string' } })),
      ],
      responses: {
        [ok]: {
          description: r.websocket ? 'Switching protocols (WebSocket); a plain GET is answered 426' : 'Success',
          ...(r.method === 'DELETE' ? {} : { content: Object.fromEntries(media.map((m) => [m, {}])) }),
        },
        ...(r.requestBody ? { '400': problem, '415': problem } : {}),
        ...(secured ? { '401': problem, '403': problem } : {}),
      },
    };
    if (r.requestBody) op.requestBody = { required: true, content: { 'application/json': { schema: toJsonSchema(r.requestBody) } } };
    if (r.websocket) op['x-websocket'] = true;
    paths[r.path] = { ...(paths[r.path] ?? {}), [r.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Voltstream API',
      version: opts.version ?? '1',
      description:
        'Configuration as events, history for data teams, current site state, partner feeds. Authenticate with ' +
        '`Authorization: Bearer <api key>`; each operation names the scope it needs (`x-scope`). A key with scope admin ' +
        '(and the configured VOLTSTREAM_ADMIN_KEY) holds every scope.',
    },
    servers: [{ url: opts.serverUrl }],
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: `API key; scopes: ${[...scopes].sort().join(', ')}` },
        signedRequest: { type: 'apiKey', in: 'header', name: 'X-Signature', description: 'Routes that authenticate requests themselves (signed webhooks)' },
      },
    },
    paths,
  };
};
