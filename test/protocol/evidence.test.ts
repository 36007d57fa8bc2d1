// Failure outcomes (issue 9, finding 4): a culprit only on a bad share proven by the signer's own
// receipt, a failure only from someone entitled to report it, a timeout never blamed.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { signingKey, type KeyPackage } from '../../shared/crypto/keys.js';
import {
  commit,
  commitmentToJSON,
  partKey,
  SigningPackage,
  signShare,
  type PartSpec,
} from '../../shared/crypto/sign.js';
import { getSuite, SCHEMES, type SchemeName } from '../../shared/crypto/suite.js';
import {
  acceptFailureOutcome,
  checkFailureEvidence,
  receiptProblem,
  type EvidenceContext,
  type FailureContext,
} from '../../shared/protocol/evidence.js';
import {
  commitmentsHash,
  decodeEvidence,
  decodeShareReceipt,
  decodeSigned,
  signShareReceipt,
  signStatement,
  verifyShareReceipt,
  type FailureEvidence,
  type OutcomeBody,
  type ShareReceipt,
  type SignerCommitment,
} from '../../shared/protocol/wire.js';
import { dealerKeys } from '../crypto/helpers.js';

const groupId = 'ab'.repeat(16);
const requestId = 'cd'.repeat(16);
const message = new TextEncoder().encode('pay 1 BTC to bob');

interface Member {
  peerId: string;
  secret: Uint8Array;
  key: KeyPackage;
}

/** A 2-of-3 group from the dealer; members A, B, C with identifiers 1, 2, 3 and identity keys. */
function group(scheme: SchemeName = 'ed25519') {
  const keys = dealerKeys(scheme, 2, 3);
  const members: Member[] = ['peerA', 'peerB', 'peerC'].map((peerId, i) => ({
    peerId,
    secret: ed25519.utils.randomSecretKey(),
    key: keys[i]!,
  }));
  const by = (p: string) => members.find((m) => m.peerId === p);
  const ctx: EvidenceContext = {
    groupId,
    requestId,
    message,
    publicPackage: keys[0]!.public,
    indexOf: (p) => {
      const i = members.findIndex((m) => m.peerId === p);
      return i < 0 ? undefined : i + 1;
    },
    identityKey: (p) => {
      const m = by(p);
      return m && ed25519.getPublicKey(m.secret);
    },
  };
  return { scheme, members, ctx, A: members[0]!, B: members[1]!, C: members[2]! };
}

/**
 * One signing attempt coordinated by A with signer B, as the node runs it: the sign message's
 * commitment list, and B's share over the package built from it. `tamper` makes B return a bad
 * share; B signs a receipt over whatever share it returns.
 */
function attempt(g: ReturnType<typeof group>, tamper = false) {
  const suite = getSuite(g.scheme);
  const nA = commit(g.A.key);
  const nB = commit(g.B.key);
  const commitments: SignerCommitment[] = [
    { peerId: 'peerA', commitment: { ...commitmentToJSON(suite, nA.commitment) } },
    { peerId: 'peerB', commitment: { ...commitmentToJSON(suite, nB.commitment) } },
  ];
  const pkg = new SigningPackage(
    signingKey(g.B.key.public),
    [nA.commitment, nB.commitment],
    message,
  );
  let z = signShare(g.B.key, nB, pkg);
  if (tamper) z = suite.Fn.add(z, 1n);
  const share = bytesToHex(suite.encodeScalar(z));
  const receipt = signShareReceipt(
    {
      v: 1,
      type: 'share-receipt',
      groupId,
      requestId,
      epoch: g.B.key.public.epoch,
      commitments: commitmentsHash(commitments),
      share,
      by: 'peerB',
    },
    (h) => ed25519.sign(h, g.B.secret),
  );
  const evidence: FailureEvidence = { kind: 'bad-share', receipt, commitments };
  return { commitments, share, receipt, evidence };
}

function failure(over: Partial<OutcomeBody> = {}): OutcomeBody {
  return {
    v: 1,
    type: 'outcome',
    groupId,
    requestId,
    failure: 'not enough approvers could sign',
    culprits: [],
    by: 'peerA',
    at: 1,
    ...over,
  };
}

const signCtx = (g: ReturnType<typeof group>, approvers = ['peerA', 'peerB']): FailureContext => ({
  kind: 'sign',
  approvers,
  evidence: g.ctx,
});

