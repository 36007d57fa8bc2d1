// 'x509': the group's Ed25519 key as a private X.509 certificate authority. The message carries the
// exact TBSCertificate or TBSCertList the group signs (and the CSR and CA certificate it comes
// from); every approver's node reads the card from those bytes: subject, names, validity, usages,
// constraints, serial, and checks the issuer is the group's CA and the key is the CSR's.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { isLowerHex } from '../protocol/fields.js';
import { LIMITS } from '../protocol/wire.js';
import {
  assembleSigned,
  DAY_MS,
  keyIdentifier,
  MAX_DAYS,
  readCertificate,
  readTbsCertList,
  readTbsCertificate,
  verifyEd25519,
  type CertFacts,
  type CrlFacts,
} from '../x509/cert.js';
import type { X509Op } from '../x509/ca.js';
import { parseCsr, type ParsedCsr } from '../x509/csr.js';
import { bytesEqual, MAX_DER_BYTES, toPem, X509Error } from '../x509/der.js';
import {
  checkDnsName,
  EXT_KEY_USAGES,
  sanText,
  type KeyUsageName,
  type SubjectAltName,
} from '../x509/extensions.js';
import { commonNames } from '../x509/name.js';
import { canonicalObject, fail, int, list, object, oneOf, show } from './fields.js';
import {
  RequestParamError,
  type CardField,
  type Execution,
  type KindOutput,
  type RequestArtifact,
  type RequestCard,
  type RequestContext,
  type RequestKindModule,
} from './types.js';

export interface X509Params {
  op: X509Op;
  /** The exact TBS bytes the group signs. */
  tbs: Uint8Array;
  /** init, sign: the certificate as its TBS reads. */
  cert?: CertFacts;
  /** revoke: the CRL as its TBS reads. */
  crl?: CrlFacts;
  /** sign, revoke: the group's CA certificate (checked: signed by the group key). */
  ca?: CertFacts;
  /** sign: the CSR (its self-signature checked). */
  csr?: ParsedCsr;
  /** revoke: the certificate revoked (checked: issued by this CA). */
  revokes?: CertFacts;
  /** What the card must point out (a subject that differs from the CSR's, …). */
  warnings: string[];
}

/** Policy bounds: the longest certificate, and the DNS names (suffixes) certificates may hold. */
export interface X509Limits {
  maxDays?: number;
  names?: string[];
}

const FIELDS: Record<X509Op, readonly string[]> = {
  init: ['v', 'op', 'tbs'],
  sign: ['v', 'op', 'tbs', 'csr', 'ca'],
  revoke: ['v', 'op', 'tbs', 'ca', 'cert'],
};

/** Strict base64 (padded, canonical) of a DER object. */
function der(v: unknown, field: string): Uint8Array {
  const max = MAX_DER_BYTES;
  if (typeof v !== 'string' || v.length === 0 || v.length > 4 * Math.ceil(max / 3))
    fail(field, `must be base64 of 1 to ${max} bytes, got ${show(v)}`);
  let out: Uint8Array;
  try {
    out = base64.decode(v);
  } catch {
    return fail(field, `is not base64: ${show(v)}`);
  }
  if (base64.encode(out) !== v) fail(field, `is not canonical base64: ${show(v)}`);
  return out;
}

/** The group's Ed25519 key from the context (ctx.publicKey, hex, put there by the node). */
function groupKey(ctx: RequestContext): Uint8Array | undefined {
  const k = ctx.publicKey;
  return isLowerHex(k, 64) ? hexToBytes(k) : undefined;
}

/** An X509Error as the registry's error, naming the same field. */
function fromX509<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof X509Error) throw new RequestParamError('bad_params', e.field, e.message);
    throw e;
  }
}

function parse(message: Uint8Array, ctx: RequestContext): X509Params {
  if (ctx.scheme !== 'ed25519')
    fail(
      'group',
      `X.509 certificates are signed by ed25519 groups only; this group is ${ctx.scheme}`,
    );
  if (message.length > LIMITS.message)
    fail('message', `must be at most ${LIMITS.message} bytes, got ${message.length}`);
  const o = canonicalObject(message);
  int(o.v, 'v', 1, 1);
  const op = oneOf(o.op, 'op', ['init', 'sign', 'revoke'] as const);
  object(o, 'message', FIELDS[op]);
  const key = groupKey(ctx);
  if (!key) fail('group', "this node does not know the group's Ed25519 public key");
  const tbs = der(o.tbs, 'tbs');
  return fromX509(() => {
    if (op === 'init') return init(tbs, key);
    const ca = caCert(der(o.ca, 'ca'), key);
    if (op === 'sign') return sign(tbs, der(o.csr, 'csr'), ca, key);
    return revoke(tbs, der(o.cert, 'cert'), ca, key);
  });
}

