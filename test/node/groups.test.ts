// The groups service alone: the creator admits members only with a valid invite token, up to the
// group's size, and the group moves to confirmation when it is complete.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ApiEvent } from '../../shared/api/index.js';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import { decodeInvite } from '../../shared/protocol/roster.js';
import { joinToken } from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import { GroupsService, NEWCOMER_INVITE_TTL_MS } from '../../main/node/groups.js';
import { dealerKeys } from '../crypto/helpers.js';
import { harness, peer, readyGroup, type Peer } from './fixtures.js';

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
  const join = (who: Peer, secret = invite.secret, addrs: string[] = [], name = who.name) =>
    groups.onJoin(
      who.peerId,
      {
        v: 1,
        type: 'join',
        groupId: created.id,
        token: joinToken(secret, created.id, who.peerId),
        name,
        addrs,
      },
      { remoteAddr: '/ip4/127.0.0.1/tcp/50123' },
    );
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

  it('keeps only the addresses the joiner’s own connection vouches for, and escapes its name in logs', async () => {
    const { join, store, created, logs } = setup();
    const own = `/ip4/127.0.0.1/tcp/4001/p2p/${bob.peerId}`;
    const res = await join(
      bob,
      undefined,
      ['/ip4/10.9.9.9/tcp/22', own, `/ip4/127.0.0.1/tcp/4002/p2p/${carol.peerId}`],
      'bob\nforged: carol joined treasury',
    );
    expect(res).toMatchObject({ ok: true });
    expect(store.members.get(created.id, bob.peerId)?.addrs).toEqual([own]);
    const line = logs.find((l) => l.includes('joined'));
    expect(line).toContain('"bob\\u{a}forged: carol joined treasury"');
    expect(logs.join('|')).not.toContain('\n');
  });
});

describe('GroupsService newcomer invites', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Alice, bob and carol hold a ready group; dave is a newcomer. */
  function ready() {
    const h = harness(alice);
    const policy = { rules: [] };
    const groups = new GroupsService(h.ctx, {
      requests: { policyOf: () => policy },
    } as unknown as NodeServices);
    const id = readyGroup(h.store, [alice, bob, carol], 2);
    // A real package: the inviter checks it decodes before handing it to a newcomer.
    h.store.groups.update(id, {
      publicPackage: JSON.stringify(publicPackageToJSON(dealerKeys('ed25519', 2, 3)[0]!.public)),
    });
    const join = (who: Peer, secret: string) =>
      groups.onJoin(
        who.peerId,
        {
          v: 1,
          type: 'join',
          groupId: id,
          token: joinToken(secret, id, who.peerId),
          name: who.name,
          addrs: [`/ip4/127.0.0.1/tcp/4005/p2p/${who.peerId}`, '/ip4/192.0.2.7/tcp/4005'],
        },
        { remoteAddr: '/ip4/127.0.0.1/tcp/51000' },
      );
    const invite = () => decodeInvite(groups.inviteNewcomer(id).invite).secret;
    return { ...h, groups, id, join, invite };
  }

  it('admits a newcomer with a fresh invite as a candidate, with only its vouched address', async () => {
    const { join, invite, groups, store, id } = ready();
    expect(groups.isCandidate(dave.peerId)).toBe(false);
    expect(await join(dave, invite())).toMatchObject({ ok: true, newcomer: true });
    expect(groups.isCandidate(dave.peerId)).toBe(true);
    expect(JSON.parse(store.meta.get(`candidates:${id}`)!)).toEqual([
      { peerId: dave.peerId, name: 'dave', addrs: [`/ip4/127.0.0.1/tcp/4005/p2p/${dave.peerId}`] },
    ]);
  });

  it('refuses an invite older than its lifetime (24 h by default), and a new one works', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.UTC(2026, 0, 1);
    vi.setSystemTime(t0);
    const { join, invite, groups } = ready();
    const old = invite();
    vi.setSystemTime(t0 + NEWCOMER_INVITE_TTL_MS - 1);
    const almost = invite();
    vi.setSystemTime(t0 + NEWCOMER_INVITE_TTL_MS);
    expect(await join(dave, old)).toEqual({
      ok: false,
      error: 'invite expired; ask for a new one',
    });
    expect(groups.isCandidate(dave.peerId)).toBe(false);
    expect(await join(dave, almost)).toMatchObject({ ok: true, newcomer: true });
  });

  it('takes the lifetime from CONCLAVE_NEWCOMER_INVITE_TTL_MS', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.stubEnv('CONCLAVE_NEWCOMER_INVITE_TTL_MS', '1000');
    try {
      const t0 = Date.UTC(2026, 0, 1);
      vi.setSystemTime(t0);
      const { join, invite } = ready();
      const secret = invite();
      vi.setSystemTime(t0 + 1000);
      expect(await join(dave, secret)).toEqual({
        ok: false,
        error: 'invite expired; ask for a new one',
      });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('reads stored invites of the old format (bare secrets, no time) as expired, and never throws on stored data', async () => {
    const { join, invite, store, id } = ready();
    const bare = 'ef'.repeat(32);
    store.meta.set(
      `newcomer-invites:${id}`,
      JSON.stringify([bare, 42, null, { secret: 'zz' }, { secret: bare, createdAt: 'now' }]),
    );
    expect(await join(dave, bare)).toEqual({
      ok: false,
      error: 'invite expired; ask for a new one',
    });
    store.meta.set(`newcomer-invites:${id}`, '{not json');
    expect(await join(dave, bare)).toEqual({
      ok: false,
      error: 'the invite code is not valid for this group',
    });
    // Issuing a new invite over unreadable data starts a fresh list.
    const fresh = invite();
    expect(await join(dave, fresh)).toMatchObject({ ok: true });
    store.meta.set(`candidates:${id}`, '"not a list"');
    expect(await join(dave, fresh)).toMatchObject({ ok: true });
  });
});

describe('group names are unique on a node', () => {
  it('refuses to create a second group of the same name, naming it', () => {
    const { groups, created, store } = setup();
    let err: unknown;
    try {
      groups.createGroup({ name: 'treasury', threshold: 2, size: 3, scheme: 'ed25519' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'conflict' });
    expect((err as Error).message).toContain(
      `you already have a group called "treasury" (${created.id})`,
    );
    expect(store.groups.list()).toHaveLength(1);
    // Another name is fine, and the name-based lookup still finds exactly one group each.
    groups.createGroup({ name: 'treasury 2', threshold: 2, size: 3, scheme: 'ed25519' });
    expect(groups.findGroup('treasury').id).toBe(created.id);
  });

  it('refuses an invite to a group of a name this node already uses, before asking its creator', async () => {
    const creator = setup();
    const h = harness(bob);
    const mine = new GroupsService(h.ctx, {} as NodeServices);
    mine.createGroup({ name: 'treasury', threshold: 2, size: 2, scheme: 'ed25519' });
    await expect(mine.joinGroup(creator.created.invite)).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('you already have a group called "treasury"'),
    });
    expect(h.sent).toEqual([]);
    expect(h.store.groups.list()).toHaveLength(1);
  });
});
