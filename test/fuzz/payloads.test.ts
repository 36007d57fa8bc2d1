// Fuzzes the payloads inside group messages that a decodeGroupMessage leaves as objects: nonce
// commitments, DKG round-1 packages, public key packages (import-share), audit entries, ceremony
// commit answers, ceremony aborts, reconstruction shares and the reconstruction's 'done'. A peer's damaged payload gives the decoder's typed
// error (CryptoError, AuditError, ProtocolError) or, for a commit answer, "no answer"; never a
// TypeError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { AuditError, makeEntry, parseEntry } from '../../shared/audit/chain.js';
import { dkgEcho, dkgRound1, proveKnowledge } from '../../shared/crypto/dkg.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { publicPackageFromJSON, publicPackageToJSON } from '../../shared/crypto/keys.js';
import { sealTo } from '../../shared/crypto/exported-key.js';
import { commit, commitmentFromJSON, commitmentToJSON } from '../../shared/crypto/sign.js';
import { RepairPart, repairStep1, repairViewsToWire } from '../../shared/crypto/repair.js';
import {
  getSuite,
  identifierHex,
  SCHEMES,
  type GroupPoint,
  type Suite,
} from '../../shared/crypto/suite.js';
import {
  decodeAbort,
  decodeReconstructDone,
  EXPOSED_MAX,
} from '../../shared/protocol/ceremony-payload.js';
import { decodeCommitAnswer } from '../../shared/protocol/commit.js';
import {
  decodeRepairCommitments,
  decodeRepairDone,
  decodeRepairPart,
  decodeRepairSum,
} from '../../shared/protocol/repair-payload.js';
import { decodeSealedShare, openSealedShare } from '../../shared/protocol/sealed-share.js';
import { ProtocolError } from '../../shared/protocol/wire.js';
import { dealerKeys, dkgParams } from '../crypto/helpers.js';
import { fuzz, jsonAround, RUNS } from './fuzz.js';

const roundTrip = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('fuzz: group message payloads', () => {
  const keys = SCHEMES.map((s) => dealerKeys(s, 2, 3));

  it('commitmentFromJSON (nonces, sign): CryptoError, or a commitment that encodes back', () => {
    const seeds = keys.map((k) =>
      roundTrip(commitmentToJSON(getSuite(k[0]!.public.scheme), commit(k[0]!).commitment)),
    );
    const arb = fc.tuple(fc.nat(SCHEMES.length - 1), jsonAround(seeds));
    fuzz(
      'commitmentFromJSON',
      arb,
      ([i, j]) => commitmentFromJSON(getSuite(SCHEMES[i]!), j as never),
      [CryptoError],
      {
        // Lenient about extra fields, exact about the three it reads.
        check: (c, [i, j]) => {
          const { identifier, hiding, binding } = j as Record<string, unknown>;
          expect(commitmentToJSON(getSuite(SCHEMES[i]!), c)).toEqual({
            identifier,
            hiding,
            binding,
          });
        },
      },
    );
  });

  it('publicPackageFromJSON (import-share): CryptoError only', () => {
    const seeds = keys.map((k) => roundTrip(publicPackageToJSON(k[0]!.public)));
    fuzz(
      'publicPackageFromJSON',
      jsonAround(seeds),
      (j) => publicPackageFromJSON(j as never),
      [CryptoError],
      {
        check: (p) =>
          expect(publicPackageFromJSON(roundTrip(publicPackageToJSON(p)) as never)).toEqual(p),
      },
    );
  });

  it('dkgEcho on a damaged round-1 package from a peer: CryptoError only', () => {
    const params = dkgParams('secp256k1', 2, 3);
    const r1 = params.members.map((m) => dkgRound1(params, m.identifier));
    const [, p2, p3] = r1.map((r) => roundTrip(r.package));
    fuzz(
      'dkgEcho (round-1 packages)',
      jsonAround([p2, p3]),
      (bad) => {
        // A fresh state each time: a refused package must not depend on what came before.
        const me = dkgRound1(params, 1n);
        return dkgEcho(me.state, [bad, p3] as never);
      },
      [CryptoError],
      { runs: Math.ceil(RUNS / 2) },
    );
  });

  it('parseEntry (audit entries from peers): AuditError only', () => {
    const sk = new Uint8Array(32).fill(3);
    const e1 = makeEntry(
      undefined,
      {
        author: 'peerA',
        at: 1,
        type: 'request.created',
        group: 'ab'.repeat(16),
        body: { id: 'x', n: 1 },
      },
      (h) => ed25519.sign(h, sk),
    );
    const e2 = makeEntry(e1, { author: 'peerA', at: 2, type: 'request.approved', body: {} }, (h) =>
      ed25519.sign(h, sk),
    );
    fuzz('parseEntry', jsonAround([roundTrip(e1), roundTrip(e2)]), parseEntry, [AuditError]);
  });

  it('decodeCommitAnswer: an answer or undefined, never a throw', () => {
    const seeds = [
      { state: 'working' },
      { state: 'committed', epoch: 3, digest: 'ab'.repeat(32) },
      { state: 'holding', epoch: 2 },
    ];
    fuzz('decodeCommitAnswer', jsonAround(seeds), decodeCommitAnswer, []);
  });

  it('decodeSealedShare / openSealedShare (reconstruction round 2): ProtocolError or CryptoError only', () => {
    const aad = utf8ToBytes('conclave/reconstruct/v1:r1');
    const oneTime = x25519.keygen();
    // Each scheme's member 2 sealing its share to the requester's one-time key.
    const seeds = keys.map((k) =>
      roundTrip({
        from: identifierHex(getSuite(k[1]!.public.scheme), k[1]!.share.identifier),
        sealed: sealTo(oneTime.publicKey, k[1]!.share.toBytes(), aad),
      }),
    );
    const arb = fc.tuple(fc.nat(SCHEMES.length - 1), jsonAround(seeds));
    fuzz(
      'decodeSealedShare',
      arb,
      ([i, j]) => decodeSealedShare(j, SCHEMES[i]!),
      [ProtocolError],
      // Exact: what it accepts is the payload as sent, field for field.
      { check: (p, [, j]) => expect(p).toEqual(j) },
    );
    fuzz(
      'openSealedShare',
      arb,
      ([i, j]) =>
        openSealedShare(j, {
          pub: keys[i]![0]!.public,
          identifier: 2n,
          secretKey: oneTime.secretKey,
          aad,
        }),
      [ProtocolError, CryptoError],
      // Only member 2's own share opens: nothing else gets through.
      { check: (share, [i]) => expect(share.toBytes()).toEqual(keys[i]![1]!.share.toBytes()) },
    );
  });
});

