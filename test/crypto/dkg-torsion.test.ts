// Torsion planted in real DKG and reshare round-1 commitments (ed25519): the ceremonies check only
// the summed commitments' subgroup (dkg.ts assertSumsPrimeOrder), so these cases show what that
// refuses, whom it names, and that what it lets through leaves every output in the subgroup.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, concatBytes, randomBytes } from '@noble/hashes/utils.js';
import {
  DKG_VERSION,
  DkgState,
  dkgEcho,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  dkgSessionDigest,
  packageDigest,
  sumCommitments,
  verifyKnowledge,
  verifyReceivedShares,
  type DkgEcho,
  type DkgParams,
  type DkgRound1Package,
  type DkgRound2Package,
} from '../../shared/crypto/dkg.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import {
  publicPackageFromJSON,
  publicPackageToJSON,
  type KeyPackage,
} from '../../shared/crypto/keys.js';
import {
  commitPoly,
  evalCommitment,
  lagrangeAtZero,
  randomPoly,
} from '../../shared/crypto/poly.js';
import {
  reshareEcho,
  reshareFinalize,
  reshareRound1,
  reshareRound2,
  reshareSessionDigest,
  ReshareState,
  type ReshareParams,
  type ReshareRound1Package,
} from '../../shared/crypto/reshare.js';
import { aggregate, commit, signingPackage, signShare } from '../../shared/crypto/sign.js';
import { getSuite, identifierHex, type GroupPoint } from '../../shared/crypto/suite.js';
import { cryptoOutcome, dealerKeys, dkgParams, torsion } from './helpers.js';

const suite = getSuite('ed25519');
const hex = (id: bigint) => identifierHex(suite, id);
const enc = (P: GroupPoint) => bytesToHex(suite.encodePoint(P));

const orderOf = (k: number): number => 8 / gcd(((k % 8) + 8) % 8 || 8, 8);
function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
const neg = (ks: readonly number[]) => ks.map((k) => (8 - (k % 8)) % 8);
/** The torsion dealer `ks` adds to its value at x (Horner, as evalCommitment): Σ_j x^j·ks[j] mod 8. */
const torsionAt = (ks: readonly number[], x: bigint): number =>
  Number(ks.reduceRight((acc, k) => acc * x + BigInt(k), 0n) % 8n);

// Torsion patterns that vanish at every integer x (so they pass every share check, whoever the
// members are): 4·x(x+1) (order 2), and k·x(x+1)(x+2)(x+3) = k·(x⁴ + 6x³ + 11x² + 6x), which 24
// divides, for k = 1 (components of order 8 and 4) and k = 2 (orders 4 and 2).
const VANISHING: [string, number[]][] = [
  ['order 2 at j = 1 and j = 2 (x(x+1) is even)', [0, 4, 4]],
  ['orders 8 and 4 at j = 1..4 (x(x+1)(x+2)(x+3))', [0, 6, 3, 6, 1]],
  ['orders 4 and 2 at j = 1..4 (2·x(x+1)(x+2)(x+3))', [0, 4, 6, 4, 2]],
];

/**
 * A proof of knowledge of φ's prime-order part that verifies although φ carries torsion T: with
 * R = k·G + T_R the equation needs T_R = −c·T, and c depends on R, so R's torsion is tried until
 * the challenge fits (as a cheating dealer would).
 */
function groundProof(id: bigint, a0: bigint, phi: GroupPoint, ctx: Uint8Array): string {
  for (;;) {
    const k = suite.randomScalar();
    for (let m = 0; m < 8; m++) {
      const R = suite.G.multiply(k).add(torsion(m));
      const c = suite.HDKG(
        concatBytes(suite.encodeScalar(id), ctx, suite.encodePoint(phi), suite.encodePoint(R)),
      );
      const z = suite.Fn.add(k, suite.Fn.mul(a0, c));
      if (suite.G.multiply(z).subtract(phi.multiplyUnsafe(c)).equals(R))
        return bytesToHex(concatBytes(suite.encodePoint(R), suite.encodeScalar(z)));
    }
  }
}

