// The suites' fast paths give what the plain noble operations give: the secp256k1 generator with
// its own window-8 tables, and the multi-scalar multiplication that takes noble's GLV double
// multiplication for one or two points.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { getSuite, SCHEMES, type GroupPoint } from '../../shared/crypto/suite.js';

const baseOf = (scheme: string) =>
  (scheme === 'ed25519' ? ed25519.Point.BASE : secp256k1.Point.BASE) as unknown as GroupPoint;

describe.each(SCHEMES)('%s suite', (scheme) => {
  const suite = getSuite(scheme);

  it('multiplies the same generator as noble, secret and public scalars alike', () => {
    const G = baseOf(scheme);
    expect(suite.G.equals(G)).toBe(true);
    expect(suite.encodePoint(suite.G)).toEqual(suite.encodePoint(G));
    for (const s of [1n, 2n, suite.Fn.ORDER - 1n, suite.randomScalar(), suite.randomScalar()]) {
      expect(suite.G.multiply(s).equals(G.multiply(s))).toBe(true);
      expect(suite.G.multiplyUnsafe(s).equals(G.multiplyUnsafe(s))).toBe(true);
    }
    expect(suite.G.multiplyUnsafe(0n).is0()).toBe(true);
  });

  it('msm equals the sum of the single multiplications for 0 to 5 points', () => {
    const pt = () => suite.G.multiply(suite.randomScalar());
    for (let n = 0; n <= 5; n++) {
      const points = Array.from({ length: n }, pt);
      const scalars = points.map(() => suite.randomScalar());
      const want = points.reduce((acc, p, i) => acc.add(p.multiplyUnsafe(scalars[i])), suite.ZERO);
      expect(suite.msm(points, scalars).equals(want)).toBe(true);
    }
    // Edge scalars: 0, 1 and n - 1, in every position of one and two points.
    const P = pt();
    const Q = pt();
    const edges = [0n, 1n, suite.Fn.ORDER - 1n, suite.randomScalar()];
    for (const a of edges) {
      expect(suite.msm([P], [a]).equals(P.multiplyUnsafe(a))).toBe(true);
      for (const b of edges)
        expect(suite.msm([P, Q], [a, b]).equals(P.multiplyUnsafe(a).add(Q.multiplyUnsafe(b)))).toBe(
          true,
        );
    }
    // P and -P cancel to the identity.
    const s = suite.randomScalar();
    expect(suite.msm([P, P.negate()], [s, s]).is0()).toBe(true);
  });

  it('msm refuses a scalar outside [0, n)', () => {
    const P = suite.G.multiply(suite.randomScalar());
    for (const n of [1, 2, 3]) {
      const points = Array.from({ length: n }, () => P);
      const scalars = points.map(() => 1n);
      scalars[n - 1] = suite.Fn.ORDER;
      expect(() => suite.msm(points, scalars)).toThrow();
      scalars[n - 1] = -1n;
      expect(() => suite.msm(points, scalars)).toThrow();
    }
  });
});
