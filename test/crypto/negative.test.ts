// Every error path of the threshold core: the exact code, and exactly the members it blames.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, concatBytes, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import { combineShares, splitExistingKey, splitSecret } from '../../shared/crypto/dealer.js';
import {
  dkgEcho,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  DkgRound2Package,
  type DkgEcho,
  type DkgMember,
} from '../../shared/crypto/dkg.js';
import { CryptoError, type CryptoErrorCode } from '../../shared/crypto/errors.js';
import { makePublicPackage, SecretShare, type KeyPackage } from '../../shared/crypto/keys.js';
import { refreshParams } from '../../shared/crypto/refresh.js';
import {
  RepairPart,
  repairStep1,
  repairStep2,
  repairStep3,
  type RepairStep1,
} from '../../shared/crypto/repair.js';
import {
  reshareEcho,
  reshareFinalize,
  reshareRound1,
  reshareRound2,
  type ReshareParams,
  type ReshareRound1Package,
} from '../../shared/crypto/reshare.js';
import {
  aggregate,
  assertKeyPackage,
  commit,
  commitmentFromJSON,
  commitmentToJSON,
  decodeSignatureShare,
  signingPackage,
  signShare,
} from '../../shared/crypto/sign.js';
import {
  assertIdentifier,
  getSuite,
  identifierFromIndex,
  identifierHex,
  parseIdentifier,
  SCHEMES,
  type GroupPoint,
  type SchemeName,
  type Suite,
} from '../../shared/crypto/suite.js';
import { decodeRepairPart } from '../../shared/protocol/repair-payload.js';
import { dealerKeys, dkgParams, scriptedRng } from './helpers.js';

// ---- helpers ----

