// The signing service alone, signer side: it never signs a request that it, the coordinator and
// every chosen signer did not approve, nor a request of another kind than "sign".
import { beforeAll, describe, expect, it } from 'vitest';
import type { NodeServices } from '../../main/node/context.js';
import { SigningService } from '../../main/node/signing.js';
import type { RequestKind } from '../../main/store/index.js';
import { harness, peer, readyGroup, type Peer } from './fixtures.js';

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
    envelope: JSON.stringify({ body: { type: 'request' } }),
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
    requests: { policyRefusal: () => undefined, needed: () => 2, acceptStatement: () => undefined },
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
