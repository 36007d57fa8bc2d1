// What a group's policy says of its requests: the policy in force, the approvals each request
// needs, why this node refuses one, the refresh owed after a repair, and applying an approved
// change. Part of the requests service, kept apart for its size.
import { hexToBytes } from '@noble/hashes/utils.js';
import type { PolicyView } from '../../shared/api/index.js';
import {
  approvalsNeeded,
  checkRequest,
  defaultPolicy,
  describePolicy,
  policyHash,
  PolicyError,
  validatePolicy,
  validatePolicyChange,
  type GroupPolicy,
} from '../../shared/policy/policy.js';
import type { RequestBody, Signed } from '../../shared/protocol/wire.js';
import { describeLimits, readRequest, requesterExcluded } from '../../shared/requests/index.js';
import type { GroupRow, RequestRow, Store } from '../store/index.js';
import { parseStoredSigned, readMetaValue, requireMetaValue } from './common.js';
import { type NodeContext, NodeService } from './context.js';
import type { RequestsService } from './requests.js';

export class RequestPolicy extends NodeService {
  constructor(
    ctx: NodeContext,
    private readonly requests: RequestsService,
  ) {
    super(ctx);
  }

  /**
   * Why new signing must wait, or undefined: the policy requires a refresh after a repair, and a
   * repair has finished at the group's current epoch (a refresh or reshare moves it on). Until
   * then the lost device's share still works for whoever has it.
   */
  refreshOwed(g: GroupRow): string | undefined {
    if (this.policyOf(g.id).refreshAfterRepair !== true) return undefined;
    for (const r of this.store.requests.list({ groupId: g.id, statuses: ['done'] })) {
      if (r.kind !== 'repair') continue;
      let fromEpoch: number;
      try {
        fromEpoch = readRequest('repair', r.message, this.requests.contextOf(r)).fromEpoch;
      } catch {
        continue; // not a repair that can have run
      }
      if (fromEpoch === g.epoch)
        return `the group policy of ${g.name} requires a refresh after a repair, and a share was repaired (request ${r.id}) with no refresh since; run a refresh first: conclave request refresh --group ${g.name}`;
    }
    return undefined;
  }

  /**
   * The policy in force for a group (the default until a policy request changed it). Read in
   * views, timers and message handlers: a damaged row reads as absent (the default, logged once).
   * That is no way around the policy: every request is bound to its policy's hash, so members
   * holding the real policy refuse what this node then proposes, and this node refuses theirs.
   */
  policyOf(groupId: string): GroupPolicy {
    return (
      readMetaValue(this.store, policyKey(groupId), isStoredPolicy, this.log) ?? defaultPolicy()
    );
  }

  /** policyOf for a user action (proposing a request): a damaged row is a typed error naming it. */
  requirePolicyOf(groupId: string): GroupPolicy {
    return requireStoredPolicy(this.store, groupId);
  }