function init(tbs: Uint8Array, key: Uint8Array): X509Params {
  const cert = readTbsCertificate(tbs, 'tbs');
  if (!cert.basicConstraints?.ca)
    fail('tbs.basicConstraints', 'a CA certificate must say CA:TRUE (basic constraints)');
  if (!bytesEqual(cert.issuerDer, cert.subjectDer))
    fail(
      'tbs.issuer',
      `must be its own subject ${cert.subjectText} (a self-signed CA), got ${cert.issuerText}`,
    );
  if (cert.keyType !== 'Ed25519' || !bytesEqual(cert.publicKey, key))
    fail('tbs.publicKey', `must be the group's own key ${bytesToHex(key)}`);
  if (!cert.keyUsage?.includes('keyCertSign'))
    fail('tbs.keyUsage', 'a CA certificate must allow keyCertSign');
  const id = keyIdentifier(key);
  if (cert.ski && !bytesEqual(cert.ski, id))
    fail('tbs.subjectKeyIdentifier', "is not the group key's identifier");
  if (cert.aki && !bytesEqual(cert.aki, id))
    fail('tbs.authorityKeyIdentifier', "is not the group key's identifier");
  const warnings: string[] = [];
  if (!cert.keyUsage.includes('cRLSign'))
    warnings.push('This CA certificate does not allow cRLSign: its CRLs will not be accepted.');
  return { op: 'init', tbs, cert, warnings };
}

/** The CA certificate a sign or revoke names: the group's own, signed by the group key. */
function caCert(caDer: Uint8Array, key: Uint8Array): CertFacts {
  const ca = readCertificate(caDer, key, 'ca').tbs;
  if (!ca.basicConstraints?.ca) fail('ca', 'is not a CA certificate (no CA:TRUE)');
  if (!bytesEqual(ca.publicKey, key)) fail('ca', "does not certify the group's own key");
  if (!bytesEqual(ca.issuerDer, ca.subjectDer)) fail('ca', 'is not self-issued');
  return ca;
}

function caKeyId(ca: CertFacts, key: Uint8Array): Uint8Array {
  return ca.ski ?? keyIdentifier(key);
}

function sign(tbs: Uint8Array, csrDer: Uint8Array, ca: CertFacts, key: Uint8Array): X509Params {
  const cert = readTbsCertificate(tbs, 'tbs');
  if (!bytesEqual(cert.issuerDer, ca.subjectDer))
    fail('tbs.issuer', `must be the group's CA ${ca.subjectText}, got ${cert.issuerText}`);
  if (!cert.aki || !bytesEqual(cert.aki, caKeyId(ca, key)))
    fail('tbs.authorityKeyIdentifier', "must be the group CA's key identifier");
  if (cert.basicConstraints?.ca)
    fail(
      'tbs.basicConstraints',
      'CA:TRUE is only for the CA certificate itself (ca init): a certificate from a CSR must not be a CA',
    );
  const csr = parseCsr(csrDer, 'csr');
  if (!bytesEqual(cert.spkiDer, csr.spkiDer))
    fail(
      'tbs.publicKey',
      "is not the CSR's key: the certificate must certify the key that signed the CSR",
    );
  if (bytesEqual(cert.publicKey, key)) fail('tbs.publicKey', "is the group's own key");
  const warnings: string[] = [];
  if (!bytesEqual(cert.subjectDer, csr.subjectDer))
    warnings.push(`The subject is not the one the CSR asks for (${csr.subjectText}).`);
  const asked = csr.sans.map(sanText).join(', ');
  if (cert.sans.map(sanText).join(', ') !== asked)
    warnings.push(`The alternative names are not the ones the CSR asks for (${asked || 'none'}).`);
  if (cert.notAfter.getTime() > ca.notAfter.getTime())
    warnings.push(
      `It is valid after the CA certificate expires (${when(ca.notAfter)}): from then on it will not be accepted.`,
    );
  return { op: 'sign', tbs, cert, ca, csr, warnings };
}

