// Requests: signed statements (requests, decisions, outcomes), expiry, evaluation, group policy and
// the views of requests.
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
import { verifySignature } from '../../shared/crypto/sign.js';
import {
  approvalsNeeded,
  checkRequest,
  defaultPolicy,
  describePolicy,
  policyHash,
  validatePolicy,
  validatePolicyChange,
  type GroupPolicy,
} from '../../shared/policy/policy.js';
import { coordinatorOf, deniedForGood } from '../../shared/protocol/decisions.js';
import { fingerprint } from '../../shared/protocol/roster.js';
import {
  authorOf,
  LIMITS,
  requestId as requestIdOf,
  signStatement,
  statementHash,
  verifyStatement,
  type DecisionBody,
  type OutcomeBody,
  type RequestBody,
  type Signed,
} from '../../shared/protocol/wire.js';
import { publicKeyFromPeerId } from '../net/index.js';
import type { GroupRow, RequestRow } from '../store/index.js';
import {
  TERMINAL,
  DEFAULT_EXPIRY_SEC,
  DroppedMessage,
  union,
  printableText,
  type ReconstructParams,
} from './common.js';
import { type NodeServices, type NodeContext, NodeService } from './context.js';

export class RequestsService extends NodeService {
  private sweeper?: NodeJS.Timeout;
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

  requestView(r: RequestRow): RequestView {
    const g = this.store.groups.get(r.groupId)!;
    const decisions = this.store.decisions.list(r.id);
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
    if (
      (r.kind === 'refresh' || r.kind === 'reshare' || r.kind === 'repair') &&
      r.status === 'pending' &&
      view.approvals.length >= (g?.threshold ?? Infinity)
    ) {
      const { missing } = this.ceremony.ceremonyPlan(r);
      if (missing.length) view.waitingFor = missing;
    } else {
      const text = printableText(r.message);
      if (text !== undefined) view.messageText = text;
    }
    if (r.signature) view.signature = bytesToHex(r.signature);
    if (r.failure) view.failure = r.failure;
    return view;
  }

  createSignRequest(input: {
    group: string;
    message: string;
    encoding: 'utf8' | 'hex';
    expiresInSec?: number;
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
    return this.createRequest(g, 'sign', bytes, input.expiresInSec);
  }

  createRequest(
    g: GroupRow,
    kind: RequestBody['kind'],
    bytes: Uint8Array,
    expiresInSec?: number,
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
    const signed = signStatement(body, (h) => this.me.sign(h));
    this.storeRequest(signed);
    this.broadcast(g.id, { v: 1, type: 'statements', items: [signed] });
    return this.requestView(this.store.requests.get(requestIdOf(body))!);
  }

  private storeRequest(s: Signed<RequestBody>): boolean {
    const id = requestIdOf(s.body);
    const b = s.body;
    const now = Date.now();
    const refused = this.policyRefusal(b);
    return this.store.tx(() => {
      const fresh = this.store.requests.insert({
        id,
        groupId: b.groupId,
        kind: b.kind,
        message: hexToBytes(b.message),
        createdBy: b.createdBy,
        createdAt: b.createdAt,
        expiresAt: b.expiresAt,
        status: b.expiresAt <= now ? 'expired' : refused ? 'failed' : 'pending',
        failure: refused,
        culprits: [],
        envelope: JSON.stringify(s),
        updatedAt: now,
      });
      if (fresh)
        this.audit(
          'request.created',
          {
            id,
            by: b.createdBy,
            kind: b.kind,
            messageSha256: bytesToHex(sha256(hexToBytes(b.message))),
            expiresAt: b.expiresAt,
          },
          b.groupId,
        );
      return fresh;
    });
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
    const body: DecisionBody = {
      v: 1,
      type: 'decision',
      groupId: g.id,
      requestId: id,
      requestHash: bytesToHex(statementHash(reqSigned.body)),
      decision,
      by: this.me.peerId,
      at: Date.now(),
    };
    if (reason) body.reason = reason;
    const signed = signStatement(body, (h) => this.me.sign(h));
    this.storeDecision(signed);
    this.broadcast(g.id, { v: 1, type: 'statements', items: [signed] });
    this.evaluate(id);
    return this.requestView(this.store.requests.get(id)!);
  }

  private storeDecision(s: Signed<DecisionBody>): boolean {
    const b = s.body;
    return this.store.tx(() => {
      const fresh = this.store.decisions.insert({
        requestId: b.requestId,
        peerId: b.by,
        decision: b.decision,
        reason: b.reason,
        statement: JSON.stringify(s),
        at: b.at,
      });
      if (fresh)
        this.audit(
          b.decision === 'approve' ? 'request.approved' : 'request.denied',
          { id: b.requestId, by: b.by, reason: b.reason, statement: s.sig },
          b.groupId,
        );
      return fresh;
    });
  }

  /** A statement received from `from` (who may be relaying another member's statement). */
  acceptStatement(from: string, s: Signed): void {
    const b = s.body;
    const g = this.store.groups.get(b.groupId);
    if (!g || !this.memberByPeer(b.groupId, from)) throw new DroppedMessage('non_member');
    const author = authorOf(b);
    if (!this.memberByPeer(b.groupId, author)) throw new DroppedMessage('non_member_author');
    if (!verifyStatement(s, publicKeyFromPeerId(author))) throw new DroppedMessage('bad_signature');
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
      if (this.storeRequest(s as Signed<RequestBody>)) this.notify(requestIdOf(b));
      else this.count('duplicate');
      return;
    }
    const r = this.store.requests.get(b.requestId);
    // A decision or outcome can overtake its request: answer "not yet" so the sender retries
    // (broadcasts and syncs do) instead of losing it.
    if (!r) throw new Error('this node does not have that request yet; try again shortly');
    if (r.groupId !== b.groupId) throw new DroppedMessage('wrong_group');
    if (b.type === 'decision') {
      const env = JSON.parse(r.envelope) as Signed<RequestBody>;
      if (b.requestHash !== bytesToHex(statementHash(env.body)))
        throw new DroppedMessage('wrong_request_hash');
      if (this.storeDecision(s as Signed<DecisionBody>)) {
        this.evaluate(r.id);
        this.notify(r.id);
      } else this.count('duplicate');
      return;
    }
    this.acceptOutcome(r, b);
  }

