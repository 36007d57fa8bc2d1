// Threshold-core benchmark: per-phase times, the critical path of one signature and its ratio to a
// single-key signature, noble's FROST as is, and @cmdcode/frost, all measured in the same run.
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr, schnorr_FROST, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import type { FROST } from '@noble/curves/abstract/frost.js';
import { randomBytes } from '@noble/hashes/utils.js';
import * as cmd from '@cmdcode/frost/lib';
import { splitSecret } from '../shared/crypto/dealer.js';
import {
  dkgEcho,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  DkgRound2Package,
  type DkgParams,
} from '../shared/crypto/dkg.js';
import type { KeyPackage } from '../shared/crypto/keys.js';
import {
  aggregate,
  commit,
  commitmentFromJSON,
  commitmentToJSON,
  signingPackage,
  signShare,
  verifySignature,
  type NonceCommitmentJSON,
} from '../shared/crypto/sign.js';
import { getSuite, identifierHex, type SchemeName } from '../shared/crypto/suite.js';

/** Median wall time in ms of `fn` over `runs` runs after `warm` warm-ups. */
export function median(runs: number, fn: () => void, warm = 2): number {
  for (let i = 0; i < warm; i++) fn();
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = performance.now();
    fn();
    xs.push(performance.now() - a);
  }
  return middle(xs);
}

/** The middle value of `xs` (of two, the upper), the median every figure here reports. */
export function middle(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/**
 * Timings to be compared, taken in alternating blocks: `rounds` rounds, each calling every side
 * once in turn, so that a slow spell of the machine falls on all of them. Each side's samples, by
 * round. Timed one after the other instead, a ratio moved by half (0.20 to 0.30) when one side
 * happened to run during another process's burst.
 */
export function alternated(sides: readonly (() => number)[], rounds: number): number[][] {
  const samples = sides.map((): number[] => []);
  for (let i = 0; i < rounds; i++) sides.forEach((side, k) => samples[k]!.push(side()));
  return samples;
}

/** The median over the rounds of a/b, for two sides' samples taken by `alternated`. */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return middle(a.map((x, i) => x / b[i]!));
}

function keys(scheme: SchemeName, t: number, n: number): KeyPackage[] {
  const suite = getSuite(scheme);
  return splitSecret(
    scheme,
    suite.randomScalar(),
    t,
    Array.from({ length: n }, (_, i) => BigInt(i + 1)),
  );
}

export interface SignFigures {
  scheme: SchemeName;
  t: number;
  n: number;
  /** One signer: commit (two base multiplications and two hashes). */
  commitMs: number;
  /** One signer: decode the other signers' commitments, build the signing package, sign. */
  signShareMs: number;
  /** Coordinator: sum the shares and verify the signature (signing package reused). */
  aggregateMs: number;
  criticalPathMs: number;
  /** CPU of all parties: T × (commit + sign share) + aggregate. */
  totalCpuMs: number;
}

/** Measures one signing configuration; every signature is also checked by the standard verifier. */
export function benchSign(scheme: SchemeName, t: number, n: number, runs: number): SignFigures {
  const suite = getSuite(scheme);
  const all = keys(scheme, t, n);
  const signers = all.slice(0, t);
  const msg = randomBytes(32);
  const samples: [number, number, number][] = [];
  for (let r = 0; r < runs + 2; r++) {
    const a0 = performance.now();
    const mine = commit(signers[0]);
    const a1 = performance.now();
    const others = signers.slice(1).map((k) => commit(k));
    const wire: NonceCommitmentJSON[] = others.map((o) => commitmentToJSON(suite, o.commitment));
    // Signer 0: decode and validate the others' commitments, trust its own. As the node's signer
    // does (signing.ts onSign): points decoded without their own subgroup checks, the package
    // checks the group commitment R instead (assertGroupCommitmentPrimeOrder).
    const b0 = performance.now();
    const list = [mine.commitment, ...wire.map((w) => commitmentFromJSON(suite, w, true))];
    const pkg0 = signingPackage(signers[0].public, list, msg);
    const z0 = signShare(signers[0], mine, pkg0);
    const b1 = performance.now();
    // The coordinator (signer 1) built its own package when it signed; that is off the path.
    const coordList = [
      others[0].commitment,
      commitmentFromJSON(suite, commitmentToJSON(suite, mine.commitment)),
      ...others.slice(1).map((o) => o.commitment),
    ];
    const pkgC = signingPackage(signers[1].public, coordList, msg);
    const shares = new Map<bigint, bigint>([[signers[0].share.identifier, z0]]);
    others.forEach((o, i) =>
      shares.set(signers[i + 1].share.identifier, signShare(signers[i + 1], o, pkgC)),
    );
    const c0 = performance.now();
    const sig = aggregate(pkgC, shares);
    const c1 = performance.now();
    if (!verifySignature(signers[0].public, msg, sig))
      throw new Error('bench signature does not verify');
    if (r >= 2) samples.push([a1 - a0, b1 - b0, c1 - c0]);
  }
  const med = (i: 0 | 1 | 2) => middle(samples.map((s) => s[i]));
  const commitMs = med(0);
  const signShareMs = med(1);
  const aggregateMs = med(2);
  const criticalPathMs = commitMs + signShareMs + aggregateMs;
  return {
    scheme,
    t,
    n,
    commitMs,
    signShareMs,
    aggregateMs,
    criticalPathMs,
    totalCpuMs: t * (commitMs + signShareMs) + aggregateMs,
  };
}

