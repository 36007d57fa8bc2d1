// Polynomials over the scalar field: evaluation, Lagrange coefficients and VSS commitments (RFC 9591 App. C).
import type { GroupPoint, Rng, Suite } from './suite.js';
import { check } from './errors.js';

/** f(x) = Σ coeffs[k]·x^k by Horner's rule (RFC 9591 App. C.1 polynomial_evaluate). */
export function evalPoly(suite: Suite, coeffs: readonly bigint[], x: bigint): bigint {
  const Fn = suite.Fn;
  let acc = 0n;
  for (let k = coeffs.length - 1; k >= 0; k--) acc = Fn.add(Fn.mul(acc, x), coeffs[k]);
  return acc;
}

/** A random polynomial of degree t-1 whose constant term is `secret` (random when omitted). */
export function randomPoly(suite: Suite, t: number, secret?: bigint, rng?: Rng): bigint[] {
  const coeffs = [secret ?? suite.randomScalar(rng)];
  for (let i = 1; i < t; i++) coeffs.push(suite.randomScalar(rng));
  return coeffs;
}

/** [a_0·G, …, a_{t-1}·G]: the VSS commitment to a polynomial (RFC 9591 App. C.2). */
export function commitPoly(suite: Suite, coeffs: readonly bigint[]): GroupPoint[] {
  return coeffs.map((c) => suite.G.multiply(c));
}

/**
 * Σ_k x^k·C_k: the public value a VSS commitment assigns to `x`. Roster identifiers are small
 * integers, so Horner's rule with short scalar multiplications is much cheaper than an MSM with
 * full-size powers; large identifiers fall back to one multi-scalar multiplication.
 */
export function evalCommitment(
  suite: Suite,
  commitment: readonly GroupPoint[],
  x: bigint,
): GroupPoint {
  if (x < 1n << 32n) {
    let acc = commitment[commitment.length - 1];
    for (let k = commitment.length - 2; k >= 0; k--) acc = acc.multiplyUnsafe(x).add(commitment[k]);
    return acc;
  }
  return suite.msm([...commitment], powers(suite, x, commitment.length));
}

/** [1, x, x², …] (n terms). */
export function powers(suite: Suite, x: bigint, n: number): bigint[] {
  const out: bigint[] = [];
  let p = 1n;
  for (let i = 0; i < n; i++) {
    out.push(p);
    p = suite.Fn.mul(p, x);
  }
  return out;
}

/**
 * λ_i for interpolation at 0 over the set `xs` (RFC 9591 §4.2 derive_interpolating_value).
 * Throws when `xi` is missing from `xs` or `xs` has duplicates.
 */
export function lagrangeAtZero(suite: Suite, xs: readonly bigint[], xi: bigint): bigint {
  return lagrangeAt(suite, xs, xi, 0n);
}

/** λ_i(x) = Π_{j≠i} (x - x_j)/(x_i - x_j): Lagrange basis polynomial for `xi` evaluated at `x`. */
export function lagrangeAt(suite: Suite, xs: readonly bigint[], xi: bigint, x: bigint): bigint {
  const Fn = suite.Fn;
  check(xs.includes(xi), 'bad_input', `identifier ${xi} is not in the interpolation set`);
  check(new Set(xs).size === xs.length, 'duplicate_identifier', 'interpolation set has duplicates');
  let num = Fn.ONE;
  let den = Fn.ONE;
  for (const xj of xs) {
    if (xj === xi) continue;
    num = Fn.mul(num, Fn.sub(x, xj));
    den = Fn.mul(den, Fn.sub(xi, xj));
  }
  return Fn.div(num, den);
}

/** Σ λ_i·y_i over the given points: the value at 0 of the polynomial through them. */
export function interpolateAtZero(
  suite: Suite,
  points: readonly (readonly [bigint, bigint])[],
): bigint {
  const xs = points.map(([x]) => x);
  let acc = 0n;
  for (const [x, y] of points)
    acc = suite.Fn.add(acc, suite.Fn.mul(y, lagrangeAtZero(suite, xs, x)));
  return acc;
}
