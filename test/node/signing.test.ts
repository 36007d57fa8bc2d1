// The signing service alone, signer side: it never signs a request that it, the coordinator and
// every chosen signer did not approve, nor a request of another kind than "sign"; a released share
// comes with a signed receipt and one entry in the signer's own audit log. And how a member takes
// a failure outcome: only from the attempt's coordinator, blaming only what evidence proves.
import { bytesToHex } from '@noble/hashes/utils.js';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { publicPackageToJSON, signingKey } from '../../shared/crypto/keys.js';
import {
  commit,
  commitmentFromJSON,
  commitmentToJSON,
  aggregate,
  SigningPackage,
  signShare,
} from '../../shared/crypto/sign.js';
import { getSuite } from '../../shared/crypto/suite.js';
import { acceptFailureOutcome } from '../../shared/protocol/evidence.js';
import {
  commitmentsHash,
  decodeShareReceipt,
  signShareReceipt,
  signStatement,
  verifyShareReceipt,
  verifyStatement,
  type OutcomeBody,
  type SignerCommitment,
  type Signed,
} from '../../shared/protocol/wire.js';
import type { NodeServices } from '../../main/node/context.js';
import { RequestsService } from '../../main/node/requests.js';
import { SigningService } from '../../main/node/signing.js';
import type { RequestKind } from '../../main/store/index.js';
import { dealerKeys, torsion } from '../crypto/helpers.js';
import { harness, peer, readyGroup, requestEnvelope, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([peer('alice'), peer('bob'), peer('carol')]);
});

function setup(kind: RequestKind = 'sign') {
  const h = harness(alice);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  const now = Date.now();
  h.store.requests.insert({
    id: 'r1',
    groupId,
    kind,
    message: new TextEncoder().encode('pay 1'),
    createdBy: bob.peerId,
    createdAt: now,
    expiresAt: now + 60_000,
    status: 'pending',
    culprits: [],
    envelope: requestEnvelope(bob, groupId, kind, new TextEncoder().encode('pay 1')),
    updatedAt: now,
  });
  const approve = (who: Peer) =>
    h.store.decisions.insert({
      requestId: 'r1',
      peerId: who.peerId,
      decision: 'approve',
      statement: '{}',
      at: now,
    });
  const deps = {
    requests: {
      policyRefusal: () => undefined,
      needed: () => 2,
      refreshOwed: () => undefined,
      acceptStatement: () => undefined,
      approversOf: (r: { id: string }) =>
        h.store.decisions
          .list(r.id)
          .filter((d) => d.decision === 'approve')
          .map((d) => d.peerId),
    },
  } as unknown as NodeServices;
  const signing = new SigningService(h.ctx, deps);
  const ask = (from: Peer, signers: Peer[]) =>
    signing.onSign(from.peerId, {
      v: 1,
      type: 'sign',
      groupId,
      requestId: 'r1',
      commitments: signers.map((s) => ({ peerId: s.peerId, commitment: {} })),
    });
  return { ...h, approve, ask };
}

describe('SigningService (signer)', () => {
  it('refuses when this member did not approve', async () => {
    const { approve, ask } = setup();
    approve(bob);
    approve(carol);
    expect(await ask(bob, [bob, alice])).toEqual({
      error: 'this custodian did not approve the request',
    });
  });

  it('refuses a coordinator that did not approve', async () => {
    const { approve, ask } = setup();
    approve(alice);
    approve(bob);
    expect(await ask(carol, [carol, alice])).toEqual({
      error: 'the coordinator did not approve the request',
    });
  });

  it('refuses a signer set with a member that did not approve', async () => {
    const { approve, ask } = setup();
    approve(alice);
    approve(bob);
    expect(await ask(bob, [bob, alice, carol])).toEqual({
      error: 'carol has not approved (as far as this node knows)',
    });
  });

  it('never signs a ceremony request', async () => {
    const { approve, ask } = setup('refresh');
    approve(alice);
    approve(bob);
    expect(await ask(bob, [bob, alice])).toEqual({ error: 'a refresh request is never signed' });
  });

  it('drops a sign message from a non-member', async () => {
    const { ask } = setup();
    const dave = await peer('dave');
    await expect(ask(dave, [dave, alice])).rejects.toThrow(/non_member/);
  });
});

