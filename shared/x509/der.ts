// DER helpers for the X.509 CA: the typed error every X.509 check throws, PEM in and out, and a
// strict parse that accepts only bytes that are exactly the DER of what they decode to.
import { AsnConvert } from '@peculiar/asn1-schema';
import { base64 } from '@scure/base';

export type X509ErrorCode = 'malformed' | 'bad_signature' | 'unsupported' | 'refused';

/** An X.509 object is not exactly what the CA accepts; `field` names the part ("csr", "tbs.issuer"). */
export class X509Error extends Error {
  readonly code: X509ErrorCode;
  readonly field: string;
  constructor(code: X509ErrorCode, field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'X509Error';
    this.code = code;
    this.field = field;
  }
}

export function x509Fail(code: X509ErrorCode, field: string, message: string): never {
  throw new X509Error(code, field, message);
}

/** The largest DER object the CA reads (a CSR, a TBS, a certificate): far above any real one. */
export const MAX_DER_BYTES = 16 * 1024;

// Untrusted input: bounds on nesting and element count so a crafted blob cannot make the parser work hard.
const BER_OPTIONS = {
  berOptions: { maxDepth: 24, maxNodes: 2000, maxContentLength: MAX_DER_BYTES },
};

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function toBytes(b: ArrayBuffer | ArrayBufferView): Uint8Array {
  return b instanceof ArrayBuffer
    ? new Uint8Array(b)
    : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** An exact copy in a fresh ArrayBuffer (asn1js keeps views of the buffers it is given). */
export function toBuffer(b: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(b.length);
  new Uint8Array(out).set(b);
  return out;
}

/**
 * Parses `der` as `type`, refusing anything that does not re-encode to the very same bytes
 * (BER-only forms, trailing bytes, non-minimal lengths): what was signed is exactly what was read.
 */
export function parseDer<T>(der: Uint8Array, type: new () => T, field: string, what: string): T {
  if (der.length === 0) x509Fail('malformed', field, `is empty, not ${what}`);
  if (der.length > MAX_DER_BYTES)
    x509Fail('malformed', field, `is ${der.length} bytes, more than the ${MAX_DER_BYTES} allowed`);
  let value: T;
  try {
    value = AsnConvert.parse(toBuffer(der), type, BER_OPTIONS);
  } catch (e) {
    return x509Fail('malformed', field, `is not ${what} (${shortError(e)})`);
  }
  let again: Uint8Array;
  try {
    again = new Uint8Array(AsnConvert.serialize(value));
  } catch (e) {
    return x509Fail('malformed', field, `is not ${what} (${shortError(e)})`);
  }
  if (!bytesEqual(again, der))
    x509Fail(
      'malformed',
      field,
      `is not ${what} in DER (its ${der.length} bytes do not re-encode to themselves)`,
    );
  return value;
}

export function serializeDer(value: unknown): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(value));
}

function shortError(e: unknown): string {
  return String((e as Error)?.message ?? e).slice(0, 120);
}

/** PEM text of DER bytes under a label ("CERTIFICATE", "X509 CRL"), 64 characters a line. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = base64.encode(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * The DER inside the first PEM block whose label is one of `labels`; text that holds no PEM block
 * at all is taken as DER only when `allowDer` (a file may be either).
 */
export function fromPem(text: string, labels: readonly string[], field: string): Uint8Array {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  let m: RegExpExecArray | null;
  const seen: string[] = [];
  while ((m = re.exec(text)) !== null) {
    const label = m[1]!;
    if (!labels.includes(label)) {
      seen.push(label);
      continue;
    }
    const body = m[2]!.replace(/\s+/g, '');
    try {
      return base64.decode(body);
    } catch {
      return x509Fail('malformed', field, `its ${label} block is not base64`);
    }
  }
  return x509Fail(
    'malformed',
    field,
    seen.length
      ? `holds ${seen.map((s) => `a ${s}`).join(', ')} block, not ${labels.map((l) => `a ${l}`).join(' or ')}`
      : `holds no PEM block (-----BEGIN ${labels[0]}-----)`,
  );
}

/** Bytes as lowercase hex with colons, the way openssl shows serials and key ids. */
export function colonHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}
