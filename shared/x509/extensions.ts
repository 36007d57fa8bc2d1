// The certificate and CRL extensions the CA writes and reads (RFC 5280 section 4.2 and 5.2): built
// from plain values, and read back strictly; any other extension is refused rather than signed unseen.
import { OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLNumber,
  ExtendedKeyUsage,
  Extension,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { parseDer, serializeDer, toBuffer, toBytes, x509Fail } from './der.js';

export const OID_BASIC_CONSTRAINTS = '2.5.29.19';
export const OID_KEY_USAGE = '2.5.29.15';
export const OID_EXT_KEY_USAGE = '2.5.29.37';
export const OID_SAN = '2.5.29.17';
export const OID_SKI = '2.5.29.14';
export const OID_AKI = '2.5.29.35';
export const OID_CRL_NUMBER = '2.5.29.20';

/** Key usages by name, in the order RFC 5280 lists them. */
export const KEY_USAGES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsageName = (typeof KEY_USAGES)[number];

/** Extended key usages the CA knows, by the name openssl uses and the words a card shows. */
export const EXT_KEY_USAGES: readonly { name: string; oid: string; words: string }[] = [
  { name: 'serverAuth', oid: '1.3.6.1.5.5.7.3.1', words: 'TLS server' },
  { name: 'clientAuth', oid: '1.3.6.1.5.5.7.3.2', words: 'TLS client' },
  { name: 'codeSigning', oid: '1.3.6.1.5.5.7.3.3', words: 'code signing' },
  { name: 'emailProtection', oid: '1.3.6.1.5.5.7.3.4', words: 'email (S/MIME)' },
  { name: 'timeStamping', oid: '1.3.6.1.5.5.7.3.8', words: 'time stamping' },
  { name: 'OCSPSigning', oid: '1.3.6.1.5.5.7.3.9', words: 'OCSP signing' },
];

export type SubjectAltName =
  | { type: 'dns'; value: string }
  | { type: 'ip'; value: string }
  | { type: 'email'; value: string }
  | { type: 'uri'; value: string };

/** At most this many subject alternative names in one certificate. */
export const MAX_SANS = 100;

export type ReadExtension =
  | { kind: 'basicConstraints'; ca: boolean; pathLen?: number }
  | { kind: 'keyUsage'; usages: KeyUsageName[] }
  | { kind: 'extKeyUsage'; usages: string[] }
  | { kind: 'san'; names: SubjectAltName[] }
  | { kind: 'ski'; id: Uint8Array }
  | { kind: 'aki'; id: Uint8Array }
  | { kind: 'crlNumber'; n: number };

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A DNS name as a certificate may hold it: lowercase LDH labels, a leading "*." allowed. */
export function checkDnsName(v: string, field: string): string {
  const labels = v.startsWith('*.') ? v.slice(2).split('.') : v.split('.');
  if (v.length > 253 || labels.length < 1 || !labels.every((l) => DNS_LABEL.test(l)))
    x509Fail('refused', field, `${JSON.stringify(v.slice(0, 80))} is not a lowercase DNS name`);
  return v;
}

function checkSan(g: GeneralName, field: string): SubjectAltName {
  if (g.dNSName !== undefined) return { type: 'dns', value: checkDnsName(g.dNSName, field) };
  if (g.iPAddress !== undefined) return { type: 'ip', value: g.iPAddress };
  if (g.rfc822Name !== undefined) {
    if (!/^[\x21-\x7e]{1,254}$/.test(g.rfc822Name) || !g.rfc822Name.includes('@'))
      x509Fail(
        'refused',
        field,
        `${JSON.stringify(g.rfc822Name.slice(0, 80))} is not an email address`,
      );
    return { type: 'email', value: g.rfc822Name };
  }
  if (g.uniformResourceIdentifier !== undefined) {
    if (!/^[a-z][a-z0-9+.-]*:[\x21-\x7e]{1,1000}$/i.test(g.uniformResourceIdentifier))
      x509Fail(
        'refused',
        field,
        `${JSON.stringify(g.uniformResourceIdentifier.slice(0, 80))} is not a URI`,
      );
    return { type: 'uri', value: g.uniformResourceIdentifier };
  }
  return x509Fail('unsupported', field, 'only DNS, IP, email and URI names are supported');
}

/** A SAN as text: "DNS:www.example.test", "IP:127.0.0.1" (openssl's words). */
export function sanText(s: SubjectAltName): string {
  const prefix = { dns: 'DNS', ip: 'IP', email: 'email', uri: 'URI' }[s.type];
  return `${prefix}:${s.value}`;
}

/** "DNS:a.example,IP:10.0.0.1" to SANs. */
export function parseSanText(text: string, field = 'san'): SubjectAltName[] {
  const out = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p): SubjectAltName => {
      const i = p.indexOf(':');
      const type = p.slice(0, i).toLowerCase();
      const value = p.slice(i + 1);
      const g =
        type === 'dns'
          ? new GeneralName({ dNSName: value })
          : type === 'ip'
            ? ipName(value, field)
            : type === 'email'
              ? new GeneralName({ rfc822Name: value })
              : type === 'uri'
                ? new GeneralName({ uniformResourceIdentifier: value })
                : x509Fail(
                    'refused',
                    field,
                    `${JSON.stringify(p)} is not DNS:…, IP:…, email:… or URI:…`,
                  );
      return checkSan(g, field);
    });
  if (out.length > MAX_SANS) x509Fail('refused', field, `has more than ${MAX_SANS} names`);
  return out;
}

