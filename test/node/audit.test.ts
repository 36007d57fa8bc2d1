// The audit service alone: a member's replicated entries are kept only when signed by their author,
// only from current or former members, and only in chain order; entries that overtook an earlier
// one wait for it, within a bound. Also the other buffers peers can fill, and the drop log.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as Ed25519Module from '@noble/curves/ed25519.js';
import type * as FastEd25519Module from '../../main/crypto/ed25519.js';
import { makeEntry, type AuditEntry } from '../../shared/audit/chain.js';
import { AuditService, type PendingAuditBounds } from '../../main/node/audit.js';
import { ABORT_MAP_BOUNDS, CeremonyService } from '../../main/node/ceremonies/ceremony.js';
import { formerKey } from '../../main/node/common.js';
import { AUDIT_BATCH_MS, type NodeServices } from '../../main/node/context.js';
import { Inboxes } from '../../main/node/inbox.js';
import { harness, peer, readyGroup, type Peer } from './fixtures.js';

/** Counts the Ed25519 signature checks (noble's object is frozen: the module is wrapped). */
const verifies = vi.hoisted(() => ({ count: 0 }));
vi.mock('@noble/curves/ed25519.js', async (importOriginal) => {
  const m = await importOriginal<typeof Ed25519Module>();
  const verify: typeof m.ed25519.verify = (...args) => (
    verifies.count++,
    m.ed25519.verify(...args)
  );
  return { ...m, ed25519: { ...m.ed25519, verify } };
});
/** Counts the audit service's signature checks (the fast verifier, which asks noble when unsure). */
const checks = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../main/crypto/ed25519.js', async (importOriginal) => {
  const m = await importOriginal<typeof FastEd25519Module>();
  const verifyEd25519: typeof m.verifyEd25519 = (...args) => (
    checks.count++,
    m.verifyEd25519(...args)
  );
  return { ...m, verifyEd25519 };
});

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([peer('alice'), peer('bob'), peer('carol')]);
});

