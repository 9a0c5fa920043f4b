/** Certificate revocation lists (RFC 5280 section 5), PEM or DER: parsed, their signatures checked against the
 *  configured CA certificates, and certificates looked up in them. Node's crypto can verify signatures but has no CRL
 *  parser; the TLS `crl` option would only apply to new handshakes (and fails every chain whose intermediate lacks a
 *  CRL), while a revoked charger that is already connected must be found too. Pure apart from signature checks. */
import { verify, X509Certificate } from 'node:crypto';
import * as E from 'fp-ts/Either';
import { childrenOf, DerError, expectTag, integerHex, oidOf, pemBlocks, readTlv, serialHex, Tag, timeOf } from './der';

export interface Crl {
  /** The configured CA whose key signed the list. */
  readonly issuer: X509Certificate;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  /** Revoked serial numbers, as serialHex writes them. */
  readonly revoked: ReadonlySet<string>;
}

/** Signature algorithms of CRLs we can check: the hash node's verify takes (null: the algorithm names its own). */
const signatureHashes: Record<string, string | null> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
  '1.3.101.113': null,
};

const parseOne = (der: Buffer, cas: readonly X509Certificate[]): Crl => {
  const [tbs, algorithm, signature] = childrenOf(expectTag(readTlv(der), Tag.sequence, 'CertificateList'));
  const fields = childrenOf(expectTag(tbs, Tag.sequence, 'tbsCertList'));
  let i = fields[0]?.tag === Tag.integer ? 1 : 0; // version, optional
  i += 2; // signature algorithm, issuer name: the issuer is the CA whose key verifies the signature
  const thisUpdate = timeOf(fields[i++]!);
  const nextUpdate = fields[i] && (fields[i]!.tag === Tag.utcTime || fields[i]!.tag === Tag.generalizedTime) ? timeOf(fields[i++]!) : undefined;
  const entries = fields[i]?.tag === Tag.sequence ? childrenOf(fields[i]!) : [];
  const revoked = new Set(entries.map((e) => integerHex(childrenOf(expectTag(e, Tag.sequence, 'revoked certificate'))[0]!)));

  const algOid = oidOf(childrenOf(expectTag(algorithm, Tag.sequence, 'signatureAlgorithm'))[0]!);
  if (!(algOid in signatureHashes)) throw new DerError(`CRL signature algorithm ${algOid} is not supported (RSA PKCS#1 v1.5, ECDSA or EdDSA are)`);
  const sig = expectTag(signature, Tag.bitString, 'signature').content.subarray(1);
  const issuer = cas.find((ca) => {
    try {
      return verify(signatureHashes[algOid]!, tbs!.bytes, ca.publicKey, sig);
    } catch {
      return false;
    }
  });
  if (!issuer) throw new DerError('CRL is not signed by any certificate of the CA bundle');
  return { issuer, thisUpdate, nextUpdate, revoked };
};

/** Every CRL of a file (PEM may hold several, one per CA). Left when any of them is unreadable or not signed by a
 *  CA of the bundle: a list that cannot be trusted is not used at all. */
export const parseCrls = (file: Buffer, cas: readonly X509Certificate[]): E.Either<string, Crl[]> => {
  const blocks = pemBlocks(file, 'X509 CRL');
  if (blocks.length === 0) return E.left('no CRL in the file (expected PEM "X509 CRL" blocks or one DER CRL)');
  try {
    return E.right(blocks.map((b) => parseOne(b, cas)));
  } catch (e) {
    if (e instanceof DerError || e instanceof TypeError) return E.left(`unusable CRL: ${e.message}`);
    throw e;
  }
};

/** The first certificate of `chain` that a list of its issuer names as revoked, with the list's issuer. */
export const revokedIn = (crls: readonly Crl[], chain: readonly X509Certificate[]): string | undefined => {
  for (const cert of chain) {
    const serial = serialHex(cert.serialNumber);
    for (const crl of crls) {
      if (crl.revoked.has(serial) && cert.checkIssued(crl.issuer) && cert.verify(crl.issuer.publicKey))
        return `certificate serial ${serial} (${cert.subject.replace(/\n/g, ', ')}) is revoked by ${crl.issuer.subject.replace(/\n/g, ', ')}`;
    }
  }
  return undefined;
};
