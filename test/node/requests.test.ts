// The requests service alone: statements are stored and counted, expiry and final denial apply,
// and the approver that coordinates hands the request to the signing service.
import { bytesToHex, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import { defaultPolicy, policyHash, type GroupPolicy } from '../../shared/policy/policy.js';
import {
  requestId,
  signStatement,
  statementHash,
  type DecisionBody,
  type RequestBody,
  type Signed,
} from '../../shared/protocol/wire.js';
import type { NodeServices } from '../../main/node/context.js';
import type { Store } from '../../main/store/index.js';
import { RequestsService } from '../../main/node/requests.js';
import { MAX_OPEN_REQUESTS_PER_MEMBER } from '../../shared/requests/index.js';
import { harness, peer, readyGroup, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([peer('alice'), peer('bob'), peer('carol')]);
});
afterEach(() => vi.restoreAllMocks());

function setup() {
  const h = harness(alice);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  const coordinated: string[] = [];
  const deps = {
    groups: { findGroup: (ref: string) => h.store.groups.get(ref)! },
    signing: {
      coordinating: new Set<string>(),
      coordinate: async (id: string) => void coordinated.push(id),
    },
    ceremony: {
      ceremonies: new Set<string>(),
      startCeremony: async (id: string) => {
        throw new Error(`cannot start ${id}`);
      },
    },
    settle: { pendingCeremony: () => undefined },
    reconstruct: {},
  } as unknown as NodeServices;
  const requests = new RequestsService(h.ctx, deps);
  return { ...h, groupId, requests, coordinated };
}

/** A request body by `by` in `groupId`, open for a day unless `over` says otherwise. */
function body(
  store: Store,
  groupId: string,
  by: Peer,
  kind: RequestBody['kind'],
  message: string,
  over: Partial<RequestBody> = {},
): RequestBody {
  const raw = store.meta.get(`policy:${groupId}`);
  const policy = raw ? (JSON.parse(raw) as GroupPolicy) : defaultPolicy();
  const now = Date.now();
  return {
    v: 1,
    type: 'request',
    groupId,
    kind,
    message: bytesToHex(utf8ToBytes(message)),
    createdBy: by.peerId,
    createdAt: now,
    expiresAt: now + 24 * 3600_000,
    nonce: bytesToHex(randomBytes(16)),
    policy: policyHash(policy),
    ...over,
  };
}

/** Stores a request row as it is, bypassing every check (a row stored before the checks existed). */
function storeRaw(store: Store, s: Signed<RequestBody>, status: 'pending' | 'done' = 'pending') {
  const b = s.body;
  store.requests.insert({
    id: requestId(b),
    groupId: b.groupId,
    kind: b.kind,
    message: utf8ToBytes(Buffer.from(b.message, 'hex').toString('utf8')),
    createdBy: b.createdBy,
    createdAt: b.createdAt,
    expiresAt: b.expiresAt,
    status,
    culprits: [],
    envelope: JSON.stringify(s),
    updatedAt: Date.now(),
  });
  return requestId(b);
}

/** `by`'s signed decision on the stored request `requestId`, signed with `signer`'s key. */
function decision(
  store: Store,
  requestId: string,
  by: Peer,
  d: 'approve' | 'deny',
  signer: Peer = by,
): Signed {
  const r = store.requests.get(requestId)!;
  const req = JSON.parse(r.envelope) as Signed<RequestBody>;
  const body: DecisionBody = {
    v: 1,
    type: 'decision',
    groupId: r.groupId,
    requestId,
    requestHash: bytesToHex(statementHash(req.body)),
    decision: d,
    by: by.peerId,
    at: Date.now(),
  };
  return signStatement(body, (m) => signer.sign(m));
}

