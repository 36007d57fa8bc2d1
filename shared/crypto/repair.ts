// Repair (ZF's repairable threshold scheme): T helpers rebuild a member's lost share without any
// of them learning it. Each helper splits λ_i(r)·s_i into random parts, one per helper; each
// helper sums what it received and sends that to the member. Public commitments to every part
// let everyone check the arithmetic and name a helper that cheated.
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { CryptoError, check } from './errors.js';
import { SecretShare, type KeyPackage, type PublicKeyPackage } from './keys.js';
import { lagrangeAt } from './poly.js';
import { Redacted } from './secret.js';
import {
  assertIdentifiers,
  getSuite,
  identifierHex,
  parseIdentifier,
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

/**
 * Step 3 at the member: s_r = Σ_j σ_j, checked against its verifying share Y_r. A σ_j that does
 * not match the sum of the commitments addressed to helper j names helper j.
 */
export function repairStep3(
  pub: PublicKeyPackage,
  helpers: readonly bigint[],
  lost: bigint,
  sigmas: readonly RepairPart[],
  commitments: ReadonlyMap<bigint, ReadonlyMap<bigint, GroupPoint>>,
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

/** Decodes a part received from the wire; errors name the sender. */
export function repairPartFromWire(
  suite: Suite,
  w: { from: string; to: string; value: string },
): RepairPart {
  check(w !== null && typeof w === 'object', 'bad_input', 'repair part must be an object');
  const from = parseIdentifier(suite, w.from);
  check(
    typeof w.value === 'string' && /^[0-9a-f]*$/.test(w.value),
    'bad_share',
    'value must be hex',
    [w.from],
  );
  return new RepairPart(
    from,
    parseIdentifier(suite, w.to),
    suite.decodeScalar(hexToBytes(w.value), 'repair part'),
  );
}
