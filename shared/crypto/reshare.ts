// Resharing: T or more old members re-deal their Lagrange-weighted shares to a new roster with a
// new threshold; the group key stays the same and the epoch goes up. Refresh is the special case
// with the same roster and threshold.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { CryptoError, check } from './errors.js';
import { isLowerHex } from '../protocol/fields.js';
import type { Ed25519Verify } from './sign.js';
import {
  assertSumsPrimeOrder,
  checkEchoes,
  collectPackages,
  collectShares,
  decodeCommitmentList,
  DKG_VERSION,
  DkgRound2Package,
  lp,
  packageDigest,
  signedBy,
  sumCommitments,
  verifyingSharesFrom,
  verifyReceivedShares,
  type DkgEcho,
  type DkgMember,
  type PendingPoint,
} from './dkg.js';
import {
  makePublicPackage,
  publicPackageToJSON,
  SecretShare,
  type KeyPackage,
  type PublicKeyPackage,
} from './keys.js';
import { commitPoly, evalPoly, lagrangeAtZero, randomPoly } from './poly.js';
import { Redacted } from './secret.js';
import {
  assertIdentifiers,
  assertThreshold,
  getSuite,
  identifierHex,
  parseIdentifier,
  type GroupPoint,
  type Rng,
  type SchemeName,
  type Suite,
} from './suite.js';

/** What every participant agrees on before a reshare starts. */
export interface ReshareParams {
  /** The key as it is now (all members hold the same package). */
  readonly old: PublicKeyPackage;
  /** The old members who deal: at least the old threshold, all online. */
  readonly dealers: readonly bigint[];
  /** The new roster, with identity keys. May keep, add and drop members. */
  readonly members: readonly DkgMember[];
  readonly threshold: number;
  /** 32 fresh random bytes for this run. */
  readonly sessionId: Uint8Array;
  /**
   * Signed reshare: every dealer's identity key (one entry per dealer, a leaving dealer included).
   * Dealers then sign their round-1 packages, every package must carry its dealer's signature and
   * echoes carry them, so an echo misreporting a package names the echoer, not the dealer.
   */
  readonly dealerKeys?: readonly DkgMember[];
}

/** A dealer's public broadcast: the commitment to g_i with g_i(0) = λ_i·s_i. */
export interface ReshareRound1Package {
  version: number;
  scheme: SchemeName;
  session: string;
  from: string;
  commitment: string[];
  /** Signed reshare: the dealer's identity-key signature over reshareRound1SigningBytes(digest). */
  signature?: string;
}

/**
 * The bytes a dealer signs (identity key, Ed25519) for the reshare round-1 package with this
 * digest. Its own domain: a dealer's DKG round-1 signature (round1SigningBytes) never verifies as a
 * reshare one, even over the same digest.
 */
export function reshareRound1SigningBytes(digest: string): Uint8Array {
  return sha256(lp(utf8ToBytes('conclave/reshare-round1/v1'), utf8ToBytes(digest)));
}

/** The dealers' identity keys by identifier; undefined for an unsigned reshare. */
function dealerKeyMap(p: ReshareParams): Map<bigint, Uint8Array> | undefined {
  return p.dealerKeys && new Map(p.dealerKeys.map((m) => [m.identifier, m.identityKey]));
}

