// Certificates and CRLs for a CA whose key is a group's Ed25519 key: the TBSCertificate and
// TBSCertList the group signs (built here, and read back strictly so a card shows exactly what is
// signed), and the signed objects assembled from those exact bytes and a signature.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha1 } from '@noble/hashes/legacy.js';
import type { Extension, Name } from '@peculiar/asn1-x509';
import {
  AlgorithmIdentifier,
  Certificate,
  Extensions,
  RevokedCertificate,
  SubjectPublicKeyInfo,
  TBSCertList,
  TBSCertificate,
  Time,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import { OID_ED25519, publicKeyOf } from './csr.js';
import {
  bytesEqual,
  colonHex,
  parseDer,
  serializeDer,
  toBuffer,
  toBytes,
  x509Fail,
} from './der.js';
import {
  readExtension,
  type KeyUsageName,
  type ReadExtension,
  type SubjectAltName,
} from './extensions.js';
import { nameEntries, nameText } from './name.js';

/** The DER of AlgorithmIdentifier { id-Ed25519 } (RFC 8410: no parameters). */
export const ED25519_ALG_DER = Uint8Array.from([0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70]);

/** Serial numbers are at most 20 bytes (RFC 5280 4.1.2.2). */
export const MAX_SERIAL_BYTES = 20;
/**
 * At most this many revoked certificates in one CRL: about 36 bytes each, so the TBSCertList stays
 * within MAX_DER_BYTES and a revoke request within the wire's bound.
 */
export const MAX_REVOKED = 300;
/** No certificate or CRL the CA signs lives longer than this, whatever a policy says. */
export const MAX_DAYS = 36500;
export const DAY_MS = 86_400_000;

export interface CertFacts {
  /** The TBSCertificate's exact DER. */
  der: Uint8Array;
  serial: Uint8Array;
  /** "3a:5f:…" as openssl shows it. */
  serialHex: string;
  issuer: Name;
  issuerDer: Uint8Array;
  issuerText: string;
  subject: Name;
  subjectDer: Uint8Array;
  subjectText: string;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Uint8Array;
  keyType: string;
  /** The raw public key (32 bytes for Ed25519). */
  publicKey: Uint8Array;
  basicConstraints?: { ca: boolean; pathLen?: number };
  keyUsage?: KeyUsageName[];
  extKeyUsage?: string[];
  sans: SubjectAltName[];
  ski?: Uint8Array;
  aki?: Uint8Array;
}

export interface CrlEntry {
  serial: Uint8Array;
  serialHex: string;
  revokedAt: Date;
}

export interface CrlFacts {
  der: Uint8Array;
  issuer: Name;
  issuerDer: Uint8Array;
  issuerText: string;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: CrlEntry[];
  crlNumber: number;
  aki: Uint8Array;
}

/** A fresh random serial: 16 bytes, positive and minimal (first byte 0x01..0x7f). */
export function randomSerial(random: (n: number) => Uint8Array): Uint8Array {
  const s = random(16);
  s[0] = (s[0]! & 0x7f) | 0x01;
  return s;
}

/** The key identifier the CA uses: SHA-1 of the public key bits (RFC 5280 4.2.1.2, method 1). */
export function keyIdentifier(publicKey: Uint8Array): Uint8Array {
  return sha1(publicKey);
}

/** SubjectPublicKeyInfo DER of a raw Ed25519 key. */
export function ed25519Spki(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32)
    x509Fail('malformed', 'publicKey', `an Ed25519 key is 32 bytes, got ${publicKey.length}`);
  return serializeDer(
    new SubjectPublicKeyInfo({
      algorithm: new AlgorithmIdentifier({ algorithm: OID_ED25519 }),
      subjectPublicKey: toBuffer(publicKey),
    }),
  );
}

export interface TbsInput {
  serial: Uint8Array;
  issuer: Name;
  subject: Name;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Uint8Array;
  extensions: Extension[];
}

function time(d: Date): Time {
  if (d.getTime() % 1000 !== 0) d = new Date(Math.floor(d.getTime() / 1000) * 1000);
  return new Time(d);
}

