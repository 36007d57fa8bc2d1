// The requester's approval at creation (`approve` on request.sign): one signed decision, stored
// and sent with the request in the same batch, counted by another member like any approval; and
// the view says how many approvals the request needs of the group's size.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { NodeServices } from '../../main/node/context.js';
import { RequestsService } from '../../main/node/requests.js';
import type { Signed } from '../../shared/protocol/wire.js';
import { harness, peer, readyGroup, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([peer('alice'), peer('bob'), peer('carol')]);
});
afterEach(() => vi.restoreAllMocks());

function node(me: Peer) {
  const h = harness(me);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  const coordinated: string[] = [];
  const deps = {
    groups: { findGroup: (ref: string) => h.store.groups.get(ref)! },
    signing: {
      coordinating: new Set<string>(),
      coordinate: async (id: string) => void coordinated.push(id),
    },
    ceremony: { ceremonies: new Set<string>(), startCeremony: async () => undefined },
    settle: { pendingCeremony: () => undefined },
    reconstruct: {},
  } as unknown as NodeServices;
  return { ...h, groupId, requests: new RequestsService(h.ctx, deps), coordinated };
}

describe('approve at creation', () => {
  it('signs, stores and sends the requester’s approval with the request, in one batch', async () => {
    const a = node(alice);
    const view = a.requests.createSignRequest({
      group: a.groupId,
      message: 'pay 1 BTC to X',
      encoding: 'utf8',
      approve: true,
    });
    expect(view.status).toBe('pending');
    expect(view.approvals.map((d) => d.name)).toEqual(['alice']);
    expect(view).toMatchObject({ approvalsNeeded: 2, groupSize: 3 });
    expect(a.store.decisions.list(view.id)).toMatchObject([
      { peerId: alice.peerId, decision: 'approve' },
    ]);
    expect(a.store.audit.list({ group: a.groupId }).map((e) => e.type)).toEqual([
      'request.created',
      'request.approved',
    ]);
    // One message per other member, holding the request and then the decision (the audit log's
    // entries go in batches of their own).
    const statements = () => a.sent.filter((s) => s.msg.type === 'statements');
    await vi.waitFor(() => expect(statements().map((s) => s.peer)).toHaveLength(2));
    const batches = statements().filter((s) => s.peer === bob.peerId);
    expect(batches).toHaveLength(1);
    const items = (batches[0]!.msg as { items: Signed[] }).items;
    expect(items.map((s) => s.body.type)).toEqual(['request', 'decision']);

    // Bob takes the batch as it comes and counts alice's approval: one more (his) signs.
    const b = node(bob);
    for (const s of items) b.requests.acceptStatement(alice.peerId, s);
    const seen = b.requests.requestView(b.requests.getRequest(view.id));
    expect(seen.approvals.map((d) => d.name)).toEqual(['alice']);
    expect(b.coordinated).toEqual([]);
    b.requests.decide(view.id, 'approve');
    expect(b.requests.approversOf(b.requests.getRequest(view.id)).sort()).toEqual(
      [alice.peerId, bob.peerId].sort(),
    );
  });

  it('makes no decision without approve, and the view still says what is needed', () => {
    const a = node(alice);
    const view = a.requests.createSignRequest({
      group: a.groupId,
      message: 'pay',
      encoding: 'utf8',
    });
    expect(view.approvals).toEqual([]);
    expect(view).toMatchObject({ approvalsNeeded: 2, groupSize: 3 });
    expect(a.store.decisions.list(view.id)).toEqual([]);
    // Approving afterwards still works once, as before.
    expect(a.requests.decide(view.id, 'approve').approvals.map((d) => d.name)).toEqual(['alice']);
    expect(() => a.requests.decide(view.id, 'approve')).toThrow(/already approved/);
  });

  it('refuses a second approval after approving at creation', () => {
    const a = node(alice);
    const view = a.requests.createSignRequest({
      group: a.groupId,
      message: 'pay',
      encoding: 'utf8',
      approve: true,
    });
    expect(() => a.requests.decide(view.id, 'approve')).toThrow(/already approved/);
  });
});

describe('what an approval starts goes first', () => {
  /** A 2-of-3 sign request by bob, approved by bob, as `me`'s node holds it. */
  async function approvedByBob(me: Peer) {
    const b = node(bob);
    const view = b.requests.createSignRequest({
      group: b.groupId,
      message: 'pay 2 BTC to Y',
      encoding: 'utf8',
      approve: true,
    });
    const batch = () => b.sent.find((x) => x.msg.type === 'statements');
    await vi.waitFor(() => expect(batch()).toBeDefined());
    const n = node(me);
    for (const s of batch()!.msg.items as Signed[]) n.requests.acceptStatement(bob.peerId, s);
    return { n, id: view.id, b };
  }

  /**
   * What happens in what order on `n`: a sign request leaving (the signing service replaced by one
   * that, as the real coordinator, sends after an await) and the answer (the request's view) built.
   */
  function orderOn(n: Awaited<ReturnType<typeof approvedByBob>>['n']): string[] {
    const order: string[] = [];
    (n.requests as unknown as { signing: { coordinate: (id: string) => Promise<void> } })[
      'signing'
    ].coordinate = async (rid: string) => {
      await null;
      order.push(`sign request for ${rid}`);
    };
    vi.spyOn(n.requests, 'requestView').mockImplementation(function (
      this: RequestsService,
      ...args
    ) {
      order.push('answer');
      return RequestsService.prototype.requestView.apply(this, args);
    });
    return order;
  }

  it("answers the API's approve once the sign requests it started have left", async () => {
    const { n, id } = await approvedByBob(alice);
    const order = orderOn(n);
    const answer = await n.requests.decideThenAnswer(id, 'approve');
    expect(answer.approvals.map((d) => d.name).sort()).toEqual(['alice', 'bob']);
    expect(order).toEqual([`sign request for ${id}`, 'answer']);

    // `decide` (what the API called before) built its answer first: the sign request waited.
    const again = await approvedByBob(carol);
    const order2 = orderOn(again.n);
    again.n.requests.decide(again.id, 'approve');
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(order2).toEqual(['answer', `sign request for ${again.id}`]);
  });

  it('keeps approvals relayed with a sign request at once, and acts on them on the next turn', async () => {
    const { n, id, b } = await approvedByBob(alice);
    // Carol's approval, as a coordinator relays it with its sign request.
    const c = node(carol);
    for (const s of b.sent.find((x) => x.msg.type === 'statements')!.msg.items as Signed[])
      c.requests.acceptStatement(bob.peerId, s);
    c.requests.decide(id, 'approve');
    const carolsApproval = JSON.parse(
      c.store.decisions.list(id).find((d) => d.peerId === carol.peerId)!.statement,
    ) as Signed;
    const events: string[] = [];
    n.ctx.onEvent((e) => events.push(`${e.type} ${(e as { id?: string }).id}`));
    n.requests.acceptStatement(carol.peerId, carolsApproval, true);
    // Stored and counted now: the signer's checks that follow see it.
    expect(n.requests.approversOf(n.requests.getRequest(id)).sort()).toEqual(
      [bob.peerId, carol.peerId].sort(),
    );
    // What it starts (evaluation, the request's waiters and views) waits for the next turn.
    expect(events).toEqual([]);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(events).toContain(`request ${id}`);
  });
});
