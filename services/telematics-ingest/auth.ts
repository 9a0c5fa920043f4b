import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { IncomingHttpHeaders } from 'node:http';
import * as E from 'fp-ts/Either';
import { PushAuth } from './providers';

/** Push authentication, per provider (services/telematics-ingest/providers.ts):
 *  - api-key: the key in a header (default `X-Api-Key`). Configured keys are plain (dev) or `sha256:<hex>`; both sides
 *    are compared as SHA-256 digests with timingSafeEqual, so neither the key nor its length leaks through timing.
 *  - hmac-sha256 (webhooks): `X-Webhook-Signature: sha256=<hex>` over `<timestamp>.<raw body>`, with
 *    `X-Webhook-Timestamp: <unix seconds>` within ±toleranceSeconds (default 300) of our clock. An old signature
 *    replayed later fails the window; a replay inside the window can only repeat readings already taken, which the
 *    duplicate check absorbs (same provider reading id: accepted, written once). */
export type AuthFailure = 'missing' | 'invalid' | 'expired';

export interface AuthProblem {
  readonly reason: AuthFailure;
  readonly message: string;
}

const sha256 = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
};

const keyDigest = (configured: string): Buffer => (configured.startsWith('sha256:') ? Buffer.from(configured.slice(7), 'hex') : sha256(configured));

export const verifyApiKey = (auth: Extract<PushAuth, { type: 'api-key' }>, headers: IncomingHttpHeaders): E.Either<AuthProblem, void> => {
  const given = header(headers, auth.header);
  if (!given) return E.left({ reason: 'missing', message: `missing ${auth.header} header` });
  const digest = sha256(given);
  let ok = false;
  for (const k of auth.keys) {
    const d = keyDigest(k);
    if (d.length === digest.length && timingSafeEqual(d, digest)) ok = true;
  }
  return ok ? E.right(undefined) : E.left({ reason: 'invalid', message: `invalid ${auth.header}` });
};

export const signature = (secret: string, timestampSeconds: number | string, body: Buffer | string): string =>
  createHmac('sha256', secret).update(`${timestampSeconds}.`).update(body).digest('hex');

/** The headers a webhook provider sends with `body` (for tests, the simulator and provider documentation). */
export const signedHeaders = (
  auth: { secret: string; signatureHeader?: string; timestampHeader?: string },
  body: Buffer | string,
  nowMs = Date.now(),
): Record<string, string> => {
  const ts = Math.floor(nowMs / 1000);
  return {
    [auth.timestampHeader ?? 'x-webhook-timestamp']: String(ts),
    [auth.signatureHeader ?? 'x-webhook-signature']: `sha256=${signature(auth.secret, ts, body)}`,
  };
};

export const verifySignature = (
  auth: Extract<PushAuth, { type: 'hmac-sha256' }>,
  headers: IncomingHttpHeaders,
  body: Buffer,
  nowMs: number,
): E.Either<AuthProblem, void> => {
  const ts = header(headers, auth.timestampHeader);
  const sig = header(headers, auth.signatureHeader);
  if (!ts || !sig) return E.left({ reason: 'missing', message: `missing ${!ts ? auth.timestampHeader : auth.signatureHeader} header` });
  if (!/^\d{1,12}$/.test(ts)) return E.left({ reason: 'invalid', message: `${auth.timestampHeader}: expected unix seconds` });
  const skew = Math.abs(nowMs / 1000 - Number(ts));
  if (skew > auth.toleranceSeconds) return E.left({ reason: 'expired', message: `${auth.timestampHeader} is ${Math.round(skew)} s from our clock (at most ${auth.toleranceSeconds} s): replayed or stale signature` });
  const hex = sig.startsWith('sha256=') ? sig.slice(7) : sig;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return E.left({ reason: 'invalid', message: `${auth.signatureHeader}: expected sha256=<64 hex digits>` });
  const given = Buffer.from(hex, 'hex');
  let ok = false;
  for (const secret of auth.secrets) {
    if (timingSafeEqual(Buffer.from(signature(secret, ts, body), 'hex'), given)) ok = true;
  }
  return ok ? E.right(undefined) : E.left({ reason: 'invalid', message: `${auth.signatureHeader} does not match the body` });
};

export const verifyPush = (auth: PushAuth, headers: IncomingHttpHeaders, body: Buffer, nowMs: number): E.Either<AuthProblem, void> =>
  auth.type === 'api-key' ? verifyApiKey(auth, headers) : verifySignature(auth, headers, body, nowMs);
