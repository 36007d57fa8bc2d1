// Signed reshare (dealers sign their round-1 packages with their identity keys, as in signed DKG):
// an echo that misreports a dealer's package names the echoer, not the dealer it lied about; a
// package without its dealer's signature is refused naming that dealer (issue 13, "a lying echo").
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { packageDigest, round1SigningBytes, type DkgEcho } from '../../shared/crypto/dkg.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import type { KeyPackage } from '../../shared/crypto/keys.js';
import { refreshParams } from '../../shared/crypto/refresh.js';
import {
  reshareEcho,
  reshareEchoEvidence,
  reshareFinalize,
  reshareRound1,
  reshareRound1SigningBytes,
  reshareRound2,
  reshareSessionDigest,
  type ReshareParams,
  type ReshareRound1Package,
} from '../../shared/crypto/reshare.js';
import { getSuite, identifierHex } from '../../shared/crypto/suite.js';
import { culpritsOf, reshareFixture } from './helpers.js';

const suite = getSuite('ed25519');
const hex = (id: number | bigint) => identifierHex(suite, BigInt(id));
const seeds = Array.from({ length: 5 }, () => ed25519.utils.randomSecretKey());
const identity = (id: bigint) => ({
  identifier: id,
  identityKey: ed25519.getPublicKey(seeds[Number(id) - 1]!),
});
const signer = (id: bigint) => (m: Uint8Array) => ed25519.sign(m, seeds[Number(id) - 1]!);

// A 2-of-3 key (members 1, 2, 3) re-dealt by all three to members 1, 2, 4: 3 deals and leaves,
// 4 is new and only receives.
const fixture = () => reshareFixture(identity);

function round1(params: ReshareParams, old: ReadonlyMap<bigint, KeyPackage>) {
  const parts = [...new Set([...params.dealers, ...params.members.map((m) => m.identifier)])];
  const r1 = parts.map((id) =>
    reshareRound1(
      params,
      id,
      params.dealers.includes(id) ? old.get(id) : undefined,
      undefined,
      params.dealers.includes(id) ? signer(id) : undefined,
    ),
  );
  const pkgs = r1.flatMap((r) => (r.package ? [r.package] : []));
  const pkgsFor = (id: bigint) => pkgs.filter((p) => p.from !== hex(id));
  return { parts, states: r1.map((r) => r.state), pkgs, pkgsFor };
}

const othersOf = <T>(list: readonly T[], i: number): T[] => list.filter((_, j) => j !== i);

