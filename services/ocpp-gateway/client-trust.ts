/** Security profile 3 at the gateway: the CA bundle charger certificates must chain to (TLS checks the chain), the
 *  certificate rules of client-certificate.ts, the CRL (revocation.ts), and the connections opened with a certificate,
 *  so that one whose certificate a new CRL revokes is closed. */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { TLSSocket } from 'node:tls';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { Logger } from '../common/log';
import { certificateFacts, checkClientCertificate } from './client-certificate';
import { TlsSettings, tlsProblem } from './config';
import { revokedIn } from './crl';
import { pemBlocks } from './der';
import { CrlFollower, followCrl } from './revocation';

export interface ClientTrust {
  /** Right with the peer's certificate chain (leaf first) when its certificate may identify `chargePointId`. The
   *  chain to the CA is TLS's check (`socket.authorized`); this is everything after it. */
  verify(socket: TLSSocket, chargePointId: string): E.Either<string, readonly X509Certificate[]>;
  /** Calls `onRevoked` (once) when a CRL read later revokes a certificate of `chain`; returns the way to stop watching. */
  watch(chain: readonly X509Certificate[], onRevoked: (reason: string) => void): () => void;
  stop(): void;
}

export const DEFAULT_CRL_CHECK_S = 10;

const chainOf = (socket: TLSSocket): X509Certificate[] => {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let c = socket.getPeerCertificate(true);
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
};

const loadBundle = (path: string): E.Either<string, X509Certificate[]> => {
  try {
    const cas = pemBlocks(fs.readFileSync(path), 'CERTIFICATE').map((der) => new X509Certificate(der));
    return cas.length ? E.right(cas) : E.left(`OCPP_TLS_CA ${path} holds no certificate`);
  } catch (e) {
    return E.left(`OCPP_TLS_CA ${path} unusable: ${(e as Error).message}`);
  }
};

/** Undefined when the gateway serves no profile 3 (no TLS listener, or OCPP_TLS_PROFILE3=off); Left, naming the
 *  setting, when it would serve profile 3 without a usable CA bundle or with an unusable CRL. */
export const loadClientTrust = (tls: TlsSettings | undefined, log: Logger): E.Either<string, ClientTrust | undefined> => {
  const problem = tlsProblem(tls);
  if (problem) return E.left(problem);
  if (!tls || tls.profile3 === false) return E.right(undefined);
  const watched = new Map<number, { chain: readonly X509Certificate[]; onRevoked: (reason: string) => void }>();
  let next = 0;
  const revokeWatched = (crls: Parameters<typeof revokedIn>[0]) => {
    for (const [id, w] of watched) {
      const reason = revokedIn(crls, w.chain);
      if (!reason) continue;
      watched.delete(id);
      w.onRevoked(reason);
    }
  };
  return pipe(
    loadBundle(tls.ca!),
    E.chain((cas) =>
      pipe(
        tls.crl ? followCrl(tls.crl, cas, tls.crlCheckS ?? DEFAULT_CRL_CHECK_S, log, revokeWatched) : E.right<string, CrlFollower | undefined>(undefined),
        E.map((crl): ClientTrust => ({
          verify: (socket, cp) => {
            const chain = chainOf(socket);
            if (!chain.length) return E.left('no client certificate');
            return pipe(
              certificateFacts(chain[0]!.raw),
              E.chain((facts) => checkClientCertificate(facts, cp)),
              E.chain(() => {
                const revoked = crl && revokedIn(crl.current(), chain);
                return revoked ? E.left(revoked) : E.right(chain);
              }),
            );
          },
          watch: (chain, onRevoked) => {
            // A list read between the handshake's check and now.
            const already = crl && revokedIn(crl.current(), chain);
            if (already) {
              onRevoked(already);
              return () => undefined;
            }
            const id = next++;
            watched.set(id, { chain, onRevoked });
            return () => watched.delete(id);
          },
          stop: () => crl?.stop(),
        })),
      ),
    ),
  );
};
