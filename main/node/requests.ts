// Requests: signed statements (requests, decisions, outcomes), expiry, evaluation and the views of
// requests. Other members' outcomes are taken in outcomes.ts, the group policy's rules in
// request-policy.ts.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  ApiError,
  type PolicyView,
  type DecisionView,
  type RequestView,
} from '../../shared/api/index.js';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import {
  checkRequest,
  MAX_EXPIRY_SEC,
  MIN_EXPIRY_SEC,
  describePolicy,
  policyHash,
  validatePolicy,
  type GroupPolicy,
} from '../../shared/policy/policy.js';
import { coordinatorOf, deniedForGood } from '../../shared/protocol/decisions.js';
import { fingerprint } from '../../shared/protocol/roster.js';
import { logSafe } from '../../shared/protocol/text.js';
import {
  authorOf,
  LIMITS,
  requestId as requestIdOf,
  signStatement,
  statementHash,
  verifyStatement,
  type DecisionBody,
  type GroupMessage,
  type OutcomeBody,
  type RequestBody,
  type Signed,
} from '../../shared/protocol/wire.js';
import {
  decodeRequestBody,
  invalidCard,
  MAX_GROUP_SIZE,
  MAX_OPEN_REQUESTS_PER_MEMBER,
  opOfKind,
  opOfRequest,
  readRequest,
  requestContext,
  RequestParamError,
  validateIncomingRequest,
  type GroupContext,
  type ReconstructParams,
  type RequestCard,
  type RequestContext,
} from '../../shared/requests/index.js';
import { verifyEd25519 } from '../crypto/ed25519.js';
import { publicKeyFromPeerId } from '../net/index.js';
import type { DecisionRow, GroupRow, RequestRow } from '../store/index.js';
import {
  TERMINAL,
  DEFAULT_EXPIRY_SEC,
  DroppedMessage,
  groupContextOf,
  printableText,
  short,
} from './common.js';
import { type NodeServices, type NodeContext, NodeService } from './context.js';
import { Outcomes } from './outcomes.js';
import { RequestPolicy } from './request-policy.js';
import { trace } from './trace.js';

/** How many refused request ids are remembered, so that a sender's retries are logged once. */
const MAX_REFUSED_REMEMBERED = 1000;

/** How often the sweep looks at every open request whatever happened (a backstop). */
const FULL_SWEEP_MS = 30_000;

/** The most approved requests the sweep tries again every second (the rest: every full sweep). */
const MAX_RETRYING = 1000;

/** The statuses of a request still open (the complement of TERMINAL). */
const OPEN: RequestRow['status'][] = ['pending', 'signing'];
/**
 * How long this node's approval that completed a signing request's approvals goes to the
 * coordinator alone at most (sendDecision); the signing is done well within it on loopback.
 */
const HOLD_MS = 1_000;

export class RequestsService extends NodeService {
  private sweeper?: NodeJS.Timeout;
  /** Ids of requests refused on receipt, each logged once (bounded, oldest forgotten first). */
  private refused = new Set<string>();
  /** Ids of stored requests already logged as unreadable or failing in a timer (bounded too). */
  private troubleLogged = new Set<string>();
  /** Ids of open requests whose parameters the sweep has found readable (bounded too). */
  private readable = new Set<string>();
  /** Approved signing requests that wait for the refresh the policy requires after a repair. */
  private waitingForRefresh = new Set<string>();
  /**
   * Approved signing requests this node approved and may have to start (it coordinates, or will
   * if the coordinator goes offline): the sweep evaluates these every second (bounded).
   */
  private retrying = new Set<string>();
  /**
   * This node's approvals that completed a signing request's approvals, held back from the
   * members besides the coordinator while the signing runs (see sendDecision): the coordinator
   * sends them to every member with its outcome. `skip`: the coordinator it was sent to already
   * (none when this node coordinates: its signers get it with the sign request).
   */
  private readonly held = new Map<
    string,
    { groupId: string; statement: string; skip?: string; timer: NodeJS.Timeout }
  >();
  /** The earliest expiry among open requests, as the last sweep over them found it. */
  private nextExpiry = 0;
  /** When the sweep next looks at every open request (0: the next sweep does). */
  private nextFullSweep = 0;
  /** The groups as the last full sweep saw them (groupsStamp). */
  private lastGroups = '';
  /** Starts gathering ECDH partials for a request this node made (set by the ECDH service). */
  startEcdh?: (id: string) => void;
  /** Taking other members' outcomes and telling ours (outcomes.ts). */
  private readonly outcomes = new Outcomes(this.ctx, this);
  /** What the group policy says of requests, and applying a change of it (request-policy.ts). */
  private readonly rules = new RequestPolicy(this.ctx, this);
  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<
      NodeServices,
      'ceremony' | 'groups' | 'reconstruct' | 'settle' | 'signing'
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
  private get reconstruct() {
    return this.deps.reconstruct;
  }
  private get settle() {
    return this.deps.settle;
  }
  private get signing() {
    return this.deps.signing;
  }

  /** The one way other services change a request row (status, signature, failure, culprits). */
  updateRequest(id: string, patch: Partial<Omit<RequestRow, 'id'>>): void {
    this.store.requests.update(id, patch);
  }

  /**
   * What the request-kind registry needs to know about a group, as this node knows it now (with
   * the ECDSA key a reconstruction's card names, only when asked: it means decoding the package).
   */
  groupContext(g: GroupRow, forCard = false): GroupContext {
    const ctx = groupContextOf(this.store, g, this.policyOf(g.id), this.me.peerId);
    if (forCard)
      try {
        const key = this.ecdsaKeyHex(g.id);
        if (key) ctx.ecdsaKey = key;
      } catch {
        // A card without the ECDSA key still shows everything else.
      }
    return ctx;
  }

  /** The signed body of a stored request (its envelope is kept verbatim). */
  private bodyOf(r: RequestRow): RequestBody {
    return (JSON.parse(r.envelope) as Signed<RequestBody>).body;
  }

  /** The registry's context for one stored request: its group, author and policy hash. */
  contextOf(r: RequestRow): RequestContext {
    const g = this.store.groups.get(r.groupId);
    if (!g) throw new ApiError('not_found', `request ${r.id}: no group ${r.groupId} on this node`);
    return requestContext(this.bodyOf(r), this.groupContext(g));
  }

