import { IncomingMessage, ServerResponse } from 'node:http';

/** The HTTP pieces every service shares (node:http, no framework): a route type so services/api can mount the
 *  routes of other folders (telematics ingest, dashboard), JSON bodies with a size limit, and errors as
 *  application/problem+json with every problem listed. */
export interface RouteParams {
  readonly [name: string]: string;
}

export interface HttpRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path template with `{name}` parameters, e.g. `/api/v1/telematics/{provider}`. */
  readonly path: string;
  /** API key scope required, or 'public'. Routes with their own authentication (signed webhooks) say 'self'. */
  readonly scope: string;
  readonly summary: string;
  handle(req: IncomingMessage, res: ServerResponse, params: RouteParams, url: URL): Promise<void>;
}

export const compilePath = (template: string): RegExp =>
  new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}|\{(\w+)\}/g, (_m, a, b) => `(?<${a ?? b}>[^/]+)`)}$`);

export const matchRoute = (route: HttpRoute, method: string, pathname: string): RouteParams | undefined => {
  if (route.method !== method) return undefined;
  const m = compilePath(route.path).exec(pathname);
  if (!m) return undefined;
  return Object.fromEntries(Object.entries(m.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]));
};

export class BodyTooLarge extends Error {}

export const readBody = (req: IncomingMessage, limitBytes = 1024 * 1024): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limitBytes) {
        reject(new BodyTooLarge(`body larger than ${limitBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

export const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
};

/** RFC 9457 problem details; `problems` lists every failed check, not just the first. */
export const sendProblem = (res: ServerResponse, status: number, title: string, problems: readonly string[] = [], headers: Record<string, string> = {}): void => {
  const text = JSON.stringify({ type: 'about:blank', status, title, problems });
  res.writeHead(status, { 'Content-Type': 'application/problem+json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
};
