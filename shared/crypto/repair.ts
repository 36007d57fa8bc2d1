// Repair (ZF's repairable threshold scheme): T helpers rebuild a member's lost share without any
// of them learning it. Each helper splits λ_i(r)·s_i into random parts, one per helper; each
// helper sums what it received and sends that to the member. Public commitments to every part
// let everyone check the arithmetic and name a helper that cheated.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { isLowerHex } from '../protocol/fields.js';
import { lp, strictEd25519Verify } from './dkg.js';
import { CryptoError, check } from './errors.js';
import { SecretShare, type KeyPackage, type PublicKeyPackage } from './keys.js';
import { lagrangeAt } from './poly.js';
import { Redacted } from './secret.js';
import type { Ed25519Verify } from './sign.js';
import {
  assertIdentifiers,
  getSuite,
  identifierHex,
  type GroupPoint,
  type Rng,
  type Suite,
} from './suite.js';

/** Helper i's output of step 1: a secret part δ_ij for each helper j, and public δ_ij·G for all. */
export interface RepairStep1 {
  /** Secret parts by recipient helper; send each only to that helper over an encrypted channel. */
  readonly parts: ReadonlyMap<bigint, RepairPart>;
  /** Public commitments δ_ij·G by recipient helper; broadcast to all helpers and the member. */
  readonly commitments: ReadonlyMap<bigint, GroupPoint>;
}