/**
 * Round 1 of a dealer whose commitment j carries torsion ks[j]·T8, with a proof of knowledge that
 * verifies: its shares (state.evalAt) are its polynomial's values, which match the prime-order part.
 */
function plantedRound1(
  params: DkgParams,
  me: bigint,
  ks: readonly number[],
): { state: DkgState; package: DkgRound1Package } {
  const digest = dkgSessionDigest(params);
  const coeffs = randomPoly(suite, params.threshold);
  const C = commitPoly(suite, coeffs).map((P, j) => P.add(torsion(ks[j] ?? 0)));
  const state = new DkgState(params, me, coeffs, digest);
  const pkg: DkgRound1Package = {
    version: DKG_VERSION,
    scheme: 'ed25519',
    session: state.session,
    from: hex(me),
    commitment: C.map(enc),
    proofOfKnowledge: groundProof(me, coeffs[0], C[0], digest),
  };
  state.commitments.set(me, C);
  state.digests.set(me, packageDigest(pkg));
  return { state, package: pkg };
}

/** Round 1 of a t-of-n DKG where the dealers in `plant` carry their torsion, the others honest. */
function dkgWith(t: number, n: number, plant: ReadonlyMap<bigint, readonly number[]>) {
  const params = dkgParams('ed25519', t, n);
  const r1 = params.members.map((m) =>
    plant.has(m.identifier)
      ? plantedRound1(params, m.identifier, plant.get(m.identifier)!)
      : dkgRound1(params, m.identifier),
  );
  const others = <T>(xs: readonly T[], i: number) => xs.filter((_, j) => j !== i);
  return {
    params,
    r1,
    ids: params.members.map((m) => m.identifier),
    echo: () =>
      r1.map((r, i) =>
        cryptoOutcome(() =>
          dkgEcho(
            r.state,
            others(r1, i).map((o) => o.package),
          ),
        ),
      ),
    /** Echo, round 2 and finalize for everyone; each member's key or the error it stopped at. */
    run(): (KeyPackage | CryptoError)[] {
      const echoes = r1.map((r, i) =>
        dkgEcho(
          r.state,
          others(r1, i).map((o) => o.package),
        ),
      );
      const out: DkgRound2Package[] = r1.flatMap((r, i) => dkgRound2(r.state, others(echoes, i)));
      return r1.map((r) =>
        cryptoOutcome(() =>
          dkgFinalize(
            r.state,
            out.filter((p) => p.to === r.state.me),
          ),
        ),
      );
    },
  };
}

/** Every output point in the subgroup, the package loads (decodePoint), each share matches. */
function expectSound(keys: readonly KeyPackage[]): void {
  const pub = keys[0].public;
  expect(suite.inPrimeOrderSubgroup(pub.groupKey)).toBe(true);
  for (const Y of pub.verifyingShares.values()) expect(suite.inPrimeOrderSubgroup(Y)).toBe(true);
  const json = publicPackageToJSON(pub);
  expect(publicPackageToJSON(publicPackageFromJSON(json))).toEqual(json);
  for (const k of keys) {
    expect(publicPackageToJSON(k.public)).toEqual(json);
    expect(
      suite.G.multiply(k.share.scalar()).equals(pub.verifyingShares.get(k.share.identifier)!),
    ).toBe(true);
  }
}

/** A FROST signature by `signers`, checked with strict (cofactorless, non-ZIP-215) RFC 8032. */
function expectSignatureVerifies(keys: readonly KeyPackage[], signers: readonly bigint[]): void {
  const msg = randomBytes(40);
  const who = signers.map((id) => keys.find((k) => k.share.identifier === id)!);
  const nonces = who.map((k) => commit(k));
  const pkg = signingPackage(
    who[0].public,
    nonces.map((x) => x.commitment),
    msg,
  );
  const shares = new Map(who.map((k, i) => [k.share.identifier, signShare(k, nonces[i], pkg)]));
  const sig = aggregate(pkg, shares);
  const pk = suite.encodePoint(who[0].public.groupKey);
  expect(ed25519.verify(sig, msg, pk, { zip215: false })).toBe(true);
  expect(suite.verify(sig, msg, pk)).toBe(true);
}

