import { createHash } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { signature, signedHeaders, verifyApiKey, verifySignature } from './auth';

const hmac = { type: 'hmac-sha256' as const, secrets: ['old-secret-1', 'new-secret-2'], signatureHeader: 'x-webhook-signature', timestampHeader: 'x-webhook-timestamp', toleranceSeconds: 300 };
const now = 1_764_000_000_000;

describe('push authentication', () => {
  it('accepts any configured API key, plain or as sha256', () => {
    const auth = { type: 'api-key' as const, header: 'x-api-key', keys: ['plain-key-1', `sha256:${createHash('sha256').update('hashed-key-2').digest('hex')}`] };
    expect(E.isRight(verifyApiKey(auth, { 'x-api-key': 'plain-key-1' }))).toBe(true);
    expect(E.isRight(verifyApiKey(auth, { 'x-api-key': 'hashed-key-2' }))).toBe(true);
    expect(verifyApiKey(auth, { 'x-api-key': 'plain-key' })).toEqual(E.left({ reason: 'invalid', message: 'invalid x-api-key' }));
    expect(verifyApiKey(auth, {})).toEqual(E.left({ reason: 'missing', message: 'missing x-api-key header' }));
  });

  it('verifies HMAC-SHA256 over "<timestamp>.<raw body>" with any configured secret (rotation)', () => {
    const body = Buffer.from('{"a":1}');
    const ts = Math.floor(now / 1000);
    expect(signature('s', ts, body)).toBe(createHash('sha256').update('x').digest('hex').length === 64 ? signature('s', String(ts), '{"a":1}') : '');
    for (const secret of hmac.secrets) expect(E.isRight(verifySignature(hmac, signedHeaders({ secret }, body, now), body, now))).toBe(true);
    const h = signedHeaders({ secret: 'new-secret-2' }, body, now);
    expect(E.isRight(verifySignature(hmac, { ...h, 'x-webhook-signature': h['x-webhook-signature']!.slice(7) }, body, now))).toBe(true);
    expect(verifySignature(hmac, h, Buffer.from('{"a":2}'), now)).toEqual(E.left({ reason: 'invalid', message: 'x-webhook-signature does not match the body' }));
    expect(verifySignature(hmac, { ...h, 'x-webhook-signature': 'sha256=zz' }, body, now)).toMatchObject(E.left({ reason: 'invalid' }));
  });

  it('refuses timestamps outside the window in both directions', () => {
    const body = Buffer.from('{}');
    expect(E.isRight(verifySignature(hmac, signedHeaders({ secret: 'new-secret-2' }, body, now - 299_000), body, now))).toBe(true);
    expect(verifySignature(hmac, signedHeaders({ secret: 'new-secret-2' }, body, now - 301_000), body, now)).toMatchObject(E.left({ reason: 'expired' }));
    expect(verifySignature(hmac, signedHeaders({ secret: 'new-secret-2' }, body, now + 301_000), body, now)).toMatchObject(E.left({ reason: 'expired' }));
  });
});
