// Torsion that cancels in a plain sum of points: the plantings really have orders 2, 4 and 8 and
// fool a plain sum, and the DKG's check of its coefficient-wise summed commitments
// (assertSumsPrimeOrder) still refuses dealers planting it in a large group, naming them. (More
// plantings in real round-1 packages: dkg-torsion.test.ts.)
import { describe, expect, it } from 'vitest';
import { randomBytes } from '@noble/hashes/utils.js';
import { dkgEcho, dkgRound1 } from '../../shared/crypto/dkg.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { getSuite, identifierHex, type GroupPoint } from '../../shared/crypto/suite.js';
import { torsion } from './helpers.js';

const suite = getSuite('ed25519');

const orderOf = (T: GroupPoint): number =>
  [1, 2, 4, 8].find((o) => T.multiplyUnsafe(BigInt(o)).is0())!;

const valid = (n: number): GroupPoint[] =>
  Array.from({ length: n }, () => suite.G.multiply(suite.randomScalar()));

/** Plantings: lists of torsion multiples k (T8·k) added to distinct valid points. */
const PLANTS: [string, number[]][] = [
  ['one order-2 component', [4]],
  ['one order-4 component', [2]],
  ['one order-8 component', [1]],
  ['two order-2 components (cancel in a plain sum)', [4, 4]],
  ['order-4 and its negation (cancel in a plain sum)', [2, 6]],
  ['order-8 and its negation (cancel in a plain sum)', [1, 7]],
  ['four order-8 components summing to zero', [1, 3, 5, 7]],
  ['order 8, 4 and 2 mixed, summing to zero', [1, 3, 4]],
  ['eight order-2 components', [4, 4, 4, 4, 4, 4, 4, 4]],
];

/** `n` valid points with the planted torsion at random distinct positions. */
function planted(n: number, ks: readonly number[]): { points: GroupPoint[]; at: number[] } {
  const points = valid(n);
  const at: number[] = [];
  while (at.length < ks.length) {
    const i = Math.floor(Math.random() * n);
    if (!at.includes(i)) at.push(i);
  }
  ks.forEach((k, j) => (points[at[j]] = points[at[j]].add(torsion(k))));
  return { points, at };
}

function refusal(f: () => void): CryptoError {
  try {
    f();
  } catch (e) {
    if (e instanceof CryptoError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('torsion cancelling in a plain sum (ed25519)', () => {
  it('the planted torsion really has orders 2, 4, 8 and the cancelling plants fool a plain sum', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((k) => orderOf(torsion(k)))).toEqual([8, 4, 8, 2, 8, 4, 8]);
    for (const [, ks] of PLANTS) {
      const { points } = planted(8, ks);
      for (const k of ks) expect(suite.inPrimeOrderSubgroup(suite.G.add(torsion(k)))).toBe(false);
      const plainSum = points.reduce((a, b) => a.add(b), suite.ZERO);
      // The sum of the planted components is Σk·T8: zero exactly when Σk ≡ 0 (mod 8).
      const cancels = ks.reduce((a, b) => a + b, 0) % 8 === 0;
      expect(suite.inPrimeOrderSubgroup(plainSum)).toBe(cancels);
    }
  });

  it('dkgEcho at 34-of-50 refuses dealers whose commitments carry torsion cancelling in a plain sum', () => {
    const t = 34;
    const n = 50;
    const params = {
      scheme: 'ed25519' as const,
      threshold: t,
      members: Array.from({ length: n }, (_, i) => ({
        identifier: BigInt(i + 1),
        identityKey: randomBytes(32),
      })),
      sessionId: randomBytes(32),
    };
    const rounds = params.members.map((m) => dkgRound1(params, m.identifier));
    const pkgs = rounds
      .slice(1)
      .map((r) => ({ ...r.package, commitment: [...r.package.commitment] }));
    // Dealers 7 and 20 each plant order-2 torsion in two commitments (each pair cancels in the sum
    // of its dealer's points, not in the coefficient-wise sums the DKG checks).
    for (const [d, ks] of [
      [6, [3, 17]],
      [19, [1, 30]],
    ] as const)
      for (const k of ks)
        pkgs[d - 1].commitment[k] = Buffer.from(
          suite.encodePoint(
            suite.decodePoint(Buffer.from(pkgs[d - 1].commitment[k], 'hex')).add(torsion(4)),
          ),
        ).toString('hex');
    const e = refusal(() => dkgEcho(rounds[0].state, pkgs));
    expect(e.code).toBe('bad_point');
    expect([...e.culprits].sort()).toEqual(
      [identifierHex(suite, 7n), identifierHex(suite, 20n)].sort(),
    );
    // And with the honest packages, the same member goes through.
    const fresh = params.members.map((m) => dkgRound1(params, m.identifier));
    expect(() =>
      dkgEcho(
        fresh[0].state,
        fresh.slice(1).map((r) => r.package),
      ),
    ).not.toThrow();
  }, 120_000);
});
