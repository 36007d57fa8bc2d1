// age (age-encryption.org/v1) for an ed25519 group: its age1 recipient, the header's X25519
// stanzas, and unwrapping the file key from the threshold-ECDH result, so a file encrypted to the
// group decrypts without the key ever being put together.
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { equalBytes } from '@noble/ciphers/utils.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64nopad, bech32 } from '@scure/base';
import { ed25519Blob } from '../ssh/wire.js';
import { CryptoError, check } from './errors.js';

const VERSION_LINE = 'age-encryption.org/v1';
const X25519_INFO = utf8ToBytes('age-encryption.org/v1/X25519');
const SSH_ED25519_INFO = utf8ToBytes('age-encryption.org/v1/ssh-ed25519');
/** Bytes of an age file key, and of a wrapped one (key + Poly1305 tag). */
export const FILE_KEY_BYTES = 16;
const WRAPPED_BYTES = FILE_KEY_BYTES + 16;
/** age's payload: a 16-byte nonce, then chunks of 64 KiB of plaintext each with a 16-byte tag. */
const CHUNK = 64 * 1024;
const TAG = 16;
const NONCE = 16;
/** Bounds on what a header may hold (age itself writes a few hundred bytes per recipient). */
export const MAX_HEADER_BYTES = 32 * 1024;
export const MAX_STANZAS = 32;
const MAX_ARGS = 16;
const MAX_ARG_CHARS = 256;
/** Columns of a stanza body's base64 lines (the last line is shorter, possibly empty). */
const COLUMNS = 64;

/** One recipient stanza of an age header: its arguments and its decoded body. */
export interface AgeStanza {
  args: string[];
  body: Uint8Array;
}

/** An age header as read from the start of a file. */
export interface AgeHeader {
  stanzas: AgeStanza[];
  mac: Uint8Array;
  /** The header's bytes up to and including "---" (what the MAC covers). */
  headerNoMac: Uint8Array;
  /** The whole header's length in bytes, "--- <mac>\n" included: the payload starts here. */
  length: number;
}

const fail = (message: string): never => {
  throw new CryptoError('bad_input', message);
};

/** The group key's Montgomery u-coordinate: the X25519 public key age encrypts to. */
export function montgomeryOf(groupKey: Uint8Array): Uint8Array {
  check(
    groupKey instanceof Uint8Array && groupKey.length === 32,
    'bad_point',
    `an ed25519 group key is 32 bytes, got ${groupKey?.length}`,
  );
  const P = ed25519.Point.fromBytes(groupKey, false);
  check(
    !P.is0() && P.isTorsionFree() && !P.isSmallOrder(),
    'bad_point',
    'group key: not a valid key',
  );
  return ed25519.utils.toMontgomery(groupKey);
}

/** The group's `age1…` recipient (bech32 of the X25519 public key, as age-keygen -y prints it). */
export function ageRecipient(groupKey: Uint8Array): string {
  return bech32.encode('age', bech32.toWords(montgomeryOf(groupKey)), 1023);
}

/** The X25519 public key in an `age1…` recipient; throws for anything else. */
export function parseAgeRecipient(s: string): Uint8Array {
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32.decode(s.toLowerCase() as `${string}1${string}`, 1023);
  } catch (e) {
    return fail(
      `not an age1 recipient: ${JSON.stringify(s.slice(0, 80))} (${(e as Error).message})`,
    );
  }
  if (decoded.prefix !== 'age') fail(`not an age1 recipient: ${JSON.stringify(s.slice(0, 80))}`);
  const u = bech32.fromWords(decoded.words);
  if (u.length !== 32) fail(`an age1 recipient holds 32 bytes, this one ${u.length}`);
  return u;
}

/**
 * The Edwards point (encoded, sign bit 0) of an X25519 public key `u`, so that s·E can be computed
 * by the group's ed25519 shares. u and its negation share a u-coordinate, so either sign gives the
 * same X25519 secret. Refuses a u that is not canonical, not on the curve (on the twist), of small
 * order or outside the prime-order subgroup: s·E would leak s mod 8, or be no secret at all.
 */