  /** Approvals a request needs under the group's policy (at least T). */
  needed(r: RequestRow): number {
    const g = this.store.groups.get(r.groupId)!;
    const base = approvalsNeeded(this.policyOf(g.id), r.kind, g.threshold, g.size);
    // A use whose limits say its requester does not count (an SSH certificate for oneself): T
    // approvals besides the requester's own, as every member counts them.
    if (
      r.kind !== 'sign' &&
      this.store.decisions
        .list(r.id)
        .some((d) => d.peerId === r.createdBy && d.decision === 'approve') &&
      requesterExcluded(r.kind, r.message, this.requests.contextOf(r))
    )
      return Math.min(g.size, base + 1);
    return base;
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

  /**
   * Whether a request this node refuses as made under another policy was made under the one an
   * open policy change of its group proposes: the change's last approval is then still on its way
   * here (or the catch-up brings it later), and the request is to be taken once the change is in
   * force, not failed for good.
   */
  awaitsPolicyChange(b: RequestBody): boolean {
    const g = this.store.groups.get(b.groupId);
    if (!g) return false;
    const current = this.policyOf(g.id);
    if (b.policy === policyHash(current)) return false;
    for (const r of this.store.requests.list({ groupId: g.id, statuses: ['pending'] })) {
      if (r.kind !== 'policy') continue;
      try {
        if (policyHash(this.proposedPolicy(r, g, current)) === b.policy) return true;
      } catch {
        // A change that cannot take effect here is awaited by no request.
      }
    }
    return false;
  }

  policyView(g: GroupRow): PolicyView {
    const p = this.policyOf(g.id);
    return {
      group: g.id,
      hash: policyHash(p),
      policy: p as unknown as Record<string, unknown>,
      description: [
        ...describePolicy(p, g.threshold, g.size),
        ...describeLimits(p.limits as Record<string, unknown> | undefined),
      ],
    };
  }

  /** The policy a policy-change request sets, checked against `current`; throws when it cannot. */
  private proposedPolicy(r: RequestRow, g: GroupRow, current = this.policyOf(g.id)): GroupPolicy {
    return validatePolicyChange(parseJsonMessage(r.message), current, g.threshold, g.size);
  }

  /** Every member applies an approved policy change itself, as soon as it sees enough approvals. */
  applyPolicyChange(r: RequestRow): void {
    const g = this.store.groups.get(r.groupId)!;
    let next: GroupPolicy;
    try {
      next = this.proposedPolicy(r, g);
    } catch (e) {
      this.requests.finish(
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
      this.audit(
        'group.policy_changed',
        { requestId: r.id, hash: policyHash(next), approvals: this.requests.approvalsHeld(r.id) },
        g.id,
      );
    });
    // What every open request of the group needs may have changed: the sweep looks at them all.
    this.requests.sweepAllSoon();
    this.notify(r.id);
    this.emit({ type: 'group', id: g.id });
  }
}

const policyKey = (groupId: string) => `policy:${groupId}`;

/**
 * The policy in force for a group where it is handed on or acted on (a user action, the answer
 * that gives a newcomer the policy): a damaged row is a typed error naming it, not the default.
 */
export function requireStoredPolicy(store: Store, groupId: string): GroupPolicy {
  return (
    requireMetaValue(store, policyKey(groupId), isStoredPolicy, 'a group policy') ?? defaultPolicy()
  );
}

/**
 * A guard for a stored policy: of the shape validatePolicy takes, whatever the group's size (a
 * policy written for a larger group, before a reshare, stays the policy in force; approvalsNeeded
 * brings its numbers within T..N).
 */
function isStoredPolicy(v: unknown): v is GroupPolicy {
  try {
    validatePolicy(v, 1, Number.MAX_SAFE_INTEGER);
    return true;
  } catch {
    return false;
  }
}

/** A request's message as JSON, or a PolicyError saying it is not (not a raw SyntaxError). */
function parseJsonMessage(message: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(message)) as unknown;
  } catch {
    throw new PolicyError('bad_policy', 'change', 'its message is not JSON');
  }
}

/** What releaseCheck needs of the requests service (the node's, or a test's stand-in). */
type ReleaseDeps = Pick<
  RequestsService,
  'acceptStatement' | 'approversOf' | 'policyRefusal' | 'needed' | 'refreshOwed'
>;

/**
 * Why member `me` will not release its share of an approved request to `from` (a signing
 * coordinator, or an ECDH's requester), or the approvers that count. The approvals `from` relays
 * are checked and kept first (they may still be on their way here); then the request must be
 * allowed by this node's own policy, approved by enough current members including this one, and
 * not held for a refresh after a repair.
 */
export function releaseCheck(
  requests: ReleaseDeps,
  me: string,
  r: RequestRow,
  g: GroupRow,
  from: string,
  relayed: readonly Signed[] | undefined,
  role: 'coordinator' | 'requester',
): { error: string } | { approvers: Set<string> } {
  for (const a of relayed ?? []) {
    try {
      if (a.body.type === 'decision' && a.body.requestId === r.id)
        // Kept now; what the new approval starts here waits for the answer (acceptStatement).
        requests.acceptStatement(from, a, true);
    } catch {
      return { error: `the ${role} sent an invalid approval` };
    }
  }
  // Only current members' approvals count: one by a member since removed or replaced does not.
  const approvers = new Set(requests.approversOf(r));
  // The stored envelope is checked again: a damaged one refuses, it does not throw in the handler.
  const envelope = parseStoredSigned(r.envelope);
  if (!envelope || envelope.body.type !== 'request')
    return { error: "this node's stored copy of the request is unreadable" };
  if (requests.policyRefusal(envelope.body as RequestBody))
    return { error: "the request is against this node's group policy" };
  if (approvers.size < requests.needed(r))
    return { error: 'not enough approvals under the group policy' };
  // The policy may hold signing until the group has refreshed after a repair (finding 6).
  const owed = requests.refreshOwed(g);
  if (owed) return { error: owed };
  if (!approvers.has(me)) return { error: 'this custodian did not approve the request' };
  return { approvers };
}