/** `who`'s signed receipt for `share` (hex), released over `list` at epoch 0. */
function receiptBy(
  who: Peer,
  groupId: string,
  requestId: string,
  list: SignerCommitment[],
  share: string,
) {
  return signShareReceipt(
    {
      v: 1,
      type: 'share-receipt',
      groupId,
      requestId,
      epoch: 0,
      commitments: commitmentsHash(list),
      share,
      by: who.peerId,
    },
    (m) => who.sign(m),
  );
}

/**
 * alice's node in a 2-of-3 group with dealt keys (hers the first): one pending sign request `id`
 * over `text` made by `createdBy`, with `decisions` stored as given.
 */
function signRequestCase(
  id: string,
  text: string,
  createdBy: Peer,
  decisions: [Peer, 'approve' | 'deny'][],
) {
  const h = harness(alice);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  const keys = dealerKeys('ed25519', 2, 3);
  h.ctx.keys.set(groupId, keys[0]!);
  const message = new TextEncoder().encode(text);
  const now = Date.now();
  h.store.requests.insert({
    id,
    groupId,
    kind: 'sign',
    message,
    createdBy: createdBy.peerId,
    createdAt: now,
    expiresAt: now + 60_000,
    status: 'pending',
    culprits: [],
    envelope: requestEnvelope(createdBy, groupId, 'sign', message),
    updatedAt: now,
  });
  for (const [who, decision] of decisions)
    h.store.decisions.insert({
      requestId: id,
      peerId: who.peerId,
      decision,
      statement: '{}',
      at: now,
    });
  return { h, groupId, keys, message };
}

/** The requests service's answers about approvals, read from `h`'s store. */
function storedApprovals(h: ReturnType<typeof harness>) {
  return {
    approversOf: (r: { id: string }) =>
      h.store.decisions
        .list(r.id)
        .filter((d) => d.decision === 'approve')
        .map((d) => d.peerId),
    decisionsOf: (r: { id: string }) => h.store.decisions.list(r.id),
  };
}