describe('DKG with torsion planted in round-1 commitments (ed25519)', () => {
  it('the plantings are what they claim: orders 2, 4 and 8, vanishing patterns vanish', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(orderOf)).toEqual([8, 4, 8, 2, 8, 4, 8]);
    for (let k = 1; k < 8; k++) {
      expect(
        torsion(k)
          .multiplyUnsafe(BigInt(orderOf(k)))
          .is0(),
      ).toBe(true);
      expect(
        torsion(k)
          .multiplyUnsafe(BigInt(orderOf(k) / 2))
          .is0(),
      ).toBe(false);
    }
    const orders = new Set<number>();
    for (const [, ks] of VANISHING) {
      for (let x = 1n; x <= 64n; x++) expect(torsionAt(ks, x)).toBe(0);
      ks.filter((k) => k % 8).forEach((k) => orders.add(orderOf(k)));
    }
    expect([...orders].sort()).toEqual([2, 4, 8]);
  });

  describe('a lone dealer whose torsion passes every share check is refused and named', () => {
    const cases: [string, number, number, bigint, number[]][] = [
      ...VANISHING.map(
        ([what, ks]) =>
          [what, Math.max(ks.length, 3), 7, 3n, ks] as [string, number, number, bigint, number[]],
      ),
      // Patterns that vanish at the other members only (found by search): the group key would
      // carry the torsion at j = 0, and the dealer's own verifying share some too.
      ['order 8 in the group key, 3-of-3, dealer 2', 3, 3, 2n, [1, 0, 7]],
      ['order 2 in the group key, 4-of-5, dealer 2', 4, 5, 2n, [4, 1, 0, 3]],
      ['order 4 in the group key, 4-of-5, dealer 4', 4, 5, 4n, [2, 3, 2, 1]],
    ];
    it.each(cases)('%s', (_, t, n, dealer, ks) => {
      const d = dkgWith(t, n, new Map([[dealer, ks]]));
      const bad = d.r1.find((r) => r.state.me === dealer)!;
      const C = bad.state.commitments.get(dealer)!;
      // Each planted point is outside the subgroup, yet every share check and the proof pass...
      ks.forEach((k, j) => expect(suite.inPrimeOrderSubgroup(C[j])).toBe(k % 8 === 0));
      for (const i of d.ids.filter((i) => i !== dealer))
        expect(() =>
          verifyReceivedShares(
            suite,
            i,
            new Map([[dealer, C]]),
            new Map([[dealer, bad.state.evalAt(i)]]),
          ),
        ).not.toThrow();
      expect(() =>
        verifyKnowledge(
          suite,
          dealer,
          C[0],
          Buffer.from(bad.package.proofOfKnowledge, 'hex'),
          bad.state.digest,
          true,
        ),
      ).not.toThrow();
      // ... and unrefused it would reach the outputs when it sits at j = 0 or at the dealer's x.
      const sums = sumCommitments(
        suite,
        d.r1.map((r) => r.state.commitments.get(r.state.me)!),
        t,
      );
      expect(suite.inPrimeOrderSubgroup(sums[0])).toBe(ks[0] === 0);
      expect(suite.inPrimeOrderSubgroup(evalCommitment(suite, sums, dealer))).toBe(
        torsionAt(ks, dealer) === 0,
      );
      // The summed check refuses it at every other member, naming the dealer and each point.
      d.echo().forEach((e, i) => {
        if (d.ids[i] === dealer) return;
        expect(e).toBeInstanceOf(CryptoError);
        const err = e as CryptoError;
        expect(err.code).toBe('bad_point');
        expect(err.culprits).toEqual([hex(dealer)]);
        ks.forEach((k, j) =>
          expect(err.message.includes(`commitment ${j} from ${hex(dealer)}`)).toBe(k % 8 !== 0),
        );
      });
    });
  });

  describe('torsion that fails share checks is still refused, the dealer named', () => {
    // A lone dealer's: its torsion does not cancel, so the summed check refuses it first.
    it.each([1, 2, 4])('a lone dealer with torsion T8·%i at j = 0 or j = t − 1', (k) => {
      for (const j of [0, 3]) {
        const ks = [0, 0, 0, 0];
        ks[j] = k;
        const d = dkgWith(4, 6, new Map([[5n, ks]]));
        d.echo().forEach((e, i) => {
          if (d.ids[i] === 5n) return;
          expect((e as CryptoError).code).toBe('bad_point');
          expect((e as CryptoError).culprits).toEqual([hex(5n)]);
        });
      }
    });

    // Two colluders whose torsion cancels in the sums pass the summed check; each member whose
    // share check sees a dealer's torsion refuses that dealer's share (the others finish soundly).
    const pairs: [string, number, number][] = [];
    for (const j of [0, 1, 3]) for (const k of [4, 2, 1]) pairs.push([`T8·${k} at j = ${j}`, j, k]);
    it.each(pairs)('two colluders with ±%s', (_, j, k) => {
      const ks = [0, 0, 0, 0];
      ks[j] = k;
      const plant = new Map([
        [2n, ks],
        [5n, neg(ks)],
      ]);
      const d = dkgWith(4, 6, plant);
      // run() lets no error out of the echoes: the summed check passes these.
      const results = d.run();
      const finished: KeyPackage[] = [];
      results.forEach((r, i) => {
        const me = d.ids[i];
        if (plant.has(me)) return;
        const blamed = [...plant.entries()]
          .filter(([, p]) => torsionAt(p, me) !== 0)
          .map(([dealer]) => hex(dealer));
        if (blamed.length === 0) {
          expect(r).not.toBeInstanceOf(CryptoError);
          finished.push(r as KeyPackage);
          return;
        }
        expect((r as CryptoError).code).toBe('bad_share');
        expect([...(r as CryptoError).culprits].sort()).toEqual(blamed.sort());
      });
      // Member 1 sees every planting (x^j = 1); j = 0 torsion is seen at every x.
      expect(finished.length).toBeLessThan(4);
      if (j === 0) expect(finished).toEqual([]);
      if (finished.length) expectSound(finished);
    });
  });

  describe('colluders whose torsion cancels in the sums and passes every share check', () => {
    it.each(VANISHING)('%s: the DKG completes and its outputs are sound', (_, ks) => {
      const t = Math.max(ks.length, 3);
      const plant = new Map([
        [2n, ks],
        [5n, neg(ks)],
      ]);
      const d = dkgWith(t, 7, plant);
      // The colluders' points really are outside the subgroup.
      for (const [dealer, p] of plant)
        p.forEach((k, j) =>
          expect(
            suite.inPrimeOrderSubgroup(d.r1[Number(dealer) - 1].state.commitments.get(dealer)![j]),
          ).toBe(k % 8 === 0),
        );
      const results = d.run();
      for (const r of results) expect(r).not.toBeInstanceOf(CryptoError);
      const keys = results as KeyPackage[];
      expectSound(keys);
      expectSignatureVerifies(keys, [2n, 5n, 1n, 3n, 4n].slice(0, t)); // both colluders sign
      expectSignatureVerifies(keys, [1n, 3n, 4n, 6n, 7n].slice(0, t)); // neither does
    });
  });
});

