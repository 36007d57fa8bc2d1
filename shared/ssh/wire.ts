// The SSH wire encoding (RFC 4251 §5) and public key blobs: a strict reader, a writer, and the
// OpenSSH fingerprint. Pure, so the agent, the request kind and the tests read bytes the same way.
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';

export type SshFormatErrorCode = 'malformed' | 'unsupported';

/** Bytes that are not exactly what the SSH format allows; the message says where and what. */
export class SshFormatError extends Error {
  readonly code: SshFormatErrorCode;
  constructor(code: SshFormatErrorCode, message: string) {
    super(message);
    this.name = 'SshFormatError';
    this.code = code;
  }
}

export function malformed(message: string): never {
  throw new SshFormatError('malformed', message);
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads SSH wire fields in order; every read is bounds-checked and names what it was reading. */
export class SshReader {
  private pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    /** What the bytes are, for error messages ("certificate", "agent message"). */
    readonly what: string,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  private need(n: number, field: string): void {
    if (this.remaining < n)
      malformed(
        `${this.what}: ${field} needs ${n} bytes at offset ${this.pos}, ${this.remaining} left`,
      );
  }

  byte(field: string): number {
    this.need(1, field);
    return this.bytes[this.pos++]!;
  }

  bool(field: string): boolean {
    const b = this.byte(field);
    if (b > 1) malformed(`${this.what}: ${field} must be a boolean (0 or 1), got ${b}`);
    return b === 1;
  }

  u32(field: string): number {
    this.need(4, field);
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  u64(field: string): bigint {
    const hi = this.u32(field);
    const lo = this.u32(field);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  raw(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A length-prefixed byte string, at most `max` bytes. */
  string(field: string, max = this.bytes.length): Uint8Array {
    const n = this.u32(`${field} length`);
    if (n > max) malformed(`${this.what}: ${field} must be at most ${max} bytes, got ${n}`);
    return this.raw(n, field);
  }

  /** A string that must be UTF-8 text without control characters. */
  text(field: string, max = 1024): string {
    const b = this.string(field, max);
    let s: string;
    try {
      s = utf8Decoder.decode(b);
    } catch {
      return malformed(`${this.what}: ${field} is not UTF-8 text`);
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(s))
      malformed(
        `${this.what}: ${field} contains control characters: ${JSON.stringify(s).slice(0, 60)}`,
      );
    return s;
  }

  /** The bytes of a string field, with its 4-byte length prefix (for re-encoding a field verbatim). */
  field(field: string, max = this.bytes.length): Uint8Array {
    const start = this.pos;
    this.string(field, max);
    return this.bytes.subarray(start, this.pos);
  }

  end(): void {
    if (this.remaining !== 0)
      malformed(`${this.what}: ${this.remaining} unexpected bytes after the last field`);
  }
}

/** Builds SSH wire bytes. */
export class SshWriter {
  private parts: Uint8Array[] = [];
  private n = 0;

  raw(b: Uint8Array): this {
    this.parts.push(b);
    this.n += b.length;
    return this;
  }

  byte(v: number): this {
    return this.raw(Uint8Array.of(v & 0xff));
  }

  bool(v: boolean): this {
    return this.byte(v ? 1 : 0);
  }

  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0);
    return this.raw(b);
  }

  u64(v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v);
    return this.raw(b);
  }

  string(v: Uint8Array | string): this {
    const b = typeof v === 'string' ? utf8ToBytes(v) : v;
    return this.u32(b.length).raw(b);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.n);
    let p = 0;
    for (const part of this.parts) {
      out.set(part, p);
      p += part.length;
    }
    return out;
  }
}

