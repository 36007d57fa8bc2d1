// Leaving a group (group.leave): a group not ready is simply removed; a ready one loses this node's
// share from the vault, says what that means for the others, and tells the reachable members.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { NodeServices } from '../../main/node/context.js';
import { shareName } from '../../main/node/common.js';
import { GroupsService } from '../../main/node/groups.js';
import type { Store } from '../../main/store/index.js';
import { harness, peer, readyGroup, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map(peer));
});

/** Alice's groups service over an in-memory store and a vault that is a map. */
function setup() {
  const secrets = new Map<string, Uint8Array>();
  const { store, ctx, sent } = harness(alice, { connected: true, secrets });
  const groups = new GroupsService(ctx, {
    dkg: { forget: () => undefined },
  } as unknown as NodeServices);
  return { store, secrets, sent, groups };
}

const lefts = (store: Store) => store.audit.all().filter((e) => e.type === 'group.left');

describe('group.leave', () => {
  it('a group still forming is removed, nothing is deleted from the vault', async () => {
    const { store, secrets, groups } = setup();
    const created = groups.createGroup({ name: 'ops', threshold: 2, size: 3, scheme: 'ed25519' });
    secrets.set('identity', new Uint8Array(32));
    const out = await groups.leaveGroup('ops');
    expect(out).toEqual({ group: created.id, name: 'ops', shareDeleted: false });
    expect(store.groups.get(created.id)).toBeUndefined();
    expect(store.members.list(created.id)).toEqual([]);
    expect(secrets.has('identity')).toBe(true);
    expect(lefts(store)).toHaveLength(1);
    // The name is free again.
    expect(() =>
      groups.createGroup({ name: 'ops', threshold: 2, size: 3, scheme: 'ed25519' }),
    ).not.toThrow();
  });

  it('deletes the next epoch’s share too, which a refresh under way stored already', async () => {
    const { store, secrets, groups } = setup();
    const id = readyGroup(store, [alice, bob, carol], 2);
    secrets.set(shareName(id, 0), new Uint8Array(32).fill(1));
    secrets.set(shareName(id, 1), new Uint8Array(32).fill(2));
    expect((await groups.leaveGroup(id)).shareDeleted).toBe(true);
    expect([...secrets.keys()]).toEqual([]);
  });

  it('a ready group: the share of every epoch is deleted, the others are told, and the warning counts what is left', async () => {
    const { store, secrets, sent, groups } = setup();
    const id = readyGroup(store, [alice, bob, carol], 2);
    store.groups.update(id, { epoch: 1 });
    secrets.set(shareName(id, 0), new Uint8Array(32).fill(1));
    secrets.set(shareName(id, 1), new Uint8Array(32).fill(2));
    const out = await groups.leaveGroup(id);
    expect(out.shareDeleted).toBe(true);
    expect(secrets.size).toBe(0);
    expect(out.warning).toMatch(/needs 2 of 3 shares to sign; 2 are left\. If 1 more of them lose/);
    expect(store.groups.get(id)).toBeUndefined();
    const [entry] = lefts(store);
    expect(entry?.body).toMatchObject({ shareDeleted: true, remaining: 2, threshold: 2 });
    await vi.waitFor(() =>
      expect(
        sent
          .filter((s) => s.msg.type === 'audit')
          .map((s) => s.peer)
          .sort(),
      ).toEqual([bob.peerId, carol.peerId].sort()),
    );
    await expect(groups.leaveGroup(id)).rejects.toThrow(/no group/);
  });

  it('leaving a 2-of-2 group says the key is lost for everyone', async () => {
    const { store, secrets, groups } = setup();
    const id = readyGroup(store, [alice, bob], 2);
    secrets.set(shareName(id, 0), new Uint8Array(32));
    const out = await groups.leaveGroup('treasury');
    expect(out.warning).toMatch(/only 1 is left, so its key is lost for everyone/);
  });
});
