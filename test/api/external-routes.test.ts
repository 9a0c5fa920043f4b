import * as path from 'node:path';
import { createContext } from '../../services/common/context';
import { discoverExternalRoutes } from '../../services/api/external-routes';
import { testConfig } from '../support/stack';

/** The API mounts the routes other folders export, whichever of the two shapes they use, and skips missing modules. */
test('routes from a factory and from an array are mounted; closers are kept', async () => {
  const ctx = createContext(testConfig({ logLevel: 'error' }), 'discovery-test');
  try {
    const root = path.join(__dirname, 'fixtures', 'external');
    const m = await discoverExternalRoutes(ctx, root);
    expect(m.routes.map((r) => `${r.method} ${r.path} ${r.scope}`)).toEqual(['POST /api/v1/telematics/{provider} self', 'GET /dashboard public']);
    expect(m.closers).toHaveLength(1);
    await m.closers[0]!();
    expect((require(path.join(root, 'services', 'telematics-ingest', 'http.ts')) as { stopped: number }).stopped).toBe(1);
    const none = await discoverExternalRoutes(ctx, path.join(__dirname, 'fixtures', 'nowhere'));
    expect(none.routes).toEqual([]);
    expect(none.notes).toEqual(['services/telematics-ingest/http.ts: not present, skipped', 'services/dashboard/http.ts: not present, skipped']);
  } finally {
    await ctx.pool.end();
  }
});
