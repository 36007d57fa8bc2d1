// What refresh, reshare and repair share: parameters, planned roster, pre-flight, start and the
// ceremony messages.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { bytesToHex } from '@noble/hashes/utils.js';
import { getSuite, identifierHex } from '../../../shared/crypto/suite.js';
import { BoundedMap } from '../../../shared/protocol/bounded.js';
import {
  abortReason,
  decodeAbort,
  decodeReconstructDone,
} from '../../../shared/protocol/ceremony-payload.js';
import { logSafe } from '../../../shared/protocol/text.js';
import {
  opOfKind,
  readRequest,
  RequestParamError,
  type ReconstructParams,
} from '../../../shared/requests/index.js';
import { ProtocolError, type Signed, type CeremonyMessage } from '../../../shared/protocol/wire.js';
import { NetError, publicKeyFromPeerId } from '../../net/index.js';
import type { GroupRow, RequestRow } from '../../store/index.js';
import {
  TERMINAL,
  decodeSignedSafe,
  DroppedMessage,
  parseStoredSigned,
  short,
  type PlannedMember,
  type CeremonyParams,
} from '../common.js';
import { type NodeServices, type NodeContext, NodeService } from '../context.js';
import { StoreMemo } from '../membership.js';

/**
 * The message that stops a ceremony's session on the other participants, with this participant's
 * reason (its own word: the receiver shows who sent it), cut to what the receivers accept.
 */
export function abortMessage(
  groupId: string,
  requestId: string,
  session: string,
  reason: string,
): CeremonyMessage {
  return {
    v: 1,
    type: 'ceremony',
    groupId,
    requestId,
    session,
    step: 'abort',
    payload: { reason: abortReason(reason) },
  };
}

/** `payload` decoded by `decode`; a payload it refuses is dropped (and counted) as malformed. */
function decoded<T>(decode: (v: unknown) => T, payload: unknown): T {
  try {
    return decode(payload);
  } catch (e) {
    if (e instanceof ProtocolError) throw new DroppedMessage('malformed');
    throw e;
  }
}

/** Sessions remembered as aborted at most (each map), and for how long. */
export const ABORT_MAP_BOUNDS = { maxSize: 256, ttlMs: 60 * 60_000 } as const;

function abortMap<V>(ctx: NodeContext, name: string): BoundedMap<string, V> {
  const map = new BoundedMap<string, V>({
    ...ABORT_MAP_BOUNDS,
    onEvict: (session, _v, reason) =>
      ctx.count(`${name}_${reason}`, `session ${logSafe(session, 80)}`),
  });
  ctx.trackBuffer(name, map);
  return map;
}

