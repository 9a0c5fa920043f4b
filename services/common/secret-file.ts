import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A random secret kept in a file of its own (mode 0600), made once and shared by every local process that reads it.
 *  Written to a private temporary file and linked into place, so two processes starting together never read a
 *  half-written file: the loser of the link reads the winner's secret. */
const readSecret = (file: string): Buffer | undefined => {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return text.length > 0 ? Buffer.from(text, 'base64url') : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
};

export const loadOrCreateSecret = (file: string, bytes = 32): Buffer => {
  const existing = readSecret(file);
  if (existing) return existing;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, randomBytes(bytes).toString('base64url'), { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const secret = readSecret(file);
  if (!secret) throw new Error(`${file} is empty: delete it to make a new one`);
  return secret;
};