function ipName(value: string, field: string): GeneralName {
  try {
    const g = new GeneralName({ iPAddress: value });
    serializeDer(g);
    return g;
  } catch {
    return x509Fail('refused', field, `${JSON.stringify(value)} is not an IP address`);
  }
}

function generalName(s: SubjectAltName): GeneralName {
  switch (s.type) {
    case 'dns':
      return new GeneralName({ dNSName: s.value });
    case 'ip':
      return new GeneralName({ iPAddress: s.value });
    case 'email':
      return new GeneralName({ rfc822Name: s.value });
    case 'uri':
      return new GeneralName({ uniformResourceIdentifier: s.value });
  }
}

function ext(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(serializeDer(value)) });
}

export function basicConstraintsExt(ca: boolean, pathLen?: number): Extension {
  const bc = new BasicConstraints({ cA: ca });
  if (pathLen !== undefined) bc.pathLenConstraint = pathLen;
  return ext(OID_BASIC_CONSTRAINTS, true, bc);
}

export function keyUsageExt(usages: readonly KeyUsageName[]): Extension {
  let flags = 0;
  for (const u of usages) flags |= 1 << KEY_USAGES.indexOf(u);
  return ext(OID_KEY_USAGE, true, new KeyUsage(flags));
}

export function extKeyUsageExt(names: readonly string[]): Extension {
  const oids = names.map((n) => {
    const e = EXT_KEY_USAGES.find((k) => k.name.toLowerCase() === n.toLowerCase());
    if (!e)
      x509Fail(
        'refused',
        'extKeyUsage',
        `unknown usage ${JSON.stringify(n)} (known: ${EXT_KEY_USAGES.map((k) => k.name).join(', ')})`,
      );
    return e.oid;
  });
  return ext(OID_EXT_KEY_USAGE, false, new ExtendedKeyUsage(oids));
}

export function sanExt(names: readonly SubjectAltName[], critical = false): Extension {
  return ext(OID_SAN, critical, new SubjectAlternativeName(names.map(generalName)));
}

export function skiExt(id: Uint8Array): Extension {
  return ext(OID_SKI, false, new SubjectKeyIdentifier(toBuffer(id)));
}

export function akiExt(id: Uint8Array): Extension {
  return ext(
    OID_AKI,
    false,
    new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toBuffer(id)) }),
  );
}