function setup(bounds: Partial<PendingAuditBounds> = {}) {
  const h = harness(alice);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  const audit = new AuditService(h.ctx, {} as NodeServices, bounds);
  /** `author`'s chain in the group: `n` entries, each signed by `signer` (bob unless forged). */
  const chainOf = (author: Peer, n: number, signer: Peer = author, type = 'test.entry') => {
    const out: AuditEntry[] = [];
    for (let i = 0; i < n; i++)
      out.push(
        makeEntry(
          out[i - 1],
          {
            author: `${author.peerId}/${groupId}`,
            at: 1000 + i,
            type,
            group: groupId,
            body: { i },
          },
          (h) => signer.sign(h),
        ),
      );
    return out;
  };
  const chain = (n: number, signer: Peer = bob): AuditEntry[] => chainOf(bob, n, signer);
  const deliver = (from: Peer, entries: AuditEntry[]) =>
    audit.acceptAudit(from.peerId, {
      v: 1,
      type: 'audit',
      groupId,
      entries: entries as unknown as Record<string, unknown>[],
    });
  return { ...h, groupId, audit, chain, chainOf, deliver };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('AuditService', () => {
  it("keeps a member's chain in order, holding an entry that overtook an earlier one", () => {
    const { store, chain, deliver } = setup();
    const [e0, e1, e2] = chain(3);
    const author = e0!.author;
    deliver(bob, [e2!]);
    expect(store.audit.head(author)).toBeUndefined();
    deliver(bob, [e0!]);
    expect(store.audit.head(author)?.seq).toBe(0);
    // e1 fills the gap, and e2 that waited follows it.
    deliver(carol, [e1!]);
    expect(store.audit.head(author)?.seq).toBe(2);
  });

  it('drops an entry not signed by its author, and one of another group', () => {
    const { store, chain, deliver, groupId } = setup();
    const [forged] = chain(1, carol);
    expect(() => deliver(carol, [forged!])).toThrow(/bad_signature/);
    const [e0] = chain(1);
    const elsewhere = { ...e0!, group: 'cd'.repeat(16) };
    expect(() => deliver(bob, [elsewhere])).toThrow(/wrong_group/);
    expect(store.audit.list({ group: groupId })).toEqual([]);
  });

  it('drops entries from a peer that is not a member of the group', async () => {
    const { chain, deliver } = setup();
    const dave = await peer('dave');
    expect(() => deliver(dave, chain(1))).toThrow(/non_member/);
  });
});

describe('AuditService: only current and former members write to a group log (finding 5)', () => {
  it("refuses a non-member's chain relayed by a member, keeps the rest of the batch, and counts it", async () => {
    const { store, ctx, logs, chainOf, deliver, groupId } = setup();
    const stranger = await peer('stranger');
    const forged = chainOf(stranger, 2, stranger, 'group.key_exposed');
    const honest = chainOf(carol, 1);
    // Relayed by bob, a member; validly signed by the stranger's own key.
    deliver(bob, [...forged, ...honest]);
    expect(store.audit.list({ group: groupId }).map((e) => e.author)).toEqual([
      `${carol.peerId}/${groupId}`,
    ]);
    expect(ctx.dropped.unknown_author).toBe(2);
    // One line for the flood, naming the type the stranger claimed.
    expect(logs.filter((l) => l.includes('unknown_author'))).toHaveLength(1);
    expect(logs.join('\n')).toContain('"group.key_exposed"');
  });

  it('keeps the chain of a member a reshare removed, and of the member a repair replaced', async () => {
    const { store, ctx, chainOf, deliver, groupId } = setup();
    const [dave, erin] = await Promise.all([peer('dave'), peer('erin')]);
    // dave was removed by a reshare (the record settle keeps); erin was replaced by a repair, which
    // only this node's own chain tells.
    store.meta.set(formerKey(groupId), JSON.stringify([dave.peerId]));
    ctx.audit(
      'group.repaired',
      { requestId: 'r1', lost: erin.peerId, replacedBy: carol.peerId },
      groupId,
    );
    deliver(bob, [...chainOf(dave, 1), ...chainOf(erin, 1)]);
    expect(store.audit.head(`${dave.peerId}/${groupId}`)?.seq).toBe(0);
    expect(store.audit.head(`${erin.peerId}/${groupId}`)?.seq).toBe(0);
    expect(ctx.dropped.unknown_author).toBeUndefined();
  });

  it("audit verify flags a non-member's chain stored before the fix, and passes the members' ones", async () => {
    const { store, audit, ctx, chainOf, groupId } = setup();
    const stranger = await peer('stranger');
    ctx.audit('group.created', { name: 'treasury' }, groupId);
    for (const e of chainOf(bob, 2)) store.audit.append(e);
    expect(audit.auditVerify()).toMatchObject({ ok: true, problems: [] });
    // A database from before the fix: the stranger's forged entry went straight in.
    for (const e of chainOf(stranger, 1, stranger, 'group.key_exposed')) store.audit.append(e);
    const report = audit.auditVerify();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({
        author: `${stranger.peerId}/${groupId}`,
        seq: 0,
        problem: expect.stringMatching(/^unknown_author: .*group\.key_exposed/),
      }),
    ]);
  });

  it("audit verify flags another node's personal chain", async () => {
    const { store, audit } = setup();
    const [e] = [
      makeEntry(undefined, { author: bob.peerId, at: 1, type: 'identity.created', body: {} }, (h) =>
        bob.sign(h),
      ),
    ];
    store.audit.append(e!);
    expect(audit.auditVerify().problems.map((p) => p.problem)).toEqual([
      expect.stringMatching(/^unknown_author: personal chain/),
    ]);
  });
});

