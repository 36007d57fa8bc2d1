// The signed DKG, reshare and repair check identity-key signatures with the Ed25519 verifier they
// are given (main/ passes its native-speed strict one, verifyEd25519), noble's strict verify by
// default: the verifier given is the one used, and a bad signature is still refused with it.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import {
  dkgEcho,
  dkgRound1,
  dkgRound2,
  signedBy,
  round1SigningBytes,
  type DkgEcho,
  type DkgParams,
} from '../../shared/crypto/dkg.js';
import {
  repairCommitmentsSignedBy,
  repairCommitmentsSigningBytes,
  repairStep1,
} from '../../shared/crypto/repair.js';
import { reshareEcho, reshareRound1, reshareRound2 } from '../../shared/crypto/reshare.js';
import type { Ed25519Verify } from '../../shared/crypto/sign.js';
import { getSuite, identifierHex } from '../../shared/crypto/suite.js';
import { verifyEd25519 } from '../../main/crypto/ed25519.js';
import { culpritsOf, dealerKeys, finishDkg, groupKeyCount, reshareFixture } from './helpers.js';

const suite = getSuite('ed25519');
const hex = (id: number | bigint) => identifierHex(suite, BigInt(id));
const others = <T>(list: readonly T[], i: number): T[] => list.filter((_, j) => j !== i);
const seeds = Array.from({ length: 5 }, () => ed25519.utils.randomSecretKey());
const keyOf = (id: bigint) => ed25519.getPublicKey(seeds[Number(id) - 1]!);
const signer = (id: bigint) => (m: Uint8Array) => ed25519.sign(m, seeds[Number(id) - 1]!);

/** A verifier that counts its calls and answers as `inner` does. */
function counting(inner: Ed25519Verify = verifyEd25519) {
  const c = {
    calls: 0,
    verify: ((sig, msg, key) => {
      c.calls++;
      return inner(sig, msg, key);
    }) as Ed25519Verify,
  };
  return c;
}

function dkg(verify?: Ed25519Verify, n = 3) {
  const params: DkgParams = {
    scheme: 'ed25519',
    threshold: 2,
    members: Array.from({ length: n }, (_, i) => ({
      identifier: BigInt(i + 1),
      identityKey: keyOf(BigInt(i + 1)),
    })),
    sessionId: randomBytes(32),
  };
  const r1 = params.members.map((m) =>
    dkgRound1(params, m.identifier, undefined, signer(m.identifier), verify),
  );
  return { states: r1.map((r) => r.state), pkgs: r1.map((r) => r.package) };
}

describe('the signed DKG with a given verifier', () => {
  it("checks every other member's round-1 signature with it and runs to one key", () => {
    const v = counting();
    const s = dkg(v.verify);
    const echoes = s.states.map((st, i) => dkgEcho(st, others(s.pkgs, i)));
    // Each of 3 members checks the 2 others' packages.
    expect(v.calls).toBe(6);
    expect(groupKeyCount(finishDkg(s.states, echoes))).toBe(1);
  });

  it('refuses a wrongly signed round-1 package with it, naming the sender', () => {
    const v = counting();
    const s = dkg(v.verify);
    const forged = { ...s.pkgs[2]!, signature: s.pkgs[1]!.signature };
    expect(culpritsOf(() => dkgEcho(s.states[0]!, [s.pkgs[1]!, forged]))).toEqual([hex(3)]);
    expect(v.calls).toBeGreaterThan(0);
  });

  it('judges an echo that disagrees by it: a digest the dealer never signed names the echoer', () => {
    const s = dkg(verifyEd25519);
    const echoes = s.states.map((st, i) => dkgEcho(st, others(s.pkgs, i)));
    const lie: DkgEcho = {
      ...echoes[2]!,
      digests: { ...echoes[2]!.digests, [hex(1)]: bytesToHex(randomBytes(32)) },
    };
    const v = counting();
    for (const st of s.states) st.verify = v.verify;
    expect(culpritsOf(() => dkgRound2(s.states[1]!, [echoes[0]!, lie]))).toEqual([hex(3)]);
    expect(v.calls).toBe(1);
  });

  it("takes the verifier's answer: one that refuses everything refuses an honest package", () => {
    const s = dkg(() => false);
    // The first package checked is refused.
    expect(culpritsOf(() => dkgEcho(s.states[0]!, others(s.pkgs, 0)))).toEqual([hex(2)]);
  });

  it('signedBy counts a throwing verifier as a bad signature, and defaults to strict noble', () => {
    const digest = bytesToHex(randomBytes(32));
    const sig = bytesToHex(signer(1n)(round1SigningBytes(digest)));
    expect(signedBy(keyOf(1n), digest, sig)).toBe(true);
    expect(signedBy(keyOf(2n), digest, sig)).toBe(false);
    const throws: Ed25519Verify = () => {
      throw new Error('bad input');
    };
    expect(signedBy(keyOf(1n), digest, sig, undefined, throws)).toBe(false);
  });
});