/** Validates the parameters and returns sha256 of their canonical encoding. */
export function reshareSessionDigest(p: ReshareParams): Uint8Array {
  const suite = getSuite(p.old.scheme);
  assertThreshold(p.threshold, p.members.length);
  assertIdentifiers(suite, p.dealers);
  assertIdentifiers(
    suite,
    p.members.map((m) => m.identifier),
  );
  check(
    p.dealers.length >= p.old.threshold,
    'bad_threshold',
    `need at least ${p.old.threshold} old members to reshare, got ${p.dealers.length}`,
  );
  for (const d of p.dealers)
    check(
      p.old.verifyingShares.has(d),
      'bad_identifier',
      `dealer ${d} is not a member of the old key`,
    );
  check(
    p.sessionId instanceof Uint8Array && p.sessionId.length === 32,
    'bad_input',
    'sessionId must be 32 bytes',
  );
  for (const m of p.members)
    check(
      m.identityKey instanceof Uint8Array && m.identityKey.length > 0,
      'bad_input',
      'identity key missing',
    );
  const sorted = [...p.dealers].sort((a, b) => (a < b ? -1 : 1));
  const keys = dealerKeyMap(p);
  if (p.dealerKeys) {
    check(Array.isArray(p.dealerKeys), 'bad_input', 'dealerKeys must be an array');
    check(
      keys!.size === p.dealerKeys.length &&
        p.dealerKeys.length === p.dealers.length &&
        p.dealers.every((d) => keys!.has(d)),
      'bad_input',
      'dealerKeys must give exactly one identity key for every dealer',
    );
    for (const k of keys!.values())
      check(
        k instanceof Uint8Array && k.length === 32,
        'bad_input',
        `a dealer identity key must be 32 bytes, got ${(k as Uint8Array | undefined)?.length}`,
      );
  }
  const oldJson = JSON.stringify(publicPackageToJSON(p.old));
  return sha256(
    lp(
      // A signed reshare is a session of its own: a member cannot be talked into the unsigned one.
      utf8ToBytes(keys ? 'conclave/reshare-signed/v1' : 'conclave/reshare/v1'),
      utf8ToBytes(oldJson),
      utf8ToBytes(String(p.threshold)),
      p.sessionId,
      ...sorted.map((d) => suite.encodeScalar(d)),
      ...p.members.flatMap((m) => [suite.encodeScalar(m.identifier), m.identityKey]),
      ...(keys ? sorted.flatMap((d) => [suite.encodeScalar(d), keys.get(d)!]) : []),
    ),
  );
}

