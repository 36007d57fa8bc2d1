// Signed DKG (round-1 packages signed with the members' identity keys): an echo that misreports a
// member's package names the echoer, not the member it lied about; a dealer that signs two
// different packages is still named (issue 13, "a lying echo").
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import {
  dkgEcho,
  dkgRound1,
  dkgRound2,
  packageDigest,
  round1SigningBytes,
  type DkgEcho,
  type DkgParams,
  type DkgRound1Package,
} from '../../shared/crypto/dkg.js';
import { culpritsOf, finishDkg, groupKeyCount } from './helpers.js';
import { getSuite, identifierHex } from '../../shared/crypto/suite.js';

const suite = getSuite('ed25519');
const others = <T>(list: readonly T[], i: number): T[] => list.filter((_, j) => j !== i);

function session(n = 3, t = 2) {
  const seeds = Array.from({ length: n }, () => ed25519.utils.randomSecretKey());
  const params: DkgParams = {
    scheme: 'ed25519',
    threshold: t,
    members: seeds.map((s, i) => ({
      identifier: BigInt(i + 1),
      identityKey: ed25519.getPublicKey(s),
    })),
    sessionId: randomBytes(32),
  };
  const sign = (i: number) => (m: Uint8Array) => ed25519.sign(m, seeds[i]!);
  const r1 = params.members.map((m, i) => dkgRound1(params, m.identifier, undefined, sign(i)));
  return { params, sign, states: r1.map((r) => r.state), pkgs: r1.map((r) => r.package) };
}

const hex = (id: number) => identifierHex(suite, BigInt(id));

describe('signed DKG', () => {
  it('runs to the same key when everyone is honest', () => {
    const s = session();
    const echoes = s.states.map((st, i) => dkgEcho(st, others(s.pkgs, i)));
    expect(echoes.every((e) => Object.keys(e.signatures ?? {}).length === 3)).toBe(true);
    expect(groupKeyCount(finishDkg(s.states, echoes))).toBe(1);
  });

  it('refuses an unsigned or wrongly signed round-1 package, naming its sender', () => {
    const s = session();
    const unsigned: DkgRound1Package = { ...s.pkgs[2]!, signature: undefined };
    expect(culpritsOf(() => dkgEcho(s.states[0]!, [s.pkgs[1]!, unsigned]))).toEqual([hex(3)]);
    const forged = { ...s.pkgs[2]!, signature: s.pkgs[1]!.signature };
    expect(culpritsOf(() => dkgEcho(s.states[0]!, [s.pkgs[1]!, forged]))).toEqual([hex(3)]);
  });

  it("an echo misreporting another member's package names the echoer, for everyone", () => {
    const s = session();
    const echoes = s.states.map((st, i) => dkgEcho(st, others(s.pkgs, i)));
    // Member 3 lies that member 1's package had another digest.
    const lie: DkgEcho = {
      ...echoes[2]!,
      digests: { ...echoes[2]!.digests, [hex(1)]: bytesToHex(randomBytes(32)) },
    };
    const sent = [echoes[0]!, echoes[1]!, lie];
    for (const i of [0, 1])
      expect(culpritsOf(() => dkgRound2(s.states[i]!, others(sent, i)))).toEqual([hex(3)]);
  });

  it('a dealer that signed two different packages is named, not the member that echoed one', () => {
    const s = session();
    // Member 3 shows member 1 another package, validly signed.
    const alt = dkgRound1(s.params, 3n).package;
    alt.signature = bytesToHex(s.sign(2)(round1SigningBytes(packageDigest(alt))));
    const seen = (i: number) =>
      others(s.pkgs, i).map((p) => (i === 0 && p === s.pkgs[2] ? alt : p));
    const echoes = s.states.map((st, i) => dkgEcho(st, seen(i)));
    for (const i of [0, 1])
      expect(culpritsOf(() => dkgRound2(s.states[i]!, others(echoes, i)))).toEqual([hex(3)]);
  });
});