export function utf8(s: string): Uint8Array {
  return utf8ToBytes(s);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** How many string-encoded fields follow the type name in each public key type's blob. */
export const KEY_FIELDS: Readonly<Record<string, number>> = {
  'ssh-ed25519': 1,
  'ssh-rsa': 2,
  'ssh-dss': 4,
  'ecdsa-sha2-nistp256': 2,
  'ecdsa-sha2-nistp384': 2,
  'ecdsa-sha2-nistp521': 2,
  'sk-ssh-ed25519@openssh.com': 2,
  'sk-ecdsa-sha2-nistp256@openssh.com': 3,
};

/** A public key blob read field by field (a certificate's subject key is re-encoded this way). */
export interface SshPublicKey {
  type: string;
  /** The key's own fields, each without its length prefix. */
  fields: Uint8Array[];
  /** The whole blob (string type, then the fields). */
  blob: Uint8Array;
}

/** Parses a plain (non-certificate) public key blob of a known type, exactly. */
export function parsePublicKey(blob: Uint8Array, what = 'public key'): SshPublicKey {
  const r = new SshReader(blob, what);
  const type = r.text('key type', 64);
  const n = KEY_FIELDS[type];
  if (n === undefined)
    throw new SshFormatError('unsupported', `${what}: unknown key type ${JSON.stringify(type)}`);
  const fields: Uint8Array[] = [];
  for (let i = 0; i < n; i++) fields.push(r.string(`${type} field ${i + 1}`, 16 * 1024));
  r.end();
  checkKeyFields(type, fields, what);
  return { type, fields, blob };
}

/** Field sizes a key type must have (so a card never shows a malformed key as if it were one). */
function checkKeyFields(type: string, fields: Uint8Array[], what: string): void {
  if (type === 'ssh-ed25519' || type === 'sk-ssh-ed25519@openssh.com') {
    if (fields[0]!.length !== 32)
      malformed(`${what}: an ${type} key is 32 bytes, got ${fields[0]!.length}`);
  } else if (type.startsWith('ecdsa-sha2-') || type.startsWith('sk-ecdsa-sha2-')) {
    const curve = type.startsWith('sk-') ? 'nistp256' : type.slice('ecdsa-sha2-'.length);
    const got = new TextDecoder().decode(fields[0]!);
    if (got !== curve)
      malformed(`${what}: ${type} names curve ${JSON.stringify(got.slice(0, 20))}`);
  }
}

/** Builds a plain public key blob from its type and fields. */
export function publicKeyBlob(type: string, fields: Uint8Array[]): Uint8Array {
  const w = new SshWriter().string(type);
  for (const f of fields) w.string(f);
  return w.bytes();
}

/** The blob of an Ed25519 public key. */
export function ed25519Blob(key: Uint8Array): Uint8Array {
  return publicKeyBlob('ssh-ed25519', [key]);
}

/** OpenSSH's fingerprint of a key blob: "SHA256:" and unpadded base64 of its SHA-256. */
export function fingerprint(blob: Uint8Array): string {
  return `SHA256:${base64.encode(sha256(blob)).replace(/=+$/, '')}`;
}

/** The `ssh-ed25519 AAAA… comment` line of an Ed25519 key. */
export function ed25519Line(key: Uint8Array, comment?: string): string {
  const line = `ssh-ed25519 ${base64.encode(ed25519Blob(key))}`;
  return comment ? `${line} ${comment}` : line;
}

/** An Ed25519 signature as SSH carries it: string "ssh-ed25519", string sig. */
export function ed25519SignatureBlob(sig: Uint8Array): Uint8Array {
  if (sig.length !== 64) malformed(`an Ed25519 signature is 64 bytes, got ${sig.length}`);
  return new SshWriter().string('ssh-ed25519').string(sig).bytes();
}

/** A signature blob: its algorithm name and its bytes. */
export function parseSignature(
  blob: Uint8Array,
  what = 'signature',
): { alg: string; sig: Uint8Array } {
  const r = new SshReader(blob, what);
  const alg = r.text('algorithm', 64);
  const sig = r.string('signature', 2048);
  r.end();
  return { alg, sig };
}
