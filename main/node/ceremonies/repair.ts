// Repair of a lost member's share on a new device, which takes its roster position.
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ApiError, type RequestView } from '../../../shared/api/index.js';
import { canonicalJSON } from '../../../shared/crypto/backup.js';
import { proveKnowledge, verifyKnowledge } from '../../../shared/crypto/dkg.js';
import { CryptoError } from '../../../shared/crypto/errors.js';
import { publicPackageToJSON, type KeyPackage } from '../../../shared/crypto/keys.js';
import {
  repairCommitmentsSignedBy,
  repairCommitmentsSigningBytes,
  repairStep1,
  repairStep2,
  repairStep3,
  repairViewsToWire,
  type RepairView,
} from '../../../shared/crypto/repair.js';
import { getSuite, identifierHex, type GroupPoint } from '../../../shared/crypto/suite.js';
import {
  decodeRepairCommitments,
  decodeRepairDone,
  decodeRepairPart,
  decodeRepairSum,
} from '../../../shared/protocol/repair-payload.js';
import { fingerprint } from '../../../shared/protocol/roster.js';
import { logSafe } from '../../../shared/protocol/text.js';
import { ProtocolError } from '../../../shared/protocol/wire.js';
import { verifyEd25519 } from '../../crypto/ed25519.js';
import { publicKeyFromPeerId } from '../../net/index.js';
import type { GroupRow, RequestRow } from '../../store/index.js';
import {
  repairContext,
  DroppedMessage,
  shareName,
  type DkgInbox,
  type CeremonyParams,
  DEFAULT_EXPIRY_SEC,
  readMetaList,
  isCandidate,
  isRepairDone,
  readMetaValue,
  repairDoneKey,
  type RepairDone,
  requireMetaList,
  requireMetaPackage,
  short,
} from '../common.js';
import { abortMessage } from './ceremony.js';
import { type NodeServices, type NodeContext, NodeService } from '../context.js';
import { crashPoint } from '../crash.js';

/** How long after a repair failed here its new device may still prove it holds the share. */
const LATE_PROOF_MS = DEFAULT_EXPIRY_SEC * 1000;
/** Bad proofs a repair's new device may send before this member stops awaiting it. */
const LATE_PROOF_TRIES = 5;
/** Failed repairs of one group awaited at once (the newest kept). */
const LATE_PROOF_MAX = 4;

/**
 * A participant's payload that its decoder refused (or a proof that does not verify): it ends the
 * repair with a reason naming that participant.
 */
class RefusedPayload extends Error {}

/**
 * Every participant a step waits for that has not sent its message stopped the repair (an
 * 'abort' each): what they said, quoted as their word. It blames nobody: this node cannot check
 * their word (see runRepair's stoppedCheck).
 */
class StoppedByOthers extends Error {}

/** A repair that failed here, whose new device may still prove it holds the share. */
interface AwaitedRepair {
  requestId: string;
  newcomer: string;
  failedAt: number;
  bad: number;
}

