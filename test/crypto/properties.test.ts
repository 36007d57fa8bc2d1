// Property tests of the threshold core over random T-of-N rosters and signer sets, for every scheme.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, concatBytes, randomBytes } from '@noble/hashes/utils.js';
import { combineShares, splitExistingKey } from '../../shared/crypto/dealer.js';
import type { DkgMember } from '../../shared/crypto/dkg.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import {
  SecretShare,
  assertShareMatches,
  externalPublicKey,
  taprootInternalKey,
  type KeyPackage,
  type PublicKeyPackage,
} from '../../shared/crypto/keys.js';
import { interpolateAtZero } from '../../shared/crypto/poly.js';
import { refreshParams } from '../../shared/crypto/refresh.js';
import { repairStep1, repairStep2, repairStep3 } from '../../shared/crypto/repair.js';
import {
  reshareEcho,
  reshareFinalize,
  reshareRound1,
  reshareRound2,
  type ReshareParams,
} from '../../shared/crypto/reshare.js';
import {
  aggregate,
  commit,
  signingPackage,
  signShare,
  verifySignature,
} from '../../shared/crypto/sign.js';
import {
  getSuite,
  identifierHex,
  SCHEMES,
  type GroupPoint,
  type SchemeName,
} from '../../shared/crypto/suite.js';
import { dealerKeys, dkgParams, runDkg } from './helpers.js';

// A 10-member ed25519 DKG costs about 0.6 s here; a handful of runs per property and scheme keeps
// the file well under a minute on two cores while still covering small and large rosters.
const RUNS = 8;

const ids = (n: number, from = 1) => Array.from({ length: n }, (_, i) => BigInt(i + from));

const sorted = (xs: Iterable<bigint>) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

function roster(members: readonly bigint[]): DkgMember[] {
  return members.map((identifier) => ({ identifier, identityKey: randomBytes(32) }));
}

function byId(keys: Iterable<KeyPackage>): Map<bigint, KeyPackage> {
  return new Map([...keys].map((k) => [k.share.identifier, k]));
}

/** Every signer commits, builds the package from its own public package and signs; then aggregate. */
function signWith(
  keys: ReadonlyMap<bigint, KeyPackage>,
  subset: readonly bigint[],
  msg: Uint8Array,
): Uint8Array {
  const signers = subset.map((id) => keys.get(id)!);
  const nonces = signers.map((k) => commit(k));
  const commitments = nonces.map((n) => n.commitment);
  const shares = new Map<bigint, bigint>();
  signers.forEach((k, i) =>
    shares.set(
      k.share.identifier,
      signShare(k, nonces[i], signingPackage(k.public, commitments, msg)),
    ),
  );
  return aggregate(signingPackage(signers[0].public, commitments, msg), shares);
}

/** Runs a whole reshare (or refresh) in memory, every participant honest; returns the new members' keys. */
function runReshare(
  params: ReshareParams,
  old: ReadonlyMap<bigint, KeyPackage>,
): Map<bigint, KeyPackage> {
  const suite = getSuite(params.old.scheme);
  const everyone = [...new Set([...params.dealers, ...params.members.map((m) => m.identifier)])];
  const r1 = everyone.map((id) => ({
    id,
    ...reshareRound1(params, id, params.dealers.includes(id) ? old.get(id) : undefined),
  }));
  const pkgs = r1.flatMap((r) => (r.package ? [r.package] : []));
  const echoes = r1.map((r) =>
    reshareEcho(
      r.state,
      pkgs.filter((p) => p.from !== identifierHex(suite, r.id)),
    ),
  );
  const out = r1.map((r, i) =>
    reshareRound2(
      r.state,
      echoes.filter((_, j) => j !== i),
    ),
  );
  const next = new Map<bigint, KeyPackage>();
  for (const r of r1) {
    const k = reshareFinalize(
      r.state,
      out.flat().filter((p) => p.to === r.id),
    );
    if (k) next.set(r.id, k);
  }
  return next;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
  throw new Error('expected a CryptoError, nothing was thrown');
}

const hexPoint = (p: GroupPoint) => bytesToHex(p.toBytes());

