// The commit rule of refresh and reshare: switching to the new epoch or rolling back, also after a
// restart.
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { externalPublicKey, SecretShare, type KeyPackage } from '../../../shared/crypto/keys.js';
import {
  decideCommit,
  decodeCommitAnswer,
  type CommitAnswer,
} from '../../../shared/protocol/commit.js';
import { fingerprint } from '../../../shared/protocol/roster.js';
import { logSafe } from '../../../shared/protocol/text.js';
import {
  pendingKey,
  committedKey,
  formerKey,
  shareName,
  type PendingCeremony,
  isCandidate,
  isCommittedCeremony,
  isPendingCeremony,
  isString,
  parseStoredPackage,
  readMetaList,
  readMetaValue,
  rememberOwnPackage,
} from '../common.js';
import { type NodeServices, type NodeContext, NodeService } from '../context.js';

export class SettleService extends NodeService {
  /** Groups whose ceremony outcome this node is settling. */
  private settling = new Set<string>();

  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<
      NodeServices,
      'auditLog' | 'ceremony' | 'groups' | 'inboxes' | 'requests' | 'signing'
    >,
  ) {
    super(ctx);
  }

  private get auditLog() {
    return this.deps.auditLog;
  }
  private get ceremony() {
    return this.deps.ceremony;
  }
  private get groups() {
    return this.deps.groups;
  }
  private get inboxes() {
    return this.deps.inboxes;
  }
  private get requests() {
    return this.deps.requests;
  }
  private get signing() {
    return this.deps.signing;
  }

  /** This member was removed by a reshare: the group is over for it, and its share is deleted. */
  private leaveGroup(groupId: string, requestId: string, epoch: number, name: string): void {
    this.store.tx(() => {
      this.groups.updateGroup(groupId, {
        status: 'failed',
        error: `you were removed from ${name} by reshare ${requestId}`,
        updatedAt: Date.now(),
      });
      this.requests.updateRequest(requestId, { status: 'done', updatedAt: Date.now() });
      this.store.meta.set(pendingKey(groupId), '');
      this.audit('group.left', { requestId, epoch }, groupId);
    });
    void this.vault.delete(shareName(groupId, epoch)).catch(() => undefined);
    this.keys.delete(groupId);
    this.log(`removed from ${logSafe(name)} by reshare ${requestId}`);
    this.notify(requestId);
    this.emit({ type: 'group', id: groupId });
  }

  pendingCeremony(groupId: string): PendingCeremony | undefined {
    // Read on timers and for members' questions: a damaged record reads as none (logged once).
    return readMetaValue(this.store, pendingKey(groupId), isPendingCeremony, this.log);
  }

  /**
   * After this member's part of a refresh or reshare: switch to the new epoch (or leave the group)
   * once every new member holds it, or roll back once one of them never will. Until one of the two
   * is known, this member keeps both shares and asks the members it has not heard from, with
   * growing pauses, for as long as it takes (also after a restart, from the stored record).
   */
  async settleCeremony(groupId: string, deadline: number): Promise<void> {
    if (this.settling.has(groupId)) return;
    this.settling.add(groupId);
    try {
      const answers = new Map<string, CommitAnswer>();
      // What a member said only moves forward: working, then holding, then committed or aborted.
      const rank = { working: 0, holding: 1, committed: 2, aborted: 2 } as const;
      const note = (peer: string, a: CommitAnswer) => {
        const had = answers.get(peer);
        if (!had || rank[a.state] > rank[had.state]) answers.set(peer, a);
      };
      let nextQuery = deadline;
      let pause = 1000;
      let told = false;
      while (!this.stopped) {
        const p = this.pendingCeremony(groupId);
        if (!p || p.stage === 'writing') return;
        const recipients = p.roster.map((m) => m.peerId).filter((peer) => peer !== this.me.peerId);
        for (const [peer, d] of this.inboxes.inbox(p.session).done) {
          const a = decodeCommitAnswer({ ...(d as object), state: 'holding' });
          if (a) note(peer, a);
        }
        for (const peer of this.ceremony.abortedBy.get(p.session)?.keys() ?? [])
          note(peer, { state: 'aborted' });
        const mine = p.stage === 'leaving' ? undefined : { epoch: p.epoch, digest: p.digest };
        const d = decideCommit(recipients, mine, answers);
        try {
          if (d.decision === 'commit') return await this.commitCeremony(groupId, p);
          if (d.decision === 'abort')
            return await this.rollbackCeremony(
              groupId,
              p,
              `${this.memberName(groupId, d.by)} did not finish it`,
            );
        } catch (e) {
          // The vault or the store failed: nothing was switched; try again after a pause.
          this.log(`${p.kind} of ${groupId}: ${(e as Error).message}; trying again`);
          await new Promise((r) => setTimeout(r, pause));
          pause = Math.min(pause * 2, 15_000);
          continue;
        }
        if (d.decision === 'wait' && Date.now() >= nextQuery) {
          if (!told) {
            told = true;
            this.log(
              `${p.kind} ${p.requestId}: waiting to hear from ${d.missing.map((x) => logSafe(this.memberName(groupId, x))).join(', ')}; keeping the epoch ${p.fromEpoch} share until every new member holds epoch ${p.epoch}` +
                (d.mismatched.length
                  ? ` (${d.mismatched.map((x) => logSafe(this.memberName(groupId, x))).join(', ')} reported a different key package)`
                  : ''),
            );
          }
          for (const m of p.roster)
            if (m.peerId !== this.me.peerId && m.addrs.length)
              await this.host.addAddresses(m.peerId, m.addrs).catch(() => undefined);
          // A member that said "holding" may have switched since: ask it again too.
          const ask = recipients.filter((peer) => answers.get(peer)?.state !== 'aborted');
          await Promise.all(
            ask.map(async (peer) => {
              try {
                const a = decodeCommitAnswer(
                  await this.send(
                    peer,
                    {
                      v: 1,
                      type: 'ceremony',
                      groupId,
                      requestId: p.requestId,
                      session: p.session,
                      step: 'status',
                      payload: {},
                    },
                    3000,
                  ),
                );
                if (a) note(peer, a);
              } catch {
                // Offline or not answering: asked again after the pause.
              }
            }),
          );
          nextQuery = Date.now() + pause;
          pause = Math.min(pause * 2, 15_000);
          continue;
        }
        await new Promise((r) => setTimeout(r, Date.now() < deadline ? 50 : 250));
      }
    } finally {
      this.settling.delete(groupId);
    }
  }

  /** What this member can say about a ceremony session (asked by a member that missed a "done"). */
  ceremonyAnswer(groupId: string, requestId: string, session: string): CommitAnswer {
    const p = this.pendingCeremony(groupId);
    if (p?.session === session)
      return p.stage === 'holding'
        ? { state: 'holding', epoch: p.epoch, digest: p.digest }
        : { state: 'working' };
    const o = readMetaValue(this.store, committedKey(requestId), isCommittedCeremony, this.log);
    if (o?.session === session) return { state: 'committed', epoch: o.epoch, digest: o.digest };
    if (this.ceremony.runningSessions.has(session)) return { state: 'working' };
    // Never held this session's share and never will: the session is over for this member.
    this.ceremony.aborted.set(session, true);
    return { state: 'aborted' };
  }

  /** Every new member holds the new epoch: switch roster and key package, drop the old share. */
  private async commitCeremony(groupId: string, p: PendingCeremony): Promise<void> {
    const g = this.store.groups.get(groupId)!;
    if (p.stage === 'leaving') {
      this.leaveGroup(groupId, p.requestId, p.fromEpoch, g.name);
      return;
    }
    const me = p.roster.find((m) => m.peerId === this.me.peerId);
    const pub = parseStoredPackage(p.pubJson);
    if (!pub || !me) return this.abandonDamaged(groupId, p);
    const bytes = await this.vault.get(shareName(groupId, p.epoch));
    if (!bytes)
      throw new Error(
        `this node's epoch ${p.epoch} share is missing from the vault; it cannot switch`,
      );
    const next: KeyPackage = {
      public: pub,
      share: SecretShare.fromBytes(g.scheme, BigInt(me.index), bytes, p.epoch),
    };
    bytes.fill(0);
    const oldMembers = this.store.members.list(groupId);
    const roster = p.roster;
    const removed = oldMembers.filter((m) => !roster.some((x) => x.peerId === m.peerId));
    // The package was decoded above from this very text (the ceremony's own, built from checked
    // points): the store's write takes the text without decoding it again, and the views and
    // checks that read the row take the package instead of decoding it a third time.
    rememberOwnPackage(pub, p.pubJson);
    this.store.tx(() => {
      for (const m of removed) this.groups.deleteMember(groupId, m.peerId);
      for (const m of roster) {
        const existing = this.store.members.get(groupId, m.peerId);
        this.groups.upsertMember({
          groupId,
          peerId: m.peerId,
          name: m.name,
          identityKey: m.identityKey,
          fingerprint: fingerprint(hexToBytes(m.identityKey)),
          index: m.index,
          addrs:
            m.peerId === this.me.peerId
              ? this.host.addrs()
              : m.addrs.length
                ? m.addrs
                : (existing?.addrs ?? []),
          confirmed: true,
          joinedAt: existing?.joinedAt ?? Date.now(),
        });
      }
      this.groups.updateGroup(groupId, {
        publicPackage: p.pubJson,
        epoch: p.epoch,
        threshold: next.public.threshold,
        size: roster.length,
        status: 'ready',
        error: undefined,
        updatedAt: Date.now(),
      });
      this.requests.updateRequest(p.requestId, {
        status: 'done',
        failure: undefined,
        updatedAt: Date.now(),
      });
      this.audit(
        p.kind === 'refresh' ? 'group.refreshed' : 'group.reshared',
        {
          requestId: p.requestId,
          fromEpoch: p.fromEpoch,
          epoch: p.epoch,
          threshold: next.public.threshold,
          members: roster.map((m) => m.peerId),
          publicKey: bytesToHex(externalPublicKey(next.public)),
        },
        groupId,
      );
      this.store.meta.set(pendingKey(groupId), '');
      this.store.meta.set(
        committedKey(p.requestId),
        JSON.stringify({ session: p.session, epoch: p.epoch, digest: p.digest }),
      );
      if (removed.length) {
        // Removed members may still ask how the reshare ended (and only that).
        const former = readMetaList(this.store, formerKey(groupId), isString, this.log);
        this.store.meta.set(
          formerKey(groupId),
          JSON.stringify([...new Set([...former, ...removed.map((m) => m.peerId)])]),
        );
      }
      this.store.meta.set(`newcomer:${groupId}`, '');
      this.store.meta.set(`newcomer-package:${groupId}`, '');
      const candidates = readMetaList(this.store, `candidates:${groupId}`, isCandidate, this.log);
      this.store.meta.set(
        `candidates:${groupId}`,
        JSON.stringify(candidates.filter((c) => !roster.some((m) => m.peerId === c.peerId))),
      );
    });
    this.keys.set(groupId, next);
    this.signing.forgetGroup(groupId);
    this.signing.applyEarlyNonces(groupId);
    this.auditLog.syncAuditWithAll(groupId);
    for (const m of roster)
      if (m.peerId !== this.me.peerId && this.host.isConnected(m.peerId))
        void this.signing.sendNonces(groupId, m.peerId, true).catch(() => undefined);
    // Only now that the pools are rebuilt for the new epoch (no await above), drop the old share.
    if (p.hadOldShare && p.fromEpoch !== p.epoch)
      await this.vault.delete(shareName(groupId, p.fromEpoch)).catch(() => undefined);
    this.log(
      `${p.kind} of ${logSafe(g.name)} done: epoch ${p.epoch}, ${next.public.threshold} of ${roster.length}`,
    );
    this.notify(p.requestId);
    this.emit({ type: 'group', id: groupId });
    this.ceremony.evaluateGroup(groupId);
  }

  /**
   * Every new member holds the new epoch, but this member's record of it is damaged (its key
   * package does not decode, or the roster lacks this member): it cannot switch, and trying again
   * would never help. The request fails here with a reason naming the record; the new share stays
   * in the vault (the others count on it), and the group's error says a repair brings it back.
   */
  private abandonDamaged(groupId: string, p: PendingCeremony): void {
    const key = pendingKey(groupId);
    const reason = `this node's stored ${key} record is unreadable (its key package or roster), so it cannot switch to epoch ${p.epoch} as the other members did`;
    this.store.tx(() => {
      this.store.meta.set(key, '');
      this.groups.updateGroup(groupId, {
        error: `${reason}; a repair of this member gives it a working share again`,
        updatedAt: Date.now(),
      });
      const r = this.store.requests.get(p.requestId);
      if (r && r.status !== 'failed' && r.status !== 'done')
        this.requests.finish(
          p.requestId,
          { status: 'failed', failure: `${p.kind} failed on this node: ${reason}` },
          'request.failed',
          { id: p.requestId, failure: reason },
        );
    });
    this.log(`${p.kind} ${p.requestId}: ${reason}`);
    this.emit({ type: 'group', id: groupId });
  }

  /** A new member never held the new epoch: nobody switched; drop the new share, keep the old. */
  async rollbackCeremony(groupId: string, p: PendingCeremony, reason: string): Promise<void> {
    if (p.stage !== 'leaving')
      await this.vault.delete(shareName(groupId, p.epoch)).catch(() => undefined);
    this.store.meta.set(pendingKey(groupId), '');
    this.log(`${p.kind} ${p.requestId} rolled back: ${reason}`);
    const r = this.store.requests.get(p.requestId);
    if (r && r.status !== 'failed')
      this.requests.finish(
        p.requestId,
        {
          status: 'failed',
          failure: `${p.kind} failed: ${reason}; the group stays at epoch ${p.fromEpoch} and a new ${p.kind} can be proposed`,
        },
        'request.failed',
        { id: p.requestId, failure: reason },
      );
    this.requests.announceOutcome(p.requestId);
    this.emit({ type: 'group', id: groupId });
    this.ceremony.evaluateGroup(groupId);
  }
}