export function x25519ToEdwards(u: Uint8Array): Uint8Array {
  check(
    u instanceof Uint8Array && u.length === 32,
    'bad_point',
    `an X25519 share is 32 bytes, got ${u?.length}`,
  );
  const Fp = ed25519.Point.Fp;
  const n = bytesToLE(u);
  check(n < Fp.ORDER, 'bad_point', 'X25519 share: not a canonical field element');
  const uu = Fp.create(n);
  const plus1 = Fp.add(uu, Fp.ONE);
  check(!Fp.is0(plus1), 'bad_point', 'X25519 share: u = -1 has no Edwards point');
  // The birational map y = (u − 1) / (u + 1) (RFC 7748 §4.1), done in noble's field.
  const y = Fp.div(Fp.sub(uu, Fp.ONE), plus1);
  let P: ReturnType<typeof ed25519.Point.fromBytes>;
  try {
    P = ed25519.Point.fromBytes(Fp.toBytes(y), false);
  } catch {
    throw new CryptoError(
      'bad_point',
      'X25519 share: not a point of Curve25519 (it is on the twist)',
    );
  }
  check(!P.is0() && !P.isSmallOrder(), 'bad_point', 'X25519 share: a low-order point');
  check(P.isTorsionFree(), 'bad_point', 'X25519 share: not in the prime-order subgroup');
  return P.toBytes();
}