describe('RequestsService', () => {
  it('stores a new request, records it in the audit log and sends it to the other members', async () => {
    const { requests, store, groupId, sent } = setup();
    const view = requests.createSignRequest({ group: groupId, message: 'pay 1', encoding: 'utf8' });
    expect(view).toMatchObject({ status: 'pending', kind: 'sign', messageText: 'pay 1' });
    expect(store.requests.get(view.id)?.status).toBe('pending');
    expect(store.audit.list({ group: groupId }).map((e) => e.type)).toContain('request.created');
    await vi.waitFor(() =>
      expect(new Set(sent.map((s) => s.peer))).toEqual(new Set([bob.peerId, carol.peerId])),
    );
    expect(sent[0]!.msg).toMatchObject({ type: 'statements' });
  });

  it('holds each member to MAX_OPEN_REQUESTS_PER_MEMBER open requests, on receipt and at its own node', () => {
    const { requests, store, groupId, ctx } = setup();
    const count = vi.spyOn(ctx, 'count');
    const fromBob = (i: number) =>
      signStatement(body(store, groupId, bob, 'sign', `bob ${i}`), (m) => bob.sign(m));
    for (let i = 0; i < MAX_OPEN_REQUESTS_PER_MEMBER; i++)
      requests.acceptStatement(bob.peerId, fromBob(i));
    const over = fromBob(MAX_OPEN_REQUESTS_PER_MEMBER);
    requests.acceptStatement(bob.peerId, over);
    expect(store.requests.get(requestId(over.body))).toBeUndefined();
    expect(count.mock.calls.map((c) => c[0])).toContain('too_many_open');
    // One of bob's closes: the next one fits; carol's own count is hers alone.
    const oldest = store.requests.list({ groupId }).at(-1)!;
    store.requests.update(oldest.id, { status: 'denied' });
    requests.acceptStatement(bob.peerId, over);
    expect(store.requests.get(requestId(over.body))?.status).toBe('pending');
    const fromCarol = signStatement(body(store, groupId, carol, 'sign', 'carol'), (m) =>
      carol.sign(m),
    );
    requests.acceptStatement(carol.peerId, fromCarol);
    expect(store.requests.get(requestId(fromCarol.body))?.status).toBe('pending');

    for (let i = 0; i < MAX_OPEN_REQUESTS_PER_MEMBER; i++)
      requests.createSignRequest({ group: groupId, message: `mine ${i}`, encoding: 'utf8' });
    expect(() =>
      requests.createSignRequest({ group: groupId, message: 'one too many', encoding: 'utf8' }),
    ).toThrow(/100 open requests in .*the most a member may have/);
  });

  it("counts a member's signed approval and, with enough approvals, hands the request to signing", () => {
    const { requests, store, groupId, coordinated } = setup();
    const view = requests.createSignRequest({ group: groupId, message: 'pay 2', encoding: 'utf8' });
    const signed = decision(store, view.id, bob, 'approve');
    requests.acceptStatement(bob.peerId, signed);
    expect(store.decisions.list(view.id).map((d) => d.peerId)).toEqual([bob.peerId]);
    // One approval of the two needed: nothing starts yet.
    expect(coordinated).toEqual([]);
    const after = requests.decide(view.id, 'approve');
    expect(after.approvals.map((a) => a.peerId).sort()).toEqual([alice.peerId, bob.peerId].sort());
    // Bob is offline (the fake host knows nobody), so alice is the approver that coordinates.
    expect(coordinated).toEqual([view.id]);
    // The same statement again is a duplicate, counted as a drop, and changes nothing.
    requests.acceptStatement(bob.peerId, signed);
    expect(store.decisions.list(view.id)).toHaveLength(2);
  });

  it('stores another member’s approval without an fsync of its own, its own decisions and denials durably', () => {
    const { requests, store, groupId } = setup();
    const view = requests.createSignRequest({
      group: groupId,
      message: 'pay 31',
      encoding: 'utf8',
    });
    const other = requests.createSignRequest({
      group: groupId,
      message: 'pay 32',
      encoding: 'utf8',
    });
    const durable = vi.spyOn(store, 'tx');
    const lax = vi.spyOn(store, 'txNoSync');
    requests.acceptStatement(bob.peerId, decision(store, view.id, bob, 'approve'));
    expect([durable.mock.calls.length, lax.mock.calls.length]).toEqual([0, 1]);
    requests.acceptStatement(carol.peerId, decision(store, other.id, carol, 'deny'));
    expect(lax.mock.calls.length).toBe(1);
    expect(durable.mock.calls.length).toBeGreaterThanOrEqual(1);
    requests.decide(view.id, 'approve');
    expect(lax.mock.calls.length).toBe(1);
    expect(durable.mock.calls.length).toBeGreaterThanOrEqual(2);
    // Each is stored, and this node's own decision and the denial are in its chain.
    expect(
      store.decisions
        .list(view.id)
        .map((d) => d.peerId)
        .sort(),
    ).toEqual([alice.peerId, bob.peerId].sort());
    const mine = store.audit.list({ author: `${alice.peerId}/${groupId}` }).map((e) => e.type);
    expect(mine.filter((t) => t === 'request.approved')).toHaveLength(1);
    expect(mine.filter((t) => t === 'request.denied')).toHaveLength(1);
  });

  it('refuses a decision whose signature is not its author’s', () => {
    const { requests, store, groupId } = setup();
    const view = requests.createSignRequest({ group: groupId, message: 'pay 3', encoding: 'utf8' });
    // Signed by carol, claiming to be bob's.
    const bad = decision(store, view.id, bob, 'approve', carol);
    expect(() => requests.acceptStatement(carol.peerId, bad)).toThrow(/bad_signature/);
    expect(store.decisions.list(view.id)).toEqual([]);
  });

  it('does not verify again an approval it holds byte for byte, and verifies any other bytes', async () => {
    const wire = await import('../../shared/protocol/wire.js');
    const verify = vi.spyOn(wire, 'verifyStatement');
    const { requests, store, groupId } = setup();
    const view = requests.createSignRequest({ group: groupId, message: 'pay 9', encoding: 'utf8' });
    const signed = decision(store, view.id, bob, 'approve');
    requests.acceptStatement(bob.peerId, signed);
    const checks = verify.mock.calls.length;
    // As a coordinator's sign message carries it: parsed from the JSON it was stored as.
    requests.acceptStatement(carol.peerId, JSON.parse(JSON.stringify(signed)) as Signed);
    expect(verify.mock.calls.length).toBe(checks);
    // Same author and request, other bytes (a forged signature): verified, and refused.
    const forged = { ...signed, sig: decision(store, view.id, bob, 'approve', carol).sig };
    expect(() => requests.acceptStatement(carol.peerId, forged)).toThrow(/bad_signature/);
    expect(verify.mock.calls.length).toBe(checks + 1);
    expect(store.decisions.list(view.id)).toHaveLength(1);
  });

  it('marks a request nobody approved in time expired', () => {
    const { requests, store, groupId } = setup();
    const view = requests.createSignRequest({
      group: groupId,
      message: 'pay 4',
      encoding: 'utf8',
      expiresInSec: 60,
    });
    const later = Date.now() + 61_000;
    vi.spyOn(Date, 'now').mockReturnValue(later);
    requests.sweep();
    expect(store.requests.get(view.id)?.status).toBe('expired');
    expect(store.audit.list({ group: groupId }).map((e) => e.type)).toContain('request.expired');
  });

  it('ends a request once so many members denied that it can no longer be approved', () => {
    const { requests, store, groupId } = setup();
    const view = requests.createSignRequest({ group: groupId, message: 'pay 5', encoding: 'utf8' });
    for (const who of [bob, carol])
      requests.acceptStatement(who.peerId, decision(store, view.id, who, 'deny'));
    expect(store.requests.get(view.id)?.status).toBe('denied');
    expect(() => requests.decide(view.id, 'approve')).toThrow(/already denied/);
  });
});

