// Audit catch-up sends only what the peer lacks (issue 12): before the log goes out, the member
// asks the peer which heads it holds of the group's chains ('audit-heads') and sends each chain
// from the entry after the peer's head. A peer that holds nothing gets everything, one that does not
// answer (an older version) or answers nonsense gets the whole log as before, a peer whose head
// forked gets the whole chain; a lying peer only makes this node send it less, never more than all.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeEntry, type AuditEntry } from '../../shared/audit/chain.js';
import { decodeGroupMessage, MAX_AUDIT_HEADS } from '../../shared/protocol/wire.js';
import { ASK_AFTER_GAP_MS, AuditService, WANT_SPACING_MS } from '../../main/node/audit.js';
import { NodeContext, type NodeServices } from '../../main/node/context.js';
import type { Host } from '../../main/net/index.js';
import { openStore, type Store } from '../../main/store/index.js';
import type { Vault } from '../../main/vault/index.js';
import { peer, readyGroup, type Peer, type Sent } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([peer('alice'), peer('bob'), peer('carol')]);
});

afterEach(() => {
  vi.useRealTimers();
});

type Route = (to: string, msg: Record<string, unknown>) => Promise<unknown>;

interface Node {
  me: Peer;
  store: Store;
  ctx: NodeContext;
  audit: AuditService;
  sent: Sent[];
  groupId: string;
  /** How this node's messages are answered (default: `{ ok: true }`, like the fake host). */
  route: Route;
}

/** One member of the 2-of-3 group of alice, bob and carol, over an in-memory store. */
function node(me: Peer): Node {
  const store = openStore(':memory:');
  const sent: Sent[] = [];
  const n = { me, store, sent } as Node;
  n.route = async () => ({ ok: true });
  const host = {
    addrs: () => ['/ip4/127.0.0.1/tcp/1'],
    isConnected: () => true,
    addAddresses: async () => undefined,
    request: async (to: string, _protocol: string, msg: Record<string, unknown>) => {
      sent.push({ peer: to, msg });
      // What goes over the wire is JSON.
      return n.route(to, JSON.parse(JSON.stringify(msg)) as Record<string, unknown>);
    },
  } as unknown as Host;
  n.ctx = new NodeContext({
    store,
    vault: { kind: 'file' } as unknown as Vault,
    host,
    identity: me,
    log: () => undefined,
  });
  n.groupId = readyGroup(store, [alice, bob, carol], 2);
  n.audit = new AuditService(n.ctx, {} as NodeServices);
  return n;
}

/** `to` answers `from`'s group messages as the custodian's handler does (audit, audit-heads and audit-want). */
function answering(from: Node, to: Node): Route {
  return async (_peer, raw) => {
    const msg = decodeGroupMessage(raw);
    if (msg.type === 'audit-heads')
      return JSON.parse(JSON.stringify(to.audit.auditHeads(from.me.peerId, msg)));
    if (msg.type === 'audit') to.audit.acceptAudit(from.me.peerId, msg);
    if (msg.type === 'audit-want') return to.audit.onAuditWant(from.me.peerId, msg);
    return { ok: true };
  };
}

/** `author`'s chain in the group, entries `from`..`to - 1` continuing `before` (bodies tagged). */
function chainOf(author: Peer, groupId: string, n: number, tag = 'a', start: AuditEntry[] = []) {
  const out = [...start];
  for (let i = out.length; i < n; i++)
    out.push(
      makeEntry(
        out[i - 1],
        {
          author: `${author.peerId}/${groupId}`,
          at: 1000 + i,
          type: 'test.entry',
          group: groupId,
          body: { i, tag },
        },
        (h) => author.sign(h),
      ),
    );
  return out;
}

/** The entries the node sent in 'audit' messages (since `from`), and the JSON bytes of those messages. */
function auditSent(n: Node, from = 0) {
  const msgs = n.sent.slice(from).filter((s) => s.msg.type === 'audit');
  const entries = msgs.flatMap((s) => s.msg.entries as AuditEntry[]);
  const bytes = msgs.reduce((t, s) => t + JSON.stringify(s.msg).length, 0);
  return { msgs, entries, bytes };
}

