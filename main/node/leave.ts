// Leaving a group: this node's share deleted from the vault first (a ready group), the members told
// through the audit log, the group removed here. Part of the groups service, kept apart for size.
import type { GroupLeft } from '../../shared/api/index.js';
import { logSafe } from '../../shared/protocol/text.js';
import { shareName } from './common.js';
import { type NodeContext, NodeService } from './context.js';
import type { GroupsService } from './groups.js';

export class GroupLeaver extends NodeService {
  constructor(
    ctx: NodeContext,
    private readonly groups: GroupsService,
    private readonly forgetDkg: (groupId: string) => void,
  ) {
    super(ctx);
  }

  /**
   * Leaves a group and removes it from this node (group.leave). A group not ready holds no key, so
   * nothing is lost. A ready group: this node's share (of every epoch) is deleted from the vault
   * first, so leaving cannot be undone, and with fewer than T members left the key is gone. The
   * others are told through the group's audit log (a `group.left` entry sent to those reachable).
   */
  async leave(ref: string): Promise<GroupLeft> {
    const g = this.groups.findGroup(ref);
    const others = this.store.members.list(g.id).filter((m) => m.peerId !== this.me.peerId);
    const ready = g.status === 'ready';
    let shareDeleted = false;
    if (ready || g.publicPackage) {
      for (const epoch of leaveEpochs(g.epoch)) {
        const name = shareName(g.id, epoch);
        if ((await this.vault.get(name)) === undefined) continue;
        await this.vault.delete(name);
        shareDeleted = true;
      }
    }
    this.keys.delete(g.id);
    const remaining = g.size - 1;
    const warning = ready
      ? remaining < g.threshold
        ? `${g.name} needs ${g.threshold} of ${g.size} shares to sign; with yours deleted only ${remaining} ${remaining === 1 ? 'is' : 'are'} left, so its key is lost for everyone: nothing can be signed with it again.`
        : `${g.name} needs ${g.threshold} of ${g.size} shares to sign; ${remaining} are left. If ${remaining - g.threshold + 1} more of them lose or delete their share, its key is lost for everyone. Ask the others to change members (a reshare) so the group no longer counts on you.`
      : undefined;
    this.store.tx(() => {
      this.audit(
        'group.left',
        { name: g.name, status: g.status, shareDeleted, remaining, threshold: g.threshold },
        g.id,
      );
    });
    // Tell the members who can be reached now; the group is gone here, so nothing is retried.
    const entry = this.store.audit.head(`${this.me.peerId}/${g.id}`);
    if (entry)
      for (const m of others)
        void this.sendReliably(
          m.peerId,
          {
            v: 1,
            type: 'audit',
            groupId: g.id,
            entries: [entry as unknown as Record<string, unknown>],
          },
          5_000,
        ).catch(() => undefined);
    this.store.groups.delete(g.id);
    this.groups.confirmations.delete(g.id);
    this.forgetDkg(g.id);
    this.log(`left group ${logSafe(g.name, 80)} (${g.id})${shareDeleted ? ': share deleted' : ''}`);
    return { group: g.id, name: g.name, shareDeleted, ...(warning ? { warning } : {}) };
  }
}

/** How many epochs from 0 a leave looks in for shares (with the stored epoch and the next). */
export const MAX_LEAVE_EPOCHS = 1024;

/**
 * The epochs whose shares a leave deletes: every one from 0 to the stored epoch and the next (a
 * refresh or reshare under way, or one that failed, stored that one already), each a vault read.
 * A damaged stored epoch (huge, negative, not an integer) must not make the leave run for ever:
 * from 0 only the first MAX_LEAVE_EPOCHS are looked at (the old epochs' shares are deleted when a
 * ceremony moves on, so these are left-overs), and the stored epoch and the next ones when sane.
 */
export function leaveEpochs(stored: number): number[] {
  const sane = Number.isSafeInteger(stored) && stored >= 0;
  const out = new Set<number>();
  const last = sane ? Math.min(stored + 1, MAX_LEAVE_EPOCHS - 1) : MAX_LEAVE_EPOCHS - 1;
  for (let epoch = 0; epoch <= last; epoch++) out.add(epoch);
  if (sane) out.add(stored);
  if (sane && Number.isSafeInteger(stored + 1)) out.add(stored + 1);
  return [...out];
}
