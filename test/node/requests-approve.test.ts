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
