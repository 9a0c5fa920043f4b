/** Follows the CRL file (OCPP_TLS_CRL): read at start (a file that is missing, unreadable or not signed by the CA
 *  bundle stops the gateway from starting), then checked every `checkEveryS` and read again when its modification
 *  time, size or inode changed. A new list that cannot be used is logged and the last good one kept: a broken CRL job
 *  must not let revoked chargers back in, nor lock every charger out. */
import * as fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { Logger } from '../common/log';
import { Crl, parseCrls } from './crl';

export interface CrlFollower {
  current(): readonly Crl[];
  stop(): void;
}

const stamp = (s: fs.Stats) => `${s.ino}:${s.size}:${s.mtimeMs}`;

const read = (path: string, cas: readonly X509Certificate[]): E.Either<string, Crl[]> => {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    return E.left(`CRL file ${path} unreadable: ${(e as Error).message}`);
  }
  return E.mapLeft((m: string) => `CRL file ${path}: ${m}`)(parseCrls(bytes, cas));
};

export const followCrl = (path: string, cas: readonly X509Certificate[], checkEveryS: number, log: Logger, onChange: (crls: readonly Crl[]) => void): E.Either<string, CrlFollower> => {
  let seen: string;
  try {
    seen = stamp(fs.statSync(path));
  } catch (e) {
    return E.left(`CRL file ${path} unreadable: ${(e as Error).message}`);
  }
  const first = read(path, cas);
  if (E.isLeft(first)) return first;
  let crls: readonly Crl[] = first.right;
  const stale = () => {
    const late = crls.filter((c) => c.nextUpdate && c.nextUpdate.getTime() < Date.now());
    if (late.length) log.warn('CRL past its nextUpdate: still used, publish a fresh one', { path, issuers: late.map((c) => c.issuer.subject.replace(/\n/g, ', ')) });
  };
  stale();
  log.info('CRL loaded', { path, lists: crls.length, revoked: crls.reduce((n, c) => n + c.revoked.size, 0) });

  const timer = setInterval(() => {
    fs.stat(path, (err, s) => {
      if (err) return log.error('CRL file unreadable; keeping the last good list', { path, err });
      if (stamp(s) === seen) return;
      seen = stamp(s);
      const next = read(path, cas);
      if (E.isLeft(next)) return log.error('new CRL not usable; keeping the last good list', { path, reason: next.left });
      crls = next.right;
      log.info('CRL reloaded', { path, lists: crls.length, revoked: crls.reduce((n, c) => n + c.revoked.size, 0) });
      stale();
      onChange(crls);
    });
  }, checkEveryS * 1000);
  timer.unref();
  return E.right({ current: () => crls, stop: () => clearInterval(timer) });
};