export interface DkgFigures {
  scheme: SchemeName;
  t: number;
  n: number;
  round1Ms: number;
  /** Validating everyone's round-1 packages (points, proofs of knowledge) and the echo. */
  verifyRound1Ms: number;
  /** Echo comparison, shares out, shares in verified, key assembled. */
  finalizeMs: number;
  perMemberMs: number;
  /**
   * The process's CPU time (user + system) over the same three phases: what the member's CPU does,
   * whatever else shares the machine (wall time above grows with the load, this hardly does).
   */
  perMemberCpuMs: number;
}

/** CPU of one member of an n-member DKG (the others' messages are produced beforehand). */
export function benchDkg(scheme: SchemeName, t: number, n: number): DkgFigures {
  const params: DkgParams = {
    scheme,
    threshold: t,
    members: Array.from({ length: n }, (_, i) => ({
      identifier: BigInt(i + 1),
      identityKey: randomBytes(32),
    })),
    sessionId: randomBytes(32),
  };
  const others = params.members.slice(1).map((m) => dkgRound1(params, m.identifier));
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const c0 = cpu();
  const a0 = performance.now();
  const me = dkgRound1(params, 1n);
  const a1 = performance.now();
  const echo = dkgEcho(
    me.state,
    others.map((o) => o.package),
  );
  const a2 = performance.now();
  const c2 = cpu();
  const suite = getSuite(scheme);
  const echoes = others.map((o) => ({ ...echo, from: identifierHex(suite, o.state.me) }));
  const incoming = others.map(
    (o) => new DkgRound2Package(me.state.session, o.state.me, 1n, o.state.evalAt(1n)),
  );
  const c3 = cpu();
  const a3 = performance.now();
  dkgRound2(me.state, echoes);
  dkgFinalize(me.state, incoming);
  const a4 = performance.now();
  const c4 = cpu();
  return {
    scheme,
    t,
    n,
    round1Ms: a1 - a0,
    verifyRound1Ms: a2 - a1,
    finalizeMs: a4 - a3,
    perMemberMs: a1 - a0 + (a2 - a1) + (a4 - a3),
    perMemberCpuMs: c2 - c0 + (c4 - c3),
  };
}

/**
 * benchDkg over `runs` fresh sessions: each phase's median, and the median of the per-member sums
 * (one slow run, a GC or another process, does not make the figure).
 */
export function benchDkgMedian(
  scheme: SchemeName,
  t: number,
  n: number,
  runs: number,
): DkgFigures & { runs: number; perMemberMinMs: number; perMemberMaxMs: number } {
  const xs = Array.from({ length: runs }, () => benchDkg(scheme, t, n));
  const med = (
    k: 'round1Ms' | 'verifyRound1Ms' | 'finalizeMs' | 'perMemberMs' | 'perMemberCpuMs',
  ) => middle(xs.map((x) => x[k]));
  const per = xs.map((x) => x.perMemberMs);
  return {
    scheme,
    t,
    n,
    round1Ms: med('round1Ms'),
    verifyRound1Ms: med('verifyRound1Ms'),
    finalizeMs: med('finalizeMs'),
    perMemberMs: med('perMemberMs'),
    perMemberCpuMs: med('perMemberCpuMs'),
    runs,
    perMemberMinMs: Math.min(...per),
    perMemberMaxMs: Math.max(...per),
  };
}