describe('checkFailureEvidence', () => {
  it.each(SCHEMES)('%s: a bad share under its signer’s valid receipt names that signer', (s) => {
    const g = group(s);
    const { evidence } = attempt(g, true);
    expect(checkFailureEvidence(evidence, g.ctx)).toEqual({ verdict: 'culprit', peer: 'peerB' });
  });

  it.each(SCHEMES)('%s: a good share presented as bad is disproved', (s) => {
    const g = group(s);
    const { evidence } = attempt(g, false);
    expect(checkFailureEvidence(evidence, g.ctx)).toMatchObject({
      verdict: 'disproved',
      peer: 'peerB',
      reason: 'the share of peerB is valid',
    });
  });

  it('names a signer whose receipt carries something that is not a scalar at all', () => {
    const g = group();
    const { receipt, commitments } = attempt(g, false);
    const junk = signShareReceipt({ ...receipt.body, share: 'ff'.repeat(32) }, (h) =>
      ed25519.sign(h, g.B.secret),
    );
    expect(checkFailureEvidence({ kind: 'bad-share', receipt: junk, commitments }, g.ctx)).toEqual({
      verdict: 'culprit',
      peer: 'peerB',
    });
  });

  it('refuses a receipt signed by someone else in the signer’s name', () => {
    const g = group();
    const { receipt, commitments } = attempt(g, true);
    const forged = signShareReceipt(receipt.body, (h) => ed25519.sign(h, g.C.secret));
    const v = checkFailureEvidence({ kind: 'bad-share', receipt: forged, commitments }, g.ctx);
    expect(v).toEqual({
      verdict: 'disproved',
      peer: 'peerB',
      reason: 'the receipt is not signed by peerB',
    });
  });

  it('refuses commitments other than those the signer signed for, and another request’s receipt', () => {
    const g = group();
    const { receipt, commitments } = attempt(g, true);
    const other = attempt(g, true).commitments;
    expect(
      checkFailureEvidence({ kind: 'bad-share', receipt, commitments: other }, g.ctx),
    ).toMatchObject({ verdict: 'disproved', reason: /commitments/ });
    const elsewhere = { ...g.ctx, requestId: 'ee'.repeat(16) };
    expect(
      checkFailureEvidence({ kind: 'bad-share', receipt, commitments }, elsewhere),
    ).toMatchObject({ verdict: 'disproved', reason: /receipt is for request/ });
  });

  it('treats a genuine receipt it cannot check (other epoch, no key, other roster) as unverified', () => {
    const g = group();
    const { evidence } = attempt(g, true);
    const pub = g.ctx.publicPackage!;
    expect(
      checkFailureEvidence(evidence, { ...g.ctx, publicPackage: { ...pub, epoch: 1 } }),
    ).toMatchObject({
      verdict: 'unverified',
      peer: 'peerB',
      reason: /epoch 0; this node holds epoch 1/,
    });
    expect(checkFailureEvidence(evidence, { ...g.ctx, publicPackage: undefined })).toMatchObject({
      verdict: 'unverified',
    });
    const swapped = { ...g.ctx, indexOf: (p: string) => (p === 'peerA' ? 2 : 1) };
    expect(checkFailureEvidence(evidence, swapped)).toMatchObject({
      verdict: 'unverified',
      reason: /roster/,
    });
  });

  it('never names a timed-out or refusing signer as a culprit', () => {
    const g = group();
    expect(
      checkFailureEvidence({ kind: 'timeout', peer: 'peerB', waitedMs: 30_000 }, g.ctx),
    ).toEqual({ verdict: 'unverified', peer: 'peerB', reason: 'no answer within 30000 ms' });
    expect(
      checkFailureEvidence({ kind: 'refused', peer: 'peerB', reason: 'no share receipt' }, g.ctx),
    ).toMatchObject({ verdict: 'unverified', peer: 'peerB' });
  });
});

