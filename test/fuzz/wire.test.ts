// Fuzzes the wire decoders (group messages, signed statements, share receipts, evidence, ECDH
// answers and partials, audit-heads answers, join requests, invites): arbitrary JSON and damaged valid messages either
// decode or throw ProtocolError (CryptoError for ECDH partials), and what decodes decodes again to
// the same value after a JSON round trip (so two members never read one message differently).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { splitSecret } from '../../shared/crypto/dealer.js';
import { ecdhPartial, ecdhPartialFromJSON, ecdhPartialToJSON } from '../../shared/crypto/ecdh.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { getSuite, SCHEMES } from '../../shared/crypto/suite.js';
import { decodeInvite, encodeInvite, type Invite } from '../../shared/protocol/roster.js';
import {
  decodeAuditHeadsAnswer,
  decodeEcdhAnswer,
  decodeEvidence,
  decodeGroupMessage,
  decodeJoinRequest,
  decodeShareReceipt,
  decodeSigned,
  ProtocolError,
  signShareReceipt,
  signStatement,
  type StatementBody,
} from '../../shared/protocol/wire.js';
import {
  ChannelProtocolError,
  encodeFrame,
  encodeRequest,
  FRAME,
  FrameParser,
  type FrameHeader,
} from '../../main/net/channel.js';
import { fuzz, jsonAround, mutateBytes, textAround } from './fuzz.js';

const sk = new Uint8Array(32).fill(7);
const signer = (h: Uint8Array) => ed25519.sign(h, sk);
const GID = 'ab'.repeat(16);
const RID = 'cd'.repeat(16);
const PEER = '12D3KooWAbcdefghijkLMNOPQRSTuvwxyz1234567890abcdefgh';
const roundTrip = <T>(v: T): unknown => JSON.parse(JSON.stringify(v));

const request: StatementBody = {
  v: 1,
  type: 'request',
  groupId: GID,
  kind: 'sign',
  message: '68656c6c6f',
  createdBy: PEER,
  createdAt: 1,
  expiresAt: 2,
  nonce: '00'.repeat(16),
  policy: 'ab'.repeat(32),
};
const decision: StatementBody = {
  v: 1,
  type: 'decision',
  groupId: GID,
  requestId: RID,
  requestHash: 'ef'.repeat(32),
  decision: 'deny',
  reason: 'not today',
  by: PEER,
  at: 5,
};
const receipt = signShareReceipt(
  {
    v: 1,
    type: 'share-receipt',
    groupId: GID,
    requestId: RID,
    epoch: 2,
    commitments: '12'.repeat(32),
    share: '34'.repeat(32),
    by: PEER,
    part: 3,
  },
  signer,
);
const commitment = {
  peerId: PEER,
  commitment: { identifier: '01'.repeat(32), hiding: '02'.repeat(32), binding: '03'.repeat(32) },
};
const evidence = [
  { kind: 'bad-share', receipt, commitments: [commitment, commitment] },
  { kind: 'timeout', peer: PEER, waitedMs: 10_000 },
  { kind: 'refused', peer: PEER, reason: 'no nonce' },
];
const outcome: StatementBody = {
  v: 1,
  type: 'outcome',
  groupId: GID,
  requestId: RID,
  failure: 'a signer sent a bad share',
  culprits: [PEER],
  evidence: evidence as never,
  attempt: { coordinator: PEER, signers: [PEER, 'p2', 'p3'] },
  by: PEER,
  at: 9,
};
const signed = [request, decision, outcome].map((b) => roundTrip(signStatement(b, signer)));

const groupMessages: unknown[] = [
  {
    v: 1,
    type: 'roster',
    groupId: GID,
    name: 'Treasury',
    threshold: 2,
    size: 3,
    scheme: 'ed25519',
    creator: PEER,
    createdAt: 1_700_000_000_000,
    members: [
      { index: 1, peerId: PEER, name: 'Alice', addrs: ['/ip4/127.0.0.1/tcp/1'] },
      { index: 2, peerId: 'p2', name: 'Bob', addrs: [] },
    ],
    importedKey: '02'.repeat(33),
  },
  { v: 1, type: 'hello', addrs: ['/ip4/127.0.0.1/tcp/4001'] },
  { v: 1, type: 'confirm', groupId: GID, rosterHash: 'aa'.repeat(32) },
  { v: 1, type: 'dkg', groupId: GID, session: 'bb'.repeat(32), step: 'echo', payload: { x: 1 } },
  { v: 1, type: 'statements', items: signed },
  { v: 1, type: 'nonces', groupId: GID, epoch: 3, replace: true, commitments: [{ a: '01' }] },
  {
    v: 1,
    type: 'sign',
    groupId: GID,
    requestId: RID,
    commitments: [{ peerId: PEER, commitment: { hiding: '02' } }],
    approvals: [signed[1]],
    part: 2,
  },
  { v: 1, type: 'ecdh', groupId: GID, requestId: RID, approvals: [signed[1]] },
  { v: 1, type: 'audit', groupId: GID, entries: [{ seq: 1 }] },
  { v: 1, type: 'audit-heads', groupId: GID },
  { v: 1, type: 'audit-want', groupId: GID },
  { v: 1, type: 'import-result', groupId: GID, ok: false, reason: 'share mismatch' },
  { v: 1, type: 'import-share', groupId: GID, publicPackage: { a: 1 }, share: '05'.repeat(32) },
  {
    v: 1,
    type: 'ceremony',
    groupId: GID,
    requestId: RID,
    session: 'cc'.repeat(32),
    step: 'status',
    payload: {},
  },
];

