// Threshold signing: the coordinator, the signer and the nonce commitment pools.
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import type { KeyPackage } from '../../shared/crypto/keys.js';
import {
  aggregate,
  commit,
  commitmentFromJSON,
  commitmentToJSON,
  decodeSignatureShare,
  partKey,
  partKeyPackage,
  SigningPackage,
  signShare,
  type NonceCommitment,
  type SigningNonces,
} from '../../shared/crypto/sign.js';
import { getSuite, identifierHex, parseIdentifier, type Suite } from '../../shared/crypto/suite.js';
import { failedForGood } from '../../shared/protocol/decisions.js';
import { receiptProblem } from '../../shared/protocol/evidence.js';
import { isLowerHex } from '../../shared/protocol/fields.js';
import {
  commitmentsHash,
  decodeShareReceipt,
  signShareReceipt,
  signStatement,
  MAX_EVIDENCE,
  MAX_SIGN_PARTS,
  type FailureEvidence,
  type GroupMessage,
  type OutcomeBody,
  type ShareReceipt,
  type Signed,
  type SigningAttempt,
} from '../../shared/protocol/wire.js';
import { logSafe } from '../../shared/protocol/text.js';
import { executionOf, opOfKind, type SignPart } from '../../shared/requests/index.js';
import { NetError } from '../net/index.js';
import type { GroupRow, RequestRow } from '../store/index.js';
import { TERMINAL, POOL_SIZE, DroppedMessage, short, union, type SignMessage } from './common.js';
import { crashPoint } from './crash.js';
import { verifyEd25519 } from '../crypto/ed25519.js';
import { releaseCheck } from './request-policy.js';
import { trace } from './trace.js';
import { type NodeServices, type NodeContext, NodeService } from './context.js';

/** A late signer is asked no sooner than this after the sign requests went out (ms). */
const HEDGE_MIN_MS = 300;
/** ... nor sooner than this many times the slowest answer so far. */
const HEDGE_FACTOR = 5;
/** With no answer to go by yet (the first signature after a start). */
const HEDGE_FIRST_MS = 1_000;
/**
 * How long after a nonce pair made ahead is taken the next one is made: after the signing it
 * serves (tens of milliseconds), when the other signers no longer need the core.
 */
const SPARE_AFTER_MS = 250;
/** How often a late signer's replacement is looked for again when no approver was spare. */
const HEDGE_RECHECK_MS = 250;
/** Answers (round trips, ms) the deadline for late signers is derived from, newest last. */
const RECENT_ANSWERS = 20;
/** How long a member whose commitment failed a group commitment's check has its commitments refused. */
const BAD_POOL_MS = 10 * 60_000;
/** Hiding commitments remembered as given to each coordinator (it holds 2 × POOL_SIZE at most). */
const ISSUED_KEPT = 256;
/** Requests remembered per signer-side set (stale answers given, coordinators named). */
const REQUESTS_KEPT = 1_000;
/** This node's latest audit entries searched for an earlier use of a commitment. */
const USED_SCAN = 5_000;

/** One part's signing attempt, as far as it got. */
interface PartResult {
  sig?: Uint8Array;
  /** With a signature: who signed it (the coordinator first). */
  signers?: string[];
  failed: string[];
  stale: boolean;
  /**
   * Signers that did not answer by the short deadline while another approver could take their
   * place: the attempt goes on (`rest`, its own outcome) and the coordinator asks a new set too.
   */
  late?: { peers: string[]; waitedMs: number; rest: Promise<PartResult> };
}

