// The wire protocol's strict decoders, signed statements, invites, fingerprints and safety codes.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  decodeInvite,
  encodeInvite,
  fingerprint,
  rosterHash,
  safetyCode,
  type Invite,
  type Roster,
} from '../../shared/protocol/roster.js';
import {
  decodeGroupMessage,
  decodeJoinRequest,
  decodeSigned,
  requestId,
  shareReceiptHash,
  signShareReceipt,
  signStatement,
  statementHash,
  verifyShareReceipt,
  verifyStatement,
  type RequestBody,
} from '../../shared/protocol/wire.js';

const sk = ed25519.utils.randomSecretKey();
const pk = ed25519.getPublicKey(sk);
const gid = 'ab'.repeat(16);

function request(over: Partial<RequestBody> = {}): RequestBody {
  return {
    v: 1,
    type: 'request',
    groupId: gid,
    kind: 'sign',
    message: '68656c6c6f',
    createdBy: 'peerA',
    createdAt: 1,
    expiresAt: 2,
    nonce: '00'.repeat(16),
    policy: 'ab'.repeat(32),
    ...over,
  };
}

describe('signed statements', () => {
  it('verify with the author key and fail after any change to the body', () => {
    const s = signStatement(request(), (h) => ed25519.sign(h, sk));
    expect(verifyStatement(s, pk)).toBe(true);
    expect(verifyStatement({ ...s, body: { ...s.body, message: '00' } }, pk)).toBe(false);
    expect(verifyStatement(s, ed25519.getPublicKey(ed25519.utils.randomSecretKey()))).toBe(false);
  });

  it('verify with the verifier given (noble strict by default); one that throws means invalid', () => {
    const s = signStatement(request(), (h) => ed25519.sign(h, sk));
    const calls: [string, string, string][] = [];
    const spy = (sig: Uint8Array, msg: Uint8Array, key: Uint8Array) => {
      calls.push([bytesToHex(sig), bytesToHex(msg), bytesToHex(key)]);
      return ed25519.verify(sig, msg, key, { zip215: false });
    };
    expect(verifyStatement(s, pk, spy)).toBe(true);
    expect(calls).toEqual([[s.sig, bytesToHex(statementHash(s.body)), bytesToHex(pk)]]);
    expect(verifyStatement(s, pk, () => false)).toBe(false);
    expect(
      verifyStatement(s, pk, () => {
        throw new Error('no Ed25519 here');
      }),
    ).toBe(false);
    const body = {
      v: 1 as const,
      type: 'share-receipt' as const,
      groupId: gid,
      requestId: 'cd'.repeat(16),
      epoch: 0,
      commitments: 'ef'.repeat(32),
      share: '01'.repeat(32),
      by: 'peerA',
    };
    const r = signShareReceipt(body, (h) => ed25519.sign(h, sk));
    expect(verifyShareReceipt(r, pk)).toBe(true);
    calls.length = 0;
    expect(verifyShareReceipt(r, pk, spy)).toBe(true);
    expect(calls).toEqual([[r.sig, bytesToHex(shareReceiptHash(body)), bytesToHex(pk)]]);
    expect(verifyShareReceipt(r, pk, () => false)).toBe(false);
  });

  it('derive the request id from the content, so one id names one request', () => {
    expect(requestId(request())).toBe(requestId(request()));
    expect(requestId(request())).not.toBe(requestId(request({ message: '00' })));
    expect(requestId(request())).toMatch(/^[0-9a-f]{32}$/);
  });

  it('decodeSigned rejects unknown fields, versions, kinds and bad hex', () => {
    const s = signStatement(request(), (h) => ed25519.sign(h, sk));
    expect(decodeSigned(JSON.parse(JSON.stringify(s)))).toEqual(s);
    expect(() => decodeSigned({ ...s, extra: 1 })).toThrow(/unknown field/);
    expect(() => decodeSigned({ ...s, body: { ...s.body, v: 2 } })).toThrow(/version/);
    expect(() => decodeSigned({ ...s, body: { ...s.body, kind: 'decrypt' } })).toThrow(/kind/);
    expect(() => decodeSigned({ ...s, body: { ...s.body, message: 'XYZ' } })).toThrow(/hex/);
    expect(() => decodeSigned({ ...s, body: { ...s.body, evil: true } })).toThrow(/unknown field/);
    expect(() => decodeSigned({ ...s, sig: 'ab' })).toThrow(/sig/);
  });
});

