import * as fs from 'node:fs';
import * as path from 'node:path';
import { HttpRoute } from '../common/http';
import { ServiceContext } from '../common/service';

/** Routes other folders export for the API to mount (services/telematics-ingest/http.ts: POST /api/v1/telematics/{provider};
 *  services/dashboard/http.ts). Discovered defensively: a module that isn't there is skipped. A module may export
 *  route arrays, or functions of the service context returning (a promise of) routes; anything else is ignored. */
export const externalRouteModules = ['services/telematics-ingest/http.ts', 'services/dashboard/http.ts'];

const isRoute = (x: unknown): x is HttpRoute =>
  typeof x === 'object' && x !== null && typeof (x as HttpRoute).path === 'string' && typeof (x as HttpRoute).method === 'string' &&
  typeof (x as HttpRoute).scope === 'string' && typeof (x as HttpRoute).handle === 'function';

const asRoutes = (x: unknown): HttpRoute[] | undefined => (Array.isArray(x) && x.length > 0 && x.every(isRoute) ? x : undefined);

export interface Mounted {
  readonly routes: HttpRoute[];
  /** Resources the modules handed back to close (objects with stop/close). */
  readonly closers: (() => Promise<void>)[];
  readonly notes: string[];
}

export const discoverExternalRoutes = async (ctx: ServiceContext, root = path.join(__dirname, '..', '..')): Promise<Mounted> => {
  const routes: HttpRoute[] = [];
  const closers: (() => Promise<void>)[] = [];
  const notes: string[] = [];
  for (const rel of externalRouteModules) {
    const file = path.join(root, rel);
    if (!fs.existsSync(file)) {
      notes.push(`${rel}: not present, skipped`);
      continue;
    }
    let mod: Record<string, unknown>;
    try {
      mod = require(file) as Record<string, unknown>;
    } catch (e) {
      ctx.log.warn('could not load routes module', { module: rel, err: e });
      notes.push(`${rel}: failed to load (${(e as Error).message})`);
      continue;
    }
    let found = 0;
    for (const [name, value] of Object.entries(mod)) {
      const direct = asRoutes(value) ?? (isRoute(value) ? [value] : undefined);
      if (direct) {
        routes.push(...direct);
        found += direct.length;
        continue;
      }
      if (typeof value === 'function' && /routes/i.test(name)) {
        try {
          const out = (await (value as (c: ServiceContext) => unknown)(ctx)) as unknown;
          const list = asRoutes(out) ?? asRoutes((out as { routes?: unknown } | undefined)?.routes);
          if (list) {
            routes.push(...list);
            found += list.length;
            const o = out as { stop?: () => Promise<void>; close?: () => Promise<void> };
            if (typeof o.stop === 'function') closers.push(() => o.stop!());
            else if (typeof o.close === 'function') closers.push(() => o.close!());
          }
        } catch (e) {
          ctx.log.warn('routes factory failed', { module: rel, export: name, err: e });
          notes.push(`${rel}: ${name}() failed (${(e as Error).message})`);
        }
      }
    }
    notes.push(`${rel}: ${found} route(s) mounted`);
  }
  return { routes, closers, notes };
};