export class CeremonyService extends NodeService {
  /** Ceremonies this node takes part in right now (by request id). */
  ceremonies = new Set<string>();
  /**
   * Sessions this node answered 'aborted' for (settle.ts ceremonyAnswer): it never runs them.
   * Bounded and timed like abortedBy: an hour is far beyond any ceremony's deadline.
   */
  readonly aborted = abortMap<true>(this.ctx, 'aborted');
  /**
   * Sessions' 'abort' messages: by sender, its reason (its first). Its sender's word only: it ends
   * the wait for that sender's messages (refresh-reshare.ts), and a new member's counts as its
   * answer that it will never hold the new epoch (settle.ts), but it proves nothing about anyone
   * else. Any participant can send one for a session that does not exist here (yet), so it is
   * bounded and timed.
   */
  readonly abortedBy = abortMap<Map<string, string>>(this.ctx, 'abortedBy');
  /** Ceremony sessions this node is running now (answers 'working' when asked). */
  runningSessions = new Set<string>();

  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<
      NodeServices,
      'groups' | 'inboxes' | 'reconstruct' | 'repair' | 'requests' | 'reshare' | 'settle'
    >,
  ) {
    super(ctx);
  }

  private get groups() {
    return this.deps.groups;
  }
  private get inboxes() {
    return this.deps.inboxes;
  }
  private get reconstruct() {
    return this.deps.reconstruct;
  }
  private get repair() {
    return this.deps.repair;
  }
  private get requests() {
    return this.deps.requests;
  }
  private get reshare() {
    return this.deps.reshare;
  }
  private get settle() {
    return this.deps.settle;
  }

  /**
   * The parameters of a ceremony request (canonical JSON in its message), read through the
   * request-kind registry: anything else throws a RequestParamError naming the field, never a bare
   * JSON error (callers on timers catch it).
   */
  ceremonyParams(r: RequestRow): CeremonyParams {
    if (r.kind !== 'refresh' && r.kind !== 'reshare' && r.kind !== 'repair')
      throw new RequestParamError(
        'bad_request',
        'kind',
        `kind: request ${r.id} is a ${r.kind} request, not a refresh, reshare or repair`,
      );
    return readRequest(r.kind, r.message, this.requests.contextOf(r));
  }

  /** The roster after a ceremony: kept members keep their index, newcomers get the next ones. */
  plannedRoster(g: GroupRow, p: CeremonyParams): PlannedMember[] {
    if (p.ceremony === 'repair')
      return this.store.members.list(g.id).map((m) =>
        m.peerId === p.lost
          ? {
              peerId: p.newcomer.peerId,
              name: p.newcomer.name,
              index: m.index,
              identityKey: bytesToHex(publicKeyFromPeerId(p.newcomer.peerId)),
              addrs: p.newcomer.addrs,
            }
          : {
              peerId: m.peerId,
              name: m.name,
              index: m.index,
              identityKey: m.identityKey,
              addrs: m.addrs,
            },
      );
    const kept = this.store.members
      .list(g.id)
      .filter((m) => !(p.ceremony === 'reshare' && p.remove.includes(m.peerId)))
      .map((m) => ({
        peerId: m.peerId,
        name: m.name,
        index: m.index,
        identityKey: m.identityKey,
        addrs: m.addrs,
      }));
    if (p.ceremony === 'refresh') return kept;
    let next = Math.max(0, ...this.store.members.list(g.id).map((m) => m.index)) + 1;
    for (const a of p.add)
      kept.push({
        peerId: a.peerId,
        name: a.name,
        index: next++,
        identityKey: bytesToHex(publicKeyFromPeerId(a.peerId)),
        addrs: a.addrs,
      });
    return kept;
  }

  /** Who must be online for the coordinator to start: dealers (old members) and every new member. */
  ceremonyPlan(r: RequestRow): { dealers: string[]; missing: string[] } {
    const g = this.store.groups.get(r.groupId)!;
    const p = this.ceremonyParams(r);
    const online = (peer: string) => peer === this.me.peerId || this.host.isConnected(peer);
    const old = this.store.members.list(g.id).sort((a, b) => a.index - b.index);
    const recipients = this.plannedRoster(g, p);
    const missing = recipients.filter((m) => !online(m.peerId)).map((m) => m.name);
    let dealers: string[];
    if (p.ceremony === 'repair') {
      // T helpers who are online; the lost member is not one of them.
      const helpers = old.filter((m) => m.peerId !== p.lost && online(m.peerId));
      dealers = helpers.slice(0, g.threshold).map((m) => m.peerId);
      const newcomerOnline = online(p.newcomer.peerId);
      const need: string[] = newcomerOnline ? [] : [p.newcomer.name];
      if (dealers.length < g.threshold)
        need.push(
          ...old
            .filter((m) => m.peerId !== p.lost && !online(m.peerId))
            .map((m) => m.name)
            .slice(0, g.threshold - dealers.length),
        );
      return { dealers, missing: need };
    } else if (p.ceremony === 'refresh') dealers = old.map((m) => m.peerId);
    else {
      // Prefer members who stay; removed ones deal only when too few others are online.
      const staying = old.filter((m) => !p.remove.includes(m.peerId) && online(m.peerId));
      const leaving = old.filter((m) => p.remove.includes(m.peerId) && online(m.peerId));
      dealers = [...staying, ...leaving]
        .slice(0, Math.max(g.threshold, staying.length))
        .map((m) => m.peerId);
      if (dealers.length < g.threshold) {
        const offline = old.filter((m) => !online(m.peerId)).map((m) => m.name);
        missing.push(...offline.slice(0, g.threshold - dealers.length));
      }
    }
    if (p.ceremony === 'refresh')
      for (const m of old) if (!online(m.peerId) && !missing.includes(m.name)) missing.push(m.name);
    return { dealers, missing: [...new Set(missing)] };
  }

  /** The coordinator starts the ceremony once everyone it needs is online (pre-flight check). */
  async startCeremony(id: string): Promise<void> {
    const r = this.store.requests.get(id)!;
    const g = this.store.groups.get(r.groupId)!;
    if (this.ceremonies.has(id)) return;
    const fromEpoch = this.ceremonyParams(r).fromEpoch;
    if (fromEpoch !== g.epoch) {
      this.requests.finish(
        id,
        {
          status: 'failed',
          failure: `${r.kind} failed: it was proposed for epoch ${fromEpoch}, and another ceremony has moved the group to epoch ${g.epoch} since; propose it again if it is still wanted`,
        },
        'request.failed',
        { id, failure: 'stale epoch' },
      );
      this.requests.announceOutcome(id);
      return;
    }
    // One ceremony per group at a time; this one starts when the other has ended.
    const other = this.ceremonyUnderWay(g.id, id);
    if (other) {
      this.log(`${r.kind} ${id} waits for ${other} to end`);
      return;
    }
    const { dealers, missing } = this.ceremonyPlan(r);
    if (missing.length) {
      this.log(`${r.kind} ${id} waits for ${missing.join(', ')} to come online`);
      return;
    }
    if (this.ceremonies.has(id)) return;
    const session = bytesToHex(nodeRandomBytes(32));
    // Stored statements are checked again: an unreadable approval is left out (the members check
    // the approvals they get), an unreadable request stops this start with its id.
    const approvals = this.store.decisions
      .list(id)
      .filter((d) => d.decision === 'approve')
      .map((d) => parseStoredSigned(d.statement))
      .filter((s): s is Signed => s !== undefined);
    const request = parseStoredSigned(r.envelope);
    if (!request) throw new Error(`the stored envelope of request ${id} is unreadable`);
    const payload = { request, approvals, dealers };
    const participants = new Set([
      ...this.store.members.list(g.id).map((m) => m.peerId),
      ...this.plannedRoster(g, this.ceremonyParams(r)).map((m) => m.peerId),
    ]);
    for (const peer of participants)
      if (peer !== this.me.peerId)
        this.send(peer, {
          v: 1,
          type: 'ceremony',
          groupId: g.id,
          requestId: id,
          session,
          step: 'start',
          payload,
        }).catch((e) =>
          this.log(
            `${r.kind} start to ${this.memberName(g.id, peer)} failed: ${(e as Error).message}`,
          ),
        );
    await this.reshare.runCeremony(g.id, id, session, dealers);
  }

  onCeremony(from: string, msg: CeremonyMessage): unknown {
    const g = this.store.groups.get(msg.groupId);
    if (!g) throw new DroppedMessage('non_member');
    if (msg.step === 'status') {
      const r = this.store.requests.get(msg.requestId);
      if (!r || r.groupId !== g.id || (r.kind !== 'refresh' && r.kind !== 'reshare'))
        throw new DroppedMessage('unknown_request');
      const p = this.settle.pendingCeremony(g.id);
      const asker =
        this.memberByPeer(g.id, from) ||
        this.groups.isFormerMember(g.id, from) ||
        this.newcomerInPendingRequest(g.id, from) ||
        p?.roster.some((m) => m.peerId === from);
      if (!asker) throw new DroppedMessage('non_member');
      return this.settle.ceremonyAnswer(g.id, msg.requestId, msg.session);
    }
    if (msg.step === 'done') {
      const rq = this.store.requests.get(msg.requestId);
      if (rq?.kind === 'repair' && rq.groupId === g.id && !this.ceremonies.has(rq.id))
        return this.repair.lateRepairDone(from, g, rq, msg.payload);
    }
    const m = this.memberByPeer(g.id, from) ?? this.newcomerInPendingRequest(g.id, from);
    if (!m) throw new DroppedMessage('non_member');
    if (msg.step === 'start') {
      if (!this.memberByPeer(g.id, from)) throw new DroppedMessage('non_member');
      const p = msg.payload as { request?: unknown; approvals?: unknown; dealers?: unknown };
      if (p.request) this.requests.acceptStatement(from, decodeSignedSafe(p.request));
      const r = this.store.requests.get(msg.requestId);
      if (!r || opOfKind(r.kind) !== 'ceremony' || r.groupId !== g.id)
        throw new DroppedMessage('unknown_request');
      // A request that ended here is never started again, e.g. by a coordinator that stopped in
      // the middle and, restarted, still calls it "signing": the group proposes a new one.
      if (TERMINAL.includes(r.status)) throw new DroppedMessage('request_ended');
      if (Array.isArray(p.approvals))
        for (const a of p.approvals.slice(0, 64))
          this.requests.acceptStatement(from, decodeSignedSafe(a));
      // Only current members' approvals count (issue 9 finding 6).
      const approvers = new Set(this.requests.approversOf(r));
      if (approvers.size < this.requests.needed(r)) throw new DroppedMessage('not_approved');
      if (this.ceremonyParams(r).fromEpoch !== g.epoch) throw new DroppedMessage('wrong_epoch');
      if (this.ceremonyUnderWay(g.id, r.id)) throw new DroppedMessage('ceremony_under_way');
      const dealers = Array.isArray(p.dealers)
        ? p.dealers.filter((x): x is string => typeof x === 'string')
        : [];
      if (dealers.length < g.threshold || dealers.some((d) => !this.memberByPeer(g.id, d)))
        throw new DroppedMessage('bad_dealers');
      void this.reshare.runCeremony(g.id, r.id, msg.session, dealers);
      return { ok: true };
    }
    if (msg.step === 'abort') {
      const { reason } = decoded(decodeAbort, msg.payload);
      const by = this.abortedBy.get(msg.session) ?? new Map<string, string>();
      if (!by.has(from)) by.set(from, reason);
      this.abortedBy.set(msg.session, by);
      // A round waiting on this session sees the stop now (tests may build this without inboxes).
      this.inboxes?.wake(msg.session);
      return { ok: true };
    }
    const rr = this.store.requests.get(msg.requestId);
    if (rr?.kind === 'reconstruct' && msg.step === 'done') {
      let p: ReconstructParams;
      try {
        p = readRequest('reconstruct', rr.message, this.requests.contextOf(rr));
      } catch {
        throw new DroppedMessage('unreadable_request');
      }
      if (from !== p.requester) throw new DroppedMessage('not_requester');
      const { exposed } = decoded(decodeReconstructDone, msg.payload);
      if (rr.status !== 'done') this.reconstruct.markExposed(g.id, rr.id, exposed);
      return { ok: true };
    }
    // Round messages: the claimed dealer must be the authenticated peer's roster position.
    if (msg.step !== 'done') {
      const claimed = (msg.payload as { from?: unknown }).from;
      if (claimed !== identifierHex(getSuite(g.scheme), BigInt(m.index)))
        throw new DroppedMessage('spoofed_sender');
    }
    const box = this.inboxes.inbox(msg.session, g.id)[msg.step];
    if (!box.has(from)) box.set(from, msg.payload);
    return { ok: true };
  }

  /**
   * Per group on this node, the planned roster positions of its pending reshares and repairs (the
   * first request naming a peer wins), filled a group at a time at the first question and dropped
   * after any write to the groups, members, meta or requests (Store.version): a message from a
   * peer that is not a member does not list the requests and read the roster again every time.
   */
  private readonly pendingRosters = new StoreMemo(
    this.store,
    ['meta', 'groups', 'members', 'requests'],
    () => new Map<string, ReadonlyMap<string, Readonly<PlannedMember>>>(),
  );

  /** A newcomer named by a pending reshare of this group, with its planned roster position. */
  newcomerInPendingRequest(
    groupId: string,
    peer: string,
  ): { index: number; name: string } | undefined {
    const known = this.pendingRosters.get();
    let planned = known.get(groupId);
    if (planned === undefined) {
      const g = this.store.groups.get(groupId);
      if (!g) return undefined;
      planned = this.readPendingRosters(g);
      // A request whose parameters cannot be read: not kept, read (and thrown) again as before.
      if (planned === undefined) return this.findInPendingRequests(g, peer);
      known.set(groupId, planned);
    }
    return planned.get(peer);
  }

  /** The planned members of every pending reshare or repair of `g`; undefined if one is unreadable. */
  private readPendingRosters(
    g: GroupRow,
  ): ReadonlyMap<string, Readonly<PlannedMember>> | undefined {
    const out = new Map<string, Readonly<PlannedMember>>();
    for (const r of this.store.requests.list({ groupId: g.id, statuses: ['pending', 'signing'] })) {
      if (r.kind !== 'reshare' && r.kind !== 'repair') continue;
      let roster: PlannedMember[];
      try {
        roster = this.plannedRoster(g, this.ceremonyParams(r));
      } catch {
        return undefined;
      }
      for (const m of roster) if (!out.has(m.peerId)) out.set(m.peerId, Object.freeze(m));
    }
    return out;
  }

  private findInPendingRequests(g: GroupRow, peer: string): PlannedMember | undefined {
    for (const r of this.store.requests.list({ groupId: g.id, statuses: ['pending', 'signing'] })) {
      if (r.kind !== 'reshare' && r.kind !== 'repair') continue;
      const planned = this.plannedRoster(g, this.ceremonyParams(r)).find((m) => m.peerId === peer);
      if (planned) return planned;
    }
    return undefined;
  }

  /** Sends one step of a ceremony to a participant, retried until the ceremony's deadline. */
  ceremonySender(groupId: string, requestId: string, session: string, deadline: number) {
    return (peer: string, step: CeremonyMessage['step'], payload: Record<string, unknown>) =>
      this.sendReliably(
        peer,
        { v: 1, type: 'ceremony', groupId, requestId, session, step, payload },
        deadline - Date.now(),
      ).catch((e: unknown) => {
        // The transport's message names a peer id and an address; the request's failure names
        // the participant, so the members know who to ask to come back online.
        const name = this.participantName(groupId, peer);
        if (e instanceof NetError && (e.code === 'unreachable' || e.code === 'timeout'))
          throw new Error(`${name} could not be reached (${e.code})`, { cause: e });
        throw new Error(`${name} did not take the ${step} message: ${(e as Error).message}`, {
          cause: e,
        });
      });
  }

  /**
   * Who stopped `session` among `peers` (every sender when not given), each with its reason quoted
   * as its own word (bob stopped it: "…"), never as this node's finding; undefined if none did.
   */
  stoppedBy(groupId: string, session: string, peers?: readonly string[]): string | undefined {
    const quotes = [...(this.abortedBy.get(session) ?? [])]
      .filter(([peer]) => !peers || peers.includes(peer))
      .map(
        ([peer, why]) => `${this.participantName(groupId, peer)} stopped it: ${logSafe(why, 300)}`,
      );
    return quotes.length ? quotes.join('; ') : undefined;
  }

  /** A member's name, or a pending newcomer's, else a short peer id. */
  participantName(groupId: string, peer: string): string {
    return (
      this.store.members.get(groupId, peer)?.name ??
      this.newcomerInPendingRequest(groupId, peer)?.name ??
      short(peer)
    );
  }

  /** Another ceremony of this group running or unsettled here (its request id), if any. */
  private ceremonyUnderWay(groupId: string, except: string): string | undefined {
    const pending = this.settle.pendingCeremony(groupId)?.requestId;
    if (pending && pending !== except) return pending;
    for (const id of this.ceremonies) {
      const r = id === except ? undefined : this.store.requests.get(id);
      // One that has just ended (its cleanup still to run) no longer counts.
      if (r?.groupId === groupId && !TERMINAL.includes(r.status)) return id;
    }
    return undefined;
  }

  /** After a ceremony ended: approved requests of the group that waited for it may start. */
  evaluateGroup(groupId: string): void {
    for (const r of this.store.requests.list({ groupId, statuses: ['pending'] }))
      if (opOfKind(r.kind) === 'ceremony') this.requests.evaluate(r.id);
  }
}