function caught(fn: () => unknown): CryptoError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CryptoError) return e;
    throw new Error(`expected a CryptoError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a CryptoError, nothing was thrown');
}

/** Asserts that `fn` throws `code` and blames exactly `culprits` (in any order). */
function expectError(
  suite: Suite,
  fn: () => unknown,
  code: CryptoErrorCode,
  culprits: readonly bigint[] = [],
): CryptoError {
  const e = caught(fn);
  expect(e.code).toBe(code);
  expect([...e.culprits].sort()).toEqual(culprits.map((id) => identifierHex(suite, id)).sort());
  return e;
}

const ids = (n: number, from = 1) => Array.from({ length: n }, (_, i) => BigInt(i + from));
const othersOf = <T>(list: readonly T[], i: number): T[] => list.filter((_, j) => j !== i);
const byId = (keys: Iterable<KeyPackage>) =>
  new Map([...keys].map((k) => [k.share.identifier, k] as const));

function roster(members: readonly bigint[]): DkgMember[] {
  return members.map((identifier) => ({ identifier, identityKey: randomBytes(32) }));
}

/** Encodings every scheme must refuse as a group element, with what is wrong with each. */
function badPoints(scheme: SchemeName): [string, string][] {
  if (scheme === 'ed25519') {
    const order2 = 'ec' + 'ff'.repeat(30) + '7f';
    const torsioned = ed25519.Point.fromBytes(hexToBytes(order2)).add(ed25519.Point.BASE);
    return [
      ['32 bytes of 0xff (y not reduced)', 'ff'.repeat(32)],
      ['the identity 0100..00', '01' + '00'.repeat(31)],
      ['the point of order 2 ecff..7f', order2],
      ['the base point plus a torsion point', bytesToHex(torsioned.toBytes())],
      ['31 bytes', bytesToHex(ed25519.Point.BASE.toBytes()).slice(2)],
      ['a string that is not hex', 'zz'.repeat(32)],
    ];
  }
  const G = secp256k1.Point.BASE;
  return [
    ['an x that is not on the curve', '02' + '00'.repeat(31) + '05'],
    ['the 65-byte uncompressed encoding of G', bytesToHex(G.toBytes(false))],
    ['x(G) behind the prefix 04', '04' + bytesToHex(G.toBytes(true)).slice(2)],
    ['an x above the field prime', '02' + 'ff'.repeat(32)],
    ['33 zero bytes', '00'.repeat(33)],
    ['a string that is not hex', 'zz'.repeat(33)],
  ];
}

// ---- DKG fixtures ----

/** Round 1 done for members 1..n; index i is member i+1. */
function dkgSession(scheme: SchemeName, t = 3, n = 4) {
  const params = dkgParams(scheme, t, n);
  const r1 = params.members.map((m) => dkgRound1(params, m.identifier));
  return { params, states: r1.map((r) => r.state), pkgs: r1.map((r) => r.package) };
}
type DkgSession = ReturnType<typeof dkgSession>;

const echoAll = (s: DkgSession) => s.states.map((st, i) => dkgEcho(st, othersOf(s.pkgs, i)));
const round2All = (s: DkgSession, echoes: readonly DkgEcho[]) =>
  s.states.map((st, i) => dkgRound2(st, othersOf(echoes, i)));
const sharesFor = (out: readonly DkgRound2Package[][], id: bigint) =>
  out.flat().filter((p) => p.to === id);

/** Replaces the share `from` sends to `to` with `value`. */
function withShare(
  received: readonly DkgRound2Package[],
  from: bigint,
  value: (old: bigint) => bigint,
): DkgRound2Package[] {
  return received.map((p) =>
    p.from === from ? new DkgRound2Package(p.session, p.from, p.to, value(p.share())) : p,
  );
}

// ---- reshare fixtures ----

/** Runs a whole reshare in memory, every participant honest; returns the new members' keys. */
function runReshare(
  params: ReshareParams,
  old: ReadonlyMap<bigint, KeyPackage>,
): Map<bigint, KeyPackage> {
  const r = reshareSession(params, old);
  const out = r.round2All(r.echoAll());
  const next = new Map<bigint, KeyPackage>();
  r.parts.forEach((p, i) => {
    const k = reshareFinalize(
      r.states[i],
      out.flat().filter((x) => x.to === p),
    );
    if (k) next.set(p, k);
  });
  return next;
}

/** Round 1 done for every participant of a reshare. */
function reshareSession(params: ReshareParams, old: ReadonlyMap<bigint, KeyPackage>) {
  const suite = getSuite(params.old.scheme);
  const parts = [...new Set([...params.dealers, ...params.members.map((m) => m.identifier)])];
  const r1 = parts.map((id) =>
    reshareRound1(params, id, params.dealers.includes(id) ? old.get(id) : undefined),
  );
  const states = r1.map((r) => r.state);
  const pkgs = r1.flatMap((r) => (r.package ? [r.package] : []));
  /** The dealer packages participant `id` receives (everyone's but its own). */
  const pkgsFor = (id: bigint) => pkgs.filter((p) => p.from !== identifierHex(suite, id));
  const echoAll = () => states.map((st, i) => reshareEcho(st, pkgsFor(parts[i])));
  const round2All = (echoes: readonly DkgEcho[]) =>
    states.map((st, i) => reshareRound2(st, othersOf(echoes, i)));
  return { suite, parts, states, pkgs, pkgsFor, echoAll, round2All };
}

// Dealers 1, 2, 4 of a 3-of-4 key re-deal to members 1, 2, 3, 5 with threshold 3: 4 deals and
// leaves, 3 receives without dealing, 5 is new.
function reshareFixture(scheme: SchemeName) {
  const old = byId(dealerKeys(scheme, 3, 4));
  const oldPub = old.get(1n)!.public;
  const params: ReshareParams = {
    old: oldPub,
    dealers: [1n, 2n, 4n],
    members: roster([1n, 2n, 3n, 5n]),
    threshold: 3,
    sessionId: randomBytes(32),
  };
  return { old, oldPub, params };
}

// ---- repair fixtures ----

// Member 5 of a 3-of-5 key lost its share; 1, 2 and 3 help.
function repairFixture(scheme: SchemeName) {
  const keys = byId(dealerKeys(scheme, 3, 5));
  const pub = keys.get(1n)!.public;
  const helpers = [1n, 2n, 3n];
  const lost = 5n;
  const step1 = new Map<bigint, RepairStep1>(
    helpers.map((i) => [i, repairStep1(keys.get(i)!, helpers, lost)]),
  );
  const commitmentsOf = (s: ReadonlyMap<bigint, RepairStep1>) =>
    new Map([...s].map(([i, r]) => [i, r.commitments] as const));
  const partsTo = (s: ReadonlyMap<bigint, RepairStep1>, j: bigint) =>
    helpers.map((i) => s.get(i)!.parts.get(j)!);
  const sigmasOf = (s: ReadonlyMap<bigint, RepairStep1>) =>
    helpers.map((j) => repairStep2(pub, helpers, lost, j, partsTo(s, j), commitmentsOf(s)));
  return { keys, pub, helpers, lost, step1, commitmentsOf, partsTo, sigmasOf };
}

// ============================================================================================

describe.each(SCHEMES)('DKG over %s', (scheme) => {
  const suite = getSuite(scheme);

  describe('round 1 packages', () => {
    it('dkgEcho names the sender of a bad proof of knowledge', () => {
      const s = dkgSession(scheme);
      // Byte 5 lies in the proof's commitment R, byte 40 in its response z, for every scheme.
      for (const at of [5, 40]) {
        const proof = hexToBytes(s.pkgs[1].proofOfKnowledge);
        proof[at] ^= 0x01;
        const bad = { ...s.pkgs[1], proofOfKnowledge: bytesToHex(proof) };
        expectError(
          suite,
          () => dkgEcho(s.states[0], [bad, s.pkgs[2], s.pkgs[3]]),
          'bad_proof_of_knowledge',
          [2n],
        );
      }
    });

    it('dkgEcho names the sender of a proof of knowledge copied from another session', () => {
      const s = dkgSession(scheme);
      const other = dkgRound1({ ...s.params, sessionId: randomBytes(32) }, 2n).package;
      const swapped = { ...s.pkgs[1], proofOfKnowledge: other.proofOfKnowledge };
      expectError(
        suite,
        () => dkgEcho(s.states[0], [swapped, s.pkgs[2], s.pkgs[3]]),
        'bad_proof_of_knowledge',
        [2n],
      );
      // The whole package replayed, relabelled with this session: its proof is bound to the old one.
      const replayed = { ...other, session: s.pkgs[1].session };
      expectError(
        suite,
        () => dkgEcho(s.states[0], [replayed, s.pkgs[2], s.pkgs[3]]),
        'bad_proof_of_knowledge',
        [2n],
      );
    });

    it('dkgEcho names a member that passes off another member’s package and proof as its own', () => {
      const s = dkgSession(scheme);
      const stolen = { ...s.pkgs[2], from: s.pkgs[1].from };
      expectError(
        suite,
        () => dkgEcho(s.states[0], [stolen, s.pkgs[2], s.pkgs[3]]),
        'bad_proof_of_knowledge',
        [2n],
      );
    });

    it('dkgEcho names the sender of a proof of knowledge that is not hex or has the wrong length', () => {
      const s = dkgSession(scheme);
      for (const proofOfKnowledge of ['zz', s.pkgs[1].proofOfKnowledge.slice(2), '']) {
        const bad = { ...s.pkgs[1], proofOfKnowledge };
        expectError(
          suite,
          () => dkgEcho(s.states[0], [bad, s.pkgs[2], s.pkgs[3]]),
          'bad_proof_of_knowledge',
          [2n],
        );
      }
    });

    it('dkgEcho names the sender of a package from another session', () => {
      const s = dkgSession(scheme);
      const other = dkgRound1({ ...s.params, sessionId: randomBytes(32) }, 2n).package;
      expectError(
        suite,
        () => dkgEcho(s.states[0], [other, s.pkgs[2], s.pkgs[3]]),
        'wrong_session',
        [2n],
      );
    });

    it('dkgEcho names the sender of a package for another scheme', () => {
      const s = dkgSession(scheme);
      const otherScheme = SCHEMES.find((x) => x !== scheme)!;
      const bad = { ...s.pkgs[1], scheme: otherScheme };
      expectError(suite, () => dkgEcho(s.states[0], [bad, s.pkgs[2], s.pkgs[3]]), 'wrong_session', [
        2n,
      ]);
    });

    it('dkgEcho names the sender of a package with an unsupported version', () => {
      const s = dkgSession(scheme);
      const bad = { ...s.pkgs[3], version: 2 };
      expectError(
        suite,
        () => dkgEcho(s.states[0], [s.pkgs[1], s.pkgs[2], bad]),
        'unsupported_version',
        [4n],
      );
    });

    it('dkgEcho names every member whose package is missing', () => {
      const s = dkgSession(scheme);
      expectError(suite, () => dkgEcho(s.states[0], [s.pkgs[1]]), 'missing_package', [3n, 4n]);
    });

    it('dkgEcho names a sender that is not on the roster', () => {
      const s = dkgSession(scheme);
      const stranger = { ...s.pkgs[1], from: identifierHex(suite, 9n) };
      expectError(
        suite,
        () => dkgEcho(s.states[0], [s.pkgs[1], s.pkgs[2], s.pkgs[3], stranger]),
        'unexpected_package',
        [9n],
      );
    });

    it('dkgEcho refuses a member’s own package handed back to it', () => {
      const s = dkgSession(scheme);
      expectError(suite, () => dkgEcho(s.states[0], s.pkgs), 'unexpected_package', [1n]);
    });

    it('dkgEcho names a sender whose package arrives twice', () => {
      const s = dkgSession(scheme);
      expectError(
        suite,
        () => dkgEcho(s.states[0], [s.pkgs[1], s.pkgs[2], s.pkgs[2], s.pkgs[3]]),
        'duplicate_identifier',
        [3n],
      );
    });

    it('dkgEcho names the sender of too few or too many commitments', () => {
      const s = dkgSession(scheme);
      const C = s.pkgs[1].commitment;
      for (const commitment of [C.slice(0, -1), [...C, C[0]], []]) {
        const bad = { ...s.pkgs[1], commitment };
        expectError(
          suite,
          () => dkgEcho(s.states[0], [bad, s.pkgs[2], s.pkgs[3]]),
          'bad_commitment_count',
          [2n],
        );
      }
    });

    it.each(badPoints(scheme))('dkgEcho names the sender of a commitment that is %s', (_, hex) => {
      const s = dkgSession(scheme);
      for (const k of [0, s.params.threshold - 1]) {
        const commitment = [...s.pkgs[2].commitment];
        commitment[k] = hex;
        const bad = { ...s.pkgs[2], commitment };
        expectError(suite, () => dkgEcho(s.states[0], [s.pkgs[1], bad, s.pkgs[3]]), 'bad_point', [
          3n,
        ]);
      }
    });
  });

  describe('echoes', () => {
    it('dkgRound2 names a member that sent different round-1 packages to different members', () => {
      const s = dkgSession(scheme);
      // Member 1 makes a second, equally valid package and shows it to members 3 and 4 only.
      const alt = dkgRound1(s.params, 1n).package;
      expect(alt.commitment).not.toEqual(s.pkgs[0].commitment);
      const seen = (i: number) =>
        othersOf(s.pkgs, i).map((p) => (i >= 2 && p === s.pkgs[0] ? alt : p));
      const echoes = s.states.map((st, i) => dkgEcho(st, seen(i)));
      s.states.forEach((st, i) =>
        expectError(suite, () => dkgRound2(st, othersOf(echoes, i)), 'equivocation', [1n]),
      );
    });

    it('dkgRound2 names the equivocator even when a single member got the other package', () => {
      const s = dkgSession(scheme, 2, 5);
      const alt = dkgRound1(s.params, 3n).package;
      const seen = (i: number) =>
        othersOf(s.pkgs, i).map((p) => (i === 4 && p === s.pkgs[2] ? alt : p));
      const echoes = s.states.map((st, i) => dkgEcho(st, seen(i)));
      s.states.forEach((st, i) =>
        expectError(suite, () => dkgRound2(st, othersOf(echoes, i)), 'equivocation', [3n]),
      );
    });

    it('dkgRound2 names the sender of an echo from another session', () => {
      const s = dkgSession(scheme);
      const echoes = echoAll(s);
      const bad = {
        ...echoes[2],
        session: echoes[0].session.replace(/^./, (c) => (c === '0' ? '1' : '0')),
      };
      expectError(
        suite,
        () => dkgRound2(s.states[0], [echoes[1], bad, echoes[3]]),
        'wrong_session',
        [3n],
      );
    });

    it('dkgRound2 names the sender of an echo with an unsupported version', () => {
      const s = dkgSession(scheme);
      const echoes = echoAll(s);
      expectError(
        suite,
        () => dkgRound2(s.states[0], [echoes[1], echoes[2], { ...echoes[3], version: 0 }]),
        'unsupported_version',
        [4n],
      );
    });

    it('dkgRound2 names a member whose echo is missing', () => {
      const s = dkgSession(scheme);
      const echoes = echoAll(s);
      expectError(suite, () => dkgRound2(s.states[0], [echoes[1], echoes[3]]), 'missing_package', [
        3n,
      ]);
    });

    it('dkgRound2 names a member whose echo arrives twice', () => {
      const s = dkgSession(scheme);
      const echoes = echoAll(s);
      expectError(
        suite,
        () => dkgRound2(s.states[0], [echoes[1], echoes[1], echoes[2], echoes[3]]),
        'duplicate_identifier',
        [2n],
      );
    });

    it('dkgRound2 refuses a member’s own echo handed back to it', () => {
      const s = dkgSession(scheme);
      const echoes = echoAll(s);
      expectError(suite, () => dkgRound2(s.states[0], echoes), 'unexpected_package', [1n]);
    });

    it('dkgRound2 names the sender of an echo that leaves out a member’s digest', () => {
      const s = dkgSession(scheme);
      const echoes = echoAll(s);
      const digests = { ...echoes[1].digests };
      delete digests[identifierHex(suite, 4n)];
      expectError(
        suite,
        () => dkgRound2(s.states[0], [{ ...echoes[1], digests }, echoes[2], echoes[3]]),
        'bad_input',
        [2n],
      );
    });
  });

  describe('round 2 shares', () => {
    it('dkgFinalize names the sender of a share that does not match its commitment', () => {
      const s = dkgSession(scheme);
      const out = round2All(s, echoAll(s));
      const bad = withShare(sharesFor(out, 1n), 3n, (v) => suite.Fn.add(v, 1n));
      expectError(suite, () => dkgFinalize(s.states[0], bad), 'bad_share', [3n]);
    });

    it('dkgFinalize names every sender of a bad share, not just the first', () => {
      const s = dkgSession(scheme);
      const out = round2All(s, echoAll(s));
      let bad = withShare(sharesFor(out, 1n), 2n, (v) => suite.Fn.neg(v));
      bad = withShare(bad, 4n, () => suite.randomScalar());
      expectError(suite, () => dkgFinalize(s.states[0], bad), 'bad_share', [2n, 4n]);
    });

    it('dkgFinalize names the sender of a zero share received on the wire', () => {
      const s = dkgSession(scheme);
      const out = round2All(s, echoAll(s));
      const wire = sharesFor(out, 1n).map((p) =>
        DkgRound2Package.fromWire(suite, {
          ...p.toWire(suite),
          share: p.from === 2n ? '00'.repeat(suite.scalarLength) : p.toWire(suite).share,
        }),
      );
      expectError(suite, () => dkgFinalize(s.states[0], wire), 'bad_share', [2n]);
    });

    it('dkgFinalize names the sender of a share from another session', () => {
      const s = dkgSession(scheme);
      const out = round2All(s, echoAll(s));
      const bad = sharesFor(out, 1n).map((p) =>
        p.from === 3n ? new DkgRound2Package('00'.repeat(32), p.from, p.to, p.share()) : p,
      );
      expectError(suite, () => dkgFinalize(s.states[0], bad), 'wrong_session', [3n]);
    });

    it('dkgFinalize names the sender of a share addressed to another member', () => {
      const s = dkgSession(scheme);
      const out = round2All(s, echoAll(s));
      const misdirected = out[1].find((p) => p.to === 3n)!;
      const bad = sharesFor(out, 1n).map((p) => (p.from === 2n ? misdirected : p));
      expectError(suite, () => dkgFinalize(s.states[0], bad), 'unexpected_package', [2n]);
    });

    it('dkgFinalize names the sender of a share who is not on the roster', () => {
      const s = dkgSession(scheme);
      const out = round2All(s, echoAll(s));
      const stranger = new DkgRound2Package(s.states[0].session, 9n, 1n, suite.randomScalar());
      expectError(
        suite,
        () => dkgFinalize(s.states[0], [...sharesFor(out, 1n), stranger]),
        'unexpected_package',
        [9n],
      );
    });

    it('dkgFinalize names a sender whose share arrives twice', () => {
      const s = dkgSession(scheme);
      const out = round2All(s, echoAll(s));
      const mine = sharesFor(out, 1n);
      expectError(
        suite,
        () => dkgFinalize(s.states[0], [...mine, mine[1]]),
        'duplicate_identifier',
        [mine[1].from],
      );
    });

    it('dkgFinalize names every member whose share is missing', () => {
      const s = dkgSession(scheme);
      const out = round2All(s, echoAll(s));
      const mine = sharesFor(out, 1n).filter((p) => p.from === 3n);
      expectError(suite, () => dkgFinalize(s.states[0], mine), 'missing_package', [2n, 4n]);
    });

    it('DkgRound2Package.fromWire names the sender of a share that is not a canonical scalar', () => {
      const s = dkgSession(scheme);
      const out = round2All(s, echoAll(s));
      const w = out[1][0].toWire(suite);
      for (const share of ['zz'.repeat(suite.scalarLength), 'ff'.repeat(suite.scalarLength), '00'])
        expectError(suite, () => DkgRound2Package.fromWire(suite, { ...w, share }), 'bad_share', [
          2n,
        ]);
    });

    it('DkgRound2Package.fromWire refuses an unsupported version', () => {
      const s = dkgSession(scheme);
      const out = round2All(s, echoAll(s));
      const w = out[1][0].toWire(suite);
      expectError(
        suite,
        () => DkgRound2Package.fromWire(suite, { ...w, version: 7 }),
        'unsupported_version',
      );
    });
  });

  describe('rounds and parameters', () => {
    it('dkgRound2 refuses to run before dkgEcho', () => {
      const s = dkgSession(scheme);
      expectError(suite, () => dkgRound2(s.states[0], []), 'wrong_round');
    });

    it('dkgEcho refuses to run twice', () => {
      const s = dkgSession(scheme);
      dkgEcho(s.states[0], othersOf(s.pkgs, 0));
      expectError(suite, () => dkgEcho(s.states[0], othersOf(s.pkgs, 0)), 'wrong_round');
    });

    it('dkgFinalize refuses to run before dkgRound2, and a second time', () => {
      const s = dkgSession(scheme);
      expectError(suite, () => dkgFinalize(s.states[0], []), 'wrong_round');
      const out = round2All(s, echoAll(s));
      dkgFinalize(s.states[0], sharesFor(out, 1n));
      expectError(suite, () => dkgFinalize(s.states[0], sharesFor(out, 1n)), 'wrong_round');
      // The secret polynomial is gone.
      expectError(suite, () => s.states[0].evalAt(2n), 'wrong_round');
    });

    it('dkgRound1 refuses an unknown scheme', () => {
      const params = { ...dkgParams(scheme, 2, 3), scheme: 'ed448' as unknown as SchemeName };
      expectError(suite, () => dkgRound1(params, 1n), 'unknown_scheme');
    });

    it('dkgRound1 refuses a member that is not on the roster', () => {
      expectError(suite, () => dkgRound1(dkgParams(scheme, 2, 3), 4n), 'bad_identifier');
    });

    it('dkgRound1 refuses a session id that is not 32 bytes', () => {
      const params = { ...dkgParams(scheme, 2, 3), sessionId: randomBytes(16) };
      expectError(suite, () => dkgRound1(params, 1n), 'bad_input');
    });

    it('dkgRound1 refuses a roster entry without an identity key', () => {
      const params = dkgParams(scheme, 2, 3);
      const members = params.members.map((m, i) =>
        i === 1 ? { ...m, identityKey: new Uint8Array() } : m,
      );
      expectError(suite, () => dkgRound1({ ...params, members }, 1n), 'bad_input');
    });
  });
});

// ============================================================================================

describe.each(SCHEMES)('identifiers and thresholds over %s', (scheme) => {
  const suite = getSuite(scheme);
  const secret = () => suite.randomScalar();

  it('dkgRound1 refuses a roster with a zero identifier', () => {
    const params = dkgParams(scheme, 2, 3);
    const members = [{ ...params.members[0], identifier: 0n }, ...params.members.slice(1)];
    expectError(suite, () => dkgRound1({ ...params, members }, 2n), 'bad_identifier');
  });

  it('dkgRound1 names an identifier the roster lists twice', () => {
    const params = dkgParams(scheme, 2, 3);
    const members = [...params.members, { ...params.members[1] }];
    expectError(suite, () => dkgRound1({ ...params, members }, 1n), 'duplicate_identifier', [2n]);
  });

  it('reshareRound1 names an identifier the new roster lists twice', () => {
    const { old, params } = reshareFixture(scheme);
    const members = roster([1n, 2n, 3n, 2n]);
    expectError(
      suite,
      () => reshareRound1({ ...params, members }, 1n, old.get(1n)),
      'duplicate_identifier',
      [2n],
    );
  });

  it('reshareRound1 names a dealer listed twice', () => {
    const { old, params } = reshareFixture(scheme);
    expectError(
      suite,
      () => reshareRound1({ ...params, dealers: [1n, 2n, 4n, 1n] }, 1n, old.get(1n)),
      'duplicate_identifier',
      [1n],
    );
  });

  it('splitSecret names an identifier listed twice and refuses a zero identifier', () => {
    expectError(
      suite,
      () => splitSecret(scheme, secret(), 2, [1n, 2n, 2n]),
      'duplicate_identifier',
      [2n],
    );
    expectError(suite, () => splitSecret(scheme, secret(), 2, [0n, 1n, 2n]), 'bad_identifier');
  });

  it('assertIdentifier refuses zero, negative and out-of-range identifiers', () => {
    for (const id of [0n, -1n, suite.Fn.ORDER, suite.Fn.ORDER + 1n])
      expectError(suite, () => assertIdentifier(suite, id), 'bad_identifier');
    expectError(suite, () => identifierFromIndex(suite, 0), 'bad_identifier');
    expectError(suite, () => identifierFromIndex(suite, 1.5), 'bad_identifier');
  });

  it('parseIdentifier refuses hex that is upper-case, short, prefixed or zero', () => {
    const one = identifierHex(suite, 1n);
    const upper = identifierHex(suite, 0xabn).toUpperCase();
    for (const hex of [
      upper,
      one.slice(2),
      '0x' + one.slice(2),
      one + '00',
      '00'.repeat(suite.scalarLength),
      '',
    ])
      expectError(suite, () => parseIdentifier(suite, hex), 'bad_identifier');
  });

  it('parseIdentifier refuses an identifier that is not reduced modulo the order', () => {
    expectError(
      suite,
      () => parseIdentifier(suite, 'ff'.repeat(suite.scalarLength)),
      'bad_identifier',
    );
  });

  it('dkgRound1 refuses a threshold below 2 or above the roster size', () => {
    const params = dkgParams(scheme, 2, 3);
    for (const threshold of [1, 0, 4, 2.5])
      expectError(suite, () => dkgRound1({ ...params, threshold }, 1n), 'bad_threshold');
  });

  it('splitSecret and splitExistingKey refuse a threshold below 2 or above N', () => {
    expectError(suite, () => splitSecret(scheme, secret(), 1, [1n, 2n, 3n]), 'bad_threshold');
    expectError(suite, () => splitSecret(scheme, secret(), 4, [1n, 2n, 3n]), 'bad_threshold');
    const key = suite.encodeScalar(secret());
    expectError(suite, () => splitExistingKey(scheme, key, 1, 3), 'bad_threshold');
    expectError(suite, () => splitExistingKey(scheme, key, 4, 3), 'bad_threshold');
  });

  it('reshareRound1 refuses a new threshold below 2 or above the new roster size', () => {
    const { old, params } = reshareFixture(scheme);
    for (const threshold of [1, 5])
      expectError(
        suite,
        () => reshareRound1({ ...params, threshold }, 1n, old.get(1n)),
        'bad_threshold',
      );
  });

  it('makePublicPackage refuses a threshold above the number of verifying shares', () => {
    const vs = new Map<bigint, GroupPoint>([
      [1n, suite.G],
      [2n, suite.G.double()],
    ]);
    expectError(suite, () => makePublicPackage(scheme, 3, suite.G, vs, 0), 'bad_threshold');
  });
});

// ============================================================================================

describe.each(SCHEMES)('signing over %s', (scheme) => {
  const suite = getSuite(scheme);
  const msg = new TextEncoder().encode('pay 1 BTC to Bob');

  /** A 3-of-5 key and a complete signing attempt by `signers`. */
  function attempt(signers: readonly bigint[] = [1n, 2n, 3n, 4n, 5n]) {
    const keys = byId(dealerKeys(scheme, 3, 5));
    const pub = keys.get(1n)!.public;
    const nonces = new Map(signers.map((id) => [id, commit(keys.get(id)!)] as const));
    const commitments = signers.map((id) => nonces.get(id)!.commitment);
    const pkg = signingPackage(pub, commitments, msg);
    return { keys, pub, nonces, commitments, pkg };
  }
  const signAll = (a: ReturnType<typeof attempt>) =>
    new Map(
      a.pkg.signers.map(
        (id) => [id, signShare(a.keys.get(id)!, a.nonces.get(id)!, a.pkg)] as const,
      ),
    );

  it('signShare refuses nonces that were already used', () => {
    const a = attempt();
    signShare(a.keys.get(2n)!, a.nonces.get(2n)!, a.pkg);
    expectError(suite, () => signShare(a.keys.get(2n)!, a.nonces.get(2n)!, a.pkg), 'nonce_reused');
  });

  it('signShare refuses a package that carries another commitment for this signer', () => {
    const a = attempt();
    const swapped = a.commitments.map((c) =>
      c.identifier === 2n ? commit(a.keys.get(2n)!).commitment : c,
    );
    const pkg = signingPackage(a.pub, swapped, msg);
    expectError(suite, () => signShare(a.keys.get(2n)!, a.nonces.get(2n)!, pkg), 'bad_commitment');
    // The nonces were not spent by the refused attempt.
    expect(a.nonces.get(2n)!.used).toBe(false);
  });

  it('signShare refuses a package in which this signer has no commitment', () => {
    const a = attempt();
    const pkg = signingPackage(
      a.pub,
      a.commitments.filter((c) => c.identifier !== 5n),
      msg,
    );
    expectError(suite, () => signShare(a.keys.get(5n)!, a.nonces.get(5n)!, pkg), 'bad_commitment');
  });

  it('signShare refuses nonces made by another signer', () => {
    const a = attempt();
    expectError(
      suite,
      () => signShare(a.keys.get(2n)!, a.nonces.get(3n)!, a.pkg),
      'bad_commitment',
    );
  });

  it('signingPackage refuses fewer commitments than the threshold', () => {
    const a = attempt();
    expectError(
      suite,
      () => signingPackage(a.pub, a.commitments.slice(0, 2), msg),
      'bad_commitment_count',
    );
    expectError(suite, () => signingPackage(a.pub, [], msg), 'bad_commitment_count');
  });

  it('signingPackage refuses more commitments than there are members', () => {
    const a = attempt();
    expectError(
      suite,
      () => signingPackage(a.pub, [...a.commitments, a.commitments[0]], msg),
      'bad_commitment_count',
    );
  });

  it('signingPackage names a signer that is not a member of the key', () => {
    const a = attempt([1n, 2n, 3n]);
    const stranger = commit(dealerKeys(scheme, 2, 9)[8]).commitment;
    expectError(
      suite,
      () => signingPackage(a.pub, [...a.commitments, stranger], msg),
      'bad_commitment',
      [9n],
    );
  });

  it('signingPackage names a signer that committed twice', () => {
    const a = attempt([1n, 2n, 3n]);
    const again = commit(a.keys.get(2n)!).commitment;
    expectError(
      suite,
      () => signingPackage(a.pub, [...a.commitments, again], msg),
      'duplicate_identifier',
      [2n],
    );
  });

  it.each(badPoints(scheme))(
    'commitmentFromJSON names the signer of a nonce commitment that is %s',
    (_, hex) => {
      const a = attempt([1n, 2n, 3n]);
      const j = commitmentToJSON(suite, a.commitments[1]);
      expectError(suite, () => commitmentFromJSON(suite, { ...j, hiding: hex }), 'bad_commitment', [
        2n,
      ]);
      expectError(
        suite,
        () => commitmentFromJSON(suite, { ...j, binding: hex }),
        'bad_commitment',
        [2n],
      );
    },
  );

  it('aggregate names the one signer whose share is wrong', () => {
    const a = attempt();
    const shares = signAll(a);
    shares.set(3n, suite.Fn.add(shares.get(3n)!, 1n));
    expectError(suite, () => aggregate(a.pkg, shares), 'aggregation_failed', [3n]);
  });

  it('aggregate names exactly the two signers whose shares are wrong', () => {
    const a = attempt();
    const shares = signAll(a);
    shares.set(2n, suite.Fn.neg(shares.get(2n)!));
    shares.set(5n, shares.get(1n)!);
    expectError(suite, () => aggregate(a.pkg, shares), 'aggregation_failed', [2n, 5n]);
  });

  it('aggregate names the signer of a share that is not a reduced scalar', () => {
    const a = attempt([1n, 3n, 4n]);
    const shares = signAll(a);
    shares.set(4n, shares.get(4n)! + suite.Fn.ORDER);
    expectError(suite, () => aggregate(a.pkg, shares), 'aggregation_failed', [4n]);
  });

  it('aggregate names the signers whose shares are missing', () => {
    const a = attempt();
    const shares = signAll(a);
    shares.delete(1n);
    shares.delete(4n);
    expectError(suite, () => aggregate(a.pkg, shares), 'aggregation_failed', [1n, 4n]);
  });

  it('aggregate refuses shares from members outside the signing package', () => {
    const a = attempt([1n, 2n, 3n]);
    const shares = signAll(a);
    shares.set(5n, suite.randomScalar());
    expectError(suite, () => aggregate(a.pkg, shares), 'aggregation_failed');
  });

  it('decodeSignatureShare names the signer of a share that is not a canonical scalar', () => {
    for (const bytes of [new Uint8Array(suite.scalarLength).fill(0xff), new Uint8Array(3)])
      expectError(suite, () => decodeSignatureShare(suite, 4n, bytes), 'bad_signature_share', [4n]);
  });
});

describe('signing across schemes', () => {
  it('signShare refuses a share of another scheme than the signing package', () => {
    const ed = byId(dealerKeys('ed25519', 2, 3));
    const k1 = byId(dealerKeys('secp256k1', 2, 3));
    const nonces = commit(ed.get(1n)!);
    const pkg = signingPackage(
      k1.get(1n)!.public,
      [commit(k1.get(1n)!).commitment, commit(k1.get(2n)!).commitment],
      new Uint8Array(),
    );
    expectError(getSuite('ed25519'), () => signShare(ed.get(1n)!, nonces, pkg), 'key_mismatch');
  });
});

// ============================================================================================

describe.each(SCHEMES)('dealer and combine over %s', (scheme) => {
  const suite = getSuite(scheme);

  it('combineShares refuses shares of another key', () => {
    const a = dealerKeys(scheme, 2, 3);
    const b = dealerKeys(scheme, 2, 3);
    expectError(suite, () => combineShares(a[0].public, [b[0].share, b[1].share]), 'key_mismatch');
    // Even one foreign share among honest ones.
    expectError(suite, () => combineShares(a[0].public, [a[0].share, b[1].share]), 'key_mismatch');
  });

  it('combineShares refuses fewer shares than the threshold', () => {
    const keys = dealerKeys(scheme, 3, 4);
    expectError(
      suite,
      () => combineShares(keys[0].public, [keys[0].share, keys[1].share]),
      'key_mismatch',
    );
  });

  it('combineShares refuses a share from another epoch', () => {
    const keys = dealerKeys(scheme, 2, 3);
    const s = keys[1].share;
    const later = new SecretShare(scheme, s.identifier, s.scalar(), 1);
    expectError(
      suite,
      () => combineShares(keys[0].public, [keys[0].share, later]),
      'epoch_mismatch',
    );
  });

  it('combineShares refuses a share of another scheme', () => {
    const keys = dealerKeys(scheme, 2, 3);
    const otherScheme = SCHEMES.find((x) => x !== scheme)!;
    const foreign = new SecretShare(otherScheme, 2n, 5n, 0);
    expectError(
      suite,
      () => combineShares(keys[0].public, [keys[0].share, foreign]),
      'key_mismatch',
    );
  });

  it('combineShares names an identifier given twice', () => {
    const keys = dealerKeys(scheme, 2, 3);
    expectError(
      suite,
      () => combineShares(keys[0].public, [keys[1].share, keys[1].share]),
      'duplicate_identifier',
      [2n],
    );
  });

  it('splitExistingKey refuses a key that is not 32 bytes', () => {
    for (const len of [0, 31, 33, 64])
      expectError(
        suite,
        () => splitExistingKey(scheme, new Uint8Array(len).fill(1), 2, 3),
        'bad_length',
      );
  });

  it('splitSecret refuses a zero or unreduced secret', () => {
    expectError(suite, () => splitSecret(scheme, 0n, 2, [1n, 2n]), 'bad_scalar');
    expectError(suite, () => splitSecret(scheme, suite.Fn.ORDER, 2, [1n, 2n]), 'bad_scalar');
  });

  it('assertKeyPackage names a member whose share does not match its verifying share', () => {
    const keys = dealerKeys(scheme, 2, 3);
    const wrong = new SecretShare(scheme, 2n, suite.randomScalar(), 0);
    expectError(
      suite,
      () => assertKeyPackage({ public: keys[1].public, share: wrong }),
      'key_mismatch',
      [2n],
    );
  });

  it('assertKeyPackage refuses a share from another epoch or of a non-member', () => {
    const keys = dealerKeys(scheme, 2, 3);
    const s = keys[1].share;
    const later = new SecretShare(scheme, 2n, s.scalar(), 3);
    expectError(
      suite,
      () => assertKeyPackage({ public: keys[1].public, share: later }),
      'epoch_mismatch',
    );
    const outsider = new SecretShare(scheme, 7n, s.scalar(), 0);
    expectError(
      suite,
      () => assertKeyPackage({ public: keys[1].public, share: outsider }),
      'key_mismatch',
    );
  });

  it('SecretShare refuses a zero or unreduced value', () => {
    expectError(suite, () => new SecretShare(scheme, 1n, 0n, 0), 'bad_scalar');
    expectError(suite, () => new SecretShare(scheme, 1n, suite.Fn.ORDER, 0), 'bad_scalar');
  });
});

describe('existing keys', () => {
  it('splitExistingKey refuses a zero or unreduced secp256k1 or taproot key', () => {
    const n = secp256k1.Point.Fn.ORDER;
    for (const scheme of ['secp256k1', 'taproot'] as const) {
      const suite = getSuite(scheme);
      expectError(suite, () => splitExistingKey(scheme, new Uint8Array(32), 2, 3), 'bad_scalar');
      const over = hexToBytes(n.toString(16).padStart(64, '0'));
      expectError(suite, () => splitExistingKey(scheme, over, 2, 3), 'bad_scalar');
    }
  });
});

// ============================================================================================

describe.each(SCHEMES)('reshare over %s', (scheme) => {
  const suite = getSuite(scheme);

  it('reshareRound1 refuses a dealer share of another key under the same identifier', () => {
    const { params } = reshareFixture(scheme);
    const foreign = dealerKeys(scheme, 3, 4)[1];
    expectError(suite, () => reshareRound1(params, 2n, foreign), 'key_mismatch');
  });

  it('reshareRound1 refuses a key package that belongs to another member', () => {
    const { old, params } = reshareFixture(scheme);
    expectError(suite, () => reshareRound1(params, 2n, old.get(1n)), 'key_mismatch');
  });

  it('reshareRound1 refuses a dealer without its key package', () => {
    const { params } = reshareFixture(scheme);
    expectError(suite, () => reshareRound1(params, 2n, undefined), 'bad_input');
  });

  it('reshareRound1 refuses a key package from a stale epoch', () => {
    const { old, oldPub } = reshareFixture(scheme);
    const refreshed = runReshare(refreshParams(oldPub, roster(ids(4)), randomBytes(32)), old);
    const pub = refreshed.get(1n)!.public;
    expect(pub.epoch).toBe(1);
    const params: ReshareParams = {
      old: pub,
      dealers: [1n, 2n, 3n],
      members: roster(ids(4)),
      threshold: 3,
      sessionId: randomBytes(32),
    };
    expectError(suite, () => reshareRound1(params, 1n, old.get(1n)), 'epoch_mismatch');
    // The refreshed package itself is accepted.
    expect(reshareRound1(params, 1n, refreshed.get(1n)).package).toBeDefined();
  });

  it('reshareRound1 refuses fewer dealers than the old threshold', () => {
    const { old, params } = reshareFixture(scheme);
    expectError(
      suite,
      () => reshareRound1({ ...params, dealers: [1n, 2n] }, 1n, old.get(1n)),
      'bad_threshold',
    );
  });

  it('reshareRound1 refuses a dealer that is not a member of the old key', () => {
    const { old, params } = reshareFixture(scheme);
    expectError(
      suite,
      () => reshareRound1({ ...params, dealers: [1n, 2n, 6n] }, 1n, old.get(1n)),
      'bad_identifier',
    );
  });

  it('reshareRound1 refuses a participant that neither deals nor receives', () => {
    const { old, params } = reshareFixture(scheme);
    expectError(suite, () => reshareRound1(params, 6n, old.get(1n)), 'bad_identifier');
  });

  it('refreshParams refuses a roster that is not exactly the key’s members', () => {
    const { oldPub } = reshareFixture(scheme);
    for (const members of [ids(3), ids(5), [1n, 2n, 3n, 5n]])
      expectError(
        suite,
        () => refreshParams(oldPub, roster(members), randomBytes(32)),
        'bad_input',
      );
  });

  it('reshareEcho names a dealer whose dealt constant term is not its weighted old share', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    // Dealer 2's package from a reshare of another key, relabelled for this session.
    const other = byId(dealerKeys(scheme, 3, 4));
    const otherParams = { ...params, old: other.get(1n)!.public, sessionId: randomBytes(32) };
    const forged = reshareRound1(otherParams, 2n, other.get(2n)).package!;
    const real = r.pkgs.find((p) => p.from === identifierHex(suite, 2n))!;
    const bad: ReshareRound1Package = { ...forged, session: real.session, from: real.from };
    expect(bad.commitment[0]).not.toBe(real.commitment[0]);
    const received = r.pkgsFor(3n).map((p) => (p === real ? bad : p));
    expectError(
      suite,
      () => reshareEcho(r.states[r.parts.indexOf(3n)], received),
      'bad_commitment',
      [2n],
    );
  });

  it('reshareEcho names every dealer that deals a wrong constant term', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    // Swapping the constant terms of two dealers keeps the sum, but each is pinned to its own share.
    const p1 = r.pkgs.find((p) => p.from === identifierHex(suite, 1n))!;
    const p4 = r.pkgs.find((p) => p.from === identifierHex(suite, 4n))!;
    const received = r
      .pkgsFor(5n)
      .map((p) =>
        p === p1
          ? { ...p, commitment: [p4.commitment[0], ...p.commitment.slice(1)] }
          : p === p4
            ? { ...p, commitment: [p1.commitment[0], ...p.commitment.slice(1)] }
            : p,
      );
    expectError(
      suite,
      () => reshareEcho(r.states[r.parts.indexOf(5n)], received),
      'bad_commitment',
      [1n, 4n],
    );
  });

  it('reshareEcho names the sender of a package from another session', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    const stale = reshareRound1(
      { ...params, sessionId: randomBytes(32) },
      4n,
      old.get(4n),
    ).package!;
    const received = r.pkgsFor(5n).map((p) => (p.from === stale.from ? stale : p));
    expectError(
      suite,
      () => reshareEcho(r.states[r.parts.indexOf(5n)], received),
      'wrong_session',
      [4n],
    );
  });

  it('reshareEcho names a dealer whose package is missing, and a sender who is not a dealer', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    const st = r.states[r.parts.indexOf(5n)];
    const received = r.pkgsFor(5n);
    expectError(suite, () => reshareEcho(st, received.slice(1)), 'missing_package', [1n]);
    const fromMember3 = { ...received[0], from: identifierHex(suite, 3n) };
    expectError(suite, () => reshareEcho(st, [...received, fromMember3]), 'unexpected_package', [
      3n,
    ]);
  });

  it('reshareEcho names the sender of too few commitments for the new threshold', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    const received = r
      .pkgsFor(5n)
      .map((p, i) => (i === 0 ? { ...p, commitment: p.commitment.slice(0, 2) } : p));
    expectError(
      suite,
      () => reshareEcho(r.states[r.parts.indexOf(5n)], received),
      'bad_commitment_count',
      [1n],
    );
  });

  it('reshareRound2 names a dealer that sent different packages to different participants', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    const alt = reshareRound1(params, 2n, old.get(2n)).package!;
    const real = r.pkgs.find((p) => p.from === alt.from)!;
    // Same constant term (it is pinned), different higher coefficients.
    expect(alt.commitment[0]).toBe(real.commitment[0]);
    const echoes = r.states.map((st, i) =>
      reshareEcho(
        st,
        r.pkgsFor(r.parts[i]).map((p) => (p === real && r.parts[i] >= 3n ? alt : p)),
      ),
    );
    r.states.forEach((st, i) =>
      expectError(suite, () => reshareRound2(st, othersOf(echoes, i)), 'equivocation', [2n]),
    );
  });

  it('reshareRound2 names a participant whose echo is missing', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    const echoes = r.echoAll();
    const i = r.parts.indexOf(1n);
    const without3 = othersOf(echoes, i).filter((e) => e.from !== identifierHex(suite, 3n));
    expectError(suite, () => reshareRound2(r.states[i], without3), 'missing_package', [3n]);
  });

  it('reshareFinalize names a dealer whose share does not match its commitment', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    const out = r.round2All(r.echoAll());
    const mine = withShare(
      out.flat().filter((p) => p.to === 5n),
      4n,
      (v) => suite.Fn.add(v, 1n),
    );
    expectError(suite, () => reshareFinalize(r.states[r.parts.indexOf(5n)], mine), 'bad_share', [
      4n,
    ]);
  });

  it('reshareFinalize names a dealer that sends a zero share', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    const out = r.round2All(r.echoAll());
    const mine = withShare(
      out.flat().filter((p) => p.to === 3n),
      2n,
      () => 0n,
    );
    expectError(suite, () => reshareFinalize(r.states[r.parts.indexOf(3n)], mine), 'bad_share', [
      2n,
    ]);
  });

  it('reshareFinalize names every dealer whose share is missing', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    const out = r.round2All(r.echoAll());
    const mine = out.flat().filter((p) => p.to === 5n && p.from === 2n);
    expectError(
      suite,
      () => reshareFinalize(r.states[r.parts.indexOf(5n)], mine),
      'missing_package',
      [1n, 4n],
    );
  });

  it('reshareRound2 and reshareFinalize refuse to run out of order', () => {
    const { old, params } = reshareFixture(scheme);
    const r = reshareSession(params, old);
    expectError(suite, () => reshareRound2(r.states[0], []), 'wrong_round');
    expectError(suite, () => reshareFinalize(r.states[0], []), 'wrong_round');
    const echoes = r.echoAll();
    expectError(suite, () => reshareEcho(r.states[0], r.pkgsFor(r.parts[0])), 'wrong_round');
    r.round2All(echoes);
    expectError(suite, () => reshareRound2(r.states[0], othersOf(echoes, 0)), 'wrong_round');
  });
});

// ============================================================================================

describe.each(SCHEMES)('repair over %s', (scheme) => {
  const suite = getSuite(scheme);

  it('repairStep2 names a helper that sends a part that does not match its commitment', () => {
    const f = repairFixture(scheme);
    const parts = f
      .partsTo(f.step1, 1n)
      .map((p) => (p.from === 2n ? new RepairPart(2n, 1n, suite.Fn.add(p.value(), 1n)) : p));
    expectError(
      suite,
      () => repairStep2(f.pub, f.helpers, f.lost, 1n, parts, f.commitmentsOf(f.step1)),
      'bad_share',
      [2n],
    );
  });

  it('repairStep2 names a helper that sends a zero part', () => {
    const f = repairFixture(scheme);
    const w = f.step1.get(3n)!.parts.get(2n)!.toWire(suite);
    // A zero scalar is well formed on the wire: the strict decoder lets it through to repairStep2.
    const zero = decodeRepairPart({ ...w, value: '00'.repeat(suite.scalarLength) }, scheme, 3n, 2n);
    const parts = f.partsTo(f.step1, 2n).map((p) => (p.from === 3n ? zero : p));
    expectError(
      suite,
      () => repairStep2(f.pub, f.helpers, f.lost, 2n, parts, f.commitmentsOf(f.step1)),
      'bad_share',
      [3n],
    );
  });

  it('repairStep2 and repairStep3 name a helper whose commitments do not add up to ζ_i·Y_i', () => {
    const f = repairFixture(scheme);
    // Helper 2 splits a wrong value, consistently: its parts match its commitments, the total does not.
    const liar = { public: f.pub, share: new SecretShare(scheme, 2n, suite.randomScalar(), 0) };
    const step1 = new Map(f.step1).set(2n, repairStep1(liar, f.helpers, f.lost));
    const commitments = f.commitmentsOf(step1);
    expectError(
      suite,
      () => repairStep2(f.pub, f.helpers, f.lost, 1n, f.partsTo(step1, 1n), commitments),
      'bad_commitment',
      [2n],
    );
    const sigmas = f.sigmasOf(f.step1);
    expectError(
      suite,
      () => repairStep3(f.pub, f.helpers, f.lost, sigmas, commitments),
      'bad_commitment',
      [2n],
    );
  });

  it('repairStep2 names a helper whose commitments leave out a recipient', () => {
    const f = repairFixture(scheme);
    const partial = new Map(f.step1.get(3n)!.commitments);
    partial.delete(1n);
    const commitments = new Map(f.commitmentsOf(f.step1)).set(3n, partial);
    expectError(
      suite,
      () => repairStep2(f.pub, f.helpers, f.lost, 2n, f.partsTo(f.step1, 2n), commitments),
      'bad_commitment',
      [3n],
    );
  });

  it('repairStep2 names a helper whose part is missing or arrives twice', () => {
    const f = repairFixture(scheme);
    const parts = f.partsTo(f.step1, 1n);
    const commitments = f.commitmentsOf(f.step1);
    expectError(
      suite,
      () => repairStep2(f.pub, f.helpers, f.lost, 1n, parts.slice(1), commitments),
      'missing_package',
      [1n],
    );
    expectError(
      suite,
      () => repairStep2(f.pub, f.helpers, f.lost, 1n, [...parts, parts[2]], commitments),
      'unexpected_package',
      [3n],
    );
  });

  it('repairStep2 refuses a part addressed to another helper', () => {
    const f = repairFixture(scheme);
    const parts = f
      .partsTo(f.step1, 1n)
      .map((p, i) => (i === 1 ? f.step1.get(2n)!.parts.get(3n)! : p));
    expectError(
      suite,
      () => repairStep2(f.pub, f.helpers, f.lost, 1n, parts, f.commitmentsOf(f.step1)),
      'unexpected_package',
    );
  });

  it('repairStep3 names a helper that sends a wrong sum', () => {
    const f = repairFixture(scheme);
    const sigmas = f
      .sigmasOf(f.step1)
      .map((s) => (s.from === 3n ? new RepairPart(3n, f.lost, suite.Fn.add(s.value(), 1n)) : s));
    expectError(
      suite,
      () => repairStep3(f.pub, f.helpers, f.lost, sigmas, f.commitmentsOf(f.step1)),
      'bad_share',
      [3n],
    );
  });

  it('repairStep3 names a helper that sends a zero sum', () => {
    const f = repairFixture(scheme);
    const sigmas = f
      .sigmasOf(f.step1)
      .map((s) => (s.from === 1n ? new RepairPart(1n, f.lost, 0n) : s));
    expectError(
      suite,
      () => repairStep3(f.pub, f.helpers, f.lost, sigmas, f.commitmentsOf(f.step1)),
      'bad_share',
      [1n],
    );
  });

  it('repairStep3 names a helper whose sum is missing', () => {
    const f = repairFixture(scheme);
    const sigmas = f.sigmasOf(f.step1).filter((s) => s.from !== 2n);
    expectError(
      suite,
      () => repairStep3(f.pub, f.helpers, f.lost, sigmas, f.commitmentsOf(f.step1)),
      'missing_package',
      [2n],
    );
  });

  it('repairStep1 refuses fewer or more helpers than the threshold', () => {
    const f = repairFixture(scheme);
    for (const helpers of [
      [1n, 2n],
      [1n, 2n, 3n, 4n],
    ])
      expectError(suite, () => repairStep1(f.keys.get(1n)!, helpers, f.lost), 'bad_threshold');
  });

  it('repairStep1 names the lost member when it is listed among its own helpers', () => {
    const f = repairFixture(scheme);
    expectError(
      suite,
      () => repairStep1(f.keys.get(1n)!, [1n, 2n, 5n], 5n),
      'duplicate_identifier',
      [5n],
    );
  });

  it('repairStep1 refuses a helper outside the helper set, a non-member helper and a non-member lost share', () => {
    const f = repairFixture(scheme);
    expectError(suite, () => repairStep1(f.keys.get(4n)!, f.helpers, f.lost), 'bad_identifier');
    expectError(suite, () => repairStep1(f.keys.get(1n)!, [1n, 2n, 9n], f.lost), 'bad_identifier');
    expectError(suite, () => repairStep1(f.keys.get(1n)!, f.helpers, 9n), 'bad_identifier');
  });
});

// ============================================================================================

describe.each(SCHEMES)('secrets over %s', (scheme) => {
  const suite = getSuite(scheme);

  /** Every way a secret container might be printed shows `<redacted>` and none of the secrets. */
  function expectRedacted(obj: object, secrets: readonly bigint[]): void {
    expect(secrets.length).toBeGreaterThan(0);
    const printed = [
      JSON.stringify(obj),
      JSON.stringify({ nested: [obj] }),
      String(obj),
      `${obj as { toString(): string }}`,
      inspect(obj),
      inspect({ nested: [obj] }, { depth: 10 }),
      inspect(obj, { showHidden: true, depth: 10 }),
    ];
    for (const p of printed) expect(p).toContain('<redacted>');
    // Without the custom hook Node prints the object's own fields; private fields stay hidden.
    printed.push(inspect(obj, { customInspect: false, showHidden: true, depth: 10 }));
    for (const p of printed)
      for (const s of secrets) {
        expect(s).not.toBe(0n);
        expect(p).not.toContain(s.toString(10));
        expect(p).not.toContain(s.toString(16));
        expect(p).not.toContain(bytesToHex(suite.encodeScalar(s)));
      }
  }

  it('SecretShare never prints its scalar', () => {
    const [k] = dealerKeys(scheme, 2, 3);
    const s = k.share.scalar();
    expectRedacted(k.share, [s]);
    // Logging a whole key package (which also holds public points) hides the share too.
    const shown = inspect(k, { depth: 10 });
    expect(shown).toContain('<redacted>');
    expect(shown).not.toContain(s.toString(10));
    expect(shown).not.toContain(bytesToHex(suite.encodeScalar(s)));
  });

  it('SigningNonces never print the nonces', () => {
    const [k] = dealerKeys(scheme, 2, 3);
    const r = [bytesToHex(randomBytes(32)), bytesToHex(randomBytes(32))];
    const nonces = commit(k, scriptedRng(...r));
    // RFC 9591 §4.1 nonce_generate, recomputed to know what must not appear.
    const sk = suite.encodeScalar(k.share.scalar());
    const d = suite.H3(concatBytes(hexToBytes(r[0]), sk));
    const e = suite.H3(concatBytes(hexToBytes(r[1]), sk));
    expect(suite.G.multiply(d).equals(nonces.commitment.hiding)).toBe(true);
    expect(suite.G.multiply(e).equals(nonces.commitment.binding)).toBe(true);
    expectRedacted(nonces, [d, e]);
    expect(nonces.used).toBe(false);
  });

  it('DkgState and DkgRound2Package never print the polynomial or the share', () => {
    const s = dkgSession(scheme, 2, 3);
    const st = s.states[0];
    expectRedacted(st, [st.evalAt(0n), st.evalAt(1n), st.evalAt(2n)]);
    const out = round2All(s, echoAll(s));
    const p = out[0][0];
    expectRedacted(p, [p.share()]);
  });

  it('ReshareState never prints the dealing polynomial', () => {
    const { old, params } = reshareFixture(scheme);
    const { state } = reshareRound1(params, 2n, old.get(2n));
    expectRedacted(state, [state.evalAt(0n), state.evalAt(5n), old.get(2n)!.share.scalar()]);
  });

  it('RepairPart never prints its value', () => {
    const f = repairFixture(scheme);
    const part = f.step1.get(1n)!.parts.get(2n)!;
    expectRedacted(part, [part.value()]);
    const sigma = f.sigmasOf(f.step1)[0];
    expectRedacted(sigma, [sigma.value()]);
  });
});