describe('fuzz: ceremony payloads (shared/protocol/ceremony-payload.ts)', () => {
  it('decodeAbort (a participant stops a ceremony): ProtocolError only, exact on what it accepts', () => {
    const seeds = [
      { reason: 'equivocation: bob misbehaved' },
      { reason: 'carol could not be reached (timeout)' },
      { reason: 'x'.repeat(500) },
    ];
    fuzz('decodeAbort', jsonAround(seeds), decodeAbort, [ProtocolError], {
      check: (p, j) => expect(p).toEqual(j),
    });
  });

  it("decodeReconstructDone (the requester's exposure note): ProtocolError only, exact on what it accepts", () => {
    const seeds = [
      { exposed: 'key exposed on bob at 2026-01-01T00:00:00.000Z (migration to a new wallet)' },
      { exposed: `key exposed on bob at 2026-01-01T00:00:00.000Z (${'🔑'.repeat(500)})` },
      { exposed: 'e'.repeat(EXPOSED_MAX) },
    ];
    fuzz('decodeReconstructDone', jsonAround(seeds), decodeReconstructDone, [ProtocolError], {
      check: (p, j) => expect(p).toEqual(j),
    });
  });
});

describe('regressions found by the fuzzer', () => {
  it('an audit entry whose v, seq or at is an object with its own toString is an AuditError', () => {
    const hostile = JSON.parse('{"toString":1}') as unknown;
    for (const field of ['v', 'seq', 'at'])
      expect(() => parseEntry({ v: 1, author: 'peerA', seq: 0, at: 1, [field]: hostile })).toThrow(
        AuditError,
      );
  });

  it('a DKG round-1 package whose version or scheme is such an object is a CryptoError naming its sender', () => {
    const hostile = JSON.parse('[{"toString":1}]') as unknown;
    const params = dkgParams('secp256k1', 2, 3);
    const r1 = params.members.map((m) => dkgRound1(params, m.identifier));
    for (const field of ['version', 'scheme']) {
      const bad = { ...(roundTrip(r1[1]!.package) as object), [field]: hostile };
      expect(() => dkgEcho(r1[0]!.state, [bad, r1[2]!.package] as never)).toThrow(CryptoError);
    }
  });

  it('a DKG round-1 proof of odd-length hex is a CryptoError naming its sender (found by the fuzzer)', () => {
    const params = dkgParams('secp256k1', 2, 3);
    const r1 = params.members.map((m) => dkgRound1(params, m.identifier));
    const bad = { ...(roundTrip(r1[1]!.package) as object), proofOfKnowledge: '0' };
    let err: unknown;
    try {
      dkgEcho(r1[0]!.state, [bad, r1[2]!.package] as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CryptoError);
    expect((err as CryptoError).code).toBe('bad_proof_of_knowledge');
    expect((err as CryptoError).culprits).toEqual([r1[1]!.package.from]);
  });

  it('a public package with odd-length hex is a CryptoError', () => {
    const j = roundTrip(publicPackageToJSON(dealerKeys('ed25519', 2, 3)[0]!.public)) as {
      verifyingShares: Record<string, string>;
    };
    const [id] = Object.keys(j.verifyingShares);
    const bad = { ...j, verifyingShares: { ...j.verifyingShares, [id!]: '0' } };
    expect(() => publicPackageFromJSON(bad as never)).toThrow(CryptoError);
    expect(() => publicPackageFromJSON({ ...j, groupKey: '0' } as never)).toThrow(CryptoError);
  });
});

describe('fuzz: repair payloads (shared/protocol/repair-payload.ts)', () => {
  // Each scheme's 2-of-3 key; helpers 1 and 2 repair member 3's share; the sender is helper 2.
  const helpers = [1n, 2n];
  const lost = 3n;
  const repairKeys = SCHEMES.map((s) => dealerKeys(s, 2, 3));
  const suites = SCHEMES.map((s) => getSuite(s));
  const step1 = repairKeys.map((k) =>
    helpers.map((i) => repairStep1(k[Number(i) - 1]!, helpers, lost)),
  );
  const points = (suite: Suite, c: ReadonlyMap<bigint, GroupPoint>) =>
    Object.fromEntries([...c].map(([j, C]) => [identifierHex(suite, j), bytesToHex(C.toBytes())]));
  const signature = 'cd'.repeat(64);
  const round1 = SCHEMES.map((_, i) =>
    roundTrip({
      from: identifierHex(suites[i]!, 2n),
      commitments: points(suites[i]!, step1[i]![1]!.commitments),
      signature,
    }),
  );
  const echo = SCHEMES.map((_, i) => roundTrip(step1[i]![1]!.parts.get(1n)!.toWire(suites[i]!)));
  const views = (i: number) =>
    new Map(helpers.map((h, k) => [h, { commitments: step1[i]![k]!.commitments, signature }]));
  const round2 = SCHEMES.map((_, i) =>
    roundTrip({
      ...new RepairPart(2n, lost, suites[i]!.randomScalar()).toWire(suites[i]!),
      views: repairViewsToWire(suites[i]!, views(i)),
    }),
  );
  const done = SCHEMES.map((s, i) =>
    roundTrip({
      proof: bytesToHex(
        proveKnowledge(
          suites[i]!,
          lost,
          repairKeys[i]![2]!.share.scalar(),
          repairKeys[i]![0]!.public.verifyingShares.get(lost)!,
          utf8ToBytes(`conclave/repair/${s}`),
        ),
      ),
    }),
  );
  const around = (seeds: unknown[]) =>
    fc.tuple(fc.nat(SCHEMES.length - 1), jsonAround(seeds as never));

  it('decodeRepairCommitments (round 1): ProtocolError only, exact on what it accepts', () => {
    fuzz(
      'decodeRepairCommitments',
      around(round1),
      ([i, j]) => decodeRepairCommitments(j, SCHEMES[i]!, helpers, 2n),
      [ProtocolError],
      {
        check: (p, [i, j]) =>
          expect({
            from: identifierHex(suites[i]!, 2n),
            commitments: points(suites[i]!, p.commitments),
            signature: p.signature,
          }).toEqual(j),
      },
    );
  });

  it('decodeRepairPart (echo): ProtocolError only, exact on what it accepts', () => {
    fuzz(
      'decodeRepairPart',
      around(echo),
      ([i, j]) => decodeRepairPart(j, SCHEMES[i]!, 2n, 1n),
      [ProtocolError],
      { check: (p, [i, j]) => expect(p.toWire(suites[i]!)).toEqual(j) },
    );
  });

  it('decodeRepairSum (round 2): ProtocolError only, exact on what it accepts', () => {
    fuzz(
      'decodeRepairSum',
      around(round2),
      ([i, j]) => decodeRepairSum(j, SCHEMES[i]!, helpers, 2n, lost),
      [ProtocolError],
      {
        runs: Math.ceil(RUNS / 2),
        check: (p, [i, j]) =>
          expect({
            ...p.sum.toWire(suites[i]!),
            views: repairViewsToWire(suites[i]!, p.views),
          }).toEqual(j),
      },
    );
  });

  it('decodeRepairDone (the new device’s proof): ProtocolError only, exact on what it accepts', () => {
    fuzz(
      'decodeRepairDone',
      around(done),
      ([i, j]) => decodeRepairDone(j, SCHEMES[i]!),
      [ProtocolError],
      { check: (proof, [, j]) => expect({ proof: bytesToHex(proof) }).toEqual(j) },
    );
  });
});
