// Distributed key generation: Pedersen DKG with proofs of knowledge (FROST paper Fig. 1, as in
// ZcashFoundation/frost), plus a session context bound into every package and an echo round that
// catches a member sending different round-1 packages to different members.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { CryptoError, check, shown } from './errors.js';
import { isLowerHex } from '../protocol/fields.js';
import { makePublicPackage, SecretShare, type KeyPackage } from './keys.js';
import type { Ed25519Verify } from './sign.js';
import { commitPoly, evalCommitment, evalPoly, randomPoly } from './poly.js';
import { Redacted } from './secret.js';
import {
  assertIdentifiers,
  assertThreshold,
  getSuite,
  hasEvenY,
  identifierHex,
  parseIdentifier,
  type GroupPoint,
  type Rng,
  type SchemeName,
  type Suite,
} from './suite.js';

export const DKG_VERSION = 1;

/**
 * noble's strict Ed25519 verify (RFC 8032 decoding, zip215 off): how the DKG, reshare and repair
 * check identity-key signatures unless given a verifier that answers as it does (main's
 * native-speed verifyEd25519).
 */
export const strictEd25519Verify: Ed25519Verify = (sig, msg, publicKey) =>
  ed25519.verify(sig, msg, publicKey, { zip215: false });

/** One roster entry: the member's FROST identifier and its long-term identity public key. */
export interface DkgMember {
  readonly identifier: bigint;
  readonly identityKey: Uint8Array;
}

/** What all members agree on before the DKG starts; its digest is bound into every package. */
export interface DkgParams {
  readonly scheme: SchemeName;
  readonly threshold: number;
  /** The ordered roster. */
  readonly members: readonly DkgMember[];
  /** 32 fresh random bytes chosen for this run, so packages cannot be replayed into another. */
  readonly sessionId: Uint8Array;
}

// ---- canonical encoding for transcript hashes ----

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}
/** Length-prefixed concatenation: unambiguous for any parts. */
export function lp(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts.flatMap((p) => [u32(p.length), p]));
}

/** sha256 over the canonical encoding of the DKG parameters. Validates them first. */
export function dkgSessionDigest(params: DkgParams): Uint8Array {
  const suite = getSuite(params.scheme);
  check(Array.isArray(params.members), 'bad_input', 'members must be an array');
  assertThreshold(params.threshold, params.members.length);
  assertIdentifiers(
    suite,
    params.members.map((m) => m.identifier),
  );
  check(
    params.sessionId instanceof Uint8Array && params.sessionId.length === 32,
    'bad_input',
    `sessionId must be 32 bytes, got ${params.sessionId?.length}`,
  );
  for (const m of params.members)
    check(
      m.identityKey instanceof Uint8Array && m.identityKey.length > 0,
      'bad_input',
      'identity key missing',
    );
  return sha256(
    lp(
      utf8ToBytes('conclave/dkg/v1'),
      utf8ToBytes(params.scheme),
      u32(params.threshold),
      params.sessionId,
      ...params.members.flatMap((m) => [suite.encodeScalar(m.identifier), m.identityKey]),
    ),
  );
}

// ---- proof of knowledge of a_{i0} (Schnorr, challenge HDKG(id || ctx || φ || R)) ----

function pokEncode(suite: Suite, R: GroupPoint, z: bigint): Uint8Array {
  // Taproot's PoK carries x(R) only, with R forced to even Y, as ZF's frost-secp256k1-tr does.
  return concatBytes(suite.evenY ? R.toBytes().subarray(1) : R.toBytes(), suite.encodeScalar(z));
}
// `anyOrderR`: skip R's subgroup check (see verifyKnowledge for when that is sound).
function pokDecode(
  suite: Suite,
  proof: Uint8Array,
  anyOrderR = false,
): { R: GroupPoint; z: bigint } {
  const rLen = suite.evenY ? 32 : suite.pointLength;
  check(
    proof instanceof Uint8Array && proof.length === rLen + suite.scalarLength,
    'bad_proof_of_knowledge',
    `expected ${rLen + suite.scalarLength} bytes, got ${proof?.length}`,
  );
  const rBytes = suite.evenY
    ? concatBytes(Uint8Array.of(2), proof.subarray(0, 32))
    : proof.subarray(0, rLen);
  return {
    R: anyOrderR
      ? suite.decodePointAnyOrder(rBytes, 'proof commitment')
      : suite.decodePoint(rBytes, 'proof commitment'),
    z: suite.decodeScalar(proof.subarray(rLen), 'proof response'),
  };
}
function pokChallenge(
  suite: Suite,
  id: bigint,
  ctx: Uint8Array,
  phi: GroupPoint,
  R: GroupPoint,
): bigint {
  return suite.HDKG(
    concatBytes(suite.encodeScalar(id), ctx, suite.encodePoint(phi), suite.encodePoint(R)),
  );
}

