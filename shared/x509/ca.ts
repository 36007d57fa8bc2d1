// The group's certificate authority as the requester's side builds it: the x509 request message for
// creating the CA, issuing a certificate from a CSR and publishing a CRL, and the CA's state
// (its certificate, what it revoked, the CRL number) rebuilt from the group's finished requests.
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { canonicalJSON } from '../crypto/backup.js';
import {
  assembleSigned,
  buildTbsCertList,
  buildTbsCertificate,
  DAY_MS,
  ed25519Spki,
  keyIdentifier,
  MAX_DAYS,
  MAX_REVOKED,
  randomSerial,
  readCertificate,
  readTbsCertList,
  verifyEd25519,
  type CertFacts,
  type CrlEntry,
} from './cert.js';
import { parseCsr } from './csr.js';
import { bytesEqual, x509Fail } from './der.js';
import {
  akiExt,
  basicConstraintsExt,
  crlNumberExt,
  extKeyUsageExt,
  keyUsageExt,
  sanExt,
  skiExt,
  type SubjectAltName,
} from './extensions.js';
import { parseNameText } from './name.js';

export type X509Op = 'init' | 'sign' | 'revoke';

/** The x509 request message: canonical JSON, DER fields in base64. */
export interface X509Message {
  v: 1;
  op: X509Op;
  /** The TBSCertificate (init, sign) or TBSCertList (revoke) the group signs. */
  tbs: Uint8Array;
  /** sign: the certificate signing request. */
  csr?: Uint8Array;
  /** sign, revoke: the group's CA certificate (issued by an earlier init). */
  ca?: Uint8Array;
  /** revoke: the certificate being revoked. */
  cert?: Uint8Array;
}

export function encodeX509Message(m: X509Message): Uint8Array {
  const o: Record<string, unknown> = { v: 1, op: m.op, tbs: base64.encode(m.tbs) };
  if (m.csr) o.csr = base64.encode(m.csr);
  if (m.ca) o.ca = base64.encode(m.ca);
  if (m.cert) o.cert = base64.encode(m.cert);
  return utf8ToBytes(canonicalJSON(o));
}

/** When a certificate starts: a few minutes back, so a clock slightly behind still accepts it. */
export const BACKDATE_MS = 5 * 60 * 1000;

function checkDays(days: number, field = 'days'): void {
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_DAYS)
    x509Fail('refused', field, `must be a whole number of days from 1 to ${MAX_DAYS}, got ${days}`);
}

/** The TBS for the self-signed CA certificate of a group key (CA:TRUE, path length 0). */
export function caInitMessage(o: {
  subject: string;
  days: number;
  groupKey: Uint8Array;
  now: Date;
  random: (n: number) => Uint8Array;
}): Uint8Array {
  checkDays(o.days);
  const name = parseNameText(o.subject);
  const id = keyIdentifier(o.groupKey);
  const notBefore = new Date(o.now.getTime() - BACKDATE_MS);
  const tbs = buildTbsCertificate({
    serial: randomSerial(o.random),
    issuer: name,
    subject: name,
    notBefore,
    notAfter: new Date(notBefore.getTime() + o.days * DAY_MS),
    spkiDer: ed25519Spki(o.groupKey),
    extensions: [
      basicConstraintsExt(true, 0),
      keyUsageExt(['digitalSignature', 'keyCertSign', 'cRLSign']),
      skiExt(id),
      akiExt(id),
    ],
  });
  return encodeX509Message({ v: 1, op: 'init', tbs });
}

/** The default extended key usages of an issued certificate: TLS server and client. */
export const DEFAULT_EKU = ['serverAuth', 'clientAuth'] as const;

/**
 * The TBS for a certificate from a CSR: its subject and key, its requested alternative names (or
 * `sans` instead), `days` long, issued by the CA certificate `ca`. The CSR's signature is checked.
 */
export function caSignMessage(o: {
  ca: Uint8Array;
  csr: Uint8Array;
  days: number;
  groupKey: Uint8Array;
  now: Date;
  random: (n: number) => Uint8Array;
  sans?: SubjectAltName[];
  extKeyUsage?: readonly string[];
}): Uint8Array {
  checkDays(o.days);
  const ca = readCertificate(o.ca, o.groupKey, 'ca');
  const csr = parseCsr(o.csr);
  const sans = o.sans ?? csr.sans;
  const notBefore = new Date(o.now.getTime() - BACKDATE_MS);
  const tbs = buildTbsCertificate({
    serial: randomSerial(o.random),
    issuer: ca.tbs.subject,
    subject: csr.subject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + o.days * DAY_MS),
    spkiDer: csr.spkiDer,
    extensions: [
      basicConstraintsExt(false),
      keyUsageExt(['digitalSignature']),
      extKeyUsageExt(o.extKeyUsage ?? DEFAULT_EKU),
      ...(sans.length ? [sanExt(sans)] : []),
      skiExt(keyIdentifier(csr.publicKey)),
      akiExt(ca.tbs.ski ?? keyIdentifier(o.groupKey)),
    ],
  });
  return encodeX509Message({ v: 1, op: 'sign', tbs, csr: o.csr, ca: o.ca });
}

