// Membership lookups (who may send group messages, who keeps a connection slot) answered from the
// node's membership index: right after every kind of change to the membership, and without going
// back to the store for every incoming message.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { makeEntry } from '../../shared/audit/chain.js';
import { decodeInvite, fingerprint } from '../../shared/protocol/roster.js';
import type { Handler, HandleOptions, Host, PeerPolicy } from '../../main/net/index.js';
import { Custodian } from '../../main/node/custodian.js';
import { formerKey } from '../../main/node/common.js';
import { Membership } from '../../main/node/membership.js';
import { openStore, type Store } from '../../main/store/index.js';
import type { Vault } from '../../main/vault/index.js';
import {
  insertRequest,
  joinMessage,
  peer,
  publicPackageJSON,
  readyGroup,
  type Peer,
} from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer, dave: Peer;
beforeAll(async () => {
  [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map(peer));
});

const running: Custodian[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
});

/** Counts every call of every method of the store's tables (reads and writes alike), by method. */
function countCalls(store: Store): { calls: () => Map<string, number> } {
  const calls = new Map<string, number>();
  for (const table of ['meta', 'groups', 'members', 'requests', 'decisions', 'audit'] as const) {
    const t = store[table] as unknown as Record<string, unknown>;
    for (const [name, fn] of Object.entries(t))
      if (typeof fn === 'function')
        t[name] = (...args: unknown[]) => {
          const key = `${table}.${name}`;
          calls.set(key, (calls.get(key) ?? 0) + 1);
          return (fn as (...a: unknown[]) => unknown).apply(t, args);
        };
  }
  return { calls: () => new Map(calls) };
}

/** The calls made since `before`, by method, and in all. */
function since(before: Map<string, number>, now: Map<string, number>) {
  const by = new Map<string, number>();
  let total = 0;
  for (const [k, v] of now) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0) by.set(k, d);
    total += d;
  }
  return { by, total };
}

/** Alice's node over an in-memory store and a fake host that keeps the handlers and the policy. */
async function node(opts: { count?: boolean } = {}) {
  const store = openStore(':memory:');
  const counter = opts.count ? countCalls(store) : undefined;
  const handlers = new Map<string, { handler: Handler; opts: HandleOptions }>();
  let policy: PeerPolicy | undefined;
  const host = {
    peerId: alice.peerId,
    addrs: () => ['/ip4/127.0.0.1/tcp/1'],
    isConnected: () => false,
    addAddresses: async () => undefined,
    connect: async () => undefined,
    request: async () => ({ ok: true }),
    handle: async (protocol: string, handler: Handler, o: HandleOptions) =>
      void handlers.set(protocol, { handler, opts: o }),
    setPeerPolicy: (p: PeerPolicy) => void (policy = p),
    onPeerConnect: () => () => undefined,
    onPeerDisconnect: () => () => undefined,
    onPeerDiscovered: () => () => undefined,
    stats: () => ({ dropped: {}, served: 0, connections: {} }),
  } as unknown as Host;
  const c = new Custodian({
    store,
    vault: { kind: 'file' } as unknown as Vault,
    host,
    identity: alice,
    log: () => undefined,
  });
  await c.start();
  running.push(c);
  const group = handlers.get('/conclave/group/1.0.0')!;
  const joinHandler = handlers.get('/conclave/join/1.0.0')!;
  // What the host does with an incoming group message: the gate, then the handler.
  const deliver = async (from: Peer, msg: Record<string, unknown>) => {
    if (!group.opts.allow!(from.peerId)) throw new Error('refused by allow');
    return group.handler(from.peerId, msg, {
      remoteAddr: '/ip4/127.0.0.1/tcp/2',
    } as Parameters<Handler>[2]);
  };
  const join = (from: Peer, msg: Record<string, unknown>) =>
    joinHandler.handler(from.peerId, msg, {
      remoteAddr: '/ip4/127.0.0.1/tcp/3',
    } as Parameters<Handler>[2]);
  // Private parts reached for the test only.
  const inner = c as unknown as {
    groups: {
      isKnownMember(p: string): boolean;
      isCandidate(p: string): boolean;
      isFormerMember(g: string, p: string): boolean;
    };
    ctx: { memberByPeer(g: string, p: string): unknown };
    ceremony: { newcomerInPendingRequest(g: string, p: string): unknown };
  };
  return {
    c,
    host,
    join,
    ceremony: inner.ceremony,
    store,
    counter,
    deliver,
    allow: (p: Peer) => group.opts.allow!(p.peerId),
    isMember: (p: Peer) => policy!.isMember(p.peerId),
    known: (p: Peer) => inner.groups.isKnownMember(p.peerId),
    groups: inner.groups,
    ctx: inner.ctx,
  };
}