describe('SigningService (signer): releasing a share', () => {
  const RID = 'cd'.repeat(16);
  /** Alice holds a real share (the dealer's, index 1) and has given bob commitments. */
  async function released() {
    const { h, groupId, keys } = signRequestCase(RID, 'pay 1', bob, [
      [alice, 'approve'],
      [bob, 'approve'],
    ]);
    const deps = {
      requests: {
        ...storedApprovals(h),
        policyRefusal: () => undefined,
        needed: () => 2,
        refreshOwed: () => undefined,
        acceptStatement: () => undefined,
        updateRequest: (id: string, patch: object) => h.store.requests.update(id, patch),
        evaluate: () => undefined,
      },
    } as unknown as NodeServices;
    const signing = new SigningService(h.ctx, deps);
    await signing.sendNonces(groupId, bob.peerId, true);
    const pool = h.sent.find((s) => s.msg.type === 'nonces')!.msg.commitments as Record<
      string,
      unknown
    >[];
    const suite = getSuite('ed25519');
    const commitments: SignerCommitment[] = [
      {
        peerId: bob.peerId,
        commitment: { ...commitmentToJSON(suite, commit(keys[1]!).commitment) },
      },
      { peerId: alice.peerId, commitment: pool[0]! },
    ];
    const ask = (by: SigningService = signing, list: SignerCommitment[] = commitments) =>
      by.onSign(bob.peerId, { v: 1, type: 'sign', groupId, requestId: RID, commitments: list });
    const ownShareEntries = () =>
      h.store.audit
        .list({ author: `${alice.peerId}/${groupId}` })
        .filter((e) => e.type === 'request.share_released');
    /** The same node started again: its nonces and what it remembered are gone, its log stays. */
    const restarted = () => new SigningService(h.ctx, deps);
    return { ...h, groupId, ask, commitments, ownShareEntries, signing, restarted, keys, suite };
  }

  it('returns its share with a receipt signed by its identity key, and writes one audit entry', async () => {
    const { ask, commitments, ownShareEntries, groupId, store } = await released();
    const res = (await ask()) as { share: string; receipt: unknown };
    const receipt = decodeShareReceipt(res.receipt);
    expect(verifyShareReceipt(receipt, alice.publicKey)).toBe(true);
    expect(receipt.body).toMatchObject({
      groupId,
      requestId: RID,
      epoch: 0,
      by: alice.peerId,
      share: res.share,
      commitments: commitmentsHash(commitments),
    });
    const entries = ownShareEntries();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.body).toMatchObject({ id: RID, coordinator: bob.peerId });
    // The nonce is used: asked again with it, no second share and no second share entry; its own
    // records show the coordinator reused it, so the coordinator is named (request.share_refused).
    expect(await ask()).toMatchObject({ error: expect.stringMatching(/^share refused: /) });
    expect(ownShareEntries()).toHaveLength(1);
    expect(store.requests.get(RID)!.culprits).toEqual([bob.peerId]);
  });

  it('refuses a commitment it used before it restarted (its nonce records are its audit log)', async () => {
    const { ask, ownShareEntries, restarted, store } = await released();
    expect(await ask()).toHaveProperty('share');
    const again = restarted();
    expect(await ask(again)).toEqual({
      error: expect.stringMatching(
        /^share refused: it sent a commitment of this signer's that was already used \(request cd/,
      ),
    });
    expect(ownShareEntries()).toHaveLength(1);
    expect(store.requests.get(RID)!.culprits).toEqual([bob.peerId]);
  });

  it('refuses a commitment used after it first looked for used ones (what it knows is kept up to date)', async () => {
    const { ask, ownShareEntries, commitments, keys, suite } = await released();
    // A commitment it never gave: it looks through its records (none used), answers 'stale'
    // and sends fresh commitments.
    const unknown: SignerCommitment[] = [
      commitments[0]!,
      {
        peerId: alice.peerId,
        commitment: { ...commitmentToJSON(suite, commit(keys[0]!).commitment) },
      },
    ];
    const stale = (await ask(undefined, unknown)) as { stale?: boolean; nonces?: unknown[] };
    expect(stale.stale).toBe(true);
    const fresh: SignerCommitment[] = [
      commitments[0]!,
      { peerId: alice.peerId, commitment: stale.nonces![0] as Record<string, unknown> },
    ];
    expect(await ask(undefined, fresh)).toHaveProperty('share');
    expect(await ask(undefined, fresh)).toEqual({
      error: expect.stringMatching(/^share refused: .*already used \(request cd/),
    });
    expect(ownShareEntries()).toHaveLength(1);
  });

  it('takes its own commitment as it made it, and still checks every other signer’s', async () => {
    const { ask, commitments, ownShareEntries } = await released();
    const decode = vi.spyOn(await import('../../shared/crypto/sign.js'), 'commitmentFromJSON');
    decode.mockClear();
    expect(await ask()).toHaveProperty('share');
    // Only bob's commitment was decoded (alice's is the one she holds).
    expect(decode).toHaveBeenCalledTimes(1);
    expect(decode.mock.calls[0]![1]).toEqual(commitments[0]!.commitment);
    vi.restoreAllMocks();
    expect(ownShareEntries()).toHaveLength(1);
  });

  it('releases nothing when its audit entry cannot be written', async () => {
    const { ask, store, ownShareEntries } = await released();
    vi.spyOn(store.audit, 'append').mockImplementation(() => {
      throw new Error('disk full');
    });
    await expect(ask()).rejects.toThrow(/disk full/);
    vi.restoreAllMocks();
    expect(ownShareEntries()).toHaveLength(0);
    expect(store.requests.get(RID)!.status).toBe('pending');
  });
});

