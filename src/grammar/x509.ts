/**
 * A minimal X.509 v3 certificate writer (DER, RFC 5280) for `serve --tls`'s self-signed
 * certificate: one subject CN, subjectAltName DNS names and IP addresses, an ECDSA P-256 key
 * signed with SHA-256. Pure: the caller supplies the public key (SPKI DER) and the signer.
 */

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One DER TLV. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** A positive INTEGER from big-endian bytes. */
function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && b[1]! < 0x80) b = b.subarray(1);
  if (b[0]! >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

/** UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));

export interface CertificateRequest {
  /** The subject's (and issuer's) common name. */
  commonName: string;
  /** subjectAltName entries: DNS names and IPv4 addresses. */
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  /** Random serial number bytes (up to 20). */
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo, DER (an EC P-256 key). */
  publicKeySpki: Buffer;
  /** Signs the TBSCertificate with the matching private key (ECDSA SHA-256, DER signature). */
  sign(tbs: Buffer): Buffer;
}

/** The certificate, DER. */
export function selfSignedCertificate(r: CertificateRequest): Buffer {
  const name = sequence(set(sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(r.commonName, 'utf8')))));
  const altNames = sequence(...r.dnsNames.map((n) => tlv(0x82, Buffer.from(n, 'ascii'))), ...r.ipAddresses.map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))));
  const extensions = tlv(
    0xa3,
    sequence(
      sequence(oid('2.5.29.17'), tlv(0x04, altNames)),
      // basicConstraints CA:FALSE, keyUsage digitalSignature, extKeyUsage serverAuth.
      sequence(oid('2.5.29.19'), tlv(0x04, sequence())),
      sequence(oid('2.5.29.15'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, tlv(0x03, Buffer.from([0x07, 0x80])))),
      sequence(oid('2.5.29.37'), tlv(0x04, sequence(oid('1.3.6.1.5.5.7.3.1')))),
    ),
  );
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(r.serial),
    ECDSA_WITH_SHA256,
    name,
    sequence(time(r.notBefore), time(r.notAfter)),
    name,
    r.publicKeySpki,
    extensions,
  );
  const signature = r.sign(tbs);
  return sequence(tbs, ECDSA_WITH_SHA256, tlv(0x03, Buffer.from([0]), signature));
}

/** PEM armour. */
export function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}
