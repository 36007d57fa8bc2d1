// The audit log: replication of the members' chains, checkpoints, listing and verification.
import { hexToBytes } from '@noble/hashes/utils.js';
import type { AuditEntryView } from '../../shared/api/index.js';
import {
  acceptableAuthor,
  checkEntry,
  splitAuthor,
  UNKNOWN_AUTHOR,
  verifyEntries,
  type AuditEntry,
} from '../../shared/audit/chain.js';
import { BoundedBuckets } from '../../shared/protocol/bounded.js';
import { isLowerHex } from '../../shared/protocol/fields.js';
import { logSafe } from '../../shared/protocol/text.js';
import {
  decodeAuditHeadsAnswer,
  MAX_AUDIT_HEADS,
  ProtocolError,
  type AuditHead,
  type AuditHeadsAnswer,
  type GroupMessage,
} from '../../shared/protocol/wire.js';
import { exposureSummary } from '../../shared/requests/index.js';
import { verifyEd25519 } from '../crypto/ed25519.js';
import { publicKeyFromPeerId } from '../net/index.js';
import { DroppedMessage, short } from './common.js';
import { type NodeServices, type NodeContext, NodeService } from './context.js';
import { StoreMemo } from './membership.js';

/** How many out-of-order entries may wait for an earlier one, and for how long. */
export interface PendingAuditBounds {
  /** Over all chains (default 10,000). */
  maxPending: number;
  /** In one author's chain (default 1,000): one chain cannot take the whole budget. */
  maxPendingPerChain: number;
  /** ms an entry may wait for the gap before it to close (default 10 minutes). */
  pendingTtlMs: number;
}

export const PENDING_AUDIT_BOUNDS: PendingAuditBounds = {
  maxPending: 10_000,
  maxPendingPerChain: 1_000,
  pendingTtlMs: 10 * 60_000,
};

/**
 * How long this node stays behind on a chain (an entry waiting for earlier ones, a checkpoint
 * naming a later head) before it asks the member that sent it for what it lacks ('audit-want').
 * Entries overtake each other in transit routinely, and the senders retry for up to a minute
 * (backing off to 3 s): a gap closed meanwhile costs nothing. Longer than a loaded group's key
 * generation takes to settle, whose every member otherwise asked again for entries on their way.
 */
export const ASK_AFTER_GAP_MS = 5_000;
/** At most one sync a member asked for with 'audit-want', per member and group, this often. */
export const WANT_SPACING_MS = 2_000;
/** Most (member, group) pairs with an 'audit-want' scheduled at once. */
const MAX_GAP_ASKS = 1_024;

/** Entry types in this node's own chain of a group that name who was a member of it. */
const ROSTER_TYPES = new Set([
  'group.member_joined',
  'group.reshared',
  'group.refreshed',
  'group.repaired',
]);

/** Most entries one catch-up sends a member. */
const SYNC_MAX_ENTRIES = 100_000;

/** Verified signatures remembered (see AuditService.verified): a few MiB at most. */
const VERIFIED_KEPT = 20_000;