describe('RequestsService: a failure outcome (finding 4)', () => {
  function setupRequests() {
    const h = harness(alice);
    const groupId = readyGroup(h.store, [alice, bob, carol], 2);
    const keys = dealerKeys('ed25519', 2, 3);
    h.store.groups.update(groupId, {
      publicPackage: JSON.stringify(publicPackageToJSON(keys[0]!.public)),
    });
    const deps = {
      groups: { findGroup: (ref: string) => h.store.groups.get(ref)! },
      signing: { coordinating: new Set<string>(), coordinate: async () => undefined },
      ceremony: { ceremonies: new Set<string>() },
      settle: { pendingCeremony: () => undefined },
      reconstruct: {},
    } as unknown as NodeServices;
    const requests = new RequestsService(h.ctx, deps);
    const id = requests.createSignRequest({
      group: groupId,
      message: 'pay 1',
      encoding: 'utf8',
    }).id;
    const decide = (who: Peer, decision: 'approve' | 'deny') =>
      h.store.decisions.insert({
        requestId: id,
        peerId: who.peerId,
        decision,
        statement: '{}',
        at: Date.now(),
      });
    const failure = (by: Peer, over: Partial<OutcomeBody> = {}): Signed<OutcomeBody> =>
      signStatement<OutcomeBody>(
        {
          v: 1,
          type: 'outcome',
          groupId,
          requestId: id,
          failure: 'not enough approvers could sign',
          culprits: [],
          by: by.peerId,
          at: Date.now(),
          ...over,
        },
        (m) => by.sign(m),
      );
    return { ...h, groupId, id, keys, requests, decide, failure };
  }

  it('ends a request as done on an outcome whose signature verifies under the group key, and drops one that does not', () => {
    const { requests, store, id, keys, decide, failure } = setupRequests();
    decide(alice, 'approve');
    decide(bob, 'approve');
    const message = store.requests.get(id)!.message;
    const [nA, nB] = [commit(keys[0]!), commit(keys[1]!)];
    const pkg = new SigningPackage(
      signingKey(keys[0]!.public),
      [nA.commitment, nB.commitment],
      message,
    );
    const sig = aggregate(
      pkg,
      new Map([
        [keys[0]!.share.identifier, signShare(keys[0]!, nA, pkg)],
        [keys[1]!.share.identifier, signShare(keys[1]!, nB, pkg)],
      ]),
    );
    const outcome = (signature: Uint8Array): Signed<OutcomeBody> => {
      const { failure: _, ...body } = failure(bob).body;
      return signStatement<OutcomeBody>({ ...body, signature: bytesToHex(signature) }, (m) =>
        bob.sign(m),
      );
    };
    const forged = sig.slice();
    forged[40]! ^= 1;
    expect(() => requests.acceptStatement(bob.peerId, outcome(forged))).toThrow(/bad_result/);
    expect(store.requests.get(id)!.status).toBe('pending');
    requests.acceptStatement(bob.peerId, outcome(sig));
    expect(store.requests.get(id)!.status).toBe('done');
    expect(bytesToHex(store.requests.get(id)!.signature!)).toBe(bytesToHex(sig));
  });

  it('refuses a failure from a member that did not approve (it cannot have coordinated), blaming nobody', () => {
    const { requests, store, id, decide, failure } = setupRequests();
    decide(alice, 'approve');
    decide(bob, 'approve');
    decide(carol, 'deny');
    const lie = failure(carol, {
      failure: 'alice sent an invalid signature share',
      culprits: [alice.peerId],
      attempt: { coordinator: carol.peerId, signers: [carol.peerId, alice.peerId] },
    });
    expect(() => requests.acceptStatement(carol.peerId, lie)).toThrow(/try again/);
    expect(store.requests.get(id)).toMatchObject({ status: 'pending', culprits: [] });
  });

  it('answers "not yet" to an approver’s failure before every member decided', () => {
    const { requests, store, id, decide, failure } = setupRequests();
    decide(alice, 'approve');
    decide(bob, 'approve');
    expect(() => requests.acceptStatement(bob.peerId, failure(bob))).toThrow(/try again/);
    expect(store.requests.get(id)!.status).toBe('pending');
  });

  it('refuses a coordinator’s failure that does not account for the approvers left', () => {
    const { requests, store, id, decide, failure, ctx } = setupRequests();
    for (const p of [alice, bob, carol]) decide(p, 'approve');
    requests.acceptStatement(bob.peerId, failure(bob));
    expect(store.requests.get(id)!.status).toBe('pending');
    expect(ctx.dropped.unfounded_failure).toBe(1);
  });

  it('takes a coordinator’s failure without evidence but blames nobody, and relays it as signed', async () => {
    const { requests, store, id, decide, failure, sent } = setupRequests();
    decide(alice, 'approve');
    decide(bob, 'approve');
    decide(carol, 'deny');
    const report = failure(bob, {
      failure: 'not enough approvers could sign; failed: alice',
      culprits: [alice.peerId],
      attempt: { coordinator: bob.peerId, signers: [bob.peerId, alice.peerId] },
    });
    requests.acceptStatement(bob.peerId, report);
    const r = store.requests.get(id)!;
    expect(r).toMatchObject({ status: 'failed', culprits: [] });
    const entry = store.audit.list({}).find((e) => e.type === 'request.failed')!;
    expect(entry.body).toMatchObject({ by: bob.peerId, culprits: [] });
    expect((entry.body as { reported: { peer: string }[] }).reported.map((x) => x.peer)).toContain(
      alice.peerId,
    );
    // Relayed exactly as bob signed it, not re-signed by this node.
    sent.length = 0;
    await requests.sendStatements(carol.peerId, r.groupId);
    const items = sent.flatMap((s) => (s.msg.items as Signed[] | undefined) ?? []);
    expect(items.filter((s) => s.body?.type === 'outcome')).toEqual([report]);
  });

  it('blames a signer whose own receipt shows a bad share', () => {
    const { requests, store, id, decide, failure, keys, groupId } = setupRequests();
    decide(alice, 'approve');
    decide(bob, 'approve');
    decide(carol, 'approve');
    // bob coordinated with carol; carol returned a bad share and signed her receipt for it.
    const suite = getSuite('ed25519');
    const [nB, nC] = [commit(keys[1]!), commit(keys[2]!)];
    const commitments: SignerCommitment[] = [
      { peerId: bob.peerId, commitment: { ...commitmentToJSON(suite, nB.commitment) } },
      { peerId: carol.peerId, commitment: { ...commitmentToJSON(suite, nC.commitment) } },
    ];
    const pkg = new SigningPackage(
      signingKey(keys[0]!.public),
      [nB.commitment, nC.commitment],
      store.requests.get(id)!.message,
    );
    const bad = suite.Fn.add(signShare(keys[2]!, nC, pkg), 1n);
    const receipt = receiptBy(carol, groupId, id, commitments, bytesToHex(suite.encodeScalar(bad)));
    // alice never answered: reported, not blamed.
    const report = failure(bob, {
      culprits: [alice.peerId, carol.peerId],
      evidence: [
        { kind: 'bad-share', receipt, commitments },
        { kind: 'timeout', peer: alice.peerId, waitedMs: 10_000 },
      ],
      attempt: { coordinator: bob.peerId, signers: [bob.peerId, carol.peerId] },
    });
    requests.acceptStatement(bob.peerId, report);
    expect(store.requests.get(id)).toMatchObject({ status: 'failed', culprits: [carol.peerId] });
  });
});

