import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bearerMatches, loadOrCreateToken, resolveToken, tokenFile } from './internal-token';
import { createAdmission, retryAfterSeconds } from './admission';
import { createCredentialCache, limitChecks } from './credential-cache';

test('a token is generated once, private to the user, and then reused', () => {
  const home = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gw-token-')), 'nested');
  const a = loadOrCreateToken(home);
  expect(fs.statSync(tokenFile(home)).mode & 0o777).toBe(0o600);
  expect(loadOrCreateToken(home)).toBe(a);
  expect(resolveToken('configured', home)).toBe('configured');
  expect(fs.readdirSync(home)).toEqual([path.basename(tokenFile(home))]);
});

test('bearer check', () => {
  expect(bearerMatches('Bearer s3cret', 's3cret')).toBe(true);
  expect(bearerMatches('Bearer s3cre', 's3cret')).toBe(false);
  expect(bearerMatches('bearer s3cret', 's3cret')).toBe(false);
  expect(bearerMatches(undefined, 's3cret')).toBe(false);
  expect(bearerMatches('Bearer ', '')).toBe(false);
});

test('admission: concurrency slots, a bounded line, refusal beyond it', async () => {
  const adm = createAdmission(2, 1, 60000);
  const r1 = (await adm.enter())!;
  await adm.enter();
  const third = adm.enter();
  expect(await adm.enter()).toBeUndefined();
  expect([adm.active, adm.waiting]).toEqual([2, 1]);
  r1();
  r1();
  const r3 = (await third)!;
  expect([adm.active, adm.waiting]).toEqual([2, 0]);
  r3();
  expect(adm.active).toBe(1);
});

test('admission: nobody waits longer than the limit', async () => {
  jest.useFakeTimers();
  try {
    const adm = createAdmission(1, 5, 1000);
    const held = (await adm.enter())!;
    const waiting = adm.enter();
    jest.advanceTimersByTime(1001);
    expect(await waiting).toBeUndefined();
    expect([adm.active, adm.waiting]).toEqual([1, 0]);
    held();
    expect(adm.active).toBe(0);
  } finally {
    jest.useRealTimers();
  }
});

test('Retry-After spreads over [base, 2 x base]', () => {
  expect(retryAfterSeconds(5, () => 0)).toBe(5);
  expect(retryAfterSeconds(5, () => 0.999)).toBe(10);
});

test('credential cache: one verification per secret until the TTL passes; failures not cached', async () => {
  let now = 0;
  let calls = 0;
  const check = createCredentialCache(async (pw) => (calls++, pw === 'right'), 1000, () => now);
  expect(await Promise.all([check('right', 'h'), check('right', 'h')])).toEqual([true, true]);
  expect(calls).toBe(1);
  expect(await check('right', 'h')).toBe(true);
  expect(calls).toBe(1);
  expect(await check('right', 'h2')).toBe(true);
  expect(calls).toBe(2);
  expect(await check('wrong', 'h')).toBe(false);
  expect(await check('wrong', 'h')).toBe(false);
  expect(calls).toBe(4);
  now = 1001;
  expect(await check('right', 'h')).toBe(true);
  expect(calls).toBe(5);
});

test('password checks: at most `slots` at once, the rest wait in line; a full line fails the check', async () => {
  let running = 0;
  let most = 0;
  const opened: Array<() => void> = [];
  const slow = (pw: string) =>
    new Promise<boolean>((resolve) => {
      running++;
      most = Math.max(most, running);
      opened.push(() => {
        running--;
        resolve(pw === 'right');
      });
    });
  const check = limitChecks(slow, createAdmission(2, 2, 60000));
  const checks = [check('right', 'a'), check('wrong', 'b'), check('right', 'c'), check('right', 'd')];
  await expect(check('right', 'e')).rejects.toThrow('password checks saturated');
  await new Promise((r) => setImmediate(r));
  expect(running).toBe(2);
  while (opened.length > 0) {
    opened.shift()!();
    await new Promise((r) => setImmediate(r));
  }
  expect(await Promise.all(checks)).toEqual([true, false, true, true]);
  expect(most).toBe(2);
});
