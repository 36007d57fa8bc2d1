// An approval that completes a signing request's approvals (issue 12): it goes where the signing
// happens first, and to the other members with the coordinator's outcome, so nothing else runs on
// the approval-to-signature path. Every member still gets it: relayed with the outcome, from the
// approver when the request ends otherwise, or after the hold's deadline whatever happened.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { NodeServices } from '../../main/node/context.js';
import { RequestsService } from '../../main/node/requests.js';
import { DroppedMessage } from '../../main/node/common.js';
import {
  signStatement,
  type DecisionBody,
  type OutcomeBody,
  type Signed,
} from '../../shared/protocol/wire.js';
import { harness, peer, readyGroup, type Peer } from './fixtures.js';

/** The three members, by peer id: `low` coordinates whenever it approved (coordinatorOf). */
let low: Peer, mid: Peer, high: Peer;
beforeAll(async () => {
  const ps = await Promise.all([peer('ann'), peer('ben'), peer('cat')]);
  [low, mid, high] = ps.sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
});
afterEach(() => vi.useRealTimers());

/** A member of a ready 2-of-3 group whose peers are all connected; coordinate is a stand-in. */
function node(me: Peer) {
  const h = harness(me, { connected: true });
  const groupId = readyGroup(h.store, [low, mid, high], 2);
  const coordinating = new Set<string>();
  const deps = {
    groups: { findGroup: (ref: string) => h.store.groups.get(ref)! },
    // Like the real one: marks the request as coordinated before its first await.
    signing: { coordinating, coordinate: async (id: string) => void coordinating.add(id) },
    ceremony: { ceremonies: new Set<string>(), startCeremony: async () => undefined },
    settle: { pendingCeremony: () => undefined },
    reconstruct: {},
  } as unknown as NodeServices;
  return { ...h, groupId, coordinating, requests: new RequestsService(h.ctx, deps) };
}
type Node = ReturnType<typeof node>;

/** An outcome of request `id` by `by`, its signature made up (every member refuses it). */
function outcome(by: Peer, groupId: string, id: string): Signed {
  return signStatement<OutcomeBody>(
    {
      v: 1,
      type: 'outcome',
      groupId,
      requestId: id,
      signature: '11'.repeat(64),
      culprits: [],
      by: by.peerId,
      at: Date.now(),
    },
    (h) => by.sign(h),
  );
}

