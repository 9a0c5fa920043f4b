import { createContext } from '../../services/common/context';
import { ServiceContext } from '../../services/common/service';
import { RunningSiteMeters, startSiteMeters } from '../../services/site-meters/service';
import { decodeSiteMeters, SiteMeters } from '../../services/site-meters/sites';
import { testConfig, uniq } from '../support/stack';

/** A site meters service on a random port, configured with the sites a test names (unique ids per run). */
export interface SiteMetersHarness {
  readonly ctx: ServiceContext;
  readonly running: RunningSiteMeters;
  readonly config: SiteMeters;
  readonly url: (siteId: string) => string;
  stop(): Promise<void>;
}

export const startSiteMetersHarness = async (sitesFile: unknown, opts: { produceTimeoutMs?: number } = {}): Promise<SiteMetersHarness> => {
  const config = decodeSiteMeters(sitesFile);
  if (config._tag === 'Left') throw new Error(config.left.join('; '));
  const ctx = createContext(testConfig(), uniq('site-meters-test'));
  const running = await startSiteMeters(ctx, { config: config.right, port: 0, produceTimeoutMs: opts.produceTimeoutMs, pollAutomatically: false });
  return {
    ctx,
    running,
    config: config.right,
    url: (siteId) => `http://127.0.0.1:${running.server.port}/api/v1/sites/${siteId}/meter-readings`,
    stop: async () => {
      await running.stop();
      await ctx.pool.end().catch(() => undefined);
    },
  };
};

export interface RejectionRecord {
  rejectionId: string;
  siteId: string;
  meterId: string | null;
  source: string;
  raw: Buffer;
  problems: string[];
  httpStatus: number | null;
  receivedAt: number;
}

export const rawOf = (r: RejectionRecord): string => Buffer.from(r.raw).toString('utf8');
