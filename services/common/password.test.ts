import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentialPepper } from './credential-pepper';
import { hashChargerSecret, hashSecret, pepperId, schemeOf, verifyChargerSecret, verifySecret } from './password';

const pepper = Buffer.from('a-pepper-of-at-least-thirty-two-bytes!!');

test('a charger password hash opens with its password under its pepper only', () => {
  const stored = hashChargerSecret('s3cret-of-the-charger', pepper);
  expect(schemeOf(stored)).toBe('hmac-sha256');
  expect(stored).not.toContain('s3cret');
  expect(stored.split('$')[1]).toBe(pepperId(pepper));
  expect(verifyChargerSecret('s3cret-of-the-charger', stored, pepper)).toBe(true);
  expect(verifyChargerSecret('s3cret-of-the-chargeR', stored, pepper)).toBe(false);
  expect(verifyChargerSecret('s3cret-of-the-charger', stored, Buffer.from('another-pepper-of-thirty-two-bytes-too'))).toBe(false);
  // salted: one password, two hashes
  expect(hashChargerSecret('s3cret-of-the-charger', pepper)).not.toBe(stored);
});

test('malformed or foreign hashes never open', async () => {
  for (const stored of ['', 'hmac-sha256', 'hmac-sha256$$$', `hmac-sha256$${pepperId(pepper)}$AAAA$`, 'plain$x$y', 'scrypt$x$y']) {
    expect(verifyChargerSecret('x', stored, pepper)).toBe(false);
  }
  expect(schemeOf('md5$x$y')).toBe('unknown');
  expect(await verifySecret('x', hashChargerSecret('x', pepper))).toBe(false);
});

test('scrypt hashes (API keys, and charger passwords stored before peppering) still verify', async () => {
  const stored = await hashSecret('an-api-key-secret');
  expect(schemeOf(stored)).toBe('scrypt');
  expect(await verifySecret('an-api-key-secret', stored)).toBe(true);
  expect(await verifySecret('an-api-key-secreT', stored)).toBe(false);
});

test('the pepper: the configured one, else one made once under the home directory, readable by its owner only', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pepper-'));
  try {
    const made = credentialPepper(home, {});
    expect(made.length).toBeGreaterThanOrEqual(32);
    expect(credentialPepper(home, {})).toEqual(made);
    expect(fs.statSync(path.join(home, 'credential-pepper')).mode & 0o777).toBe(0o600);
    expect(credentialPepper(home, { VOLTSTREAM_CREDENTIAL_PEPPER: 'x'.repeat(32) })).toEqual(Buffer.from('x'.repeat(32)));
    expect(() => credentialPepper(home, { VOLTSTREAM_CREDENTIAL_PEPPER: 'short' })).toThrow(/at least 32/);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