describe('evidence for a request with several signatures', () => {
  /** B's share for part `part` of a two-part request, with B's receipt naming the part. */
  function partAttempt(
    g: ReturnType<typeof group>,
    parts: PartSpec[],
    part: number,
    tamper = false,
  ) {
    const suite = getSuite(g.scheme);
    const nA = commit(g.A.key);
    const nB = commit(g.B.key);
    const commitments: SignerCommitment[] = [
      { peerId: 'peerA', commitment: { ...commitmentToJSON(suite, nA.commitment) } },
      { peerId: 'peerB', commitment: { ...commitmentToJSON(suite, nB.commitment) } },
    ];
    const pkg = new SigningPackage(
      partKey(g.B.key.public, parts[part]!),
      [nA.commitment, nB.commitment],
      parts[part]!.message,
    );
    let z = signShare(g.B.key, nB, pkg);
    if (tamper) z = suite.Fn.add(z, 1n);
    const share = bytesToHex(suite.encodeScalar(z));
    const receipt = signShareReceipt(
      {
        v: 1,
        type: 'share-receipt',
        groupId,
        requestId,
        epoch: g.B.key.public.epoch,
        commitments: commitmentsHash(commitments),
        share,
        by: 'peerB',
        ...(part > 0 ? { part } : {}),
      },
      (h) => ed25519.sign(h, g.B.secret),
    );
    return { commitments, share, receipt };
  }

  it('checks a share against the part its receipt names, so an honest share of part 2 is never blamed as part 1', () => {
    const g = group('taproot');
    const parts: PartSpec[] = [
      { message },
      { message: new TextEncoder().encode('input 1'), tweak: false },
    ];
    const ctx = { ...g.ctx, parts };
    const good = partAttempt(g, parts, 1);
    expect(checkFailureEvidence({ kind: 'bad-share', ...good }, ctx).verdict).toBe('disproved');
    const bad = partAttempt(g, parts, 1, true);
    expect(checkFailureEvidence({ kind: 'bad-share', ...bad }, ctx)).toEqual({
      verdict: 'culprit',
      peer: 'peerB',
    });
    // The receipt binds the part: a coordinator cannot move it to another without B's key.
    const moved = { ...good.receipt, body: { ...good.receipt.body, part: undefined } };
    expect(checkFailureEvidence({ kind: 'bad-share', ...good, receipt: moved }, ctx).verdict).toBe(
      'disproved',
    );
    // A receipt for a part the request does not have cannot be checked: reported, not blamed.
    const beyond = partAttempt(g, [...parts, { message }], 2, true);
    expect(checkFailureEvidence({ kind: 'bad-share', ...beyond }, ctx).verdict).toBe('unverified');
    // The coordinator checks the part of each receipt it gets.
    expect(
      receiptProblem(good.receipt, {
        groupId,
        requestId,
        epoch: 0,
        commitments: good.commitments,
        signer: 'peerB',
        share: good.share,
        part: 0,
        identityKey: g.ctx.identityKey,
      }),
    ).toBe('the receipt is for signature 2, not 1');
  });
});

/** What a coordinator expects of peerB's receipt for `share` in an attempt with `commitments`. */
function expectation(
  g: ReturnType<typeof group>,
  commitments: readonly SignerCommitment[],
  share: string,
) {
  return {
    groupId,
    requestId,
    epoch: 0,
    commitments,
    signer: 'peerB',
    share,
    identityKey: g.ctx.identityKey,
  };
}

