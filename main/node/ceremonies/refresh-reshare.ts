// Refresh and reshare: their requests and the dealing rounds every participant runs.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ApiError, type RequestView } from '../../../shared/api/index.js';
import { canonicalJSON } from '../../../shared/crypto/backup.js';
import { DkgRound2Package, type DkgEcho } from '../../../shared/crypto/dkg.js';
import { CryptoError } from '../../../shared/crypto/errors.js';
import { publicPackageToJSON } from '../../../shared/crypto/keys.js';
import {
  reshareEcho,
  reshareEchoEvidence,
  reshareFinalize,
  reshareRound1,
  reshareRound2,
  type ReshareRound1Package,
} from '../../../shared/crypto/reshare.js';
import { getSuite } from '../../../shared/crypto/suite.js';
import { logSafe } from '../../../shared/protocol/text.js';
import {
  pendingKey,
  shareName,
  type PendingCeremony,
  type CeremonyParams,
  isCandidate,
  requireMetaList,
  requireMetaPackage,
} from '../common.js';
import { verifyEd25519 } from '../../crypto/ed25519.js';
import { abortMessage } from './ceremony.js';
import { type NodeServices, type NodeContext, NodeService } from '../context.js';
import { crashPoint } from '../crash.js';

/**
 * Other participants stopped the ceremony (an 'abort' each), and every other participant a step
 * waits for has sent its message: what the stoppers said, quoted as their word. It blames nobody:
 * this node cannot check their word (see runCeremony's checkStep).
 */
class StoppedByOthers extends Error {}