describe('RequestsService: a request made under a policy change not in force here yet', () => {
  it('answers "not yet" while the change waits for its last approval, then takes the request', () => {
    const { requests, store, groupId } = setup();
    const current = defaultPolicy();
    const next: GroupPolicy = { ...current, defaultExpirySec: 12 * 3600 };
    const proposal = canonicalJSON({ v: 1, from: policyHash(current), policy: next });
    const change = signStatement(body(store, groupId, bob, 'policy', proposal), (m) => bob.sign(m));
    requests.acceptStatement(bob.peerId, change);
    const changeId = requestId(change.body);
    expect(store.requests.get(changeId)?.status).toBe('pending');
    const by = (p: Peer, message: string, policy: GroupPolicy) =>
      signStatement(body(store, groupId, p, 'sign', message, { policy: policyHash(policy) }), (m) =>
        p.sign(m),
      );

    // Made under the policy the open change proposes: "not yet" (the sender retries), not stored.
    const under = by(carol, 'under the new policy', next);
    expect(() => requests.acceptStatement(carol.peerId, under)).toThrow(
      /has not applied yet; try again shortly/,
    );
    expect(store.requests.get(requestId(under.body))).toBeUndefined();
    // Under a policy nobody proposed: refused for good, as before.
    const other = by(carol, 'under a policy of its own', { ...current, defaultExpirySec: 3600 });
    requests.acceptStatement(carol.peerId, other);
    expect(store.requests.get(requestId(other.body))).toMatchObject({
      status: 'failed',
      failure: expect.stringMatching(/another group policy/),
    });

    // The change's approvals come: it is in force, and the request is taken when sent again.
    requests.acceptStatement(bob.peerId, decision(store, changeId, bob, 'approve'));
    requests.acceptStatement(carol.peerId, decision(store, changeId, carol, 'approve'));
    expect(store.requests.get(changeId)?.status).toBe('done');
    requests.acceptStatement(carol.peerId, under);
    expect(store.requests.get(requestId(under.body))).toMatchObject({ status: 'pending' });
    expect(store.requests.get(requestId(under.body))?.failure).toBeUndefined();
    // Made under the policy that was in force before: refused for good now.
    const stale = by(carol, 'under the old policy', current);
    requests.acceptStatement(carol.peerId, stale);
    expect(store.requests.get(requestId(stale.body))?.status).toBe('failed');
  });
});

