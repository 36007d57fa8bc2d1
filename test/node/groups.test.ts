// The groups service alone: the creator admits members only with a valid invite token, up to the
// group's size, and the group moves to confirmation when it is complete.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../shared/api/index.js';
import { decodeInvite } from '../../shared/protocol/roster.js';
import { joinToken } from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import { GroupsService } from '../../main/node/groups.js';
import { harness, peer, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer, dave: Peer;
beforeAll(async () => {
  [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map(peer));
});

function setup() {
  const h = harness(alice);
  const events: ApiEvent[] = [];
  h.ctx.onEvent((e) => events.push(e));
  const groups = new GroupsService(h.ctx, {} as NodeServices);
  const created = groups.createGroup({
    name: 'treasury',
    threshold: 2,
    size: 3,
    scheme: 'ed25519',
  });
  const invite = decodeInvite(created.invite);
  const join = (who: Peer, secret = invite.secret) =>
    groups.onJoin(who.peerId, {
      v: 1,
      type: 'join',
      groupId: created.id,
      token: joinToken(secret, created.id, who.peerId),
      name: who.name,
      addrs: [],
    });
  return { ...h, groups, created, join, events };
}

describe('GroupsService', () => {
  it('creates a forming group with this node as its first member and an invite for the others', () => {
    const { created, store } = setup();
    expect(created).toMatchObject({ name: 'treasury', status: 'forming', threshold: 2, size: 3 });
    expect(created.members.map((m) => m.peerId)).toEqual([alice.peerId]);
    expect(decodeInvite(created.invite)).toMatchObject({
      creator: alice.peerId,
      groupId: created.id,
    });
    expect(store.audit.list({ group: created.id }).map((e) => e.type)).toEqual(['group.created']);
  });

  it('admits members with a valid token until the group is complete, then asks for confirmation', async () => {
    const { join, store, created, sent, events } = setup();
    expect(await join(bob)).toMatchObject({ ok: true });
    expect(store.groups.get(created.id)?.status).toBe('forming');
    expect(await join(carol)).toMatchObject({ ok: true });
    expect(store.members.list(created.id).map((m) => m.name)).toEqual(['alice', 'bob', 'carol']);
    expect(store.groups.get(created.id)?.status).toBe('confirming');
    expect(events).toContainEqual({ type: 'group', id: created.id });
    // Bob hears the new roster when carol joins.
    expect(sent.some((s) => s.peer === bob.peerId && s.msg.type === 'roster')).toBe(true);
    expect(await join(dave)).toEqual({ ok: false, error: 'the group is already complete' });
  });

  it('refuses a join whose token was not made from the invite secret', async () => {
    const { join, store, created } = setup();
    expect(await join(bob, 'cd'.repeat(32))).toEqual({
      ok: false,
      error: 'the invite code is not valid for this group',
    });
    expect(store.members.list(created.id)).toHaveLength(1);
  });

  it('refuses to join with its own invite', async () => {
    const { groups, created } = setup();
    await expect(groups.joinGroup(created.invite)).rejects.toThrow(/your own invite/);
  });
});
