// Ed25519 signature verification that answers exactly as noble's strict verify does (RFC 8032
// decoding, S < L, small-order keys refused, cofactored equation), at the cost of the platform's
// native verify for the signatures that are valid.
//
// Why native acceptance implies noble's: OpenSSL (Node) and BoringSSL (Electron) decode A, compute
// R' = sB - hA with h = SHA-512(R || A || M) mod L, and accept only when R's 32 bytes equal the
// encoding of R' (a cofactorless check on bytes). An encoding is always canonical, so R then decodes
// strictly under noble to R' itself, and R + hA - sB is the identity: noble's cofactored equation
// [8](R + kA - sB) = 0 holds, with the same k (noble hashes the same bytes). What native does not
// check the way noble does is checked here before native is asked: A must decode strictly under
// noble and not be of small order (native accepts small-order keys), and S must be below L. So
// native-accept ⇒ noble-accept. R's encoding is also required to be canonical (a cheap check on
// its bytes), so the implication would hold as well for a native verifier that decoded R and
// compared points, or checked the cofactored equation. In every other case (native says no or throws, e.g. an Electron
// build without Ed25519, or a precondition fails) noble decides, so the answer is noble's always:
// a forged or odd signature costs both verifications, an honest one the native call only.
import {
  createPrivateKey,
  createPublicKey,
  sign as nativeSign,
  verify as nativeVerify,
  type KeyObject,
} from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, bytesToNumberLE, isBytes } from '@noble/curves/utils.js';

/** Verifies an Ed25519 signature: (sig, msg, raw 32-byte public key) → valid. */
export type Ed25519Verifier = (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array) => boolean;

/** noble's strict verification: the reference every other verifier here must agree with. */
export const nobleVerifyEd25519: Ed25519Verifier = (sig, msg, publicKey) =>
  ed25519.verify(sig, msg, publicKey, { zip215: false });

/** SubjectPublicKeyInfo DER of an Ed25519 key, before its 32 raw bytes (RFC 8410). */
const SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

/** Public keys remembered with their native key object (null: native is not used for it). */
export const KEY_CACHE_SIZE = 4096;
const keys = new Map<string, KeyObject | null>();

/** Whether the platform's verify is used at all (switched off for tests of the fallback). */
let nativeEnabled = true;

/**
 * The native key object for `publicKey`, or null when only noble may judge signatures by it: it
 * does not decode strictly (y >= p, or x = 0 with the sign bit set, or not on the curve), it is of
 * small order, or the platform cannot make an Ed25519 key.
 */
function keyObjectFor(publicKey: Uint8Array): KeyObject | null {
  const id = bytesToHex(publicKey);
  const known = keys.get(id);
  if (known !== undefined) return known;
  let key: KeyObject | null = null;
  try {
    if (!ed25519.Point.fromBytes(publicKey, false).isSmallOrder()) {
      const der = new Uint8Array(SPKI_PREFIX.length + 32);
      der.set(SPKI_PREFIX);
      der.set(publicKey, SPKI_PREFIX.length);
      key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    }
  } catch {
    key = null;
  }
  // Bounded: past the limit the oldest key goes (it is only a cache; it comes back when used).
  if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value!);
  keys.set(id, key);
  return key;
}

const Fp = ed25519.Point.Fp;
const MINUS_ONE = Fp.neg(Fp.ONE);

/**
 * Whether 32 bytes are a canonical point encoding as far as the encoding goes (not whether the
 * point is on the curve): y < p, and not x = 0 with the sign bit set, x being 0 exactly when
 * y = 1 or y = -1. These are the encodings noble's strict decoding refuses before any square root.
 */
export function canonicalEncoding(bytes: Uint8Array): boolean {
  const last = bytes[31]!;
  const normed = bytes.slice();
  normed[31] = last & 0x7f;
  const y = bytesToNumberLE(normed);
  if (!Fp.isValid(y)) return false;
  return (last & 0x80) === 0 || (y !== Fp.ONE && y !== MINUS_ONE);
}