describe('buffers a peer can fill are bounded and timed', () => {
  it('out-of-order audit entries: a chain at its bound evicts its oldest, the whole at its bound any oldest', () => {
    const { store, ctx, audit, chain, chainOf, deliver } = setup({
      maxPending: 3,
      maxPendingPerChain: 2,
    });
    const entries = chain(5);
    // Far ahead of bob's head (none): all wait, but only the newest two of his chain stay.
    deliver(bob, [entries[2]!, entries[3]!, entries[4]!]);
    expect(audit.pendingCount).toBe(2);
    expect(ctx.dropped.audit_pending_full).toBe(1);
    // Another chain's waiting entries push bob's oldest out of the global budget.
    const c = chainOf(carol, 3);
    deliver(bob, [c[1]!, c[2]!]);
    expect(audit.pendingCount).toBe(3);
    expect(ctx.dropped.audit_pending_full).toBe(2);
    expect(ctx.bufferSizes().pendingAudit).toBe(3);
    // The gap closes: carol's chain follows from what waited; bob's stops at the evicted entry
    // (it comes again with the next sync).
    deliver(bob, [c[0]!, entries[0]!, entries[1]!]);
    expect(store.audit.head(c[0]!.author)?.seq).toBe(2);
    expect(store.audit.head(entries[0]!.author)?.seq).toBe(1);
  });

  it('out-of-order audit entries expire and the sweep counts them', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { ctx, audit, chain, deliver } = setup({ pendingTtlMs: 60_000 });
    deliver(bob, chain(3).slice(1));
    expect(audit.pendingCount).toBe(2);
    vi.setSystemTime(Date.now() + 60_001);
    ctx.sweepBuffers();
    expect(audit.pendingCount).toBe(0);
    expect(ctx.dropped.audit_pending_expired).toBe(2);
  });

  it('ceremony inboxes: the oldest goes at the bound, but not one being awaited', async () => {
    const { ctx } = harness(alice);
    const inboxes = new Inboxes(ctx, { maxInboxes: 2 });
    inboxes.inbox('s1', 'g1').round1.set('p', 1);
    inboxes.inbox('s2', 'g1').round1.set('p', 2);
    // s1 is awaited (here it has what it needs at once): that keeps it.
    await inboxes.awaitInbox('s1', 'round1', 1, Date.now() + 1000);
    inboxes.inbox('s3', 'g1').round1.set('p', 3);
    expect(inboxes.size).toBe(2);
    expect(inboxes.inbox('s1').round1.get('p')).toBe(1);
    expect(ctx.dropped.inbox_full).toBe(1);
    expect(ctx.bufferSizes().inboxes).toBe(2);
  });

  it("sessions made up by one group's member evict that group's inboxes only", () => {
    const { ctx } = harness(alice);
    const inboxes = new Inboxes(ctx, { maxPerGroup: 3 });
    // A ceremony of group g1 under way here, its first message already in.
    inboxes.inbox('real', 'g1').round1.set('p', 'real');
    // A rogue member of g2 opens inboxes for sessions that do not exist.
    for (let i = 0; i < 50; i++) inboxes.inbox(`fake${i}`, 'g2').round1.set('rogue', i);
    expect(inboxes.inbox('real').round1.get('p')).toBe('real');
    expect(inboxes.size).toBe(4);
    expect(ctx.dropped.inbox_full).toBe(47);
  });

  it('ceremony inboxes outlive the ceremony timeout, then expire', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { ctx } = harness(alice);
    const inboxes = new Inboxes(ctx);
    inboxes.inbox('s1').done.set('p', {});
    vi.setSystemTime(Date.now() + ctx.ceremonyTimeoutMs + 1);
    ctx.sweepBuffers();
    expect(inboxes.size).toBe(1);
    vi.setSystemTime(Date.now() + ctx.ceremonyTimeoutMs + 60_000);
    ctx.sweepBuffers();
    expect(inboxes.size).toBe(0);
    expect(ctx.dropped.inbox_expired).toBe(1);
  });

  it("a member's 'abort' messages for made-up sessions fill at most the bound", () => {
    const { ctx, store } = harness(alice);
    const groupId = readyGroup(store, [alice, bob, carol], 2);
    const ceremony = new CeremonyService(ctx, {} as NodeServices);
    const n = ABORT_MAP_BOUNDS.maxSize + 10;
    for (let i = 0; i < n; i++)
      ceremony.onCeremony(bob.peerId, {
        v: 1,
        type: 'ceremony',
        groupId,
        requestId: '00'.repeat(16),
        session: i.toString(16).padStart(64, '0'),
        step: 'abort',
        payload: { reason: 'made up' },
      });
    expect(ctx.bufferSizes()).toMatchObject({ abortedBy: ABORT_MAP_BOUNDS.maxSize });
    expect(ctx.dropped.abortedBy_full).toBe(10);
    // The newest ones are there.
    const last = (n - 1).toString(16).padStart(64, '0');
    expect(ceremony.stoppedBy(groupId, last)).toBe('bob stopped it: "made up"');
  });
});