const suites = SCHEMES.map((s) => getSuite(s));
const partials = SCHEMES.map((scheme, i) => {
  const suite = suites[i]!;
  const keys = splitSecret(scheme, suite.randomScalar(), 2, [1n, 2n, 3n]);
  return roundTrip(ecdhPartialToJSON(suite, ecdhPartial(keys[0]!, suite.G.multiply(5n))));
});
const ecdhAnswers: unknown[] = [{ partials }, { error: 'not approved' }];
const auditHeadsAnswers: unknown[] = [
  { heads: [] },
  {
    heads: [
      { author: `${PEER}/${GID}`, seq: 0, hash: 'aa'.repeat(32) },
      { author: `p2/${GID}`, seq: 9_007_199_254_740_991, hash: 'bb'.repeat(32) },
    ],
  },
];

const invite: Invite = {
  v: 1,
  groupId: GID,
  name: 'Treasury',
  threshold: 2,
  size: 3,
  scheme: 'secp256k1',
  creator: PEER,
  addrs: ['/ip4/127.0.0.1/tcp/4001/p2p/' + PEER],
  secret: '99'.repeat(32),
  importedKey: '03'.repeat(33),
};
const join = {
  v: 1,
  type: 'join',
  groupId: GID,
  token: '77'.repeat(32),
  name: 'Dave',
  addrs: ['/ip4/10.0.0.1/tcp/1'],
};

/** What decodes decodes again, after the JSON round trip a relay would give it, to the same value. */
function stable<R>(decode: (v: unknown) => R) {
  return (r: R) => expect(decode(roundTrip(r))).toEqual(r);
}