/** noble's FROST used as is, 2-of-3: commit + signShare (one signer), then aggregate. */
export function benchNobleAsIs(frost: FROST, runs: number): number {
  const deal = frost.trustedDealer({ min: 2, max: 3 });
  const ids = Object.keys(deal.secretShares).slice(0, 2);
  const msg = randomBytes(32);
  return median(runs, () => {
    const c = ids.map((id) => frost.commit(deal.secretShares[id]));
    const list = c.map((x) => x.commitments);
    const z: Record<string, Uint8Array> = {};
    ids.forEach(
      (id, i) =>
        (z[id] = frost.signShare(deal.secretShares[id], deal.public, c[i].nonces, list, msg)),
    );
    frost.aggregate(deal.public, list, msg, z);
  });
}

/** The same critical path for noble as is: one commit, one signShare and one aggregate, timed apart. */
export function benchNobleCriticalPath(frost: FROST, runs: number): number {
  const deal = frost.trustedDealer({ min: 2, max: 3 });
  const ids = Object.keys(deal.secretShares).slice(0, 2);
  const msg = randomBytes(32);
  const xs: number[] = [];
  for (let r = 0; r < runs + 2; r++) {
    const a0 = performance.now();
    const c0 = frost.commit(deal.secretShares[ids[0]]);
    const a1 = performance.now();
    const c1 = frost.commit(deal.secretShares[ids[1]]);
    const list = [c0.commitments, c1.commitments];
    const b0 = performance.now();
    const z0 = frost.signShare(deal.secretShares[ids[0]], deal.public, c0.nonces, list, msg);
    const b1 = performance.now();
    const z1 = frost.signShare(deal.secretShares[ids[1]], deal.public, c1.nonces, list, msg);
    const d0 = performance.now();
    frost.aggregate(deal.public, list, msg, { [ids[0]]: z0, [ids[1]]: z1 });
    const d1 = performance.now();
    if (r >= 2) xs.push(a1 - a0 + (b1 - b0) + (d1 - d0));
  }
  return middle(xs);
}

/** @cmdcode/frost (BIP340 style over secp256k1) 2-of-3, the same critical path. */
export function benchCmdcode(runs: number): number {
  const seckey = Buffer.from(randomBytes(32)).toString('hex');
  const group = cmd.create_dealer_set(2, 3, [seckey]);
  const message = Buffer.from(randomBytes(32)).toString('hex');
  const shares = group.shares.slice(0, 2);
  const xs: number[] = [];
  for (let r = 0; r < runs + 2; r++) {
    const a0 = performance.now();
    const c0 = cmd.create_commit_pkg(shares[0]);
    const a1 = performance.now();
    const c1 = cmd.create_commit_pkg(shares[1]);
    const commits = [c0, c1];
    const b0 = performance.now();
    const ctx = cmd.get_group_signing_ctx(group.group_pk, commits, message);
    const s0 = cmd.sign_msg(ctx, shares[0], cmd.get_commit_pkg(commits, shares[0]));
    const b1 = performance.now();
    const s1 = cmd.sign_msg(ctx, shares[1], cmd.get_commit_pkg(commits, shares[1]));
    const d0 = performance.now();
    const sig = cmd.combine_partial_sigs(ctx, [s0, s1]);
    const ok = cmd.verify_final_sig(ctx, message, sig);
    const d1 = performance.now();
    if (!ok) throw new Error('@cmdcode/frost signature does not verify');
    if (r >= 2) xs.push(a1 - a0 + (b1 - b0) + (d1 - d0));
  }
  return middle(xs);
}

/** One single-key sign + verify with noble, per scheme. */
export function benchSingleKey(scheme: SchemeName, runs: number): number {
  const msg = randomBytes(32);
  if (scheme === 'ed25519') {
    const sk = ed25519.utils.randomSecretKey();
    const pk = ed25519.getPublicKey(sk);
    return median(runs, () => void ed25519.verify(ed25519.sign(msg, sk), msg, pk));
  }
  if (scheme === 'taproot') {
    const sk = schnorr.utils.randomSecretKey();
    const pk = schnorr.getPublicKey(sk);
    return median(runs, () => void schnorr.verify(schnorr.sign(msg, sk), msg, pk));
  }
  // RFC 9591 secp256k1 single-key Schnorr (same signature format as the threshold scheme).
  const sk = secp256k1_FROST.utils.randomScalar();
  const deal = secp256k1_FROST.trustedDealer({ min: 2, max: 2 }, undefined, sk);
  const pk = deal.public.commitments[0];
  return median(runs, () => void secp256k1_FROST.verify(secp256k1_FROST.sign(msg, sk), msg, pk));
}

export const nobleFrost: Record<SchemeName, FROST> = {
  ed25519: ed25519_FROST,
  secp256k1: secp256k1_FROST,
  taproot: schnorr_FROST,
};