describe('dropped-message log', () => {
  it('writes one line per reason per interval, and the count of the rest when the node stops', () => {
    const { ctx, logs } = harness(alice);
    for (let i = 0; i < 1000; i++) ctx.count('non_member', `from peer ${i}`);
    ctx.count('malformed');
    expect(ctx.dropped).toEqual({ non_member: 1000, malformed: 1 });
    expect(logs).toEqual([
      'node: dropped (non_member) from peer 0',
      expect.stringMatching(/^node: dropped \(malformed\)/),
    ]);
    ctx.stopSweeping();
    expect(logs[2]).toMatch(/^node: 999 more dropped \(non_member\) since /);
    expect(logs).toHaveLength(3);
  });
});

describe('audit replication in batches (issue 12)', () => {
  const auditSent = (sent: { peer: string; msg: Record<string, unknown> }[]) =>
    sent.filter((s) => s.msg.type === 'audit');

  it('writes each entry at once but sends a burst of them to each member in one message', () => {
    vi.useFakeTimers();
    const { store, ctx, sent, groupId } = setup();
    const author = `${alice.peerId}/${groupId}`;
    for (let i = 0; i < 5; i++) ctx.audit('request.approved', { id: 'r1', i }, groupId);
    // Written locally before anything is sent: fail-closed auditing is unchanged.
    expect(store.audit.head(author)?.seq).toBe(4);
    expect(auditSent(sent)).toEqual([]);
    vi.advanceTimersByTime(AUDIT_BATCH_MS);
    const batches = auditSent(sent);
    expect(batches.map((b) => b.peer).sort()).toEqual([bob.peerId, carol.peerId].sort());
    for (const b of batches) expect((b.msg.entries as unknown[]).length).toBe(5);
  });

  it("sends a request's entries as soon as it ends, and never an entry its transaction rolled back", () => {
    vi.useFakeTimers();
    const { store, ctx, sent, groupId } = setup();
    const author = `${alice.peerId}/${groupId}`;
    expect(() =>
      store.tx(() => {
        ctx.audit('request.share_released', { id: 'r0' }, groupId);
        throw new Error('the act failed');
      }),
    ).toThrow(/the act failed/);
    expect(store.audit.head(author)).toBeUndefined();
    ctx.audit('request.share_released', { id: 'r1' }, groupId);
    ctx.audit('request.failed', { id: 'r1' }, groupId);
    vi.advanceTimersByTime(1);
    const batches = auditSent(sent);
    expect(batches).toHaveLength(2);
    for (const b of batches)
      expect((b.msg.entries as { type: string }[]).map((e) => e.type)).toEqual([
        'request.share_released',
        'request.failed',
      ]);
    // Nothing more goes out later: every entry was in that batch.
    vi.advanceTimersByTime(AUDIT_BATCH_MS * 4);
    expect(auditSent(sent)).toHaveLength(2);
  });

  it("sends a signed request's entries with the batch, not at once: every member writes one as the outcome arrives", () => {
    vi.useFakeTimers();
    const { ctx, sent, groupId } = setup();
    ctx.audit('request.share_released', { id: 'r1' }, groupId);
    vi.advanceTimersByTime(AUDIT_BATCH_MS / 2);
    ctx.audit('request.signed', { id: 'r1' }, groupId);
    vi.advanceTimersByTime(1);
    expect(auditSent(sent)).toHaveLength(0);
    vi.advanceTimersByTime(AUDIT_BATCH_MS / 2);
    const batches = auditSent(sent);
    expect(batches).toHaveLength(2);
    for (const b of batches)
      expect((b.msg.entries as { type: string }[]).map((e) => e.type)).toEqual([
        'request.share_released',
        'request.signed',
      ]);
  });

  it('checks a signature once: a whole log sent again (every sync sends it) is not verified again, a changed entry is', () => {
    const { store, chain, deliver } = setup();
    const entries = chain(5);
    const author = entries[0]!.author;
    checks.count = 0;
    verifies.count = 0;
    deliver(bob, entries);
    expect(checks.count).toBe(5);
    // Valid signatures are confirmed by the native verifier: noble is not needed for them.
    expect(verifies.count).toBe(0);
    deliver(carol, entries);
    deliver(bob, entries);
    expect(checks.count).toBe(5);
    expect(store.audit.head(author)?.seq).toBe(4);
    // Another signature on a held entry is checked, and refused (noble has the last word).
    const [other] = chain(1, carol);
    expect(() => deliver(bob, [{ ...entries[0]!, sig: other!.sig }])).toThrow(/bad_signature/);
    expect(checks.count).toBe(6);
    expect(verifies.count).toBe(1);
    // A changed copy of a held entry (same hash and signature) is neither stored nor believed.
    deliver(bob, [{ ...entries[1]!, at: 1 }]);
    expect(store.audit.list({ author })).toEqual(entries);
    // A changed entry not held yet is checked: its hash no longer binds its content.
    const next = chain(6)[5]!;
    expect(() => deliver(bob, [{ ...next, at: 1 }])).toThrow(/bad_signature/);
    expect(() => deliver(bob, [{ ...next, sig: other!.sig }])).toThrow(/bad_signature/);
    expect(store.audit.head(author)?.seq).toBe(4);
    deliver(bob, [next]);
    expect(store.audit.head(author)?.seq).toBe(5);
  });

  it('stores a received batch in one transaction without an fsync, and keeps the entries before a bad one', () => {
    const { store, chain, deliver } = setup();
    const tx = vi.spyOn(store, 'tx');
    const txNoSync = vi.spyOn(store, 'txNoSync');
    const entries = chain(6);
    deliver(bob, entries.slice(0, 4));
    expect(txNoSync).toHaveBeenCalledTimes(1);
    expect(store.audit.head(entries[0]!.author)?.seq).toBe(3);
    const forged = { ...entries[5]!, sig: entries[4]!.sig };
    expect(() => deliver(bob, [entries[4]!, forged])).toThrow(/bad_signature/);
    expect(txNoSync).toHaveBeenCalledTimes(2);
    expect(tx).not.toHaveBeenCalled();
    expect(store.audit.head(entries[0]!.author)?.seq).toBe(4);
    expect(store.pragmas().synchronous).toBe(2);
  });

  it("writes received entries with synchronous=NORMAL, this node's own with FULL", () => {
    vi.useFakeTimers();
    const { store, ctx, chain, deliver, groupId } = setup();
    const levels = new Map<string, number>();
    const append = store.audit.append;
    vi.spyOn(store.audit, 'append').mockImplementation((e) => {
      levels.set(e.author, store.pragmas().synchronous);
      return append(e);
    });
    deliver(bob, chain(2));
    ctx.audit('request.approved', { id: 'r1' }, groupId);
    store.tx(() => ctx.audit('request.approved', { id: 'r2' }, groupId));
    expect(Object.fromEntries(levels)).toEqual({
      [`${bob.peerId}/${groupId}`]: 1,
      [`${alice.peerId}/${groupId}`]: 2,
    });
    expect(store.pragmas().synchronous).toBe(2);
  });

  it('looks up the entries of a batch only up to the first one not held', () => {
    const { store, chain, deliver } = setup();
    const entries = chain(6);
    const author = entries[0]!.author;
    deliver(bob, entries.slice(0, 2));
    const signatureAt = vi.spyOn(store.audit, 'signatureAt');
    deliver(bob, entries.slice(1));
    // Entry 1 is held, entry 2 is not: entries 3-5 cannot be (a chain is stored without gaps).
    expect(signatureAt.mock.calls.filter(([a]) => a === author)).toEqual([
      [author, 1],
      [author, 2],
    ]);
    expect(store.audit.list({ author })).toEqual(entries);
  });

  it('opens no transaction and checks nothing for a batch of entries all held already', () => {
    const { store, chain, deliver } = setup();
    const entries = chain(5);
    deliver(bob, entries);
    const tx = vi.spyOn(store, 'tx');
    const txNoSync = vi.spyOn(store, 'txNoSync');
    checks.count = 0;
    deliver(carol, entries);
    deliver(bob, entries.slice(2));
    expect(tx).not.toHaveBeenCalled();
    expect(txNoSync).not.toHaveBeenCalled();
    expect(checks.count).toBe(0);
    // One new entry among held ones: one transaction, that entry alone checked.
    deliver(carol, chain(6));
    expect(txNoSync).toHaveBeenCalledTimes(1);
    expect(checks.count).toBe(1);
    expect(store.audit.head(entries[0]!.author)?.seq).toBe(5);
  });
});

