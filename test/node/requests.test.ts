// The requests service alone: statements are stored and counted, expiry and final denial apply,
// and the approver that coordinates hands the request to the signing service.
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  signStatement,
  statementHash,
  type DecisionBody,
  type RequestBody,
  type Signed,
} from '../../shared/protocol/wire.js';
import type { NodeServices } from '../../main/node/context.js';
import type { Store } from '../../main/store/index.js';
import { RequestsService } from '../../main/node/requests.js';
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
    ceremony: { ceremonies: new Set<string>() },
    settle: { pendingCeremony: () => undefined },
    reconstruct: {},
  } as unknown as NodeServices;
  const requests = new RequestsService(h.ctx, deps);
  return { ...h, groupId, requests, coordinated };
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

  it('refuses a decision whose signature is not its author’s', () => {
    const { requests, store, groupId } = setup();
    const view = requests.createSignRequest({ group: groupId, message: 'pay 3', encoding: 'utf8' });
    // Signed by carol, claiming to be bob's.
    const bad = decision(store, view.id, bob, 'approve', carol);
    expect(() => requests.acceptStatement(carol.peerId, bad)).toThrow(/bad_signature/);
    expect(store.decisions.list(view.id)).toEqual([]);
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