/** Everyone holds the same public package (group key, threshold, epoch, verifying shares). */
function expectAgreement(keys: Iterable<KeyPackage>, groupKey: GroupPoint, epoch: number): void {
  const all = [...keys];
  const ref = all[0].public;
  expect(hexPoint(ref.groupKey)).toBe(hexPoint(groupKey));
  for (const k of all) {
    expect(hexPoint(k.public.groupKey)).toBe(hexPoint(groupKey));
    expect(k.public.epoch).toBe(epoch);
    expect(k.share.epoch).toBe(epoch);
    expect(k.public.threshold).toBe(ref.threshold);
    expect([...k.public.verifyingShares].map(([id, Y]) => [id, hexPoint(Y)])).toEqual(
      [...ref.verifyingShares].map(([id, Y]) => [id, hexPoint(Y)]),
    );
    // Each member's share is the discrete log of its verifying share.
    expect(() => assertShareMatches(k.public, k.share)).not.toThrow();
  }
}

const raw = (shares: readonly { identifier: bigint; scalar(): bigint }[]) =>
  shares.map((s) => [s.identifier, s.scalar()] as const);

// ---- arbitraries ----

const message = fc.uint8Array({ minLength: 0, maxLength: 64 });

/** 2 ≤ T ≤ N ≤ maxN. */
const tOfN = (maxN = 10, minN = 2) =>
  fc
    .integer({ min: minN, max: maxN })
    .chain((n) => fc.record({ n: fc.constant(n), t: fc.integer({ min: 2, max: n }) }));

/** T-of-N with a random signer set of size T..N. */
const withSigners = (maxN = 10) =>
  tOfN(maxN).chain(({ t, n }) =>
    fc.record({
      t: fc.constant(t),
      n: fc.constant(n),
      signers: fc.shuffledSubarray(ids(n), { minLength: t, maxLength: n }),
      msg: message,
    }),
  );

/**
 * An old T-of-N key and a new roster: at least one member removed and one added (identifiers
 * N+1, N+2, …), a new threshold T2 different from T whenever the new size allows it, a dealer set of
 * at least T old members (removed members may deal), and T2 signers from the new roster.
 */
const newRoster = tOfN(10).chain(({ t, n }) =>
  fc.shuffledSubarray(ids(n), { minLength: 1, maxLength: n - 1 }).chain((removed) => {
    const kept = ids(n).filter((id) => !removed.includes(id));
    return fc
      .integer({ min: Math.max(1, 2 - kept.length), max: 10 - kept.length })
      .chain((added) => {
        const members = [...kept, ...ids(added, n + 1)];
        const choices = ids(members.length - 1, 2)
          .map(Number)
          .filter((t2) => t2 !== t);
        return fc
          .record({
            t2: choices.length ? fc.constantFrom(...choices) : fc.constant(t),
            dealers: fc.shuffledSubarray(ids(n), { minLength: t, maxLength: n }),
            msg: message,
          })
          .chain((r) =>
            fc.record({
              t: fc.constant(t),
              n: fc.constant(n),
              removed: fc.constant(removed),
              members: fc.constant(members),
              t2: fc.constant(r.t2),
              dealers: fc.constant(r.dealers),
              msg: fc.constant(r.msg),
              signers: fc.shuffledSubarray(members, { minLength: r.t2, maxLength: r.t2 }),
            }),
          );
      });
  }),
);