describe('AuditService.membersEver is kept while nothing it reads changes', () => {
  it('follows roster changes, former members and its own chain naming someone', async () => {
    const { store, ctx, audit, chainOf, deliver, groupId } = setup();
    const [dave, erin, fred] = await Promise.all([peer('dave'), peer('erin'), peer('fred')]);
    const held = (p: Peer) => store.audit.head(`${p.peerId}/${groupId}`)?.seq;
    deliver(bob, chainOf(carol, 1));
    const first = audit.membersEver(groupId);
    expect(audit.membersEver(groupId)).toBe(first); // kept
    // Nobody new yet: the three are refused.
    deliver(bob, [...chainOf(dave, 1), ...chainOf(erin, 1), ...chainOf(fred, 1)]);
    expect(ctx.dropped.unknown_author).toBe(3);
    // dave joins the roster.
    store.members.upsert({
      ...store.members.get(groupId, carol.peerId)!,
      peerId: dave.peerId,
      index: 4,
    });
    deliver(bob, chainOf(dave, 1));
    expect(held(dave)).toBe(0);
    // erin is recorded as a former member.
    store.meta.set(formerKey(groupId), JSON.stringify([erin.peerId]));
    deliver(bob, chainOf(erin, 1));
    expect(held(erin)).toBe(0);
    // This node's own chain names fred.
    ctx.audit('group.member_joined', { peerId: fred.peerId }, groupId);
    deliver(bob, chainOf(fred, 1));
    expect(held(fred)).toBe(0);
    // carol leaves the roster without being recorded anywhere: her next entries are refused.
    store.members.delete(groupId, carol.peerId);
    const before = ctx.dropped.unknown_author;
    deliver(bob, chainOf(carol, 2).slice(1));
    expect(ctx.dropped.unknown_author).toBe(before! + 1);
    expect(audit.membersEver(groupId)?.has(carol.peerId)).toBe(false);
    expect([...audit.membersEver(groupId)!]).toEqual(
      expect.arrayContaining([alice.peerId, bob.peerId, dave.peerId, erin.peerId, fred.peerId]),
    );
  });
});
