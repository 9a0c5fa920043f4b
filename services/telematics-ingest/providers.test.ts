import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import { decodeProviders, loadProviders } from './providers';
import { decodeTelematicsConfig } from './config';

describe('provider configuration', () => {
  it('has a local default with the three push shapes and a pull provider', () => {
    const p = loadProviders(undefined);
    if (E.isLeft(p)) throw new Error(p.left.join());
    expect([...p.right.keys()]).toEqual(['voltstream', 'webhook-demo', 'fleet-demo', 'pull-demo']);
    expect(p.right.get('webhook-demo')).toMatchObject({ shape: 'consumer-car', push: { type: 'hmac-sha256', signatureHeader: 'x-webhook-signature', timestampHeader: 'x-webhook-timestamp', toleranceSeconds: 300 } });
    expect(p.right.get('voltstream')?.push).toMatchObject({ type: 'api-key', header: 'x-api-key' });
    expect(p.right.get('pull-demo')).toMatchObject({ push: null, pull: { intervalMs: 10000, cursorParam: 'fromVersion', cursorField: 'toVersion' } });
  });

  it('reads a file and lists every problem of a bad one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'providers-'));
    const file = path.join(dir, 'p.json');
    fs.writeFileSync(file, JSON.stringify({ providers: { acme: { shape: 'fleet-diagnostics', push: { type: 'api-key', header: 'X-Acme-Key', keys: ['0123456789'] } } } }));
    expect(loadProviders(file)).toMatchObject(E.right(new Map([['acme', { name: 'acme', push: { header: 'x-acme-key' } }]])));
    const bad = decodeProviders({ providers: { 'Bad Name': { shape: 'nope', push: { type: 'api-key', keys: ['short'] } } } });
    expect(E.isLeft(bad) ? bad.left : []).toEqual([
      expect.stringMatching(/^providers\.Bad Name\..*shape: expected "voltstream" \| "consumer-car" \| "fleet-diagnostics", got "nope"$/),
      expect.stringMatching(/^providers\.Bad Name\..*keys\.0: expected secret of at least 8 characters, got "short"$/),
    ]);
    const badName = decodeProviders({ providers: { 'Bad Name': { shape: 'voltstream' } } });
    expect(badName).toEqual(E.left(['providers.Bad Name: expected provider name ([a-z0-9_-], at most 64)']));
    fs.writeFileSync(file, '{');
    expect(loadProviders(file)).toMatchObject(E.left([expect.stringContaining('not JSON')]));
    fs.rmSync(dir, { recursive: true });
  });

  it('decodes its environment', () => {
    expect(decodeTelematicsConfig({ VOLTSTREAM_MODE: 'development' })).toEqual(E.right({ port: undefined, providersFile: undefined, produceTimeoutMs: 5000, pull: true, jumpChecks: true }));
    expect(decodeTelematicsConfig({ VOLTSTREAM_MODE: 'development', TELEMATICS_STANDALONE: '1', TELEMATICS_PULL: '0' })).toMatchObject(E.right({ port: 8082, pull: false }));
    expect(decodeTelematicsConfig({ VOLTSTREAM_MODE: 'development', TELEMATICS_PORT: '9123', TELEMATICS_JUMP_CHECKS: 'false' })).toMatchObject(E.right({ port: 9123, jumpChecks: false }));
    expect(E.isLeft(decodeTelematicsConfig({ TELEMATICS_PORT: 'eighty' }))).toBe(true);
  });
});