/** A TBSCertificate (v3, signed with Ed25519) as DER. */
export function buildTbsCertificate(t: TbsInput): Uint8Array {
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toBuffer(t.serial),
    signature: new AlgorithmIdentifier({ algorithm: OID_ED25519 }),
    issuer: t.issuer,
    validity: new Validity({
      notBefore: time(t.notBefore).getTime(),
      notAfter: time(t.notAfter).getTime(),
    }),
    subject: t.subject,
    subjectPublicKeyInfo: parseDer(t.spkiDer, SubjectPublicKeyInfo, 'publicKey', 'a public key'),
    extensions: new Extensions(t.extensions),
  });
  return serializeDer(tbs);
}

export interface CrlInput {
  issuer: Name;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: { serial: Uint8Array; revokedAt: Date }[];
  crlNumber: number;
  aki: Uint8Array;
  extensions: Extension[];
}

/** A TBSCertList (v2, signed with Ed25519) as DER. */
export function buildTbsCertList(c: CrlInput): Uint8Array {
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: new AlgorithmIdentifier({ algorithm: OID_ED25519 }),
    issuer: c.issuer,
    thisUpdate: time(c.thisUpdate),
    nextUpdate: time(c.nextUpdate),
    crlExtensions: c.extensions,
  });
  if (c.revoked.length)
    tbs.revokedCertificates = c.revoked.map(
      (r) =>
        new RevokedCertificate({
          userCertificate: toBuffer(r.serial),
          revocationDate: time(r.revokedAt),
        }),
    );
  return serializeDer(tbs);
}

function checkEd25519Alg(alg: AlgorithmIdentifier, field: string): void {
  if (alg.algorithm !== OID_ED25519)
    x509Fail(
      'refused',
      field,
      `signature algorithm must be Ed25519 (${OID_ED25519}), got ${alg.algorithm}`,
    );
  if (alg.parameters !== undefined && alg.parameters !== null)
    x509Fail('refused', field, 'Ed25519 takes no algorithm parameters (RFC 8410)');
}