/** A secret scalar travelling from one helper to another (or to the member). */
export class RepairPart extends Redacted {
  readonly from: bigint;
  readonly to: bigint;
  readonly #value: bigint;
  constructor(from: bigint, to: bigint, value: bigint) {
    super();
    this.from = from;
    this.to = to;
    this.#value = value;
  }
  value(): bigint {
    return this.#value;
  }
  toWire(suite: Suite): { from: string; to: string; value: string } {
    return {
      from: identifierHex(suite, this.from),
      to: identifierHex(suite, this.to),
      value: bytesToHex(suite.encodeScalar(this.#value)),
    };
  }
}

function checkHelpers(
  suite: Suite,
  pub: PublicKeyPackage,
  helpers: readonly bigint[],
  lost: bigint,
): void {
  assertIdentifiers(suite, [...helpers, lost]);
  check(
    helpers.length === pub.threshold,
    'bad_threshold',
    `repair needs exactly ${pub.threshold} helpers, got ${helpers.length}`,
  );
  for (const h of helpers)
    check(pub.verifyingShares.has(h), 'bad_identifier', `helper ${h} is not a member`);
  check(pub.verifyingShares.has(lost), 'bad_identifier', `member ${lost} is not in the key`);
}

/** Step 1 at helper i: ζ_i = λ_i(r) over the helper set; split ζ_i·s_i into T random parts. */
export function repairStep1(
  key: KeyPackage,
  helpers: readonly bigint[],
  lost: bigint,
  rng?: Rng,
): RepairStep1 {
  const suite = getSuite(key.public.scheme);
  checkHelpers(suite, key.public, helpers, lost);
  const me = key.share.identifier;
  check(helpers.includes(me), 'bad_identifier', 'this member is not one of the helpers');
  const Fn = suite.Fn;
  const total = Fn.mul(lagrangeAt(suite, helpers, me, lost), key.share.scalar());
  const parts = new Map<bigint, RepairPart>();
  const commitments = new Map<bigint, GroupPoint>();
  let rest = total;
  helpers.forEach((j, idx) => {
    const v = idx === helpers.length - 1 ? rest : suite.randomScalar(rng);
    rest = Fn.sub(rest, v);
    parts.set(j, new RepairPart(me, j, v));
    commitments.set(j, suite.G.multiply(v));
  });
  return { parts, commitments };
}

/**
 * Indexes repair parts (or sums) by sender: each addressed to `to`, exactly one from every helper.
 * Errors name the offending sender.
 */
function collectParts(
  suite: Suite,
  helpers: readonly bigint[],
  to: bigint,
  parts: readonly RepairPart[],
  what: 'part' | 'sum',
): Map<bigint, bigint> {
  const got = new Map<bigint, bigint>();
  for (const p of parts) {
    check(
      p instanceof RepairPart && p.to === to,
      'unexpected_package',
      `${what} addressed to someone else`,
    );
    check(
      helpers.includes(p.from) && !got.has(p.from),
      'unexpected_package',
      `${what} from ${p.from}`,
      [identifierHex(suite, p.from)],
    );
    got.set(p.from, p.value());
  }
  const missing = helpers.filter((h) => !got.has(h)).map((h) => identifierHex(suite, h));
  check(
    missing.length === 0,
    'missing_package',
    `no repair ${what} from ${missing.join(', ')}`,
    missing,
  );
  return got;
}

/**
 * Step 2 at helper j: checks each received part against its sender's public commitments (which
 * must add up to ζ_i·Y_i) and returns σ_j = Σ_i δ_ij for the member. Errors name the sender.
 */
export function repairStep2(
  pub: PublicKeyPackage,
  helpers: readonly bigint[],
  lost: bigint,
  me: bigint,
  received: readonly RepairPart[],
  commitments: ReadonlyMap<bigint, ReadonlyMap<bigint, GroupPoint>>,
): RepairPart {
  const suite = getSuite(pub.scheme);
  checkHelpers(suite, pub, helpers, lost);
  assertCommitments(suite, pub, helpers, lost, commitments);
  const got = collectParts(suite, helpers, me, received, 'part');
  const bad = helpers.filter(
    (i) => got.get(i) === 0n || !suite.G.multiply(got.get(i)!).equals(commitments.get(i)!.get(me)!),
  );
  if (bad.length) {
    const c = bad.map((i) => identifierHex(suite, i));
    throw new CryptoError(
      'bad_share',
      `repair part does not match its commitment from ${c.join(', ')}`,
      c,
    );
  }
  let sigma = 0n;
  for (const v of got.values()) sigma = suite.Fn.add(sigma, v);
  return new RepairPart(me, lost, sigma);
}

// Every helper i must commit to parts that add up to ζ_i·Y_i, or it is named.
function assertCommitments(
  suite: Suite,
  pub: PublicKeyPackage,
  helpers: readonly bigint[],
  lost: bigint,
  commitments: ReadonlyMap<bigint, ReadonlyMap<bigint, GroupPoint>>,
): void {
  const bad: string[] = [];
  for (const i of helpers) {
    const ci = commitments.get(i);
    if (!ci || ci.size !== helpers.length || !helpers.every((j) => ci.has(j))) {
      bad.push(identifierHex(suite, i));
      continue;
    }
    let sum = suite.ZERO;
    for (const j of helpers) sum = sum.add(ci.get(j)!);
    const expected = pub.verifyingShares
      .get(i)!
      .multiplyUnsafe(lagrangeAt(suite, helpers, i, lost));
    if (!sum.equals(expected)) bad.push(identifierHex(suite, i));
  }
  if (bad.length)
    throw new CryptoError(
      'bad_commitment',
      `repair commitments from ${bad.join(', ')} are inconsistent`,
      bad,
    );
}

// ---- signed commitments: a helper that shows the member other commitments than the helpers ----

/**
 * The bytes helper `helper` signs with its identity key (Ed25519) for its commitments δ_ij·G in
 * the repair session `session`: bound to the session, the helper and every (recipient, point).
 */
export function repairCommitmentsSigningBytes(
  suite: Suite,
  session: string,
  helper: bigint,
  commitments: ReadonlyMap<bigint, GroupPoint>,
): Uint8Array {
  const sorted = [...commitments].sort(([a], [b]) => (a < b ? -1 : 1));
  return sha256(
    lp(
      utf8ToBytes('conclave/repair-commitments/v1'),
      utf8ToBytes(session),
      suite.encodeScalar(helper),
      ...sorted.flatMap(([j, C]) => [suite.encodeScalar(j), suite.encodePoint(C)]),
    ),
  );
}

/**
 * Whether `sig` (hex) is `helper`'s identity-key signature over these commitments, as `verify`
 * judges it (noble's strict verify unless given; throwing counts as a bad signature).
 */
export function repairCommitmentsSignedBy(
  suite: Suite,
  session: string,
  helper: bigint,
  commitments: ReadonlyMap<bigint, GroupPoint>,
  sig: unknown,
  key: Uint8Array | undefined,
  verify: Ed25519Verify = strictEd25519Verify,
): boolean {
  if (!key || !isLowerHex(sig, 128)) return false;
  try {
    return (
      verify(
        hexToBytes(sig),
        repairCommitmentsSigningBytes(suite, session, helper, commitments),
        key,
      ) === true
    );
  } catch {
    return false;
  }
}

/** A helper's commitments as another participant received them, with the helper's signature. */
export interface RepairView {
  readonly commitments: ReadonlyMap<bigint, GroupPoint>;
  readonly signature: string;
}

/**
 * What lets the member judge a σ_j that does not match: each helper j passes on, with σ_j, the
 * signed commitments it received from every helper (`views`, by j then by sender). A helper whose
 * signed commitments in j's view differ from the member's showed two different sets and is named
 * instead of j; a view without a valid signature is no evidence, and j is named.
 */
export interface RepairJudge {
  readonly session: string;
  helperKey(helper: bigint): Uint8Array | undefined;
  readonly views: ReadonlyMap<bigint, ReadonlyMap<bigint, RepairView>>;
  /** The views' signatures' verifier; strictEd25519Verify unless given. */
  readonly verify?: Ed25519Verify;
}

function sameCommitments(
  a: ReadonlyMap<bigint, GroupPoint>,
  b: ReadonlyMap<bigint, GroupPoint> | undefined,
): boolean {
  return !!b && a.size === b.size && [...a].every(([j, C]) => b.get(j)?.equals(C) === true);
}

/**
 * Views (by sender) as JSON: hex identifiers, hex points, the signature. They are read back
 * strictly by decodeRepairSum (shared/protocol/repair-payload.ts).
 */
export function repairViewsToWire(
  suite: Suite,
  views: ReadonlyMap<bigint, RepairView>,
): Record<string, { commitments: Record<string, string>; signature: string }> {
  const out: Record<string, { commitments: Record<string, string>; signature: string }> = {};
  for (const [i, v] of views) {
    const commitments: Record<string, string> = {};
    for (const [j, C] of v.commitments)
      commitments[identifierHex(suite, j)] = bytesToHex(suite.encodePoint(C));
    out[identifierHex(suite, i)] = { commitments, signature: v.signature };
  }
  return out;
}

/**
 * Step 3 at the member: s_r = Σ_j σ_j, checked against its verifying share Y_r. A σ_j that does
 * not match the sum of the commitments addressed to helper j names helper j, unless `judge` shows
 * that another helper signed other commitments for j than for this member: that helper is named.
 * With a judge, `commitments` are the ones this member received, each verified as signed by its
 * helper (repairCommitmentsSignedBy).
 */
export function repairStep3(
  pub: PublicKeyPackage,
  helpers: readonly bigint[],
  lost: bigint,
  sigmas: readonly RepairPart[],
  commitments: ReadonlyMap<bigint, ReadonlyMap<bigint, GroupPoint>>,
  judge?: RepairJudge,
): SecretShare {
  const suite = getSuite(pub.scheme);
  checkHelpers(suite, pub, helpers, lost);
  assertCommitments(suite, pub, helpers, lost, commitments);
  const got = collectParts(suite, helpers, lost, sigmas, 'sum');
  const bad: string[] = [];
  for (const j of helpers) {
    let expected = suite.ZERO;
    for (const i of helpers) expected = expected.add(commitments.get(i)!.get(j)!);
    if (got.get(j) === 0n || !suite.G.multiply(got.get(j)!).equals(expected))
      bad.push(identifierHex(suite, j));
  }
  if (bad.length && judge) {
    // A wrong-looking sum from an honest helper j: some helper i showed j other (signed)
    // commitments than it showed this member. Its two signatures convict it, not j.
    const equivocators = new Set<string>();
    for (const jHex of bad) {
      const j = helpers.find((h) => identifierHex(suite, h) === jHex)!;
      for (const [i, v] of judge.views.get(j) ?? []) {
        if (i === j || !helpers.includes(i) || sameCommitments(v.commitments, commitments.get(i)))
          continue;
        if (
          repairCommitmentsSignedBy(
            suite,
            judge.session,
            i,
            v.commitments,
            v.signature,
            judge.helperKey(i),
            judge.verify,
          )
        )
          equivocators.add(identifierHex(suite, i));
      }
    }
    if (equivocators.size)
      throw new CryptoError(
        'equivocation',
        `helpers showed different repair commitments to different members: ${[...equivocators].join(', ')}`,
        [...equivocators],
      );
  }
  if (bad.length)
    throw new CryptoError('bad_share', `repair sum from ${bad.join(', ')} is wrong`, bad);
  let s = 0n;
  for (const v of got.values()) s = suite.Fn.add(s, v);
  check(
    suite.G.multiply(s).equals(pub.verifyingShares.get(lost)!),
    'key_mismatch',
    'repaired share does not match',
  );
  return new SecretShare(pub.scheme, lost, s, pub.epoch);
}