function revoke(tbs: Uint8Array, certDer: Uint8Array, ca: CertFacts, key: Uint8Array): X509Params {
  const crl = readTbsCertList(tbs, 'tbs');
  if (!bytesEqual(crl.issuerDer, ca.subjectDer))
    fail('tbs.issuer', `must be the group's CA ${ca.subjectText}, got ${crl.issuerText}`);
  if (!bytesEqual(crl.aki, caKeyId(ca, key)))
    fail('tbs.authorityKeyIdentifier', "must be the group CA's key identifier");
  const revokes = readCertificate(certDer, key, 'cert').tbs;
  if (!bytesEqual(revokes.issuerDer, ca.subjectDer))
    fail('cert', `was issued by ${revokes.issuerText}, not by the group's CA ${ca.subjectText}`);
  if (!crl.revoked.some((r) => bytesEqual(r.serial, revokes.serial)))
    fail(
      'tbs.revoked',
      `does not list the certificate being revoked (serial ${revokes.serialHex})`,
    );
  return { op: 'revoke', tbs, crl, ca, revokes, warnings: [] };
}

// ---- the card ----

/** "2026-12-04 13:18:47 UTC". */
function when(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A length of time in words: "90 days", "365 days (about 1 year)", "12 hours". */
export function lifetimeWords(ms: number): string {
  if (ms < DAY_MS) {
    const h = Math.max(1, Math.round(ms / 3_600_000));
    return `${h} hour${h === 1 ? '' : 's'}`;
  }
  const days = Math.round(ms / DAY_MS);
  const text = `${days} day${days === 1 ? '' : 's'}`;
  if (days < 365) return text;
  const years = Math.round((days / 365.25) * 10) / 10;
  return `${text} (about ${years} year${years === 1 ? '' : 's'})`;
}

/** Key usages as `openssl x509 -text` words them. */
const KEY_USAGE_WORDS: Record<KeyUsageName, string> = {
  digitalSignature: 'Digital Signature',
  nonRepudiation: 'Non Repudiation',
  keyEncipherment: 'Key Encipherment',
  dataEncipherment: 'Data Encipherment',
  keyAgreement: 'Key Agreement',
  keyCertSign: 'Certificate Sign',
  cRLSign: 'CRL Sign',
  encipherOnly: 'Encipher Only',
  decipherOnly: 'Decipher Only',
};

function certFields(c: CertFacts): CardField[] {
  const bc = c.basicConstraints;
  const fields: CardField[] = [
    { label: 'Subject', value: c.subjectText, kind: 'text' },
    {
      label: 'Alternative names',
      value: c.sans.length ? c.sans.map(sanText).join(', ') : 'none',
      kind: 'text',
    },
    { label: 'Valid from', value: when(c.notBefore) },
    { label: 'Valid until', value: when(c.notAfter) },
    {
      label: 'Lifetime',
      value: lifetimeWords(c.notAfter.getTime() - c.notBefore.getTime()),
    },
    {
      label: 'Key usages',
      value: c.keyUsage
        ? c.keyUsage.map((u) => KEY_USAGE_WORDS[u]).join(', ')
        : 'any (not restricted)',
    },
    {
      label: 'Extended key usages',
      value: c.extKeyUsage
        ? c.extKeyUsage
            .map((n) => `${EXT_KEY_USAGES.find((e) => e.name === n)?.words ?? n} (${n})`)
            .join(', ')
        : 'any (not restricted)',
    },
    {
      label: 'Basic constraints',
      value: bc?.ca
        ? `CA: yes, it can issue certificates${bc.pathLen === undefined ? ' (any depth of CAs below it)' : bc.pathLen === 0 ? ' (path length 0: only end-entity certificates, no further CAs)' : ` (path length ${bc.pathLen})`}`
        : 'CA: no (an end-entity certificate; it cannot issue certificates)',
    },
    { label: 'Serial', value: c.serialHex, kind: 'hex' },
  ];
  return fields;
}

/** Text with every character outside printable ASCII as U+XXXX, so look-alikes show. */
function asciiEscaped(t: string): string {
  return t.replace(
    /[^\x20-\x7e]/gu,
    (c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`,
  );
}

function decode(p: X509Params, ctx: RequestContext): RequestCard {
  const warnings = [...p.warnings];
  // Letters from other alphabets can pass for Latin ones ("аpple" with a Cyrillic а).
  const named = p.cert ?? p.revokes;
  if (named && /[^\x20-\x7e]/.test(named.subjectText))
    warnings.push(
      `The subject has characters outside plain ASCII (${asciiEscaped(named.subjectText)}): some letters of other alphabets look like Latin ones; check it letter by letter.`,
    );
  const tbsHash: CardField = {
    label: 'SHA-256 of what is signed',
    value: bytesToHex(sha256(p.tbs)),
    kind: 'hex',
  };
  if (p.op === 'init') {
    const c = p.cert!;
    const cn = commonNames(c.subject)[0] ?? c.subjectText;
    warnings.push(
      'This makes the group a certificate authority: whoever installs this CA certificate trusts every certificate the group signs with it later.',
    );
    return {
      kind: 'x509',
      title: `Create the certificate authority “${cn}” with the key of “${ctx.groupName}”`,
      summary: `Sign a self-signed CA certificate for ${c.subjectText}, valid ${lifetimeWords(c.notAfter.getTime() - c.notBefore.getTime())}, with the group's own key.`,
      fields: [
        {
          label: 'Certificate',
          value: 'CA certificate (self-signed root): it can issue certificates',
        },
        ...certFields(c),
        {
          label: 'Key',
          value: `the group's own Ed25519 key (${bytesToHex(c.publicKey)})`,
          kind: 'hex',
        },
        tbsHash,
      ],
      warnings,
    };
  }
  if (p.op === 'sign') {
    const c = p.cert!;
    const csr = p.csr!;
    const cn = commonNames(c.subject)[0] ?? c.sans[0]?.value ?? c.subjectText;
    return {
      kind: 'x509',
      title: `Issue a certificate for “${cn}” from the CA of “${ctx.groupName}”`,
      summary: `Sign a certificate for ${c.subjectText}${c.sans.length ? ` (${c.sans.map(sanText).join(', ')})` : ''}, valid ${lifetimeWords(c.notAfter.getTime() - c.notBefore.getTime())}, issued by ${p.ca!.subjectText}.`,
      fields: [
        {
          label: 'Certificate',
          value: 'end-entity certificate from a certificate signing request',
        },
        ...certFields(c),
        { label: 'Issuer', value: p.ca!.subjectText, kind: 'text' },
        {
          label: 'Subject key',
          value: `${csr.keyType}, SHA-256 ${bytesToHex(sha256(c.spkiDer))} (the CSR's key; the CSR is signed by it)`,
          kind: 'fingerprint',
        },
        tbsHash,
      ],
      ...(warnings.length ? { warnings } : {}),
    };
  }
  const crl = p.crl!;
  const r = p.revokes!;
  const cn = commonNames(r.subject)[0] ?? r.sans[0]?.value ?? r.subjectText;
  const others = crl.revoked.filter((e) => !bytesEqual(e.serial, r.serial));
  return {
    kind: 'x509',
    title: `Revoke the certificate for “${cn}” (CA of “${ctx.groupName}”)`,
    summary: `Sign a CRL from ${p.ca!.subjectText} that revokes ${r.subjectText} (serial ${r.serialHex}); it lists ${crl.revoked.length} revoked certificate${crl.revoked.length === 1 ? '' : 's'} in all.`,
    fields: [
      { label: 'Revokes', value: r.subjectText, kind: 'text' },
      {
        label: 'Its alternative names',
        value: r.sans.length ? r.sans.map(sanText).join(', ') : 'none',
        kind: 'text',
      },
      { label: 'Its serial', value: r.serialHex, kind: 'hex' },
      { label: 'It was valid', value: `${when(r.notBefore)} to ${when(r.notAfter)}` },
      {
        label: 'Also revoked (already)',
        value: others.length ? others.map((e) => e.serialHex).join(', ') : 'none',
      },
      { label: 'CRL number', value: String(crl.crlNumber), kind: 'number' },
      { label: 'This update', value: when(crl.thisUpdate) },
      {
        label: 'Next update',
        value: `${when(crl.nextUpdate)} (in ${lifetimeWords(crl.nextUpdate.getTime() - crl.thisUpdate.getTime())})`,
      },
      { label: 'Issuer', value: crl.issuerText, kind: 'text' },
      tbsHash,
    ],
    ...(warnings.length ? { warnings } : {}),
  };
}

// ---- what the group computes, and the requester gets ----

function execution(p: X509Params): Execution {
  return { op: 'sign', parts: [{ message: p.tbs }] };
}

function result(p: X509Params, output: KindOutput, ctx: RequestContext): RequestArtifact {
  const sig = 'signatures' in output ? output.signatures[0] : undefined;
  if (!sig || ('signatures' in output && output.signatures.length !== 1))
    fail('signature', 'an x509 request has exactly one signature');
  const key = groupKey(ctx);
  if (key && !verifyEd25519(key, p.tbs, sig))
    fail('signature', "is not the group key's signature of the TBS");
  const der = fromX509(() => assembleSigned(p.tbs, sig));
  if (p.op === 'revoke')
    return {
      name: 'crl.pem',
      mediaType: 'application/x-pem-file',
      text: toPem('X509 CRL', der),
      fields: [
        { label: 'CRL number', value: String(p.crl!.crlNumber) },
        { label: 'Revoked', value: p.crl!.revoked.map((e) => e.serialHex).join(', ') },
        {
          label: 'Check with',
          value: 'openssl verify -crl_check -CRLfile crl.pem -CAfile ca.pem cert.pem',
        },
      ],
    };
  const c = p.cert!;
  return {
    name: p.op === 'init' ? 'ca.pem' : 'cert.pem',
    mediaType: 'application/x-pem-file',
    text: toPem('CERTIFICATE', der),
    fields: [
      { label: 'Subject', value: c.subjectText },
      { label: 'Serial', value: c.serialHex },
      { label: 'Valid until', value: when(c.notAfter) },
      {
        label: 'Check with',
        value:
          p.op === 'init'
            ? 'openssl x509 -in ca.pem -noout -text'
            : 'openssl verify -CAfile ca.pem cert.pem',
      },
    ],
  };
}

// ---- policy limits ----

/** At most this many allowed name suffixes in a policy. */
export const MAX_LIMIT_NAMES = 50;

function validateLimits(v: unknown): X509Limits {
  const o = object(v, 'limits.x509', [], ['maxDays', 'names']);
  const out: X509Limits = {};
  if (o.maxDays !== undefined) out.maxDays = int(o.maxDays, 'limits.x509.maxDays', 1, MAX_DAYS);
  if (o.names !== undefined) {
    out.names = list(o.names, 'limits.x509.names', MAX_LIMIT_NAMES).map((n, i) => {
      const f = `limits.x509.names[${i}]`;
      if (typeof n !== 'string') fail(f, `must be a DNS name, got ${show(n)}`);
      return fromX509(() => checkDnsName(n, f));
    });
    if (new Set(out.names).size !== out.names.length)
      fail('limits.x509.names', 'lists a name twice');
  }
  return out;
}

/** Whether a DNS name is one of the suffixes or below one (a wildcard's base counts). */
function withinNames(name: string, suffixes: readonly string[]): boolean {
  const n = name.startsWith('*.') ? name.slice(2) : name;
  return suffixes.some((s) => n === s || n.endsWith(`.${s}`));
}

function nameProblem(
  sans: SubjectAltName[],
  cns: string[],
  names: readonly string[],
): string | undefined {
  const allowed = names.join(', ');
  for (const cn of cns)
    if (!withinNames(cn.toLowerCase(), names))
      return `The group's policy issues certificates only for names within ${allowed}; the common name ${JSON.stringify(cn)} is not.`;
  for (const s of sans) {
    if (s.type === 'dns' && !withinNames(s.value, names))
      return `The group's policy issues certificates only for names within ${allowed}; ${sanText(s)} is not.`;
    if (
      s.type === 'email' &&
      !withinNames(s.value.slice(s.value.lastIndexOf('@') + 1).toLowerCase(), names)
    )
      return `The group's policy issues certificates only for names within ${allowed}; ${sanText(s)} is not.`;
    if (s.type === 'ip' || s.type === 'uri')
      return `The group's policy limits certificate names to ${allowed}, so it issues no ${s.type === 'ip' ? 'IP address' : 'URI'} names (${sanText(s)}).`;
  }
  return undefined;
}

export const x509: RequestKindModule<X509Params> = {
  kind: 'x509',
  parse,
  // The CA's checks hold whatever the roster: the group key never changes with the epoch.
  read: parse,
  decode,
  schemes: ['ed25519'],
  execution,
  result,
  limits: {
    validate: validateLimits,
    check(p, limits) {
      const { maxDays, names } = validateLimits(limits);
      const c = p.cert;
      if (!c) return undefined;
      const ms = c.notAfter.getTime() - c.notBefore.getTime();
      if (maxDays !== undefined && ms > maxDays * DAY_MS)
        return `The group's policy issues certificates valid for at most ${maxDays} days; this one is valid for ${lifetimeWords(ms)}.`;
      if (names && p.op === 'sign') return nameProblem(c.sans, commonNames(c.subject), names);
      return undefined;
    },
    describe(limits) {
      const { maxDays, names } = validateLimits(limits);
      const out: string[] = [];
      if (maxDays !== undefined)
        out.push(`X.509 certificates are valid for at most ${maxDays} days.`);
      if (names)
        out.push(
          names.length
            ? `X.509 certificates may name only DNS names within ${names.join(', ')} (no IP addresses or URIs).`
            : 'No X.509 certificate may be issued from a CSR.',
        );
      return out;
    },
  },
  policy: {
    noun: 'X.509 certificates',
    allowedByDefault: true,
    canBeForbidden: true,
    approvalsConfigurable: true,
    needsReconstructEnabled: false,
    needsOnline: 'approvers',
    exposesKey: false,
  },
};
