// The audit log: replication of the members' chains, checkpoints, listing and verification.
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import type { AuditEntryView } from '../../shared/api/index.js';
import {
  entryProblem,
  hashEntry,
  verifyEntries,
  type AuditEntry,
} from '../../shared/audit/chain.js';
import type { GroupMessage } from '../../shared/protocol/wire.js';
import { exposureSummary } from '../../shared/requests/index.js';
import { publicKeyFromPeerId } from '../net/index.js';
import { DroppedMessage, short } from './common.js';
import { type NodeServices, type NodeContext, NodeService } from './context.js';

export class AuditService extends NodeService {
  private lastCheckpoint = new Map<string, number>();
  /** Replicated audit entries that arrived before an earlier one of the same chain. */
  private pendingAudit = new Map<string, Map<number, AuditEntry>>();

  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<NodeServices, 'groups'>,
  ) {
    super(ctx);
  }

  private get groups() {
    return this.deps.groups;
  }

  /** Another member's (or relayed) audit entries of a group: each checked before it is kept. */
  acceptAudit(from: string, msg: Extract<GroupMessage, { type: 'audit' }>): void {
    const g = this.store.groups.get(msg.groupId);
    if (!g || !this.memberByPeer(g.id, from)) throw new DroppedMessage('non_member');
    for (const raw of msg.entries) {
      if (entryProblem(raw) !== undefined) throw new DroppedMessage('malformed');
      const e = raw as unknown as AuditEntry;
      const [peer, group] = e.author.split('/');
      if (group !== g.id || e.group !== g.id) throw new DroppedMessage('wrong_group');
      if (peer === this.me.peerId) continue; // our own chain is authoritative here
      const { hash: _hash, sig: _sig, ...unsigned } = e;
      let ok: boolean;
      try {
        ok =
          hashEntry(unsigned) === e.hash &&
          ed25519.verify(hexToBytes(e.sig), hexToBytes(e.hash), publicKeyFromPeerId(peer!), {
            zip215: false,
          });
      } catch {
        ok = false;
      }
      if (!ok) throw new DroppedMessage('bad_signature');
      this.appendInOrder(e);
    }
  }

  /**
   * Keeps each replicated chain gap-free: an entry is stored when it is the author's next one;
   * one that overtook an earlier entry in transit waits in memory until the gap is filled.
   */
  private appendInOrder(e: AuditEntry): void {
    const head = this.store.audit.head(e.author);
    const next = head === undefined ? 0 : head.seq + 1;
    if (e.seq > next) {
      let waiting = this.pendingAudit.get(e.author);
      if (!waiting) this.pendingAudit.set(e.author, (waiting = new Map()));
      if (waiting.size < 10_000) waiting.set(e.seq, e);
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
    const waiting = this.pendingAudit.get(e.author);
    const following = waiting?.get(e.seq + 1);
    if (waiting && following) {
      waiting.delete(e.seq + 1);
      this.appendInOrder(following);
    }
  }

  /** Sends a co-member the group's whole log, after a checkpoint of the heads this node holds. */
  /** When a group (re)starts with a new key or roster, every member gets the whole log. */
  syncAuditWithAll(groupId: string): void {
    for (const m of this.store.members.list(groupId))
      if (m.peerId !== this.me.peerId)
        void this.syncAudit(m.peerId, groupId).catch(() => undefined);
  }

  async syncAudit(peer: string, groupId: string): Promise<void> {
    const last = this.lastCheckpoint.get(groupId) ?? 0;
    if (Date.now() - last > 60_000) {
      this.lastCheckpoint.set(groupId, Date.now());
      const heads = Object.fromEntries(
        Object.entries(this.store.audit.heads()).filter(([a]) => a.endsWith(`/${groupId}`)),
      );
      this.audit('audit.checkpoint', { heads }, groupId);
    }
    const entries = this.store.audit.list({ group: groupId, limit: 100_000 });
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

  private authorName(e: AuditEntry): string | undefined {
    const peer = e.author.split('/')[0]!;
    if (peer === this.me.peerId) return this.me.name;
    return e.group ? this.store.members.get(e.group, peer)?.name : undefined;
  }

  auditList(input: { group?: string; limit?: number }): AuditEntryView[] {
    const group = input.group ? this.groups.findGroup(input.group).id : undefined;
    const entries = this.store.audit.list({ group, limit: input.limit ?? 1000 });
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
   * members' checkpoints attest to, so removed last entries show up as truncation too.
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
    return verifyEntries(
      entries,
      (author) => {
        try {
          return publicKeyFromPeerId(author.split('/')[0]!);
        } catch {
          return undefined;
        }
      },
      { heads },
    );
  }
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
    case 'group.key_exposed':
      return exposureSummary(b);
    default:
      return e.type;
  }
}
