// ZcashFoundation/frost DKG, repair-share and invalid-element vectors (test/vectors/zf-frost).
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import {
  verifyKnowledge,
  verifyReceivedShares,
  sumCommitments,
  verifyingSharesFrom,
} from '../../shared/crypto/dkg.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { evalPoly } from '../../shared/crypto/poly.js';
import {
  getSuite,
  hasEvenY,
  tapTweak,
  type GroupPoint,
  type SchemeName,
} from '../../shared/crypto/suite.js';
import { loadVector } from './helpers.js';

const dirs: [string, SchemeName][] = [
  ['ed25519', 'ed25519'],
  ['secp256k1', 'secp256k1'],
  ['secp256k1-tr', 'taproot'],
];

type Participant = {
  identifier: number;
  signing_key: string;
  coefficient: string;
  vss_commitments: string[];
  proof_of_knowledge: string;
  signing_shares: Record<string, string>;
  verifying_share: string;
  signing_share: string;
};

describe.each(dirs)('ZF DKG vectors for %s', (dir, scheme) => {
  const v = loadVector(`zf-frost/${dir}/vectors_dkg.json`);
  const suite = getSuite(scheme);
  const Fn = suite.Fn;
  const n = Number(v.config.MAX_PARTICIPANTS);
  const t = Number(v.config.MIN_PARTICIPANTS);
  const ids = Array.from({ length: n }, (_, i) => BigInt(i + 1));
  const p = (id: bigint) => v.inputs[String(id)] as Participant;
  const commitments = new Map<bigint, GroupPoint[]>(
    ids.map((id) => [id, p(id).vss_commitments.map((h) => suite.decodePoint(hexToBytes(h)))]),
  );
  const noContext = new Uint8Array();

  it('verifies every proof of knowledge and rejects it under another context or sender', () => {
    for (const id of ids) {
      const proof = hexToBytes(p(id).proof_of_knowledge);
      expect(() =>
        verifyKnowledge(suite, id, commitments.get(id)![0], proof, noContext),
      ).not.toThrow();
      expect(() =>
        verifyKnowledge(suite, id, commitments.get(id)![0], proof, new Uint8Array(32)),
      ).toThrow(CryptoError);
      const other = id === 1n ? 2n : 1n;
      expect(() =>
        verifyKnowledge(suite, other, commitments.get(id)![0], proof, noContext),
      ).toThrow(/bad_proof_of_knowledge/);
    }
  });

  it('verifies the received shares and derives the signing shares, verifying shares and group key', () => {
    const merged = sumCommitments(suite, commitments.values(), t);
    const vs = verifyingSharesFrom(suite, merged, ids);
    // secp256k1-tr outputs are TapTweak-ed (empty merkle root) after even-Y normalisation.
    const neg = suite.evenY && !hasEvenY(merged[0]);
    const tw = suite.evenY ? tapTweak(neg ? merged[0].negate() : merged[0]) : 0n;
    const tG = tw ? suite.G.multiply(tw) : suite.ZERO;
    const mapPoint = (P: GroupPoint) => (neg ? P.negate() : P).add(tG);
    const mapScalar = (s: bigint) => Fn.add(neg ? Fn.neg(s) : s, tw);
    expect(bytesToHex(suite.encodePoint(mapPoint(merged[0])))).toBe(v.inputs.verifying_key);
    for (const id of ids) {
      const me = p(id);
      const own = evalPoly(
        suite,
        [
          suite.decodeScalar(hexToBytes(me.signing_key)),
          suite.decodeScalar(hexToBytes(me.coefficient)),
        ],
        id,
      );
      const received = new Map<bigint, bigint>(
        Object.entries(me.signing_shares).map(([from, h]) => [
          BigInt(from),
          suite.decodeScalar(hexToBytes(h)),
        ]),
      );
      expect(() => verifyReceivedShares(suite, id, commitments, received)).not.toThrow();
      let s = own;
      for (const x of received.values()) s = Fn.add(s, x);
      expect(bytesToHex(suite.encodeScalar(mapScalar(s)))).toBe(me.signing_share);
      expect(bytesToHex(suite.encodePoint(mapPoint(vs.get(id)!)))).toBe(me.verifying_share);
      // A share received from someone else's dealer is caught and the dealer named.
      const wrong = new Map(received);
      const [firstFrom, firstShare] = [...received][0];
      wrong.set(firstFrom, Fn.add(firstShare, 1n));
      try {
        verifyReceivedShares(suite, id, commitments, wrong);
        expect.unreachable();
      } catch (e) {
        expect((e as CryptoError).code).toBe('bad_share');
        expect((e as CryptoError).culprits).toEqual([bytesToHex(suite.encodeScalar(firstFrom))]);
      }
    }
  });
});

describe.each(dirs)('ZF repair-share vectors for %s', (dir, scheme) => {
  const v = loadVector(`zf-frost/${dir}/repair-share.json`);
  const suite = getSuite(scheme);
  const sum = (hexes: string[]) =>
    hexes.reduce((acc, h) => suite.Fn.add(acc, suite.decodeScalar(hexToBytes(h))), 0n);
  it('sums the helpers’ random parts and the sigma values as the vectors do', () => {
    const r = v.scalar_generation;
    expect(
      bytesToHex(
        suite.encodeScalar(sum([r.random_scalar_1, r.random_scalar_2, r.random_scalar_3])),
      ),
    ).toBe(r.random_scalar_sum);
    const s = v.sigma_generation;
    expect(bytesToHex(suite.encodeScalar(sum([s.sigma_1, s.sigma_2, s.sigma_3, s.sigma_4])))).toBe(
      s.sigma_sum,
    );
  });
});

describe.each(dirs)('ZF invalid element for %s', (dir, scheme) => {
  it('refuses to decode the invalid element', () => {
    const v = loadVector(`zf-frost/${dir}/elements.json`);
    expect(() => getSuite(scheme).decodePoint(hexToBytes(v.elements.invalid_element))).toThrow(
      /bad_point/,
    );
  });
});
