// Trusted-dealer split of an existing key into T-of-N shares, and combine (RFC 9591 Appendix C).
import { ed25519 } from '@noble/curves/ed25519.js';
import { CryptoError, check } from './errors.js';
import { makePublicPackage, SecretShare, type KeyPackage, type PublicKeyPackage } from './keys.js';
import { commitPoly, evalPoly, interpolateAtZero, randomPoly } from './poly.js';
import {
  assertIdentifiers,
  assertThreshold,
  getSuite,
  type GroupPoint,
  type Rng,
  type SchemeName,
} from './suite.js';

/**
 * The signing scalar of a key a user already holds: for ed25519 the RFC 8032 §5.1.5 expanded
 * scalar of a 32-byte seed (so the group key equals the seed's public key); for secp256k1 and
 * taproot the 32-byte big-endian private key itself.
 */
export function scalarFromExistingKey(scheme: SchemeName, key: Uint8Array): bigint {
  const suite = getSuite(scheme);
  check(
    key instanceof Uint8Array && key.length === 32,
    'bad_length',
    `expected a 32-byte key, got ${key?.length}`,
  );
  if (scheme === 'ed25519') {
    const { scalar } = ed25519.utils.getExtendedPublicKey(key);
    return suite.Fn.create(scalar);
  }
  const s = suite.decodeScalar(key, 'private key');
  check(s !== 0n, 'bad_scalar', 'private key must not be zero');
  return s;
}

/** Splits `secret` into shares for `identifiers` with threshold `t` (RFC 9591 App. C trusted_dealer_keygen). */
export function splitSecret(
  scheme: SchemeName,
  secret: bigint,
  t: number,
  identifiers: readonly bigint[],
  rng?: Rng,
): KeyPackage[] {
  const suite = getSuite(scheme);
  assertThreshold(t, identifiers.length);
  assertIdentifiers(suite, identifiers);
  check(secret > 0n && secret < suite.Fn.ORDER, 'bad_scalar', 'secret must be a non-zero scalar');
  const coeffs = randomPoly(suite, t, secret, rng);
  const commitment = commitPoly(suite, coeffs);
  const shares = identifiers.map((id) => [id, evalPoly(suite, coeffs, id)] as const);
  coeffs.fill(0n);
  const vs = new Map<bigint, GroupPoint>(shares.map(([id, s]) => [id, suite.G.multiply(s)]));
  const pub = makePublicPackage(scheme, t, commitment[0], vs, 0);
  return shares.map(([id, s]) => ({ public: pub, share: new SecretShare(scheme, id, s, 0) }));
}

/** Splits an existing key (see scalarFromExistingKey) into T-of-N shares for identifiers 1..N. */
export function splitExistingKey(
  scheme: SchemeName,
  key: Uint8Array,
  t: number,
  n: number,
  rng?: Rng,
): KeyPackage[] {
  assertThreshold(t, n);
  const ids = Array.from({ length: n }, (_, i) => BigInt(i + 1));
  return splitSecret(scheme, scalarFromExistingKey(scheme, key), t, ids, rng);
}

/**
 * Lagrange interpolation of at least T shares at zero. The result is checked against the group
 * key: fewer than T shares, shares of another key or another epoch all give `key_mismatch`.
 * Returns the group secret scalar; the caller wipes it after the stated operation.
 */
export function combineShares(pub: PublicKeyPackage, shares: readonly SecretShare[]): bigint {
  const suite = getSuite(pub.scheme);
  check(
    shares.length >= pub.threshold,
    'key_mismatch',
    `need at least ${pub.threshold} shares to reconstruct, got ${shares.length}`,
  );
  assertIdentifiers(
    suite,
    shares.map((s) => s.identifier),
  );
  for (const s of shares) {
    check(s.scheme === pub.scheme, 'key_mismatch', `share is ${s.scheme}, key is ${pub.scheme}`);
    check(
      s.epoch === pub.epoch,
      'epoch_mismatch',
      `share from epoch ${s.epoch}, key is epoch ${pub.epoch}`,
    );
  }
  const secret = interpolateAtZero(
    suite,
    shares.map((s) => [s.identifier, s.scalar()] as const),
  );
  if (secret === 0n || !suite.G.multiply(secret).equals(pub.groupKey))
    throw new CryptoError('key_mismatch', 'the shares do not reconstruct the group key');
  return secret;
}