/** A forming group created by `creator` with these members (the creator first), as stored. */
function formingGroup(store: Store, id: string, members: Peer[]): void {
  const name = `forming-${id.slice(0, 4)}`;
  readyGroup(store, members, 2, { id, name, size: 3, status: 'forming', confirmed: false });
}

/** The parameters of a reshare from epoch 0 of a 3-member group that adds `add`. */
function addParams(groupId: string, add: Peer) {
  return {
    ceremony: 'reshare',
    group: groupId,
    fromEpoch: 0,
    threshold: 2,
    size: 4,
    add: [{ peerId: add.peerId, name: add.name, addrs: [] as string[] }],
    remove: [] as string[],
  };
}

/** A stored request's envelope as far as the node reads it back (its author and policy hash). */
const envelope = (author: Peer) =>
  JSON.stringify({ body: { createdBy: author.peerId, policy: '00'.repeat(32) } });

/** alice's pending reshare r1 of the group that adds `add`, as stored. */
const pendingReshare = (store: Store, groupId: string, add: Peer) =>
  insertRequest(store, addParams(groupId, add), {
    groupId,
    kind: 'reshare',
    createdBy: alice.peerId,
    status: 'pending',
    envelope: envelope(alice),
  });

describe('membership lookups answer right after each change', () => {
  it('a member who joins with the invite counts from the join on', async () => {
    const n = await node();
    const created = await n.c.api()['group.create']({
      name: 'treasury',
      threshold: 2,
      size: 3,
      scheme: 'ed25519',
    });
    expect(n.known(bob)).toBe(false);
    expect(n.isMember(bob)).toBe(false);
    const secret = decodeInvite(created.invite).secret;
    const join = await n.join(bob, joinMessage(created.id, secret, bob));
    expect(join).toMatchObject({ ok: true });
    expect(n.known(bob)).toBe(true);
    expect(n.isMember(bob)).toBe(true);
    expect(n.allow(bob)).toBe(true);
    expect(n.ctx.memberByPeer(created.id, bob.peerId)).toMatchObject({ name: 'bob', index: 2 });
  });

  it('a member named by the creator’s roster counts once the roster is applied', async () => {
    const n = await node();
    const id = 'cd'.repeat(16);
    formingGroup(n.store, id, [carol, alice]);
    expect(n.known(bob)).toBe(false);
    expect(n.allow(bob)).toBe(false);
    await n.deliver(carol, {
      v: 1,
      type: 'roster',
      groupId: id,
      name: `forming-${id.slice(0, 4)}`,
      threshold: 2,
      size: 3,
      scheme: 'ed25519',
      creator: carol.peerId,
      createdAt: n.store.groups.get(id)!.createdAt,
      members: [carol, alice, bob].map((p, i) => ({
        index: i + 1,
        peerId: p.peerId,
        name: p.name,
        addrs: [],
      })),
    });
    expect(n.known(bob)).toBe(true);
    expect(n.allow(bob)).toBe(true);
    expect(n.ctx.memberByPeer(id, bob.peerId)).toMatchObject({ index: 3 });
    expect(n.store.groups.get(id)?.status).toBe('confirming');
  });

  it('a member a reshare removed is a former member from the switch on, and no longer a member', async () => {
    const n = await node();
    const id = readyGroup(n.store, [alice, bob, carol], 2);
    expect(n.known(bob)).toBe(true);
    expect(n.groups.isFormerMember(id, bob.peerId)).toBe(false);
    // As settle.ts switches the roster of a reshare that removed bob: in one transaction.
    n.store.tx(() => {
      n.store.members.delete(id, bob.peerId);
      n.store.meta.set(formerKey(id), JSON.stringify([bob.peerId]));
    });
    expect(n.known(bob)).toBe(false);
    expect(n.isMember(bob)).toBe(false);
    expect(n.ctx.memberByPeer(id, bob.peerId)).toBeUndefined();
    expect(n.groups.isFormerMember(id, bob.peerId)).toBe(true);
    // It may still ask how the reshare ended (the gate lets it through), and only that.
    expect(n.allow(bob)).toBe(true);
    await expect(n.deliver(bob, { v: 1, type: 'hello', addrs: [] })).rejects.toMatchObject({
      reason: 'non_member',
    });
  });

  it('a newcomer named by a reshare counts as soon as the request is stored, until it ends', async () => {
    const n = await node();
    const id = readyGroup(n.store, [alice, bob, carol], 2);
    n.store.groups.update(id, { publicPackage: publicPackageJSON() });
    expect(n.known(dave)).toBe(false);
    expect(n.allow(dave)).toBe(false);
    pendingReshare(n.store, id, dave);
    expect(n.ceremony.newcomerInPendingRequest(id, dave.peerId)).toMatchObject({ index: 4 });
    expect(n.known(dave)).toBe(true);
    expect(n.isMember(dave)).toBe(true);
    expect(n.allow(dave)).toBe(true);
    n.store.requests.update('r1', { status: 'signing' });
    expect(n.known(dave)).toBe(true);
    n.store.requests.update('r1', { status: 'failed' });
    expect(n.ceremony.newcomerInPendingRequest(id, dave.peerId)).toBeUndefined();
    expect(n.known(dave)).toBe(false);
    expect(n.isMember(dave)).toBe(false);
  });

  it('a newcomer that joined with an invite is a candidate until the reshare adds it', async () => {
    const n = await node();
    const id = readyGroup(n.store, [alice, bob, carol], 2);
    // A real package: the inviter checks it decodes before handing it to a newcomer.
    n.store.groups.update(id, { publicPackage: publicPackageJSON() });
    expect(n.isMember(dave)).toBe(false);
    const invite = await n.c.api()['group.invite']({ group: id });
    const secret = decodeInvite(invite.invite).secret;
    const join = await n.join(dave, joinMessage(id, secret, dave));
    expect(join).toMatchObject({ ok: true, newcomer: true });
    expect(n.groups.isCandidate(dave.peerId)).toBe(true);
    expect(n.isMember(dave)).toBe(true);
    expect(n.known(dave)).toBe(false);
    // The reshare that adds it switches the roster and clears the candidates (settle.ts).
    n.store.tx(() => {
      n.store.members.upsert({
        groupId: id,
        peerId: dave.peerId,
        name: 'dave',
        identityKey: bytesToHex(dave.publicKey),
        fingerprint: fingerprint(dave.publicKey),
        index: 4,
        addrs: [],
        confirmed: true,
        joinedAt: Date.now(),
      });
      n.store.meta.set(`candidates:${id}`, '[]');
    });
    expect(n.groups.isCandidate(dave.peerId)).toBe(false);
    expect(n.known(dave)).toBe(true);
  });

  it('the candidates of a group count once its key generation is done (the group is ready)', async () => {
    const n = await node();
    const id = readyGroup(n.store, [alice, bob, carol], 2);
    n.store.groups.update(id, { status: 'dkg' });
    n.store.meta.set(
      `candidates:${id}`,
      JSON.stringify([{ peerId: dave.peerId, name: 'dave', addrs: [] }]),
    );
    expect(n.groups.isCandidate(dave.peerId)).toBe(false);
    expect(n.isMember(dave)).toBe(false);
    n.store.groups.update(id, { status: 'ready' });
    expect(n.groups.isCandidate(dave.peerId)).toBe(true);
    expect(n.isMember(dave)).toBe(true);
  });

  it('the members of a group this node left no longer count', async () => {
    const n = await node();
    const id = 'cd'.repeat(16);
    formingGroup(n.store, id, [carol, alice, bob]);
    expect(n.known(bob)).toBe(true);
    await n.c.api()['group.leave']({ group: id, confirm: true });
    expect(n.store.groups.get(id)).toBeUndefined();
    expect(n.known(bob)).toBe(false);
    expect(n.known(carol)).toBe(false);
    expect(n.isMember(bob)).toBe(false);
    expect(n.allow(bob)).toBe(false);
    expect(n.ctx.memberByPeer(id, bob.peerId)).toBeUndefined();
  });

  it('a transaction rolled back takes its changes out of the answers too', async () => {
    const n = await node();
    const id = readyGroup(n.store, [alice, bob, carol], 2);
    expect(() =>
      n.store.tx(() => {
        n.store.members.delete(id, bob.peerId);
        // Inside the transaction the answer follows the store as it is there.
        expect(n.known(bob)).toBe(false);
        throw new Error('rolled back');
      }),
    ).toThrow('rolled back');
    expect(n.store.members.get(id, bob.peerId)).toBeDefined();
    expect(n.known(bob)).toBe(true);
  });

  it('a restarted node (a new custodian on the same store) reads the membership anew', async () => {
    const n = await node();
    const id = readyGroup(n.store, [alice, bob, carol], 2);
    expect(n.known(bob)).toBe(true);
    await n.c.stop();
    n.store.members.delete(id, bob.peerId);
    const again = new Custodian({
      store: n.store,
      vault: { kind: 'file' } as unknown as Vault,
      host: n.host,
      identity: alice,
      log: () => undefined,
    });
    const groups = (again as unknown as { groups: { isKnownMember(p: string): boolean } }).groups;
    expect(groups.isKnownMember(bob.peerId)).toBe(false);
    expect(groups.isKnownMember(carol.peerId)).toBe(true);
    // The first node's lookups follow the same store too.
    expect(n.known(bob)).toBe(false);
  });

  it('follows the store’s write versions: nothing of the store is replaced, a frozen one works', () => {
    const store = openStore(':memory:');
    const methods = () =>
      (['meta', 'groups', 'members', 'requests'] as const).flatMap((t) => Object.values(store[t]));
    // Counts the reads of the groups before the store is frozen: what the index is built from.
    const list = store.groups.list;
    let lists = 0;
    store.groups.list = () => (lists++, list());
    const before = methods();
    for (const t of ['meta', 'groups', 'members', 'requests'] as const) Object.freeze(store[t]);
    Object.freeze(store);
    const m = new Membership(store);
    expect(m.isMemberOfAny(bob.peerId)).toBe(false);
    const id = readyGroup(store, [alice, bob, carol], 2);
    expect(m.isMemberOfAny(bob.peerId)).toBe(true);
    const built = lists;
    // Kept between writes: lookups read nothing.
    expect(m.member(id, carol.peerId)).toMatchObject({ index: 3 });
    expect(m.isMemberOfAny(carol.peerId)).toBe(true);
    expect(lists).toBe(built);
    // A write through any reference to the store shows at the next lookup.
    store.members.delete(id, bob.peerId);
    expect(m.isMemberOfAny(bob.peerId)).toBe(false);
    expect(lists).toBe(built + 1);
    // A write to a table the index does not read leaves it.
    insertRequest(
      store,
      {},
      { groupId: id, kind: 'sign', createdBy: alice.peerId, status: 'pending' },
    );
    expect(m.isMemberOfAny(carol.peerId)).toBe(true);
    expect(lists).toBe(built + 1);
    expect(methods()).toEqual(before);
    store.close();
  });

  it('gives a group and its former members as the store holds them, an unreadable record none', () => {
    const store = openStore(':memory:');
    const m = new Membership(store);
    const id = readyGroup(store, [alice, bob, carol], 2);
    expect(m.group(id)).toEqual(store.groups.get(id));
    expect(m.group('cd'.repeat(16))).toBeUndefined();
    expect([...m.formerMembers(id)]).toEqual([]);
    store.meta.set(formerKey(id), JSON.stringify([dave.peerId, 7]));
    expect([...m.formerMembers(id)]).toEqual([dave.peerId]);
    store.meta.set(formerKey(id), '{not json');
    expect([...m.formerMembers(id)]).toEqual([]);
    store.groups.delete(id);
    expect(m.group(id)).toBeUndefined();
    expect([...m.formerMembers(id)]).toEqual([]);
    store.close();
  });

  it('rows it hands out cannot be changed by a caller (they are shared)', async () => {
    const n = await node();
    const id = readyGroup(n.store, [alice, bob, carol], 2);
    const row = n.ctx.memberByPeer(id, bob.peerId) as { name: string; addrs: string[] };
    expect(() => (row.name = 'mallory')).toThrow(TypeError);
    expect(() => row.addrs.push('/ip4/192.0.2.1/tcp/1')).toThrow(TypeError);
    expect(n.ctx.memberByPeer(id, bob.peerId)).toMatchObject({ name: 'bob', addrs: [] });
  });
});