function checkSerial(serial: Uint8Array, field: string): void {
  if (serial.length === 0) x509Fail('malformed', field, 'is empty');
  if (serial.length > MAX_SERIAL_BYTES)
    x509Fail('refused', field, `is ${serial.length} bytes, at most ${MAX_SERIAL_BYTES}`);
  if (serial[0]! & 0x80) x509Fail('refused', field, 'must be positive');
  if (serial.length > 1 && serial[0] === 0 && !(serial[1]! & 0x80))
    x509Fail('malformed', field, 'is not minimally encoded');
  if (serial.every((b) => b === 0)) x509Fail('refused', field, 'must not be zero');
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050. */
function readTime(t: Time, field: string): Date {
  const d = t.utcTime ?? t.generalTime;
  if (!d || Number.isNaN(d.getTime())) x509Fail('malformed', field, 'is not a time');
  const y = d.getUTCFullYear();
  if (t.utcTime && (y < 1950 || y > 2049))
    x509Fail('malformed', field, `UTCTime cannot hold the year ${y}`);
  if (t.generalTime && y < 2050)
    x509Fail('malformed', field, `a time in ${y} must be a UTCTime (RFC 5280)`);
  return d;
}

function readExtensions(
  exts: readonly Extension[] | undefined,
  field: string,
): Map<ReadExtension['kind'], ReadExtension> {
  const out = new Map<ReadExtension['kind'], ReadExtension>();
  const seen = new Set<string>();
  for (const [i, e] of (exts ?? []).entries()) {
    if (seen.has(e.extnID))
      x509Fail('malformed', `${field}[${i}]`, `extension ${e.extnID} appears twice`);
    seen.add(e.extnID);
    const r = readExtension(e, `${field}[${i}]`);
    out.set(r.kind, r);
  }
  return out;
}

/**
 * A TBSCertificate read strictly: exact DER, v3, signed with Ed25519, a positive serial, RFC 5280
 * times with the end after the start, only extensions the CA can show. Throws X509Error.
 */
export function readTbsCertificate(der: Uint8Array, field = 'tbs'): CertFacts {
  const tbs = parseDer(der, TBSCertificate, field, 'a TBSCertificate');
  if (tbs.version !== Version.v3)
    x509Fail('refused', `${field}.version`, `must be 3, got ${tbs.version + 1}`);
  checkEd25519Alg(tbs.signature, `${field}.signature`);
  const serial = toBytes(tbs.serialNumber);
  checkSerial(serial, `${field}.serial`);
  if (tbs.issuerUniqueID || tbs.subjectUniqueID)
    x509Fail('refused', field, 'unique identifiers are not allowed (RFC 5280 4.1.2.8)');
  if (nameEntries(tbs.issuer, `${field}.issuer`).length === 0)
    x509Fail('refused', `${field}.issuer`, 'is empty');
  const subjectEntries = nameEntries(tbs.subject, `${field}.subject`);
  const notBefore = readTime(tbs.validity.notBefore, `${field}.notBefore`);
  const notAfter = readTime(tbs.validity.notAfter, `${field}.notAfter`);
  if (notAfter.getTime() <= notBefore.getTime())
    x509Fail(
      'refused',
      `${field}.validity`,
      `ends (${notAfter.toISOString()}) before it starts (${notBefore.toISOString()})`,
    );
  if (notAfter.getTime() - notBefore.getTime() > MAX_DAYS * DAY_MS)
    x509Fail('refused', `${field}.validity`, `is longer than ${MAX_DAYS} days`);
  const key = publicKeyOf(tbs.subjectPublicKeyInfo, `${field}.publicKey`);
  const exts = readExtensions(tbs.extensions, `${field}.extensions`);
  const get = <K extends ReadExtension['kind']>(k: K) =>
    exts.get(k) as Extract<ReadExtension, { kind: K }> | undefined;
  const bc = get('basicConstraints');
  const ku = get('keyUsage');
  const eku = get('extKeyUsage');
  const san = get('san');
  const ski = get('ski');
  const aki = get('aki');
  if (subjectEntries.length === 0 && !san)
    x509Fail('refused', `${field}.subject`, 'is empty and there are no alternative names');
  if (bc?.ca && ku && !ku.usages.includes('keyCertSign'))
    x509Fail('refused', `${field}.keyUsage`, 'a CA certificate must allow keyCertSign');
  if (ku && !bc?.ca && (ku.usages.includes('keyCertSign') || ku.usages.includes('cRLSign')))
    x509Fail(
      'refused',
      `${field}.keyUsage`,
      'keyCertSign and cRLSign are for CA certificates only',
    );
  const facts: CertFacts = {
    der,
    serial,
    serialHex: colonHex(serial),
    issuer: tbs.issuer,
    issuerDer: serializeDer(tbs.issuer),
    issuerText: nameText(tbs.issuer),
    subject: tbs.subject,
    subjectDer: serializeDer(tbs.subject),
    subjectText: nameText(tbs.subject),
    notBefore,
    notAfter,
    spkiDer: serializeDer(tbs.subjectPublicKeyInfo),
    keyType: key.keyType,
    publicKey: toBytes(tbs.subjectPublicKeyInfo.subjectPublicKey),
    sans: san?.names ?? [],
  };
  if (bc)
    facts.basicConstraints =
      bc.pathLen === undefined ? { ca: bc.ca } : { ca: bc.ca, pathLen: bc.pathLen };
  if (ku) facts.keyUsage = ku.usages;
  if (eku) facts.extKeyUsage = eku.usages;
  if (ski) facts.ski = ski.id;
  if (aki) facts.aki = aki.id;
  return facts;
}

/**
 * A TBSCertList read strictly: exact DER, v2, Ed25519, a next update after this one, a CRL
 * number and authority key id and no other extension, distinct serials without entry extensions.
 */
export function readTbsCertList(der: Uint8Array, field = 'tbs'): CrlFacts {
  const tbs = parseDer(der, TBSCertList, field, 'a TBSCertList');
  if (tbs.version !== Version.v2) x509Fail('refused', `${field}.version`, 'must be 2');
  checkEd25519Alg(tbs.signature, `${field}.signature`);
  if (nameEntries(tbs.issuer, `${field}.issuer`).length === 0)
    x509Fail('refused', `${field}.issuer`, 'is empty');
  const thisUpdate = readTime(tbs.thisUpdate, `${field}.thisUpdate`);
  if (!tbs.nextUpdate)
    x509Fail('refused', `${field}.nextUpdate`, 'is missing (RFC 5280 requires it)');
  const nextUpdate = readTime(tbs.nextUpdate, `${field}.nextUpdate`);
  if (nextUpdate.getTime() <= thisUpdate.getTime())
    x509Fail(
      'refused',
      `${field}.nextUpdate`,
      `(${nextUpdate.toISOString()}) is not after thisUpdate (${thisUpdate.toISOString()})`,
    );
  if (nextUpdate.getTime() - thisUpdate.getTime() > MAX_DAYS * DAY_MS)
    x509Fail('refused', `${field}.nextUpdate`, `is more than ${MAX_DAYS} days after thisUpdate`);
  const list = tbs.revokedCertificates ?? [];
  if (list.length > MAX_REVOKED)
    x509Fail('refused', `${field}.revoked`, `has ${list.length} entries, at most ${MAX_REVOKED}`);
  const seen = new Set<string>();
  const revoked = list.map((r, i): CrlEntry => {
    const f = `${field}.revoked[${i}]`;
    const serial = toBytes(r.userCertificate);
    checkSerial(serial, `${f}.serial`);
    const serialHex = colonHex(serial);
    if (seen.has(serialHex)) x509Fail('refused', f, `serial ${serialHex} is listed twice`);
    seen.add(serialHex);
    if (r.crlEntryExtensions?.length) x509Fail('refused', f, 'entry extensions are not supported');
    return { serial, serialHex, revokedAt: readTime(r.revocationDate, `${f}.date`) };
  });
  const exts = readExtensions(tbs.crlExtensions, `${field}.extensions`);
  const num = exts.get('crlNumber') as Extract<ReadExtension, { kind: 'crlNumber' }> | undefined;
  const aki = exts.get('aki') as Extract<ReadExtension, { kind: 'aki' }> | undefined;
  if (!num) x509Fail('refused', `${field}.extensions`, 'a CRL number is required');
  if (!aki) x509Fail('refused', `${field}.extensions`, 'an authority key identifier is required');
  if (exts.size !== 2)
    x509Fail(
      'refused',
      `${field}.extensions`,
      'only a CRL number and an authority key identifier are allowed',
    );
  return {
    der,
    issuer: tbs.issuer,
    issuerDer: serializeDer(tbs.issuer),
    issuerText: nameText(tbs.issuer),
    thisUpdate,
    nextUpdate,
    revoked,
    crlNumber: num.n,
    aki: aki.id,
  };
}

// ---- signed objects: SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING signature } ----

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

function tlv(tag: number, content: Uint8Array): Uint8Array {
  const head = [tag, ...derLength(content.length)];
  const out = new Uint8Array(head.length + content.length);
  out.set(head);
  out.set(content, head.length);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * The signed object (Certificate or CertificateList) around the exact TBS bytes the group signed:
 * built by hand so not one byte of the TBS is re-encoded.
 */
export function assembleSigned(tbsDer: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== 64)
    x509Fail('malformed', 'signature', `an Ed25519 signature is 64 bytes, got ${signature.length}`);
  return tlv(0x30, concat(tbsDer, ED25519_ALG_DER, tlv(0x03, concat(Uint8Array.of(0), signature))));
}

/** Whether `signature` is the group key's Ed25519 signature of `tbsDer`. */
export function verifyEd25519(
  publicKey: Uint8Array,
  tbsDer: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return (
      signature.length === 64 && ed25519.verify(signature, tbsDer, publicKey, { zip215: false })
    );
  } catch {
    return false;
  }
}

export interface SignedCert {
  der: Uint8Array;
  tbs: CertFacts;
  signature: Uint8Array;
}

/**
 * A whole certificate issued by this CA read strictly: its TBS as readTbsCertificate reads it,
 * signed with Ed25519 by `issuerKey` (checked). Throws X509Error.
 */
export function readCertificate(
  der: Uint8Array,
  issuerKey: Uint8Array,
  field = 'certificate',
): SignedCert {
  const cert = parseDer(der, Certificate, field, 'an X.509 certificate');
  const raw = cert.tbsCertificateRaw;
  if (!raw) x509Fail('malformed', field, 'its TBSCertificate cannot be read');
  const tbsDer = toBytes(raw);
  const tbs = readTbsCertificate(tbsDer, `${field}.tbs`);
  checkEd25519Alg(cert.signatureAlgorithm, `${field}.signatureAlgorithm`);
  const signature = toBytes(cert.signatureValue);
  if (!verifyEd25519(issuerKey, tbsDer, signature))
    x509Fail('bad_signature', `${field}.signature`, "is not this group's signature");
  return { der, tbs, signature };
}

/** Whether a name's DER is the same as another's, byte for byte. */
export function sameName(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b);
}
