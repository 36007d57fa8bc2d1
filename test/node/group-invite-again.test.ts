// Issue 11 item 6: the creator's group view carries the invite while the group is forming and not
// full (so a reload can show it again), the same invite that admits a member; nobody else gets it.
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeInvite } from '../../shared/protocol/roster.js';
import { joinToken } from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import { GroupsService } from '../../main/node/groups.js';
import { harness, peer, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map(peer));
});

describe('GroupsService: the invite again', () => {
  it('the creator sees the invite in the group view until the group is complete', async () => {
    const h = harness(alice);
    const groups = new GroupsService(h.ctx, {} as NodeServices);
    const created = groups.createGroup({ name: 'vault', threshold: 2, size: 3, scheme: 'ed25519' });
    const view = () => groups.groupView(h.store.groups.get(created.id)!);
    // As after a reload: the view alone (no create answer) holds an invite with the same secret.
    const again = view().invite;
    expect(again).toBeDefined();
    const first = decodeInvite(created.invite);
    expect(decodeInvite(again!)).toMatchObject({
      groupId: created.id,
      creator: alice.peerId,
      secret: first.secret,
      threshold: 2,
      size: 3,
    });
    // The invite from the view admits a member.
    const join = (who: Peer) =>
      groups.onJoin(
        who.peerId,
        {
          v: 1,
          type: 'join',
          groupId: created.id,
          token: joinToken(decodeInvite(again!).secret, created.id, who.peerId),
          name: who.name,
          addrs: [],
        },
        { remoteAddr: '/ip4/127.0.0.1/tcp/50123' },
      );
    expect(await join(bob)).toMatchObject({ ok: true });
    expect(view().invite).toBeDefined();
    expect(await join(carol)).toMatchObject({ ok: true });
    // Complete: confirming, no invite any more.
    expect(view().status).toBe('confirming');
    expect(view().invite).toBeUndefined();
  });

  it('a member who joined (not the creator) gets no invite in the view', async () => {
    const h = harness(alice);
    const groups = new GroupsService(h.ctx, {} as NodeServices);
    const created = groups.createGroup({ name: 'vault', threshold: 2, size: 3, scheme: 'ed25519' });
    const row = h.store.groups.get(created.id)!;
    expect(groups.groupView({ ...row, creatorPeerId: bob.peerId }).invite).toBeUndefined();
  });
});
