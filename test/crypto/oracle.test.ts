// noble's own FROST as an oracle: on random keys, signer sets and messages our session layer must
// produce byte-identical nonces, signature shares and signatures, and accept noble's DKG output.
import { describe, expect, it } from 'vitest';
import { ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr_FROST, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import type { FROST } from '@noble/curves/abstract/frost.js';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import {
  sumCommitments,
  verifyingSharesFrom,
  verifyKnowledge,
  verifyReceivedShares,
} from '../../shared/crypto/dkg.js';
import { makePublicPackage, signingKey } from '../../shared/crypto/keys.js';
import { aggregate, commit, signingPackage, signShare } from '../../shared/crypto/sign.js';
import {
  getSuite,
  identifierHex,
  type GroupPoint,
  type SchemeName,
} from '../../shared/crypto/suite.js';
import { dealerKeys, pick } from './helpers.js';

const oracles: [SchemeName, FROST][] = [
  ['ed25519', ed25519_FROST],
  ['secp256k1', secp256k1_FROST],
  ['taproot', schnorr_FROST],
];

describe.each(oracles)('%s against noble FROST', (scheme, noble) => {
  const suite = getSuite(scheme);

  it('signs identically on random T-of-N keys, signer sets and messages', () => {
    for (let run = 0; run < 6; run++) {
      const n = 2 + Math.floor(Math.random() * 6);
      const t = 2 + Math.floor(Math.random() * (n - 1));
      const keys = dealerKeys(scheme, t, n);
      const signers = pick(keys, t + Math.floor(Math.random() * (n - t + 1)));
      const msg = randomBytes(Math.floor(Math.random() * 100));
      const pub = keys[0].public;
      const noblePub = {
        signers: { min: t, max: n },
        commitments: [suite.encodePoint(pub.groupKey)],
        verifyingShares: Object.fromEntries(
          [...pub.verifyingShares].map(([id, Y]) => [
            identifierHex(suite, id),
            suite.encodePoint(Y),
          ]),
        ),
      };
      const randomness = signers.map(() => [randomBytes(32), randomBytes(32)]);
      const ours = signers.map((k, i) => {
        const q = [...randomness[i]];
        return commit(k, () => q.shift()!);
      });
      const theirs = signers.map((k, i) => {
        const q = [...randomness[i]];
        return noble.commit(
          { identifier: identifierHex(suite, k.share.identifier), signingShare: k.share.toBytes() },
          () => q.shift()!,
        );
      });
      ours.forEach((c, i) =>
        expect(bytesToHex(suite.encodePoint(c.commitment.hiding))).toBe(
          bytesToHex(theirs[i].commitments.hiding),
        ),
      );
      const pkg = signingPackage(
        pub,
        ours.map((c) => c.commitment),
        msg,
        { tweak: false },
      );
      const list = theirs.map((x) => x.commitments);
      const shares = new Map<bigint, bigint>();
      const nobleShares: Record<string, Uint8Array> = {};
      signers.forEach((k, i) => {
        const z = signShare(k, ours[i], pkg);
        const id = identifierHex(suite, k.share.identifier);
        const zn = noble.signShare(
          { identifier: id, signingShare: k.share.toBytes() },
          noblePub,
          theirs[i].nonces,
          list,
          msg,
        );
        expect(bytesToHex(suite.encodeScalar(z))).toBe(bytesToHex(zn));
        shares.set(k.share.identifier, z);
        nobleShares[id] = zn;
      });
      expect(bytesToHex(aggregate(pkg, shares))).toBe(
        bytesToHex(noble.aggregate(noblePub, list, msg, nobleShares)),
      );
    }
  });

  it('accepts noble DKG packages and derives the same shares and group key', () => {
    const n = 4;
    const t = 3;
    const ids = [1, 2, 3, 4].map((i) => noble.Identifier.fromNumber(i));
    const r1 = ids.map((id) => noble.DKG.round1(id, { min: t, max: n }));
    const r2 = r1.map((me) =>
      noble.DKG.round2(
        me.secret,
        r1.filter((o) => o !== me).map((o) => o.public),
      ),
    );
    const idNum = (hex: string) => suite.decodeScalar(hexToBytes(hex));
    const commitments = new Map<bigint, GroupPoint[]>();
    for (const p of r1)
      commitments.set(
        idNum(p.public.identifier),
        p.public.commitment.map((c) => suite.decodePoint(c)),
      );
    for (const p of r1)
      verifyKnowledge(
        suite,
        idNum(p.public.identifier),
        commitments.get(idNum(p.public.identifier))![0],
        p.public.proofOfKnowledge,
        new Uint8Array(),
      );
    const merged = sumCommitments(suite, commitments.values(), t);
    const vs = verifyingSharesFrom(suite, merged, [1n, 2n, 3n, 4n]);
    r1.forEach((me, i) => {
      const meId = idNum(ids[i]);
      const received = r2.filter((_, j) => j !== i).map((m) => m[ids[i]]);
      const shares = new Map(
        received.map((p) => [idNum(p.identifier), suite.decodeScalar(p.signingShare)]),
      );
      verifyReceivedShares(suite, meId, commitments, shares);
      const key = noble.DKG.round3(
        me.secret,
        r1.filter((o) => o !== me).map((o) => o.public),
        received,
      );
      if (scheme !== 'taproot') {
        expect(bytesToHex(suite.encodePoint(vs.get(meId)!))).toBe(
          bytesToHex(key.public.verifyingShares[ids[i]]),
        );
        expect(bytesToHex(suite.encodePoint(merged[0]))).toBe(
          bytesToHex(key.public.commitments[0]),
        );
      } else {
        // noble TapTweaks its taproot DKG output; our signing view applies the same tweak (and a
        // final even-Y negation, which leaves x unchanged), so compare x-coordinates.
        const view = signingKey(makePublicPackage(scheme, t, merged[0], vs, 0));
        const x = (b: Uint8Array) => bytesToHex(b.subarray(1));
        expect(x(view.keyBytes)).toBe(x(key.public.commitments[0]));
        expect(x(suite.encodePoint(view.verifyingShares.get(meId)!))).toBe(
          x(key.public.verifyingShares[ids[i]]),
        );
      }
    });
  });
});
