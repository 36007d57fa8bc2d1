// Threshold ECDH: partials with DLEQ proofs combine to s·P; bad partials are blamed by identifier.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { splitSecret } from '../../shared/crypto/dealer.js';
import {
  combineEcdh,
  ecdhPartial,
  ecdhPartialFromJSON,
  ecdhPartialToJSON,
  verifyEcdhPartial,
} from '../../shared/crypto/ecdh.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { SecretShare, type KeyPackage } from '../../shared/crypto/keys.js';
import {
  getSuite,
  identifierHex,
  SCHEMES,
  type GroupPoint,
  type SchemeName,
} from '../../shared/crypto/suite.js';

function thrown(f: () => unknown): CryptoError {
  try {
    f();
  } catch (e) {
    if (e instanceof CryptoError) return e;
    throw e;
  }
  throw new Error('expected a CryptoError');
}

const T = 3;
const N = 5;

describe.each(SCHEMES.map((s) => [s] as [SchemeName]))('threshold ECDH over %s', (scheme) => {
  const suite = getSuite(scheme);
  const s = suite.randomScalar();
  const ids = Array.from({ length: N }, (_, i) => BigInt(i + 1));
  const keys = splitSecret(scheme, s, T, ids);
  const pub = keys[0].public;
  const r = suite.randomScalar();
  const P = suite.G.multiply(r);
  const sP = P.multiply(s);
  const partialsOf = (ks: KeyPackage[], point: GroupPoint | Uint8Array = P) =>
    ks.map((k) => ecdhPartial(k, point));
  const hexOf = (k: KeyPackage) => identifierHex(suite, k.share.identifier);

  it('combines T partials to s·P, which is also the sender side r·groupKey', () => {
    const out = combineEcdh(pub, P, partialsOf(keys.slice(0, T)));
    expect(out.equals(sP)).toBe(true);
    expect(out.equals(pub.groupKey.multiply(r))).toBe(true);
  });

  it('gives the same result for every subset of T members and for all N', () => {
    for (const subset of [
      [0, 1, 2],
      [2, 3, 4],
      [0, 2, 4],
      [1, 3, 4],
    ])
      expect(combineEcdh(pub, P, partialsOf(subset.map((i) => keys[i]))).equals(sP)).toBe(true);
    expect(combineEcdh(pub, P, partialsOf(keys)).equals(sP)).toBe(true);
  });

  it('accepts P as its encoding', () => {
    const bytes = suite.encodePoint(P);
    const parts = partialsOf(keys.slice(1, 4), bytes);
    expect(verifyEcdhPartial(pub, bytes, parts[0])).toBe(true);
    expect(combineEcdh(pub, bytes, parts).equals(sP)).toBe(true);
  });

  it('uses the raw share, not the taproot signing view', () => {
    const p = ecdhPartial(keys[0], P);
    expect(p.partial.equals(P.multiply(keys[0].share.scalar()))).toBe(true);
  });

  it('verifies an honest partial and rejects it for another point', () => {
    const p = ecdhPartial(keys[0], P);
    expect(verifyEcdhPartial(pub, P, p)).toBe(true);
    expect(verifyEcdhPartial(pub, P.double(), p)).toBe(false);
  });

  it('blames a member whose partial was computed with the wrong share', () => {
    const k = keys[1];
    const wrong: KeyPackage = {
      public: pub,
      share: new SecretShare(scheme, k.share.identifier, suite.Fn.add(k.share.scalar(), 1n), 0),
    };
    const parts = [keys[0], wrong, keys[2]].map((x) => ecdhPartial(x, P));
    expect(verifyEcdhPartial(pub, P, parts[1])).toBe(false);
    const e = thrown(() => combineEcdh(pub, P, parts));
    expect(e.code).toBe('bad_dleq_proof');
    expect(e.culprits).toEqual([hexOf(k)]);
  });

  it('blames a member whose partial point was tampered with', () => {
    const parts = partialsOf(keys.slice(0, T));
    parts[2] = { ...parts[2], partial: parts[2].partial.add(suite.G) };
    const e = thrown(() => combineEcdh(pub, P, parts));
    expect(e.code).toBe('bad_dleq_proof');
    expect(e.culprits).toEqual([hexOf(keys[2])]);
  });

  it('blames every member whose proof was tampered with, naming all of them', () => {
    const parts = partialsOf(keys.slice(0, 4));
    const Fn = suite.Fn;
    parts[0] = { ...parts[0], proof: { ...parts[0].proof, z: Fn.add(parts[0].proof.z, 1n) } };
    parts[3] = { ...parts[3], proof: { ...parts[3].proof, c: Fn.add(parts[3].proof.c, 1n) } };
    const e = thrown(() => combineEcdh(pub, P, parts));
    expect(e.code).toBe('bad_dleq_proof');
    expect([...e.culprits].sort()).toEqual([hexOf(keys[0]), hexOf(keys[3])].sort());
  });

  it('blames a partial whose proof scalar is out of range', () => {
    const parts = partialsOf(keys.slice(0, T));
    parts[1] = { ...parts[1], proof: { ...parts[1].proof, z: suite.Fn.ORDER } };
    expect(thrown(() => combineEcdh(pub, P, parts)).culprits).toEqual([hexOf(keys[1])]);
  });

  it('blames a partial from an identifier that is not a member', () => {
    const outsider = splitSecret(scheme, suite.randomScalar(), 2, [1n, 9n])[1];
    const parts = [...partialsOf(keys.slice(0, 2)), ecdhPartial(outsider, P)];
    const e = thrown(() => combineEcdh(pub, P, parts));
    expect(e.code).toBe('bad_dleq_proof');
    expect(e.culprits).toEqual([identifierHex(suite, 9n)]);
  });

  it('refuses fewer than T partials', () => {
    const e = thrown(() => combineEcdh(pub, P, partialsOf(keys.slice(0, T - 1))));
    expect(e.code).toBe('bad_input');
    expect(e.message).toContain(`need at least ${T} partials, got ${T - 1}`);
  });

  it('refuses two partials from the same identifier', () => {
    const parts = partialsOf([keys[0], keys[1], keys[1]]);
    const e = thrown(() => combineEcdh(pub, P, parts));
    expect(e.code).toBe('duplicate_identifier');
    expect(e.culprits).toEqual([hexOf(keys[1])]);
  });

  it('refuses the identity as P', () => {
    expect(thrown(() => ecdhPartial(keys[0], suite.ZERO)).code).toBe('bad_point');
    expect(thrown(() => combineEcdh(pub, suite.ZERO, partialsOf(keys.slice(0, T)))).code).toBe(
      'bad_point',
    );
    expect(thrown(() => verifyEcdhPartial(pub, suite.ZERO, ecdhPartial(keys[0], P))).code).toBe(
      'bad_point',
    );
  });

  it('refuses an encoding of P with the wrong length', () => {
    const bytes = suite.encodePoint(P);
    const e = thrown(() => ecdhPartial(keys[0], bytes.subarray(1)));
    expect(e.code).toBe('bad_point');
    expect(e.message).toContain(
      `expected ${suite.pointLength} bytes, got ${suite.pointLength - 1}`,
    );
    expect(thrown(() => combineEcdh(pub, new Uint8Array(0), [])).code).toBe('bad_point');
  });

  it('round-trips a partial through its JSON form', () => {
    const p = ecdhPartial(keys[3], P);
    const j = JSON.parse(JSON.stringify(ecdhPartialToJSON(suite, p)));
    const back = ecdhPartialFromJSON(suite, j);
    expect(back.identifier).toBe(p.identifier);
    expect(back.partial.equals(p.partial)).toBe(true);
    expect(back.proof).toEqual(p.proof);
    expect(verifyEcdhPartial(pub, P, back)).toBe(true);
  });

  it('decoding refuses unknown fields, bad points and non-canonical scalars, naming the sender', () => {
    const j = ecdhPartialToJSON(suite, ecdhPartial(keys[0], P));
    const who = [j.identifier];
    expect(thrown(() => ecdhPartialFromJSON(suite, { ...j, extra: 1 })).code).toBe('bad_input');
    expect(thrown(() => ecdhPartialFromJSON(suite, { ...j, identifier: '00' })).code).toBe(
      'bad_identifier',
    );
    const badPoint = thrown(() =>
      ecdhPartialFromJSON(suite, { ...j, partial: j.partial.slice(2) }),
    );
    expect(badPoint.code).toBe('bad_point');
    expect(badPoint.culprits).toEqual(who);
    const badScalar = thrown(() =>
      ecdhPartialFromJSON(suite, { ...j, proof: { c: j.proof.c, z: 'ff'.repeat(32) } }),
    );
    expect(badScalar.code).toBe('bad_scalar');
    expect(badScalar.culprits).toEqual(who);
    expect(
      thrown(() => ecdhPartialFromJSON(suite, { ...j, proof: { ...j.proof, k: '00' } })).code,
    ).toBe('bad_input');
  });
});

describe('threshold ECDH over ed25519 small-order points', () => {
  it('refuses a P with a small-order component, which would leak s_i mod 8', () => {
    const [k] = splitSecret('ed25519', 5n, 2, [1n, 2n]);
    // A point of order 8 added to a prime-order point: on the curve but not in the subgroup.
    const torsion = ed25519.Point.fromHex(
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
    ) as unknown as GroupPoint;
    const P = getSuite('ed25519').G.multiply(7n).add(torsion);
    const e = thrown(() => ecdhPartial(k, P));
    expect(e.code).toBe('bad_point');
    expect(e.message).toContain('prime-order subgroup');
  });
});
