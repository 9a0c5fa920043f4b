/** A minimal DER reader: enough of X.690 to read the parts of X.509 certificates and CRLs that node's crypto does not
 *  expose (a certificate's keyUsage bits and subject attributes, a CRL's revoked serial numbers). Throws DerError on
 *  malformed input; callers turn that into an Either. */
export class DerError extends Error {}

export interface Tlv {
  readonly tag: number;
  /** The whole element, header included (what a signature covers). */
  readonly bytes: Buffer;
  readonly content: Buffer;
}

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Context-specific constructed tag [n] (e.g. a certificate's [3] extensions). */
export const contextTag = (n: number) => 0xa0 + n;

/** The element starting at `offset`. */
export const readTlv = (buf: Buffer, offset = 0): Tlv => {
  if (offset + 2 > buf.length) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not used by X.509');
  let len = buf[offset + 1]!;
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || offset + 2 + n > buf.length) throw new DerError('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new DerError('element longer than its container');
  return { tag, bytes: buf.subarray(offset, end), content: buf.subarray(offset + header, end) };
};

/** The elements inside a constructed element. */
export const childrenOf = (tlv: Tlv): Tlv[] => {
  const out: Tlv[] = [];
  let at = 0;
  while (at < tlv.content.length) {
    const c = readTlv(tlv.content, at);
    out.push(c);
    at += c.bytes.length;
  }
  return out;
};

export const expectTag = (tlv: Tlv | undefined, tag: number, what: string): Tlv => {
  if (!tlv || tlv.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got ${tlv ? `0x${tlv.tag.toString(16)}` : 'nothing'}`);
  return tlv;
};

export const oidOf = (tlv: Tlv): string => {
  const c = expectTag(tlv, Tag.oid, 'object identifier').content;
  if (c.length === 0) throw new DerError('empty object identifier');
  const parts = [Math.floor(c[0]! / 40), c[0]! % 40];
  let v = 0;
  for (let i = 1; i < c.length; i++) {
    v = v * 128 + (c[i]! & 0x7f);
    if (!(c[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
};

/** A serial number as node's X509Certificate.serialNumber writes it: upper-case hex without leading zeros. */
export const serialHex = (hex: string): string => hex.toUpperCase().replace(/^0+(?=.)/, '');

export const integerHex = (tlv: Tlv): string => serialHex(expectTag(tlv, Tag.integer, 'integer').content.toString('hex'));

/** Text of a directory string (the string types X.520 attributes use). */
export const stringOf = (tlv: Tlv): string => {
  switch (tlv.tag) {
    case Tag.utf8String:
    case Tag.printableString:
    case Tag.ia5String:
      return tlv.content.toString('utf8');
    case Tag.teletexString:
      return tlv.content.toString('latin1');
    case Tag.bmpString: {
      const le = Buffer.from(tlv.content);
      le.swap16();
      return le.toString('utf16le');
    }
    default:
      throw new DerError(`not a directory string (tag 0x${tlv.tag.toString(16)})`);
  }
};

export const timeOf = (tlv: Tlv): Date => {
  const s = tlv.content.toString('latin1');
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m || (tlv.tag === Tag.utcTime) !== (m[1]!.length === 2)) throw new DerError(`bad time ${JSON.stringify(s)}`);
  const y = m[1]!.length === 2 ? (Number(m[1]) < 50 ? 2000 : 1900) + Number(m[1]) : Number(m[1]);
  return new Date(Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
};

/** Blocks of a PEM file with the given label, as DER; the input itself when it holds no PEM at all (a DER file). */
export const pemBlocks = (file: Buffer, label: string): Buffer[] => {
  const text = file.toString('latin1');
  if (!text.includes('-----BEGIN ')) return [file];
  const re = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
};