  private acceptOutcome(r: RequestRow, b: OutcomeBody): void {
    if (r.status === 'done') return;
    if (b.signature) {
      const pub = this.publicPackage(r.groupId);
      if (!pub || !verifySignature(pub, r.message, hexToBytes(b.signature)))
        throw new DroppedMessage('bad_result');
      this.finish(r.id, { status: 'done', signature: hexToBytes(b.signature) }, 'request.signed', {
        id: r.id,
        signature: b.signature,
        by: b.by,
      });
      return;
    }
    if (b.failure && !TERMINAL.includes(r.status))
      this.finish(
        r.id,
        { status: 'failed', failure: b.failure, culprits: union(r.culprits, b.culprits) },
        'request.failed',
        { id: r.id, failure: b.failure, culprits: b.culprits, by: b.by },
      );
  }

  finish(
    id: string,
    patch: Partial<RequestRow>,
    auditType: string,
    auditBody: Record<string, unknown>,
  ): void {
    const r = this.store.requests.get(id)!;
    this.store.tx(() => {
      this.store.requests.update(id, { ...patch, updatedAt: Date.now() });
      this.audit(auditType, auditBody, r.groupId);
    });
    this.notify(id);
  }

  async sendStatements(peer: string, groupId: string): Promise<void> {
    const items: Signed[] = [];
    for (const r of this.store.requests.list({ groupId }).slice(0, 200)) {
      items.push(JSON.parse(r.envelope) as Signed);
      for (const d of this.store.decisions.list(r.id))
        items.push(JSON.parse(d.statement) as Signed);
      const o = this.outcomeOf(r);
      if (o) items.push(o);
    }
    for (let i = 0; i < items.length; i += 300)
      await this.sendReliably(
        peer,
        { v: 1, type: 'statements', items: items.slice(i, i + 300) },
        60_000,
      );
  }

  private outcomeOf(r: RequestRow): Signed<OutcomeBody> | undefined {
    if (r.status !== 'done' && r.status !== 'failed') return undefined;
    const body: OutcomeBody = {
      v: 1,
      type: 'outcome',
      groupId: r.groupId,
      requestId: r.id,
      culprits: r.culprits,
      by: this.me.peerId,
      at: r.updatedAt,
    };
    if (r.signature) body.signature = bytesToHex(r.signature);
    else if (r.failure) body.failure = r.failure;
    else return undefined;
    return signStatement(body, (h) => this.me.sign(h));
  }

  /** Expiry and denial, from what this node knows. */
  refreshStatus(id: string): void {
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
    const denials = this.store.decisions.list(id).filter((d) => d.decision === 'deny').length;
    if (deniedForGood(denials, g.size, this.needed(r)))
      this.finish(id, { status: 'denied' }, 'request.denied_final', { id, denials });
  }

