import { ServerResponse } from 'node:http';
import { HttpRoute, sendJson, sendProblem } from '../common/http';
import { readPushedBody } from './pushed-body';
import { Ingest, IngestOutcome } from './ingest';

/** `POST /api/v1/telematics/{provider}`: one reading or a batch in the provider's shape.
 *  Answers:
 *  - 200 every item accepted, duplicate or ignored; 207 some items rejected, the others written; body
 *    `{ accepted, duplicates, rejected, ignored, results: [{ item, status, readingId?, problems? }] }`;
 *  - 422 problem+json: every item (or the payload as a whole) rejected, `problems` lists each one as `<item>: <problem>`;
 *  - 400 body not JSON; 401 authentication (API key or webhook signature); 404 unknown or pull-only provider;
 *    413 body over 1 MiB; 503 + Retry-After when Kafka did not acknowledge in time (nothing was acknowledged: retry).
 *  The route is scope 'self': each provider authenticates as configured (auth.ts), not with a Voltstream API key. */
export const TelematicsPath = '/api/v1/telematics/{provider}';
export const RetryAfterSeconds = 5;

const respond = (res: ServerResponse, outcome: IngestOutcome): void => {
  switch (outcome.kind) {
    case 'unavailable':
      return sendProblem(res, 503, 'Kafka unavailable: nothing was taken, retry later', [outcome.message], { 'Retry-After': String(RetryAfterSeconds) });
    case 'refused':
      return sendProblem(res, outcome.status, outcome.status === 400 ? 'body is not JSON' : 'payload refused', outcome.problems);
    case 'processed': {
      const count = (s: string) => outcome.items.filter((i) => i.status === s).length;
      const rejected = outcome.items.filter((i) => i.status === 'rejected');
      if (rejected.length > 0 && rejected.length === outcome.items.length)
        return sendProblem(res, 422, outcome.items.length === 1 ? 'reading refused' : 'every reading refused', rejected.flatMap((i) => (i.problems ?? []).map((p) => `${i.item}: ${p}`)));
      return sendJson(res, rejected.length ? 207 : 200, {
        accepted: count('accepted'),
        duplicates: count('duplicate'),
        rejected: rejected.length,
        ignored: count('ignored'),
        results: outcome.items,
      });
    }
  }
};

export const createTelematicsRoutes = (ingest: Ingest, clock: () => number = Date.now): HttpRoute[] => [
  {
    method: 'POST',
    path: TelematicsPath,
    scope: 'self',
    summary: 'Telematics readings of one provider (single or batch), authenticated per provider (API key or HMAC signature)',
    handle: async (req, res, params) => {
      const provider = ingest.providers.get(params.provider ?? '');
      if (!provider?.push) {
        req.resume();
        return sendProblem(res, 404, 'unknown telematics provider', [`no push provider '${params.provider ?? ''}' is configured`]);
      }
      const pushed = await readPushedBody(req, res, provider.push, clock, (reason) => ingest.metrics.authFailures.inc({ provider: provider.name, reason }));
      if (pushed) respond(res, await ingest.ingest(provider, pushed.body, pushed.receivedAt));
    },
  },
];

