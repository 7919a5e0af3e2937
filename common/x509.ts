/**
 * A small X.509 v3 certificate issuer on node:crypto: ECDSA P-256 keys, SHA-256 signatures, the
 * DER encoding written out here (RFC 5280 §4.1; X.690 for DER). It makes exactly what a private
 * MQTT deployment needs — a CA, server certificates with DNS/IP subjectAltNames, client
 * certificates naming a device — and nothing else, so the project needs neither an npm PKI
 * library nor the `openssl` binary on the operator's machine (docs/broker.md §Certificates says
 * why P-256 and not ed25519: embedded TLS stacks and OpenSSL builds on gateways all speak it).
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// ---- DER -------------------------------------------------------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, value: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), length(value.length), value]);
const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octetString = (value: Buffer): Buffer => tlv(0x04, value);
const bitString = (value: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), value]));
const utf8 = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
const boolean = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);

/** A non-negative INTEGER, minimal: no leading zero byte unless the high bit needs one. */
function integer(value: Buffer | number): Buffer {
  let bytes = typeof value === 'number' ? Buffer.from([value]) : value;
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) chunk.unshift(0x80 | (rest & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const name = (commonName: string, organization: string): Buffer =>
  sequence(set(sequence(oid(OID.organization), utf8(organization))), set(sequence(oid(OID.commonName), utf8(commonName))));

const extension = (id: string, critical: boolean, value: Buffer): Buffer =>
  sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand `::`, then 8 groups of 16 bits.
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

/** dNSName is [2] IA5String, iPAddress is [7] OCTET STRING, both implicit (RFC 5280 §4.2.1.6). */
const generalName = (entry: string): Buffer => (isIP(entry) ? tlv(0x87, ipBytes(entry)) : tlv(0x82, Buffer.from(entry, 'ascii')));

const keyId = (spki: Buffer): Buffer => createHash('sha256').update(spki).digest().subarray(0, 20);

// ---- issuing -----------------------------------------------------------------------------------

export type CertificateKind = 'ca' | 'server' | 'client';

export interface IssueRequest {
  kind: CertificateKind;
  commonName: string;
  /** DNS names and IP addresses (server certificates). */
  altNames?: readonly string[];
  days: number;
  /** The issuing CA; absent for the self-signed CA itself. */
  issuer?: { certificatePem: string; keyPem: string };
  organization?: string;
  now?: Date;
}

export interface IssuedCertificate {
  certificatePem: string;
  /** PKCS#8, unencrypted: written with mode 0600. */
  keyPem: string;
}

const pem = (label: string, der: Buffer): string =>
  `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;

/** A hostname or IP for a server certificate's subjectAltName; refuses what no TLS client would match. */
export function isValidAltName(entry: string): boolean {
  return isIP(entry) !== 0 || /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(entry);
}

export function issueCertificate(request: IssueRequest): IssuedCertificate {
  const { kind, commonName, days } = request;
  if (!commonName || commonName.length > 64) throw new RangeError('issueCertificate(commonName): 1..64 characters');
  if (!Number.isInteger(days) || days < 1 || days > 3650 * 2) throw new RangeError('issueCertificate(days): an integer from 1 to 7300');
  if ((kind === 'ca') !== (request.issuer === undefined)) throw new TypeError('issueCertificate(issuer): required for server and client certificates, absent for a CA');
  for (const alt of request.altNames ?? []) if (!isValidAltName(alt)) throw new RangeError(`issueCertificate(altNames): '${alt}' is neither a host name nor an IP address`);

  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const organization = request.organization ?? 'wasmfleet';
  const now = request.now ?? new Date();
  // Backdated a little so a gateway whose clock lags accepts a fresh certificate.
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(now.getTime() + days * 86_400_000);

  let signingKey: KeyObject = privateKey;
  let issuerName = name(commonName, organization);
  let authorityKeyId = keyId(spki);
  if (request.issuer) {
    const ca = new X509Certificate(request.issuer.certificatePem);
    if (!ca.ca) throw new TypeError('issueCertificate(issuer): the issuer certificate is not a CA');
    signingKey = createPrivateKey(request.issuer.keyPem);
    const caSpki = ca.publicKey.export({ type: 'spki', format: 'der' });
    authorityKeyId = keyId(caSpki);
    // The issuer field must be byte-identical to the CA's subject: take it from the CA's DER.
    issuerName = subjectDerOf(ca.raw);
  }

  const extensions: Buffer[] = [];
  if (kind === 'ca') {
    extensions.push(extension(OID.basicConstraints, true, sequence(boolean(true), integer(0))));
    // digitalSignature(0), keyCertSign(5), cRLSign(6): 1000 0110, one unused trailing bit.
    extensions.push(extension(OID.keyUsage, true, bitString(Buffer.from([0x86]), 1)));
  } else {
    extensions.push(extension(OID.basicConstraints, true, sequence()));
    // digitalSignature only (ECDHE key exchange signs with the certificate's key).
    extensions.push(extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)));
    extensions.push(extension(OID.extKeyUsage, false, sequence(oid(kind === 'server' ? OID.serverAuth : OID.clientAuth))));
    const alts = request.altNames ?? [];
    if (alts.length > 0) extensions.push(extension(OID.subjectAltName, false, sequence(...alts.map(generalName))));
    extensions.push(extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, authorityKeyId))));
  }
  extensions.push(extension(OID.subjectKeyIdentifier, false, octetString(keyId(spki))));

  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const tbs = sequence(
    explicit(0, integer(2)),
    integer(serial),
    algorithm,
    issuerName,
    sequence(time(notBefore), time(notAfter)),
    name(commonName, organization),
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, signingKey);
  const certificate = sequence(tbs, algorithm, bitString(signature));
  return { certificatePem: pem('CERTIFICATE', certificate), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

// ---- reading back --------------------------------------------------------------------------------

/** Reads one TLV at `offset`: its tag, where its value starts and ends. */
function readTlv(der: Buffer, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset]!;
  let len = der[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + der[start + i]!;
    start += count;
  }
  return { tag, start, end: start + len };
}

/** The subject Name of a DER certificate, as the exact bytes it was signed with. */
function subjectDerOf(certificate: Buffer): Buffer {
  const outer = readTlv(certificate, 0);
  const tbs = readTlv(certificate, outer.start);
  let at = tbs.start;
  const fields: Array<{ start: number; end: number; tag: number; offset: number }> = [];
  while (at < tbs.end) {
    const field = readTlv(certificate, at);
    fields.push({ ...field, offset: at });
    at = field.end;
  }
  // [0] version, serial, algorithm, issuer, validity, subject
  const hasVersion = fields[0]!.tag === 0xa0;
  const subject = fields[hasVersion ? 5 : 4]!;
  return certificate.subarray(subject.offset, subject.end);
}

/**
 * The identities a client certificate names: its subject CN and its subjectAltName DNS names and
 * URIs (`urn:wasmfleet:device:ID` names device ID). Used by the broker's mutual-TLS check.
 */
export function certificateIdentities(certificate: { subject?: Record<string, string | string[]> | string; subjectaltname?: string }): string[] {
  const names = new Set<string>();
  const subject = certificate.subject;
  if (subject && typeof subject === 'object') {
    const cn = subject.CN;
    for (const value of Array.isArray(cn) ? cn : cn ? [cn] : []) names.add(value);
  }
  for (const entry of (certificate.subjectaltname ?? '').split(/,\s*/)) {
    const match = /^(DNS|URI):(.+)$/.exec(entry.trim());
    if (!match) continue;
    const value = match[2]!;
    names.add(value.startsWith('urn:wasmfleet:device:') ? value.slice('urn:wasmfleet:device:'.length) : value);
  }
  return [...names];
}
