// Torsion planted in signers' nonce commitments (ed25519): received commitments are decoded without
// their subgroup check (commitmentFromJSON `anyOrder`) and the signing package checks its group
// commitment R instead (sign.ts assertGroupCommitmentPrimeOrder). These cases show what that
// refuses, whom it names, and that what it lets through is a standard signature.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import type { KeyPackage } from '../../shared/crypto/keys.js';
import {
  aggregate,
  commit,
  commitmentFromJSON,
  commitmentToJSON,
  signingPackage,
  signShare,
  SigningNonces,
  verifyShare,
  type NonceCommitment,
} from '../../shared/crypto/sign.js';
import { getSuite, identifierHex } from '../../shared/crypto/suite.js';
import { cryptoOutcome, dealerKeys, T8, torsion } from './helpers.js';

const suite = getSuite('ed25519');
const hex = (id: bigint) => identifierHex(suite, id);

const ORDERS: [number, number][] = [
  [2, 4],
  [4, 2],
  [8, 1],
];

/**
 * Nonces of `key` whose commitments carry torsion k_D·T8 and k_E·T8: what a deviating signer
 * holds. Its share (signShare) is computed from d and e, the discrete logs of the prime-order parts.
 */
function torsionNonces(key: KeyPackage, kD: number, kE: number): SigningNonces {
  const d = suite.randomScalar();
  const e = suite.randomScalar();
  const commitment: NonceCommitment = {
    identifier: key.share.identifier,
    hiding: suite.G.multiply(d).add(torsion(kD)),
    binding: suite.G.multiply(e).add(torsion(kE)),
  };
  return new SigningNonces(d, e, commitment);
}

const msg = new TextEncoder().encode('torsion in nonce commitments');

/**
 * A 3-of-5 attempt by signers 1, 2, 3 where signer i's commitments carry `planted[i]` = [k_D, k_E]
 * (none when absent): each commitment goes over the wire and is decoded by the receivers as a
 * signer does (anyOrder).
 */
function attempt(planted: Record<number, [number, number]>, keys = dealerKeys('ed25519', 3, 5)) {
  const signers = keys.slice(0, 3);
  const nonces = signers.map((k) => {
    const p = planted[Number(k.share.identifier)];
    return p ? torsionNonces(k, p[0], p[1]) : commit(k);
  });
  const wire = nonces.map((n) => commitmentToJSON(suite, n.commitment));
  const received = wire.map((w) => commitmentFromJSON(suite, w, true));
  return { keys, signers, nonces, wire, received, pub: keys[0]!.public };
}