export class AuditService extends NodeService {
  private lastCheckpoint = new Map<string, number>();
  /**
   * Replicated audit entries that arrived before an earlier one of the same chain (bucket: the
   * chain's author, key: seq). Bounded and timed: a member sending entries far ahead of a chain
   * cannot grow memory; an evicted entry comes again with the next sync.
   */
  private readonly pendingAudit: BoundedBuckets<string, number, AuditEntry>;
  /**
   * Per group: the peers this node's own chain names as members (who joined, the rosters of
   * reshares, the member a repair replaced), read up to the entry at `seq` whose hash is `hash`
   * (a transaction that rolled back may have taken that entry away, and another may be written
   * at its seq since: the peers are then read again from the start).
   */
  private readonly namedInOwnChain = new Map<
    string,
    { seq: number; hash: string; peers: Set<string> }
  >();
  /**
   * Signatures (with their entry's hash) this node verified already: every connection and every
   * key generation brings a member's whole group log again, and checking each entry's signature
   * anew was most of a busy 20-member group's CPU. Bounded: past the limit it starts over.
   */
  private readonly verified = new Set<string>();
  /**
   * Per `<peer>/<group>`: the chains a received batch of that member left this node behind on
   * (by author, the seq this node is to reach), while the 'audit-want' to it waits
   * ASK_AFTER_GAP_MS.
   */
  private readonly gapAsks = new Map<string, Map<string, number>>();
  /**
   * Per `<peer>/<group>`: a sync that member asked for is running (or spaced); `again`: asked
   * again meanwhile.
   */
  private readonly wants = new Map<string, { again: boolean }>();
  /**
   * Per group: the last `membersEver` answer, with how many peers this node's own chain named
   * then. The map is a new one after any write to the groups, members or meta table (the roster,
   * the former members), as the membership index it is read from.
   */
  private readonly membersEverCache: StoreMemo<
    Map<string, { named: Set<string>; ownNamed: number; members: ReadonlySet<string> }>
  >;

  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<NodeServices, 'groups'>,
    bounds: Partial<PendingAuditBounds> = {},
  ) {
    super(ctx);
    this.membersEverCache = new StoreMemo(
      ctx.store,
      ['meta', 'groups', 'members'],
      () => new Map(),
    );
    const b = { ...PENDING_AUDIT_BOUNDS, ...bounds };
    this.pendingAudit = new BoundedBuckets({
      maxSize: b.maxPending,
      maxPerBucket: b.maxPendingPerChain,
      ttlMs: b.pendingTtlMs,
      onEvict: (author, seq, _e, reason) =>
        this.count(`audit_pending_${reason}`, `entry ${seq} of ${logSafe(author, 200)}`),
    });
    ctx.trackBuffer('pendingAudit', this.pendingAudit);
  }

  /** Out-of-order entries waiting now. */
  get pendingCount(): number {
    return this.pendingAudit.size;
  }

  /** Evicts the out-of-order entries that waited too long (also done by the node's sweep timer). */
  sweepPending(): number {
    return this.pendingAudit.sweep();
  }

  /**
   * The peer ids of everyone who is or was a member of a group, as this node knows from its own
   * records: the current roster, the members reshares removed, the group's creator, and whoever
   * this node's own chain of the group names as a member (joins, reshare rosters, a repair's lost
   * member). Never from what other members' chains say: a rogue member could name anyone there.
   * Undefined for a group this node does not know.
   */
  membersEver(groupId: string): ReadonlySet<string> | undefined {
    // Kept until a group, member or meta row is written (the roster, the former members) or this
    // node's own chain names someone new: every received batch asked for it anew.
    const membership = this.ctx.membership;
    const g = membership.group(groupId);
    if (!g) return undefined;
    const named = this.namedInOwnChainOf(groupId);
    const cache = this.membersEverCache.get();
    const cached = cache.get(groupId);
    if (cached?.named === named && cached.ownNamed === named.size) return cached.members;
    const out = new Set<string>([g.creatorPeerId, this.me.peerId]);
    for (const m of membership.members(groupId)) out.add(m.peerId);
    // An unreadable record names nobody; the roster and the chain still do.
    for (const p of membership.formerMembers(groupId)) out.add(p);
    for (const p of named) out.add(p);
    cache.set(groupId, { named, ownNamed: named.size, members: out });
    return out;
  }

  private namedInOwnChainOf(groupId: string): Set<string> {
    const author = `${this.me.peerId}/${groupId}`;
    let known = this.namedInOwnChain.get(groupId);
    // What was read is still there (not rolled back), else everything is read again.
    if (
      known &&
      known.seq >= 0 &&
      this.store.audit.signatureAt(author, known.seq)?.hash !== known.hash
    )
      known = undefined;
    if (!known)
      this.namedInOwnChain.set(groupId, (known = { seq: -1, hash: '', peers: new Set() }));
    const headSeq = this.store.audit.headSeq(author);
    if (headSeq === undefined || headSeq <= known.seq) return known.peers;
    const peers = known.peers;
    const add = (p: unknown) => {
      if (typeof p === 'string' && p.length > 0) peers.add(p);
    };
    let last: { seq: number; hash: string } | undefined;
    for (const e of this.store.audit.list({ author, afterSeq: { [author]: known.seq } })) {
      if (last === undefined || e.seq > last.seq) last = { seq: e.seq, hash: e.hash };
      if (!ROSTER_TYPES.has(e.type)) continue;
      const b = e.body;
      add(b.peerId);
      add(b.lost);
      add(b.replacedBy);
      if (Array.isArray(b.members)) for (const p of b.members as unknown[]) add(p);
    }
    if (last !== undefined) {
      known.seq = last.seq;
      known.hash = last.hash;
    }
    return peers;
  }

  private get groups() {
    return this.deps.groups;
  }

  /** Another member's (or relayed) audit entries of a group: each checked before it is kept. */
  acceptAudit(from: string, msg: Extract<GroupMessage, { type: 'audit' }>): void {
    const g = this.store.groups.get(msg.groupId);
    if (!g || !this.memberByPeer(g.id, from)) throw new DroppedMessage('non_member');
    // Checked one by one, then stored in one transaction. The entries checked before a bad one
    // are kept, as when each was stored at once. Without an fsync of its own (txNoSync): these
    // are other members' entries, which the next sync brings again should a power loss take the
    // last commits; this node's own entries stay durable (ctx.audit, an ordinary tx). A batch of
    // entries all stored already (every connection's full-log sync) opens no transaction at all.
    const good: AuditEntry[] = [];
    const behind = new Map<string, number>();
    try {
      this.checkAudit(from, g.id, g.name, msg.entries, good);
    } finally {
      if (good.length > 0)
        this.store.txNoSync(() => {
          for (const e of good) this.appendInOrder(e, behind);
        });
      // At most MAX_AUDIT_HEADS heads looked up per batch, newest checkpoints first: a member
      // sending batches of checkpoints naming many chains costs a bounded number of reads.
      let budget = MAX_AUDIT_HEADS;
      let members: ReadonlySet<string> | undefined;
      for (let i = good.length - 1; i >= 0 && budget > 0; i--)
        if (good[i]!.type === 'audit.checkpoint') {
          members ??= this.membersEver(g.id) ?? new Set();
          budget = this.headsBeyond(good[i]!, g.id, members, behind, budget);
        }
      if (behind.size > 0) this.askAfterGap(from, g.id, behind);
    }
  }

  /**
   * The chains of the group this node takes (current and former members' but its own) that a
   * checkpoint names a later head of than this node holds, into `behind`: their last entries are
   * on their way, or were lost on it. Only a hint of whom to ask: nothing is believed from it.
   * Looks at `budget` heads at most; returns what is left of it.
   */
  private headsBeyond(
    e: AuditEntry,
    groupId: string,
    members: ReadonlySet<string>,
    behind: Map<string, number>,
    budget: number,
  ): number {
    const heads = (e.body as { heads?: unknown }).heads;
    if (typeof heads !== 'object' || heads === null) return budget;
    for (const [author, head] of Object.entries(heads)) {
      if (budget-- <= 0) return 0;
      const a = splitAuthor(author);
      const seq = (head as { seq?: unknown } | null)?.seq;
      if (a?.group !== groupId || a.peer === this.me.peerId || !members.has(a.peer)) continue;
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) continue;
      if ((this.store.audit.headSeq(author) ?? -1) < seq)
        behind.set(author, Math.max(seq, behind.get(author) ?? -1));
    }
    return budget;
  }

  /**
   * A batch from `from` left this node behind on some chains (by author, the seq to reach): an
   * entry waits for earlier ones, or a checkpoint names a later head. Unless this node catches
   * up within ASK_AFTER_GAP_MS, the member is asked for what this node lacks ('audit-want').
   * Without this a gap stayed until the next connection's sync: e.g. a newcomer's first entry,
   * refused while it was not a member yet, with its later ones taken once it was.
   */
  private askAfterGap(from: string, groupId: string, behind: Map<string, number>): void {
    const key = `${from}/${groupId}`;
    const waiting = this.gapAsks.get(key);
    if (waiting) {
      for (const [a, seq] of behind) waiting.set(a, Math.max(seq, waiting.get(a) ?? -1));
      return;
    }
    if (this.gapAsks.size >= MAX_GAP_ASKS) return; // a sync at the next connection still comes
    this.gapAsks.set(key, new Map(behind));
    const timer = setTimeout(() => {
      const asked = this.gapAsks.get(key);
      this.gapAsks.delete(key);
      const still = (a: string, seq: number) => (this.store.audit.headSeq(a) ?? -1) < seq;
      try {
        if (this.stopped || !asked || ![...asked].some(([a, seq]) => still(a, seq))) return;
      } catch (e) {
        // On a timer: a store that cannot answer (closing) asks nothing, and never throws here.
        this.log(`audit catch-up check failed: ${(e as Error).message}`);
        return;
      }
      void this.send(from, { v: 1, type: 'audit-want', groupId }).catch(() => undefined);
    }, ASK_AFTER_GAP_MS);
    timer.unref?.();
  }

  /**
   * A co-member lacks entries of the group's log ('audit-want'): it gets a sync (heads, then what
   * it lacks). Asked again while one runs, it gets one more after it; at most one every
   * WANT_SPACING_MS, so a member asking in a loop costs little.
   */
  onAuditWant(from: string, msg: Extract<GroupMessage, { type: 'audit-want' }>): { ok: true } {
    const g = this.store.groups.get(msg.groupId);
    if (!g || !this.memberByPeer(g.id, from)) throw new DroppedMessage('non_member');
    const key = `${from}/${g.id}`;
    const running = this.wants.get(key);
    if (running) running.again = true;
    else {
      const state = { again: true };
      this.wants.set(key, state);
      void this.serveWants(from, g.id, state).finally(() => this.wants.delete(key));
    }
    return { ok: true };
  }

  private async serveWants(peer: string, groupId: string, state: { again: boolean }) {
    while (state.again && !this.stopped) {
      state.again = false;
      await Promise.all([
        this.syncAudit(peer, groupId).catch(() => undefined),
        new Promise((r) => setTimeout(r, WANT_SPACING_MS).unref?.()),
      ]);
    }
  }

  /**
   * Whether an entry with this author, seq, hash and signature is stored already (every sync
   * sends the whole log again). Such an entry is skipped unchecked: it is not stored again, so
   * the log keeps the copy whose hash and signature were checked when it came first. A copy
   * whose other fields were changed is skipped too, being neither stored nor believed. Any other
   * entry (new, or a different hash or signature at a held position) is checked in full.
   */
  private storedAlready(raw: Record<string, unknown>, missingFrom: Map<string, number>): boolean {
    if (typeof raw !== 'object' || raw === null) return false;
    const { author, seq, hash, sig } = raw;
    if (typeof author !== 'string' || typeof hash !== 'string' || typeof sig !== 'string')
      return false;
    if (!Number.isSafeInteger(seq) || (seq as number) < 0) return false;
    // A chain is stored without gaps: past a position found empty in this batch nothing is held,
    // so a batch of new entries costs one lookup per chain, not one per entry.
    const empty = missingFrom.get(author);
    if (empty !== undefined && (seq as number) >= empty) return false;
    const held = this.store.audit.signatureAt(author, seq as number);
    // (Below any position found empty, since those returned above.)
    if (held === undefined) missingFrom.set(author, seq as number);
    return held !== undefined && held.hash === hash && held.sig === sig;
  }

  /** Puts the entries of `entries` that may be kept into `good`; throws at a bad one. */
  private checkAudit(
    from: string,
    groupId: string,
    groupName: string,
    entries: Record<string, unknown>[],
    good: AuditEntry[],
  ): void {
    const g = { id: groupId, name: groupName };
    let members: ReadonlySet<string> | undefined;
    // The batch is stored after all its entries are checked: what was found empty stays so.
    const missingFrom = new Map<string, number>();
    for (const raw of entries) {
      if (this.storedAlready(raw, missingFrom)) continue;
      // Shape and hash in one pass (the entry's canonical encoding is made once).
      const checked = checkEntry(raw);
      if ('problem' in checked) throw new DroppedMessage('malformed');
      const e = raw as unknown as AuditEntry;
      const a = splitAuthor(e.author);
      if (a?.group !== g.id || e.group !== g.id) throw new DroppedMessage('wrong_group');
      const peer = a.peer;
      if (peer === this.me.peerId) continue; // our own chain is authoritative here
      // Only the chains of the group's current and former members: anyone can make a key, and a
      // member relaying a stranger's chain must not put words in the log. This one entry is
      // skipped, not the batch: a sync also carries chains of members this node never knew.
      members ??= this.membersEver(g.id) ?? new Set();
      if (!acceptableAuthor(e, members)) {
        this.count(
          UNKNOWN_AUTHOR,
          `audit entry ${logSafe(e.type)} by ${short(peer)}, relayed by ${short(from)}, in ${logSafe(g.name)}`,
        );
        continue;
      }
      // The hash is recomputed every time (it binds the content); a signature over that very
      // hash, by the same author, was checked already when this node saw it before.
      const seen = `${e.author}:${e.hash}:${e.sig}`;
      let ok: boolean;
      try {
        ok =
          checked.hash === e.hash &&
          (this.verified.has(seen) ||
            // Answers as noble's strict verify; native speed for a valid signature.
            verifyEd25519(hexToBytes(e.sig), hexToBytes(e.hash), publicKeyFromPeerId(peer)));
      } catch {
        ok = false;
      }
      if (!ok) throw new DroppedMessage('bad_signature');
      if (this.verified.size >= VERIFIED_KEPT) this.verified.clear();
      this.verified.add(seen);
      good.push(e);
    }
  }

  /**
   * Keeps each replicated chain gap-free: an entry is stored when it is the author's next one;
   * one that overtook an earlier entry in transit waits in memory until the gap is filled (its
   * author and seq go into `behind`: see askAfterGap).
   */
  private appendInOrder(e: AuditEntry, behind: Map<string, number>): void {
    const head = this.store.audit.headLink(e.author);
    const next = head === undefined ? 0 : head.seq + 1;
    if (e.seq > next) {
      this.pendingAudit.set(e.author, e.seq, e);
      behind.set(e.author, Math.max(e.seq, behind.get(e.author) ?? -1));
      return;
    }
    // The next position, chained to something other than the entry before it: the author
    // rewrote its history. Refused like a fork, so one member's lie cannot make every honest
    // member's log fail to verify.
    if (e.seq === next && head !== undefined && e.prev !== head.hash) {
      this.count('audit_broken_link');
      return;
    }
    try {
      this.store.audit.append(e);
    } catch {
      // A different entry at the same position: the author forked its chain. Keep the first
      // one; `audit verify` reports the fork from the evidence the other members hold.
      this.count('audit_fork');
      return;
    }
    const following = this.pendingAudit.take(e.author, e.seq + 1);
    if (following) this.appendInOrder(following, behind);
  }

  /**
   * A co-member asks which entries of the group's chains this node holds, to send it only the
   * rest ('audit-heads'). Answered to a member of the group only, from the store: per chain of a
   * current or former member (the chains this node takes), its last entry; at most
   * MAX_AUDIT_HEADS (a chain left out is sent whole, as before).
   */
  auditHeads(from: string, msg: Extract<GroupMessage, { type: 'audit-heads' }>): AuditHeadsAnswer {
    const g = this.store.groups.get(msg.groupId);
    if (!g || !this.memberByPeer(g.id, from)) throw new DroppedMessage('non_member');
    const heads: AuditHead[] = [];
    for (const peer of this.membersEver(g.id) ?? []) {
      if (heads.length >= MAX_AUDIT_HEADS) break;
      const author = `${peer}/${g.id}`;
      const head = this.store.audit.headLink(author);
      if (head === undefined) continue;
      // A damaged row is left out (its chain then comes whole), not one that spoils the answer.
      if (!isLowerHex(head.hash, 64) || author.length > 200) continue;
      heads.push({ author, seq: head.seq, hash: head.hash });
    }
    return { heads };
  }

  /** When a group (re)starts with a new key or roster, every member gets what it lacks of the log. */
  syncAuditWithAll(groupId: string): void {
    for (const m of this.store.members.list(groupId))
      if (m.peerId !== this.me.peerId)
        void this.syncAudit(m.peerId, groupId).catch(() => undefined);
  }

  /**
   * Sends a co-member the entries of the group's log it lacks (after a checkpoint of the heads
   * this node holds): it is asked for its heads first, then each chain goes from the entry after
   * the peer's head on. A peer that does not answer (an older version) or answers nonsense gets
   * the whole log, as before the heads exchange.
   */
  async syncAudit(peer: string, groupId: string): Promise<void> {
    const last = this.lastCheckpoint.get(groupId) ?? 0;
    if (Date.now() - last > 60_000) {
      this.lastCheckpoint.set(groupId, Date.now());
      const heads = Object.fromEntries(
        Object.entries(this.store.audit.heads()).filter(([a]) => a.endsWith(`/${groupId}`)),
      );
      this.audit('audit.checkpoint', { heads }, groupId);
    }
    const peerHeads = await this.askHeads(peer, groupId);
    const entries =
      peerHeads === undefined
        ? this.store.audit.list({ group: groupId, limit: SYNC_MAX_ENTRIES })
        : this.lackedBy(groupId, peerHeads);
    for (let i = 0; i < entries.length; i += 400)
      await this.sendReliably(
        peer,
        {
          v: 1,
          type: 'audit',
          groupId,
          entries: entries.slice(i, i + 400) as unknown as Record<string, unknown>[],
        },
        60_000,
      );
  }

  /** The peer's heads of the group's chains, by author; undefined when it gave none. */
  private async askHeads(
    peer: string,
    groupId: string,
  ): Promise<Map<string, AuditHead> | undefined> {
    let answer: AuditHeadsAnswer;
    try {
      answer = decodeAuditHeadsAnswer(
        await this.send(peer, { v: 1, type: 'audit-heads', groupId }),
      );
    } catch (e) {
      // Not answered (an older version refuses the type; gone; busy): the whole log, as before.
      if (e instanceof ProtocolError) this.count('audit_heads_malformed', `from ${short(peer)}`);
      return undefined;
    }
    return new Map(answer.heads.map((h) => [h.author, h]));
  }

  /**
   * The entries of the group's chains (of its current and former members, the chains a member
   * takes) that a peer with these heads lacks, each chain in order, at most SYNC_MAX_ENTRIES.
   *
   * The peer's word decides only what this node sends to that peer, so a lie makes it send less
   * (harming the liar only), never more than the whole log. Equal hashes at a seq mean equal chains
   * up to it (each entry's hash binds the one before), so the peer lacks only what follows. A head
   * this node holds another entry at (a fork) gets the whole chain, as a full sync would. A head
   * past this node's own: the peer holds more than this node can give; it gets this node's last
   * entry only, which it holds already or, at a fork, counts as one (a peer takes nothing else from
   * a chain it holds further: positions it holds are never replaced).
   */
  private lackedBy(groupId: string, peerHeads: ReadonlyMap<string, AuditHead>): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (const member of this.membersEver(groupId) ?? []) {
      const author = `${member}/${groupId}`;
      const mine = this.store.audit.headSeq(author);
      if (mine === undefined) continue;
      const theirs = peerHeads.get(author);
      let from = -1; // the peer holds this node's entries up to `from`
      if (theirs !== undefined && theirs.seq > mine) from = mine - 1;
      else if (
        theirs !== undefined &&
        this.store.audit.signatureAt(author, theirs.seq)?.hash === theirs.hash
      )
        from = theirs.seq;
      if (from >= mine) continue;
      const limit = SYNC_MAX_ENTRIES - out.length;
      if (limit <= 0) break;
      const chain = this.store.audit.list({ author, afterSeq: { [author]: from }, limit });
      out.push(...chain.sort((x, y) => x.seq - y.seq));
    }
    return out;
  }

  private authorName(e: AuditEntry): string | undefined {
    const peer = e.author.split('/')[0]!;
    if (peer === this.me.peerId) return this.me.name;
    return e.group ? this.store.members.get(e.group, peer)?.name : undefined;
  }

  auditList(input: { group?: string; limit?: number }): AuditEntryView[] {
    const group = input.group ? this.groups.findGroup(input.group).id : undefined;
    // The newest `limit` entries, shown oldest first like the rest of the log.
    const entries = this.store.audit
      .list({ group, limit: input.limit ?? 1000, order: 'desc' })
      .reverse();
    return entries.map((e) => ({
      author: e.author,
      authorName: this.authorName(e),
      seq: e.seq,
      at: new Date(e.at).toISOString(),
      type: e.type,
      group: e.group,
      summary: summarize(e),
      hash: e.hash,
    }));
  }

  /**
   * Checks every chain this node holds (its own and the group members'), with the heads the
   * members' checkpoints attest to, so removed last entries show up as truncation too. A chain of
   * someone who never was a member of its group (stored before this node refused them) is
   * reported as `unknown_author`, as is any personal chain but this node's own.
   */
  auditVerify() {
    const entries = this.store.audit.all();
    const heads: Record<string, { seq: number; hash: string }> = {};
    for (const e of entries) {
      if (e.type !== 'audit.checkpoint') continue;
      const h = (e.body as { heads?: Record<string, { seq: number; hash: string }> }).heads ?? {};
      for (const [author, head] of Object.entries(h))
        if (typeof head?.seq === 'number' && (!heads[author] || heads[author].seq < head.seq))
          heads[author] = head;
    }
    const cache = new Map<string, ReadonlySet<string> | undefined>();
    const membersOf = (g: string): ReadonlySet<string> | undefined => {
      if (!cache.has(g)) cache.set(g, this.membersEver(g));
      return cache.get(g);
    };
    const mayHold = (author: string): boolean => {
      const a = splitAuthor(author);
      if (a === undefined) return false;
      if (a.group === undefined) return a.peer === this.me.peerId;
      return membersOf(a.group)?.has(a.peer) ?? false;
    };
    return verifyEntries(
      entries,
      (author) => {
        try {
          return publicKeyFromPeerId(author.split('/')[0]!);
        } catch {
          return undefined;
        }
      },
      {
        // Heads only of chains this node may hold: it refuses the others, so they are not missing.
        heads: Object.fromEntries(Object.entries(heads).filter(([a]) => mayHold(a))),
        authors: { members: membersOf, personal: [this.me.peerId] },
        verify: verifyEd25519,
      },
    );
  }
}