/**
 * The TBS for a CRL listing every certificate revoked so far (`previous`) plus `cert`, numbered one
 * more than the last, valid `days` from now.
 */
export function caRevokeMessage(o: {
  ca: Uint8Array;
  cert: Uint8Array;
  days: number;
  groupKey: Uint8Array;
  now: Date;
  previous: { revoked: CrlEntry[]; crlNumber: number } | undefined;
}): Uint8Array {
  checkDays(o.days);
  const ca = readCertificate(o.ca, o.groupKey, 'ca');
  const cert = readCertificate(o.cert, o.groupKey, 'cert');
  if (!bytesEqual(cert.tbs.issuerDer, ca.tbs.subjectDer))
    x509Fail(
      'refused',
      'cert',
      `was issued by ${cert.tbs.issuerText}, not by this CA (${ca.tbs.subjectText})`,
    );
  const revoked = (o.previous?.revoked ?? []).map((r) => ({
    serial: r.serial,
    revokedAt: r.revokedAt,
  }));
  if (revoked.some((r) => bytesEqual(r.serial, cert.tbs.serial)))
    x509Fail('refused', 'cert', `serial ${cert.tbs.serialHex} is already revoked`);
  if (revoked.length >= MAX_REVOKED)
    x509Fail(
      'refused',
      'cert',
      `the CRL already lists ${MAX_REVOKED} certificates, the most it can`,
    );
  const now = new Date(Math.floor(o.now.getTime() / 1000) * 1000);
  revoked.push({ serial: cert.tbs.serial, revokedAt: now });
  const crlNumber = (o.previous?.crlNumber ?? 0) + 1;
  const aki = ca.tbs.ski ?? keyIdentifier(o.groupKey);
  const tbs = buildTbsCertList({
    issuer: ca.tbs.subject,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + o.days * DAY_MS),
    revoked,
    crlNumber,
    aki,
    extensions: [akiExt(aki), crlNumberExt(crlNumber)],
  });
  return encodeX509Message({ v: 1, op: 'revoke', tbs, ca: o.ca, cert: o.cert });
}

/** One finished x509 request as the API lists it (message and signature in hex). */
export interface FinishedX509 {
  message: string;
  signature?: string;
  /** When it was made (ISO), to order them. */
  createdAt: string;
}

export interface CaState {
  /** The CA certificate of the latest finished init (DER), with its facts. */
  ca?: { der: Uint8Array; tbs: CertFacts };
  /** Every certificate revoked so far, from the latest finished CRL of this CA. */
  revoked: CrlEntry[];
  /** The latest CRL's number (0 when none yet). */
  crlNumber: number;
  /** The latest CRL (DER), if any. */
  crl?: Uint8Array;
}

function readMessage(hex: string): Record<string, string> | undefined {
  try {
    const o = JSON.parse(new TextDecoder().decode(hexToBytes(hex))) as unknown;
    return o && typeof o === 'object' ? (o as Record<string, string>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The CA's state rebuilt from the group's finished x509 requests (any member can): the newest
 * init's certificate, and the newest CRL issued under that CA's name and key. Only objects whose
 * signature verifies under the group key count.
 */
export function caStateOf(done: readonly FinishedX509[], groupKey: Uint8Array): CaState {
  const sorted = [...done].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const state: CaState = { revoked: [], crlNumber: 0 };
  for (const r of sorted) {
    const m = readMessage(r.message);
    if (!m || !r.signature || m.op !== 'init' || typeof m.tbs !== 'string') continue;
    try {
      const der = assembleSigned(base64.decode(m.tbs), hexToBytes(r.signature));
      state.ca = { der, tbs: readCertificate(der, groupKey, 'ca').tbs };
    } catch {
      // A request that does not read as a certificate of this key is not the CA's.
    }
  }
  if (!state.ca) return state;
  for (const r of sorted) {
    const m = readMessage(r.message);
    if (!m || !r.signature || m.op !== 'revoke' || typeof m.tbs !== 'string') continue;
    try {
      const tbs = base64.decode(m.tbs);
      const sig = hexToBytes(r.signature);
      const crl = readTbsCertList(tbs);
      if (!verifyEd25519(groupKey, tbs, sig)) continue;
      if (!bytesEqual(crl.issuerDer, state.ca.tbs.subjectDer)) continue;
      if (crl.crlNumber < state.crlNumber) continue;
      state.revoked = crl.revoked;
      state.crlNumber = crl.crlNumber;
      state.crl = assembleSigned(tbs, sig);
    } catch {
      // Not a CRL of this CA.
    }
  }
  return state;
}
