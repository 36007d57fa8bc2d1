// Threshold ECDH for an approved request (age decryption, NIP-44): the requester asks T approvers
// for s_i·P with a DLEQ proof, checks every proof, blames a wrong partial and asks another approver,
// and combines s·P. The result stays in the requester's memory, for its own API client only.
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  combineEcdh,
  ecdhPartial,
  ecdhPartialFromJSON,
  ecdhPartialToJSON,
  verifyEcdhPartial,
  type EcdhPartial,
} from '../../shared/crypto/ecdh.js';
import { getSuite } from '../../shared/crypto/suite.js';
import { failedForGood } from '../../shared/protocol/decisions.js';
import { logSafe } from '../../shared/protocol/text.js';
import {
  decodeEcdhAnswer,
  type EcdhMessage,
  type GroupMessage,
} from '../../shared/protocol/wire.js';
import { executionOf, opOfRequest } from '../../shared/requests/index.js';
import type { RequestRow } from '../store/index.js';
import { DroppedMessage, parseStoredSigned, TERMINAL, union } from './common.js';
import { releaseCheck } from './request-policy.js';
import { type NodeContext, type NodeServices, NodeService } from './context.js';

/** How long a combined result waits in memory for the requester's client to fetch it. */
const RESULT_TTL_MS = 15 * 60 * 1000;
/** Results kept at once (the oldest go first). */
const MAX_RESULTS = 64;
/** Rounds of asking approvers before the requester waits for more approvals or connections. */
const MAX_ATTEMPTS = 8;