function bytesToLE(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/** The X25519 shared secret of an ECDH result s·E: its u-coordinate. Refuses an all-zero secret. */
export function sharedSecretOf(point: Uint8Array): Uint8Array {
  let shared: Uint8Array;
  try {
    // The identity (the only point with y = 1) has no u-coordinate: its secret is all zeros.
    shared = ed25519.Point.fromBytes(point, false).is0()
      ? new Uint8Array(32)
      : ed25519.utils.toMontgomery(point);
  } catch (e) {
    throw new CryptoError('bad_point', `ECDH result: not a point (${(e as Error).message})`);
  }
  check(
    shared.some((b) => b !== 0),
    'bad_point',
    'the X25519 shared secret is all zeros',
  );
  return shared;
}

/**
 * age's X25519 unwrap: wrap key = HKDF-SHA256(shared, salt = E || recipient, "age-encryption.org/
 * v1/X25519"), file key = ChaCha20-Poly1305(wrap key, zero nonce).open(body). Undefined when the
 * stanza is not for this recipient (the tag does not verify); throws for a malformed stanza.
 */
export function unwrapX25519(
  stanza: AgeStanza,
  shared: Uint8Array,
  recipient: Uint8Array,
): Uint8Array | undefined {
  const E = x25519Share(stanza);
  check(
    shared.length === 32 && shared.some((b) => b !== 0),
    'bad_point',
    'the X25519 shared secret is all zeros',
  );
  check(recipient.length === 32, 'bad_input', 'an X25519 recipient is 32 bytes');
  const key = hkdf(sha256, shared, concatBytes(E, recipient), X25519_INFO, 32);
  try {
    return chacha20poly1305(key, new Uint8Array(12)).decrypt(stanza.body);
  } catch {
    return undefined;
  } finally {
    key.fill(0);
  }
}

/** The ephemeral share of an X25519 stanza (`-> X25519 <base64 E>` with a 32-byte body). */
export function x25519Share(stanza: AgeStanza): Uint8Array {
  if (stanza.args[0] !== 'X25519') fail(`not an X25519 stanza: ${stanza.args[0]}`);
  if (stanza.args.length !== 2)
    fail(`an X25519 stanza has 1 argument, got ${stanza.args.length - 1}`);
  const E = b64(stanza.args[1]!, 'X25519 share');
  if (E.length !== 32) fail(`an X25519 share is 32 bytes, got ${E.length}`);
  if (stanza.body.length !== WRAPPED_BYTES)
    fail(`an X25519 stanza body is ${WRAPPED_BYTES} bytes, got ${stanza.body.length}`);
  return E;
}

/** The 4-byte tag age puts in an ssh-ed25519 stanza: SHA-256 of the key's SSH blob, cut. */
export function sshEd25519Tag(groupKey: Uint8Array): Uint8Array {
  return sha256(ed25519Blob(groupKey)).slice(0, 4);
}

/**
 * The tag and ephemeral share of an ssh-ed25519 stanza (`-> ssh-ed25519 <tag> <E>`, a 32-byte
 * body): age's recipient for an OpenSSH ed25519 key, such as the group's `ssh pubkey` line.
 */
export function sshEd25519Share(stanza: AgeStanza): { tag: Uint8Array; share: Uint8Array } {
  if (stanza.args[0] !== 'ssh-ed25519') fail(`not an ssh-ed25519 stanza: ${stanza.args[0]}`);
  if (stanza.args.length !== 3)
    fail(`an ssh-ed25519 stanza has 2 arguments, got ${stanza.args.length - 1}`);
  const tag = b64(stanza.args[1]!, 'ssh-ed25519 tag');
  if (tag.length !== 4) fail(`an ssh-ed25519 tag is 4 bytes, got ${tag.length}`);
  const share = b64(stanza.args[2]!, 'ssh-ed25519 share');
  if (share.length !== 32) fail(`an ssh-ed25519 share is 32 bytes, got ${share.length}`);
  if (stanza.body.length !== WRAPPED_BYTES)
    fail(`an ssh-ed25519 stanza body is ${WRAPPED_BYTES} bytes, got ${stanza.body.length}`);
  return { tag, share };
}

/**
 * age's ssh-ed25519 unwrap from the group's X25519 secret u(s·E): the secret is tweaked with
 * HKDF-SHA256("", salt = the key's SSH blob, "age-encryption.org/v1/ssh-ed25519") as an X25519
 * scalar, then wrap key = HKDF-SHA256(tweaked, E || recipient, the same label). Undefined when the
 * stanza is not for this key; throws for a malformed stanza or an all-zero secret.
 */
export function unwrapSshEd25519(
  stanza: AgeStanza,
  shared: Uint8Array,
  groupKey: Uint8Array,
): Uint8Array | undefined {
  const { share } = sshEd25519Share(stanza);
  check(
    shared.length === 32 && shared.some((b) => b !== 0),
    'bad_point',
    'the X25519 shared secret is all zeros',
  );
  const tweak = hkdf(sha256, new Uint8Array(), ed25519Blob(groupKey), SSH_ED25519_INFO, 32);
  let tweaked: Uint8Array;
  try {
    tweaked = x25519.scalarMult(tweak, shared);
  } catch (e) {
    throw new CryptoError('bad_point', `the tweaked secret is all zeros (${(e as Error).message})`);
  }
  const salt = concatBytes(share, montgomeryOf(groupKey));
  const key = hkdf(sha256, tweaked, salt, SSH_ED25519_INFO, 32);
  try {
    return chacha20poly1305(key, new Uint8Array(12)).decrypt(stanza.body);
  } catch {
    return undefined;
  } finally {
    key.fill(0);
    tweaked.fill(0);
  }
}

/**
 * The stanzas the group computes s·E for, in header order: every X25519 stanza (age keeps their
 * recipients anonymous) and the ssh-ed25519 stanzas tagged with the group's key (others are
 * someone else's SSH key). With each, the Edwards point of its share.
 */
export function groupStanzas(
  header: AgeHeader,
  groupKey: Uint8Array | undefined,
  /** Called for a stanza of the group's that is refused (default: throw). */
  refuse: (index: number, e: CryptoError) => never = (_i, e) => {
    throw e;
  },
): GroupStanza[] {
  const tag = groupKey && sshEd25519Tag(groupKey);
  const out: GroupStanza[] = [];
  header.stanzas.forEach((s, index) => {
    try {
      if (s.args[0] === 'X25519')
        out.push({ index, type: 'X25519', point: x25519ToEdwards(x25519Share(s)) });
      else if (s.args[0] === 'ssh-ed25519' && tag) {
        const { tag: t, share } = sshEd25519Share(s);
        if (equalBytes(t, tag))
          out.push({ index, type: 'ssh-ed25519', point: x25519ToEdwards(share) });
      }
    } catch (e) {
      if (!(e instanceof CryptoError)) throw e;
      refuse(index, e);
    }
  });
  return out;
}

/** A stanza the group computes s·E for: its position in the header, its type, E on Edwards. */
export interface GroupStanza {
  index: number;
  type: 'X25519' | 'ssh-ed25519';
  point: Uint8Array;
}

/** Whether `fileKey` opens this header: its MAC is HMAC-SHA256(HKDF(fileKey, "", "header")). */
export function headerMacMatches(header: AgeHeader, fileKey: Uint8Array): boolean {
  const key = hkdf(sha256, fileKey, new Uint8Array(), utf8ToBytes('header'), 32);
  const ok = equalBytes(hmac(sha256, key, header.headerNoMac), header.mac);
  key.fill(0);
  return ok;
}

/** Canonical unpadded base64, as age writes it (non-canonical trailing bits refused). */
function b64(s: string, what: string): Uint8Array {
  try {
    const b = base64nopad.decode(s);
    if (base64nopad.encode(b) !== s) throw new Error('not canonical');
    return b;
  } catch (e) {
    return fail(`${what}: not canonical unpadded base64 (${(e as Error).message})`);
  }
}

/**
 * Reads the age header at the start of `file` (the payload may follow), strictly: the version
 * line, 1..MAX_STANZAS stanzas of printable arguments with bodies in 64-column base64, and the
 * MAC line. Throws CryptoError('bad_input') naming what is wrong.
 */
export function parseAgeHeader(file: Uint8Array): AgeHeader {
  let pos = 0;
  const line = (): string => {
    const end = file.indexOf(0x0a, pos);
    if (end < 0 || end - pos > MAX_HEADER_BYTES) fail('the header ends before its MAC line');
    if (end >= MAX_HEADER_BYTES) fail(`the header is longer than ${MAX_HEADER_BYTES} bytes`);
    const bytes = file.subarray(pos, end);
    // Header lines are ASCII: printable characters only.
    for (const b of bytes)
      if (b < 0x20 || b > 0x7e)
        fail(`the header has a byte 0x${b.toString(16)} that is not printable`);
    pos = end + 1;
    return String.fromCharCode(...bytes);
  };
  if (file.length >= 10 && String.fromCharCode(...file.subarray(0, 10)) === '-----BEGIN')
    fail('the file is ASCII-armored: remove the armor first');
  const version = line();
  if (version !== VERSION_LINE)
    fail(`not an age v1 file: it starts with ${JSON.stringify(version.slice(0, 40))}`);
  const stanzas: AgeStanza[] = [];
  for (;;) {
    const start = pos;
    const l = line();
    if (l.startsWith('--- ')) {
      if (stanzas.length === 0) fail('the header has no recipient');
      const mac = b64(l.slice(4), 'header MAC');
      if (mac.length !== 32) fail(`the header MAC is 32 bytes, got ${mac.length}`);
      return { stanzas, mac, headerNoMac: file.slice(0, start + 3), length: pos };
    }
    if (!l.startsWith('-> '))
      fail(
        `expected a stanza ("-> ") or the MAC line ("--- "), got ${JSON.stringify(l.slice(0, 40))}`,
      );
    if (stanzas.length >= MAX_STANZAS) fail(`the header has more than ${MAX_STANZAS} recipients`);
    const args = l.slice(3).split(' ');
    if (args.length > MAX_ARGS) fail(`a stanza has more than ${MAX_ARGS} arguments`);
    for (const a of args)
      if (a.length === 0 || a.length > MAX_ARG_CHARS)
        fail(`a stanza has an empty or over-long argument in ${JSON.stringify(l.slice(0, 60))}`);
    const parts: Uint8Array[] = [];
    for (;;) {
      const body = line();
      if (body.length > COLUMNS) fail(`a stanza body line is longer than ${COLUMNS} characters`);
      if (body.length > 0) parts.push(b64(body, 'stanza body'));
      if (body.length < COLUMNS) break;
    }
    stanzas.push({ args, body: concatBytes(...parts) });
  }
}

/** The plaintext size of an age file of `fileSize` bytes whose header is `headerLength` bytes. */
export function plaintextSize(fileSize: number, headerLength: number): number | undefined {
  const payload = fileSize - headerLength - NONCE;
  if (!Number.isSafeInteger(payload) || payload < TAG) return undefined;
  const full = Math.floor(payload / (CHUNK + TAG));
  const rest = payload - full * (CHUNK + TAG);
  // A last chunk holds 1..64 KiB, or is the single empty chunk of an empty file.
  if (rest === 0) return full > 0 ? full * CHUNK : undefined;
  if (rest < TAG || (rest === TAG && full > 0)) return undefined;
  return full * CHUNK + rest - TAG;
}
