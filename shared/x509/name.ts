// X.509 distinguished names for the CA: "CN=…, O=…" text to a Name and back, with a short fixed set
// of attribute types so a name on a card reads the same as in `openssl x509 -text`.
import {
  AttributeTypeAndValue,
  AttributeValue,
  Name,
  RelativeDistinguishedName,
} from '@peculiar/asn1-x509';
import { serializeDer, x509Fail } from './der.js';

interface NameAttr {
  short: string;
  oid: string;
  /** Upper bound from RFC 5280's ub-* values. */
  max: number;
  printable?: boolean;
}

const ATTRS: readonly NameAttr[] = [
  { short: 'CN', oid: '2.5.4.3', max: 64 },
  { short: 'O', oid: '2.5.4.10', max: 64 },
  { short: 'OU', oid: '2.5.4.11', max: 64 },
  { short: 'C', oid: '2.5.4.6', max: 2, printable: true },
  { short: 'ST', oid: '2.5.4.8', max: 128 },
  { short: 'L', oid: '2.5.4.7', max: 128 },
  { short: 'serialNumber', oid: '2.5.4.5', max: 64, printable: true },
  { short: 'emailAddress', oid: '1.2.840.113549.1.9.1', max: 255 },
];

export const OID_CN = '2.5.4.3';

// Control and direction-changing characters would make a name read as something else.
// eslint-disable-next-line no-control-regex
const DECEPTIVE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** At most this many attributes in a name the CA builds or reads. */
export const MAX_NAME_ATTRS = 16;

/**
 * A subject given as text: "CN=Example CA, O=Acme" or openssl's "/CN=Example CA/O=Acme". Values
 * may escape a comma or slash with a backslash. Each attribute becomes its own RDN, in order.
 */
export function parseNameText(text: string, field = 'subject'): Name {
  const t = text.trim();
  if (t === '') x509Fail('refused', field, 'is empty: give at least CN=…');
  const slash = t.startsWith('/');
  const parts = splitEscaped(slash ? t.slice(1) : t, slash ? '/' : ',');
  if (parts.length > MAX_NAME_ATTRS)
    x509Fail('refused', field, `has ${parts.length} attributes, at most ${MAX_NAME_ATTRS}`);
  const rdns = parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) x509Fail('refused', field, `${JSON.stringify(p)} is not TYPE=value`);
    const type = p.slice(0, eq).trim();
    const value = p.slice(eq + 1).trim();
    const attr = ATTRS.find((a) => a.short.toLowerCase() === type.toLowerCase());
    if (!attr)
      x509Fail(
        'refused',
        field,
        `unknown attribute ${JSON.stringify(type)} (known: ${ATTRS.map((a) => a.short).join(', ')})`,
      );
    checkValue(attr, value, field);
    const v = attr.printable
      ? new AttributeValue({ printableString: value })
      : new AttributeValue({ utf8String: value });
    return new RelativeDistinguishedName([new AttributeTypeAndValue({ type: attr.oid, value: v })]);
  });
  return new Name(rdns);
}

function checkValue(attr: NameAttr, value: string, field: string): void {
  if (value === '') x509Fail('refused', field, `${attr.short} is empty`);
  if (DECEPTIVE.test(value))
    x509Fail('refused', field, `${attr.short} has control or direction-changing characters`);
  if ([...value].length > attr.max)
    x509Fail('refused', field, `${attr.short} is longer than ${attr.max} characters`);
  if (attr.printable && !/^[A-Za-z0-9 '()+,\-./:=?]+$/.test(value))
    x509Fail(
      'refused',
      field,
      `${attr.short} must be printable ASCII, got ${JSON.stringify(value)}`,
    );
}

function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((p) => p.trim()).filter((p) => p !== '');
}

/** The short name of an attribute type, or its OID when it is not one the CA knows. */
export function attrName(oid: string): string {
  return ATTRS.find((a) => a.oid === oid)?.short ?? oid;
}

export interface NameEntry {
  type: string;
  value: string;
}

/**
 * The attributes of a name, in order, as text; refuses a value that is not a string type or holds
 * characters that would make it read as something else.
 */
export function nameEntries(name: Name, field: string): NameEntry[] {
  const out: NameEntry[] = [];
  for (const rdn of name)
    for (const atv of rdn) {
      const v = atv.value;
      const value =
        v.utf8String ??
        v.printableString ??
        v.ia5String ??
        v.bmpString ??
        v.universalString ??
        v.teletexString;
      if (value === undefined)
        x509Fail('unsupported', field, `attribute ${attrName(atv.type)} is not a text value`);
      if (DECEPTIVE.test(value))
        x509Fail(
          'refused',
          field,
          `attribute ${attrName(atv.type)} has control or direction-changing characters: ${JSON.stringify(value.slice(0, 40))}`,
        );
      out.push({ type: attrName(atv.type), value });
      if (out.length > MAX_NAME_ATTRS)
        x509Fail('refused', field, `has more than ${MAX_NAME_ATTRS} attributes`);
    }
  return out;
}

/** "CN=www.example.test, O=Acme": the name as the card and the CLI show it. */
export function nameText(name: Name, field = 'name'): string {
  const entries = nameEntries(name, field);
  if (entries.length === 0) return '(empty)';
  return entries.map((e) => `${e.type}=${e.value.replace(/([,\\])/g, '\\$1')}`).join(', ');
}

/** The common names (CN) of a name. */
export function commonNames(name: Name): string[] {
  const out: string[] = [];
  for (const rdn of name)
    for (const atv of rdn)
      if (atv.type === OID_CN) {
        const v = atv.value;
        const s = v.utf8String ?? v.printableString ?? v.ia5String ?? v.bmpString;
        if (s !== undefined) out.push(s);
      }
  return out;
}

/** A name's exact DER, for comparing issuer and subject byte for byte. */
export function nameDer(name: Name): Uint8Array {
  return serializeDer(name);
}