export class EcdhService extends NodeService {
  /** Requests this node is combining now. */
  readonly coordinating = new Set<string>();
  /** Combined results by request id: s·P per point, encoded. Memory only, never logged. */
  private readonly results = new Map<string, { points: Uint8Array[]; at: number }>();

  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<NodeServices, 'requests'>,
  ) {
    super(ctx);
  }

  private get requests() {
    return this.deps.requests;
  }

  /**
   * The combined points of a done ECDH request this node asked for, or undefined (another node's
   * request, not done, fetched too late, or this node restarted since). For request.result only.
   */
  resultOf(id: string): Uint8Array[] | undefined {
    this.sweep();
    const r = this.store.requests.get(id);
    if (!r || r.createdBy !== this.me.peerId || r.status !== 'done') return undefined;
    return this.results.get(id)?.points.map((p) => p.slice());
  }

  /** Forgets every result (the node stops). */
  clear(): void {
    for (const { points } of this.results.values()) for (const p of points) p.fill(0);
    this.results.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, e] of this.results)
      if (now - e.at > RESULT_TTL_MS || this.results.size > MAX_RESULTS) {
        for (const p of e.points) p.fill(0);
        this.results.delete(id);
      }
  }

  /** The points a request multiplies, as this node reads the stored request itself. */
  private pointsOf(r: RequestRow): Uint8Array[] {
    const exec = executionOf(r.kind, r.message, this.requests.contextOf(r));
    if (exec.op !== 'ecdh') throw new Error(`a ${r.kind} request is not an ECDH`);
    return exec.points;
  }

  /** Requester side: gathers T valid partials per point and combines them. */
  async coordinate(id: string): Promise<void> {
    if (this.coordinating.has(id)) return;
    this.coordinating.add(id);
    /** Approvers that refused or did not answer in this run: asked again only in a later run. */
    const skipped = new Set<string>();
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS && !this.stopped; attempt++) {
        const r = this.store.requests.get(id);
        if (!r || TERMINAL.includes(r.status) || r.createdBy !== this.me.peerId) return;
        const g = this.store.groups.get(r.groupId)!;
        const key = await this.keyPackage(g.id);
        const suite = getSuite(g.scheme);
        const points = this.pointsOf(r);
        const approvers = this.requests.approversOf(r);
        const mine = approvers.includes(this.me.peerId);
        const need = g.threshold - (mine ? 1 : 0);
        const others = approvers
          .filter(
            (p) =>
              p !== this.me.peerId &&
              !r.culprits.includes(p) &&
              !skipped.has(p) &&
              this.host.isConnected(p),
          )
          .sort()
          .slice(0, need);
        if (others.length < need) {
          this.requests.updateRequest(id, { status: 'pending', updatedAt: Date.now() });
          this.maybeFailForGood(r);
          return;
        }
        this.requests.updateRequest(id, { status: 'signing', updatedAt: Date.now() });
        this.notify(id);
        const byPeer = new Map<string, EcdhPartial[]>();
        if (mine)
          byPeer.set(
            this.me.peerId,
            points.map((P) => ecdhPartial(key, P)),
          );
        const msg: EcdhMessage = {
          v: 1,
          type: 'ecdh',
          groupId: g.id,
          requestId: id,
          approvals: this.store.decisions
            .list(id)
            .filter(
              (d) => d.decision === 'approve' && [this.me.peerId, ...others].includes(d.peerId),
            )
            // Checked again as they leave the store: a damaged one is left out, not thrown.
            .flatMap((d) => parseStoredSigned(d.statement) ?? []),
        };
        const wrong: { peer: string; why: string }[] = [];
        await Promise.all(
          others.map(async (p) => {
            const name = logSafe(this.memberName(g.id, p));
            let answer;
            try {
              answer = decodeEcdhAnswer(
                await this.send(p, msg as GroupMessage, this.signTimeoutMs),
              );
            } catch (e) {
              skipped.add(p);
              this.log(
                `ECDH ${id}: ${name} gave no partial: ${logSafe((e as Error).message, 300)}`,
              );
              return;
            }
            if ('error' in answer) {
              skipped.add(p);
              this.log(`ECDH ${id}: ${name} refused: ${logSafe(answer.error, 300)}`);
              return;
            }
            // Each partial must be this member's, for the point at its position, with a proof
            // that it used the share behind its verifying share.
            const index = BigInt(this.memberByPeer(g.id, p)!.index);
            try {
              if (answer.partials.length !== points.length)
                throw new Error(`${answer.partials.length} partials for ${points.length} points`);
              const partials = answer.partials.map((j, i) => {
                const x = ecdhPartialFromJSON(suite, j);
                if (x.identifier !== index) throw new Error(`partial ${i} is not its own`);
                if (!verifyEcdhPartial(key.public, points[i]!, x))
                  throw new Error(`partial ${i} does not verify (its DLEQ proof fails)`);
                return x;
              });
              byPeer.set(p, partials);
            } catch (e) {
              wrong.push({ peer: p, why: (e as Error).message.slice(0, 200) });
            }
          }),
        );
        if (wrong.length) {
          this.blame(r, wrong);
          continue;
        }
        if (byPeer.size < g.threshold) continue;
        const helpers = [...byPeer.keys()];
        const combined = points.map((P, i) =>
          suite.encodePoint(
            combineEcdh(
              key.public,
              P,
              helpers.map((p) => byPeer.get(p)![i]!),
            ),
          ),
        );
        this.sweep();
        this.results.set(id, { points: combined, at: Date.now() });
        // The audit entry says who helped, never the result.
        this.requests.finish(id, { status: 'done' }, 'request.ecdh_done', {
          id,
          helpers,
          points: points.length,
          epoch: g.epoch,
        });
        // The others end it too (the outcome says only that it is done).
        this.requests.announceOutcome(id);
        this.log(`request ${id}: ECDH combined from ${helpers.length} members`);
        return;
      }
    } catch (e) {
      this.log(`ECDH ${id} stopped: ${logSafe((e as Error)?.message ?? e, 300)}`);
    } finally {
      this.coordinating.delete(id);
    }
  }

  /** A wrong partial: its sender is a culprit of the request (never asked again) and it is logged. */
  private blame(r: RequestRow, wrong: { peer: string; why: string }[]): void {
    const culprits = union(
      this.store.requests.get(r.id)!.culprits,
      wrong.map((w) => w.peer),
    );
    this.store.tx(() => {
      this.requests.updateRequest(r.id, { culprits, status: 'pending', updatedAt: Date.now() });
      for (const w of wrong)
        this.audit(
          'request.ecdh_partial_invalid',
          { id: r.id, culprit: w.peer, reason: w.why },
          r.groupId,
        );
    });
    for (const w of wrong)
      this.log(
        `ECDH ${r.id}: ${logSafe(this.memberName(r.groupId, w.peer))} sent a wrong partial: ${logSafe(w.why, 200)}`,
      );
    this.notify(r.id);
  }

  /** Too few approvers left who are no culprits, once every member decided: it fails here. */
  private maybeFailForGood(r: RequestRow): void {
    const g = this.store.groups.get(r.groupId)!;
    const now = this.store.requests.get(r.id)!;
    const decisions = this.requests.decisionsOf(now);
    if (!failedForGood({ decisions, size: g.size, threshold: g.threshold, culprits: now.culprits }))
      return;
    const names = now.culprits.map((p) => this.memberName(g.id, p)).join(', ');
    const failure = `not enough approvers could help decrypt${names ? `; wrong partials from: ${names}` : ''}`;
    this.requests.finish(r.id, { status: 'failed', failure }, 'request.failed', {
      id: r.id,
      failure,
      culprits: now.culprits,
    });
  }

  /**
   * Approver side: s_i·P for each point of the request as this node reads it, only for the
   * request's own author, only once the request is approved under this node's policy and this
   * member approved it. The release is in this node's audit log before the partials leave.
   */
  async onEcdh(from: string, msg: EcdhMessage): Promise<unknown> {
    const g = this.store.groups.get(msg.groupId);
    if (!g || g.status !== 'ready' || !this.memberByPeer(g.id, from))
      throw new DroppedMessage('non_member');
    const r = this.store.requests.get(msg.requestId);
    if (!r || r.groupId !== g.id) return { error: 'unknown request' };
    if (opOfRequest(r.kind, r.message, this.requests.contextOf(r)) !== 'ecdh')
      return { error: `a ${r.kind} request is not an ECDH` };
    if (TERMINAL.includes(r.status)) return { error: `request is ${r.status}` };
    // The result is the requester's alone: nobody else may gather the partials.
    if (from !== r.createdBy) return { error: 'only the member who asked may combine an ECDH' };
    const check = releaseCheck(
      this.requests,
      this.me.peerId,
      r,
      g,
      from,
      msg.approvals,
      'requester',
    );
    if ('error' in check) return check;
    let points: Uint8Array[];
    try {
      points = this.pointsOf(r);
    } catch (e) {
      return { error: `the request cannot be read here: ${(e as Error).message.slice(0, 200)}` };
    }
    const key = await this.keyPackage(g.id);
    const suite = getSuite(g.scheme);
    const partials = points.map((P) => ecdhPartialToJSON(suite, ecdhPartial(key, P)));
    this.store.tx(() => {
      this.audit(
        'request.ecdh_released',
        { id: r.id, to: from, points: points.length, epoch: g.epoch },
        g.id,
      );
      this.requests.updateRequest(r.id, {
        status: r.status === 'pending' ? 'signing' : r.status,
        updatedAt: Date.now(),
      });
    });
    this.notify(r.id);
    return { partials };
  }
}

/** Hex of each combined point, for the requester's API client. */
export function ecdhResultHex(points: Uint8Array[]): string[] {
  return points.map((p) => bytesToHex(p));
}
