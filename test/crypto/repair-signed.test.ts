// Signed repair (helpers sign their commitments with their identity keys and pass on, with their
// sum, the signed commitments they received): a helper that shows the new device other commitments
// than it showed the other helpers is named, not the honest helpers whose sums then look wrong; a
// helper lying about what it received is named itself (issue 13, framing in repair).
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import {
  repairCommitmentsSignedBy,
  repairCommitmentsSigningBytes,
  repairStep1,
  repairStep2,
  repairStep3,
  type RepairJudge,
  type RepairView,
} from '../../shared/crypto/repair.js';
import { getSuite, identifierHex, type GroupPoint } from '../../shared/crypto/suite.js';
import { culpritsOf, dealerKeys } from './helpers.js';

const suite = getSuite('ed25519');
const hex = (id: bigint) => identifierHex(suite, id);
const seeds = Array.from({ length: 5 }, () => ed25519.utils.randomSecretKey());
const keyOf = (id: bigint) => ed25519.getPublicKey(seeds[Number(id) - 1]!);
const sign = (id: bigint, session: string, c: ReadonlyMap<bigint, GroupPoint>) =>
  bytesToHex(
    ed25519.sign(repairCommitmentsSigningBytes(suite, session, id, c), seeds[Number(id) - 1]!),
  );

// Member 5 of a 3-of-5 key lost its share; 1, 2 and 3 help.
function fixture() {
  const keys = new Map(dealerKeys('ed25519', 3, 5).map((k) => [k.share.identifier, k]));
  const pub = keys.get(1n)!.public;
  const helpers = [1n, 2n, 3n];
  const session = bytesToHex(randomBytes(32));
  const step1 = new Map(helpers.map((i) => [i, repairStep1(keys.get(i)!, helpers, 5n)]));
  const honest = new Map(helpers.map((i) => [i, step1.get(i)!.commitments]));
  const signed = (c: ReadonlyMap<bigint, ReadonlyMap<bigint, GroupPoint>>) =>
    new Map([...c].map(([i, m]) => [i, { commitments: m, signature: sign(i, session, m) }]));
  const sigmas = helpers.map((j) =>
    repairStep2(
      pub,
      helpers,
      5n,
      j,
      helpers.map((i) => step1.get(i)!.parts.get(j)!),
      honest,
    ),
  );
  const judge = (views: ReadonlyMap<bigint, ReadonlyMap<bigint, RepairView>>): RepairJudge => ({
    session,
    helperKey: keyOf,
    views,
  });
  return { pub, helpers, session, honest, signed, sigmas, judge };
}

/** Helper 1's commitments with P moved from helper 2's entry to helper 3's: the same total. */
function shifted(c: ReadonlyMap<bigint, GroupPoint>): Map<bigint, GroupPoint> {
  const P = suite.G.multiply(suite.randomScalar());
  return new Map(c).set(2n, c.get(2n)!.add(P)).set(3n, c.get(3n)!.subtract(P));
}

describe('signed repair', () => {
  it('repairs when everyone is honest, views and all', () => {
    const f = fixture();
    const views = new Map(f.helpers.map((j) => [j, f.signed(f.honest)]));
    const share = repairStep3(f.pub, f.helpers, 5n, f.sigmas, f.honest, f.judge(views));
    expect(suite.G.multiply(share.scalar()).equals(f.pub.verifyingShares.get(5n)!)).toBe(true);
  });

  it('a helper showing the new device other commitments than the helpers is named, not the helpers', () => {
    const f = fixture();
    // Helper 1 signs and sends the new device commitments it never showed helpers 2 and 3.
    const atDevice = new Map(f.honest).set(1n, shifted(f.honest.get(1n)!));
    const views = new Map(f.helpers.map((j) => [j, f.signed(f.honest)]));
    // Without the helpers' views the device can only blame the sums that do not match.
    expect(culpritsOf(() => repairStep3(f.pub, f.helpers, 5n, f.sigmas, atDevice))).toEqual([
      hex(2n),
      hex(3n),
    ]);
    expect(
      culpritsOf(() => repairStep3(f.pub, f.helpers, 5n, f.sigmas, atDevice, f.judge(views))),
    ).toEqual([hex(1n)]);
  });

  it('a helper with a wrong sum and a made-up view of another helper is named itself', () => {
    const f = fixture();
    const sigmas = f.sigmas.map((s) => (s.from === 2n ? repairStep2Bumped(f, s.value()) : s));
    // Helper 2 claims helper 1's commitments were other ones, without helper 1's signature.
    const forged = new Map(f.signed(f.honest)).set(1n, {
      commitments: shifted(f.honest.get(1n)!),
      signature: f.signed(f.honest).get(1n)!.signature,
    });
    const views = new Map(f.helpers.map((j) => [j, j === 2n ? forged : f.signed(f.honest)]));
    expect(
      culpritsOf(() => repairStep3(f.pub, f.helpers, 5n, sigmas, f.honest, f.judge(views))),
    ).toEqual([hex(2n)]);
  });

  it('signatures are bound to the session, the helper and every commitment', () => {
    const f = fixture();
    const c = f.honest.get(1n)!;
    const sig = sign(1n, f.session, c);
    expect(repairCommitmentsSignedBy(suite, f.session, 1n, c, sig, keyOf(1n))).toBe(true);
    expect(repairCommitmentsSignedBy(suite, f.session, 1n, c, sig, keyOf(2n))).toBe(false);
    expect(repairCommitmentsSignedBy(suite, f.session, 2n, c, sig, keyOf(1n))).toBe(false);
    expect(repairCommitmentsSignedBy(suite, 'ab'.repeat(32), 1n, c, sig, keyOf(1n))).toBe(false);
    expect(repairCommitmentsSignedBy(suite, f.session, 1n, shifted(c), sig, keyOf(1n))).toBe(false);
    for (const bad of [undefined, 7, 'zz'.repeat(64), sig + '00'])
      expect(repairCommitmentsSignedBy(suite, f.session, 1n, c, bad, keyOf(1n))).toBe(false);
  });
});

/** Helper 2's sum, off by one (a wrong sum it sends the device). */
function repairStep2Bumped(f: ReturnType<typeof fixture>, v: bigint) {
  const s = f.sigmas.find((x) => x.from === 2n)!;
  return new (s.constructor as new (a: bigint, b: bigint, c: bigint) => typeof s)(
    2n,
    5n,
    suite.Fn.add(v, 1n),
  );
}
