// Reads the Ed25519 private key files people already hold (OpenSSH from ssh-keygen, PKCS#8 PEM from
// openssl) down to the 32-byte seed the import splits; anything else is named and refused.
import { ed25519 } from '@noble/curves/ed25519.js';
import { equalBytes } from '@noble/curves/utils.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { CryptoError } from './errors.js';

/** An Ed25519 key read from a file: the RFC 8032 seed and the public key it yields. */
export interface ParsedKeyFile {
  format: 'openssh' | 'pkcs8';
  seed: Uint8Array;
  publicKey: Uint8Array;
  comment: string;
}

/** PKCS#8 v1 PrivateKeyInfo for OID 1.3.101.112 (RFC 8410 §7), up to the 32-byte seed. */
const PKCS8_ED25519_V1 = hexBytes('302e020100300506032b657004220420');
/** RFC 8410 OneAsymmetricKey v2 (seed followed by [1] public key), as some tools write it. */
const PKCS8_ED25519_V2 = hexBytes('3051020101300506032b657004220420');
const PKCS8_V2_PUBLIC = hexBytes('812100');
const OPENSSH_MAGIC = 'openssh-key-v1\0';

function bad(message: string): CryptoError {
  return new CryptoError('bad_input', message);
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Strict standard base64 (whitespace ignored), so a damaged file is refused, not misread. */
export function decodeBase64(text: string): Uint8Array {
  const s = text.replace(/\s+/g, '');
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s))
    throw bad('the key file body is not valid base64');
  const body = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const ch of body) {
    acc = (acc << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** True when the text looks like a PEM-style or OpenSSH key file rather than a raw or hex key. */
export function looksLikeKeyFile(text: string): boolean {
  return /-----BEGIN [A-Z0-9 ]+-----/.test(text) || /^\s*(ssh|ecdsa|sk)-[a-z0-9-@.]+ /.test(text);
}

/**
 * Parses an unencrypted Ed25519 private key file: OpenSSH (`BEGIN OPENSSH PRIVATE KEY`) or PKCS#8
 * (`BEGIN PRIVATE KEY`). Throws CryptoError('bad_input') naming what was found otherwise.
 */
export function parsePrivateKeyFile(text: string): ParsedKeyFile {
  if (/^\s*(ssh|ecdsa|sk)-[a-z0-9-@.]+ /.test(text))
    throw bad(
      'this is a public key (the .pub file); import needs the private key file next to it (same name without .pub)',
    );
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) throw bad('no complete -----BEGIN … PRIVATE KEY----- block found');
  const label = m[1]!;
  const body = m[2]!;
  if (label === 'OPENSSH PRIVATE KEY') return parseOpenSsh(decodeBase64(body));
  if (label === 'PRIVATE KEY') return parsePkcs8(decodeBase64(body));
  if (label === 'ENCRYPTED PRIVATE KEY')
    throw bad(
      'this PKCS#8 key is protected by a passphrase; write an unprotected copy first (openssl pkey -in key.pem -out copy.pem), import the copy, then destroy it',
    );
  if (/PUBLIC KEY/.test(label))
    throw bad(`this is a public key (${label}); import needs the private key`);
  if (label === 'RSA PRIVATE KEY' || label === 'EC PRIVATE KEY' || label === 'DSA PRIVATE KEY')
    throw bad(
      `this is ${label.startsWith('EC') ? 'an' : 'a'} ${label.split(' ')[0]} key (${label}); only Ed25519 keys can be imported as an ed25519 group`,
    );
  throw bad(
    `a "${label}" block is not a private key this import reads (OpenSSH or PKCS#8 Ed25519)`,
  );
}

/** Reads SSH wire-format fields (RFC 4251 §5) with bounds checks. */
class Reader {
  private off = 0;
  constructor(private readonly buf: Uint8Array) {}
  u32(what: string): number {
    if (this.off + 4 > this.buf.length) throw bad(`the OpenSSH key is cut short (at ${what})`);
    const b = this.buf;
    const v =
      ((b[this.off]! << 24) |
        (b[this.off + 1]! << 16) |
        (b[this.off + 2]! << 8) |
        b[this.off + 3]!) >>>
      0;
    this.off += 4;
    return v;
  }
  bytes(what: string): Uint8Array {
    const n = this.u32(what);
    if (this.off + n > this.buf.length) throw bad(`the OpenSSH key is cut short (at ${what})`);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  text(what: string): string {
    return new TextDecoder().decode(this.bytes(what));
  }
  rest(): Uint8Array {
    return this.buf.subarray(this.off);
  }
}

function parseOpenSsh(bin: Uint8Array): ParsedKeyFile {
  const magic = new TextDecoder().decode(bin.subarray(0, OPENSSH_MAGIC.length));
  if (magic !== OPENSSH_MAGIC) throw bad('the OpenSSH key does not start with openssh-key-v1');
  const r = new Reader(bin.subarray(OPENSSH_MAGIC.length));
  const cipher = r.text('cipher name');
  const kdf = r.text('kdf name');
  r.bytes('kdf options');
  if (cipher !== 'none' || kdf !== 'none')
    throw bad(
      `this key is protected by a passphrase (cipher ${cipher}, kdf ${kdf}); remove it on a copy first (cp key copy && ssh-keygen -p -N '' -f copy), import the copy, then destroy it`,
    );
  const n = r.u32('key count');
  if (n !== 1) throw bad(`the OpenSSH file holds ${n} keys; import reads a file with exactly one`);
  const outer = new Reader(r.bytes('public key'));
  const outerType = outer.text('public key type');
  if (outerType !== 'ssh-ed25519')
    throw bad(
      `this is an OpenSSH ${outerType} key; only ssh-ed25519 keys can be imported as an ed25519 group`,
    );
  const outerPub = outer.bytes('public key');
  const priv = new Reader(r.bytes('private section'));
  const check1 = priv.u32('check');
  const check2 = priv.u32('check');
  if (check1 !== check2)
    throw bad('the OpenSSH key check numbers differ (the file is damaged or still encrypted)');
  const type = priv.text('key type');
  if (type !== 'ssh-ed25519')
    throw bad(`the OpenSSH private section holds ${type}, not ssh-ed25519`);
  const pub = priv.bytes('public key');
  const both = priv.bytes('private key');
  const comment = priv.text('comment');
  if (pub.length !== 32 || both.length !== 64)
    throw bad(`the ssh-ed25519 key has the wrong sizes (${pub.length}, ${both.length} bytes)`);
  const seed = both.slice(0, 32);
  const derived = ed25519.getPublicKey(seed);
  if (
    !equalBytes(derived, pub) ||
    !equalBytes(both.subarray(32), pub) ||
    !equalBytes(outerPub, pub)
  ) {
    seed.fill(0);
    throw bad('the OpenSSH key is inconsistent: its public key is not the one its seed yields');
  }
  return { format: 'openssh', seed, publicKey: derived, comment };
}

function parsePkcs8(der: Uint8Array): ParsedKeyFile {
  const starts = (p: Uint8Array) =>
    der.length >= p.length && equalBytes(der.subarray(0, p.length), p);
  let seed: Uint8Array;
  if (der.length === 48 && starts(PKCS8_ED25519_V1)) seed = der.slice(16, 48);
  else if (
    der.length === 83 &&
    starts(PKCS8_ED25519_V2) &&
    equalBytes(der.subarray(48, 51), PKCS8_V2_PUBLIC)
  ) {
    seed = der.slice(16, 48);
    if (!equalBytes(ed25519.getPublicKey(seed), der.subarray(51))) {
      seed.fill(0);
      throw bad('the PKCS#8 key is inconsistent: its public key is not the one its seed yields');
    }
  } else {
    // The algorithm OID names what it is: 06 03 2b 65 71 is Ed448, 2a 86 48 ce 3d 02 01 EC, RSA...
    const hex = bytesToHex(der);
    const what = hex.includes('06032b6571')
      ? 'an Ed448 key'
      : hex.includes('06072a8648ce3d0201')
        ? 'an EC (ECDSA) key'
        : hex.includes('06092a864886f70d010101')
          ? 'an RSA key'
          : hex.includes('06032b656e')
            ? 'an X25519 key'
            : `a ${der.length}-byte key of another kind`;
    throw bad(
      `this PKCS#8 file holds ${what}; only Ed25519 keys can be imported as an ed25519 group`,
    );
  }
  return { format: 'pkcs8', seed, publicKey: ed25519.getPublicKey(seed), comment: '' };
}
