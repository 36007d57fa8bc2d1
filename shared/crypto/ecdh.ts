// Threshold ECDH: members compute s_i·P with a Chaum–Pedersen proof, and any T partials combine to
// s·P, so a message encrypted to the group key can be decrypted without reconstructing s.
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { CryptoError, check } from './errors.js';
import { isLowerHex } from '../protocol/fields.js';
import type { KeyPackage, PublicKeyPackage } from './keys.js';
import { lagrangeAtZero } from './poly.js';
import {
  assertIdentifiers,
  getSuite,
  identifierHex,
  parseIdentifier,
  type GroupPoint,
  type Rng,
  type Suite,
} from './suite.js';

/** A member's share of an ECDH result, with a proof that it used the share behind Y_i. */
export interface EcdhPartial {
  readonly identifier: bigint;
  /** s_i·P */
  readonly partial: GroupPoint;
  /** Chaum–Pedersen proof that log_G(Y_i) = log_P(partial). */
  readonly proof: { readonly c: bigint; readonly z: bigint };
}

/** The wire form of an EcdhPartial (hex of SerializeScalar / SerializeElement). */
export interface EcdhPartialJSON {
  identifier: string;
  partial: string;
  proof: { c: string; z: string };
}

const DLEQ_TAG = 'conclave/dleq/v1/';

/**
 * Accepts P as a point or its encoding and checks it the way a received element is checked
 * (RFC 9591 §3.1): not the identity, in the prime-order subgroup. An ed25519 P with a small-order
 * component would make s_i·P leak s_i mod 8.
 */
function ecdhPoint(suite: Suite, P: GroupPoint | Uint8Array, what: string): GroupPoint {
  if (P instanceof Uint8Array) return suite.decodePoint(P, what);
  check(
    P !== null && typeof P === 'object' && typeof P.is0 === 'function',
    'bad_point',
    `${what}: expected a point`,
  );
  check(!P.is0(), 'bad_point', `${what}: identity element`);
  let bytes: Uint8Array;
  try {
    bytes = suite.encodePoint(P);
  } catch (e) {
    throw new CryptoError('bad_point', `${what}: cannot be encoded (${(e as Error).message})`);
  }
  // Round-trip through the decoder: catches a point of another curve and, for ed25519, torsion.
  return suite.decodePoint(bytes, what);
}

/** c = H("conclave/dleq/v1/" + scheme; SerializeScalar(id) || G || Y_i || P || partial || A || B). */
function dleqChallenge(
  suite: Suite,
  id: bigint,
  Y: GroupPoint,
  P: GroupPoint,
  partial: GroupPoint,
  A: GroupPoint,
  B: GroupPoint,
): bigint {
  // Every element has a fixed length in a suite, so plain concatenation is unambiguous.
  const msg = concatBytes(
    suite.encodeScalar(id),
    ...[suite.G, Y, P, partial, A, B].map((x) => suite.encodePoint(x)),
  );
  return suite.hashToScalar(msg, utf8ToBytes(DLEQ_TAG + suite.name));
}

/**
 * This member's partial s_i·P and its DLEQ proof. Uses the raw (untweaked) share: for taproot
 * the result combines to s·P for the internal key, not the BIP341 output key.
 */
export function ecdhPartial(key: KeyPackage, P: GroupPoint | Uint8Array, rng?: Rng): EcdhPartial {
  const suite = getSuite(key.share.scheme);
  check(
    key.public.scheme === suite.name,
    'key_mismatch',
    'share and public package differ in scheme',
  );
  const point = ecdhPoint(suite, P, 'ECDH point');
  const id = key.share.identifier;
  const Y = key.public.verifyingShares.get(id);
  check(Y !== undefined, 'key_mismatch', 'share identifier is not a member of this key');
  const s = key.share.scalar();
  const partial = point.multiply(s);
  const k = suite.randomScalar(rng);
  const A = suite.G.multiply(k);
  const B = point.multiply(k);
  const c = dleqChallenge(suite, id, Y, point, partial, A, B);
  const z = suite.Fn.add(k, suite.Fn.mul(c, s));
  return { identifier: id, partial, proof: { c, z } };
}

/** Checks a partial's proof against the member's verifying share: A = z·G − c·Y_i, B = z·P − c·partial. */
export function verifyEcdhPartial(
  pub: PublicKeyPackage,
  P: GroupPoint | Uint8Array,
  partial: EcdhPartial,
): boolean {
  const suite = getSuite(pub.scheme);
  const point = ecdhPoint(suite, P, 'ECDH point');
  return verifyWith(suite, pub, point, partial);
}