// ---- reshare ----

/** Old 3-of-5 key; dealers 1, 2, 4, 5 re-deal to members 1..7 at threshold `t`. */
function reshareWith(t: number, plant: ReadonlyMap<bigint, readonly number[]>) {
  const old = new Map(dealerKeys('ed25519', 3, 5).map((k) => [k.share.identifier, k]));
  const params: ReshareParams = {
    old: old.get(1n)!.public,
    dealers: [1n, 2n, 4n, 5n],
    members: Array.from({ length: 7 }, (_, i) => ({
      identifier: BigInt(i + 1),
      identityKey: randomBytes(32),
    })),
    threshold: t,
    sessionId: randomBytes(32),
  };
  const session = bytesToHex(reshareSessionDigest(params));
  const parts = params.members.map((m) => m.identifier);
  const r1 = parts.map((me) => {
    const ks = plant.get(me);
    if (!ks) return reshareRound1(params, me, old.get(me));
    // A dealer dealing λ·s honestly but with torsion on its commitments.
    const secret = suite.Fn.mul(
      lagrangeAtZero(suite, params.dealers, me),
      old.get(me)!.share.scalar(),
    );
    const coeffs = randomPoly(suite, t, secret);
    const C = commitPoly(suite, coeffs).map((P, j) => P.add(torsion(ks[j] ?? 0)));
    const state = new ReshareState(params, me, session, coeffs);
    const pkg: ReshareRound1Package = {
      version: DKG_VERSION,
      scheme: 'ed25519',
      session,
      from: hex(me),
      commitment: C.map(enc),
    };
    state.commitments.set(me, C);
    state.digests.set(me, packageDigest(pkg));
    return { state, package: pkg };
  });
  const pkgs = r1.flatMap((r) => (r.package ? [r.package] : []));
  const pkgsFor = (id: bigint) => pkgs.filter((p) => p.from !== hex(id));
  const others = <T>(xs: readonly T[], i: number) => xs.filter((_, j) => j !== i);
  return {
    parts,
    echo: () => r1.map((r, i) => cryptoOutcome(() => reshareEcho(r.state, pkgsFor(parts[i])))),
    run(): (KeyPackage | undefined)[] {
      const echoes: DkgEcho[] = r1.map((r, i) => reshareEcho(r.state, pkgsFor(parts[i])));
      const out = r1.flatMap((r, i) => reshareRound2(r.state, others(echoes, i)));
      return r1.map((r) =>
        reshareFinalize(
          r.state,
          out.filter((p) => p.to === r.state.me),
        ),
      );
    },
    groupKey: params.old.groupKey,
  };
}