/** σ = (R, μ) with μ = k + a_0·c, proving knowledge of a_0 for φ = a_0·G. `ctx` is the session digest. */
export function proveKnowledge(
  suite: Suite,
  id: bigint,
  a0: bigint,
  phi: GroupPoint,
  ctx: Uint8Array,
  rng?: Rng,
): Uint8Array {
  let k = suite.randomScalar(rng);
  let R = suite.G.multiply(k);
  if (suite.evenY && !hasEvenY(R)) {
    k = suite.Fn.neg(k);
    R = R.negate();
  }
  const c = pokChallenge(suite, id, ctx, phi, R);
  return pokEncode(suite, R, suite.Fn.add(k, suite.Fn.mul(a0, c)));
}

/**
 * Checks σ against φ; throws `bad_proof_of_knowledge` naming `id`.
 *
 * `anyOrder`: R is decoded without its subgroup check, and φ may have been too. For a caller that
 * knows φ is in the prime-order subgroup, z·G − c·φ is in the subgroup, so an R outside it fails
 * the equation with the same error code its decoding would have raised. For a caller that uses
 * only φ's prime-order part (dkgEcho: its summed commitments are checked, assertSumsPrimeOrder),
 * the proof still shows knowledge of that part's discrete log. On ed25519 the group is Z/ℓ × Z/8:
 * φ = Q + T and R = R_Q + R_T, each uniquely, with Q, R_Q of order ℓ and T, R_T torsion. The
 * equation z·G − c·φ = R holds iff z·G − c·Q = R_Q and −c·T = R_T: the first is the Schnorr
 * equation for Q with commitment R_Q, under a challenge c bound to the whole of φ and R. Two
 * accepted answers (c, z), (c', z') for the same φ and R give (z − z')·G = (c − c')·φ; the left
 * side has no torsion, so (c − c')·T = 0 and (z − z')·G = (c − c')·Q, which yields Q's discrete
 * log: the usual extraction, so the proof stops rogue keys in the prime-order part of the group
 * key as it does without torsion. The torsion equation only says which R the prover must send.
 */
export function verifyKnowledge(
  suite: Suite,
  id: bigint,
  phi: GroupPoint,
  proof: Uint8Array,
  ctx: Uint8Array,
  anyOrder = false,
): void {
  const culprit = [identifierHex(suite, id)];
  let R: GroupPoint, z: bigint;
  try {
    ({ R, z } = pokDecode(suite, proof, anyOrder));
  } catch (e) {
    throw new CryptoError('bad_proof_of_knowledge', (e as Error).message, culprit);
  }
  const c = pokChallenge(suite, id, ctx, phi, R);
  check(
    suite.G.multiplyUnsafe(z).subtract(phi.multiplyUnsafe(c)).equals(R),
    'bad_proof_of_knowledge',
    `proof of knowledge from ${id} does not verify`,
    culprit,
  );
}

// ---- share verification and key assembly (shared by DKG, refresh and reshare) ----

/**
 * Verifies every received share s_{j→i} against its dealer's commitment: s·G == Σ_k i^k·C_{jk}
 * (RFC 9591 App. C.2 vss_verify), evaluated by Horner's rule. The error names every dealer whose
 * share is wrong, not just the first.
 */
export function verifyReceivedShares(
  suite: Suite,
  me: bigint,
  commitments: ReadonlyMap<bigint, readonly GroupPoint[]>,
  shares: ReadonlyMap<bigint, bigint>,
): void {
  const culprits: string[] = [];
  for (const [j, s] of shares) {
    const C = commitments.get(j);
    check(C !== undefined, 'unexpected_package', `share from ${j}, who has no commitment`, [
      identifierHex(suite, j),
    ]);
    if (s === 0n || !suite.G.multiply(s).equals(evalCommitment(suite, C, me)))
      culprits.push(identifierHex(suite, j));
  }
  check(
    culprits.length === 0,
    'bad_share',
    `invalid secret share from ${culprits.join(', ')}`,
    culprits,
  );
}