export class SigningService extends NodeService {
  /** Nonces this node generated for each coordinator: group → coordinator → commitment key → nonces. */
  myNonces = new Map<string, Map<string, Map<string, SigningNonces>>>();
  /** Commitments other signers gave this node for when it coordinates: group → signer → list. */
  private pool = new Map<string, Map<string, NonceCommitment[]>>();
  coordinating = new Set<string>();
  /** Round trips of the latest sign answers (ms): a signer far slower than these is late. */
  private recentAnswers: number[] = [];
  /**
   * What this node saw going wrong while coordinating a request, for the failure outcome it may
   * sign: per signer, the latest evidence (a bad share with its signer's receipt, a timeout, a
   * refusal), and its last attempt. One entry per request this node coordinates; dropped when the
   * request ends. Memory only: after a restart a failure carries no evidence and blames nobody.
   */
  private failures = new Map<
    string,
    { evidence: Map<string, FailureEvidence>; attempt?: SigningAttempt }
  >();
  /**
   * Signer side: the hiding commitments this node gave each coordinator since it started (group →
   * coordinator → set, the latest ISSUED_KEPT). A coordinator that had fresh ones from this run
   * holds only these: its pool is replaced by them and refilled from this run (commitmentLie).
   */
  private issued = new Map<string, Map<string, Set<string>>>();
  /** Signer side: `coordinator/request` pairs this node answered 'stale' with fresh commitments. */
  private staleAnswered = new Set<string>();
  /** Signer side: `coordinator/request` pairs whose coordinator this node named (once each). */
  private namedCoordinators = new Set<string>();
  /**
   * Signer side: the hiding commitments this node released a share with, per group (hiding →
   * request id, oldest first, the newest USED_SCAN kept). Built on first need from this node's
   * own audit log (its share_released entries name their nonce), then kept up to date as this
   * node writes such an entry (onSign): a commitment used before is refused (commitmentLie)
   * without reading the log on every sign request, and after a restart as before it.
   */
  private used = new Map<string, Map<string, string>>();
  /**
   * One nonce pair made ahead of need per key package (a point multiplication each): a signer's
   * refill and a coordinator's own nonce are taken from here, so that making them is not on the
   * path of a signature; a new one is made SPARE_AFTER_MS after (takeNonces). Secret
   * like every pooled nonce, in memory only; a new key package (a new epoch) finds none.
   */
  private spare = new WeakMap<KeyPackage, SigningNonces>();
  /**
   * Members whose pooled commitment put a signing's group commitment outside the prime-order
   * subgroup (signPart), by `<groupId>/<peerId>`, with when their commitments are taken again: an
   * honest member never makes such a point, and one that keeps sending them would otherwise cost
   * an attempt of every signing it is picked for. At most one entry per member of each group.
   */
  private badPools = new Map<string, number>();
  /** Commitments received for the next epoch while this node still finishes a ceremony. */
  private futureNonces = new Map<
    string,
    Map<string, { epoch: number; commitments: Record<string, unknown>[] }>
  >();

  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<NodeServices, 'ceremony' | 'requests'>,
  ) {
    super(ctx);
  }

  private get ceremony() {
    return this.deps.ceremony;
  }
  private get requests() {
    return this.deps.requests;
  }

  /**
   * The signatures a request asks for, as this node reads the request's own bytes (a raw sign
   * request has one; a use may have several, such as a PSBT's inputs). Throws when unreadable.
   */
  partsOf(r: RequestRow): SignPart[] {
    if (r.kind === 'sign') return [{ message: r.message }];
    if (opOfKind(r.kind) !== 'sign') throw new Error(`a ${r.kind} request is never signed`);
    const exec = executionOf(r.kind, r.message, this.requests.contextOf(r));
    if (exec.op !== 'sign') throw new Error(`a ${r.kind} request is never signed`);
    if (exec.parts.length === 0 || exec.parts.length > MAX_SIGN_PARTS)
      throw new Error(`a request must ask for 1..${MAX_SIGN_PARTS} signatures`);
    return exec.parts;
  }

  async coordinate(id: string): Promise<void> {
    trace(id, 'coord.start');
    this.coordinating.add(id);
    let failures = this.failures.get(id);
    if (!failures) this.failures.set(id, (failures = { evidence: new Map() }));
    /** The parts' signatures so far: a finished part stays signed whoever signs the next. */
    const sigs: Uint8Array[] = [];
    /** Signers that were late in an attempt of this request: asked again only when needed. */
    const late = new Set<string>();
    /** The current part's earlier attempts that a late signer held up, still running. */
    let earlier: Promise<PartResult> | undefined;
    /** Who signed each part so far (with the coordinator). */
    const signersOf: string[][] = [];
    try {
      const parts = this.partsOf(this.store.requests.get(id)!);
      for (let attempt = 0; attempt < 8 + parts.length && !this.stopped; attempt++) {
        const r = this.store.requests.get(id)!;
        if (TERMINAL.includes(r.status)) return;
        const g = this.store.groups.get(r.groupId)!;
        const key = await this.keyPackage(g.id);
        trace(id, 'coord.key');
        const approvers = this.requests.approversOf(r);
        const pool = this.pool.get(g.id) ?? new Map<string, NonceCommitment[]>();
        const usable = (p: string, culprits: string[]) =>
          p !== this.me.peerId &&
          !culprits.includes(p) &&
          this.host.isConnected(p) &&
          ((this.pool.get(g.id) ?? pool).get(p)?.length ?? 0) > 0;
        // Late signers last: they are asked again only when no other approver can sign.
        const others = approvers
          .filter((p) => usable(p, r.culprits))
          .sort((a, b) => Number(late.has(a)) - Number(late.has(b)) || (a < b ? -1 : 1))
          .slice(0, g.threshold - 1);
        /** Whether an approver besides `busy` could take a late signer's place now. */
        const spare = (busy: string[]) => {
          const now = this.store.requests.get(id);
          if (!now || TERMINAL.includes(now.status)) return false;
          return this.requests
            .approversOf(now)
            .some((p) => !busy.includes(p) && !late.has(p) && usable(p, now.culprits));
        };
        if (others.length < g.threshold - 1 && earlier && sigs.length < parts.length) {
          // Only the attempt a late signer holds up can still sign this part: wait for it.
          const res = await earlier;
          earlier = undefined;
          if (res.sig) {
            sigs.push(res.sig);
            signersOf.push(res.signers ?? []);
          }
          continue;
        }
        if (others.length < g.threshold - 1 && sigs.length < parts.length) {
          this.requests.updateRequest(id, { status: 'pending', updatedAt: Date.now() });
          this.maybeFailForGood(id);
          return;
        }
        failures.attempt = { coordinator: this.me.peerId, signers: [this.me.peerId, ...others] };
        const failed: string[] = [];
        let stale = false;
        let hedged = false;
        let marked = false;
        while (sigs.length < parts.length && failed.length === 0 && !stale && !hedged) {
          const attempt = this.signPart(r, g, key, others, sigs.length, parts, failures, spare);
          if (!marked) {
            // On the event loop's next turn, once the sign requests have left (their writes run
            // in this turn's microtasks): this write and the waiters it wakes are not in their
            // path. Not if the signing ended meanwhile (only possible without a message).
            marked = true;
            setImmediate(() => {
              try {
                const now = this.store.requests.get(id);
                if (this.stopped || !this.coordinating.has(id) || !now) return;
                if (TERMINAL.includes(now.status)) return;
                this.requests.updateRequest(id, { status: 'signing', updatedAt: Date.now() });
                this.notify(id);
              } catch (e) {
                this.log(`request ${id}: marking it as signing failed: ${(e as Error).message}`);
              }
            });
          }
          // An earlier attempt of this part held up by a late signer still counts if it ends first.
          const res = earlier ? await firstSigned(attempt, earlier) : await attempt;
          if (res.late) {
            // Late is no fault: the evidence says how long it was waited for, it blames nobody,
            // and its answer still completes the attempt it was asked in if it comes first.
            for (const p of res.late.peers) {
              late.add(p);
              failures.evidence.set(p, { kind: 'timeout', peer: p, waitedMs: res.late.waitedMs });
              this.log(
                `signer ${logSafe(this.memberName(g.id, p))} is late for request ${id}; asking another approver`,
              );
            }
            earlier = earlier ? firstSigned(earlier, res.late.rest) : res.late.rest;
            hedged = true;
            continue;
          }
          if (res.sig) {
            sigs.push(res.sig);
            signersOf.push(res.signers ?? []);
            earlier = undefined;
          }
          failed.push(...res.failed);
          stale = res.stale;
        }
        if (failed.length === 0 && (stale || hedged)) continue;
        if (failed.length === 0) {
          const sig = concatBytes(...sigs);
          const outcome = signStatement<OutcomeBody>(
            {
              v: 1,
              type: 'outcome',
              groupId: g.id,
              requestId: id,
              signature: bytesToHex(sig),
              culprits: r.culprits,
              by: this.me.peerId,
              at: Date.now(),
            },
            (h) => this.me.sign(h),
          );
          const signers = [...new Set(signersOf.flat())];
          // With the approvals it was signed on: a member may have had one only from the signing
          // (an approval that completed the approvals is held back meanwhile, requests.ts).
          const items = [...this.requests.approvalStatements(id), outcome];
          // This node's own share leaves it inside the signature: recorded like every signer's.
          trace(id, 'coord.outcome_signed');
          this.store.tx(() => {
            this.audit(
              'request.share_released',
              { id, coordinator: this.me.peerId, signers, epoch: g.epoch },
              g.id,
            );
            this.requests.finish(id, { status: 'done', signature: sig }, 'request.signed', {
              id,
              signature: bytesToHex(sig),
              signers,
            });
          });
          trace(id, 'coord.done');
          this.broadcast(g.id, { v: 1, type: 'statements', items });
          this.log(`request ${id} signed`);
          return;
        }
        const culprits = union(this.store.requests.get(id)!.culprits, failed);
        this.store.tx(() => {
          this.requests.updateRequest(id, { culprits, status: 'pending', updatedAt: Date.now() });
          this.audit('request.signing_attempt_failed', { id, culprits: failed }, g.id);
        });
        this.notify(id);
      }
    } catch (e) {
      this.log(`signing ${id} stopped: ${(e as Error).message}`);
    } finally {
      this.coordinating.delete(id);
      // An approval of this node held back for this signing goes out now if it has not.
      this.requests.releaseHeld(id);
      for (const k of [...this.staleCounts.keys()])
        if (k.startsWith(`${id}/`)) this.staleCounts.delete(k);
      const status = this.store.requests.get(id)?.status;
      if (status === undefined || TERMINAL.includes(status)) this.failures.delete(id);
    }
  }

  /**
   * One part's signature from this node and `others`: each signer is asked for its share (with
   * its receipt), bad shares and silences are recorded as evidence, and the shares aggregate.
   * `stale`: a signer had lost the commitment used and sent fresh ones (ask again).
   */
  private async signPart(
    r: RequestRow,
    g: GroupRow,
    key: KeyPackage,
    others: string[],
    part: number,
    parts: readonly SignPart[],
    failures: { evidence: Map<string, FailureEvidence> },
    spare: (busy: string[]) => boolean = () => false,
  ): Promise<PartResult> {
    const id = r.id;
    const spec = parts[part]!;
    const suite = getSuite(g.scheme);
    const pool = this.pool.get(g.id) ?? new Map<string, NonceCommitment[]>();
    const failed: string[] = [];
    let stale = false;
    const fail = (p: string, e: FailureEvidence, why: string) => {
      this.log(
        `signer ${logSafe(this.memberName(g.id, p))} failed for request ${id}: ${logSafe(why, 300)}`,
      );
      failures.evidence.set(p, e);
      failed.push(p);
    };
    // A signer whose commitments ran out (a refill got lost): the attempt picks signers again.
    if (others.some((p) => (pool.get(p)?.length ?? 0) === 0)) return { failed, stale: true };
    const chosen = new Map<string, NonceCommitment>();
    for (const p of others) chosen.set(p, pool.get(p)!.shift()!);
    const mine = this.takeNonces(key);
    const commitments = [mine.commitment, ...chosen.values()];
    // The pooled commitments were decoded without their subgroup checks (addToPool): the group
    // commitment R is checked here, once, before any signer sees the list, so a signer that
    // refuses a list whose R fails (refuseCoordinator) never meets one from an honest
    // coordinator. A member whose point put R outside the subgroup loses its pool here, as it
    // would have lost that batch on arrival: this attempt picks signers again.
    let pkg: SigningPackage;
    try {
      pkg = new SigningPackage(partKey(key.public, spec), commitments, spec.message);
    } catch (e) {
      // Only a point outside the subgroup is this; anything else fails the signing as before.
      const bad = [...chosen].filter(
        ([, c]) => !suite.inPrimeOrderSubgroup(c.hiding) || !suite.inPrimeOrderSubgroup(c.binding),
      );
      if (!(e instanceof CryptoError && e.code === 'bad_commitment' && bad.length)) throw e;
      for (const [p] of bad) {
        pool.delete(p);
        this.badPools.set(`${g.id}/${p}`, Date.now() + BAD_POOL_MS);
        this.count('bad_commitment', `from ${short(p)}: a commitment outside the subgroup`);
      }
      // This node's own nonce, never sent nor used, is dropped all the same: a nonce serves once.
      return { failed, stale: true };
    }
    const msg: SignMessage = {
      v: 1,
      type: 'sign',
      groupId: g.id,
      requestId: id,
      commitments: [
        {
          peerId: this.me.peerId,
          commitment: commitmentToJSON(suite, mine.commitment) as unknown as Record<
            string,
            unknown
          >,
        },
        ...[...chosen].map(([p, c]) => ({
          peerId: p,
          commitment: commitmentToJSON(suite, c) as unknown as Record<string, unknown>,
        })),
      ],
      approvals: this.store.decisions
        .list(id)
        .filter((d) => d.decision === 'approve' && [this.me.peerId, ...others].includes(d.peerId))
        .map((d) => JSON.parse(d.statement) as Signed),
    };
    if (part > 0) msg.part = part;
    const shares = new Map<bigint, bigint>();
    /** Each signer's receipt for the share it returned in this attempt. */
    const receipts = new Map<string, ShareReceipt>();
    // A signer far slower than the others (alive but silent) need not hold the request for the
    // whole sign timeout: past a short deadline derived from the answers so far, the coordinator
    // asks another approver while this attempt goes on.
    trace(id, 'coord.sending');
    const t0 = performance.now();
    const waiting = new Set(others);
    const answered: number[] = [];
    let hedgeTimer: NodeJS.Timeout | undefined;
    let onLate: (peers: string[]) => void = () => undefined;
    const lateSigners = new Promise<string[]>((resolve) => (onLate = resolve));
    let gaveUp = false;
    const arm = () => {
      clearTimeout(hedgeTimer);
      if (waiting.size === 0 || gaveUp) return;
      // This attempt's answers, or before the first of them the latest ones of earlier attempts.
      const known = answered.length > 0 ? answered : this.recentAnswers;
      const deadline = known.length
        ? Math.max(HEDGE_MIN_MS, HEDGE_FACTOR * Math.max(...known))
        : HEDGE_FIRST_MS;
      const check = () => {
        if (waiting.size === 0 || gaveUp) return;
        if (!spare(others)) hedgeTimer = setTimeout(check, HEDGE_RECHECK_MS);
        else {
          gaveUp = true;
          onLate([...waiting]);
        }
      };
      hedgeTimer = setTimeout(check, Math.max(0, deadline - (performance.now() - t0)));
    };
    arm();
    const all = Promise.all(
      others
        .map(async (p) => {
          const idx = BigInt(this.store.members.get(g.id, p)!.index);
          let res: {
            share?: unknown;
            receipt?: unknown;
            refill?: unknown;
            error?: unknown;
            stale?: unknown;
            nonces?: unknown;
          };
          try {
            res = ((await this.send(p, msg as unknown as GroupMessage, this.signTimeoutMs)) ??
              {}) as typeof res;
            const ms = performance.now() - t0;
            trace(id, 'coord.answer');
            answered.push(ms);
            this.recentAnswers = [...this.recentAnswers, ms].slice(-RECENT_ANSWERS);
          } catch (e) {
            const why = (e as Error).message;
            if (e instanceof NetError && e.code === 'timeout')
              fail(p, { kind: 'timeout', peer: p, waitedMs: this.signTimeoutMs }, why);
            else fail(p, { kind: 'refused', peer: p, reason: why.slice(0, 300) }, why);
            return;
          }
          crashPoint('sign-coordinator-sent');
          const staleCount = this.staleTimes(id, p);
          if (res.stale === true && Array.isArray(res.nonces) && staleCount < 3) {
            // Not a fault (it restarted, or its pool here was out of date): ask again with one
            // of the fresh commitments it sent along.
            this.staleCounts.set(`${id}/${p}`, staleCount + 1);
            this.addToPool(g, p, res.nonces.slice(0, POOL_SIZE) as Record<string, unknown>[], true);
            this.log(`signer ${logSafe(this.memberName(g.id, p))} had no such nonce; asking again`);
            stale = true;
            return;
          }
          if (typeof res.share !== 'string' || !/^[0-9a-f]+$/.test(res.share)) {
            const why = typeof res.error === 'string' ? res.error.slice(0, 300) : 'no share';
            fail(p, { kind: 'refused', peer: p, reason: why }, why);
            return;
          }
          // A share counts only with its signer's receipt for exactly this attempt: then a bad
          // one is proven to every member, and the signer cannot deny it.
          let receipt: ShareReceipt | undefined;
          try {
            receipt = decodeShareReceipt(res.receipt);
          } catch {
            receipt = undefined;
          }
          const problem = receiptProblem(receipt, {
            groupId: g.id,
            requestId: id,
            epoch: g.epoch,
            commitments: msg.commitments,
            signer: p,
            share: res.share,
            part,
            identityKey: (peer) => this.identityKey(g.id, peer),
            verify: verifyEd25519,
          });
          if (problem !== undefined) {
            fail(p, { kind: 'refused', peer: p, reason: problem }, problem);
            return;
          }
          receipts.set(p, receipt!);
          try {
            shares.set(idx, decodeSignatureShare(suite, idx, hexToBytes(res.share)));
          } catch (e) {
            fail(
              p,
              { kind: 'bad-share', receipt: receipt!, commitments: msg.commitments },
              (e as Error).message,
            );
            return;
          }
          if (res.refill && typeof res.refill === 'object')
            try {
              this.addToPool(g, p, [res.refill as Record<string, unknown>], false);
            } catch (e) {
              // A point off the curve, of small order or not canonical: the signer lied, and its
              // answer must not end the whole attempt (this used to stall the request).
              const why = `its refill commitment is invalid: ${(e as Error).message}`.slice(0, 300);
              fail(p, { kind: 'refused', peer: p, reason: why }, why);
            }
        })
        .map((answer, i) =>
          answer.finally(() => {
            waiting.delete(others[i]!);
            arm();
          }),
        ),
    );
    // This node's own share is computed while the others compute theirs, not before asking them.
    const own = new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        try {
          shares.set(key.share.identifier, signShare(partKeyPackage(key, spec), mine, pkg));
          trace(id, 'coord.own_share');
          resolve();
        } catch (e) {
          reject(e as Error);
        }
      }),
    );
    const whole = Promise.all([all, own]).then((): PartResult => {
      clearTimeout(hedgeTimer);
      trace(id, 'coord.all_shares');
      const res = this.finishPart(pkg, shares, receipts, failed, stale, fail, g, msg);
      trace(id, 'coord.aggregated');
      return res;
    });
    const first = await Promise.race([whole, lateSigners]);
    if (!Array.isArray(first)) return first;
    clearTimeout(hedgeTimer);
    // Its end may no longer be awaited (another attempt signs first): never an unhandled rejection.
    whole.catch((e: unknown) => this.log(`signing ${id} stopped: ${(e as Error).message}`));
    return {
      failed: [],
      stale: false,
      late: { peers: first, waitedMs: Math.round(performance.now() - t0), rest: whole },
    };
  }

  /** The part's signature from the shares of a finished attempt, or who failed it. */
  private finishPart(
    pkg: SigningPackage,
    shares: Map<bigint, bigint>,
    receipts: Map<string, ShareReceipt>,
    failed: string[],
    stale: boolean,
    fail: (p: string, e: FailureEvidence, why: string) => void,
    g: GroupRow,
    msg: SignMessage,
  ): PartResult {
    const suite = getSuite(g.scheme);
    if (failed.length > 0 || stale) return { failed, stale: failed.length === 0 && stale };
    try {
      const signers = msg.commitments.map((c) => c.peerId);
      return { sig: aggregate(pkg, shares), signers, failed, stale: false };
    } catch (e) {
      if (!(e instanceof CryptoError)) throw e;
      for (const c of e.culprits) {
        const idx = Number(parseIdentifier(suite, c));
        const m = this.store.members.list(g.id).find((x) => x.index === idx);
        const receipt = m && receipts.get(m.peerId);
        if (m && receipt)
          fail(
            m.peerId,
            { kind: 'bad-share', receipt, commitments: msg.commitments },
            'its signature share does not verify',
          );
        else if (m) failed.push(m.peerId);
      }
      return { failed, stale: false };
    }
  }

  /**
   * How often each signer said its commitment was stale, per request being coordinated (a few
   * times at most, then a failure).
   */
  private staleCounts = new Map<string, number>();
  private staleTimes(id: string, p: string): number {
    return this.staleCounts.get(`${id}/${p}`) ?? 0;
  }

  /** A member's raw Ed25519 identity key, from the group's roster. */
  private identityKey(groupId: string, peer: string): Uint8Array | undefined {
    const m = this.memberByPeer(groupId, peer);
    return m && isLowerHex(m.identityKey, 64) ? hexToBytes(m.identityKey) : undefined;
  }

  /**
   * A request fails for good when every member decided and too few non-culprit approvers remain.
   * The failure outcome this coordinator signs carries what it saw (evidence per signer, its last
   * attempt); it is stored as signed and relayed unchanged, so every member checks it itself.
   */
  private maybeFailForGood(id: string): void {
    const r = this.store.requests.get(id)!;
    const g = this.store.groups.get(r.groupId)!;
    // Counted as every member counts them: current members' decisions only.
    const decisions = this.requests.decisionsOf(r);
    if (!failedForGood({ decisions, size: g.size, threshold: g.threshold, culprits: r.culprits }))
      return;
    const names = r.culprits.map((p) => this.memberName(g.id, p)).join(', ');
    const failure = `not enough approvers could sign${names ? `; failed: ${names}` : ''}`;
    const seen = this.failures.get(id);
    const body: OutcomeBody = {
      v: 1,
      type: 'outcome',
      groupId: g.id,
      requestId: id,
      failure,
      culprits: r.culprits,
      by: this.me.peerId,
      at: Date.now(),
    };
    if (seen?.evidence.size) body.evidence = [...seen.evidence.values()].slice(0, MAX_EVIDENCE);
    if (seen?.attempt) body.attempt = seen.attempt;
    const outcome = signStatement(body, (h) => this.me.sign(h));
    this.requests.finish(
      id,
      { status: 'failed', failure, outcome: JSON.stringify(outcome) },
      'request.failed',
      { id, failure, culprits: r.culprits },
    );
    this.failures.delete(id);
    this.requests.announceOutcome(id);
  }

  async sendNonces(groupId: string, coordinator: string, replace: boolean): Promise<void> {
    const g = this.store.groups.get(groupId);
    if (!g || g.status !== 'ready') return;
    const fresh = await this.freshNonces(groupId, coordinator, replace);
    if (fresh.length)
      await this.send(coordinator, {
        v: 1,
        type: 'nonces',
        groupId,
        epoch: g.epoch,
        replace,
        commitments: fresh,
      });
  }

  /** Fills this node's pool of nonces for `coordinator` (a new pool if `replace`); the new ones. */
  private async freshNonces(
    groupId: string,
    coordinator: string,
    replace: boolean,
  ): Promise<Record<string, unknown>[]> {
    const g = this.store.groups.get(groupId)!;
    const key = await this.keyPackage(groupId);
    const suite = getSuite(g.scheme);
    let perGroup = this.myNonces.get(groupId);
    if (!perGroup) this.myNonces.set(groupId, (perGroup = new Map()));
    let mine = perGroup.get(coordinator);
    if (!mine || replace) perGroup.set(coordinator, (mine = new Map()));
    const fresh: Record<string, unknown>[] = [];
    for (let i = mine.size; i < POOL_SIZE; i++) {
      const n = commit(key);
      const wire = commitmentToJSON(suite, n.commitment);
      mine.set(wire.hiding, n);
      this.noteIssued(groupId, coordinator, wire.hiding);
      fresh.push(wire as unknown as Record<string, unknown>);
    }
    return fresh;
  }

  /** Remembers a hiding commitment this node gave `coordinator` (see `issued`). */
  private noteIssued(groupId: string, coordinator: string, hiding: string): void {
    let perGroup = this.issued.get(groupId);
    if (!perGroup) this.issued.set(groupId, (perGroup = new Map()));
    let set = perGroup.get(coordinator);
    if (!set) perGroup.set(coordinator, (set = new Set()));
    set.add(hiding);
    if (set.size > ISSUED_KEPT) set.delete(set.values().next().value!);
  }

  acceptNonces(from: string, msg: Extract<GroupMessage, { type: 'nonces' }>): void {
    const g = this.store.groups.get(msg.groupId);
    if (
      !g ||
      !(this.memberByPeer(g.id, from) || this.ceremony.newcomerInPendingRequest(g.id, from))
    )
      throw new DroppedMessage('non_member');
    if (
      msg.epoch === g.epoch + 1 ||
      (msg.epoch === g.epoch && (g.status !== 'ready' || !this.memberByPeer(g.id, from)))
    ) {
      // The sender finished the DKG, a refresh or a reshare before this node did: keep them
      // until this node is there too (applyEarlyNonces).
      let perGroup = this.futureNonces.get(g.id);
      if (!perGroup) this.futureNonces.set(g.id, (perGroup = new Map()));
      perGroup.set(from, { epoch: msg.epoch, commitments: msg.commitments });
      return;
    }
    if (g.status !== 'ready' || msg.epoch !== g.epoch || !this.memberByPeer(g.id, from)) return;
    try {
      this.addToPool(g, from, msg.commitments, msg.replace);
    } catch (e) {
      // Counted and logged with its sender (a plain error was neither).
      if (e instanceof CryptoError) throw new DroppedMessage('bad_commitment');
      throw e;
    }
    // Pools go both ways: answer a peer that has none of ours yet.
    if (!this.myNonces.get(g.id)?.get(from)?.size)
      void this.sendNonces(g.id, from, true).catch(() => undefined);
    // What new commitments can unblock: an approved signing request of this group that this
    // node may coordinate and found too few signers with commitments for (requests.ts).
    this.requests.evaluateRetrying(g.id);
  }

  /** Once this node reached the group's current epoch: use the commitments that came early. */
  applyEarlyNonces(groupId: string): void {
    const early = this.futureNonces.get(groupId);
    this.futureNonces.delete(groupId);
    const g = this.store.groups.get(groupId)!;
    for (const [peer, batch] of early ?? [])
      if (batch.epoch === g.epoch && this.memberByPeer(groupId, peer))
        try {
          this.addToPool(g, peer, batch.commitments, true);
        } catch (e) {
          // A bad point in one member's batch is that member's loss: it used to fail the caller
          // (a DKG or ceremony that had just finished, for everyone's nonces).
          if (!(e instanceof CryptoError)) throw e;
          this.count('bad_commitment', `from ${short(peer)}`);
        }
  }

  private addToPool(
    g: GroupRow,
    from: string,
    wire: Record<string, unknown>[],
    replace: boolean,
  ): void {
    const suite = getSuite(g.scheme);
    const until = this.badPools.get(`${g.id}/${from}`);
    if (until !== undefined && until > Date.now())
      throw new CryptoError(
        'bad_commitment',
        'an earlier commitment of this member was outside the prime-order subgroup',
      );
    const idx = BigInt(this.memberByPeer(g.id, from)!.index);
    // Without the subgroup check of each point (~1 ms a point on ed25519, for every commitment
    // of every member's pool): the group commitment of the list it ends up in is checked
    // instead, before any signer sees it (signPart), and sign.ts says why the points' own checks
    // add nothing once R is checked. Off the curve, not canonical or the identity: refused here.
    const decoded = wire
      .map((w) => commitmentFromJSON(suite, w as never, true))
      .filter((c) => c.identifier === idx);
    // A point of small order, though, is no commitment at all and costs a multiplication by the
    // cofactor to see (three doublings on ed25519): refused on arrival, so a refill lie is still
    // pinned on the signer that answered with it.
    for (const c of decoded)
      if (c.hiding.isSmallOrder() || c.binding.isSmallOrder())
        throw new CryptoError('bad_commitment', 'commitment: a point of small order', [
          identifierHex(suite, c.identifier),
        ]);
    let perGroup = this.pool.get(g.id);
    if (!perGroup) this.pool.set(g.id, (perGroup = new Map()));
    const list = replace ? [] : (perGroup.get(from) ?? []);
    perGroup.set(from, [...list, ...decoded].slice(-POOL_SIZE * 2));
  }

  /** Signer side: only ever signs a request this custodian approved, with a nonce used once. */
  async onSign(from: string, msg: SignMessage): Promise<unknown> {
    const g = this.store.groups.get(msg.groupId);
    trace(msg.requestId, 'signer.recv');
    if (!g || g.status !== 'ready' || !this.memberByPeer(g.id, from))
      throw new DroppedMessage('non_member');
    const r = this.store.requests.get(msg.requestId);
    if (!r || r.groupId !== g.id) return { error: 'unknown request' };
    if (TERMINAL.includes(r.status)) return { error: `request is ${r.status}` };
    // What is signed comes from this node's own reading of the request's bytes, never from the
    // coordinator: the part number only picks one of the signatures the request asks for.
    let parts: SignPart[];
    try {
      parts = this.partsOf(r);
    } catch (e) {
      return { error: (e as Error).message.slice(0, 300) };
    }
    const part = msg.part ?? 0;
    const spec = parts[part];
    if (!spec) return { error: `the request has no signature number ${part + 1}` };
    // The approvals the coordinator relays are checked and kept first (request-policy.ts).
    const check = releaseCheck(
      this.requests,
      this.me.peerId,
      r,
      g,
      from,
      msg.approvals,
      'coordinator',
    );
    if ('error' in check) return check;
    trace(r.id, 'signer.approvals_checked');
    const { approvers } = check;
    if (!approvers.has(from)) return { error: 'the coordinator did not approve the request' };
    const signers = msg.commitments.map((c) => c.peerId);
    if (new Set(signers).size !== signers.length || signers.length < g.threshold)
      return { error: 'bad signer set' };
    for (const p of signers)
      if (!approvers.has(p))
        return {
          error: `${this.memberName(g.id, p)} has not approved (as far as this node knows)`,
        };
    if (this.fault === 'hang-sign') await new Promise(() => undefined);
    const suite = getSuite(g.scheme);
    const key = await this.keyPackage(g.id);
    const myWire = msg.commitments.find((c) => c.peerId === this.me.peerId);
    const hiding = String((myWire?.commitment as { hiding?: unknown } | undefined)?.hiding);
    const pool = this.myNonces.get(g.id)?.get(from);
    const nonces = myWire && pool?.get(hiding);
    const commitments: NonceCommitment[] = [];
    for (const c of msg.commitments) {
      const m = this.memberByPeer(g.id, c.peerId);
      if (!m) return { error: 'signer is not a member' };
      let dc: NonceCommitment;
      try {
        // This signer's own commitment, byte for byte as it made it, is the one it holds: not
        // decoded again (two point decodings with their checks). Any other bytes are decoded.
        dc =
          c === myWire && nonces && sameWire(c.commitment, suite, nonces.commitment)
            ? nonces.commitment
            : commitmentFromJSON(suite, c.commitment as never, true);
      } catch (e) {
        if (!(e instanceof CryptoError)) throw e;
        // A coordinator decodes every commitment it pools (addToPool) and makes its own: an
        // invalid one in its list is its own doing. (Points outside the prime-order subgroup are
        // refused below when they show in the group commitment, which the coordinator checked
        // before sending; sign.ts says why the rest is harmless.)
        const whose = c.peerId === this.me.peerId ? 'this signer' : this.memberName(g.id, c.peerId);
        const why = `its commitment list carries an invalid commitment for ${whose}: ${e.message}`;
        return this.refuseCoordinator(r, g, from, why);
      }
      if (dc.identifier !== BigInt(m.index))
        return { error: 'commitment identifier does not match its signer' };
      commitments.push(dc);
    }
    trace(r.id, 'signer.decoded');
    if (!myWire) return { error: 'no commitment for this signer' };
    if (!nonces) {
      const lie = this.commitmentLie(g.id, from, r.id, hiding);
      if (lie !== undefined) return this.refuseCoordinator(r, g, from, lie);
      remember(this.staleAnswered, `${from}/${r.id}`);
      // This node restarted (its nonces live in memory only) or the pools drifted apart: the
      // answer carries fresh commitments that replace the old ones.
      return {
        error: 'unknown or already used nonce commitment',
        stale: true,
        nonces: await this.freshNonces(g.id, from, true),
      };
    }
    // The hiding commitment is one this node gave; the binding one must be its pair. The nonce
    // stays unused in the pool: no share was computed with it.
    if (!commitments[msg.commitments.indexOf(myWire)]!.binding.equals(nonces.commitment.binding))
      return this.refuseCoordinator(
        r,
        g,
        from,
        "it paired one of this signer's hiding commitments with a binding commitment the signer never made",
      );
    // The package checks its group commitment's subgroup (the others' points were decoded
    // without theirs): a point outside it is refused as any invalid commitment, before the nonce
    // is used.
    let pkg: SigningPackage;
    try {
      pkg = new SigningPackage(partKey(key.public, spec), commitments, spec.message);
    } catch (e) {
      if (!(e instanceof CryptoError && e.code === 'bad_commitment' && e.culprits.length)) throw e;
      const whose = msg.commitments
        .filter((_, i) => e.culprits.includes(identifierHex(suite, commitments[i]!.identifier)))
        .map((c) => (c.peerId === this.me.peerId ? 'this signer' : this.memberName(g.id, c.peerId)))
        .join(', ');
      const why = `its commitment list carries an invalid commitment for ${whose}: ${e.message}`;
      return this.refuseCoordinator(r, g, from, why);
    }
    // The nonce is used up from here on, whatever happens next: it is never used twice.
    pool!.delete(hiding);
    crashPoint('sign-nonce-taken');
    const share = bytesToHex(suite.encodeScalar(signShare(partKeyPackage(key, spec), nonces, pkg)));
    trace(r.id, 'signer.share');
    // What this signer states under its identity key about the share it returns: the coordinator
    // can show a bad one to everyone, and an honest share can never be made to look bad.
    const receipt = signShareReceipt(
      {
        v: 1,
        type: 'share-receipt',
        groupId: g.id,
        requestId: r.id,
        epoch: g.epoch,
        commitments: commitmentsHash(msg.commitments),
        share,
        by: this.me.peerId,
        ...(part > 0 ? { part } : {}),
      },
      (h) => this.me.sign(h),
    );
    // The share leaves this node only once its own audit log says so: if the entry cannot be
    // written, the transaction fails and nothing is returned.
    this.store.tx(() => {
      this.audit(
        'request.share_released',
        {
          id: r.id,
          coordinator: from,
          signers,
          epoch: g.epoch,
          commitments: receipt.body.commitments,
          // This signer's own hiding commitment (public): a nonce used twice shows in the log.
          nonce: hiding,
          ...(part > 0 ? { part } : {}),
        },
        g.id,
      );
      this.requests.updateRequest(r.id, {
        status: r.status === 'pending' ? 'signing' : r.status,
        updatedAt: Date.now(),
      });
    });
    this.noteUsed(g.id, hiding, r.id);
    trace(r.id, 'signer.stored');
    crashPoint('sign-share-released');
    // Refill the coordinator's pool with one fresh commitment.
    const n = this.takeNonces(key);
    const refill = commitmentToJSON(suite, n.commitment);
    pool!.set(refill.hiding, n);
    this.noteIssued(g.id, from, refill.hiding);
    this.notify(r.id);
    trace(r.id, 'signer.return');
    return { share, receipt, refill };
  }

  /**
   * Why a commitment for this signer that is not in its pool for `from` can only be a lie, or
   * undefined when an honest coordinator may hold it (this node restarted and lost its nonces, or
   * a fresh pool crossed the request: the answer is then 'stale', with fresh commitments).
   * - It was used: this node's audit log records the share released with it (the nonce records),
   *   and a coordinator takes each commitment out of its pool when it uses it.
   * - This node never gave it: only after this node answered 'stale' for the request (the
   *   coordinator asks again once it has the fresh commitments of that answer, and from then on
   *   holds only commitments of this run, each remembered in `issued`).
   */
  private commitmentLie(
    groupId: string,
    from: string,
    requestId: string,
    hiding: string,
  ): string | undefined {
    const usedFor = this.usedNonces(groupId).get(hiding);
    if (usedFor !== undefined)
      return `it sent a commitment of this signer's that was already used (request ${usedFor})`;
    if (
      this.staleAnswered.has(`${from}/${requestId}`) &&
      !this.issued.get(groupId)?.get(from)?.has(hiding)
    )
      return 'it sent a commitment this signer never gave it, after it had been given fresh ones';
    return undefined;
  }

  /**
   * The hiding commitments this node used in a group (see `used`): on first need, from the
   * share_released entries among its latest USED_SCAN audit entries of the group.
   */
  private usedNonces(groupId: string): Map<string, string> {
    let index = this.used.get(groupId);
    if (index) return index;
    const author = `${this.me.peerId}/${groupId}`;
    const found: [string, string][] = [];
    for (const e of this.store.audit.list({ author, order: 'desc', limit: USED_SCAN })) {
      const b = e.body as { nonce?: unknown; id?: unknown };
      if (e.type === 'request.share_released' && typeof b.nonce === 'string')
        found.push([b.nonce, String(b.id)]);
    }
    // Oldest first, so that the bound drops the oldest; a nonce named twice keeps its newest use.
    index = new Map();
    for (const [nonce, id] of found.reverse()) {
      index.delete(nonce);
      index.set(nonce, id);
    }
    this.used.set(groupId, index);
    return index;
  }

  /** This node wrote a share_released entry with `hiding` as its nonce (see `used`). */
  private noteUsed(groupId: string, hiding: string, requestId: string): void {
    // Not built yet: building it reads this entry from the log.
    const index = this.used.get(groupId);
    if (!index) return;
    index.delete(hiding);
    index.set(hiding, requestId);
    if (index.size > USED_SCAN) index.delete(index.keys().next().value!);
  }

  /**
   * Refuses a sign request only a lying coordinator sends: no share is computed and no nonce is
   * used. The coordinator is named in this node's view of the request (so this node no longer
   * counts it as the request's coordinator: the next approver takes over) and, once per request,
   * in this node's audit chain. That entry is this signer's own statement: the other members read
   * it as its word (nothing they can check), never as proof against the coordinator.
   */
  private refuseCoordinator(
    r: RequestRow,
    g: GroupRow,
    from: string,
    reason: string,
  ): { error: string } {
    reason = reason.slice(0, 300);
    this.log(
      `coordinator ${logSafe(this.memberName(g.id, from))} lied in its sign request for ${r.id}: ${logSafe(reason)}`,
    );
    const key = `${from}/${r.id}`;
    if (!this.namedCoordinators.has(key)) {
      remember(this.namedCoordinators, key);
      this.store.tx(() => {
        const culprits = union(this.store.requests.get(r.id)?.culprits ?? r.culprits, [from]);
        this.requests.updateRequest(r.id, { culprits, updatedAt: Date.now() });
        this.audit('request.share_refused', { id: r.id, coordinator: from, reason }, g.id);
      });
      this.notify(r.id);
      this.requests.evaluate(r.id);
    }
    return { error: `share refused: ${reason}` };
  }

  /**
   * A nonce pair for `key`: the one made ahead (never handed out twice: taken out here), or a new
   * one. The next is made SPARE_AFTER_MS later, once the signing this one serves is done: made
   * at once, it took a core from the other signers while they computed their shares.
   */
  private takeNonces(key: KeyPackage): SigningNonces {
    const ready = this.spare.get(key);
    this.spare.delete(key);
    const later = setTimeout(() => {
      try {
        if (!this.spare.has(key) && !this.stopped) this.spare.set(key, commit(key));
      } catch {
        // None made ahead: the next one is made when needed (and throws there, if it does).
      }
    }, SPARE_AFTER_MS);
    later.unref?.();
    return ready ?? commit(key);
  }

  /** A signer replaced by a repair: its commitments, both ways, are of no use any more. */
  forgetSigner(groupId: string, peer: string): void {
    this.pool.get(groupId)?.delete(peer);
    this.myNonces.get(groupId)?.delete(peer);
  }

  /** After a new epoch: every pool of the group is rebuilt from fresh commitments. */
  forgetGroup(groupId: string): void {
    this.myNonces.delete(groupId);
    this.pool.delete(groupId);
  }
}

/** Whether a wire commitment has exactly the fields and hex of `c`'s own wire form. */
function sameWire(wire: unknown, suite: Suite, c: NonceCommitment): boolean {
  if (wire === null || typeof wire !== 'object') return false;
  const w = wire as Record<string, unknown>;
  const mine = commitmentToJSON(suite, c);
  return w.identifier === mine.identifier && w.hiding === mine.hiding && w.binding === mine.binding;
}

/** Adds `key` to a bounded set of request keys (the oldest goes first). */
function remember(set: Set<string>, key: string): void {
  set.add(key);
  if (set.size > REQUESTS_KEPT) set.delete(set.values().next().value!);
}

/**
 * The newer attempt `a` of a part, unless the earlier `b` (held up by a late signer) yields a
 * signature first; `b` ending without one is left to `a`.
 */
function firstSigned(a: Promise<PartResult>, b: Promise<PartResult>): Promise<PartResult> {
  return new Promise<PartResult>((resolve, reject) => {
    a.then(resolve, reject);
    b.then(
      (res) => {
        if (res.sig) resolve(res);
      },
      () => undefined,
    );
  });
}