  /**
   * The decisions on a request that count: those of current members only. A member since removed
   * by a reshare, or replaced by a repair, no longer approves or denies anything (finding 6).
   */
  decisionsOf(r: Pick<RequestRow, 'id' | 'groupId'>): DecisionRow[] {
    return this.store.decisions
      .list(r.id)
      .filter((d) => this.memberByPeer(r.groupId, d.peerId) !== undefined);
  }

  /** Peer ids of the current members who approved a request. */
  approversOf(r: Pick<RequestRow, 'id' | 'groupId'>): string[] {
    return this.decisionsOf(r)
      .filter((d) => d.decision === 'approve')
      .map((d) => d.peerId);
  }

  /** Logs a line about a request once (a timer or a sender's retries would repeat it). */
  private logOnce(seen: Set<string>, id: string, line: string): void {
    if (seen.has(id)) return;
    if (seen.size >= MAX_REFUSED_REMEMBERED) seen.delete(seen.values().next().value!);
    seen.add(id);
    this.log(line);
  }

  /** Runs `f` for a stored request; anything it throws is logged once and never escapes. */
  private guarded(id: string, what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.logOnce(
        this.troubleLogged,
        `${what}:${id}`,
        `request ${id}: ${what} failed: ${logSafe((e as Error)?.message ?? e, 300)}`,
      );
    }
  }

  requestView(r: RequestRow): RequestView {
    const g = this.store.groups.get(r.groupId)!;
    // An open request shows the decisions that count now; a finished one, who decided at the time.
    const decisions = TERMINAL.includes(r.status)
      ? this.store.decisions.list(r.id)
      : this.decisionsOf(r);
    const dv = (peerId: string, at: number, reason?: string): DecisionView => {
      const v: DecisionView = {
        peerId,
        name: this.memberName(r.groupId, peerId),
        at: new Date(at).toISOString(),
      };
      if (reason) v.reason = reason;
      return v;
    };
    const view: RequestView = {
      id: r.id,
      group: r.groupId,
      groupName: g?.name ?? r.groupId,
      kind: r.kind,
      status: r.status,
      message: bytesToHex(r.message),
      messageSha256: bytesToHex(sha256(r.message)),
      createdBy: dv(r.createdBy, r.createdAt),
      createdAt: new Date(r.createdAt).toISOString(),
      expiresAt: new Date(r.expiresAt).toISOString(),
      approvals: decisions.filter((d) => d.decision === 'approve').map((d) => dv(d.peerId, d.at)),
      denials: decisions
        .filter((d) => d.decision === 'deny')
        .map((d) => dv(d.peerId, d.at, d.reason)),
      culprits: r.culprits,
    };
    if (g) {
      view.groupSize = g.size;
      this.guarded(r.id, 'counting its approvals', () => (view.approvalsNeeded = this.needed(r)));
    }
    // The card comes from the registry, which never throws: a request whose bytes cannot be read
    // shows as "cannot be shown"; the rest of the view is built so that it cannot throw either.
    view.card = this.cardOf(r, g);
    const readable = view.card.invalid === undefined;
    if (readable)
      this.guarded(r.id, 'describing it', () => {
        const description = this.describe(r);
        if (description) view.description = description;
        if (r.kind === 'reshare' || r.kind === 'repair') {
          const p = this.ceremony.ceremonyParams(r);
          const newcomers =
            p.ceremony === 'reshare' ? p.add : p.ceremony === 'repair' ? [p.newcomer] : [];
          if (newcomers.length)
            view.fingerprints = Object.fromEntries(
              newcomers.map((m) => [m.peerId, fingerprint(publicKeyFromPeerId(m.peerId))]),
            );
        }
      });
    if (
      (r.kind === 'refresh' || r.kind === 'reshare' || r.kind === 'repair') &&
      r.status === 'pending' &&
      view.approvals.length >= (g?.threshold ?? Infinity)
    ) {
      if (readable)
        this.guarded(r.id, 'planning it', () => {
          const { missing } = this.ceremony.ceremonyPlan(r);
          if (missing.length) view.waitingFor = missing;
        });
    } else {
      const text = printableText(r.message);
      if (text !== undefined) view.messageText = text;
    }
    if (r.signature) view.signature = bytesToHex(r.signature);
    if (r.failure) view.failure = r.failure;
    return view;
  }

  /** The approver's card for a stored request, decoded from its exact bytes. Never throws. */
  private cardOf(r: RequestRow, g: GroupRow | undefined): RequestCard {
    const name = g?.name ?? r.groupId;
    try {
      if (!g) return invalidCard(r.kind, name, `its group ${r.groupId} is not on this node`);
      // A finished request is shown as it was: its roster has since changed as it intended.
      return decodeRequestBody(this.bodyOf(r), this.groupContext(g, true), {
        current: !TERMINAL.includes(r.status),
      });
    } catch (e) {
      return invalidCard(r.kind, name, String((e as Error)?.message ?? e).slice(0, 300));
    }
  }

  createSignRequest(input: {
    group: string;
    message: string;
    encoding: 'utf8' | 'hex';
    expiresInSec?: number;
    approve?: boolean;
  }): RequestView {
    const g = this.groups.findGroup(input.group);
    if (g.status !== 'ready')
      throw new ApiError('not_ready', `group ${g.name} is ${g.status}, not ready to sign`);
    let bytes: Uint8Array;
    if (input.encoding === 'hex') {
      if (!/^([0-9a-fA-F]{2})*$/.test(input.message))
        throw new ApiError('bad_input', 'message: not valid hex');
      bytes = hexToBytes(input.message.toLowerCase());
    } else bytes = utf8ToBytes(input.message);
    if (bytes.length > LIMITS.message)
      throw new ApiError('bad_input', `message: at most ${LIMITS.message} bytes`);
    return this.createRequest(g, 'sign', bytes, input.expiresInSec, input.approve);
  }

  createRequest(
    g: GroupRow,
    kind: RequestBody['kind'],
    bytes: Uint8Array,
    expiresInSec?: number,
    approve = false,
  ): RequestView {
    const policy = this.policyOf(g.id);
    const expiry = expiresInSec ?? policy.defaultExpirySec ?? DEFAULT_EXPIRY_SEC;
    const verdict = checkRequest(
      policy,
      { kind, message: bytes, expiresInSec: expiry },
      g.threshold,
      g.size,
    );
    if (!verdict.allowed)
      throw new ApiError('conflict', `the group policy does not allow this: ${verdict.reason}`);
    const now = Date.now();
    const body: RequestBody = {
      v: 1,
      type: 'request',
      groupId: g.id,
      kind,
      message: bytesToHex(bytes),
      createdBy: this.me.peerId,
      createdAt: now,
      expiresAt: now + 1000 * expiry,
      nonce: bytesToHex(nodeRandomBytes(16)),
      policy: policyHash(policy),
    };
    // The same check every member runs when it receives the request: never sign one the others
    // would refuse.
    const check = validateIncomingRequest(body, { ...this.groupContext(g), receivedAt: now });
    if (!check.ok)
      throw new ApiError('bad_input', `this ${kind} request would be refused: ${check.message}`);
    const open = this.openBy(g.id, this.me.peerId);
    if (open >= MAX_OPEN_REQUESTS_PER_MEMBER)
      throw new ApiError(
        'conflict',
        `you have ${open} open requests in ${g.name}, the most a member may have: the others would refuse another; wait until some are done, denied or expired`,
      );
    if (opOfKind(kind) !== 'ceremony') {
      const owed = this.refreshOwed(g);
      if (owed) throw new ApiError('conflict', owed);
    }
    const signed = signStatement(body, (h) => this.me.sign(h));
    const id = requestIdOf(body);
    // The requester's own approval, when asked, is the same signed decision `decide` makes, stored
    // and sent with the request in one batch so no member sees the request without it.
    const items: Signed[] = [signed];
    this.store.tx(() => {
      this.storeRequest(signed);
      if (approve) {
        const decision = this.decisionStatement(signed.body, 'approve');
        this.storeDecision(decision);
        items.push(decision);
      }
    });
    this.broadcast(g.id, { v: 1, type: 'statements', items });
    if (approve) this.evaluate(id);
    return this.requestView(this.store.requests.get(id)!);
  }

  /** This node's signed decision on a request (its body as stored in the request's envelope). */
  private decisionStatement(
    req: RequestBody,
    decision: 'approve' | 'deny',
    reason?: string,
  ): Signed<DecisionBody> {
    const body: DecisionBody = {
      v: 1,
      type: 'decision',
      groupId: req.groupId,
      requestId: requestIdOf(req),
      requestHash: bytesToHex(statementHash(req)),
      decision,
      by: this.me.peerId,
      at: Date.now(),
    };
    if (reason) body.reason = reason;
    return signStatement(body, (h) => this.me.sign(h));
  }

  private storeRequest(s: Signed<RequestBody>): boolean {
    const id = requestIdOf(s.body);
    const b = s.body;
    const now = Date.now();
    const refused = this.policyRefusal(b);
    // Made under the policy an open change proposes, whose last approval has not come yet: "not
    // yet" (the sender retries), so the request is judged once the change is in force here.
    if (refused !== undefined && this.rules.awaitsPolicyChange(b))
      throw new Error(
        'this request was made under a policy change this member has not applied yet; try again shortly',
      );
    // Whatever createdAt it claims, a request stays open at most the policy's maximum from when
    // this node got it (finding 6).
    const expiresAt = Math.min(b.expiresAt, now + 1000 * this.maxExpirySec(b.groupId));
    return this.store.tx(() => {
      const fresh = this.store.requests.insert({
        id,
        groupId: b.groupId,
        kind: b.kind,
        message: hexToBytes(b.message),
        createdBy: b.createdBy,
        createdAt: b.createdAt,
        expiresAt,
        status: expiresAt <= now ? 'expired' : refused ? 'failed' : 'pending',
        failure: refused,
        culprits: [],
        envelope: JSON.stringify(s),
        updatedAt: now,
      });
      if (fresh && expiresAt < this.nextExpiry) this.nextExpiry = expiresAt;
      if (fresh)
        this.audit(
          'request.created',
          {
            id,
            by: b.createdBy,
            kind: b.kind,
            messageSha256: bytesToHex(sha256(hexToBytes(b.message))),
            expiresAt,
          },
          b.groupId,
        );
      return fresh;
    });
  }

  /** The policy's maximum expiry for a group, in seconds (the absolute bound if it has none). */
  private maxExpirySec(groupId: string): number {
    const m = this.policyOf(groupId).maxExpirySec;
    return Number.isSafeInteger(m) && m >= MIN_EXPIRY_SEC && m <= MAX_EXPIRY_SEC
      ? m
      : MAX_EXPIRY_SEC;
  }

  getRequest(id: string): RequestRow {
    const r = this.store.requests.get(id);
    if (!r)
      throw new ApiError(
        'not_found',
        `no request ${id} on this node; see \`conclave request list\``,
      );
    return r;
  }

  decide(id: string, decision: 'approve' | 'deny', reason?: string): RequestView {
    this.record(id, decision, reason);
    return this.requestView(this.store.requests.get(id)!);
  }

  /**
   * `decide` for the API: the answer (the request's view, a few milliseconds to build and send)
   * is made on the event loop's next turn, once the messages the decision started have left (a
   * coordinator's sign requests, which would otherwise wait behind it).
   */
  async decideThenAnswer(
    id: string,
    decision: 'approve' | 'deny',
    reason?: string,
  ): Promise<RequestView> {
    this.record(id, decision, reason);
    await new Promise<void>((resolve) => setImmediate(resolve));
    return this.requestView(this.store.requests.get(id)!);
  }

  /** This node's decision on a request: signed, stored (audited), sent, and acted on. */
  private record(id: string, decision: 'approve' | 'deny', reason?: string): void {
    trace(id, 'approve.start');
    const r = this.getRequest(id);
    this.refreshStatus(r.id);
    const cur = this.store.requests.get(id)!;
    if (TERMINAL.includes(cur.status))
      throw new ApiError('conflict', `request ${id} is already ${cur.status}`);
    const g = this.store.groups.get(r.groupId)!;
    if (!this.store.members.get(g.id, this.me.peerId))
      throw new ApiError('not_member', 'you are not a member of this group');
    const prior = this.store.decisions.list(id).find((d) => d.peerId === this.me.peerId);
    if (prior)
      throw new ApiError(
        'conflict',
        `you already ${prior.decision === 'approve' ? 'approved' : 'denied'} this request`,
      );
    const reqSigned = JSON.parse(r.envelope) as Signed<RequestBody>;
    const signed = this.decisionStatement(reqSigned.body, decision, reason);
    this.storeDecision(signed);
    trace(id, 'approve.stored');
    // Evaluated first: when this approval starts the signing here, the sign requests go out
    // before anything else (sendDecision).
    this.evaluate(id);
    this.sendDecision(g.id, signed);
    trace(id, 'approve.evaluated');
  }

  /**
   * Sends this node's new decision to the members. An approval that completes a signing request's
   * approvals goes first (or only) where the signing happens, and to everyone else with the
   * outcome: the approval-to-signature path then carries nothing but the signing, with no member
   * busy taking in a statement meanwhile (on two cores a tenth of a member's work there held up
   * the signers), and one message per member less. When this node coordinates, the signers get
   * it with the sign request; else it goes to the coordinator (as this node works it out, as
   * every approver does). Every member still gets it: with the coordinator's outcome, which
   * carries the approvals it holds, or from this node should the request end otherwise, or after
   * HOLD_MS whatever happened (a signing that takes longer, a coordinator seen differently).
   */
  private sendDecision(groupId: string, s: Signed<DecisionBody>): void {
    const id = s.body.requestId;
    const msg: GroupMessage = { v: 1, type: 'statements', items: [s] };
    let coordinator: string | undefined;
    if (s.body.decision === 'approve' && this.completes(id)) {
      if (this.signing.coordinating.has(id)) coordinator = this.me.peerId;
      else
        try {
          coordinator = this.signingCoordinator(id);
        } catch {
          coordinator = undefined;
        }
    }
    if (coordinator === undefined) {
      this.broadcast(groupId, msg);
      return;
    }
    const skip = coordinator === this.me.peerId ? undefined : coordinator;
    if (skip)
      this.sendReliably(skip, msg, 60_000).catch((e) =>
        this.log(`send to ${short(skip)} failed: ${(e as Error).message}`),
      );
    this.releaseHeld(id);
    const timer = setTimeout(() => this.releaseHeld(id), HOLD_MS);
    timer.unref?.();
    this.held.set(id, { groupId, statement: JSON.stringify(s), skip, timer });
  }

  /**
   * The other approver that is to sign request `id` now that this node's approval completed its
   * approvals, as this node sees it; undefined when it is not a signing about to start elsewhere.
   */
  private signingCoordinator(id: string): string | undefined {
    const r = this.store.requests.get(id);
    if (!r || TERMINAL.includes(r.status)) return undefined;
    if (opOfRequest(r.kind, r.message, this.contextOf(r)) !== 'sign') return undefined;
    const g = this.store.groups.get(r.groupId);
    if (!g || this.refreshOwed(g)) return undefined;
    const c = this.coordinatorNow(r, this.approversOf(r));
    return c === this.me.peerId ? undefined : c;
  }

  /** The approver that coordinates `r` now as this node sees it (coordinatorOf). */
  private coordinatorNow(r: RequestRow, approvers: readonly string[]): string | undefined {
    const online = (p: string) => p === this.me.peerId || this.host.isConnected(p);
    return coordinatorOf(approvers, online, r.culprits);
  }

  /**
   * Whether the approvals of an open request are exactly as many as it needs: the latest one
   * completed them (one more than that finds the signing under way or stuck, and is not held).
   */
  private completes(id: string): boolean {
    const r = this.store.requests.get(id);
    return !!r && !TERMINAL.includes(r.status) && this.approversOf(r).length === this.needed(r);
  }

  /** Sends a held approval (sendDecision) to the members it was held from, if still held. */
  releaseHeld(id: string): void {
    const h = this.held.get(id);
    if (!h) return;
    this.dropHeld(id);
    const msg: GroupMessage = {
      v: 1,
      type: 'statements',
      items: [JSON.parse(h.statement) as Signed],
    };
    this.broadcast(h.groupId, msg, undefined, h.skip);
  }

  /**
   * A batch of statements a member sent ('statements'), taken in order. When it is the outcome of
   * a request from the coordinator this node's held approval went to, carrying that approval
   * (sendDecision), the approval went to every member with it: no longer held. (A sign request
   * carries it back too, before any outcome: that does not count.)
   */
  acceptStatements(from: string, items: readonly Signed[]): void {
    for (const [id, h] of this.held)
      if (
        h.skip === from &&
        items.some((s) => s.body.type === 'outcome' && (s.body as OutcomeBody).requestId === id) &&
        items.some((s) => JSON.stringify(s) === h.statement)
      )
        this.dropHeld(id);
    // Each item on its own: one this node refuses does not cost it the rest, such as the outcome
    // after an approval it no longer counts. Anything else ("not yet": the sender retries) is
    // thrown once the others were taken; a batch refused whole is refused as before (the message
    // is counted as dropped and its sender told), else each refusal is counted naming the sender.
    let retry: unknown;
    let took = false;
    const drops: DroppedMessage[] = [];
    for (const s of items)
      try {
        this.acceptStatement(from, s);
        took = true;
      } catch (e) {
        if (e instanceof DroppedMessage) drops.push(e);
        else retry ??= e;
      }
    const thrown = retry ?? (took ? undefined : drops[0]);
    for (const d of drops) if (d !== thrown) this.count(d.reason, `from ${short(from)}`);
    if (thrown !== undefined) throw thrown;
  }

  /** Forgets a held approval, unsent. */
  private dropHeld(id: string): void {
    const h = this.held.get(id);
    if (!h) return;
    this.held.delete(id);
    clearTimeout(h.timer);
  }

  /**
   * The approval statements this node holds for a request (stored ones, as stored), for its
   * outcome to carry to every member (sendDecision); the held ones among them are no longer held.
   */
  approvalStatements(id: string): Signed[] {
    this.dropHeld(id);
    const r = this.store.requests.get(id);
    const out: Signed[] = [];
    // Current members' only: a removed member's approval counts nowhere any more.
    for (const d of r ? this.decisionsOf(r) : [])
      if (d.decision === 'approve')
        try {
          out.push(JSON.parse(d.statement) as Signed);
        } catch {
          // Checked when stored; a damaged row is left out, never a throw here.
        }
    return out;
  }

  /** Whether this exact signed decision (same bytes) is stored. */
  private holdsDecision(s: Signed<DecisionBody>): boolean {
    const text = JSON.stringify(s);
    return this.store.decisions
      .list(s.body.requestId)
      .some((d) => d.peerId === s.body.by && d.statement === text);
  }

  private storeDecision(s: Signed<DecisionBody>): boolean {
    const b = s.body;
    // With an entry in this node's own chain (its own decision, a denial): durable before this
    // returns (fail closed). Another member's approval alone is not this node's act: stored
    // without an fsync of its own (as other members' audit entries are), since the next sync
    // brings it again should a power loss take it, and any later durable transaction (a share
    // released with it, say) makes it durable too (one write-ahead log). It sits on the path
    // from the T-th approval to the sign requests and the shares.
    const audited = b.by === this.me.peerId || b.decision === 'deny';
    const store = () => {
      const fresh = this.store.decisions.insert({
        requestId: b.requestId,
        peerId: b.by,
        decision: b.decision,
        reason: b.reason,
        statement: JSON.stringify(s),
        at: b.at,
      });
      // This member's chain records its own decisions (fail closed: without the entry the
      // decision is not stored) and every denial, which is rare and what ends a request as
      // denied. Other members' approvals are not written one entry each (with each entry sent
      // to every member and checked there, that was N x N entries per request): the outcome
      // entry lists the approvals this member held (finish), and each approver's own chain has
      // its approval.
      if (fresh && (b.by === this.me.peerId || b.decision === 'deny'))
        this.audit(
          b.decision === 'approve' ? 'request.approved' : 'request.denied',
          { id: b.requestId, by: b.by, reason: b.reason, statement: s.sig },
          b.groupId,
        );
      return fresh;
    };
    return audited ? this.store.tx(store) : this.store.txNoSync(store);
  }

  /**
   * The approvals this node holds for a request, as its outcome entry records them: who, and the
   * signature of their signed decision (the statement itself is kept with the request and sent
   * on sync). At most MAX_GROUP_SIZE (one decision per member is stored); a stored statement that
   * does not read as one is listed without its signature. Never throws.
   */
  approvalsHeld(id: string): { by: string; statement?: string }[] {
    const held: { by: string; statement?: string }[] = [];
    for (const d of this.store.decisions.list(id)) {
      if (d.decision !== 'approve') continue;
      if (held.length >= MAX_GROUP_SIZE) break;
      let sig: unknown;
      try {
        sig = (JSON.parse(d.statement) as { sig?: unknown } | null)?.sig;
      } catch {
        sig = undefined;
      }
      held.push(
        typeof sig === 'string' && /^[0-9a-f]{1,256}$/.test(sig)
          ? { by: d.peerId, statement: sig }
          : { by: d.peerId },
      );
    }
    return held;
  }

  /**
   * The check every request gets when it arrives, before it is stored or shown: its body and its
   * kind's strict parameter schema, against the group as this node knows it now (finding 1). An
   * invalid one is never stored, counted as a drop and logged once per request id (not on every
   * retry). It is not thrown: the sender's delivery succeeds, so it stops sending, and the other
   * statements of a sync's batch (which a throw would end) are still taken. Returns whether it
   * was refused.
   */
  private refuseInvalid(s: Signed<RequestBody>, g: GroupRow): boolean {
    const b = s.body;
    const verdict = validateIncomingRequest(b, { ...this.groupContext(g), receivedAt: Date.now() });
    if (verdict.ok) return false;
    const id = requestIdOf(b);
    this.count('invalid_request');
    this.logOnce(
      this.refused,
      id,
      `refused ${logSafe(b.kind, 20)} request ${id} by ${logSafe(this.memberName(g.id, b.createdBy))} (${short(b.createdBy)}) in ${logSafe(g.name)}: ${logSafe(verdict.message, 300)}`,
    );
    return true;
  }

  /** How many requests `peer` has open in group `groupId` on this node. */
  private openBy(groupId: string, peer: string): number {
    return this.store.requests.list({ groupId, statuses: OPEN }).filter((r) => r.createdBy === peer)
      .length;
  }

  /**
   * A member holds at most MAX_OPEN_REQUESTS_PER_MEMBER open requests in a group: one that floods
   * them is refused here, quietly like an invalid one (its sender's delivery succeeds), until
   * some of its requests close; a later sync offers the refused ones again.
   */
  private refuseOverCap(s: Signed<RequestBody>, g: GroupRow): boolean {
    const b = s.body;
    const open = this.openBy(g.id, b.createdBy);
    if (open < MAX_OPEN_REQUESTS_PER_MEMBER) return false;
    const id = requestIdOf(b);
    this.count('too_many_open');
    this.logOnce(
      this.refused,
      id,
      `refused ${logSafe(b.kind, 20)} request ${id} by ${logSafe(this.memberName(g.id, b.createdBy))} (${short(b.createdBy)}) in ${logSafe(g.name)}: ${open} of its requests are open already, the most a member may have`,
    );
    return true;
  }

  /**
   * A statement received from `from` (who may be relaying another member's statement, as a
   * coordinator relays approvals with a sign request). With `later`, what a newly stored
   * decision starts here (evaluate, and waking the request's waiters) runs on the event loop's
   * next turn instead of now: a signer takes the approvals relayed with a sign request this way,
   * so its share is computed and returned first.
   */
  acceptStatement(from: string, s: Signed, later = false): void {
    const b = s.body;
    const g = this.store.groups.get(b.groupId);
    if (!g || !this.memberByPeer(b.groupId, from)) throw new DroppedMessage('non_member');
    const author = authorOf(b);
    if (!this.memberByPeer(b.groupId, author)) throw new DroppedMessage('non_member_author');
    // A decision held already, byte for byte, was checked when it was stored: signers get every
    // approval again with each sign request. Anything else (a new one, other bytes) is verified.
    if (b.type === 'decision') trace(b.requestId, 'decision.recv');
    if (b.type === 'decision' && this.holdsDecision(s as Signed<DecisionBody>)) {
      this.count('duplicate');
      return;
    }
    // Answers as noble's strict verify; native speed for a valid signature.
    if (!verifyStatement(s, publicKeyFromPeerId(author), verifyEd25519))
      throw new DroppedMessage('bad_signature');
    if (b.type === 'request') {
      // A newcomer stores only the reshare that is to add it (it arrives with the start message).
      const newcomer =
        g.status === 'forming' &&
        !!this.store.meta.get(`newcomer:${g.id}`) &&
        (b.kind === 'reshare' || b.kind === 'repair');
      // A member still finishing its DKG answers "not yet": the sender retries (broadcasts do).
      if ((g.status === 'dkg' || g.status === 'confirming') && !newcomer)
        throw new Error('this member is still generating the group key; try again shortly');
      if (g.status !== 'ready' && !newcomer) return;
      if (this.store.requests.get(requestIdOf(b))) {
        this.count('duplicate');
        return;
      }
      if (this.refuseInvalid(s as Signed<RequestBody>, g)) return;
      if (this.refuseOverCap(s as Signed<RequestBody>, g)) return;
      if (this.storeRequest(s as Signed<RequestBody>)) this.notify(requestIdOf(b));
      else this.count('duplicate');
      return;
    }
    const r = this.store.requests.get(b.requestId);
    // Decisions and outcomes of a request refused here follow it into the bin, quietly too.
    if (!r && this.refused.has(b.requestId)) {
      this.count('invalid_request');
      return;
    }
    // A decision or outcome can overtake its request: answer "not yet" so the sender retries
    // (broadcasts and syncs do) instead of losing it.
    if (!r) throw new Error('this node does not have that request yet; try again shortly');
    if (r.groupId !== b.groupId) throw new DroppedMessage('wrong_group');
    if (b.type === 'decision') {
      const env = JSON.parse(r.envelope) as Signed<RequestBody>;
      if (b.requestHash !== bytesToHex(statementHash(env.body)))
        throw new DroppedMessage('wrong_request_hash');
      if (this.storeDecision(s as Signed<DecisionBody>)) {
        trace(r.id, 'decision.stored');
        const consider = () => {
          this.evaluate(r.id);
          this.notify(r.id);
        };
        if (later) setImmediate(() => !this.stopped && consider());
        else consider();
      } else this.count('duplicate');
      return;
    }
    this.outcomes.accept(r, s as Signed<OutcomeBody>);
  }

  finish(
    id: string,
    patch: Partial<RequestRow>,
    auditType: string,
    auditBody: Record<string, unknown>,
  ): void {
    const r = this.store.requests.get(id)!;
    // Ended here: an approval still held goes to everyone now (sendDecision).
    this.releaseHeld(id);
    this.store.tx(() => {
      this.store.requests.update(id, { ...patch, updatedAt: Date.now() });
      // Every outcome entry carries the approvals the request ended with, here (storeDecision).
      this.audit(auditType, { ...auditBody, approvals: this.approvalsHeld(id) }, r.groupId);
    });
    this.notify(id);
  }

  async sendStatements(peer: string, groupId: string): Promise<void> {
    const items: Signed[] = [];
    // The 200 stored last, sent in the order this node stored them: the peer judges each request
    // under the policy in force when it arrives, so a policy change (request, approvals) must come
    // before the requests made under the policy it set. Sent newest first, a member back from
    // offline failed those for good; by createdAt (the creator's clock) a skewed clock could
    // still put a request before the change it was made under.
    const recent = this.store.requests.list({ groupId, order: 'stored', limit: 200 });
    for (const r of recent.reverse()) {
      items.push(JSON.parse(r.envelope) as Signed);
      for (const d of this.store.decisions.list(r.id))
        items.push(JSON.parse(d.statement) as Signed);
      const o = this.outcomes.outcomeOf(r);
      if (o) items.push(o);
    }
    for (let i = 0; i < items.length; i += 300)
      await this.sendReliably(
        peer,
        { v: 1, type: 'statements', items: items.slice(i, i + 300) },
        60_000,
      );
  }

  /**
   * Expiry and denial, from what this node knows. Called by views and the request list: whatever a
   * stored request holds, it logs instead of throwing.
   */
  refreshStatus(id: string): void {
    this.guarded(id, 'checking its expiry', () => this.refreshStatusNow(id));
  }

  private refreshStatusNow(id: string): void {
    const r = this.store.requests.get(id);
    if (!r || TERMINAL.includes(r.status)) return;
    // Expiry ends the wait for approvals, not a ceremony already under way.
    const underWay = () =>
      this.ceremony.ceremonies.has(id) || this.settle.pendingCeremony(r.groupId)?.requestId === id;
    if (Date.now() >= r.expiresAt && !underWay()) {
      this.finish(id, { status: 'expired' }, 'request.expired', { id });
      return;
    }
    const g = this.store.groups.get(r.groupId)!;
    const denials = this.decisionsOf(r).filter((d) => d.decision === 'deny').length;
    if (deniedForGood(denials, g.size, this.needed(r)))
      this.finish(id, { status: 'denied' }, 'request.denied_final', { id, denials });
  }

  /**
   * Every second (a timer: nothing here may throw, one bad row must not stop the others). What it
   * is for: expiry, the wait for a refresh a repair made owed, and trying again an approved
   * signing request whose last attempt found too few signers ready (no message may come to wake
   * it). A decision or a request arriving is evaluated when it arrives, so most seconds nothing
   * changed: then the sweep only compares the time with the next expiry, looks at the requests
   * waiting for a refresh and evaluates those this node approved and may coordinate (`retrying`).
   * Every request still open is looked at again (`sweepAll`) on the first sweep, when a group
   * changed (a reshare or repair changes who counts), when a policy changed, and every
   * FULL_SWEEP_MS whatever happened, as a backstop.
   */
  sweep(): void {
    if (this.stopped) return;
    try {
      const now = Date.now();
      const groups = this.groupsStamp();
      if (now >= this.nextFullSweep || groups !== this.lastGroups) {
        this.lastGroups = groups;
        this.nextFullSweep = now + FULL_SWEEP_MS;
        this.sweepAll();
        return;
      }
      if (now >= this.nextExpiry) this.sweepExpired(now);
      const woken = this.wakeRefreshed();
      for (const id of [...this.retrying])
        if (!woken.has(id) && !this.waitingForRefresh.has(id)) this.evaluate(id);
    } catch (e) {
      this.log(`request sweep failed: ${logSafe((e as Error)?.message ?? e, 300)}`);
    }
  }

  /**
   * New commitments for a group arrived: the pending requests of the group this node approved
   * and may start (`retrying`) are evaluated again; no other request waits for commitments.
   */
  evaluateRetrying(groupId: string): void {
    for (const id of [...this.retrying])
      this.guarded(id, 'evaluating it', () => {
        const r = this.store.requests.get(id);
        if (!r || (r.groupId === groupId && r.status === 'pending')) this.evaluateNow(id);
      });
  }

  /** Makes the next sweep look at every open request again (a policy changed, say). */
  sweepAllSoon(): void {
    this.nextFullSweep = 0;
  }

  /** What of the groups can change what an open request needs or who counts for it. */
  private groupsStamp(): string {
    try {
      return this.store.groups
        .list()
        .map((g) => `${g.id}:${g.status}:${g.epoch}:${g.size}:${g.threshold}:${g.updatedAt}`)
        .join('|');
    } catch {
      // A group row that cannot be read: every sweep looks at everything, as it always did.
      return `unreadable at ${Date.now()}`;
    }
  }

  /** Every open request: expiry, final denial, readability, and evaluation of signing ones. */
  private sweepAll(): void {
    let next = Infinity;
    for (const r of this.store.requests.list({ statuses: OPEN })) {
      next = Math.min(next, r.expiresAt);
      this.guarded(r.id, 'checking its expiry', () => {
        if (!this.failedUnreadable(r)) this.refreshStatusNow(r.id);
      });
    }
    this.nextExpiry = next;
    const woken = this.wakeRefreshed();
    // An approved signing request whose last attempt found too few signers ready (one was
    // offline, or its commitments here had run out) is tried again: no message may come to wake
    // it. evaluate() does nothing unless this node is its coordinator and is not signing it yet.
    for (const r of this.store.requests.list({ statuses: ['pending'] }))
      if (opOfKind(r.kind) === 'sign' && !woken.has(r.id) && !this.waitingForRefresh.has(r.id))
        this.evaluate(r.id);
  }

  /** The open requests whose time is up (or still running past it: a ceremony under way). */
  private sweepExpired(now: number): void {
    let next = Infinity;
    for (const r of this.store.requests.list({ statuses: OPEN })) {
      if (r.expiresAt > now) {
        next = Math.min(next, r.expiresAt);
        continue;
      }
      this.guarded(r.id, 'checking its expiry', () => {
        if (!this.failedUnreadable(r)) this.refreshStatusNow(r.id);
      });
      // Still open (a ceremony under way, or a step threw): looked at again next second.
      if (!TERMINAL.includes(this.store.requests.get(r.id)?.status ?? 'expired'))
        next = Math.min(next, r.expiresAt);
    }
    this.nextExpiry = next;
  }

  /** Signing requests that waited for the refresh the policy requires after a repair. */
  private wakeRefreshed(): Set<string> {
    const woken = new Set<string>();
    for (const id of [...this.waitingForRefresh])
      this.guarded(id, 'waking it', () => {
        const r = this.store.requests.get(id);
        const g = r && this.store.groups.get(r.groupId);
        if (!r || !g || TERMINAL.includes(r.status)) this.waitingForRefresh.delete(id);
        else if (!this.refreshOwed(g)) {
          this.waitingForRefresh.delete(id);
          this.evaluate(id);
          woken.add(id);
        }
      });
    return woken;
  }

  /**
   * An open request stored before requests were checked on receipt, whose parameters cannot be
   * read, ends as failed here: nothing can run it, and every loop over open requests (redial,
   * newcomers) would otherwise meet it again and again. Returns whether it did.
   */
  private failedUnreadable(r: RequestRow): boolean {
    if (this.readable.has(r.id)) return false;
    try {
      readRequest(r.kind, r.message, this.contextOf(r));
    } catch (e) {
      if (!(e instanceof RequestParamError)) throw e;
      this.log(`request ${r.id} cannot be read and ends here: ${logSafe(e.message, 300)}`);
      this.finish(
        r.id,
        { status: 'failed', failure: `its parameters cannot be read: ${e.message.slice(0, 300)}` },
        'request.failed',
        { id: r.id, failure: 'unreadable parameters' },
      );
      return true;
    }
    if (this.readable.size >= MAX_REFUSED_REMEMBERED)
      this.readable.delete(this.readable.values().next().value!);
    this.readable.add(r.id);
    return false;
  }

  /**
   * Decides whether this node coordinates signing now, and starts it. Called from timers, events
   * and handlers: whatever a stored request holds, it logs instead of throwing.
   */
  evaluate(id: string): void {
    this.guarded(id, 'evaluating it', () => this.evaluateNow(id));
  }

  private evaluateNow(id: string): void {
    this.refreshStatus(id);
    const r = this.store.requests.get(id);
    // Kept in `retrying` only while it gets to the point of starting below (and while it runs).
    if (!r || TERMINAL.includes(r.status)) {
      this.retrying.delete(id);
      return;
    }
    if (this.signing.coordinating.has(id)) return;
    this.retrying.delete(id);
    // Only current members' approvals count (finding 6).
    const approvers = this.approversOf(r);
    if (approvers.length < this.needed(r)) return;
    if (r.kind === 'policy') {
      this.rules.applyPolicyChange(r);
      return;
    }
    if (r.kind === 'reconstruct') {
      void this.reconstruct
        .reconstructStep(r)
        .catch((e) => this.log(`reconstruction ${r.id}: ${(e as Error).message}`));
      return;
    }
    const op = opOfRequest(r.kind, r.message, this.contextOf(r));
    if (op !== 'ceremony') {
      const g = this.store.groups.get(r.groupId)!;
      const owed = this.refreshOwed(g);
      if (owed) {
        // It waits, approved, until the group has refreshed (the sweep looks again).
        if (!this.waitingForRefresh.has(id)) {
          this.waitingForRefresh.add(id);
          this.log(`request ${id} waits: ${owed}`);
        }
        return;
      }
    }
    // From here on the sweep tries it again every second until it ends (see sweep): approved,
    // and this node may have to start it (as the coordinator changes with who is online).
    const retry = () => {
      if (opOfKind(r.kind) === 'sign' && this.retrying.size < MAX_RETRYING) this.retrying.add(id);
    };
    if (op === 'ecdh') {
      // Only the requester learns an ECDH result: it alone gathers the partials.
      if (r.createdBy === this.me.peerId) {
        retry();
        this.startEcdh?.(id);
      }
      return;
    }
    if (!approvers.includes(this.me.peerId)) return;
    retry();
    if (this.coordinatorNow(r, approvers) !== this.me.peerId) return;
    const failed = (e: unknown) =>
      this.log(`${r.kind} ${id} could not start: ${logSafe((e as Error)?.message ?? e, 300)}`);
    if (op === 'sign') void this.signing.coordinate(id).catch(failed);
    else void this.ceremony.startCeremony(id).catch(failed);
  }
  /** Why new signing must wait for a refresh after a repair, or undefined (request-policy.ts). */
  refreshOwed(g: GroupRow): string | undefined {
    return this.rules.refreshOwed(g);
  }

  /** The policy in force for a group (the default until a policy request changed it). */
  policyOf(groupId: string): GroupPolicy {
    return this.rules.policyOf(groupId);
  }

  /** Approvals a request needs under the group's policy (at least T). */
  needed(r: RequestRow): number {
    return this.rules.needed(r);
  }

  /** Why this node refuses a request under its own copy of the group policy, or undefined. */
  policyRefusal(b: RequestBody): string | undefined {
    return this.rules.policyRefusal(b);
  }

  policyView(ref: string): PolicyView {
    return this.rules.policyView(this.groups.findGroup(ref));
  }

  createPolicyRequest(input: {
    group: string;
    policy: Record<string, unknown>;
    expiresInSec?: number;
    approve?: boolean;
  }): RequestView {
    const g = this.groups.findGroup(input.group);
    if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} is ${g.status}`);
    let next: GroupPolicy;
    try {
      next = validatePolicy(input.policy, g.threshold, g.size);
    } catch (e) {
      throw new ApiError('bad_input', `policy: ${(e as Error).message}`);
    }
    const change = { v: 1, from: policyHash(this.policyOf(g.id)), policy: next };
    return this.createRequest(
      g,
      'policy',
      utf8ToBytes(canonicalJSON(change)),
      input.expiresInSec,
      input.approve,
    );
  }

  /** What a ceremony request does, in words; undefined for signing requests. */
  private describe(r: RequestRow): string | undefined {
    if (r.kind === 'sign') return undefined;
    // A use's card says what it does (decoded from its bytes by its kind's module).
    if (opOfKind(r.kind) !== 'ceremony')
      return this.cardOf(r, this.store.groups.get(r.groupId)).summary;
    if (r.kind === 'reconstruct') {
      const g = this.store.groups.get(r.groupId);
      const p = JSON.parse(new TextDecoder().decode(r.message)) as ReconstructParams;
      const what =
        p.operation === 'export'
          ? 'export it encrypted (to migrate it elsewhere)'
          : `sign the digest ${p.digest} with ECDSA (the signature verifies under the secp256k1 key ${this.ecdsaKeyHex(r.groupId) ?? 'of the group'})`;
      return `RECONSTRUCT the whole key of ${g?.name ?? r.groupId} on ${this.memberName(r.groupId, p.requester)}'s computer to ${what}. Purpose: "${p.purpose}". Approvers send their shares to that computer; afterwards the key must be treated as exposed and funds moved to a new key.`;
    }
    if (r.kind === 'policy') {
      const g = this.store.groups.get(r.groupId);
      const change = JSON.parse(new TextDecoder().decode(r.message)) as { policy: GroupPolicy };
      return `Change the group policy of ${g?.name ?? r.groupId} to: ${describePolicy(change.policy, g?.threshold ?? 2, g?.size ?? 2).join(' ')}`;
    }
    const g = this.store.groups.get(r.groupId);
    const p = this.ceremony.ceremonyParams(r);
    const name = g?.name ?? r.groupId;
    if (p.ceremony === 'repair')
      return `Repair: rebuild ${this.memberName(r.groupId, p.lost)}'s share on a new device, ${p.newcomer.name} (fingerprint ${fingerprint(publicKeyFromPeerId(p.newcomer.peerId))}), which takes their place; ${this.memberName(r.groupId, p.lost)}'s old identity stops counting. ${g?.threshold ?? 'T'} members help without any of them learning the share; the public key and epoch stay the same.`;
    if (p.ceremony === 'refresh')
      return `Refresh every member's share of ${name} (epoch ${p.fromEpoch} → ${p.fromEpoch + 1}). The public key stays the same; the old shares and their backups stop working. Every member must be online.`;
    const parts: string[] = [];
    for (const a of p.add)
      parts.push(`add ${a.name} (${fingerprint(publicKeyFromPeerId(a.peerId))})`);
    for (const peer of p.remove) parts.push(`remove ${this.memberName(r.groupId, peer)}`);
    if (g && p.threshold !== g.threshold)
      parts.push(`change the threshold from ${g.threshold} to ${p.threshold}`);
    return `Reshare ${name}: ${parts.join(', ') || 'new shares for the same members'} (epoch ${p.fromEpoch} → ${p.fromEpoch + 1}, ${p.threshold} of ${p.size} afterwards). The public key stays the same; removed members' shares stop working.`;
  }

  /**
   * The 33-byte compressed key an ECDSA signature from a reconstruction verifies under: the group
   * key itself (secp256k1) or the taproot internal key with its own parity, not the output key.
   */
  private ecdsaKeyHex(groupId: string): string | undefined {
    const pub = this.publicPackage(groupId);
    return pub && pub.scheme !== 'ed25519' ? bytesToHex(pub.groupKey.toBytes()) : undefined;
  }

  /**
   * Tells every member how a request ended here, so that members that never took part in it (it
   * was refused, or they were busy) end it too instead of keeping it approved and pending. What is
   * sent is outcomeOf's: a stored failure goes out as its reporter signed it.
   */
  announceOutcome(requestId: string): void {
    const r = this.store.requests.get(requestId);
    const outcome = r && this.outcomes.outcomeOf(r);
    if (outcome) this.broadcast(r.groupId, { v: 1, type: 'statements', items: [outcome] });
  }

  async waitRequest(id: string, timeoutSec: number): Promise<RequestView> {
    this.getRequest(id);
    const until = Date.now() + timeoutSec * 1000;
    for (;;) {
      this.refreshStatus(id);
      const r = this.store.requests.get(id)!;
      if (TERMINAL.includes(r.status) || Date.now() >= until || this.stopped)
        return this.requestView(r);
      await new Promise<void>((resolve) => {
        let ws = this.ctx.waiters.get(id);
        if (!ws) this.ctx.waiters.set(id, (ws = new Set()));
        const done = () => {
          clearTimeout(t);
          ws!.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(1000, Math.max(0, until - Date.now())));
        ws.add(done);
      });
    }
  }

  /** Every second: expiry and final denial of the requests still open. */
  start(): void {
    this.sweeper = setInterval(() => this.sweep(), 1000);
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
  }
}
