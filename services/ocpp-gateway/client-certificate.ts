/** What security profile 3 asks of a charger's client certificate beyond a chain to the configured CA (which TLS
 *  checks): OCPP 1.6 security whitepaper (edition 3) and OCPP 2.0.1 part 2 A00 "certificate properties": the subject's
 *  commonName is the charger's identity (the id in the URL), the key is for TLS client authentication (extended key
 *  usage clientAuth) and, where a keyUsage extension is present, for digital signatures. Pure. */
import * as E from 'fp-ts/Either';
import { childrenOf, contextTag, DerError, expectTag, oidOf, readTlv, stringOf, Tag, Tlv } from './der';

const OID = {
  commonName: '2.5.4.3',
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export interface CertificateFacts {
  readonly commonNames: readonly string[];
  /** OIDs of the extended key usage extension; undefined when the certificate has none. */
  readonly extendedKeyUsage: readonly string[] | undefined;
  /** digitalSignature bit of the keyUsage extension; undefined when the certificate has none. */
  readonly digitalSignature: boolean | undefined;
}

const attributeValues = (name: Tlv, oid: string): string[] =>
  childrenOf(expectTag(name, Tag.sequence, 'name')).flatMap((rdn) =>
    childrenOf(expectTag(rdn, Tag.set, 'relative distinguished name'))
      .map((atv) => childrenOf(expectTag(atv, Tag.sequence, 'attribute')))
      .filter(([type]) => type !== undefined && oidOf(type) === oid)
      .map(([, value]) => stringOf(value!)),
  );

/** The facts of a DER certificate that the checks below need. */
export const certificateFacts = (der: Buffer): E.Either<string, CertificateFacts> => {
  try {
    const [tbs] = childrenOf(expectTag(readTlv(der), Tag.sequence, 'certificate'));
    const fields = childrenOf(expectTag(tbs, Tag.sequence, 'tbsCertificate'));
    const v = fields[0]?.tag === contextTag(0) ? 1 : 0; // version is optional (v1 certificates leave it out)
    const subject = fields[v + 4]!;
    const extensions = fields.find((f) => f.tag === contextTag(3));
    let extendedKeyUsage: string[] | undefined;
    let digitalSignature: boolean | undefined;
    for (const ext of extensions ? childrenOf(expectTag(childrenOf(extensions)[0], Tag.sequence, 'extensions')) : []) {
      const parts = childrenOf(expectTag(ext, Tag.sequence, 'extension'));
      const id = oidOf(parts[0]!);
      const value = readTlv(expectTag(parts[parts.length - 1], Tag.octetString, 'extension value').content);
      if (id === OID.extendedKeyUsage) extendedKeyUsage = childrenOf(expectTag(value, Tag.sequence, 'extendedKeyUsage')).map(oidOf);
      if (id === OID.keyUsage) {
        const bits = expectTag(value, Tag.bitString, 'keyUsage').content;
        digitalSignature = bits.length > 1 && (bits[1]! & 0x80) !== 0;
      }
    }
    return E.right({ commonNames: attributeValues(subject, OID.commonName), extendedKeyUsage, digitalSignature });
  } catch (e) {
    if (e instanceof DerError || e instanceof TypeError) return E.left(`unreadable client certificate: ${e.message}`);
    throw e;
  }
};

/** Right when the certificate may identify `chargePointId`; Left names the first rule it breaks. */
export const checkClientCertificate = (facts: CertificateFacts, chargePointId: string): E.Either<string, void> => {
  const eku = facts.extendedKeyUsage;
  if (!eku) return E.left('client certificate has no extended key usage; clientAuth is required');
  if (!eku.includes(OID.clientAuth)) return E.left(`client certificate's extended key usage (${eku.join(', ')}) does not include clientAuth`);
  if (facts.digitalSignature === false) return E.left('client certificate has a keyUsage without digitalSignature');
  if (facts.commonNames.length !== 1) return E.left(`client certificate subject has ${facts.commonNames.length} commonNames; exactly one, the charge point id, is required`);
  const cn = facts.commonNames[0]!;
  if (cn !== chargePointId) return E.left(`client certificate CN ${JSON.stringify(cn.slice(0, 128))} does not match ${chargePointId}`);
  return E.right(undefined);
};