/** True when native's acceptance may stand (see the top of this file); false to ask noble. */
function nativeAccepts(sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean {
  if (!nativeEnabled) return false;
  if (!isBytes(sig) || !isBytes(msg) || !isBytes(publicKey)) return false;
  if (sig.length !== 64 || publicKey.length !== 32) return false;
  // S < L, read as noble reads it (little-endian), checked with noble's scalar field.
  if (!ed25519.Point.Fn.isValid(bytesToNumberLE(sig.subarray(32)))) return false;
  if (!canonicalEncoding(sig.subarray(0, 32))) return false;
  const key = keyObjectFor(publicKey);
  if (key === null) return false;
  try {
    return nativeVerify(null, msg, key, sig) === true;
  } catch {
    return false;
  }
}

/**
 * Exactly noble's `ed25519.verify(sig, msg, publicKey, { zip215: false })`: the same answer for
 * every input, and it throws where noble throws (arguments that are not byte arrays, or of the
 * wrong length). A valid signature is confirmed by the platform's native verify (~15 times faster);
 * noble judges everything native does not accept.
 */
export const verifyEd25519: Ed25519Verifier = (sig, msg, publicKey) =>
  nativeAccepts(sig, msg, publicKey) || nobleVerifyEd25519(sig, msg, publicKey);

/** For tests: how many public keys are cached now. */
export function cachedKeyCount(): number {
  return keys.size;
}

/** For tests: turns the native path off (every answer then comes from noble) or back on. */
export function setNativeEd25519(enabled: boolean): void {
  nativeEnabled = enabled;
}

/**
 * Builds noble's table for the Ed25519 base point now (its first base-point multiplication does,
 * ~50 ms) instead of in the first signature: ed25519Signer's self-test signs with noble once per
 * key. A node calls it while its vault's key derivation runs in the thread pool, when the main
 * thread has nothing else to do. Best effort: never throws.
 */
export function warmEd25519(): void {
  try {
    ed25519.getPublicKey(new Uint8Array(32));
  } catch {
    // The self-test builds the table then.
  }
}

/** PKCS#8 DER of an Ed25519 private key, before its 32-byte seed (RFC 8410). */
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

/**
 * An Ed25519 signing function for `seed` (RFC 8032 §5.1.6) that gives noble's `ed25519.sign`
 * bytes at the cost of the platform's native signing (~0.1 ms instead of ~1.3 ms). Ed25519
 * signing is deterministic: the same seed and message give the same 64 bytes in every correct
 * implementation, so native's output is noble's output. That is checked once here, on a message of
 * our own, before native is trusted with the key; when it differs, or native cannot make an Ed25519
 * key or throws later, noble signs. The seed stays in memory only (a KeyObject, as the seed itself
 * is held); it is never written anywhere.
 */
export function ed25519Signer(seed: Uint8Array): (msg: Uint8Array) => Uint8Array {
  const own = Uint8Array.from(seed);
  const noble = (msg: Uint8Array): Uint8Array => ed25519.sign(msg, own);
  if (!nativeEnabled) return noble;
  let key: KeyObject;
  try {
    const der = new Uint8Array(PKCS8_PREFIX.length + 32);
    der.set(PKCS8_PREFIX);
    der.set(own, PKCS8_PREFIX.length);
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    der.fill(0);
    const probe = Uint8Array.from('conclave ed25519 self-test', (c) => c.charCodeAt(0));
    const mine = new Uint8Array(nativeSign(null, probe, key));
    if (bytesToHex(mine) !== bytesToHex(noble(probe))) return noble;
  } catch {
    return noble;
  }
  return (msg) => {
    try {
      return new Uint8Array(nativeSign(null, msg, key));
    } catch {
      return noble(msg);
    }
  };
}