function verifyWith(suite: Suite, pub: PublicKeyPackage, P: GroupPoint, p: EcdhPartial): boolean {
  try {
    const Y = pub.verifyingShares.get(p.identifier);
    if (Y === undefined) return false;
    const { c, z } = p.proof;
    const n = suite.Fn.ORDER;
    if (typeof c !== 'bigint' || typeof z !== 'bigint' || c < 0n || c >= n || z < 0n || z >= n)
      return false;
    const partial = ecdhPoint(suite, p.partial, 'ECDH partial');
    const A = suite.G.multiplyUnsafe(z).subtract(Y.multiplyUnsafe(c));
    const B = P.multiplyUnsafe(z).subtract(partial.multiplyUnsafe(c));
    // An honest prover's nonce is non-zero, so A and B are never the identity.
    if (A.is0() || B.is0()) return false;
    return dleqChallenge(suite, p.identifier, Y, P, partial, A, B) === c;
  } catch {
    return false;
  }
}

/**
 * s·P from at least T partials of distinct members: Σ λ_i·partial_i over the identifiers given.
 * Every proof is checked first; `bad_dleq_proof` names every member whose partial fails.
 */
export function combineEcdh(
  pub: PublicKeyPackage,
  P: GroupPoint | Uint8Array,
  partials: readonly EcdhPartial[],
): GroupPoint {
  const suite = getSuite(pub.scheme);
  const point = ecdhPoint(suite, P, 'ECDH point');
  check(Array.isArray(partials), 'bad_input', 'partials must be an array');
  check(
    partials.length >= pub.threshold,
    'bad_input',
    `need at least ${pub.threshold} partials, got ${partials.length}`,
  );
  const ids = partials.map((p) => p.identifier);
  assertIdentifiers(suite, ids);
  const bad = partials.filter((p) => !verifyWith(suite, pub, point, p)).map((p) => p.identifier);
  if (bad.length > 0)
    throw new CryptoError(
      'bad_dleq_proof',
      `invalid ECDH partials from ${bad.join(', ')}`,
      bad.map((id) => identifierHex(suite, id)),
    );
  return suite.msm(
    partials.map((p) => p.partial),
    ids.map((id) => lagrangeAtZero(suite, ids, id)),
  );
}

export function ecdhPartialToJSON(suite: Suite, p: EcdhPartial): EcdhPartialJSON {
  return {
    identifier: identifierHex(suite, p.identifier),
    partial: bytesToHex(suite.encodePoint(p.partial)),
    proof: {
      c: bytesToHex(suite.encodeScalar(p.proof.c)),
      z: bytesToHex(suite.encodeScalar(p.proof.z)),
    },
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function exactKeys(o: Record<string, unknown>, keys: readonly string[], what: string): void {
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  check(extra.length === 0, 'bad_input', `${what}: unknown fields ${extra.join(', ')}`);
  const missing = keys.filter((k) => !(k in o));
  check(missing.length === 0, 'bad_input', `${what}: missing fields ${missing.join(', ')}`);
}

/**
 * Decodes a received partial: canonical identifier, a valid non-identity point, canonical scalars.
 * Errors keep their own code (bad_identifier, bad_point, bad_scalar, bad_input) and name the sender
 * once its identifier is known. The proof itself is checked by verifyEcdhPartial / combineEcdh.
 */
export function ecdhPartialFromJSON(suite: Suite, j: unknown): EcdhPartial {
  check(isPlainObject(j), 'bad_input', 'ECDH partial must be an object');
  exactKeys(j, ['identifier', 'partial', 'proof'], 'ECDH partial');
  const identifier = parseIdentifier(suite, j.identifier as string);
  const idHex = j.identifier as string;
  try {
    const proof = j.proof;
    check(isPlainObject(proof), 'bad_input', 'ECDH proof must be an object');
    exactKeys(proof, ['c', 'z'], 'ECDH proof');
    const hex = (v: unknown, code: 'bad_point' | 'bad_scalar', what: string) => {
      check(isLowerHex(v), code, `${what} must be lowercase hex`);
      return hexToBytes(v);
    };
    return {
      identifier,
      partial: suite.decodePoint(hex(j.partial, 'bad_point', 'partial'), 'ECDH partial'),
      proof: {
        c: suite.decodeScalar(hex(proof.c, 'bad_scalar', 'proof c'), 'proof c'),
        z: suite.decodeScalar(hex(proof.z, 'bad_scalar', 'proof z'), 'proof z'),
      },
    };
  } catch (e) {
    if (!(e instanceof CryptoError)) throw e;
    throw new CryptoError(e.code, e.message.replace(`${e.code}: `, ''), [idHex]);
  }
}