describe('RequestsService: the catch-up order', () => {
  it("sends the requests in the order this node took them (not by the creators' clocks), each with its decisions", async () => {
    const { requests, store, groupId, sent } = setup();
    const first = signStatement(body(store, groupId, bob, 'sign', 'taken first'), (m) =>
      bob.sign(m),
    );
    // Carol's clock is a minute behind: her request, taken second, claims to be older.
    const second = signStatement(
      body(store, groupId, carol, 'sign', 'taken second', { createdAt: Date.now() - 60_000 }),
      (m) => carol.sign(m),
    );
    requests.acceptStatement(bob.peerId, first);
    requests.acceptStatement(bob.peerId, decision(store, requestId(first.body), bob, 'approve'));
    requests.acceptStatement(carol.peerId, second);
    sent.length = 0;
    await requests.sendStatements(carol.peerId, groupId);
    const items = sent.flatMap((x) => (x.msg.items as Signed[] | undefined) ?? []);
    expect(
      items.map((x) =>
        x.body.type === 'request' ? requestId(x.body as RequestBody) : x.body.type,
      ),
    ).toEqual([requestId(first.body), 'decision', requestId(second.body)]);
  });
});

describe('RequestsService: the audit entries of a request (issue 12)', () => {
  it('records its own approval and every denial, and lists the approvals it held in the outcome', () => {
    const { requests, store, groupId } = setup();
    const view = requests.createSignRequest({
      group: groupId,
      message: 'pay 11',
      encoding: 'utf8',
    });
    const fromBob = decision(store, view.id, bob, 'approve');
    requests.acceptStatement(bob.peerId, fromBob);
    const entries = () =>
      store.audit
        .list({ group: groupId })
        .filter((e) => (e.body as { id?: unknown }).id === view.id);
    // Bob's approval is stored and counted, but this member's chain does not witness it.
    expect(requests.approversOf(store.requests.get(view.id)!)).toEqual([bob.peerId]);
    expect(entries().map((e) => e.type)).toEqual(['request.created']);
    requests.decide(view.id, 'approve');
    const own = entries().filter((e) => e.type === 'request.approved');
    expect(own.map((e) => (e.body as { by: string }).by)).toEqual([alice.peerId]);
    // A denial by another member is witnessed (rare, and it is what ends a request as denied).
    const other = requests.createSignRequest({
      group: groupId,
      message: 'pay 12',
      encoding: 'utf8',
    });
    requests.acceptStatement(carol.peerId, decision(store, other.id, carol, 'deny'));
    expect(
      store.audit
        .list({ group: groupId })
        .filter((e) => e.type === 'request.denied')
        .map((e) => e.body),
    ).toMatchObject([{ id: other.id, by: carol.peerId }]);
    // The outcome entry lists the approvals held, each with its signed decision's signature.
    requests.finish(view.id, { status: 'done' }, 'request.signed', { id: view.id });
    const signed = entries().filter((e) => e.type === 'request.signed');
    expect(signed).toHaveLength(1);
    const sigOf = (p: string) =>
      (JSON.parse(store.decisions.list(view.id).find((d) => d.peerId === p)!.statement) as Signed)
        .sig;
    expect((signed[0]!.body as { approvals: unknown[] }).approvals).toEqual(
      store.decisions.list(view.id).map((d) => ({ by: d.peerId, statement: sigOf(d.peerId) })),
    );
    expect(
      (signed[0]!.body as { approvals: { by: string }[] }).approvals.map((a) => a.by).sort(),
    ).toEqual([alice.peerId, bob.peerId].sort());
    expect(sigOf(bob.peerId)).toBe(fromBob.sig);
  });

  it('stores no decision of its own when its audit entry cannot be written (fail closed)', () => {
    const { requests, store, groupId, ctx } = setup();
    const view = requests.createSignRequest({
      group: groupId,
      message: 'pay 13',
      encoding: 'utf8',
    });
    vi.spyOn(ctx, 'audit').mockImplementation(() => {
      throw new Error('disk full');
    });
    expect(() => requests.decide(view.id, 'approve')).toThrow(/disk full/);
    expect(store.decisions.list(view.id)).toEqual([]);
  });

  it('lists an approval whose stored statement is damaged without its signature, and never throws', () => {
    const { requests, store, groupId } = setup();
    const view = requests.createSignRequest({
      group: groupId,
      message: 'pay 14',
      encoding: 'utf8',
    });
    store.decisions.insert({
      requestId: view.id,
      peerId: bob.peerId,
      decision: 'approve',
      statement: '{"sig":5}',
      at: Date.now(),
    });
    expect(requests.approvalsHeld(view.id)).toEqual([{ by: bob.peerId }]);
  });
});