describe('group messages', () => {
  it('decode every known type and reject unknown ones', () => {
    expect(decodeGroupMessage({ v: 1, type: 'hello', addrs: ['/ip4/127.0.0.1/tcp/1'] })).toEqual({
      v: 1,
      type: 'hello',
      addrs: ['/ip4/127.0.0.1/tcp/1'],
    });
    expect(
      decodeGroupMessage({ v: 1, type: 'confirm', groupId: gid, rosterHash: 'cd'.repeat(32) }).type,
    ).toBe('confirm');
    expect(() => decodeGroupMessage({ v: 1, type: 'shutdown' })).toThrow(/unknown message type/);
    expect(() => decodeGroupMessage({ v: 9, type: 'hello', addrs: [] })).toThrow(/version/);
    expect(() => decodeGroupMessage('hello')).toThrow(/object/);
    expect(() =>
      decodeGroupMessage({
        v: 1,
        type: 'dkg',
        groupId: gid,
        session: 'ab'.repeat(32),
        step: 'round9',
        payload: {},
      }),
    ).toThrow(/dkg step/);
    expect(() =>
      decodeGroupMessage({ v: 1, type: 'statements', items: new Array(1001).fill({}) }),
    ).toThrow(/at most 1000/);
  });

  it('decodes the importer’s result and the ceremony status question', () => {
    expect(decodeGroupMessage({ v: 1, type: 'import-result', groupId: gid, ok: true })).toEqual({
      v: 1,
      type: 'import-result',
      groupId: gid,
      ok: true,
    });
    const no = { v: 1, type: 'import-result', groupId: gid, ok: false, reason: 'ned is offline' };
    expect(decodeGroupMessage(no)).toEqual(no);
    expect(() => decodeGroupMessage({ ...no, ok: 'no' })).toThrow(/ok must be a boolean/);
    expect(() => decodeGroupMessage({ ...no, reason: 'x'.repeat(501) })).toThrow(/reason/);
    expect(() => decodeGroupMessage({ ...no, extra: 1 })).toThrow();
    const status = {
      v: 1,
      type: 'ceremony',
      groupId: gid,
      requestId: 'ab'.repeat(16),
      session: 'cd'.repeat(32),
      step: 'status',
      payload: {},
    };
    expect(decodeGroupMessage(status)).toEqual(status);
    expect(() => decodeGroupMessage({ ...status, step: 'commit' })).toThrow(
      /unknown ceremony step/,
    );
  });

  it('decodeJoinRequest checks every field', () => {
    const ok = { v: 1, type: 'join', groupId: gid, token: 'ee'.repeat(32), name: 'bob', addrs: [] };
    expect(decodeJoinRequest(ok)).toEqual(ok);
    expect(() => decodeJoinRequest({ ...ok, name: '' })).toThrow(/name/);
    expect(() => decodeJoinRequest({ ...ok, token: 'zz' })).toThrow(/token/);
    expect(() => decodeJoinRequest({ ...ok, admin: true })).toThrow(/unknown field/);
  });
});

describe('roster, safety code and invite', () => {
  const roster: Roster = {
    groupId: gid,
    name: 'treasury',
    threshold: 2,
    size: 3,
    scheme: 'ed25519',
    creator: 'A',
    members: [
      { index: 1, peerId: 'A', name: 'alice' },
      { index: 2, peerId: 'B', name: 'bob' },
      { index: 3, peerId: 'C', name: 'carol' },
    ],
  };

  it('gives the same safety code for the same roster in any order, and another for any change', () => {
    const code = safetyCode(rosterHash(roster));
    expect(code.split(' ')).toHaveLength(6);
    expect(safetyCode(rosterHash({ ...roster, members: [...roster.members].reverse() }))).toBe(
      code,
    );
    expect(safetyCode(rosterHash({ ...roster, threshold: 3 }))).not.toBe(code);
    expect(
      safetyCode(
        rosterHash({
          ...roster,
          members: roster.members.map((m) => (m.index === 2 ? { ...m, peerId: 'M' } : m)),
        }),
      ),
    ).not.toBe(code);
  });

  it('formats a fingerprint as five groups of four', () => {
    expect(fingerprint(pk)).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){4}$/);
    expect(fingerprint(pk)).not.toBe(
      fingerprint(ed25519.getPublicKey(ed25519.utils.randomSecretKey())),
    );
  });

  it('round-trips an invite and refuses damaged ones with a clear reason', () => {
    const inv: Invite = {
      v: 1,
      groupId: gid,
      name: 'treasury',
      threshold: 2,
      size: 3,
      scheme: 'ed25519',
      creator: 'A',
      addrs: ['/ip4/127.0.0.1/tcp/4001'],
      secret: bytesToHex(new Uint8Array(32).fill(1)),
    };
    const text = encodeInvite(inv);
    expect(decodeInvite(text)).toEqual(inv);
    expect(decodeInvite(`  ${text}\n`)).toEqual(inv);
    expect(() => decodeInvite('hello')).toThrow(/starts with/);
    expect(() => decodeInvite(text.slice(0, -5))).toThrow(/damaged|invite/);
    expect(() => decodeInvite(encodeInvite({ ...inv, threshold: 4 }))).toThrow(/threshold/);
  });
});