describe('ed25519 nonce commitments with torsion', () => {
  it('are refused by the strict decoding, and accepted (still on the curve) without it', () => {
    const a = attempt({ 2: [1, 0] });
    const e = cryptoOutcome(() => commitmentFromJSON(suite, a.wire[1]!));
    expect(e).toBeInstanceOf(CryptoError);
    expect((e as CryptoError).code).toBe('bad_commitment');
    expect((e as CryptoError).culprits).toEqual([hex(2n)]);
    expect(a.received[1]!.hiding.equals(a.nonces[1]!.commitment.hiding)).toBe(true);
    // A pure torsion point, the identity and a non-canonical encoding stay refused without it too.
    const bad = {
      'a point of order 8': suite.encodePoint(T8),
      identity: suite.encodePoint(suite.ZERO.add(T8.multiplyUnsafe(8n))),
      'a non-canonical y': new Uint8Array(32).fill(0xff).map((b, i) => (i === 31 ? 0x7f : b)),
    };
    for (const [what, bytes] of Object.entries(bad)) {
      const j = { ...a.wire[0]!, hiding: Buffer.from(bytes).toString('hex') };
      const r = cryptoOutcome(() => commitmentFromJSON(suite, j, true));
      if (what === 'a point of order 8') expect(r, what).not.toBeInstanceOf(CryptoError);
      else {
        expect(r, what).toBeInstanceOf(CryptoError);
        expect((r as CryptoError).culprits, what).toEqual([hex(1n)]);
      }
    }
  });

  describe.each(ORDERS)('of order %i', (order, k) => {
    it.each([
      ['the hiding commitment', [k, 0]],
      ['the binding commitment', [0, k]],
      ['both', [k, order === 2 ? 2 : 4]],
    ] as [string, [number, number]][])(
      'in %s of one signer, not cancelled in R: every package refuses it, naming that signer',
      (_, planted) => {
        // R carries k_D·T8 + ρ_2·k_E·T8, which vanishes for some ρ_2 when there is binding
        // torsion: retry until it does not, as the check is on what R actually carries.
        for (let tries = 0; tries < 40; tries++) {
          const a = attempt({ 2: planted });
          const pkgOrErr = cryptoOutcome(() => signingPackage(a.pub, a.received, msg));
          if (!(pkgOrErr instanceof CryptoError)) {
            // Accepted only when the torsion cancelled in D_2 + ρ_2·E_2.
            const rho = pkgOrErr.bindingFactors.get(2n)!;
            expect((BigInt(planted[0]) + rho * BigInt(planted[1])) % 8n).toBe(0n);
            expect(suite.inPrimeOrderSubgroup(pkgOrErr.groupCommitment)).toBe(true);
            continue;
          }
          expect(pkgOrErr.code).toBe('bad_commitment');
          expect(pkgOrErr.culprits).toEqual([hex(2n)]);
          // Every view of the package refuses it: the signers', and the coordinator's (signer 1
          // coordinating, with the list in another order).
          for (const view of [a.received, [...a.received].reverse()]) {
            const e = cryptoOutcome(() => signingPackage(a.pub, view, msg));
            expect((e as CryptoError).culprits).toEqual([hex(2n)]);
          }
          // No honest nonce is consumed by a refused package.
          expect(a.nonces[0]!.used).toBe(false);
          expect(order).toBeGreaterThan(1);
          return;
        }
        throw new Error('R never carried the planted torsion');
      },
    );

    it('in two signers, not cancelling: both are named', () => {
      const a = attempt({ 2: [k, 0], 3: [k, 0] });
      const e = cryptoOutcome(() => signingPackage(a.pub, a.received, msg));
      if (order === 2) {
        // Two order-2 points cancel: that is the colluders' case below.
        expect(e).not.toBeInstanceOf(CryptoError);
        return;
      }
      expect((e as CryptoError).code).toBe('bad_commitment');
      expect((e as CryptoError).culprits).toEqual([hex(2n), hex(3n)]);
    });

    it('in two colluders, cancelling in R: a standard signature, and their own share checks fail', () => {
      const a = attempt({ 2: [k, 0], 3: [8 - k, 0] });
      const pkg = signingPackage(a.pub, a.received, msg);
      expect(suite.inPrimeOrderSubgroup(pkg.groupCommitment)).toBe(true);
      const shares = new Map(
        a.signers.map((key, i) => [key.share.identifier, signShare(key, a.nonces[i]!, pkg)]),
      );
      const sig = aggregate(pkg, shares);
      // Strict RFC 8032 verification (zip215 off: R and the key must decode canonically).
      expect(ed25519.verify(sig, msg, a.pub.groupKey.toBytes(), { zip215: false })).toBe(true);
      expect(suite.verify(sig, msg, a.pub.groupKey.toBytes())).toBe(true);
      // The honest signer's share passes; each colluder's fails (its own D_i carries torsion the
      // left side z_i·G cannot), so blame would name exactly them.
      expect(verifyShare(pkg, 1n, shares.get(1n)!)).toBe(true);
      expect(verifyShare(pkg, 2n, shares.get(2n)!)).toBe(false);
      expect(verifyShare(pkg, 3n, shares.get(3n)!)).toBe(false);
      // As aggregate names them when another share is bad.
      const broken = new Map(shares).set(1n, suite.Fn.add(shares.get(1n)!, 1n));
      const e = cryptoOutcome(() => aggregate(pkg, broken));
      expect((e as CryptoError).code).toBe('aggregation_failed');
      expect((e as CryptoError).culprits).toEqual([hex(1n), hex(2n), hex(3n)]);
    });
  });

  it('one signer whose own binding torsion cancels its hiding torsion (ρ odd): its share checks', () => {
    // T in D_i and T in E_i, T of order 2: D_i + ρ_i·E_i has none iff ρ_i is odd. Then the signer's
    // contribution is exactly its prime-order one and its share is valid; otherwise R has torsion.
    let seen = { accepted: 0, refused: 0 };
    for (let tries = 0; tries < 40 && (!seen.accepted || !seen.refused); tries++) {
      const a = attempt({ 2: [4, 4] });
      const pkg = cryptoOutcome(() => signingPackage(a.pub, a.received, msg));
      if (pkg instanceof CryptoError) {
        expect(pkg.culprits).toEqual([hex(2n)]);
        seen = { ...seen, refused: seen.refused + 1 };
        continue;
      }
      expect(pkg.bindingFactors.get(2n)! % 2n).toBe(1n);
      const shares = new Map(
        a.signers.map((key, i) => [key.share.identifier, signShare(key, a.nonces[i]!, pkg)]),
      );
      for (const id of [1n, 2n, 3n]) expect(verifyShare(pkg, id, shares.get(id)!)).toBe(true);
      const sig = aggregate(pkg, shares);
      expect(ed25519.verify(sig, msg, a.pub.groupKey.toBytes(), { zip215: false })).toBe(true);
      seen = { ...seen, accepted: seen.accepted + 1 };
    }
    expect(seen.accepted).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  });

  it('an honest attempt decoded without subgroup checks signs as before', () => {
    const a = attempt({});
    const pkg = signingPackage(a.pub, a.received, msg);
    const shares = new Map(
      a.signers.map((key, i) => [key.share.identifier, signShare(key, a.nonces[i]!, pkg)]),
    );
    const sig = aggregate(pkg, shares);
    expect(ed25519.verify(sig, msg, a.pub.groupKey.toBytes(), { zip215: false })).toBe(true);
  });
});

describe('secp256k1 (cofactor 1)', () => {
  it('anyOrder decodes as the strict decoding, and the package signs', () => {
    const s = getSuite('secp256k1');
    const keys = dealerKeys('secp256k1', 2, 3);
    const nonces = keys.slice(0, 2).map((k) => commit(k));
    const received = nonces.map((n) =>
      commitmentFromJSON(s, commitmentToJSON(s, n.commitment), true),
    );
    const pkg = signingPackage(keys[0]!.public, received, msg);
    const shares = new Map(
      keys.slice(0, 2).map((key, i) => [key.share.identifier, signShare(key, nonces[i]!, pkg)]),
    );
    expect(aggregate(pkg, shares)).toHaveLength(65);
  });
});