describe('RequestsService: the sweep when nothing changed (issue 12)', () => {
  it('reads no decisions and evaluates nothing for open requests nobody touched', () => {
    const { requests, store, groupId } = setup();
    const ids = [1, 2, 3, 4, 5].map(
      (i) =>
        requests.createSignRequest({ group: groupId, message: `idle ${i}`, encoding: 'utf8' }).id,
    );
    requests.acceptStatement(bob.peerId, decision(store, ids[0]!, bob, 'approve'));
    requests.sweep(); // the first sweep looks at every open request
    const reads = vi.spyOn(store.decisions, 'list');
    const evaluate = vi.spyOn(requests, 'evaluate');
    for (let i = 0; i < 10; i++) requests.sweep();
    expect(reads).not.toHaveBeenCalled();
    expect(evaluate).not.toHaveBeenCalled();
    // Their time comes: each ends as expired at the first sweep after it.
    const later = Date.now() + 25 * 3600_000;
    vi.spyOn(Date, 'now').mockReturnValue(later);
    requests.sweep();
    for (const id of ids) expect(store.requests.get(id)?.status).toBe('expired');
  });

  it('expires a request stored after the last look at every open one, at its time', () => {
    const { requests, store, groupId } = setup();
    requests.sweep();
    const view = requests.createSignRequest({
      group: groupId,
      message: 'soon',
      encoding: 'utf8',
      expiresInSec: 60,
    });
    requests.sweep();
    expect(store.requests.get(view.id)?.status).toBe('pending');
    vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 61_000);
    requests.sweep();
    expect(store.requests.get(view.id)?.status).toBe('expired');
  });

  it('looks at every open request again when the group changes (a member removed)', () => {
    const { requests, store, groupId } = setup();
    const view = requests.createSignRequest({
      group: groupId,
      message: 'pay 15',
      encoding: 'utf8',
    });
    // Only carol denied: one denial of three leaves it open (2-of-3).
    requests.acceptStatement(carol.peerId, decision(store, view.id, carol, 'deny'));
    requests.sweep();
    expect(store.requests.get(view.id)?.status).toBe('pending');
    // bob is removed, and no decision comes: with 2 members, carol's denial ends it.
    store.members.delete(groupId, bob.peerId);
    store.groups.update(groupId, { size: 2, epoch: 1, updatedAt: Date.now() + 1 });
    requests.sweep();
    expect(store.requests.get(view.id)?.status).toBe('denied');
  });
});

