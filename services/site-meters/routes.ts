import { ServerResponse } from 'node:http';
import { HttpRoute, sendJson, sendProblem } from '../common/http';
import { readPushedBody } from '../telematics-ingest/pushed-body';
import { RetryAfterSeconds } from '../telematics-ingest/routes';
import { PushOutcome, SiteMeterIngest } from './ingest';
import { SiteMeters } from './sites';

/** `POST /api/v1/sites/{siteId}/meter-readings`: one reading or `{ "readings": [...] }` (reading.ts), authenticated as
 *  the site's configuration says (API key or HMAC signature, like a telematics provider: services/telematics-ingest/auth.ts).
 *  Answers:
 *  - 200 every reading accepted or duplicate; 207 some refused, the others written; body
 *    `{ accepted, duplicates, rejected, results: [{ item, status, readingId?, problems? }] }`;
 *  - 400 problem+json: the body is not JSON or not a reading, or every reading refused; `problems` lists each reason
 *    as `<item>: <problem>`. Every refused reading is kept on site.meter-rejected;
 *  - 401 authentication; 404 unknown site or a site without push; 413 body over 1 MiB;
 *    503 + Retry-After when Kafka did not acknowledge in time (nothing was acknowledged: retry). */
export const SiteMeterPath = '/api/v1/sites/{siteId}/meter-readings';

const respond = (res: ServerResponse, outcome: PushOutcome): void => {
  switch (outcome.kind) {
    case 'unavailable':
      return sendProblem(res, 503, 'Kafka unavailable: nothing was taken, retry later', [outcome.message], { 'Retry-After': String(RetryAfterSeconds) });
    case 'refused':
      return sendProblem(res, 400, 'payload refused', outcome.problems);
    case 'processed': {
      const count = (s: string) => outcome.items.filter((i) => i.status === s).length;
      const rejected = outcome.items.filter((i) => i.status === 'rejected');
      if (rejected.length === outcome.items.length)
        return sendProblem(res, 400, rejected.length === 1 ? 'reading refused' : 'every reading refused', rejected.flatMap((i) => (i.problems ?? []).map((p) => `${i.item}: ${p}`)));
      return sendJson(res, rejected.length ? 207 : 200, { accepted: count('accepted'), duplicates: count('duplicate'), rejected: rejected.length, results: outcome.items });
    }
  }
};

export const createSiteMeterRoutes = (ingest: SiteMeterIngest, config: SiteMeters, clock: () => number = Date.now): HttpRoute[] => [
  {
    method: 'POST',
    path: SiteMeterPath,
    scope: 'self',
    summary: "Readings of a site's grid-connection meter and sub-meters (single or batch), authenticated per site (API key or HMAC signature)",
    handle: async (req, res, params) => {
      const site = config.sites.get(params.siteId ?? '');
      if (!site?.push) {
        req.resume();
        return sendProblem(res, 404, 'unknown site', [`no site '${params.siteId ?? ''}' takes pushed meter readings`]);
      }
      const pushed = await readPushedBody(req, res, site.push, clock, (reason) => ingest.metrics.authFailures.inc({ site: site.siteId, reason }));
      if (pushed) respond(res, await ingest.push(site, pushed.body, pushed.receivedAt));
    },
  },
];
