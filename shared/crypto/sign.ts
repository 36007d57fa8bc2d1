// FROST signing (RFC 9591 §5): commit, sign share, verify share, aggregate, over a session object
// that decodes each received point once and computes the group commitment once.
import { bytesToHex, concatBytes, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import { CryptoError, check } from './errors.js';
import type { KeyPackage, SigningKey } from './keys.js';
import { asBip340, asBip340Public, assertShareMatches, signingKey } from './keys.js';
import { lagrangeAtZero } from './poly.js';
import { Redacted } from './secret.js';
import {
  assertIdentifiers,
  getSuite,
  hasEvenY,
  identifierHex,
  parseIdentifier,
  type GroupPoint,
  type Rng,
  type SchemeName,
  type Suite,
} from './suite.js';

/** A signer's public round-one output (RFC 9591 §5.1), decoded. */
export interface NonceCommitment {
  readonly identifier: bigint;
  readonly hiding: GroupPoint;
  readonly binding: GroupPoint;
}

/** The wire form of a nonce commitment (hex). */
export interface NonceCommitmentJSON {
  identifier: string;
  hiding: string;
  binding: string;
}

export function commitmentToJSON(suite: Suite, c: NonceCommitment): NonceCommitmentJSON {
  return {
    identifier: identifierHex(suite, c.identifier),
    hiding: bytesToHex(suite.encodePoint(c.hiding)),
    binding: bytesToHex(suite.encodePoint(c.binding)),
  };
}

/**
 * Decodes and validates a received commitment: identifier and both points (RFC 9591 §3.1).
 * `anyOrder`: the points are decoded without their prime-order subgroup check (on the curve,
 * canonical, not the identity), for a caller that uses them only in a SigningPackage, which checks
 * its group commitment instead (see there why that is enough).
 */
export function commitmentFromJSON(
  suite: Suite,
  j: NonceCommitmentJSON,
  anyOrder = false,
): NonceCommitment {
  check(j !== null && typeof j === 'object', 'bad_commitment', 'commitment must be an object');
  const identifier = parseIdentifier(suite, j.identifier);
  const pt = (h: unknown, what: string) => {
    check(typeof h === 'string' && /^[0-9a-f]*$/.test(h), 'bad_commitment', `${what} must be hex`, [
      j.identifier,
    ]);
    try {
      const bytes = hexToBytes(h);
      return anyOrder ? suite.decodePointAnyOrder(bytes, what) : suite.decodePoint(bytes, what);
    } catch (e) {
      throw new CryptoError('bad_commitment', (e as Error).message, [j.identifier]);
    }
  };
  return {
    identifier,
    hiding: pt(j.hiding, 'hiding commitment'),
    binding: pt(j.binding, 'binding commitment'),
  };
}

/**
 * A signer's one-time nonce pair (d, e). `take()` hands them out once; a second use throws
 * `nonce_reused`. Never persisted; prints as `<redacted>`.
 */
export class SigningNonces extends Redacted {
  readonly commitment: NonceCommitment;
  #hiding: bigint;
  #binding: bigint;
  #used = false;
  constructor(hiding: bigint, binding: bigint, commitment: NonceCommitment) {
    super();
    this.#hiding = hiding;
    this.#binding = binding;
    this.commitment = commitment;
  }
  get used(): boolean {
    return this.#used;
  }
  /** Returns the nonces and marks them spent. */
  take(): [bigint, bigint] {
    if (this.#used) throw new CryptoError('nonce_reused', 'these signing nonces were already used');
    this.#used = true;
    const r: [bigint, bigint] = [this.#hiding, this.#binding];
    this.#hiding = 0n;
    this.#binding = 0n;
    return r;
  }
}

/**
 * RFC 9591 §5.1 commit(): d, e = nonce_generate(s_i) = H3(random_bytes(32) || SerializeScalar(s_i)),
 * with commitments D = d·G, E = e·G. `rng` exists so tests can replay the RFC vectors.
 */
export function commit(key: KeyPackage, rng: Rng = randomBytes): SigningNonces {
  const suite = getSuite(key.share.scheme);
  const skBytes = suite.encodeScalar(key.share.scalar());
  const gen = () => {
    const r = rng(32);
    check(r.length === 32, 'bad_input', `rng returned ${r.length} bytes, expected 32`);
    return suite.H3(concatBytes(r, skBytes));
  };
  const d = gen();
  const e = gen();
  check(d !== 0n && e !== 0n, 'bad_scalar', 'nonce generation produced zero');
  skBytes.fill(0);
  const commitment = {
    identifier: key.share.identifier,
    hiding: suite.G.multiply(d),
    binding: suite.G.multiply(e),
  };
  return new SigningNonces(d, e, commitment);
}

/**
 * Everything the signers and the coordinator derive from (key, commitment list, message):
 * binding factors (§4.4), group commitment (§4.5), challenge (§4.6) and Lagrange coefficients.
 * Built once per signing attempt and shared by signShare, verifyShare and aggregate.
 */
export class SigningPackage {
  readonly key: SigningKey;
  readonly message: Uint8Array;
  /** Commitments sorted by identifier. */
  readonly commitments: readonly NonceCommitment[];
  readonly signers: readonly bigint[];
  readonly bindingFactors: ReadonlyMap<bigint, bigint>;
  /** The group commitment R as computed (before any even-Y normalisation). */
  readonly groupCommitment: GroupPoint;
  /** Taproot: nonces and commitment shares are negated when R has odd Y. */
  readonly negateNonces: boolean;
  readonly challenge: bigint;
  #lambdas = new Map<bigint, bigint>();

  constructor(key: SigningKey, commitments: readonly NonceCommitment[], message: Uint8Array) {
    const suite = key.suite;
    check(message instanceof Uint8Array, 'bad_input', 'message must be bytes');
    check(
      commitments.length >= key.threshold && commitments.length <= key.verifyingShares.size,
      'bad_commitment_count',
      `expected ${key.threshold}..${key.verifyingShares.size} commitments, got ${commitments.length}`,
    );
    const sorted = [...commitments].sort((a, b) =>
      a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0,
    );
    const ids = sorted.map((c) => c.identifier);
    assertIdentifiers(suite, ids);
    for (const id of ids)
      check(key.verifyingShares.has(id), 'bad_commitment', `signer ${id} is not a member`, [
        identifierHex(suite, id),
      ]);
    // RFC 9591 §4.3 encode_group_commitment_list and §4.4 compute_binding_factors.
    const parts: Uint8Array[] = [];
    for (const c of sorted)
      parts.push(
        suite.encodeScalar(c.identifier),
        suite.encodePoint(c.hiding),
        suite.encodePoint(c.binding),
      );
    const prefix = concatBytes(key.keyBytes, suite.H4(message), suite.H5(concatBytes(...parts)));
    const rho = new Map<bigint, bigint>();
    for (const id of ids) rho.set(id, suite.H1(concatBytes(prefix, suite.encodeScalar(id))));
    // §4.5 compute_group_commitment: Σ D_i + Σ ρ_i·E_i, the second sum as one MSM.
    let hiding = suite.ZERO;
    for (const c of sorted) hiding = hiding.add(c.hiding);
    const R = hiding.add(
      suite.msm(
        sorted.map((c) => c.binding),
        ids.map((id) => rho.get(id)!),
      ),
    );
    check(!R.is0(), 'bad_commitment', 'group commitment is the identity');
    assertGroupCommitmentPrimeOrder(suite, R, sorted);
    this.key = key;
    this.message = message;
    this.commitments = sorted;
    this.signers = ids;
    this.bindingFactors = rho;
    this.groupCommitment = R;
    this.negateNonces = suite.evenY && !hasEvenY(R);
    this.challenge = suite.challenge(R, key.key, message);
  }

  /** λ_i over this signer set (RFC 9591 §4.2). */
  lambda(id: bigint): bigint {
    let l = this.#lambdas.get(id);
    if (l === undefined) {
      l = lagrangeAtZero(this.key.suite, this.signers, id);
      this.#lambdas.set(id, l);
    }
    return l;
  }

  commitmentOf(id: bigint): NonceCommitment {
    const c = this.commitments.find((x) => x.identifier === id);
    check(c !== undefined, 'bad_input', `no commitment from ${id}`);
    return c;
  }
}

/**
 * Throws `bad_commitment` unless the group commitment R is in the prime-order subgroup: one
 * multiplication by the group order, however many signers. Only when it is not are the signers'
 * points checked one by one, to name every owner of one outside the subgroup (there always is
 * one: R is a combination of the points).
 *
 * Why the received commitments need no check of their own (commitmentFromJSON `anyOrder`), on
 * ed25519 (Z/ℓ × Z/8: each D_i = D'_i + T_i and E_i = E'_i + T'_i uniquely, D'_i, E'_i of order ℓ,
 * T_i, T'_i torsion):
 * - A signer's share z = d + e·ρ + λ·s·c uses the others' commitments only through the binding
 *   factors ρ_j (hashes of the encoded list, §4.3–4.4) and the challenge c = H(R, Y, m). With R
 *   checked, (R, Σ z_i) is a standard signature over a prime-order R. Torsion changes only the
 *   encodings the binding factors hash, which an adversary can already vary at will by its choice
 *   of prime-order points; torsion that does not cancel in R is refused here, its owner named.
 * - A signer's own nonces never carry torsion (commit), and signShare refuses a package whose
 *   commitment for it is not its own, so an honest share always passes verify_signature_share.
 *   A share check z_i·G = D_i + ρ_i·E_i + c·λ_i·Y_i fails for a signer whose own T_i + ρ_i·T'_i is
 *   not zero (the left side has no torsion), even when it cancels against another's in R: blame
 *   (aggregate, verifyShare, evidence.ts) still names only signers that deviated, never an honest
 *   one.
 * - Nothing keeps a received commitment beyond the attempt but its encoding (receipts hash the
 *   wire list). A coordinator pools commitments decoded the same way, and checks the group
 *   commitment of the list it picked before sending it (main/node/signing.ts signPart): an
 *   honest one never relays a list a signer would refuse, and the owner of the point that failed
 *   it is found by the same per-point checks.
 * secp256k1 has cofactor 1: nothing to check.
 */
function assertGroupCommitmentPrimeOrder(
  suite: Suite,
  R: GroupPoint,
  commitments: readonly NonceCommitment[],
): void {
  if (suite.primeOrderCurve || suite.inPrimeOrderSubgroup(R)) return;
  const culprits = commitments
    .filter((c) => !suite.inPrimeOrderSubgroup(c.hiding) || !suite.inPrimeOrderSubgroup(c.binding))
    .map((c) => identifierHex(suite, c.identifier));
  throw new CryptoError(
    'bad_commitment',
    culprits.length
      ? `nonce commitment not in the prime-order subgroup (from ${culprits.join(', ')})`
      : 'group commitment is not in the prime-order subgroup',
    culprits,
  );
}

/** Builds the signing package for a key package (the signer's or the coordinator's view). */
export function signingPackage(
  pub: KeyPackage['public'],
  commitments: readonly NonceCommitment[],
  message: Uint8Array,
  opts?: { tweak?: boolean },
): SigningPackage {
  return new SigningPackage(signingKey(pub, opts), commitments, message);
}

/**
 * RFC 9591 §5.2 sign(): z_i = d_i + e_i·ρ_i + λ_i·s_i·c. Consumes `nonces` (a second call throws
 * `nonce_reused`) and refuses a package whose commitment for this signer is not its own.
 */
export function signShare(key: KeyPackage, nonces: SigningNonces, pkg: SigningPackage): bigint {
  const suite = pkg.key.suite;
  const id = key.share.identifier;
  check(key.share.scheme === suite.name, 'key_mismatch', 'share and package use different schemes');
  check(
    key.share.epoch === key.public.epoch,
    'epoch_mismatch',
    `share is from epoch ${key.share.epoch}, the key is at epoch ${key.public.epoch}`,
  );
  const mine = pkg.commitments.find((c) => c.identifier === id);
  check(mine !== undefined, 'bad_commitment', 'this signer has no commitment in the package');
  check(
    nonces.commitment.identifier === id &&
      mine.hiding.equals(nonces.commitment.hiding) &&
      mine.binding.equals(nonces.commitment.binding),
    'bad_commitment',
    'the package carries a different commitment for this signer than its own nonces',
  );
  const [d0, e0] = nonces.take();
  const Fn = suite.Fn;
  const d = pkg.negateNonces ? Fn.neg(d0) : d0;
  const e = pkg.negateNonces ? Fn.neg(e0) : e0;
  const s = pkg.key.adjustShare(key.share.scalar());
  const z = Fn.add(
    Fn.add(d, Fn.mul(e, pkg.bindingFactors.get(id)!)),
    Fn.mul(Fn.mul(pkg.lambda(id), s), pkg.challenge),
  );
  return z;
}

/** RFC 9591 §5.4 verify_signature_share: z_i·G == D_i + ρ_i·E_i + (c·λ_i)·Y_i. */
export function verifyShare(pkg: SigningPackage, id: bigint, z: bigint): boolean {
  const suite = pkg.key.suite;
  const Y = pkg.key.verifyingShares.get(id);
  if (Y === undefined || !pkg.signers.includes(id)) return false;
  if (typeof z !== 'bigint' || z < 0n || z >= suite.Fn.ORDER) return false;
  const c = pkg.commitmentOf(id);
  let share = c.hiding.add(c.binding.multiplyUnsafe(pkg.bindingFactors.get(id)!));
  if (pkg.negateNonces) share = share.negate();
  const rhs = share.add(Y.multiplyUnsafe(suite.Fn.mul(pkg.challenge, pkg.lambda(id))));
  return suite.G.multiplyUnsafe(z).equals(rhs);
}

/** Decodes a received signature share (SerializeScalar form); throws `bad_signature_share` naming it. */
export function decodeSignatureShare(suite: Suite, id: bigint, bytes: Uint8Array): bigint {
  try {
    return suite.decodeScalar(bytes, 'signature share');
  } catch (e) {
    throw new CryptoError('bad_signature_share', (e as Error).message, [identifierHex(suite, id)]);
  }
}

/**
 * RFC 9591 §5.3 aggregate(): z = Σ z_i, signature (R, z). The result is verified against the
 * group key before it is returned (z·G == R + c·PK); when that fails each share is checked and the
 * error names every culprit.
 */
export function aggregate(pkg: SigningPackage, shares: ReadonlyMap<bigint, bigint>): Uint8Array {
  const suite = pkg.key.suite;
  const Fn = suite.Fn;
  const missing = pkg.signers.filter((id) => !shares.has(id));
  check(
    missing.length === 0,
    'aggregation_failed',
    `missing signature shares from ${missing.join(', ')}`,
    missing.map((id) => identifierHex(suite, id)),
  );
  check(shares.size === pkg.signers.length, 'aggregation_failed', 'shares from non-signers');
  let z = 0n;
  const bad: bigint[] = [];
  for (const id of pkg.signers) {
    const zi = shares.get(id)!;
    if (typeof zi !== 'bigint' || zi < 0n || zi >= Fn.ORDER) bad.push(id);
    else z = Fn.add(z, zi);
  }
  if (bad.length === 0) {
    const R = pkg.negateNonces ? pkg.groupCommitment.negate() : pkg.groupCommitment;
    // z·G - c·PK == R, with the group key's precomputed table.
    const lhs = suite.G.multiplyUnsafe(z).subtract(pkg.key.key.multiplyUnsafe(pkg.challenge));
    if (lhs.equals(R)) return suite.encodeSignature(R, z);
  }
  // Blame path: check every share individually.
  for (const id of pkg.signers)
    if (!bad.includes(id) && !verifyShare(pkg, id, shares.get(id)!)) bad.push(id);
  throw new CryptoError(
    'aggregation_failed',
    bad.length ? 'invalid signature shares' : 'signature does not verify',
    bad.map((id) => identifierHex(suite, id)),
  );
}

/**
 * An Ed25519 verifier (signature, message, raw 32-byte public key) that answers exactly as noble's
 * strict verify (RFC 8032 decoding, zip215 off) does, e.g. main/'s native-speed one; throwing counts
 * as an invalid signature.
 */
export type Ed25519Verify = (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array) => boolean;

/** A signature under a key view: the suite's standard verifier, or for Ed25519 the one given. */
function verifyUnder(
  view: SigningKey,
  message: Uint8Array,
  signature: Uint8Array,
  ed25519Verify: Ed25519Verify | undefined,
): boolean {
  const publicKey = view.suite.externalKey(view.key);
  if (ed25519Verify === undefined || view.suite.name !== 'ed25519')
    return view.suite.verify(signature, message, publicKey);
  try {
    return ed25519Verify(signature, message, publicKey) === true;
  } catch {
    return false;
  }
}

/**
 * Verifies a final signature with the scheme's standard verifier against the signing key. An
 * Ed25519 group's is checked by `ed25519Verify` when one is given (noble's strict verify if not).
 */
export function verifySignature(
  pub: KeyPackage['public'],
  message: Uint8Array,
  signature: Uint8Array,
  ed25519Verify?: Ed25519Verify,
): boolean {
  return verifyUnder(signingKey(pub), message, signature, ed25519Verify);
}

/** One signature of a request with several (see shared/requests SignPart). */
export interface PartSpec {
  message: Uint8Array;
  /** Taproot: false signs under the untweaked internal key. Default true. */
  tweak?: boolean;
  /** A BIP340 signature from a secp256k1 or taproot key, never tweaked. */
  bip340?: boolean;
}

/** The key view a part is signed and verified under. */
export function partKey(pub: KeyPackage['public'], part: PartSpec): SigningKey {
  return part.bip340
    ? signingKey(asBip340Public(pub), { tweak: false })
    : signingKey(pub, { tweak: part.tweak ?? true });
}

/** The key package a signer signs a part with (relabelled for a BIP340 part). */
export function partKeyPackage(key: KeyPackage, part: PartSpec): KeyPackage {
  return part.bip340 ? asBip340(key) : key;
}

/** Verifies one part's signature with the standard verifier of its scheme (see verifySignature). */
export function verifyPart(
  pub: KeyPackage['public'],
  part: PartSpec,
  signature: Uint8Array,
  ed25519Verify?: Ed25519Verify,
): boolean {
  return verifyUnder(partKey(pub, part), part.message, signature, ed25519Verify);
}

/** A part's signature length: 65 for RFC 9591 secp256k1 (R compressed ‖ z), else 64. */
export function partSignatureLength(scheme: SchemeName, part: PartSpec): number {
  return scheme === 'secp256k1' && !part.bip340 ? 65 : 64;
}

/**
 * Splits a request's signature (the parts' signatures, concatenated in order) and verifies each
 * (an Ed25519 group's with `ed25519Verify` when given); undefined when the length is wrong or any
 * part does not verify.
 */
export function splitAndVerify(
  pub: KeyPackage['public'],
  parts: readonly PartSpec[],
  signature: Uint8Array,
  ed25519Verify?: Ed25519Verify,
): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const part of parts) {
    const n = partSignatureLength(pub.scheme, part);
    const sig = signature.subarray(at, at + n);
    if (sig.length !== n || !verifyPart(pub, part, sig, ed25519Verify)) return undefined;
    out.push(sig.slice());
    at += n;
  }
  return at === signature.length && parts.length > 0 ? out : undefined;
}

/** Convenience for tests and the sandbox: check a share against its public package first. */
export function assertKeyPackage(key: KeyPackage): void {
  assertShareMatches(key.public, key.share);
}