describe('RequestsService: what a request must be to be stored or shown (issue 9 findings 1, 6)', () => {
  it('refuses, on receipt, requests whose parameters are not what their kind allows, and logs each once', () => {
    const { requests, store, groupId, logs, ctx } = setup();
    const bad = [
      body(store, groupId, carol, 'policy', '{"policy":5}'),
      body(store, groupId, carol, 'policy', 'this is not JSON'),
      body(store, groupId, carol, 'reshare', 'this is not JSON'),
    ];
    for (const b of bad) {
      const s = signStatement(b, (m) => carol.sign(m));
      // The sender retries: refused and counted every time, logged once.
      for (let i = 0; i < 3; i++) requests.acceptStatement(carol.peerId, s);
      expect(store.requests.get(requestId(b)), `${b.kind} ${b.message}`).toBeUndefined();
      expect(logs.filter((l) => l.includes(requestId(b)))).toHaveLength(1);
    }
    expect(ctx.dropped.invalid_request).toBe(9);
    expect(store.audit.list({ group: groupId }).map((e) => e.type)).not.toContain(
      'request.created',
    );
    // A valid one from the same member is stored.
    const ok = body(store, groupId, carol, 'sign', 'pay 6');
    requests.acceptStatement(
      carol.peerId,
      signStatement(ok, (m) => carol.sign(m)),
    );
    expect(store.requests.get(requestId(ok))?.status).toBe('pending');
  });

  it('refuses a request dated more than 5 minutes ahead, and caps any expiry at the policy’s maximum from receipt', () => {
    const { requests, store, groupId } = setup();
    const future = Date.now() + 365 * 24 * 3600_000;
    const dated = body(store, groupId, bob, 'sign', 'post-dated', {
      createdAt: future,
      expiresAt: future + 3600_000,
    });
    requests.acceptStatement(
      bob.peerId,
      signStatement(dated, (m) => bob.sign(m)),
    );
    expect(store.requests.get(requestId(dated))).toBeUndefined();
    // Its decisions are dropped too, quietly (they do not end a sync's batch).
    const d: DecisionBody = {
      v: 1,
      type: 'decision',
      groupId,
      requestId: requestId(dated),
      requestHash: bytesToHex(statementHash(dated)),
      decision: 'approve',
      by: bob.peerId,
      at: Date.now(),
    };
    requests.acceptStatement(
      bob.peerId,
      signStatement(d, (m) => bob.sign(m)),
    );
    expect(store.decisions.list(requestId(dated))).toEqual([]);
    // Within the clock skew allowed: stored, but open no longer than the maximum from now.
    const max = defaultPolicy().maxExpirySec * 1000;
    const ahead = Date.now() + 4 * 60_000;
    const skewed = body(store, groupId, bob, 'sign', 'slightly ahead', {
      createdAt: ahead,
      expiresAt: ahead + max,
    });
    const before = Date.now();
    requests.acceptStatement(
      bob.peerId,
      signStatement(skewed, (m) => bob.sign(m)),
    );
    const row = store.requests.get(requestId(skewed))!;
    expect(row.expiresAt).toBeLessThanOrEqual(Date.now() + max);
    expect(row.expiresAt).toBeGreaterThanOrEqual(before + max);
  });

  it('never signs a request the other members would refuse', () => {
    const { requests, store, groupId, sent } = setup();
    const g = store.groups.get(groupId)!;
    expect(() => requests.createRequest(g, 'reshare', utf8ToBytes('this is not JSON'))).toThrow(
      /would be refused: message/,
    );
    const stale = canonicalJSON({ ceremony: 'refresh', group: 'cd'.repeat(16), fromEpoch: 0 });
    expect(() => requests.createRequest(g, 'refresh', utf8ToBytes(stale))).toThrow(/group/);
    expect(store.requests.list()).toEqual([]);
    expect(sent).toEqual([]);
  });

  it('shows a stored request that cannot be read as an unreadable card, and lists the others', () => {
    const { requests, store, groupId } = setup();
    const good = requests.createSignRequest({ group: groupId, message: 'pay 7', encoding: 'utf8' });
    const ids = ['{"policy":5}', 'this is not JSON'].map((m) =>
      storeRaw(
        store,
        signStatement(body(store, groupId, carol, 'policy', m), (x) => carol.sign(x)),
      ),
    );
    ids.push(
      storeRaw(
        store,
        signStatement(body(store, groupId, carol, 'reshare', 'not JSON'), (x) => carol.sign(x)),
      ),
    );
    const views = store.requests.list().map((r) => requests.requestView(r));
    expect(views).toHaveLength(4);
    for (const id of ids) {
      const v = views.find((x) => x.id === id)!;
      expect(v.card?.invalid, id).toBeTruthy();
      expect(v.description).toBeUndefined();
    }
    expect(views.find((x) => x.id === good.id)?.card).toMatchObject({ kind: 'sign' });
    expect(views.find((x) => x.id === good.id)?.card?.invalid).toBeUndefined();
  });

  it('ends an open request stored before the checks whose parameters cannot be read', () => {
    const { requests, store, groupId } = setup();
    const bad = storeRaw(
      store,
      signStatement(body(store, groupId, carol, 'reshare', 'not JSON'), (x) => carol.sign(x)),
    );
    const good = requests.createSignRequest({
      group: groupId,
      message: 'pay 10',
      encoding: 'utf8',
    });
    requests.sweep();
    expect(store.requests.get(bad)).toMatchObject({ status: 'failed' });
    expect(store.requests.get(bad)?.failure).toMatch(/cannot be read/);
    expect(store.requests.get(good.id)?.status).toBe('pending');
  });

  it('keeps sweeping and evaluating when a stored request makes a step throw', async () => {
    const { requests, store, groupId, logs } = setup();
    const reshare = canonicalJSON({
      ceremony: 'reshare',
      group: groupId,
      fromEpoch: 0,
      threshold: 2,
      size: 2,
      add: [],
      remove: [carol.peerId],
    });
    const g = store.groups.get(groupId)!;
    const view = requests.createRequest(g, 'reshare', utf8ToBytes(reshare));
    requests.acceptStatement(bob.peerId, decision(store, view.id, bob, 'approve'));
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      // Alice coordinates; the ceremony service throws when asked to start.
      expect(() => requests.decide(view.id, 'approve')).not.toThrow();
      await vi.waitFor(() =>
        expect(logs.some((l) => l.includes(view.id) && /could not start/.test(l))).toBe(true),
      );
      // A row whose group is gone makes the expiry check throw: the sweep goes on.
      const other = requests.createSignRequest({
        group: groupId,
        message: 'pay 8',
        encoding: 'utf8',
      });
      store.requests.update(other.id, { expiresAt: Date.now() - 1 });
      vi.spyOn(store.groups, 'get').mockImplementation(() => undefined);
      expect(() => requests.sweep()).not.toThrow();
      vi.mocked(store.groups.get).mockRestore();
      requests.sweep();
      expect(store.requests.get(other.id)?.status).toBe('expired');
    } finally {
      process.off('unhandledRejection', unhandled);
    }
    expect(unhandled).not.toHaveBeenCalled();
  });

  it('counts no approval or denial of a member since removed from the group', () => {
    const { requests, store, groupId, coordinated } = setup();
    const view = requests.createSignRequest({ group: groupId, message: 'pay 9', encoding: 'utf8' });
    requests.acceptStatement(carol.peerId, decision(store, view.id, carol, 'approve'));
    // A reshare removed carol.
    store.members.delete(groupId, carol.peerId);
    store.groups.update(groupId, { size: 2, epoch: 1 });
    const after = requests.decide(view.id, 'approve');
    expect(after.approvals.map((a) => a.peerId)).toEqual([alice.peerId]);
    expect(coordinated).toEqual([]);
    requests.acceptStatement(bob.peerId, decision(store, view.id, bob, 'approve'));
    expect(coordinated).toEqual([view.id]);
    // Once it is over, its view says who approved at the time, carol included.
    store.requests.update(view.id, { status: 'done' });
    const done = requests.requestView(store.requests.get(view.id)!);
    expect(done.approvals.map((a) => a.peerId)).toContain(carol.peerId);
  });

  it('tries again, when commitments arrive, only the approved requests of that group it may start', () => {
    const { requests, groupId, coordinated, store } = setup();
    const view = requests.createSignRequest({
      group: groupId,
      message: 'pay 30',
      encoding: 'utf8',
    });
    requests.acceptStatement(bob.peerId, decision(store, view.id, bob, 'approve'));
    requests.decide(view.id, 'approve');
    expect(coordinated).toEqual([view.id]);
    // Others open in the group: not approved, or approved without this node.
    const idle = [1, 2, 3].map(
      (i) =>
        requests.createSignRequest({ group: groupId, message: `idle ${i}`, encoding: 'utf8' }).id,
    );
    const theirs = requests.createSignRequest({
      group: groupId,
      message: 'x',
      encoding: 'utf8',
    }).id;
    requests.acceptStatement(bob.peerId, decision(store, theirs, bob, 'approve'));
    requests.acceptStatement(carol.peerId, decision(store, theirs, carol, 'approve'));
    const reads = vi.spyOn(store.decisions, 'list');
    requests.evaluateRetrying('another group');
    expect(reads).not.toHaveBeenCalled();
    requests.evaluateRetrying(groupId);
    expect(coordinated).toEqual([view.id, view.id]);
    for (const id of [...idle, theirs])
      expect(reads.mock.calls.some(([r]) => r === id)).toBe(false);
  });

  it('tries an approved signing request again at the sweep when its last attempt could not sign', () => {
    const { requests, groupId, coordinated, store } = setup();
    const view = requests.createSignRequest({ group: groupId, message: 'pay 3', encoding: 'utf8' });
    requests.acceptStatement(bob.peerId, decision(store, view.id, bob, 'approve'));
    requests.decide(view.id, 'approve');
    expect(coordinated).toEqual([view.id]);
    // The attempt found too few signers ready and left it pending (the fake coordinator does
    // nothing): with no new message to wake it, the sweep is what tries again.
    requests.sweep();
    expect(coordinated).toEqual([view.id, view.id]);
    // And again at each sweep after it (not only when the sweep looks at every open request).
    requests.sweep();
    expect(coordinated).toEqual([view.id, view.id, view.id]);
    // A finished request is left alone.
    store.requests.update(view.id, { status: 'done' });
    requests.sweep();
    requests.sweep();
    expect(coordinated).toHaveLength(3);
  });

  it('with refreshAfterRepair, refuses new signing requests and holds approved ones until a refresh', async () => {
    const { requests, store, groupId, coordinated } = setup();
    const policy: GroupPolicy = { ...defaultPolicy(), refreshAfterRepair: true };
    store.meta.set(`policy:${groupId}`, JSON.stringify(policy));
    const waiting = requests.createSignRequest({
      group: groupId,
      message: 'before the repair',
      encoding: 'utf8',
    });
    // A repair of carol's share finished at epoch 0.
    const dave = { peerId: (await peer('dave')).peerId, name: 'dave' };
    const repair = canonicalJSON({
      ceremony: 'repair',
      group: groupId,
      fromEpoch: 0,
      lost: carol.peerId,
      newcomer: { ...dave, addrs: [] },
    });
    storeRaw(
      store,
      signStatement(body(store, groupId, bob, 'repair', repair), (m) => bob.sign(m)),
      'done',
    );
    expect(() =>
      requests.createSignRequest({ group: groupId, message: 'after', encoding: 'utf8' }),
    ).toThrow(/refresh after a repair.*run a refresh first/);
    requests.acceptStatement(bob.peerId, decision(store, waiting.id, bob, 'approve'));
    requests.decide(waiting.id, 'approve');
    requests.sweep();
    expect(coordinated).toEqual([]);
    // The group refreshed (epoch 1): the approved request goes ahead, and new ones may be made.
    store.groups.update(groupId, { epoch: 1 });
    requests.sweep();
    expect(coordinated).toEqual([waiting.id]);
    expect(
      requests.createSignRequest({ group: groupId, message: 'after', encoding: 'utf8' }).status,
    ).toBe('pending');
  });
});