describe('the signed reshare with a given verifier', () => {
  function reshare(verify: Ed25519Verify) {
    const { old, params } = reshareFixture((id) => ({ identifier: id, identityKey: keyOf(id) }));
    const ids = [1n, 2n, 3n, 4n];
    const r1 = ids.map((id) =>
      reshareRound1(
        params,
        id,
        old.get(id),
        undefined,
        params.dealers.includes(id) ? signer(id) : undefined,
        verify,
      ),
    );
    const pkgs = r1.flatMap((r) => (r.package ? [r.package] : []));
    return { ids, states: r1.map((r) => r.state), pkgs };
  }

  it("checks the dealers' signatures with it (its own at home too) and refuses a forged one", () => {
    const v = counting();
    const r = reshare(v.verify);
    // Each of 3 dealers checks its own signature at home.
    expect(v.calls).toBe(3);
    const echoes = r.states.map((st, i) =>
      reshareEcho(
        st,
        r.pkgs.filter((p) => p.from !== hex(r.ids[i]!)),
      ),
    );
    // Dealers check 2 others' packages, the newcomer all 3.
    expect(v.calls).toBe(3 + 3 * 2 + 3);
    r.states.forEach((st, i) => reshareRound2(st, others(echoes, i)));

    const again = reshare(v.verify);
    const forged = { ...again.pkgs[2]!, signature: again.pkgs[1]!.signature };
    expect(
      culpritsOf(() => reshareEcho(again.states[3]!, [...again.pkgs.slice(0, 2), forged])),
    ).toEqual([hex(3)]);
  });
});

describe('signed repair commitments with a given verifier', () => {
  it('are checked by it, a bad signature refused', () => {
    const keys = new Map(dealerKeys('ed25519', 3, 5).map((k) => [k.share.identifier, k]));
    const session = bytesToHex(randomBytes(32));
    const c = repairStep1(keys.get(1n)!, [1n, 2n, 3n], 5n).commitments;
    const sig = bytesToHex(signer(1n)(repairCommitmentsSigningBytes(suite, session, 1n, c)));
    const v = counting();
    expect(repairCommitmentsSignedBy(suite, session, 1n, c, sig, keyOf(1n), v.verify)).toBe(true);
    expect(repairCommitmentsSignedBy(suite, session, 1n, c, sig, keyOf(2n), v.verify)).toBe(false);
    const bad = sig.slice(0, -2) + (sig.endsWith('00') ? '01' : '00');
    expect(repairCommitmentsSignedBy(suite, session, 1n, c, bad, keyOf(1n), v.verify)).toBe(false);
    expect(v.calls).toBe(3);
    expect(repairCommitmentsSignedBy(suite, session, 1n, c, sig, keyOf(1n), () => false)).toBe(
      false,
    );
  });
});