/** Σ_j C_j coefficient-wise: the commitment to the sum of all dealers' polynomials. */
export function sumCommitments(
  suite: Suite,
  commitments: Iterable<readonly GroupPoint[]>,
  t: number,
): GroupPoint[] {
  const out: GroupPoint[] = Array.from({ length: t }, () => suite.ZERO);
  for (const C of commitments) {
    check(C.length === t, 'bad_commitment_count', `expected ${t} commitments, got ${C.length}`);
    for (let k = 0; k < t; k++) out[k] = out[k].add(C[k]);
  }
  return out;
}

/** Y_m = Σ_k m^k·C_k for every member m: everyone's verifying share from the summed commitment. */
export function verifyingSharesFrom(
  suite: Suite,
  merged: readonly GroupPoint[],
  ids: readonly bigint[],
): Map<bigint, GroupPoint> {
  const vs = new Map<bigint, GroupPoint>();
  for (const m of ids) vs.set(m, evalCommitment(suite, merged, m));
  return vs;
}

// ---- prime-order subgroup checks ----

/** A point decoded without its subgroup check, waiting for assertSumsPrimeOrder; `owner` is blamed. */
export interface PendingPoint {
  readonly point: GroupPoint;
  readonly owner: string;
  readonly what: string;
}

/** Checks every point, one multiplication by the group order each; throws naming every owner. */
export function assertEachPrimeOrder(suite: Suite, pending: readonly PendingPoint[]): void {
  if (suite.primeOrderCurve) return;
  const bad = pending.filter((p) => !suite.inPrimeOrderSubgroup(p.point));
  if (bad.length === 0) return;
  const culprits = [...new Set(bad.map((p) => p.owner))];
  throw new CryptoError(
    'bad_point',
    `not in the prime-order subgroup: ${bad.map((p) => `${p.what} from ${p.owner}`).join(', ')}`,
    culprits,
  );
}

/**
 * The subgroup check of a DKG or reshare: throws `bad_point` unless every coefficient-wise sum
 * A_j = Σ_k C_{k,j} of the dealers' commitment lists (`lists`, all of them, own included) is in the
 * prime-order subgroup: t multiplications by the group order, however many dealers. Only when a sum
 * is not are the points checked one by one (`pending`: the same points, from decodeCommitmentList)
 * to name their owners, which always finds one, as a sum of points in the subgroup is in it.
 *
 * Why the points need no check of their own, on ed25519 (Z/ℓ × Z/8: each C_{k,j} = Q_{k,j} + T_{k,j}
 * uniquely, Q_{k,j} of order ℓ, T_{k,j} torsion):
 * - Everything the ceremony outputs comes from the sums: the group key A_0 and each verifying share
 *   Y_m = Σ_j m^j·A_j. With every A_j in the subgroup, so is every output point.
 * - Member i accepts dealer k's share s (verifyReceivedShares) only if s·G = Σ_j i^j·C_{k,j}
 *   = Σ_j i^j·Q_{k,j} + Σ_j i^j·T_{k,j}. s·G has no torsion, so the torsion sum is zero and
 *   s·G = Σ_j i^j·Q_{k,j}: every accepted share is a value of the dealer's prime-order polynomial.
 *   Summed over the dealers, member i's share s_i has s_i·G = Σ_j i^j·Σ_k Q_{k,j}, the prime-order
 *   part of Y_i, which is Y_i itself when the sums have no torsion (finalize checks s_i·G = Y_i).
 * - So torsion that colluding dealers make cancel in the sums changes nothing that is output;
 *   torsion one dealer plants that passes every share check (an order-2 point at j = 1 and at
 *   j = 2: i(i+1) is even) does not cancel, shows in the sums and is refused here, the dealer
 *   named; torsion that fails a share check is refused there, the dealer named. The sums must be
 *   checked: a dealer's torsion can pass every other member's share check and still reach the
 *   group key or its own verifying share, which nobody's share check sees (at 3-of-3, dealer 2's
 *   torsion T, 0, 7·T at j = 0, 1, 2, T of order 8, vanishes at x = 1 and 3, not at 0 or 2).
 * - The proof of knowledge of C_{k,0} shows knowledge of its prime-order part's discrete log, all
 *   the group key takes from it (verifyKnowledge with `anyOrder`); in a reshare C_{k,0} must equal
 *   a point in the subgroup anyway.
 * - No single dealer's commitment outlives the ceremony: the states keep them for finalize only,
 *   and the stored public package holds the group key and the verifying shares.
 * The sums need no randomness (unlike a random linear combination, which is not sound here: an
 * order-2 component sees only its coefficient's parity), as they are exactly what is used.
 */