/** The peers an entry blames, as the summaries show peers. */
function culpritsOf(b: Record<string, unknown>): string {
  return Array.isArray(b.culprits) ? b.culprits.map((c) => short(String(c))).join(', ') : '';
}

function summarize(e: AuditEntry): string {
  const b = e.body as Record<string, unknown>;
  switch (e.type) {
    case 'identity.created':
      return `identity created: ${String(b.name)}`;
    case 'group.created':
      return `created group ${String(b.name)} (${String(b.threshold)}-of-${String(b.size)}, ${String(b.scheme)})`;
    case 'group.ready':
      return `group key ready: ${String(b.publicKey)}`;
    case 'request.created':
      return `request ${String(b.id)} created by ${short(String(b.by))}`;
    case 'request.approved':
      return `request ${String(b.id)} approved by ${short(String(b.by))}`;
    case 'request.denied':
      return `request ${String(b.id)} denied by ${short(String(b.by))}${b.reason ? `: ${String(b.reason)}` : ''}`;
    case 'request.signed':
      return `request ${String(b.id)} signed`;
    case 'request.share_released':
      return `signature share for request ${String(b.id)} released to ${short(String(b.coordinator))}`;
    case 'request.share_refused':
      // The signer's own statement about the coordinator (its word, not proof).
      return `signature share for request ${String(b.id)} refused to ${short(String(b.coordinator))}: ${String(b.reason)}`;
    case 'request.ecdh_released':
      return `decryption share for request ${String(b.id)} released to ${short(String(b.to))}`;
    case 'request.ecdh_done':
      return `request ${String(b.id)} decrypted (the result is with its requester only)`;
    case 'request.ecdh_partial_invalid':
      return `wrong decryption share for request ${String(b.id)} from ${short(String(b.culprit))}`;
    case 'group.key_exposed':
      return exposureSummary(b);
    case 'request.signing_attempt_failed':
      return `signing attempt for request ${String(b.id)} failed: ${culpritsOf(b)}`;
    case 'request.failed':
      return `request ${String(b.id)} failed: ${String(b.failure)}${Array.isArray(b.culprits) && b.culprits.length ? ` (${culpritsOf(b)})` : ''}`;
    case 'group.failed':
      return `group failed: ${String(b.error)}`;
    case 'group.left':
      return `left the group${b.shareDeleted === true ? ' and deleted its share' : ''}`;
    default:
      return e.type;
  }
}