describe.each(SCHEMES)('%s', (scheme: SchemeName) => {
  const suite = getSuite(scheme);

  it('a DKG gives every member the same key, and any T..N of them sign a message that verifies', () => {
    fc.assert(
      fc.property(withSigners(), ({ t, n, signers, msg }) => {
        const keys = runDkg(dkgParams(scheme, t, n));
        expect(keys).toHaveLength(n);
        const pub = keys[0].public;
        expect(pub.threshold).toBe(t);
        expect([...pub.verifyingShares.keys()]).toEqual(ids(n));
        expectAgreement(keys, pub.groupKey, 0);
        const sig = signWith(byId(keys), signers, msg);
        expect(verifySignature(pub, msg, sig)).toBe(true);
        // The signature is bound to the message.
        const other = concatBytes(msg, Uint8Array.of(1));
        expect(verifySignature(pub, other, sig)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('a refresh keeps the key, bumps the epoch, and old shares no longer mix with new ones', () => {
    fc.assert(
      fc.property(withSigners(), fc.nat(), ({ t, n, signers, msg }, stalePick) => {
        const old = byId(dealerKeys(scheme, t, n));
        const oldPub = old.get(1n)!.public;
        const secret = combineShares(
          oldPub,
          ids(t).map((id) => old.get(id)!.share),
        );
        const next = runReshare(refreshParams(oldPub, roster(ids(n)), randomBytes(32)), old);
        expect(sorted(next.keys())).toEqual(ids(n));
        expectAgreement(next.values(), oldPub.groupKey, 1);
        const pub = next.get(1n)!.public;
        expect(pub.threshold).toBe(t);
        for (const id of ids(n))
          expect(next.get(id)!.share.scalar()).not.toBe(old.get(id)!.share.scalar());

        const sig = signWith(next, signers, msg);
        expect(verifySignature(pub, msg, sig)).toBe(true);
        expect(verifySignature(oldPub, msg, sig)).toBe(true);

        // The same secret is shared, by a different polynomial.
        const fresh = signers.slice(0, t).map((id) => next.get(id)!.share);
        expect(combineShares(pub, fresh)).toBe(secret);

        // One stale share among T: refused by epoch, and the raw arithmetic misses the key.
        const stale = old.get(signers[stalePick % t])!.share;
        const mixed = fresh.map((s) => (s.identifier === stale.identifier ? stale : s));
        expect(codeOf(() => combineShares(pub, mixed))).toBe('epoch_mismatch');
        const guess = interpolateAtZero(suite, raw(mixed));
        expect(guess).not.toBe(secret);
        expect(suite.G.multiply(guess).equals(pub.groupKey)).toBe(false);

        // signShare refuses a stale share outright; a member that relabels its stale share
        // with the new epoch anyway is caught at aggregation and named.
        expect(
          codeOf(() =>
            signWith(
              new Map(next).set(stale.identifier, { public: pub, share: stale }),
              signers,
              msg,
            ),
          ),
        ).toBe('epoch_mismatch');
        const relabelled = new SecretShare(scheme, stale.identifier, stale.scalar(), pub.epoch);
        const staleKey = { public: pub, share: relabelled };
        const mixedKeys = new Map(next).set(stale.identifier, staleKey);
        let err: unknown;
        try {
          signWith(mixedKeys, signers, msg);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(CryptoError);
        expect((err as CryptoError).code).toBe('aggregation_failed');
        expect((err as CryptoError).culprits).toEqual([identifierHex(suite, stale.identifier)]);
      }),
      { numRuns: RUNS },
    );
  });

  it('a reshare to a new roster and threshold keeps the key; removed members cannot rejoin', () => {
    fc.assert(
      fc.property(newRoster, fc.nat(), (c, removedPick) => {
        const old = byId(dealerKeys(scheme, c.t, c.n));
        const oldPub = old.get(1n)!.public;
        const secret = combineShares(
          oldPub,
          ids(c.t).map((id) => old.get(id)!.share),
        );
        const params: ReshareParams = {
          old: oldPub,
          dealers: c.dealers,
          members: roster(c.members),
          threshold: c.t2,
          sessionId: randomBytes(32),
        };
        const next = runReshare(params, old);
        expect(sorted(next.keys())).toEqual(c.members);
        expectAgreement(next.values(), oldPub.groupKey, 1);
        const pub = next.get(c.members[0])!.public;
        expect(pub.threshold).toBe(c.t2);
        expect([...pub.verifyingShares.keys()]).toEqual(c.members);

        const sig = signWith(next, c.signers, c.msg);
        expect(verifySignature(pub, c.msg, sig)).toBe(true);
        expect(externalPublicKey(pub)).toEqual(externalPublicKey(oldPub));
        expect(
          combineShares(
            pub,
            c.signers.map((id) => next.get(id)!.share),
          ),
        ).toBe(secret);

        // A removed member's old share with T2-1 new shares: refused, and wrong when forced.
        const gone = old.get(c.removed[removedPick % c.removed.length])!.share;
        const mixed = [gone, ...c.signers.slice(0, c.t2 - 1).map((id) => next.get(id)!.share)];
        expect(codeOf(() => combineShares(pub, mixed))).toBe('epoch_mismatch');
        const guess = interpolateAtZero(suite, raw(mixed));
        expect(guess).not.toBe(secret);
        expect(suite.G.multiply(guess).equals(pub.groupKey)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('any T shares combine to the secret of the group key, and T-1 shares do not', () => {
    fc.assert(
      fc.property(withSigners(), ({ t, n, signers }) => {
        const keys = byId(dealerKeys(scheme, t, n));
        const pub: PublicKeyPackage = keys.get(1n)!.public;
        const shares = signers.map((id) => keys.get(id)!.share);
        const secret = combineShares(pub, shares.slice(0, t));
        expect(suite.G.multiply(secret).equals(pub.groupKey)).toBe(true);
        // More than T shares give the same secret, in any order.
        expect(combineShares(pub, [...shares].reverse())).toBe(secret);
        const few = shares.slice(0, t - 1);
        expect(codeOf(() => combineShares(pub, few))).toBe('key_mismatch');
        expect(interpolateAtZero(suite, raw(few))).not.toBe(secret);
      }),
      { numRuns: RUNS },
    );
  });

  it('T helpers repair a lost share to exactly its old value', () => {
    const arb = tOfN(10, 3)
      .filter(({ t, n }) => t < n)
      .chain(({ t, n }) =>
        fc.shuffledSubarray(ids(n), { minLength: t + 1, maxLength: t + 1 }).map((pickd) => ({
          t,
          n,
          lost: pickd[0],
          helpers: pickd.slice(1),
        })),
      );
    fc.assert(
      fc.property(arb, ({ t, n, lost, helpers }) => {
        const keys = byId(dealerKeys(scheme, t, n));
        const pub = keys.get(1n)!.public;
        const step1 = new Map(helpers.map((i) => [i, repairStep1(keys.get(i)!, helpers, lost)]));
        const commitments = new Map([...step1].map(([i, s]) => [i, s.commitments]));
        const sigmas = helpers.map((j) =>
          repairStep2(
            pub,
            helpers,
            lost,
            j,
            helpers.map((i) => step1.get(i)!.parts.get(j)!),
            commitments,
          ),
        );
        const repaired = repairStep3(pub, helpers, lost, sigmas, commitments);
        const original = keys.get(lost)!.share;
        expect(repaired.identifier).toBe(lost);
        expect(repaired.epoch).toBe(original.epoch);
        expect(repaired.scalar()).toBe(original.scalar());
      }),
      { numRuns: RUNS },
    );
  });
});

describe('splitting an existing key', () => {
  const seed32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const secpKey = seed32.filter((k) => secp256k1.utils.isValidSecretKey(k));

  it('an ed25519 seed keeps its RFC 8032 public key, and threshold signatures verify under it', () => {
    fc.assert(
      fc.property(withSigners(), seed32, ({ t, n, signers, msg }, seed) => {
        const keys = byId(splitExistingKey('ed25519', seed, t, n));
        const pub = keys.get(1n)!.public;
        const pk = ed25519.getPublicKey(seed);
        expect(bytesToHex(pub.groupKey.toBytes())).toBe(bytesToHex(pk));
        expect(externalPublicKey(pub)).toEqual(pk);
        const sig = signWith(keys, signers, msg);
        expect(ed25519.verify(sig, msg, pk, { zip215: false })).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('a secp256k1 private key keeps its compressed public key, and threshold signatures verify', () => {
    fc.assert(
      fc.property(withSigners(), secpKey, ({ t, n, signers, msg }, sk) => {
        const keys = byId(splitExistingKey('secp256k1', sk, t, n));
        const pub = keys.get(1n)!.public;
        expect(bytesToHex(pub.groupKey.toBytes())).toBe(
          bytesToHex(secp256k1.getPublicKey(sk, true)),
        );
        expect(verifySignature(pub, msg, signWith(keys, signers, msg))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('a taproot private key keeps its BIP340 key as the internal key and signs for the BIP341 output key', () => {
    fc.assert(
      fc.property(withSigners(), secpKey, ({ t, n, signers, msg }, sk) => {
        const keys = byId(splitExistingKey('taproot', sk, t, n));
        const pub = keys.get(1n)!.public;
        const internal = schnorr.getPublicKey(sk);
        expect(taprootInternalKey(pub)).toEqual(internal);
        // BIP341 output key for an empty script tree, computed independently of keys.ts.
        const P = schnorr.utils.lift_x(BigInt('0x' + bytesToHex(internal)));
        const tweak = BigInt('0x' + bytesToHex(schnorr.utils.taggedHash('TapTweak', internal)));
        const Q = P.add(secp256k1.Point.BASE.multiply(tweak));
        const output = Q.toBytes(true).subarray(1);
        expect(externalPublicKey(pub)).toEqual(output);
        expect(schnorr.verify(signWith(keys, signers, msg), msg, output)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