export function assertSumsPrimeOrder(
  suite: Suite,
  lists: Iterable<readonly GroupPoint[]>,
  t: number,
  pending: readonly PendingPoint[],
): void {
  if (suite.primeOrderCurve) return;
  if (sumCommitments(suite, lists, t).every((A) => suite.inPrimeOrderSubgroup(A))) return;
  assertEachPrimeOrder(suite, pending);
  // Unreachable (a sum of points in the subgroup is in it), but never let a bad sum through.
  throw new CryptoError('bad_point', 'a summed commitment is not in the prime-order subgroup');
}

/**
 * Decodes a dealer's commitment list (hex points); errors name the dealer. With `pending`, the
 * points' subgroup checks are left to the caller: assertSumsPrimeOrder with that list.
 */
export function decodeCommitmentList(
  suite: Suite,
  list: unknown,
  t: number,
  from: string,
  pending?: PendingPoint[],
): GroupPoint[] {
  check(
    Array.isArray(list) && list.length === t,
    'bad_commitment_count',
    `expected ${t} commitments from ${from}, got ${Array.isArray(list) ? list.length : typeof list}`,
    [from],
  );
  try {
    return list.map((h: unknown, k: number) => {
      check(
        typeof h === 'string' && /^[0-9a-f]*$/.test(h),
        'bad_point',
        `commitment ${k} is not hex`,
      );
      if (!pending) return suite.decodePoint(hexToBytes(h), `commitment ${k}`);
      const point = suite.decodePointAnyOrder(hexToBytes(h), `commitment ${k}`);
      pending.push({ point, owner: from, what: `commitment ${k}` });
      return point;
    });
  } catch (e) {
    throw new CryptoError('bad_point', `from ${from}: ${(e as Error).message}`, [from]);
  }
}

/**
 * Indexes round-1 style packages by sender after checking version, scheme and session, and that
 * exactly the `expected` senders each sent one. Errors name the offending sender.
 */
export function collectPackages<
  P extends { version: number; scheme: string; session: string; from: string },
>(
  suite: Suite,
  session: string,
  scheme: SchemeName,
  expected: readonly bigint[],
  received: readonly P[],
): Map<bigint, P> {
  const byId = new Map<bigint, P>();
  for (const p of received) {
    check(p !== null && typeof p === 'object', 'bad_input', 'package must be an object');
    const from = parseIdentifier(suite, p.from);
    const culprit = [p.from];
    check(
      p.version === DKG_VERSION,
      'unsupported_version',
      `package version ${shown(p.version)} from ${p.from}`,
      culprit,
    );
    check(
      p.scheme === scheme,
      'wrong_session',
      `scheme ${shown(p.scheme)} from ${p.from}`,
      culprit,
    );
    check(
      p.session === session,
      'wrong_session',
      `package from ${p.from} is for another session`,
      culprit,
    );
    check(
      expected.includes(from),
      'unexpected_package',
      `${p.from} is not an expected sender`,
      culprit,
    );
    check(!byId.has(from), 'duplicate_identifier', `two packages from ${p.from}`, culprit);
    byId.set(from, p);
  }
  const missing = expected.filter((id) => !byId.has(id)).map((id) => identifierHex(suite, id));
  check(missing.length === 0, 'missing_package', `no package from ${missing.join(', ')}`, missing);
  return byId;
}

/**
 * Whose word a disagreement between an echo and this member's own digest of a dealer's package
 * goes against, when the dealers sign their packages with their identity keys (`dealerKey`): the
 * echoer, when it reports this member's own package or its own differently, or shows no valid
 * signature of the dealer over the digest it reports (it made that digest up); else the dealer,
 * which signed two different packages. Without signatures the dealer is named, as before.
 */
export interface EchoJudge {
  dealerKey(dealer: bigint): Uint8Array | undefined;
  /** What a dealer signs for a package digest; round1SigningBytes (DKG) unless given (reshare). */
  signingBytes?(digest: string): Uint8Array;
  /** The dealers' signatures' verifier; strictEd25519Verify unless given. */
  verify?: Ed25519Verify;
}