export function crlNumberExt(n: number): Extension {
  return ext(OID_CRL_NUMBER, false, new CRLNumber(n));
}

/** The largest CRL number the CA writes (a JavaScript safe integer). */
export const MAX_CRL_NUMBER = Number.MAX_SAFE_INTEGER;

/** One extension read strictly; an extension the CA does not know is refused. */
export function readExtension(e: Extension, field: string): ReadExtension {
  const o = e.extnValue;
  const v = new Uint8Array(o.buffer, o.byteOffset, o.byteLength);
  switch (e.extnID) {
    case OID_BASIC_CONSTRAINTS: {
      const bc = parseDer(v, BasicConstraints, `${field}`, 'basic constraints');
      if (
        bc.pathLenConstraint !== undefined &&
        (!bc.cA || bc.pathLenConstraint < 0 || bc.pathLenConstraint > 16)
      )
        x509Fail('refused', field, `path length ${bc.pathLenConstraint} is not allowed`);
      return bc.pathLenConstraint === undefined
        ? { kind: 'basicConstraints', ca: bc.cA }
        : { kind: 'basicConstraints', ca: bc.cA, pathLen: bc.pathLenConstraint };
    }
    case OID_KEY_USAGE: {
      const ku = parseDer(v, KeyUsage, field, 'key usage');
      const n = ku.toNumber();
      if (n === 0 || n >= 1 << KEY_USAGES.length)
        x509Fail('refused', field, `key usage bits ${n} are not allowed`);
      return { kind: 'keyUsage', usages: KEY_USAGES.filter((_, i) => n & (1 << i)) };
    }
    case OID_EXT_KEY_USAGE: {
      const eku = parseDer(v, ExtendedKeyUsage, field, 'extended key usage');
      if (eku.length === 0) x509Fail('refused', field, 'is empty');
      return {
        kind: 'extKeyUsage',
        usages: Array.from(eku, (oid) => {
          const k = EXT_KEY_USAGES.find((x) => x.oid === oid);
          if (!k)
            x509Fail('unsupported', field, `extended key usage ${oid} is not one the CA knows`);
          return k.name;
        }),
      };
    }
    case OID_SAN: {
      const san = parseDer(v, SubjectAlternativeName, field, 'subject alternative names');
      if (san.length === 0) x509Fail('refused', field, 'is empty');
      if (san.length > MAX_SANS) x509Fail('refused', field, `has more than ${MAX_SANS} names`);
      return { kind: 'san', names: Array.from(san, (g, i) => checkSan(g, `${field}[${i}]`)) };
    }
    case OID_SKI: {
      const id = toBytes(
        parseDer(v, SubjectKeyIdentifier, field, 'a subject key identifier').buffer,
      );
      if (id.length < 1 || id.length > 64) x509Fail('refused', field, `is ${id.length} bytes`);
      return { kind: 'ski', id };
    }
    case OID_AKI: {
      const aki = parseDer(v, AuthorityKeyIdentifier, field, 'an authority key identifier');
      if (!aki.keyIdentifier || aki.authorityCertIssuer || aki.authorityCertSerialNumber)
        x509Fail('refused', field, 'must hold a key identifier only');
      return { kind: 'aki', id: toBytes(aki.keyIdentifier.buffer) };
    }
    case OID_CRL_NUMBER: {
      const n = parseDer(v, CRLNumber, field, 'a CRL number');
      if (!Number.isSafeInteger(n.value) || n.value < 0)
        x509Fail('refused', field, `CRL number ${n.value} is not a non-negative safe integer`);
      return { kind: 'crlNumber', n: n.value };
    }
    default:
      return x509Fail(
        'unsupported',
        field,
        `extension ${e.extnID}${e.critical ? ' (critical)' : ''} is not one the CA can show, so it is not signed`,
      );
  }
}

export { KeyUsageFlags };