describe('signed reshare', () => {
  it('runs to the same group key when everyone is honest, echoes carrying every signature', () => {
    const { old, params } = fixture();
    const r = round1(params, old);
    expect(r.pkgs.every((p) => typeof p.signature === 'string')).toBe(true);
    const echoes = r.states.map((st, i) => reshareEcho(st, r.pkgsFor(r.parts[i]!)));
    expect(echoes.every((e) => Object.keys(e.signatures ?? {}).length === 3)).toBe(true);
    const out = r.states.map((st, i) => reshareRound2(st, othersOf(echoes, i)));
    const keys = r.states.flatMap((st) => {
      const k = reshareFinalize(
        st,
        out.flat().filter((p) => p.to === st.me),
      );
      return k ? [k] : [];
    });
    expect(keys.map((k) => k.share.identifier).sort()).toEqual([1n, 2n, 4n]);
    for (const k of keys) expect(k.public.groupKey.equals(params.old.groupKey)).toBe(true);
  });

  it('a refresh with dealer keys is signed too', () => {
    const { old, params } = fixture();
    const members = [1n, 2n, 3n].map(identity);
    const p = { ...refreshParams(params.old, members, randomBytes(32)), dealerKeys: members };
    const r = round1(p, old);
    const echoes = r.states.map((st, i) => reshareEcho(st, r.pkgsFor(r.parts[i]!)));
    const lie: DkgEcho = {
      ...echoes[2]!,
      digests: { ...echoes[2]!.digests, [hex(1)]: bytesToHex(randomBytes(32)) },
    };
    const sent = [echoes[0]!, echoes[1]!, lie];
    expect(culpritsOf(() => reshareRound2(r.states[1]!, othersOf(sent, 1)))).toEqual([hex(3)]);
  });

  it('refuses an unsigned, wrongly signed or DKG-signed round-1 package, naming its dealer', () => {
    const { old, params } = fixture();
    const r = round1(params, old);
    const [p1, p2, p3] = r.pkgs as [
      ReshareRound1Package,
      ReshareRound1Package,
      ReshareRound1Package,
    ];
    const digest3 = packageDigest(p3);
    const variants: ReshareRound1Package[] = [
      { ...p3, signature: undefined },
      { ...p3, signature: p2.signature },
      { ...p3, signature: 'zz'.repeat(64) },
      { ...p3, signature: p3.signature + '00' },
      // A signature by dealer 3 over the same digest in the DKG's domain is not a reshare one.
      { ...p3, signature: bytesToHex(signer(3n)(round1SigningBytes(digest3))) },
    ];
    for (const bad of variants) {
      const fresh = round1(params, old);
      // Member 4 (a newcomer) and member 1 (a dealer) both refuse it.
      expect(culpritsOf(() => reshareEcho(fresh.states[3]!, [p1, p2, bad]))).toEqual([hex(3)]);
      expect(culpritsOf(() => reshareEcho(fresh.states[0]!, [p2, bad]))).toEqual([hex(3)]);
    }
    // The reshare signing bytes are not the DKG's.
    expect(bytesToHex(reshareRound1SigningBytes(digest3))).not.toBe(
      bytesToHex(round1SigningBytes(digest3)),
    );
  });

  it("an echo misreporting a dealer's package names the echoer, for everyone", () => {
    const { old, params } = fixture();
    const r = round1(params, old);
    const echoes = r.states.map((st, i) => reshareEcho(st, r.pkgsFor(r.parts[i]!)));
    // Newcomer 4 (index 3) lies about dealer 1's package; then dealer 2 (index 1) does.
    for (const liar of [3, 1]) {
      const rr = round1(params, old);
      const ee = rr.states.map((st, i) => reshareEcho(st, rr.pkgsFor(rr.parts[i]!)));
      const lie: DkgEcho = {
        ...ee[liar]!,
        digests: { ...ee[liar]!.digests, [hex(1)]: bytesToHex(randomBytes(32)) },
      };
      const sent = ee.map((e, i) => (i === liar ? lie : e));
      for (const i of [0, 1, 2, 3].filter((i) => i !== liar))
        expect(culpritsOf(() => reshareRound2(rr.states[i]!, othersOf(sent, i)))).toEqual([
          hex(rr.parts[liar]!),
        ]);
    }
    expect(echoes).toHaveLength(4);
  });

  it('an echo lying with a signature copied from another package names the echoer', () => {
    const { old, params } = fixture();
    const r = round1(params, old);
    const echoes = r.states.map((st, i) => reshareEcho(st, r.pkgsFor(r.parts[i]!)));
    // Newcomer 4 reports dealer 2's digest and signature as dealer 1's.
    const lie: DkgEcho = {
      ...echoes[3]!,
      digests: { ...echoes[3]!.digests, [hex(1)]: echoes[3]!.digests[hex(2)]! },
      signatures: { ...echoes[3]!.signatures, [hex(1)]: echoes[3]!.signatures![hex(2)]! },
    };
    const sent = [echoes[0]!, echoes[1]!, echoes[2]!, lie];
    for (const i of [0, 1, 2])
      expect(culpritsOf(() => reshareRound2(r.states[i]!, othersOf(sent, i)))).toEqual([hex(4)]);
  });

  it('a dealer that signed two different packages is named, not the member that echoed one', () => {
    const { old, params } = fixture();
    const r = round1(params, old);
    // Dealer 3 shows newcomer 4 another package of its own, validly signed.
    const alt = reshareRound1(params, 3n, old.get(3n), undefined, signer(3n)).package!;
    const seen = (id: bigint) =>
      r.pkgsFor(id).map((p) => (id === 4n && p.from === hex(3) ? alt : p));
    const echoes = r.states.map((st, i) => reshareEcho(st, seen(r.parts[i]!)));
    for (const i of [0, 1, 3])
      expect(culpritsOf(() => reshareRound2(r.states[i]!, othersOf(echoes, i)))).toEqual([hex(3)]);
  });

  it('the echoes in hand, when a stopped participant sends none: a lying one is named, honest ones show nothing', () => {
    const { old, params } = fixture();
    const r = round1(params, old);
    const echoes = r.states.map((st, i) => reshareEcho(st, r.pkgsFor(r.parts[i]!)));
    // Newcomer 4 lies about dealer 1's package; dealer 3 stopped and sends no echo.
    const lie: DkgEcho = {
      ...echoes[3]!,
      digests: { ...echoes[3]!.digests, [hex(1)]: bytesToHex(randomBytes(32)) },
    };
    const evidence = reshareEchoEvidence(r.states[1]!, [echoes[0]!, lie]);
    expect(evidence).toBeInstanceOf(CryptoError);
    expect(evidence!.culprits).toEqual([hex(4)]);
    expect(reshareEchoEvidence(r.states[1]!, [echoes[0]!, echoes[3]!])).toBeUndefined();
    expect(reshareEchoEvidence(r.states[1]!, [])).toBeUndefined();
    // It judges without moving the state on: with every echo, round 2 still runs.
    expect(() => reshareRound2(r.states[1]!, othersOf(echoes, 1))).not.toThrow();
  });

  it('refuses an echo whose signatures are malformed or unbounded, naming the echoer', () => {
    const { old, params } = fixture();
    const r = round1(params, old);
    const echoes = r.states.map((st, i) => reshareEcho(st, r.pkgsFor(r.parts[i]!)));
    const e = echoes[3]!;
    const bad: unknown[] = [
      undefined,
      'signatures',
      [],
      { ...e.signatures, [hex(1)]: 7 },
      { ...e.signatures, [hex(5)]: e.signatures![hex(1)] },
      { [hex(1)]: e.signatures![hex(1)], [hex(2)]: e.signatures![hex(2)] },
    ];
    for (const signatures of bad) {
      const rr = round1(params, old);
      const ee = rr.states.map((st, i) => reshareEcho(st, rr.pkgsFor(rr.parts[i]!)));
      const sent = ee.map((x, i) => (i === 3 ? ({ ...x, signatures } as DkgEcho) : x));
      expect(culpritsOf(() => reshareRound2(rr.states[0]!, othersOf(sent, 0)))).toEqual([hex(4)]);
    }
  });

  it('a dealer of a signed reshare must sign, with its own identity key', () => {
    const { old, params } = fixture();
    expect(() => reshareRound1(params, 1n, old.get(1n))).toThrow(CryptoError);
    expect(() => reshareRound1(params, 1n, old.get(1n), undefined, signer(2n))).toThrow(
      CryptoError,
    );
  });

  it('binds the dealer keys into the session', () => {
    const { params } = fixture();
    const s = (p: ReshareParams) => bytesToHex(reshareSessionDigest(p));
    expect(s(params)).not.toBe(s({ ...params, dealerKeys: undefined }));
    const swapped = [1n, 2n, 5n].map(identity).map((m, i) => ({ ...m, identifier: BigInt(i + 1) }));
    expect(s(params)).not.toBe(s({ ...params, dealerKeys: swapped }));
    expect(() => s({ ...params, dealerKeys: [1n, 2n].map(identity) })).toThrow(CryptoError);
    expect(() => s({ ...params, dealerKeys: [1n, 2n, 5n].map(identity) })).toThrow(CryptoError);
  });
});