/**
 * Compares the echoes of every other participant with this member's own digests of the dealers'
 * packages. Each participant in `echoers` (except `me`) must send exactly one echo; a dealer whose
 * package is reported with a different digest equivocated and is named, unless `judge` (signed
 * packages) shows the echo lies, when the echoer is named instead.
 */
export function checkEchoes(
  suite: Suite,
  session: string,
  scheme: SchemeName,
  me: bigint,
  echoers: readonly bigint[],
  myDigests: ReadonlyMap<bigint, string>,
  echoes: readonly DkgEcho[],
  judge?: EchoJudge,
): void {
  const seen = new Set<bigint>();
  const equivocators = new Set<string>();
  const liars = new Set<string>();
  for (const e of echoes) {
    check(e !== null && typeof e === 'object', 'bad_input', 'echo must be an object');
    const from = parseIdentifier(suite, e.from);
    check(e.version === DKG_VERSION, 'unsupported_version', `echo version ${shown(e.version)}`, [
      e.from,
    ]);
    check(
      e.session === session && e.scheme === scheme,
      'wrong_session',
      `echo from ${e.from} is for another session`,
      [e.from],
    );
    check(echoers.includes(from) && from !== me, 'unexpected_package', `echo from ${e.from}`, [
      e.from,
    ]);
    check(!seen.has(from), 'duplicate_identifier', `two echoes from ${e.from}`, [e.from]);
    seen.add(from);
    check(
      e.digests !== null && typeof e.digests === 'object',
      'bad_input',
      `echo from ${e.from} has no digests`,
      [e.from],
    );
    for (const [id, mine] of myDigests) {
      const h = identifierHex(suite, id);
      const theirs = e.digests[h];
      check(typeof theirs === 'string', 'bad_input', `echo from ${e.from} lacks ${h}`, [e.from]);
      if (theirs === mine) continue;
      if (!judge) equivocators.add(h);
      // This member knows what it sent; an echoer knows what it sent.
      else if (id === me || id === from) (id === me ? liars : equivocators).add(e.from);
      else if (
        signedBy(judge.dealerKey(id), theirs, e.signatures?.[h], judge.signingBytes, judge.verify)
      )
        equivocators.add(h);
      else liars.add(e.from);
    }
  }
  const missing = echoers
    .filter((id) => id !== me && !seen.has(id))
    .map((id) => identifierHex(suite, id));
  check(missing.length === 0, 'missing_package', `no echo from ${missing.join(', ')}`, missing);
  if (equivocators.size || liars.size) {
    const c = [...new Set([...equivocators, ...liars])];
    const what = [
      equivocators.size
        ? `members saw different round-1 packages from ${[...equivocators].join(', ')}`
        : '',
      liars.size
        ? `echoes from ${[...liars].join(', ')} misreport packages their dealers never signed`
        : '',
    ];
    throw new CryptoError('equivocation', what.filter(Boolean).join('; '), c);
  }
}

/** The bytes a dealer signs (identity key, Ed25519) for the round-1 package with this digest. */
export function round1SigningBytes(digest: string): Uint8Array {
  return sha256(lp(utf8ToBytes('conclave/dkg-round1/v1'), utf8ToBytes(digest)));
}

/**
 * Whether `sig` (hex) is the dealer's signature over the round-1 package digest `digest`, in the
 * domain of `signingBytes` (the DKG's unless given), as `verify` judges it (noble's strict verify
 * unless given; throwing counts as a bad signature).
 */
export function signedBy(
  key: Uint8Array | undefined,
  digest: string,
  sig: unknown,
  signingBytes: (digest: string) => Uint8Array = round1SigningBytes,
  verify: Ed25519Verify = strictEd25519Verify,
): boolean {
  if (!key || !isLowerHex(sig, 128)) return false;
  try {
    return verify(hexToBytes(sig), signingBytes(digest), key) === true;
  } catch {
    return false;
  }
}

// ---- the session-level protocol ----

/** Round 1 broadcast (public). */
export interface DkgRound1Package {
  version: number;
  scheme: SchemeName;
  /** Hex of the session digest. */
  session: string;
  from: string;
  commitment: string[];
  proofOfKnowledge: string;
  /** The dealer's identity-key signature over round1SigningBytes(packageDigest) (signed DKG). */
  signature?: string;
}