describe('fuzz: wire decoders', () => {
  it('decodeGroupMessage: ProtocolError or a stable decoding', () => {
    fuzz('decodeGroupMessage', jsonAround(groupMessages), decodeGroupMessage, [ProtocolError], {
      check: stable(decodeGroupMessage),
    });
  });

  it('decodeSigned: ProtocolError or a stable decoding', () => {
    fuzz('decodeSigned', jsonAround(signed), decodeSigned, [ProtocolError], {
      check: stable(decodeSigned),
    });
  });

  it('decodeShareReceipt: ProtocolError or a stable decoding', () => {
    fuzz(
      'decodeShareReceipt',
      jsonAround([roundTrip(receipt)]),
      decodeShareReceipt,
      [ProtocolError],
      {
        check: stable(decodeShareReceipt),
      },
    );
  });

  it('decodeEvidence: ProtocolError or a stable decoding', () => {
    fuzz(
      'decodeEvidence',
      jsonAround(evidence.map(roundTrip)),
      (v) => decodeEvidence(v),
      [ProtocolError],
      {
        check: stable((v) => decodeEvidence(v)),
      },
    );
  });

  it('decodeEcdhAnswer (the ecdh message answer): ProtocolError or a stable decoding', () => {
    fuzz('decodeEcdhAnswer', jsonAround(ecdhAnswers), decodeEcdhAnswer, [ProtocolError], {
      check: stable(decodeEcdhAnswer),
    });
  });

  it('decodeAuditHeadsAnswer (the audit-heads answer): ProtocolError or a stable decoding', () => {
    fuzz(
      'decodeAuditHeadsAnswer',
      jsonAround(auditHeadsAnswers),
      decodeAuditHeadsAnswer,
      [ProtocolError],
      { check: stable(decodeAuditHeadsAnswer) },
    );
  });

  it('ecdhPartialFromJSON: CryptoError, or a partial that encodes back to its input', () => {
    const arb = fc.tuple(fc.nat(SCHEMES.length - 1), jsonAround(partials));
    fuzz(
      'ecdhPartialFromJSON',
      arb,
      ([i, j]) => ecdhPartialFromJSON(suites[i]!, j),
      [CryptoError],
      {
        check: (p, [i, j]) => expect(ecdhPartialToJSON(suites[i]!, p)).toEqual(j),
      },
    );
  });

  it('decodeJoinRequest: ProtocolError or a stable decoding', () => {
    fuzz('decodeJoinRequest', jsonAround([join]), decodeJoinRequest, [ProtocolError], {
      check: stable(decodeJoinRequest),
    });
  });

  it('decodeInvite: ProtocolError(bad_invite), or an invite that encodes back to itself', () => {
    const valid = encodeInvite(invite);
    const arb = fc.oneof(
      textAround([valid]),
      // Damage inside the base64: the JSON itself, then re-encoded, as a forged invite would be.
      jsonAround([invite]).map(
        (j) => 'conclave-invite:' + Buffer.from(JSON.stringify(j) ?? '').toString('base64url'),
      ),
    );
    fuzz('decodeInvite', arb, decodeInvite, [ProtocolError], {
      check: (inv) => expect(decodeInvite(encodeInvite(inv))).toEqual(inv),
    });
    // Every refusal is a bad_invite, which the UI shows as such.
    fc.assert(
      fc.property(textAround([valid]), (t) => {
        try {
          decodeInvite(t);
        } catch (e) {
          expect((e as ProtocolError).code).toBe('bad_invite');
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('fuzz: the request channel’s frames (main/net/channel.ts)', () => {
  const enc = new TextEncoder();
  const stream = Uint8Array.from([
    ...encodeRequest(1, '/conclave/group/1.0.0', enc.encode('{"v":1}')),
    ...encodeFrame(FRAME.RESPONSE, 1, [enc.encode('{"ok":null}')]),
    ...encodeFrame(FRAME.CANCEL, 2, []),
  ]);

  it('FrameParser: frames whose headers are sound, or ChannelProtocolError; never more bytes held than a frame', () => {
    fuzz(
      'FrameParser',
      fc.tuple(mutateBytes([stream]), fc.integer({ min: 1, max: 64 })),
      ([bytes, piece]) => {
        const seen: FrameHeader[] = [];
        const p = new FrameParser(
          () => true,
          (h, body) => {
            expect(body.byteLength).toBe(h.bodyLength);
            seen.push(h);
          },
        );
        for (let at = 0; at < bytes.byteLength; at += piece) p.push(bytes.subarray(at, at + piece));
        return { seen, buffered: p.buffered, total: bytes.byteLength };
      },
      [ChannelProtocolError],
      {
        check: ({ seen, buffered, total }) => {
          for (const h of seen) {
            expect([FRAME.REQUEST, FRAME.RESPONSE, FRAME.CANCEL]).toContain(h.kind);
            if (h.kind === FRAME.REQUEST) expect(h.protocol).toMatch(/^\/[\x21-\x7e]{1,127}$/);
            else expect(h.protocol).toBe('');
          }
          expect(buffered).toBeLessThanOrEqual(total);
        },
      },
    );
  });
});

describe('regressions found by the fuzzer', () => {
  // A peer's JSON object with its own "toString" key made String(v) throw a TypeError (Cannot
  // convert object to primitive value) while building the refusal's message.
  const hostile = JSON.parse('{"toString":1}') as unknown;
  it.each([
    ['message version', () => decodeGroupMessage({ v: hostile })],
    ['message type', () => decodeGroupMessage({ v: 1, type: hostile })],
    ['statement version', () => decodeSigned({ sig: '00'.repeat(64), body: { v: hostile } })],
    ['statement type', () => decodeSigned({ sig: '00'.repeat(64), body: { v: 1, type: hostile } })],
    ['evidence kind', () => decodeEvidence({ kind: hostile })],
    ['receipt version', () => decodeShareReceipt({ sig: '00'.repeat(64), body: { v: hostile } })],
    ['join version', () => decodeJoinRequest({ ...join, v: hostile })],
    [
      'roster scheme',
      () => decodeGroupMessage({ ...(groupMessages[0] as object), scheme: hostile }),
    ],
    [
      'invite version',
      () =>
        decodeInvite(
          'conclave-invite:' + Buffer.from('{"v":{"toString":1}}').toString('base64url'),
        ),
    ],
    ['invite not a string', () => decodeInvite(hostile as string)],
  ])('a value with its own toString (%s) is a ProtocolError', (_, f) => {
    expect(f).toThrow(ProtocolError);
  });
});