describe('acceptFailureOutcome', () => {
  it('blames a signer proven to have returned a bad share, and only it', () => {
    const g = group();
    const { evidence } = attempt(g, true);
    const d = acceptFailureOutcome(
      failure({
        culprits: ['peerB', 'peerC'],
        evidence: [evidence],
        attempt: { coordinator: 'peerA', signers: ['peerA', 'peerB'] },
      }),
      signCtx(g, ['peerA', 'peerB', 'peerC']),
    );
    expect(d).toEqual({
      accept: true,
      culprits: ['peerB'],
      reported: [{ peer: 'peerC', reason: 'named by peerA without evidence' }],
    });
  });

  it('refuses an outcome that presents a good share as bad', () => {
    const g = group();
    const { evidence } = attempt(g, false);
    const d = acceptFailureOutcome(
      failure({ culprits: ['peerB'], evidence: [evidence] }),
      signCtx(g),
    );
    expect(d).toMatchObject({ accept: false, culprits: [] });
    expect(d.reason).toMatch(/^false evidence against peerB/);
  });

  it('refuses an outcome whose receipt someone else signed', () => {
    const g = group();
    const { receipt, commitments } = attempt(g, true);
    const forged = signShareReceipt(receipt.body, (h) => ed25519.sign(h, g.A.secret));
    const d = acceptFailureOutcome(
      failure({
        culprits: ['peerB'],
        evidence: [{ kind: 'bad-share', receipt: forged, commitments }],
      }),
      signCtx(g),
    );
    expect(d).toMatchObject({ accept: false, culprits: [] });
  });

  it("refuses a non-approver's failure, whatever evidence it carries", () => {
    const g = group();
    const { evidence } = attempt(g, true);
    const d = acceptFailureOutcome(
      failure({ by: 'peerC', culprits: ['peerB'], evidence: [evidence] }),
      signCtx(g, ['peerA', 'peerB']),
    );
    expect(d).toEqual({
      accept: false,
      culprits: [],
      reported: [],
      reason: 'peerC has not approved this request',
    });
  });

  it('refuses an attempt coordinated by another, or one that asked a non-approver', () => {
    const g = group();
    expect(
      acceptFailureOutcome(
        failure({ attempt: { coordinator: 'peerB', signers: ['peerA', 'peerB'] } }),
        signCtx(g),
      ).accept,
    ).toBe(false);
    expect(
      acceptFailureOutcome(
        failure({ attempt: { coordinator: 'peerA', signers: ['peerA', 'peerC'] } }),
        signCtx(g),
      ).reason,
    ).toBe('the attempt asked peerC, who has not approved');
  });

  it('takes a timeout as the coordinator’s report, never as a culprit', () => {
    const g = group();
    const d = acceptFailureOutcome(
      failure({
        culprits: ['peerB'],
        evidence: [{ kind: 'timeout', peer: 'peerB', waitedMs: 30_000 }],
      }),
      signCtx(g),
    );
    expect(d.accept).toBe(true);
    expect(d.culprits).toEqual([]);
    expect(d.reported).toEqual([
      { peer: 'peerB', reason: 'reported by peerA: no answer within 30000 ms' },
      { peer: 'peerB', reason: 'named by peerA without evidence' },
    ]);
  });

  it('takes culprits without evidence (an outcome of today’s format) as reports only', () => {
    const g = group();
    const d = acceptFailureOutcome(failure({ culprits: ['peerB'] }), signCtx(g));
    expect(d).toEqual({
      accept: true,
      culprits: [],
      reported: [{ peer: 'peerB', reason: 'named by peerA without evidence' }],
    });
  });

  it('reports a bad share it has no package to check, without blaming', () => {
    const g = group();
    const { evidence } = attempt(g, true);
    const d = acceptFailureOutcome(failure({ evidence: [evidence] }), {
      kind: 'sign',
      approvers: ['peerA', 'peerB'],
    });
    expect(d).toEqual({
      accept: true,
      culprits: [],
      reported: [{ peer: 'peerB', reason: 'reported by peerA: this node cannot check it' }],
    });
  });

  it('refuses a signature outcome, which is checked against the group key instead', () => {
    const g = group();
    expect(acceptFailureOutcome(failure({ signature: '00' }), signCtx(g)).accept).toBe(false);
  });

  it('takes a ceremony failure from a participant without blame, and refuses others and policy', () => {
    const g = group();
    const ctx: FailureContext = {
      kind: 'refresh',
      approvers: [],
      participants: ['peerA', 'peerB'],
    };
    const { evidence } = attempt(g, true);
    expect(
      acceptFailureOutcome(failure({ culprits: ['peerB'], evidence: [evidence] }), ctx),
    ).toEqual({
      accept: true,
      culprits: [],
      reported: [
        { peer: 'peerB', reason: 'named by peerA without evidence' },
        { peer: 'peerB', reason: 'reported by peerA: bad-share' },
      ],
    });
    expect(acceptFailureOutcome(failure({ by: 'peerC' }), ctx)).toMatchObject({
      accept: false,
      reason: 'peerC does not take part in this refresh',
    });
    expect(acceptFailureOutcome(failure(), { kind: 'policy', approvers: ['peerA'] }).accept).toBe(
      false,
    );
  });
});