/** Echo broadcast: the digest of every round-1 package this member received, including its own. */
export interface DkgEcho {
  version: number;
  scheme: SchemeName;
  session: string;
  from: string;
  digests: Record<string, string>;
  /** Signed DKG: each dealer's signature over the package this member received from it. */
  signatures?: Record<string, string>;
}

/** Round 2: the share f_i(j) for one recipient. Secret: send only over an encrypted channel. */
export class DkgRound2Package extends Redacted {
  readonly session: string;
  readonly from: bigint;
  readonly to: bigint;
  readonly #share: bigint;
  constructor(session: string, from: bigint, to: bigint, share: bigint) {
    super();
    this.session = session;
    this.from = from;
    this.to = to;
    this.#share = share;
  }
  share(): bigint {
    return this.#share;
  }
  /** The wire form, deliberately explicit: it contains the secret share. */
  toWire(suite: Suite): {
    version: number;
    session: string;
    from: string;
    to: string;
    share: string;
  } {
    return {
      version: DKG_VERSION,
      session: this.session,
      from: identifierHex(suite, this.from),
      to: identifierHex(suite, this.to),
      share: bytesToHex(suite.encodeScalar(this.#share)),
    };
  }
  static fromWire(
    suite: Suite,
    w: { version: number; session: string; from: string; to: string; share: string },
  ): DkgRound2Package {
    check(w !== null && typeof w === 'object', 'bad_input', 'round-2 package must be an object');
    check(w.version === DKG_VERSION, 'unsupported_version', `round-2 version ${shown(w.version)}`);
    const from = parseIdentifier(suite, w.from);
    check(
      typeof w.share === 'string' && /^[0-9a-f]*$/.test(w.share),
      'bad_share',
      'share must be hex',
      [w.from],
    );
    let s: bigint;
    try {
      s = suite.decodeScalar(hexToBytes(w.share), 'share');
    } catch (e) {
      throw new CryptoError('bad_share', (e as Error).message, [w.from]);
    }
    return new DkgRound2Package(String(w.session), from, parseIdentifier(suite, w.to), s);
  }
}

/** Indexes received round-2 shares by dealer: right session, addressed to `me`, one per expected dealer. */
export function collectShares(
  suite: Suite,
  session: string,
  me: bigint,
  expected: readonly bigint[],
  received: readonly DkgRound2Package[],
): Map<bigint, bigint> {
  const shares = new Map<bigint, bigint>();
  for (const p of received) {
    check(p instanceof DkgRound2Package, 'bad_input', 'expected DkgRound2Package');
    const from = identifierHex(suite, p.from);
    check(p.session === session, 'wrong_session', `share from ${from} is for another session`, [
      from,
    ]);
    check(p.to === me, 'unexpected_package', `share from ${from} is addressed to someone else`, [
      from,
    ]);
    check(
      expected.includes(p.from),
      'unexpected_package',
      `share from ${from}, who is not a dealer`,
      [from],
    );
    check(!shares.has(p.from), 'duplicate_identifier', `two shares from ${from}`, [from]);
    shares.set(p.from, p.share());
  }
  const missing = expected.filter((id) => !shares.has(id)).map((id) => identifierHex(suite, id));
  check(missing.length === 0, 'missing_package', `no share from ${missing.join(', ')}`, missing);
  return shares;
}

type Step = 'round1' | 'echo' | 'round2' | 'done';

/** A member's private DKG state. Holds the secret polynomial; prints as `<redacted>`. */
export class DkgState extends Redacted {
  readonly params: DkgParams;
  readonly suite: Suite;
  readonly me: bigint;
  readonly session: string;
  readonly digest: Uint8Array;
  step: Step = 'round1';
  #coeffs: bigint[];
  /** Decoded, verified round-1 commitments by member (own included). */
  commitments = new Map<bigint, GroupPoint[]>();
  /** Digest of each member's round-1 package as this member received it. */
  digests = new Map<bigint, string>();
  /**
   * Signed DKG (dkgRound1 was given `sign`): each dealer's signature of its package, own included;
   * every received package must carry a valid one, and echoes are judged by them (checkEchoes).
   */
  signatures?: Map<bigint, string>;
  /** Signed DKG: the verifier of the dealers' signatures (dkgRound1's `verify`). */
  verify?: Ed25519Verify;
  constructor(params: DkgParams, me: bigint, coeffs: bigint[], digest: Uint8Array) {
    super();
    this.params = params;
    this.suite = getSuite(params.scheme);
    this.me = me;
    this.#coeffs = coeffs;
    this.digest = digest;
    this.session = bytesToHex(digest);
  }
  evalAt(x: bigint): bigint {
    check(this.#coeffs.length > 0, 'wrong_round', 'the secret polynomial was already erased');
    return evalPoly(this.suite, this.#coeffs, x);
  }
  erase(): void {
    this.#coeffs.fill(0n);
    this.#coeffs = [];
  }
}

/** Digest of a round-1 style package as received, for the echo check. */
export function packageDigest(p: {
  session: string;
  from: string;
  commitment: string[];
  proofOfKnowledge?: string;
}): string {
  return bytesToHex(
    sha256(
      lp(
        utf8ToBytes(p.session),
        utf8ToBytes(p.from),
        ...p.commitment.map((c) => utf8ToBytes(c)),
        utf8ToBytes(p.proofOfKnowledge ?? ''),
      ),
    ),
  );
}

function expectStep(state: DkgState, step: Step): void {
  check(state.step === step, 'wrong_round', `DKG is at ${state.step}, this call needs ${step}`);
}

function memberIds(params: DkgParams): bigint[] {
  return params.members.map((m) => m.identifier);
}

/**
 * Round 1: sample the polynomial, commit to it, prove knowledge of its constant term. With `sign`
 * (the identity key's Ed25519 signer) the DKG is signed; its dealers' signatures are then checked
 * by `verify` (noble's strict verify unless given: one that answers as it does, e.g. main's
 * native-speed verifyEd25519).
 */
export function dkgRound1(
  params: DkgParams,
  me: bigint,
  rng?: Rng,
  sign?: (msg: Uint8Array) => Uint8Array,
  verify?: Ed25519Verify,
): { state: DkgState; package: DkgRound1Package } {
  const digest = dkgSessionDigest(params);
  const suite = getSuite(params.scheme);
  check(memberIds(params).includes(me), 'bad_identifier', `${me} is not on the roster`);
  const coeffs = randomPoly(suite, params.threshold, undefined, rng);
  const C = commitPoly(suite, coeffs);
  const proof = proveKnowledge(suite, me, coeffs[0], C[0], digest, rng);
  const state = new DkgState(params, me, coeffs, digest);
  state.verify = verify;
  const pkg: DkgRound1Package = {
    version: DKG_VERSION,
    scheme: params.scheme,
    session: state.session,
    from: identifierHex(suite, me),
    commitment: C.map((p) => bytesToHex(suite.encodePoint(p))),
    proofOfKnowledge: bytesToHex(proof),
  };
  state.commitments.set(me, C);
  state.digests.set(me, packageDigest(pkg));
  if (sign) {
    // Signed with the identity key: a member that echoes a digest its dealer never signed is caught.
    pkg.signature = bytesToHex(sign(round1SigningBytes(state.digests.get(me)!)));
    state.signatures = new Map([[me, pkg.signature]]);
  }
  return { state, package: pkg };
}

/**
 * After all round-1 packages arrived: validates each (version, scheme, session, points, proof of
 * knowledge; errors name the sender) and returns the echo to broadcast.
 */
export function dkgEcho(state: DkgState, received: readonly DkgRound1Package[]): DkgEcho {
  expectStep(state, 'round1');
  const { suite, params } = state;
  const expected = memberIds(params).filter((id) => id !== state.me);
  const byId = collectPackages(suite, state.session, params.scheme, expected, received);
  // Decode everything first, check the summed commitments' subgroups (the points' own are left
  // unchecked: assertSumsPrimeOrder says why that is sound), then the proofs.
  const pending: PendingPoint[] = [];
  const decoded = new Map<bigint, GroupPoint[]>();
  for (const [from, p] of byId) {
    decoded.set(from, decodeCommitmentList(suite, p.commitment, params.threshold, p.from, pending));
    check(isLowerHex(p.proofOfKnowledge), 'bad_proof_of_knowledge', 'not hex', [p.from]);
  }
  assertSumsPrimeOrder(
    suite,
    [state.commitments.get(state.me)!, ...decoded.values()],
    params.threshold,
    pending,
  );
  for (const [from, p] of byId) {
    const C = decoded.get(from)!;
    verifyKnowledge(suite, from, C[0], hexToBytes(p.proofOfKnowledge), state.digest, true);
    state.commitments.set(from, C);
    state.digests.set(from, packageDigest(p));
    if (state.signatures) {
      const key = params.members.find((m) => m.identifier === from)?.identityKey;
      check(
        signedBy(key, state.digests.get(from)!, p.signature, undefined, state.verify),
        'bad_input',
        `round-1 package from ${p.from} is not signed by its identity key`,
        [p.from],
      );
      state.signatures.set(from, p.signature!);
    }
  }
  state.step = 'echo';
  const digests: Record<string, string> = {};
  for (const id of memberIds(params)) digests[identifierHex(suite, id)] = state.digests.get(id)!;
  const echo: DkgEcho = {
    version: DKG_VERSION,
    scheme: params.scheme,
    session: state.session,
    from: identifierHex(suite, state.me),
    digests,
  };
  if (state.signatures)
    echo.signatures = Object.fromEntries(
      [...state.signatures].map(([id, sig]) => [identifierHex(suite, id), sig]),
    );
  return echo;
}

/**
 * Round 2: compares every member's echo with what this member saw. A member whose round-1 package
 * is reported with different digests equivocated and is named; then the shares f_i(j) are produced.
 */
export function dkgRound2(state: DkgState, echoes: readonly DkgEcho[]): DkgRound2Package[] {
  expectStep(state, 'echo');
  const { suite, params } = state;
  const ids = memberIds(params);
  const keys = new Map(params.members.map((m) => [m.identifier, m.identityKey]));
  const judge = state.signatures
    ? { dealerKey: (id: bigint) => keys.get(id), verify: state.verify }
    : undefined;
  checkEchoes(suite, state.session, params.scheme, state.me, ids, state.digests, echoes, judge);
  state.step = 'round2';
  return ids
    .filter((id) => id !== state.me)
    .map((id) => new DkgRound2Package(state.session, state.me, id, state.evalAt(id)));
}

/**
 * What the echoes in hand prove when the others' will never come (their senders stopped the run):
 * checkEchoes over the members that sent one, so a package its dealer signed twice, or an echo
 * misreporting one, is named as it would be with every echo; undefined when they show nothing.
 */
export function dkgEchoEvidence(
  state: DkgState,
  echoes: readonly DkgEcho[],
): CryptoError | undefined {
  expectStep(state, 'echo');
  const { suite, params } = state;
  const ids = memberIds(params);
  const senders = new Set(echoes.map((e) => (e as { from?: unknown } | null)?.from));
  const echoers = ids.filter((id) => id === state.me || senders.has(identifierHex(suite, id)));
  const keys = new Map(params.members.map((m) => [m.identifier, m.identityKey]));
  const judge = state.signatures
    ? { dealerKey: (id: bigint) => keys.get(id), verify: state.verify }
    : undefined;
  try {
    checkEchoes(
      suite,
      state.session,
      params.scheme,
      state.me,
      echoers,
      state.digests,
      echoes,
      judge,
    );
  } catch (e) {
    if (e instanceof CryptoError && e.culprits.length) return e;
  }
  return undefined;
}

/**
 * Finalises: verifies every received share against its sender's commitment (errors name the
 * sender), sums them into this member's signing share and derives the group key and everyone's
 * verifying shares. Erases the secret polynomial. The result is epoch 0.
 */
export function dkgFinalize(state: DkgState, received: readonly DkgRound2Package[]): KeyPackage {
  expectStep(state, 'round2');
  const { suite, params } = state;
  const ids = memberIds(params);
  const shares = collectShares(
    suite,
    state.session,
    state.me,
    ids.filter((id) => id !== state.me),
    received,
  );
  verifyReceivedShares(suite, state.me, state.commitments, shares);
  let s = state.evalAt(state.me);
  for (const v of shares.values()) s = suite.Fn.add(s, v);
  state.erase();
  const merged = sumCommitments(suite, state.commitments.values(), params.threshold);
  const vs = verifyingSharesFrom(suite, merged, ids);
  check(
    suite.G.multiply(s).equals(vs.get(state.me)!),
    'bad_share',
    'own share does not match the verifying share',
  );
  state.step = 'done';
  const pub = makePublicPackage(params.scheme, params.threshold, merged[0], vs, 0);
  return { public: pub, share: new SecretShare(params.scheme, state.me, s, 0) };
}