/**
 * alice coordinating a 2-of-3 group with dealt keys: one pending sign request `id` over `text`,
 * approved by `approvers` (denied by the rest). Sign requests from her host go to `c.answer`
 * (set by the test); every other message is taken.
 */
function coordinatorCase(id: string, text: string, approvers: Peer[]) {
  const { h, groupId, keys, message } = signRequestCase(
    id,
    text,
    alice,
    [alice, bob, carol].map((who) => [who, approvers.includes(who) ? 'approve' : 'deny']),
  );
  const c = {
    answer: async (_p: string, _msg: Record<string, unknown>): Promise<unknown> => {
      throw new Error('no sign request expected');
    },
  };
  const host = h.ctx.host as unknown as {
    isConnected: (p: string) => boolean;
    request: (p: string, proto: string, msg: Record<string, unknown>) => Promise<unknown>;
  };
  host.isConnected = () => true;
  host.request = async (p, _proto, msg) => (msg.type === 'sign' ? c.answer(p, msg) : { ok: true });
  const announced: string[] = [];
  const deps = {
    requests: {
      ...storedApprovals(h),
      updateRequest: (rid: string, patch: object) => h.store.requests.update(rid, patch),
      finish: (rid: string, patch: object, type: string, body: Record<string, unknown>) =>
        h.store.tx(() => {
          h.store.requests.update(rid, patch);
          h.ctx.audit(type, body, groupId);
        }),
      announceOutcome: (rid: string) => void announced.push(rid),
      approvalStatements: () => [],
      releaseHeld: () => undefined,
      evaluate: () => undefined,
      evaluateRetrying: () => undefined,
    },
  } as unknown as NodeServices;
  const signing = new SigningService(h.ctx, deps);
  const suite = getSuite('ed25519');
  /**
   * A signer's answer to a sign request: its share (plus `offset`: a bad one) over the list it
   * was sent, under its valid receipt.
   */
  const answerAs = (
    who: Peer,
    key: (typeof keys)[number],
    nonces: ReturnType<typeof commit>,
    msg: Record<string, unknown>,
    offset = 0n,
  ) => {
    const list = msg.commitments as SignerCommitment[];
    const pkg = new SigningPackage(
      signingKey(key.public),
      list.map((x) => commitmentFromJSON(suite, x.commitment as never, true)),
      message,
    );
    const share = bytesToHex(suite.encodeScalar(suite.Fn.add(signShare(key, nonces, pkg), offset)));
    const receipt = receiptBy(who, groupId, id, list, share);
    return { share, receipt };
  };
  return { h, c, groupId, keys, message, signing, announced, suite, answerAs };
}