  sweep(): void {
    if (this.stopped) return;
    for (const r of this.store.requests.list({ statuses: ['pending', 'signing'] }))
      this.refreshStatus(r.id);
  }

  /** Decides whether this node coordinates signing now, and starts it. */
  evaluate(id: string): void {
    this.refreshStatus(id);
    const r = this.store.requests.get(id);
    if (!r || TERMINAL.includes(r.status) || this.signing.coordinating.has(id)) return;
    const approvers = this.store.decisions
      .list(id)
      .filter((d) => d.decision === 'approve')
      .map((d) => d.peerId);
    if (approvers.length < this.needed(r)) return;
    if (r.kind === 'policy') {
      this.applyPolicyChange(r);
      return;
    }
    if (r.kind === 'reconstruct') {
      void this.reconstruct
        .reconstructStep(r)
        .catch((e) => this.log(`reconstruction ${r.id}: ${(e as Error).message}`));
      return;
    }
    if (!approvers.includes(this.me.peerId)) return;
    const online = (p: string) => p === this.me.peerId || this.host.isConnected(p);
    if (coordinatorOf(approvers, online, r.culprits) !== this.me.peerId) return;
    if (r.kind === 'sign') void this.signing.coordinate(id);
    else void this.ceremony.startCeremony(id);
  }

  /** The policy in force for a group (the default until a policy request changed it). */
  policyOf(groupId: string): GroupPolicy {
    const raw = this.store.meta.get(`policy:${groupId}`);
    return raw ? (JSON.parse(raw) as GroupPolicy) : defaultPolicy();
  }

  /** Approvals a request needs under the group's policy (at least T). */
  needed(r: RequestRow): number {
    const g = this.store.groups.get(r.groupId)!;
    return approvalsNeeded(this.policyOf(g.id), r.kind, g.threshold, g.size);
  }

  /**
   * Why this node refuses a request under its own copy of the group policy, or undefined: a
   * request made under another policy (hash) or one the policy does not allow is never approved
   * or signed here, so a member with a tampered policy cannot make the others sign.
   */
  policyRefusal(b: RequestBody): string | undefined {
    const g = this.store.groups.get(b.groupId);
    if (!g) return undefined;
    const policy = this.policyOf(g.id);
    if (b.policy !== policyHash(policy))
      return 'this request was made under another group policy than the one in force here; it cannot be approved';
    const verdict = checkRequest(
      policy,
      {
        kind: b.kind,
        message: hexToBytes(b.message),
        expiresInSec: Math.round((b.expiresAt - b.createdAt) / 1000),
      },
      g.threshold,
      g.size,
    );
    return verdict.allowed ? undefined : `against the group policy: ${verdict.reason}`;
  }

  policyView(ref: string): PolicyView {
    const g = this.groups.findGroup(ref);
    const p = this.policyOf(g.id);
    return {
      group: g.id,
      hash: policyHash(p),
      policy: p as unknown as Record<string, unknown>,
      description: describePolicy(p, g.threshold, g.size),
    };
  }

  createPolicyRequest(input: {
    group: string;
    policy: Record<string, unknown>;
    expiresInSec?: number;
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
    return this.createRequest(g, 'policy', utf8ToBytes(canonicalJSON(change)), input.expiresInSec);
  }

  /** Every member applies an approved policy change itself, as soon as it sees enough approvals. */
  private applyPolicyChange(r: RequestRow): void {
    const g = this.store.groups.get(r.groupId)!;
    let next: GroupPolicy;
    try {
      next = validatePolicyChange(
        JSON.parse(new TextDecoder().decode(r.message)),
        this.policyOf(g.id),
        g.threshold,
        g.size,
      );
    } catch (e) {
      this.finish(
        r.id,
        { status: 'failed', failure: `policy change refused: ${(e as Error).message}` },
        'request.failed',
        { id: r.id },
      );
      return;
    }
    this.store.tx(() => {
      this.store.meta.set(`policy:${g.id}`, JSON.stringify(next));
      this.store.requests.update(r.id, { status: 'done', updatedAt: Date.now() });
      this.audit('group.policy_changed', { requestId: r.id, hash: policyHash(next) }, g.id);
    });
    this.notify(r.id);
    this.emit({ type: 'group', id: g.id });
  }

  /** What a ceremony request does, in words; undefined for signing requests. */
  private describe(r: RequestRow): string | undefined {
    if (r.kind === 'sign') return undefined;
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
   * was refused, or they were busy) end it too instead of keeping it approved and pending.
   */
  announceOutcome(requestId: string): void {
    const r = this.store.requests.get(requestId);
    const outcome = r && this.outcomeOf(r);
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
  }
}