/** A participant's private reshare state (dealer, recipient or both). Prints as `<redacted>`. */
export class ReshareState extends Redacted {
  readonly params: ReshareParams;
  readonly suite: Suite;
  readonly me: bigint;
  readonly session: string;
  readonly isDealer: boolean;
  readonly isRecipient: boolean;
  step: 'round1' | 'echo' | 'round2' | 'done' = 'round1';
  commitments = new Map<bigint, GroupPoint[]>();
  digests = new Map<bigint, string>();
  /** Signed reshare: each dealer's signature of its package as this participant received it. */
  signatures?: Map<bigint, string>;
  /** Signed reshare: the verifier of the dealers' signatures (reshareRound1's `verify`). */
  verify?: Ed25519Verify;
  #coeffs: bigint[];
  constructor(params: ReshareParams, me: bigint, session: string, coeffs: bigint[]) {
    super();
    this.params = params;
    this.suite = getSuite(params.old.scheme);
    this.me = me;
    this.session = session;
    this.isDealer = params.dealers.includes(me);
    this.isRecipient = params.members.some((m) => m.identifier === me);
    if (params.dealerKeys) this.signatures = new Map();
    this.#coeffs = coeffs;
  }
  evalAt(x: bigint): bigint {
    check(this.#coeffs.length > 0, 'wrong_round', 'no dealing polynomial here');
    return evalPoly(this.suite, this.#coeffs, x);
  }
  erase(): void {
    this.#coeffs.fill(0n);
    this.#coeffs = [];
  }
}

function participants(p: ReshareParams): bigint[] {
  return [...new Set([...p.dealers, ...p.members.map((m) => m.identifier)])];
}

function expectStep(state: ReshareState, step: ReshareState['step']): void {
  check(state.step === step, 'wrong_round', `reshare is at ${state.step}, this call needs ${step}`);
}

/**
 * Starts a reshare for participant `me`. A dealer passes its current key package and gets the
 * package to broadcast; a newcomer (recipient only) passes `undefined` and gets no package. In a
 * signed reshare (params.dealerKeys) a dealer passes `sign`, its identity key's Ed25519 signer;
 * the dealers' signatures are checked by `verify` (noble's strict verify unless given: one that
 * answers as it does, e.g. main's native-speed verifyEd25519).
 */
export function reshareRound1(
  params: ReshareParams,
  me: bigint,
  key: KeyPackage | undefined,
  rng?: Rng,
  sign?: (msg: Uint8Array) => Uint8Array,
  verify?: Ed25519Verify,
): { state: ReshareState; package?: ReshareRound1Package } {
  const suite = getSuite(params.old.scheme);
  const session = bytesToHex(reshareSessionDigest(params));
  check(participants(params).includes(me), 'bad_identifier', `${me} takes no part in this reshare`);
  if (!params.dealers.includes(me)) {
    const state = new ReshareState(params, me, session, []);
    state.verify = verify;
    return { state };
  }
  check(key !== undefined, 'bad_input', 'a dealer needs its key package');
  check(key.share.identifier === me, 'key_mismatch', 'key package belongs to another member');
  check(
    key.share.epoch === params.old.epoch,
    'epoch_mismatch',
    `share is from epoch ${key.share.epoch}, the key is at epoch ${params.old.epoch}`,
  );
  check(
    suite.G.multiply(key.share.scalar()).equals(params.old.verifyingShares.get(me)!),
    'key_mismatch',
    'share does not match the old key',
  );
  const lambda = lagrangeAtZero(suite, params.dealers, me);
  const coeffs = randomPoly(suite, params.threshold, suite.Fn.mul(lambda, key.share.scalar()), rng);
  const C = commitPoly(suite, coeffs);
  const state = new ReshareState(params, me, session, coeffs);
  state.verify = verify;
  const pkg: ReshareRound1Package = {
    version: DKG_VERSION,
    scheme: params.old.scheme,
    session,
    from: identifierHex(suite, me),
    commitment: C.map((p) => bytesToHex(suite.encodePoint(p))),
  };
  state.commitments.set(me, C);
  state.digests.set(me, packageDigest(pkg));
  const keys = dealerKeyMap(params);
  if (keys) {
    check(sign !== undefined, 'bad_input', 'a dealer of a signed reshare needs its signer');
    const sig = bytesToHex(sign(reshareRound1SigningBytes(state.digests.get(me)!)));
    // Checked here so a signer of the wrong key fails at home, not as a culprit at everyone else.
    check(
      signedBy(keys.get(me), state.digests.get(me)!, sig, reshareRound1SigningBytes, verify),
      'key_mismatch',
      `the signer does not sign for dealer ${identifierHex(suite, me)}'s identity key`,
    );
    pkg.signature = sig;
    state.signatures!.set(me, sig);
  }
  return { state, package: pkg };
}

/**
 * Every participant validates the dealers' packages: each dealer's constant commitment must equal
 * λ_i·Y_i of its old verifying share (so no dealer can change the key or inject anything), and
 * returns the echo to broadcast. The subgroup check is on the summed commitments, as in dkgEcho
 * (assertSumsPrimeOrder says why that is sound; the Lagrange weights are in the dealt constants,
 * the sums and share checks are the DKG's).
 */
export function reshareEcho(
  state: ReshareState,
  received: readonly ReshareRound1Package[],
): DkgEcho {
  expectStep(state, 'round1');
  const { suite, params } = state;
  const expected = params.dealers.filter((d) => d !== state.me);
  const byId = collectPackages(suite, state.session, params.old.scheme, expected, received);
  const bad: string[] = [];
  const pending: PendingPoint[] = [];
  for (const [from, p] of byId) {
    const C = decodeCommitmentList(suite, p.commitment, params.threshold, p.from, pending);
    const expectC0 = params.old.verifyingShares
      .get(from)!
      .multiplyUnsafe(lagrangeAtZero(suite, params.dealers, from));
    if (!C[0].equals(expectC0)) bad.push(p.from);
    state.commitments.set(from, C);
    state.digests.set(from, packageDigest(p));
    if (state.signatures) {
      check(
        signedBy(
          params.dealerKeys!.find((m) => m.identifier === from)?.identityKey,
          state.digests.get(from)!,
          p.signature,
          reshareRound1SigningBytes,
          state.verify,
        ),
        'bad_input',
        `reshare package from ${p.from} is not signed by its identity key`,
        [p.from],
      );
      state.signatures.set(from, p.signature!);
    }
  }
  if (bad.length)
    throw new CryptoError(
      'bad_commitment',
      `dealt value does not match the old share of ${bad.join(', ')}`,
      bad,
    );
  assertSumsPrimeOrder(suite, state.commitments.values(), params.threshold, pending);
  state.step = 'echo';
  const digests: Record<string, string> = {};
  for (const d of params.dealers) digests[identifierHex(suite, d)] = state.digests.get(d)!;
  const echo: DkgEcho = {
    version: DKG_VERSION,
    scheme: params.old.scheme,
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
 * Signed reshare: every echo's `signatures` must be a plain object with exactly one signature per
 * dealer, each 64 bytes of hex (its validity is judged only where the echo's digest disagrees).
 * Errors name the echoer. Run after checkEchoes, which has checked every echo's sender.
 */
function checkEchoSignatureShapes(
  suite: Suite,
  dealers: readonly bigint[],
  echoes: readonly DkgEcho[],
): void {
  const want = new Set(dealers.map((d) => identifierHex(suite, d)));
  for (const e of echoes) {
    const from = identifierHex(suite, parseIdentifier(suite, e.from));
    const sigs: unknown = e.signatures;
    const ok =
      sigs !== null &&
      typeof sigs === 'object' &&
      !Array.isArray(sigs) &&
      [Object.prototype, null].includes(Object.getPrototypeOf(sigs)) &&
      Object.keys(sigs).length === want.size &&
      Object.entries(sigs).every(([k, v]) => want.has(k) && isLowerHex(v, 128));
    check(ok, 'bad_input', `echo from ${from} does not carry one signature per dealer`, [from]);
  }
}

/** The echoes of `echoers` checked against this node's digests (reshareRound2's checks). */
function checkAllEchoes(
  state: ReshareState,
  echoers: readonly bigint[],
  echoes: readonly DkgEcho[],
): void {
  const { suite, params } = state;
  const keys = dealerKeyMap(params);
  checkEchoes(
    suite,
    state.session,
    params.old.scheme,
    state.me,
    echoers,
    state.digests,
    echoes,
    // Signed reshare: an echo is believed against its dealer only with the dealer's signature.
    keys && {
      dealerKey: (id) => keys.get(id),
      signingBytes: reshareRound1SigningBytes,
      verify: state.verify,
    },
  );
  if (keys) checkEchoSignatureShapes(suite, params.dealers, echoes);
}

/** Checks everyone's echoes; a dealer then returns the shares g_i(j) for every new member. */
export function reshareRound2(state: ReshareState, echoes: readonly DkgEcho[]): DkgRound2Package[] {
  expectStep(state, 'echo');
  const { params } = state;
  checkAllEchoes(state, participants(params), echoes);
  state.step = 'round2';
  if (!state.isDealer) return [];
  const out = params.members
    .map((m) => m.identifier)
    .filter((id) => id !== state.me)
    .map((id) => new DkgRound2Package(state.session, state.me, id, state.evalAt(id)));
  if (!state.isRecipient) state.erase();
  return out;
}

/**
 * What the echoes in hand prove when the others' will never come (their senders stopped the
 * ceremony): reshareRound2's checks over the participants that sent one, so a package its dealer
 * signed twice, or an echo misreporting one, is named as it would be with every echo; undefined
 * when they show nothing. The state stays at its step.
 */
export function reshareEchoEvidence(
  state: ReshareState,
  echoes: readonly DkgEcho[],
): CryptoError | undefined {
  expectStep(state, 'echo');
  const { suite, params } = state;
  const senders = new Set(echoes.map((e) => (e as { from?: unknown } | null)?.from));
  const echoers = participants(params).filter(
    (id) => id === state.me || senders.has(identifierHex(suite, id)),
  );
  try {
    checkAllEchoes(state, echoers, echoes);
  } catch (e) {
    if (e instanceof CryptoError && e.culprits.length) return e;
  }
  return undefined;
}

/**
 * A new member verifies the shares from every dealer and assembles its new share. The group key is
 * unchanged (checked), the epoch is old + 1. Participants who are not new members get `undefined`.
 */
export function reshareFinalize(
  state: ReshareState,
  received: readonly DkgRound2Package[],
): KeyPackage | undefined {
  expectStep(state, 'round2');
  const { suite, params } = state;
  state.step = 'done';
  if (!state.isRecipient) return undefined;
  const expected = params.dealers.filter((d) => d !== state.me);
  const shares = collectShares(suite, state.session, state.me, expected, received);
  verifyReceivedShares(suite, state.me, state.commitments, shares);
  let s = state.isDealer ? state.evalAt(state.me) : 0n;
  state.erase();
  for (const v of shares.values()) s = suite.Fn.add(s, v);
  const merged = sumCommitments(suite, state.commitments.values(), params.threshold);
  check(
    merged[0].equals(params.old.groupKey),
    'key_mismatch',
    'reshared key differs from the old key',
  );
  const ids = params.members.map((m) => m.identifier);
  const vs = verifyingSharesFrom(suite, merged, ids);
  check(
    suite.G.multiply(s).equals(vs.get(state.me)!),
    'bad_share',
    'new share does not match its verifying share',
  );
  const epoch = params.old.epoch + 1;
  const pub = makePublicPackage(
    params.old.scheme,
    params.threshold,
    params.old.groupKey,
    vs,
    epoch,
  );
  return { public: pub, share: new SecretShare(params.old.scheme, state.me, s, epoch) };
}