describe('SigningService (coordinator): a bad share', () => {
  it('is proven by its signer’s receipt in the failure outcome, which blames that signer alone', async () => {
    const RID = 'ef'.repeat(16);
    const { h, c, groupId, keys, message, signing, announced, suite, answerAs } = coordinatorCase(
      RID,
      'pay 2',
      [alice, bob],
    );
    // bob's node, faked: it signs with its real share plus one, under a valid receipt.
    const bobNonces = commit(keys[1]!);
    c.answer = async (p, msg) =>
      p === bob.peerId ? answerAs(bob, keys[1]!, bobNonces, msg, 1n) : { ok: true };
    signing.acceptNonces(bob.peerId, {
      v: 1,
      type: 'nonces',
      groupId,
      epoch: 0,
      replace: true,
      commitments: [{ ...commitmentToJSON(suite, bobNonces.commitment) }],
    });
    await signing.coordinate(RID);

    const r = h.store.requests.get(RID)!;
    expect(r.status).toBe('failed');
    expect(announced).toEqual([RID]);
    const outcome = JSON.parse(r.outcome!) as Signed<OutcomeBody>;
    expect(verifyStatement(outcome, alice.publicKey)).toBe(true);
    expect(outcome.body.attempt).toEqual({
      coordinator: alice.peerId,
      signers: [alice.peerId, bob.peerId],
    });
    expect(outcome.body.evidence?.map((e) => e.kind)).toEqual(['bad-share']);
    // Any member checks it alone, against its own copy of the group's key package.
    const verdict = acceptFailureOutcome(outcome.body, {
      kind: 'sign',
      approvers: [alice.peerId, bob.peerId],
      evidence: {
        groupId,
        requestId: RID,
        message,
        publicPackage: keys[2]!.public,
        indexOf: (p) => [alice, bob, carol].findIndex((m) => m.peerId === p) + 1 || undefined,
        identityKey: (p) => [alice, bob, carol].find((m) => m.peerId === p)?.publicKey,
      },
    });
    expect(verdict).toMatchObject({ accept: true, culprits: [bob.peerId] });
  });
});

describe('SigningService (coordinator): a pooled commitment outside the prime-order subgroup', () => {
  it('is taken into the pool unchecked, caught by the group commitment before any signer sees it, and its member’s pool is dropped: the request is signed with another approver', async () => {
    const RID = 'ab'.repeat(16);
    const { h, c, groupId, keys, signing, suite, answerAs } = coordinatorCase(RID, 'pay 3', [
      alice,
      bob,
      carol,
    ]);
    // The coordinator asks approvers in peer-id order: the liar is whichever of bob and carol
    // comes first (ids are random), so that its commitment is the one picked first.
    const [liar, honest] = [
      { p: bob, key: keys[1]! },
      { p: carol, key: keys[2]! },
    ].sort((a, b) => (a.p.peerId < b.p.peerId ? -1 : 1)) as [
      { p: Peer; key: (typeof keys)[number] },
      { p: Peer; key: (typeof keys)[number] },
    ];
    // The liar's commitment: a valid hiding point plus an order-8 component.
    const liarNonces = commit(liar.key);
    const liarWire = commitmentToJSON(suite, {
      ...liarNonces.commitment,
      hiding: liarNonces.commitment.hiding.add(torsion(1)),
    });
    const honestNonces = commit(honest.key);
    const asked: string[] = [];
    c.answer = async (p, msg) => {
      asked.push(p);
      if (p !== honest.p.peerId) return { error: 'not expected' };
      return answerAs(honest.p, honest.key, honestNonces, msg);
    };
    // Taken on arrival (its points are on the curve): no subgroup check per point.
    for (const [who, wire] of [
      [liar.p, liarWire],
      [honest.p, commitmentToJSON(suite, honestNonces.commitment)],
    ] as const)
      signing.acceptNonces(who.peerId, {
        v: 1,
        type: 'nonces',
        groupId,
        epoch: 0,
        replace: true,
        commitments: [{ ...wire }],
      });
    expect(h.ctx.dropped.bad_commitment ?? 0).toBe(0);
    await signing.coordinate(RID);

    // The liar, picked first, was never sent the list; the honest approver signed with alice.
    expect(asked).toEqual([honest.p.peerId]);
    const r = h.store.requests.get(RID)!;
    expect(r.status).toBe('done');
    expect(r.culprits).toEqual([]);
    expect(h.ctx.dropped.bad_commitment).toBe(1);
    // The liar's later commitments are refused for a while (each would cost a signing an attempt).
    expect(() =>
      signing.acceptNonces(liar.p.peerId, {
        v: 1,
        type: 'nonces',
        groupId,
        epoch: 0,
        replace: true,
        commitments: [{ ...commitmentToJSON(suite, commit(liar.key).commitment) }],
      }),
    ).toThrow(/bad_commitment/);
  });
});