const groupHeads = (n: Node) =>
  Object.fromEntries(
    Object.entries(n.store.audit.heads()).filter(([a]) => a.endsWith(`/${n.groupId}`)),
  );

/** alice and bob, alice holding `own` entries of her chain and `others` of carol's. */
function pair(own: number, others: number) {
  vi.useFakeTimers(); // the batched sends of alice's own entries stay out of the count
  const a = node(alice);
  const b = node(bob);
  a.route = answering(a, b);
  for (let i = 0; i < own; i++) a.ctx.audit('test.own', { i }, a.groupId);
  const carolChain = chainOf(carol, a.groupId, others);
  for (const e of carolChain) a.store.audit.append(e);
  return { a, b, carolChain };
}

describe('audit catch-up: heads exchange', () => {
  it('a peer that holds nothing gets everything, in batches of at most 400, each chain in order', async () => {
    const { a, b } = pair(300, 600);
    await a.audit.syncAudit(bob.peerId, a.groupId);
    const { msgs, entries } = auditSent(a);
    // The checkpoint of this sync is in alice's chain too.
    expect(entries).toHaveLength(901);
    expect(msgs.length).toBe(3);
    for (const m of msgs) expect((m.msg.entries as unknown[]).length).toBeLessThanOrEqual(400);
    expect(a.sent[0]!.msg).toEqual({ v: 1, type: 'audit-heads', groupId: a.groupId });
    for (const author of new Set(entries.map((e) => e.author))) {
      const seqs = entries.filter((e) => e.author === author).map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
    expect(groupHeads(b)).toEqual(groupHeads(a));
  });

  it('a reconnect after N new entries sends only those N', async () => {
    const { a, b, carolChain } = pair(300, 600);
    await a.audit.syncAudit(bob.peerId, a.groupId);
    const full = auditSent(a);
    // Later: alice writes 7 entries, 5 of carol's arrive here.
    for (let i = 0; i < 7; i++) a.ctx.audit('test.later', { i }, a.groupId);
    for (const e of chainOf(carol, a.groupId, 605, 'a', carolChain).slice(600))
      a.store.audit.append(e);
    const mark = a.sent.length;
    await a.audit.syncAudit(bob.peerId, a.groupId); // within the minute: no new checkpoint
    const delta = auditSent(a, mark);
    expect(delta.entries).toHaveLength(12);
    expect(
      delta.entries.filter((e) => e.author.startsWith(alice.peerId)).map((e) => e.seq),
    ).toEqual([301, 302, 303, 304, 305, 306, 307]);
    expect(
      delta.entries.filter((e) => e.author.startsWith(carol.peerId)).map((e) => e.seq),
    ).toEqual([600, 601, 602, 603, 604]);
    expect(groupHeads(b)).toEqual(groupHeads(a));
    // Nothing new: the heads request only.
    const again = a.sent.length;
    await a.audit.syncAudit(bob.peerId, a.groupId);
    expect(auditSent(a, again).entries).toHaveLength(0);
    expect(a.sent.slice(again).map((s) => s.msg.type)).toEqual(['audit-heads']);
    console.log(
      `audit catch-up of a 901-entry log: full ${full.entries.length} entries / ${full.bytes} bytes, ` +
        `after 12 new ${delta.entries.length} entries / ${delta.bytes} bytes`,
    );
    expect(delta.bytes).toBeLessThan(full.bytes / 50);
  });

  it('a peer on an older version (the request refused) gets the whole log, every time', async () => {
    const { a, b } = pair(10, 20);
    const current = answering(a, b);
    a.route = async (to, msg) => {
      // An older node does not know the type: its handler refuses it (host: handler_error).
      if (msg.type === 'audit-heads') throw new Error('handler_error: unknown message type');
      return current(to, msg);
    };
    await a.audit.syncAudit(bob.peerId, a.groupId);
    expect(auditSent(a).entries).toHaveLength(31);
    const mark = a.sent.length;
    await a.audit.syncAudit(bob.peerId, a.groupId);
    expect(auditSent(a, mark).entries).toHaveLength(31);
    expect(groupHeads(b)).toEqual(groupHeads(a));
    expect(a.ctx.dropped.audit_heads_malformed).toBeUndefined();
  });

  it('a malformed or hostile heads answer falls back to the whole log, counted', async () => {
    const { a, b } = pair(10, 20);
    const current = answering(a, b);
    const author = `${carol.peerId}/${a.groupId}`;
    const head = { author, seq: 3, hash: 'aa'.repeat(32) };
    const hostile: unknown[] = [
      { ok: true },
      null,
      'heads',
      [],
      { heads: 'all' },
      { heads: [head], extra: 1 },
      { heads: [{ ...head, seq: -1 }] },
      { heads: [{ ...head, seq: 1e300 }] },
      { heads: [{ ...head, seq: 2.5 }] },
      { heads: [{ ...head, hash: 'AA'.repeat(32) }] },
      { heads: [{ ...head, hash: 'zz' }] },
      { heads: [{ ...head, author: '' }] },
      { heads: [{ ...head, author: 'x'.repeat(201) }] },
      { heads: [head, head] },
      { heads: [{ ...head, more: true }] },
      {
        heads: Array.from({ length: MAX_AUDIT_HEADS + 1 }, (_, i) => ({
          ...head,
          author: `p${i}`,
        })),
      },
      JSON.parse(
        '{"heads":[{"__proto__":{"seq":1},"author":"x","seq":1,"hash":"' + 'aa'.repeat(32) + '"}]}',
      ),
    ];
    for (const [i, answer] of hostile.entries()) {
      a.route = async (to, msg) => (msg.type === 'audit-heads' ? answer : current(to, msg));
      const mark = a.sent.length;
      await a.audit.syncAudit(bob.peerId, a.groupId);
      expect(auditSent(a, mark).entries, `answer ${i}`).toHaveLength(31);
      expect(a.ctx.dropped.audit_heads_malformed).toBe(i + 1);
    }
  });

  it('a well-formed lie only makes this node send less, never more than the whole log', async () => {
    const { a, b } = pair(10, 20);
    const current = answering(a, b);
    const mine = `${alice.peerId}/${a.groupId}`;
    const carols = `${carol.peerId}/${a.groupId}`;
    const cases: { heads: unknown[]; sends: number }[] = [
      // Past this node's heads: each chain's last entry only (the peer holds more).
      {
        heads: [
          { author: mine, seq: 9_007_199_254_740_991, hash: 'aa'.repeat(32) },
          { author: carols, seq: 1e15, hash: 'bb'.repeat(32) },
        ],
        sends: 2,
      },
      // Chains of another group or nobody's: ignored, the whole log goes.
      {
        heads: [
          { author: `${carol.peerId}/${'cd'.repeat(16)}`, seq: 5, hash: 'aa'.repeat(32) },
          { author: 'nobody', seq: 5, hash: 'aa'.repeat(32) },
        ],
        sends: 31,
      },
    ];
    for (const c of cases) {
      a.route = async (to, msg) =>
        msg.type === 'audit-heads' ? { heads: c.heads } : current(to, msg);
      const mark = a.sent.length;
      await a.audit.syncAudit(bob.peerId, a.groupId);
      expect(auditSent(a, mark).entries).toHaveLength(c.sends);
    }
  });

  it("a peer whose head forked from this node's chain gets the whole chain", async () => {
    const { a, b, carolChain } = pair(0, 10);
    // bob holds carol's chain as she forked it at seq 5: the same first five, then others.
    const forked = chainOf(carol, b.groupId, 8, 'fork', carolChain.slice(0, 5));
    for (const e of forked) b.store.audit.append(e);
    await a.audit.syncAudit(bob.peerId, a.groupId);
    const sentCarol = auditSent(a).entries.filter((e) => e.author.startsWith(carol.peerId));
    expect(sentCarol.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // bob keeps the branch it held first, and sees the fork.
    expect(b.store.audit.signatureAt(forked[7]!.author, 7)?.hash).toBe(forked[7]!.hash);
    expect(b.ctx.dropped.audit_fork).toBe(3);
  });

  it('a peer ahead of this node on a chain gets its last entry only, and counts a fork from it', async () => {
    const { a, b, carolChain } = pair(0, 10);
    for (const e of chainOf(carol, b.groupId, 15, 'a', carolChain)) b.store.audit.append(e);
    await a.audit.syncAudit(bob.peerId, a.groupId);
    expect(
      auditSent(a)
        .entries.filter((e) => e.author.startsWith(carol.peerId))
        .map((e) => e.seq),
    ).toEqual([9]);
    expect(b.ctx.dropped.audit_fork).toBeUndefined();
  });
});

describe('audit-want: a gap in a chain is asked for', () => {
  /**
   * alice and bob answering each other; alice holds 6 of carol's entries, bob none. `relay`:
   * bob takes these entries from alice in one 'audit' message.
   */
  function linked() {
    const { a, b, carolChain } = pair(0, 6);
    b.route = answering(b, a);
    const relay = (entries: AuditEntry[]) =>
      b.audit.acceptAudit(alice.peerId, {
        v: 1,
        type: 'audit',
        groupId: a.groupId,
        entries: entries as unknown as Record<string, unknown>[],
      });
    return { a, b, carolChain, relay };
  }
  const want = (n: Node) => ({ v: 1, type: 'audit-want', groupId: n.groupId }) as const;

  it('entries whose earlier ones never came: the member that sent them is asked, and its sync fills the gap', async () => {
    const { a, b, carolChain, relay } = linked();
    // alice relays carol's entries 3..5; 0..2 were lost on the way (or refused then).
    relay(carolChain.slice(3));
    expect(b.audit.pendingCount).toBe(3);
    await vi.advanceTimersByTimeAsync(ASK_AFTER_GAP_MS - 1);
    expect(b.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.sent).toEqual([{ peer: alice.peerId, msg: want(b) }]);
    await vi.advanceTimersByTimeAsync(WANT_SPACING_MS);
    expect(a.sent.map((s) => s.msg.type)).toContain('audit-heads');
    expect(b.audit.pendingCount).toBe(0);
    expect(b.store.audit.headSeq(carolChain[0]!.author)).toBe(5);
    expect(groupHeads(b)).toEqual(groupHeads(a));
    // Nothing is asked again: the gap is closed.
    const asked = b.sent.length;
    await vi.advanceTimersByTimeAsync(10 * ASK_AFTER_GAP_MS);
    expect(b.sent.length).toBe(asked);
  });

  it('a checkpoint naming a later head of a chain than this node holds: the member that sent it is asked', async () => {
    const { a, b, carolChain, relay } = linked();
    relay(carolChain.slice(0, 3));
    // alice's checkpoint says she holds carol's chain up to 5 (3..5 never reached bob).
    a.store.audit.append(carolChain[3]!);
    a.store.audit.append(carolChain[4]!);
    a.store.audit.append(carolChain[5]!);
    a.ctx.audit('audit.checkpoint', { heads: groupHeads(a) }, a.groupId);
    const own = `${alice.peerId}/${a.groupId}`;
    relay(a.store.audit.list({ author: own }));
    expect(b.audit.pendingCount).toBe(0);
    expect(b.store.audit.headSeq(carolChain[0]!.author)).toBe(2);
    await vi.advanceTimersByTimeAsync(ASK_AFTER_GAP_MS);
    expect(b.sent.filter((x) => x.msg.type === 'audit-want').map((x) => x.msg)).toEqual([want(b)]);
    await vi.advanceTimersByTimeAsync(WANT_SPACING_MS);
    expect(b.store.audit.headSeq(carolChain[0]!.author)).toBe(5);
    // A checkpoint naming heads this node holds, its own chain, or a stranger's asks nothing.
    const asked = b.sent.length;
    const stranger = `${(await peer('dave')).peerId}/${a.groupId}`;
    a.ctx.audit(
      'audit.checkpoint',
      {
        heads: {
          ...groupHeads(a),
          [`${bob.peerId}/${a.groupId}`]: { seq: 99, hash: 'ab'.repeat(32) },
          [stranger]: { seq: 99, hash: 'ab'.repeat(32) },
        },
      },
      a.groupId,
    );
    relay(a.store.audit.list({ author: own }));
    await vi.advanceTimersByTimeAsync(ASK_AFTER_GAP_MS + WANT_SPACING_MS);
    expect(b.sent.slice(asked).filter((x) => x.msg.type === 'audit-want')).toEqual([]);
  });

  it('a batch of checkpoints naming many chains costs at most MAX_AUDIT_HEADS head reads', () => {
    const { a, b, carolChain, relay } = linked();
    // Each names two chains bob takes (alice's and carol's) ahead of what bob holds.
    const heads = {
      [`${alice.peerId}/${a.groupId}`]: { seq: 999, hash: 'ab'.repeat(32) },
      [carolChain[0]!.author]: { seq: 999, hash: 'ab'.repeat(32) },
    };
    for (let i = 0; i < 400; i++) a.ctx.audit('audit.checkpoint', { heads }, a.groupId);
    const entries = a.store.audit.list({ author: `${alice.peerId}/${a.groupId}` });
    const reads = vi.spyOn(b.store.audit, 'headSeq');
    relay(entries);
    const count = reads.mock.calls.length;
    reads.mockRestore();
    expect(b.store.audit.headSeq(entries[0]!.author)).toBe(399);
    // 800 heads named; at most MAX_AUDIT_HEADS read (and one each time the member list is read:
    // checking the entries, then the checkpoints). Without the bound: 1,201.
    expect(count).toBeGreaterThan(100);
    expect(count).toBeLessThanOrEqual(MAX_AUDIT_HEADS + 2);
  });

  it('a gap closed in time asks nothing; one batch and the next of the same member ask once', async () => {
    const { b, carolChain, relay } = linked();
    relay(carolChain.slice(3));
    relay(carolChain.slice(0, 3));
    expect(b.audit.pendingCount).toBe(0);
    await vi.advanceTimersByTimeAsync(ASK_AFTER_GAP_MS + WANT_SPACING_MS);
    expect(b.sent).toEqual([]);

    const { b: b2, carolChain: c2, relay: relay2 } = linked();
    relay2(c2.slice(4));
    relay2(c2.slice(2, 3));
    expect(b2.audit.pendingCount).toBe(3);
    await vi.advanceTimersByTimeAsync(ASK_AFTER_GAP_MS);
    expect(b2.sent.map((s) => s.msg)).toEqual([want(b2)]);
  });

  it('a stopped node asks nothing', async () => {
    const { b, carolChain, relay } = linked();
    relay(carolChain.slice(3));
    b.ctx.stopped = true;
    await vi.advanceTimersByTimeAsync(ASK_AFTER_GAP_MS + WANT_SPACING_MS);
    expect(b.sent).toEqual([]);
  });

  it('a member asking in a loop gets one sync every WANT_SPACING_MS, a non-member none', async () => {
    const { a } = linked();
    const heads = () => a.sent.filter((s) => s.msg.type === 'audit-heads').length;
    for (let i = 0; i < 10; i++)
      expect(a.audit.onAuditWant(bob.peerId, want(a))).toEqual({ ok: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(heads()).toBe(1);
    await vi.advanceTimersByTimeAsync(WANT_SPACING_MS - 1);
    expect(heads()).toBe(1);
    // The asks meanwhile: one more sync, after the spacing.
    await vi.advanceTimersByTimeAsync(1);
    expect(heads()).toBe(2);
    await vi.advanceTimersByTimeAsync(5 * WANT_SPACING_MS);
    expect(heads()).toBe(2);
    // Asked later: served at once.
    a.audit.onAuditWant(bob.peerId, want(a));
    await vi.advanceTimersByTimeAsync(0);
    expect(heads()).toBe(3);
    const dave = await peer('dave');
    expect(() => a.audit.onAuditWant(dave.peerId, want(a))).toThrow(/non_member/);
    expect(() => a.audit.onAuditWant(bob.peerId, { ...want(a), groupId: 'cd'.repeat(16) })).toThrow(
      /non_member/,
    );
    expect(heads()).toBe(3);
  });
});

describe('audit-heads answer', () => {
  it("is given to a member only, from the store: each current or former member's chain head", async () => {
    const a = node(alice);
    const dave = await peer('dave');
    const msg = { v: 1, type: 'audit-heads', groupId: a.groupId } as const;
    expect(a.audit.auditHeads(bob.peerId, msg)).toEqual({ heads: [] });
    a.ctx.audit('test.own', {}, a.groupId);
    const carolChain = chainOf(carol, a.groupId, 3);
    for (const e of carolChain) a.store.audit.append(e);
    // A chain of someone who never was a member (stored before such chains were refused).
    for (const e of chainOf(dave, a.groupId, 2)) a.store.audit.append(e);
    const { heads } = a.audit.auditHeads(bob.peerId, msg);
    expect(heads).toHaveLength(2);
    expect(heads).toEqual(
      expect.arrayContaining([
        { author: carolChain[2]!.author, seq: 2, hash: carolChain[2]!.hash },
        {
          author: `${alice.peerId}/${a.groupId}`,
          seq: 0,
          hash: a.store.audit.head(`${alice.peerId}/${a.groupId}`)!.hash,
        },
      ]),
    );
    expect(() => a.audit.auditHeads(dave.peerId, msg)).toThrow(/non_member/);
    expect(() => a.audit.auditHeads(bob.peerId, { ...msg, groupId: 'cd'.repeat(16) })).toThrow(
      /non_member/,
    );
  });

  it.each(['audit-heads', 'audit-want'])(
    'a malformed %s request is refused by the decoder',
    (type) => {
      const ok = { v: 1, type, groupId: 'ab'.repeat(16) };
      expect(decodeGroupMessage(ok)).toEqual(ok);
      for (const bad of [
        { ...ok, groupId: 'AB'.repeat(16) },
        { ...ok, groupId: 'ab' },
        { ...ok, heads: [] },
        { ...ok, v: 2 },
      ])
        expect(() => decodeGroupMessage(bad)).toThrow(
          expect.objectContaining({ name: 'ProtocolError' }),
        );
    },
  );
});

describe('membersEver after a rolled-back transaction', () => {
  it('reads the entry written at a seq a rollback emptied, not the one rolled back', async () => {
    const a = node(alice);
    const [fred, gina] = await Promise.all([peer('fred'), peer('gina')]);
    a.ctx.audit('test.own', {}, a.groupId);
    expect(() =>
      a.store.tx(() => {
        a.ctx.audit('group.member_joined', { peerId: fred.peerId }, a.groupId);
        // Read inside the transaction: fred is named, up to seq 1.
        expect(a.audit.membersEver(a.groupId)?.has(fred.peerId)).toBe(true);
        throw new Error('the act failed');
      }),
    ).toThrow(/the act failed/);
    // Another entry at the same seq 1, outside any transaction.
    a.ctx.audit('group.member_joined', { peerId: gina.peerId }, a.groupId);
    const ever = a.audit.membersEver(a.groupId)!;
    expect(ever.has(gina.peerId)).toBe(true);
    expect(ever.has(fred.peerId)).toBe(false);
  });
});

describe('store: a chain read after a seq', () => {
  it('gives the entries after it, in order, as before the range read', () => {
    const a = node(alice);
    const chain = chainOf(carol, a.groupId, 20);
    for (const e of chain) a.store.audit.append(e);
    const author = chain[0]!.author;
    const after = (s: number, extra: Record<string, number> = {}) =>
      a.store.audit.list({ author, afterSeq: { ...extra, [author]: s } }).map((e) => e.seq);
    expect(after(-1)).toEqual(chain.map((e) => e.seq));
    expect(after(16)).toEqual([17, 18, 19]);
    expect(after(19)).toEqual([]);
    expect(after(5, { other: 100 })).toEqual(chain.slice(6).map((e) => e.seq));
    expect(
      a.store.audit.list({ author, afterSeq: { [author]: 10 }, limit: 2 }).map((e) => e.seq),
    ).toEqual([11, 12]);
  });
});