describe('membership lookups per incoming message', () => {
  it('a pending reshare’s newcomers are read once per write, not per question', async () => {
    const n = await node({ count: true });
    const id = readyGroup(n.store, [alice, bob, carol], 2);
    pendingReshare(n.store, id, dave);
    expect(n.ceremony.newcomerInPendingRequest(id, dave.peerId)).toMatchObject({ index: 4 });
    const before = n.counter!.calls();
    for (let i = 0; i < 10; i++) {
      expect(n.ceremony.newcomerInPendingRequest(id, dave.peerId)).toMatchObject({ index: 4 });
      expect(n.ceremony.newcomerInPendingRequest(id, 'someone-else')).toBeUndefined();
    }
    expect(since(before, n.counter!.calls()).total).toBe(0);
    // A group this node does not hold: nothing kept for it, nothing found.
    expect(n.ceremony.newcomerInPendingRequest('cd'.repeat(16), dave.peerId)).toBeUndefined();
    // The request ends: the newcomer is no longer named, at the next question.
    n.store.requests.update('r1', { status: 'failed' });
    expect(n.ceremony.newcomerInPendingRequest(id, dave.peerId)).toBeUndefined();
    // One whose parameters cannot be read fails the question every time, as it did unkept.
    insertRequest(
      n.store,
      { ceremony: 'reshare' },
      {
        id: 'r2',
        groupId: id,
        kind: 'reshare',
        createdBy: alice.peerId,
        status: 'pending',
        envelope: envelope(alice),
      },
    );
    expect(() => n.ceremony.newcomerInPendingRequest(id, dave.peerId)).toThrow();
    expect(() => n.ceremony.newcomerInPendingRequest(id, dave.peerId)).toThrow();
  });

  it('ask the store only for what the message itself needs, however many groups the node holds', async () => {
    const n = await node({ count: true });
    // Two older groups bob is not in: every lookup used to go through each of them first.
    formingGroup(n.store, 'cd'.repeat(16), [carol, alice]);
    formingGroup(n.store, 'ef'.repeat(16), [alice, carol]);
    const id = readyGroup(n.store, [alice, bob, carol], 2);
    const author = `${bob.peerId}/${id}`;
    let prev: ReturnType<typeof makeEntry> | undefined;
    const entry = () =>
      (prev = makeEntry(
        prev,
        { author, at: Date.now(), type: 'note', group: id, body: { n: prev ? prev.seq + 1 : 0 } },
        (h) => bob.sign(h),
      ));
    await n.deliver(bob, { v: 1, type: 'audit', groupId: id, entries: [entry()] });
    const before = n.counter!.calls();
    const rounds = 20;
    for (let i = 0; i < rounds; i++) {
      // An incoming message (the gate, then the handler) and a review of two connections.
      await n.deliver(bob, { v: 1, type: 'audit', groupId: id, entries: [entry()] });
      expect(n.isMember(bob)).toBe(true);
      expect(n.isMember(carol)).toBe(true);
    }
    const { by, total } = since(before, n.counter!.calls());
    expect(n.store.audit.head(author)?.seq).toBe(rounds);
    // Before the membership index: 22 store calls per round here, 15 of them membership lookups
    // (the groups listed 4 times, a member row read 11 times). Now none; what is left is the
    // audit service's own work (the message's group, who was ever a member, the chain heads, the
    // append): 5 to 7 calls.
    for (const lookup of ['groups.list', 'members.get', 'requests.list'])
      expect(by.get(lookup) ?? 0, lookup).toBe(0);
    expect(total / rounds).toBeLessThanOrEqual(10);
  });
});