describe('share receipts on the wire', () => {
  it('receiptProblem accepts the receipt of the share returned and names any mismatch', () => {
    const g = group();
    const { receipt, commitments, share } = attempt(g, false);
    const expect0 = expectation(g, commitments, share);
    expect(receiptProblem(receipt, expect0)).toBeUndefined();
    expect(receiptProblem(undefined, expect0)).toBe('no share receipt');
    expect(receiptProblem(receipt, { ...expect0, share: '00'.repeat(32) })).toMatch(
      /another share/,
    );
    expect(receiptProblem(receipt, { ...expect0, signer: 'peerC' })).toMatch(/signed for peerB/);
    expect(receiptProblem(receipt, { ...expect0, epoch: 1 })).toMatch(/epoch 0/);
    expect(
      receiptProblem(receipt, { ...expect0, commitments: [...commitments].reverse() }),
    ).toMatch(/other commitments/);
    const forged: ShareReceipt = {
      ...receipt,
      sig: bytesToHex(ed25519.sign(randomBytes(32), g.C.secret)),
    };
    expect(receiptProblem(forged, expect0)).toBe('the receipt is not signed by peerB');
  });

  it('receiptProblem checks the signature with the verifier it is given', () => {
    const g = group();
    const { receipt, commitments, share } = attempt(g, false);
    const calls: Uint8Array[] = [];
    const base = expectation(g, commitments, share);
    const yes = (_s: Uint8Array, _m: Uint8Array, key: Uint8Array) => (calls.push(key), true);
    expect(receiptProblem(receipt, { ...base, verify: yes })).toBeUndefined();
    expect(calls).toEqual([g.ctx.identityKey('peerB')]);
    expect(receiptProblem(receipt, { ...base, verify: () => false })).toBe(
      'the receipt is not signed by peerB',
    );
  });

  it('a receipt survives a JSON round trip, and any change breaks its signature', () => {
    const g = group();
    const { receipt } = attempt(g, true);
    const back = decodeShareReceipt(JSON.parse(JSON.stringify(receipt)));
    expect(back).toEqual(receipt);
    const key = ed25519.getPublicKey(g.B.secret);
    expect(verifyShareReceipt(back, key)).toBe(true);
    expect(verifyShareReceipt({ ...back, body: { ...back.body, epoch: 1 } }, key)).toBe(false);
  });

  it('decodes strictly: unknown fields, kinds and types are refused', () => {
    const g = group();
    const { receipt, evidence } = attempt(g, true);
    const raw = JSON.parse(JSON.stringify(receipt));
    expect(() => decodeShareReceipt({ ...raw, extra: 1 })).toThrow(/unknown field/);
    expect(() => decodeShareReceipt({ ...raw, body: { ...raw.body, extra: 1 } })).toThrow(
      /unknown field/,
    );
    expect(() => decodeShareReceipt({ ...raw, body: { ...raw.body, type: 'outcome' } })).toThrow(
      /share-receipt/,
    );
    expect(() => decodeShareReceipt({ ...raw, body: { ...raw.body, v: 2 } })).toThrow(/version/);
    const ev = JSON.parse(JSON.stringify(evidence));
    expect(decodeEvidence(ev)).toEqual(evidence);
    expect(() => decodeEvidence({ ...ev, kind: 'rumour' })).toThrow(/unknown kind/);
    expect(() => decodeEvidence({ kind: 'timeout', peer: 'p', waitedMs: -1 })).toThrow(/waitedMs/);
    expect(() =>
      decodeEvidence({
        ...ev,
        commitments: [
          { ...ev.commitments[0], commitment: { ...ev.commitments[0].commitment, x: '00' } },
        ],
      }),
    ).toThrow(/unknown field/);
  });

  it('an outcome carries evidence and its attempt, and today’s outcomes still decode', () => {
    const g = group();
    const { evidence } = attempt(g, true);
    const body = failure({
      culprits: ['peerB'],
      evidence: [evidence, { kind: 'timeout', peer: 'peerC', waitedMs: 5 }],
      attempt: { coordinator: 'peerA', signers: ['peerA', 'peerB'] },
    });
    const s = signStatement(body, (h) => ed25519.sign(h, g.A.secret));
    expect(decodeSigned(JSON.parse(JSON.stringify(s)))).toEqual(s);
    const old = signStatement(failure({ culprits: ['peerB'] }), (h) => ed25519.sign(h, g.A.secret));
    expect(decodeSigned(JSON.parse(JSON.stringify(old)))).toEqual(old);
    const tooMany = { ...body, evidence: Array.from({ length: 51 }, () => body.evidence![1]) };
    expect(() => decodeSigned({ body: tooMany, sig: s.sig })).toThrow(/at most 50/);
    expect(() =>
      decodeSigned({ body: { ...body, attempt: { coordinator: 'peerA' } }, sig: s.sig }),
    ).toThrow(/signers/);
  });
});