export class RefreshReshareService extends NodeService {
  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<
      NodeServices,
      'ceremony' | 'groups' | 'inboxes' | 'repair' | 'requests' | 'settle'
    >,
  ) {
    super(ctx);
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
  private get repair() {
    return this.deps.repair;
  }
  private get requests() {
    return this.deps.requests;
  }
  private get settle() {
    return this.deps.settle;
  }

  createReshareRequest(input: {
    group: string;
    threshold?: number;
    add?: string[];
    remove?: string[];
    expiresInSec?: number;
  }): RequestView {
    const g = this.groups.findGroup(input.group);
    if (g.status !== 'ready')
      throw new ApiError(
        'not_ready',
        `group ${g.name} is ${g.status}; only a ready group can be reshared`,
      );
    const members = this.store.members.list(g.id);
    const candidates = requireMetaList(this.store, `candidates:${g.id}`, isCandidate, this.log);
    const add = (input.add ?? []).map((ref) => {
      const found = candidates.filter((c) => c.peerId === ref || c.name === ref);
      if (found.length === 0)
        throw new ApiError(
          'not_found',
          `no newcomer "${ref}" joined through your invites; send them one with: conclave group invite ${g.name}`,
        );
      if (found.length > 1)
        throw new ApiError('ambiguous', `several newcomers are called "${ref}"; use the peer id`);
      return found[0];
    });
    const remove = (input.remove ?? []).map((ref) => {
      const found = members.filter((m) => m.peerId === ref || m.name === ref);
      if (found.length === 0) throw new ApiError('not_found', `no member "${ref}" in ${g.name}`);
      if (found.length > 1)
        throw new ApiError('ambiguous', `several members are called "${ref}"; use the peer id`);
      return found[0].peerId;
    });
    if (
      new Set(add.map((a) => a.peerId)).size !== add.length ||
      new Set(remove).size !== remove.length
    )
      throw new ApiError('bad_input', 'a newcomer or member is named twice');
    const size = members.length - remove.length + add.length;
    const threshold = input.threshold ?? Math.min(g.threshold, size);
    if (threshold < 2 || threshold > size)
      throw new ApiError(
        'bad_input',
        `threshold: must be from 2 to the new size (${size}), got ${threshold}`,
      );
    if (add.length === 0 && remove.length === 0 && threshold === g.threshold)
      throw new ApiError(
        'bad_input',
        'nothing to change: add or remove members, or change the threshold (or propose a refresh)',
      );
    const params: CeremonyParams = {
      ceremony: 'reshare',
      group: g.id,
      fromEpoch: g.epoch,
      threshold,
      size,
      add,
      remove,
    };
    const view = this.requests.createRequest(
      g,
      'reshare',
      utf8ToBytes(canonicalJSON(params)),
      input.expiresInSec,
    );
    return view;
  }

  createRefreshRequest(input: { group: string; expiresInSec?: number }): RequestView {
    const g = this.groups.findGroup(input.group);
    if (g.status !== 'ready')
      throw new ApiError(
        'not_ready',
        `group ${g.name} is ${g.status}; only a ready group can be refreshed`,
      );
    const params = { ceremony: 'refresh', group: g.id, fromEpoch: g.epoch };
    return this.requests.createRequest(
      g,
      'refresh',
      utf8ToBytes(canonicalJSON(params)),
      input.expiresInSec,
    );
  }

  /**
   * Every participant of a refresh or reshare: dealers re-deal their Lagrange-weighted shares to
   * the new roster; recipients keep both shares until every recipient confirmed the new key
   * package, then switch epoch and delete the old share.
   */
  async runCeremony(
    groupId: string,
    requestId: string,
    session: string,
    dealerPeers: string[],
  ): Promise<void> {
    if (this.ceremony.ceremonies.has(requestId)) return;
    const params = this.ceremony.ceremonyParams(this.store.requests.get(requestId)!);
    if (params.ceremony === 'repair')
      return this.repair.runRepair(groupId, requestId, session, dealerPeers, params);
    this.ceremony.ceremonies.add(requestId);
    const g = this.store.groups.get(groupId)!;
    const r = this.store.requests.get(requestId)!;
    const p = this.ceremony.ceremonyParams(r);
    const suite = getSuite(g.scheme);
    const oldMembers = this.store.members.list(groupId);
    const roster = this.ceremony.plannedRoster(g, p);
    const indexOf = new Map<string, number>([
      ...oldMembers.map((m) => [m.peerId, m.index] as const),
      ...roster.map((m) => [m.peerId, m.index] as const),
    ]);
    const dealers = dealerPeers.map((peer) => ({ peerId: peer, index: indexOf.get(peer)! }));
    const participants = [...new Set([...dealerPeers, ...roster.map((m) => m.peerId)])];
    const others = participants.filter((peer) => peer !== this.me.peerId);
    const meIsDealer = dealerPeers.includes(this.me.peerId);
    const meIsRecipient = roster.some((m) => m.peerId === this.me.peerId);
    const deadline = Date.now() + this.ceremonyTimeoutMs;
    const fromEpoch = g.epoch;
    let newEpochWritten = false;
    let sentDone = false;
    for (const m of roster)
      if (m.peerId !== this.me.peerId && m.addrs.length)
        await this.host.addAddresses(m.peerId, m.addrs);
    this.requests.updateRequest(requestId, { status: 'signing', updatedAt: Date.now() });
    this.notify(requestId);
    const removedPeers = oldMembers
      .map((m) => m.peerId)
      .filter((peer) => !roster.some((x) => x.peerId === peer));
    const pending: PendingCeremony = {
      requestId,
      session,
      kind: r.kind === 'refresh' ? 'refresh' : 'reshare',
      stage: 'leaving',
      fromEpoch,
      epoch: fromEpoch + 1,
      digest: '',
      pubJson: '',
      roster,
      hadOldShare: oldMembers.some((m) => m.peerId === this.me.peerId),
    };
    this.ceremony.runningSessions.add(session);
    // A member leaving the group records that at once: should it stop in the middle, it learns
    // after a restart whether the new members went ahead without it.
    if (!meIsRecipient) this.store.meta.set(pendingKey(groupId), JSON.stringify(pending));
    if (!meIsDealer && !meIsRecipient) {
      // A removed member that does not deal: it only learns the outcome from the new members.
      try {
        await this.settle.settleCeremony(groupId, deadline);
      } finally {
        this.ceremony.runningSessions.delete(session);
        this.inboxes.drop(session);
        this.ceremony.ceremonies.delete(requestId);
      }
      return;
    }
    let dealtAll = false;
    try {
      // A damaged package fails the ceremony with a reason naming it (not a raw JSON error).
      const old =
        this.publicPackage(groupId) ??
        requireMetaPackage(this.store, `newcomer-package:${groupId}`);
      if (!old) throw new Error('this node does not know the current key package');
      const key = meIsDealer ? await this.keyPackage(groupId) : undefined;
      const identityOf = (peer: string): Uint8Array => {
        const m = oldMembers.find((x) => x.peerId === peer);
        if (!m) throw new Error(`dealer ${peer} is not a member of the group`);
        return hexToBytes(m.identityKey);
      };
      const params = {
        old,
        dealers: dealers.map((d) => BigInt(d.index)),
        members: roster.map((m) => ({
          identifier: BigInt(m.index),
          identityKey: hexToBytes(m.identityKey),
        })),
        threshold: p.ceremony === 'reshare' ? p.threshold : g.threshold,
        sessionId: hexToBytes(session),
        // Signed with the identity keys: an echo misreporting a dealer's package names the echoer.
        dealerKeys: dealers.map((d) => ({
          identifier: BigInt(d.index),
          identityKey: identityOf(d.peerId),
        })),
      };
      const myIndex = BigInt(indexOf.get(this.me.peerId)!);
      /**
       * For the wait for `step` from `from`: throws once this node answered that it will not take
       * part in this session, or once every one of `from` has sent its message of `step` or
       * stopped the ceremony. An 'abort' ends the wait for its sender's messages only: this node
       * still waits for the others' and judges them itself (a liar's abort blaming an honest
       * member, reaching this node before that member's echo, would otherwise decide the verdict
       * by message order, as in the DKG: dkg.ts ReportedFailure).
       */
      const checkStep = (step: 'round1' | 'echo' | 'round2', from: readonly string[]) => () => {
        if (this.ceremony.aborted.has(session))
          throw new Error('this node has answered that it does not take part in this session');
        const stopped = this.ceremony.abortedBy.get(session);
        if (!stopped?.size) return;
        const box = this.inboxes.inbox(session)[step];
        const silent = from.filter((peer) => !box.has(peer));
        if (silent.length && silent.every((peer) => stopped.has(peer)))
          throw new StoppedByOthers(this.ceremony.stoppedBy(groupId, session, silent));
      };
      /**
       * awaitInbox for `n` messages of `step` from `from`, stopping as checkStep says. Past the
       * deadline, what those of `from` that stopped said comes with the timeout: their word says
       * more than the silence of the others (it is still quoted, never this node's finding).
       */
      const awaitStep = async (
        step: 'round1' | 'echo' | 'round2',
        n: number,
        from: readonly string[],
      ): Promise<Map<string, unknown>> => {
        try {
          return await this.inboxes.awaitInbox(session, step, n, deadline, checkStep(step, from));
        } catch (e) {
          const stopped = this.ceremony.stoppedBy(groupId, session, from);
          if (e instanceof StoppedByOthers || !stopped || Date.now() <= deadline) throw e;
          throw new StoppedByOthers(`${(e as Error).message}; ${stopped}`, { cause: e });
        }
      };
      const send = this.ceremony.ceremonySender(groupId, requestId, session, deadline);
      // The dealers' signatures are checked at native speed (as noble's strict verify answers).
      const r1 = reshareRound1(
        params,
        myIndex,
        key,
        undefined,
        (m) => this.me.sign(m),
        verifyEd25519,
      );
      if (r1.package)
        await Promise.all(
          others.map((peer) =>
            send(peer, 'round1', r1.package as unknown as Record<string, unknown>),
          ),
        );
      const dealerOthers = dealerPeers.filter((d) => d !== this.me.peerId);
      const got1 = await awaitStep('round1', dealerOthers.length, dealerOthers);
      // Test-only: this member goes away in the middle of the ceremony.
      if (this.fault === 'exit-mid-ceremony') process.exit(3);
      crashPoint('refresh-mid');
      const echo = reshareEcho(r1.state, [...got1.values()] as ReshareRound1Package[]);
      await Promise.all(
        others.map((peer) => send(peer, 'echo', echo as unknown as Record<string, unknown>)),
      );
      let echoes: Map<string, unknown>;
      try {
        echoes = await awaitStep('echo', others.length, others);
      } catch (e) {
        // The stoppers' echoes will not come: what the others' show is this node's verdict.
        if (!(e instanceof StoppedByOthers)) throw e;
        const inHand = [...this.inboxes.inbox(session).echo.values()] as DkgEcho[];
        throw reshareEchoEvidence(r1.state, inHand) ?? e;
      }
      const out = reshareRound2(r1.state, [...echoes.values()] as DkgEcho[]);
      if (this.fault === 'exit-during-round2') {
        // Test-only: one new member gets this dealer's part, then this member is gone.
        const first = out.find((pkg) => pkg.to !== myIndex);
        const to = first && roster.find((m) => BigInt(m.index) === first.to);
        if (first && to) await send(to.peerId, 'round2', first.toWire(suite));
        process.exit(3);
      }
      await Promise.all(
        out.map((pkg) => {
          const to = roster.find((m) => BigInt(m.index) === pkg.to)!;
          return send(to.peerId, 'round2', pkg.toWire(suite));
        }),
      );
      const got2 = await awaitStep('round2', meIsRecipient ? dealerOthers.length : 0, dealerOthers);
      const received = [...got2.values()].map((w) =>
        DkgRound2Package.fromWire(suite, w as Parameters<typeof DkgRound2Package.fromWire>[1]),
      );
      dealtAll = true;
      const next = reshareFinalize(r1.state, received);
      if (!next) {
        // A dealer leaving the group: its part is done once the new members hold the new epoch.
        await this.settle.settleCeremony(groupId, deadline);
        return;
      }
      pending.pubJson = JSON.stringify(publicPackageToJSON(next.public));
      pending.digest = bytesToHex(sha256(utf8ToBytes(pending.pubJson)));
      pending.stage = 'writing';
      this.store.meta.set(pendingKey(groupId), JSON.stringify(pending));
      newEpochWritten = true;
      await this.vault.put(shareName(groupId, next.share.epoch), next.share.toBytes());
      next.share.wipe();
      // From here on this member never rolls back on its own: only when a new member says it will
      // never hold the new epoch (shared/protocol/commit.ts).
      pending.stage = 'holding';
      this.store.meta.set(pendingKey(groupId), JSON.stringify(pending));
      crashPoint('refresh-committed');
      sentDone = true;
      const recipientOthers = roster.map((m) => m.peerId).filter((peer) => peer !== this.me.peerId);
      const done = { epoch: pending.epoch, digest: pending.digest };
      if (this.fault === 'exit-after-done') {
        // Test-only: one member hears "done", then this member is gone.
        if (recipientOthers[0]) await send(recipientOthers[0], 'done', done);
        process.exit(3);
      }
      // Removed members hear the outcome too, so they know their share no longer counts.
      for (const peer of [...recipientOthers, ...removedPeers])
        send(peer, 'done', done).catch(() => undefined);
      await this.settle.settleCeremony(groupId, deadline);
    } catch (e) {
      const reason =
        e instanceof CryptoError && e.culprits.length
          ? `${e.code}: ${e.culprits.map((c) => this.groups.nameOfIdentifier(groupId, c)).join(', ')} misbehaved`
          : (e as Error).message;
      this.log(`${r.kind} of ${logSafe(g.name)} failed: ${reason}`);
      if (!meIsRecipient && dealtAll) {
        // A leaving dealer that delivered its part: the new members decide; learn what they did.
        void this.settle.settleCeremony(groupId, deadline);
      } else if (!sentDone) {
        // Nobody can have switched yet: drop the half-made share, keep the old epoch, allow a retry.
        // A round can end long after its deadline, when the request already failed here from
        // another member's word and the group's next ceremony is under way: the pending record,
        // and the epoch's share name, are then that ceremony's, and must be left alone (issue 13:
        // a late failure of a refresh stopped the next refresh's commit on that member for good).
        const ours = () => this.settle.pendingCeremony(groupId)?.session === session;
        if (newEpochWritten && ours())
          await this.vault.delete(shareName(groupId, fromEpoch + 1)).catch(() => undefined);
        if (ours()) this.store.meta.set(pendingKey(groupId), '');
        const abort = abortMessage(groupId, requestId, session, reason);
        for (const peer of others) this.send(peer, abort).catch(() => undefined);
        this.requests.finish(
          requestId,
          {
            status: 'failed',
            failure: `${r.kind} failed: ${reason}; the group stays at epoch ${fromEpoch} and a new ${r.kind} can be proposed`,
          },
          'request.failed',
          { id: requestId, failure: reason },
        );
        this.requests.announceOutcome(requestId);
      }
    } finally {
      this.ceremony.runningSessions.delete(session);
      this.inboxes.drop(session);
      this.ceremony.ceremonies.delete(requestId);
    }
  }
}