/** Lets the sends queued for the next turns of the event loop go out (no timer involved). */
async function drain(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

/** Who was sent `by`'s decision on the request, in order. */
function decisionSentTo(n: Node, by: Peer): string[] {
  return n.sent
    .filter((s) => s.msg.type === 'statements')
    .filter((s) =>
      (s.msg as { items: Signed[] }).items.some(
        (i) => i.body.type === 'decision' && (i.body as DecisionBody).by === by.peerId,
      ),
    )
    .map((s) => s.peer);
}

/**
 * `requester` creates a sign request with its approval, `approver` takes it in, and approves
 * second: its approval completes the request's approvals (2 of 3).
 */
async function secondApproval(requester: Peer, approver: Peer) {
  const r = node(requester);
  const a = node(approver);
  const view = r.requests.createSignRequest({
    group: r.groupId,
    message: 'pay 1 BTC to X',
    encoding: 'utf8',
    approve: true,
  });
  await drain();
  const batch = r.sent.find((s) => s.peer === approver.peerId)!.msg as { items: Signed[] };
  for (const s of batch.items) a.requests.acceptStatement(requester.peerId, s);
  a.sent.length = 0;
  a.requests.decide(view.id, 'approve');
  await drain();
  const mine = a.store.decisions.list(view.id).find((d) => d.peerId === approver.peerId)!;
  return { a, id: view.id, statement: JSON.parse(mine.statement) as Signed, batch: batch.items };
}

describe('an approval that completes the approvals', () => {
  it('is held back while this node coordinates, and its outcome carries every approval', async () => {
    const { a, id } = await secondApproval(high, low);
    expect(a.coordinating.has(id)).toBe(true);
    // The signers get it with the sign request; nobody is sent it on its own.
    expect(decisionSentTo(a, low)).toEqual([]);
    const carried = a.requests.approvalStatements(id).map((s) => (s.body as DecisionBody).by);
    expect(carried.sort()).toEqual([low.peerId, high.peerId].sort());
    // Carried by the outcome: never sent again, on a timer or when the signing ends.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    vi.advanceTimersByTime(5_000);
    a.requests.releaseHeld(id);
    await drain();
    expect(decisionSentTo(a, low)).toEqual([]);
  });

  it('goes to every other member when the signing ends without an outcome', async () => {
    const { a, id } = await secondApproval(high, low);
    a.requests.releaseHeld(id);
    await drain();
    expect(decisionSentTo(a, low).sort()).toEqual([mid.peerId, high.peerId].sort());
  });

  it('goes to every other member after the hold, should the signing take longer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { a } = await secondApproval(high, low);
    expect(decisionSentTo(a, low)).toEqual([]);
    vi.advanceTimersByTime(1_000);
    await drain();
    expect(decisionSentTo(a, low).sort()).toEqual([mid.peerId, high.peerId].sort());
  });

  it('goes to the coordinator alone first when another approver coordinates', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { a, id, statement } = await secondApproval(low, high);
    expect(a.coordinating.has(id)).toBe(false);
    expect(decisionSentTo(a, high)).toEqual([low.peerId]);
    // The coordinator relays it with its outcome: then it is not sent again. (This outcome's
    // signature is made up: it is refused, after the batch was looked at.)
    a.requests.acceptStatements(low.peerId, [statement, outcome(low, a.groupId, id)]);
    expect(a.ctx.dropped.bad_result).toBe(1);
    vi.advanceTimersByTime(5_000);
    await drain();
    expect(decisionSentTo(a, high)).toEqual([low.peerId]);
  });

  it('is still held when it comes back without an outcome, or not from the coordinator', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { a, id, statement } = await secondApproval(low, high);
    // A sign request carries it back before any outcome.
    a.requests.acceptStatements(low.peerId, [statement]);
    a.requests.acceptStatements(mid.peerId, [statement, outcome(mid, a.groupId, id)]);
    expect(a.ctx.dropped.bad_result).toBe(1);
    vi.advanceTimersByTime(1_000);
    await drain();
    expect(decisionSentTo(a, high)).toEqual([low.peerId, mid.peerId]);
  });

  it('is sent to everyone at once when the approvals were complete already', async () => {
    const { id, statement, batch } = await secondApproval(low, high);
    const m = node(mid);
    for (const s of [...batch, statement]) m.requests.acceptStatement(low.peerId, s);
    m.requests.decide(id, 'approve');
    await drain();
    expect(decisionSentTo(m, mid).sort()).toEqual([low.peerId, high.peerId].sort());
  });

  it('goes to the others when the request ends here otherwise', async () => {
    const { a, id } = await secondApproval(low, high);
    a.requests.finish(id, { status: 'failed', failure: 'test' }, 'request.failed', { id });
    await drain();
    expect(decisionSentTo(a, high)).toEqual([low.peerId, mid.peerId]);
  });

  it('is sent to everyone at once when it does not complete the approvals', async () => {
    const r = node(low);
    const a = node(mid);
    const view = r.requests.createSignRequest({
      group: r.groupId,
      message: 'pay',
      encoding: 'utf8',
    });
    await drain();
    const batch = r.sent.find((s) => s.peer === mid.peerId)!.msg as { items: Signed[] };
    for (const s of batch.items) a.requests.acceptStatement(low.peerId, s);
    a.requests.decide(view.id, 'approve');
    await drain();
    expect(decisionSentTo(a, mid).sort()).toEqual([low.peerId, high.peerId].sort());
  });

  it('relays only current members’ approvals with the outcome', async () => {
    const { a, id } = await secondApproval(high, low);
    const zed = await peer('zed');
    a.store.decisions.insert({
      requestId: id,
      peerId: zed.peerId,
      decision: 'approve',
      statement: '{}',
      at: Date.now(),
    });
    const carried = a.requests.approvalStatements(id).map((s) => (s.body as DecisionBody).by);
    expect(carried.sort()).toEqual([low.peerId, high.peerId].sort());
  });

  it('takes the rest of a batch when one item is refused, and refuses a batch refused whole', async () => {
    const { id, statement, batch } = await secondApproval(low, high);
    const m = node(mid);
    for (const s of batch) m.requests.acceptStatement(low.peerId, s);
    // An approval by someone who is no member (a removed one, say), then high's.
    const zed = await peer('zed');
    const stranger = signStatement<DecisionBody>(
      { ...(statement.body as DecisionBody), by: zed.peerId, at: Date.now() },
      (h) => zed.sign(h),
    );
    m.requests.acceptStatements(low.peerId, [stranger, statement]);
    expect(m.requests.approversOf(m.store.requests.get(id)!).sort()).toEqual(
      [low.peerId, high.peerId].sort(),
    );
    expect(m.ctx.dropped.non_member_author).toBe(1);
    expect(() => m.requests.acceptStatements(low.peerId, [stranger])).toThrow(DroppedMessage);
  });
});