describe('reshare with torsion planted in a dealer’s commitments (ed25519)', () => {
  it.each(VANISHING)('a lone dealer with %s is refused and named', (_, ks) => {
    const r = reshareWith(5, new Map([[4n, ks]]));
    r.echo().forEach((e, i) => {
      if (r.parts[i] === 4n) return;
      expect((e as CryptoError).code).toBe('bad_point');
      expect((e as CryptoError).culprits).toEqual([hex(4n)]);
    });
  });

  it('a dealer with torsion on its dealt constant is refused: it is not its weighted old share', () => {
    const r = reshareWith(5, new Map([[2n, [4, 0, 0, 0, 0]]]));
    r.echo().forEach((e, i) => {
      if (r.parts[i] === 2n) return;
      expect((e as CryptoError).code).toBe('bad_commitment');
      expect((e as CryptoError).culprits).toEqual([hex(2n)]);
    });
  });

  it.each(VANISHING)(
    'two colluders with cancelling %s: the key and its outputs stay sound',
    (_, ks) => {
      const r = reshareWith(
        5,
        new Map([
          [1n, ks],
          [5n, neg(ks)],
        ]),
      );
      const keys = r.run();
      expect(keys.every((k) => k !== undefined)).toBe(true);
      const ks7 = keys as KeyPackage[];
      expect(ks7[0].public.groupKey.equals(r.groupKey)).toBe(true);
      expectSound(ks7);
      expectSignatureVerifies(ks7, [1n, 2n, 3n, 5n, 7n]);
    },
  );
});