export class RepairService extends NodeService {
  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<
      NodeServices,
      'auditLog' | 'ceremony' | 'groups' | 'inboxes' | 'requests' | 'signing'
    >,
  ) {
    super(ctx);
    ctx.onEvent((e) => {
      if (e.type === 'request' && !this.stopped) this.awaitLateProofs(e.id);
    });
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

  createRepairRequest(input: {
    group: string;
    member: string;
    newcomer?: string;
    expiresInSec?: number;
  }): RequestView {
    const g = this.groups.findGroup(input.group);
    if (g.status !== 'ready')
      throw new ApiError(
        'not_ready',
        `group ${g.name} is ${g.status}; only a ready group can repair a share`,
      );
    const members = this.store.members.list(g.id);
    const lost = members.filter((m) => m.peerId === input.member || m.name === input.member);
    if (lost.length !== 1)
      throw new ApiError(
        lost.length ? 'ambiguous' : 'not_found',
        `no single member "${input.member}" in ${g.name}`,
      );
    if (lost[0].peerId === this.me.peerId)
      throw new ApiError(
        'bad_input',
        'member: you cannot repair your own share from this device; ask another member',
      );
    const candidates = requireMetaList(this.store, `candidates:${g.id}`, isCandidate, this.log);
    const pick = input.newcomer
      ? candidates.filter((c) => c.peerId === input.newcomer || c.name === input.newcomer)
      : candidates;
    if (pick.length !== 1)
      throw new ApiError(
        'not_found',
        pick.length
          ? 'several newcomers joined through your invites: say which one with newcomer'
          : `the new device must first join with an invite from you: conclave group invite ${g.name}`,
      );
    const params: CeremonyParams = {
      ceremony: 'repair',
      group: g.id,
      fromEpoch: g.epoch,
      lost: lost[0].peerId,
      newcomer: pick[0],
    };
    return this.requests.createRequest(
      g,
      'repair',
      utf8ToBytes(canonicalJSON(params)),
      input.expiresInSec,
    );
  }

  /**
   * Repair (ZF's repairable threshold scheme): T helpers each split λ_i(r)·s_i into parts for the
   * other helpers, publish commitments to every part, sum what they got and send the sum to the
   * new device, which adds them up into exactly the lost share and checks it against Y_r. Then
   * everyone puts the new identity at the lost member's roster position; nothing else changes.
   */
  async runRepair(
    groupId: string,
    requestId: string,
    session: string,
    helperPeers: string[],
    p: Extract<CeremonyParams, { ceremony: 'repair' }>,
  ): Promise<void> {
    // A repair runs once per request. Its state is memory only: one this node was in the middle
    // of when it stopped ("signing" here, but no longer running) cannot be resumed, and one that
    // ended (the others failed it, or the lost member was replaced already) must not start again
    // when a restarted member proposes a new session of it. The group proposes a new repair.
    const r = this.store.requests.get(requestId);
    const lost = this.store.members.get(groupId, p.lost);
    if (r?.status !== 'pending' || !lost) {
      const why = lost ? `it is ${r?.status ?? 'unknown'} here` : 'the lost member was replaced';
      this.log(`repair ${requestId} not started again: ${why}`);
      if (r?.status === 'signing')
        this.requests.finish(
          requestId,
          {
            status: 'failed',
            failure: 'repair failed: this node stopped during the repair; it can be proposed again',
          },
          'request.failed',
          { id: requestId, failure: 'this node stopped during the repair' },
        );
      return;
    }
    this.ceremony.ceremonies.add(requestId);
    const g = this.store.groups.get(groupId)!;
    const suite = getSuite(g.scheme);
    const members = this.store.members.list(groupId);
    const lostIndex = BigInt(lost.index);
    const helpers = helperPeers.map((peer) => ({
      peerId: peer,
      index: BigInt(members.find((m) => m.peerId === peer)!.index),
    }));
    const helperIds = helpers.map((h) => h.index);
    const isHelper = helperPeers.includes(this.me.peerId);
    const isNewcomer = p.newcomer.peerId === this.me.peerId;
    const deadline = Date.now() + this.ceremonyTimeoutMs;
    const send = this.ceremony.ceremonySender(groupId, requestId, session, deadline);
    /**
     * For the wait for `step` from `peers`: throws once every one of them that has not sent its
     * message stopped the repair. An 'abort' ends the wait for its sender's messages only: this
     * node still waits for the others' and judges them itself (a lying helper's abort blaming an
     * honest one, reaching the new device before that helper's sum, would otherwise decide the
     * verdict by message order, as in refresh-reshare.ts checkStep and dkg.ts ReportedFailure).
     * An abort from anyone else (a member that waits for the device too) proves nothing here.
     */
    const stoppedCheck = (step: keyof DkgInbox, peers: readonly string[]) => () => {
      const stopped = this.ceremony.abortedBy.get(session);
      if (!stopped?.size) return;
      const box = this.inboxes.inbox(session)[step];
      const silent = peers.filter((peer) => !box.has(peer));
      if (silent.length && silent.every((peer) => stopped.has(peer)))
        throw new StoppedByOthers(this.ceremony.stoppedBy(groupId, session, silent));
    };
    // One message of `step` from each of `peers`; on the deadline the failure names who is missing
    // (those of them that stopped the repair quoted instead, as their word).
    // `n`: how many messages the inbox must hold (others than `peers`' may be in it).
    const awaitFrom = async (step: keyof DkgInbox, peers: string[], n: number) => {
      try {
        return await this.inboxes.awaitInbox(session, step, n, deadline, stoppedCheck(step, peers));
      } catch (e) {
        if (this.stopped || e instanceof StoppedByOthers) throw e;
        const box = this.inboxes.inbox(session)[step];
        const missing = peers.filter((peer) => !box.has(peer));
        if (!missing.length) throw e;
        const stopped = this.ceremony.abortedBy.get(session);
        const silent = missing.filter((peer) => !stopped?.has(peer));
        const what = {
          round1: 'send its commitments',
          echo: 'send its parts',
          round2: 'send its part of the share',
          done: 'confirm that it holds the share',
        }[step];
        const names = silent.map((peer) => this.ceremony.participantName(groupId, peer)).join(', ');
        const said = this.ceremony.stoppedBy(groupId, session, missing);
        const reason = [silent.length ? `${names} did not ${what} in time` : '', said ?? '']
          .filter(Boolean)
          .join('; ');
        throw new Error(reason || (e as Error).message, { cause: e });
      }
    };
    /**
     * One message of `step` from each of `peers`, each decoded by `decode` (which throws a
     * ProtocolError for a payload it refuses). Every payload is hostile until decoded: a refused
     * one is counted and ends the repair naming its sender; one from a peer that is not among
     * `peers` (any member or pending newcomer can put one in this session's inbox) is dropped and
     * counted, and does not stand in for a participant's.
     */
    const collect = async <T>(
      step: keyof DkgInbox,
      peers: string[],
      what: string,
      decode: (raw: unknown, peer: string) => T,
    ): Promise<Map<string, T>> => {
      const taken = new Map<string, T>();
      const seen = new Set<string>();
      const take = (box: Map<string, unknown>) => {
        for (const [peer, raw] of box) {
          if (seen.has(peer)) continue;
          seen.add(peer);
          if (!peers.includes(peer)) {
            this.count(
              'not_participant',
              `repair ${logSafe(requestId, 80)} ${step} from ${short(peer)}`,
            );
            continue;
          }
          try {
            taken.set(peer, decode(raw, peer));
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
            throw refuse('malformed', peer, what, e.message);
          }
        }
      };
      while (taken.size < peers.length) {
        let box: Map<string, unknown>;
        try {
          box = await awaitFrom(step, peers, seen.size + peers.length - taken.size);
        } catch (e) {
          // The stoppers' messages will not come: the others' in hand are still judged.
          if (e instanceof StoppedByOthers) take(this.inboxes.inbox(session)[step]);
          throw e;
        }
        take(box);
      }
      return taken;
    };
    /** Counts `peer`'s refused payload and gives the error that ends the repair naming it. */
    const refuse = (counter: string, peer: string, what: string, why: string) => {
      const reason = why.slice(0, 200);
      this.count(
        counter,
        `repair ${logSafe(requestId, 80)} ${what} from ${short(peer)}: ${logSafe(reason, 200)}`,
      );
      return new RefusedPayload(
        `${this.ceremony.participantName(groupId, peer)} sent ${what} that cannot be used (${reason})`,
      );
    };
    this.requests.updateRequest(requestId, { status: 'signing', updatedAt: Date.now() });
    this.notify(requestId);
    try {
      if (!isNewcomer) await this.host.addAddresses(p.newcomer.peerId, p.newcomer.addrs);
      // A damaged package fails the ceremony with a reason naming it (not a raw JSON error).
      const pub =
        this.publicPackage(groupId) ??
        requireMetaPackage(this.store, `newcomer-package:${groupId}`);
      if (!pub) throw new Error('this node does not know the key package');
      const byIndex = (i: bigint) => helpers.find((h) => h.index === i)!.peerId;
      const indexOf = (peer: string) => helpers.find((h) => h.peerId === peer)!.index;
      // Every helper's commitments with its identity-key signature (refused, naming the helper,
      // without one): passed on with the sums, they show the new device who showed whom what.
      const views = new Map<bigint, RepairView>();
      const commitmentsFrom = async (): Promise<Map<bigint, Map<bigint, GroupPoint>>> => {
        // Each signature is checked as its commitments are taken, so one in hand is judged even
        // when another helper stopped the repair and its commitments never come.
        const got = await collect(
          'round1',
          helperPeers.filter((h) => h !== this.me.peerId),
          'commitments',
          (raw, peer) => {
            const c = decodeRepairCommitments(raw, g.scheme, helperIds, indexOf(peer));
            const m = members.find((x) => x.peerId === peer)!;
            const i = BigInt(m.index);
            if (
              !repairCommitmentsSignedBy(
                suite,
                session,
                i,
                c.commitments,
                c.signature,
                hexToBytes(m.identityKey),
                verifyEd25519,
              )
            )
              throw new CryptoError('bad_input', 'repair commitments not signed by their helper', [
                identifierHex(suite, i),
              ]);
            return c;
          },
        );
        const all = new Map<bigint, Map<bigint, GroupPoint>>();
        for (const [peer, { commitments: points, signature }] of got) {
          const i = indexOf(peer);
          all.set(i, points);
          views.set(i, { commitments: points, signature });
        }
        return all;
      };
      if (isHelper) {
        const key = await this.keyPackage(groupId);
        const step1 = repairStep1(key, helperIds, lostIndex);
        const myCommitments: Record<string, string> = {};
        for (const [j, pt] of step1.commitments)
          myCommitments[identifierHex(suite, j)] = bytesToHex(suite.encodePoint(pt));
        const from = identifierHex(suite, key.share.identifier);
        const signature = bytesToHex(
          this.me.sign(
            repairCommitmentsSigningBytes(suite, session, key.share.identifier, step1.commitments),
          ),
        );
        // A send that fails (the peer went away as it got the message) does not stop this
        // helper: its own part still goes to the new device, so a failure names only who is
        // missing, as the rounds below find out.
        const sent = await Promise.allSettled([
          ...[...helperPeers.filter((h) => h !== this.me.peerId), p.newcomer.peerId].map((peer) =>
            send(peer, 'round1', { from, commitments: myCommitments, signature }),
          ),
          ...[...step1.parts]
            .filter(([j]) => j !== key.share.identifier)
            .map(([j, part]) => send(byIndex(j), 'echo', { ...part.toWire(suite) })),
        ]);
        for (const r of sent)
          if (r.status === 'rejected')
            this.log(
              `repair ${requestId}: a message was not acknowledged: ${logSafe((r.reason as Error)?.message ?? r.reason, 200)}`,
            );
        const all = await commitmentsFrom();
        all.set(key.share.identifier, new Map(step1.commitments));
        views.set(key.share.identifier, { commitments: step1.commitments, signature });
        const parts = await collect(
          'echo',
          helperPeers.filter((h) => h !== this.me.peerId),
          'a part',
          (raw, peer) => decodeRepairPart(raw, g.scheme, indexOf(peer), key.share.identifier),
        );
        // Test-only: this helper goes away with everything received, before its sum is sent.
        if (this.fault === 'exit-mid-ceremony') process.exit(3);
        crashPoint('repair-mid');
        const received = [step1.parts.get(key.share.identifier)!, ...parts.values()];
        const sigma = repairStep2(pub, helperIds, lostIndex, key.share.identifier, received, all);
        await send(p.newcomer.peerId, 'round2', {
          ...sigma.toWire(suite),
          views: repairViewsToWire(suite, views),
        });
      }
      if (isNewcomer) {
        const all = await commitmentsFrom();
        const sums = await collect('round2', helperPeers, 'its sum', (raw, peer) =>
          decodeRepairSum(raw, g.scheme, helperIds, indexOf(peer), lostIndex),
        );
        const sigmas = [...sums.values()].map((s) => s.sum);
        // Each helper's view of the signed commitments: a sum that looks wrong because another
        // helper showed this device other commitments names that helper, not the sender.
        const helperViews = new Map([...sums].map(([peer, s]) => [indexOf(peer), s.views]));
        const share = repairStep3(pub, helperIds, lostIndex, sigmas, all, {
          session,
          helperKey: (i) => {
            const m = members.find((x) => BigInt(x.index) === i);
            return m ? hexToBytes(m.identityKey) : undefined;
          },
          views: helperViews,
          verify: verifyEd25519,
        });
        const key: KeyPackage = { public: pub, share };
        await this.vault.put(shareName(groupId, share.epoch), share.toBytes());
        // Prove to every member that this device holds the share of that position. The proof is
        // kept: a member that misses it gets it again whenever it connects (see onConnect).
        const proof = bytesToHex(
          proveKnowledge(
            suite,
            lostIndex,
            share.scalar(),
            pub.verifyingShares.get(lostIndex)!,
            repairContext(requestId),
          ),
        );
        // With the session: a member still waiting in this ceremony takes the proof resent after a
        // restart (sync.ts onConnect) in it; one that gave up takes it as a late proof.
        const record: RepairDone = { requestId, proof, session };
        this.store.meta.set(repairDoneKey(groupId), JSON.stringify(record));
        this.applyRepair(groupId, requestId, p);
        this.keys.set(groupId, key);
        this.groups.updateGroup(groupId, {
          status: 'ready',
          publicPackage: JSON.stringify(publicPackageToJSON(pub)),
          epoch: pub.epoch,
          error: undefined,
          updatedAt: Date.now(),
        });
        this.store.meta.set(`newcomer:${groupId}`, '');
        this.store.meta.set(`newcomer-package:${groupId}`, '');
        this.emit({ type: 'group', id: groupId });
        crashPoint('repair-committed');
        const tell = members.filter((m) => m.peerId !== this.me.peerId && m.peerId !== p.lost);
        if (this.fault === 'exit-after-done') {
          // Test-only: one member hears "done", then this device is gone.
          if (tell[0]) await send(tell[0].peerId, 'done', { proof });
          process.exit(3);
        }
        for (const m of tell) void send(m.peerId, 'done', { proof }).catch(() => undefined);
        for (const m of this.store.members.list(groupId))
          if (m.peerId !== this.me.peerId && this.host.isConnected(m.peerId))
            void this.signing.sendNonces(groupId, m.peerId, true).catch(() => undefined);
        return;
      }
      // Every other member: switch the roster once the new device proves it holds the share.
      const dones = await collect('done', [p.newcomer.peerId], 'a proof', (raw) =>
        decodeRepairDone(raw, g.scheme),
      );
      try {
        verifyKnowledge(
          suite,
          lostIndex,
          pub.verifyingShares.get(lostIndex)!,
          dones.get(p.newcomer.peerId)!,
          repairContext(requestId),
        );
      } catch (e) {
        if (!(e instanceof CryptoError)) throw e;
        // The proof's sender is the new device, not the lost member whose position it proves.
        throw refuse('bad_proof', p.newcomer.peerId, 'a proof', 'it does not verify');
      }
      this.applyRepair(groupId, requestId, p);
    } catch (e) {
      // A node that is stopping: its store may be closed already (writing to it threw, uncaught);
      // the request is closed at the next start (custodian.ts).
      if (this.stopped) return;
      const refused = e instanceof RefusedPayload;
      const caught = refused || (e instanceof CryptoError && e.culprits.length > 0);
      const reason =
        e instanceof CryptoError && caught
          ? `${e.code}: ${e.culprits.map((c) => this.groups.nameOfIdentifier(groupId, c)).join(', ')} misbehaved`
          : (e as Error).message;
      this.log(`repair in ${logSafe(g.name)} failed: ${reason}`);
      // A repair keeps the epoch, so the share name is the group's, not this request's: a round
      // can end long after its deadline, when this request already failed here from another
      // member's word and a retry (another request) committed its share on this device since.
      // That share stays (it was deleted, and the repaired device lost its share).
      // Unreadable: no other repair is known to have committed.
      const committedBy = readMetaValue(
        this.store,
        repairDoneKey(groupId),
        isRepairDone,
        this.log,
      )?.requestId;
      if (isNewcomer && (committedBy === undefined || committedBy === requestId))
        await this.vault.delete(shareName(groupId, g.epoch)).catch(() => undefined);
      // The others hear that this participant stopped, and why: an abort ends their wait for this
      // participant's messages only (stoppedCheck), so without it they would wait out the
      // deadline and name it as missing. A helper it caught misbehaving is named to them.
      for (const m of [...members.filter((x) => x.peerId !== p.lost), p.newcomer])
        if (m.peerId !== this.me.peerId)
          this.send(m.peerId, abortMessage(groupId, requestId, session, reason)).catch(
            () => undefined,
          );
      // Should the new device have finished after all, its proof still switches this member: a
      // failed repair's device stays welcome to prove it (see awaitLateProofs).
      this.requests.finish(
        requestId,
        { status: 'failed', failure: `repair failed: ${reason}; it can be proposed again` },
        'request.failed',
        { id: requestId, failure: reason },
      );
    } finally {
      this.inboxes.drop(session);
      this.ceremony.ceremonies.delete(requestId);
    }
  }

  /**
   * A repaired device's proof that reached this member after its repair had ended here (it missed
   * it, or restarted): the device does hold the lost member's share, so the roster switches too.
   * The proof is bound to the approved request (repairContext) and to the lost member's verifying
   * share: only a device that holds that share can make it, so no device can force a switch.
   */
  lateRepairDone(from: string, g: GroupRow, r: RequestRow, payload: unknown): unknown {
    if (r.status === 'done') return { ok: true };
    const p = this.repairParams(r);
    if (!p) throw new DroppedMessage('wrong_state');
    if (from !== p.newcomer.peerId) throw new DroppedMessage('not_newcomer');
    const lost = this.store.members.get(g.id, p.lost);
    // Only current members' approvals count (issue 9 finding 6).
    const approvals = this.requests.approversOf(r);
    if (!lost || g.epoch !== p.fromEpoch || approvals.length < this.requests.needed(r))
      throw new DroppedMessage('wrong_state');
    // A repair that failed here is awaited only for a while and a few bad proofs (awaitedRepair).
    const awaited = r.status === 'failed' ? this.awaitedRepair(g, r.id) : undefined;
    if (r.status === 'failed' && !awaited) throw new DroppedMessage('repair_given_up');
    let proof: Uint8Array;
    try {
      proof = decodeRepairDone(payload, g.scheme);
    } catch (e) {
      if (e instanceof ProtocolError) throw new DroppedMessage('malformed');
      throw e;
    }
    // A damaged stored package (read as none, logged once) is this node's fault: the proof is
    // dropped, not counted against the device as a bad one.
    const pub = this.publicPackage(g.id);
    if (!pub) throw new DroppedMessage('wrong_state');
    try {
      verifyKnowledge(
        getSuite(g.scheme),
        BigInt(lost.index),
        pub.verifyingShares.get(BigInt(lost.index))!,
        proof,
        repairContext(r.id),
      );
    } catch {
      if (awaited) this.setAwaited(g.id, r.id, { ...awaited, bad: awaited.bad + 1 });
      throw new DroppedMessage('bad_proof');
    }
    this.log(
      `repair ${r.id}: ${logSafe(p.newcomer.name)} proved it holds the share; switching the roster`,
    );
    this.setAwaited(g.id, r.id, undefined);
    this.applyRepair(g.id, r.id, p);
    return { ok: true };
  }

  /**
   * The new device of a repair that failed here, whose late proof is still welcome: the
   * connection gate lets it in (custodian.ts), and it may only ask how a ceremony ended or prove
   * a repair finished (onGroupMessage).
   */
  isAwaitedNewcomer(peer: string): boolean {
    return this.store.groups
      .list()
      .some((g) =>
        this.awaitedList(g.id).some(
          (a) => a.newcomer === peer && this.awaitedRepair(g, a.requestId) !== undefined,
        ),
      );
  }

  /**
   * A repair that failed here (whether its own run failed, this node stopped during it, or another
   * participant reported the failure) may still have given its new device the share: a helper's
   * sum can reach it after this member gave up, or the device committed its share and stopped
   * before anyone heard its proof. Its device stays welcome to prove it, so no member keeps the
   * lost member while the device holds its share (a split roster).
   */
  private awaitLateProofs(requestId: string): void {
    const r = this.store.requests.get(requestId);
    if (r?.kind !== 'repair' || r.status !== 'failed') return;
    const g = this.store.groups.get(r.groupId);
    if (!g || this.awaitedList(g.id).some((a) => a.requestId === r.id)) return;
    if (Date.now() - r.updatedAt > LATE_PROOF_MS) return;
    const p = this.repairParams(r);
    if (!p || p.newcomer.peerId === this.me.peerId) return;
    this.setAwaited(g.id, r.id, {
      requestId: r.id,
      newcomer: p.newcomer.peerId,
      failedAt: r.updatedAt,
      bad: 0,
    });
  }

  /**
   * The awaited repair `requestId` of `g`, while its device may still prove it: within
   * LATE_PROOF_MS of the failure, fewer than LATE_PROOF_TRIES bad proofs, and nothing since made
   * the proof meaningless (the group moved to another epoch or the lost member was replaced).
   */
  private awaitedRepair(g: GroupRow, requestId: string): AwaitedRepair | undefined {
    const a = this.awaitedList(g.id).find((x) => x.requestId === requestId);
    if (!a || Date.now() - a.failedAt > LATE_PROOF_MS || a.bad >= LATE_PROOF_TRIES)
      return undefined;
    const r = this.store.requests.get(requestId);
    if (r?.kind !== 'repair' || r.groupId !== g.id || r.status !== 'failed') return undefined;
    const p = this.repairParams(r);
    if (
      !p ||
      p.newcomer.peerId !== a.newcomer ||
      g.status !== 'ready' ||
      g.epoch !== p.fromEpoch ||
      !this.store.members.get(g.id, p.lost)
    )
      return undefined;
    return a;
  }

  /**
   * A repair request's parameters, or undefined once they no longer read (they are checked against
   * the group as it is now: a lost member replaced since is no member any more).
   */
  private repairParams(r: RequestRow): Extract<CeremonyParams, { ceremony: 'repair' }> | undefined {
    try {
      const p = this.ceremony.ceremonyParams(r);
      return p.ceremony === 'repair' ? p : undefined;
    } catch {
      return undefined;
    }
  }

  private awaitedList(groupId: string): AwaitedRepair[] {
    // An older node kept one { requestId, newcomer } here: it is no longer awaited.
    return readMetaList(
      this.store,
      `repair-awaiting:${groupId}`,
      (a): a is AwaitedRepair =>
        typeof a === 'object' &&
        a !== null &&
        typeof (a as AwaitedRepair).requestId === 'string' &&
        typeof (a as AwaitedRepair).newcomer === 'string' &&
        typeof (a as AwaitedRepair).failedAt === 'number' &&
        typeof (a as AwaitedRepair).bad === 'number',
    );
  }

  /**
   * Replaces (or with `a` undefined, drops) one awaited repair, and those past LATE_PROOF_MS; keeps
   * the newest few. One given up for bad proofs stays listed until then, so that it is not taken
   * up again (awaitLateProofs).
   */
  private setAwaited(groupId: string, requestId: string, a: AwaitedRepair | undefined): void {
    const list = this.awaitedList(groupId).filter(
      (x) => x.requestId !== requestId && Date.now() - x.failedAt <= LATE_PROOF_MS,
    );
    if (a) list.push(a);
    this.store.meta.set(
      `repair-awaiting:${groupId}`,
      list.length ? JSON.stringify(list.slice(-LATE_PROOF_MAX)) : '',
    );
  }

  /** The new identity takes the lost member's roster position (same index, same share). */
  private applyRepair(
    groupId: string,
    requestId: string,
    p: Extract<CeremonyParams, { ceremony: 'repair' }>,
  ): void {
    const lost = this.store.members.get(groupId, p.lost);
    const key = publicKeyFromPeerId(p.newcomer.peerId);
    this.store.tx(() => {
      if (lost) this.groups.deleteMember(groupId, p.lost);
      this.groups.upsertMember({
        groupId,
        peerId: p.newcomer.peerId,
        name: p.newcomer.name,
        identityKey: bytesToHex(key),
        fingerprint: fingerprint(key),
        index: lost?.index ?? this.store.members.get(groupId, p.newcomer.peerId)!.index,
        addrs: p.newcomer.peerId === this.me.peerId ? this.host.addrs() : p.newcomer.addrs,
        confirmed: true,
        joinedAt: Date.now(),
      });
      this.requests.updateRequest(requestId, { status: 'done', updatedAt: Date.now() });
      this.audit(
        'group.repaired',
        { requestId, lost: p.lost, replacedBy: p.newcomer.peerId },
        groupId,
      );
      const candidates = readMetaList(this.store, `candidates:${groupId}`, isCandidate, this.log);
      this.store.meta.set(
        `candidates:${groupId}`,
        JSON.stringify(candidates.filter((c) => c.peerId !== p.newcomer.peerId)),
      );
    });
    this.signing.forgetSigner(groupId, p.lost);
    this.signing.applyEarlyNonces(groupId);
    this.auditLog.syncAuditWithAll(groupId);
    if (p.newcomer.peerId !== this.me.peerId && this.store.groups.get(groupId)?.status === 'ready')
      void this.signing.sendNonces(groupId, p.newcomer.peerId, true).catch(() => undefined);
    this.notify(requestId);
    this.emit({ type: 'group', id: groupId });
  }
}
