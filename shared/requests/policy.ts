// 'policy': replace the group's policy. The change names the policy it replaces (the hash the
// request was made under) and carries a complete policy that is valid for this group.
import {
  PolicyError,
  describePolicy,
  policyHash,
  validatePolicy,
  type GroupPolicy,
} from '../policy/policy.js';
import { canonicalJSON } from '../crypto/backup.js';
import { canonicalObject, fail, hex, int, object, show } from './fields.js';
import type { RequestContext, RequestKindModule } from './types.js';

export interface PolicyParams {
  v: 1;
  /** Hex hash of the policy this change replaces. */
  from: string;
  policy: GroupPolicy;
}

function read(message: Uint8Array, ctx: RequestContext): PolicyParams {
  const o = object(canonicalObject(message), 'message', ['v', 'from', 'policy']);
  int(o.v, 'v', 1, 1);
  const from = hex(o.from, 'from', 32);
  if (from !== ctx.policyHash)
    fail(
      'from',
      `must be the policy the request was made under (${ctx.policyHash}), got ${show(from)}`,
    );
  let policy: GroupPolicy;
  try {
    policy = validatePolicy(o.policy, ctx.threshold, ctx.size);
  } catch (e) {
    if (e instanceof PolicyError)
      fail(e.field === 'policy' ? 'policy' : `policy.${e.field}`, e.message);
    throw e;
  }
  // One policy, one encoding: what validatePolicy returns is what the proposer's node writes.
  if (canonicalJSON(policy) !== canonicalJSON(o.policy))
    fail('policy', 'is not in its normal form (allowedKinds in the usual order)');
  return { v: 1, from, policy };
}

export const policy: RequestKindModule<PolicyParams> = {
  kind: 'policy',
  read,
  parse: read,
  decode(p, ctx) {
    const rules = describePolicy(p.policy, ctx.threshold, ctx.size);
    const warnings: string[] = [];
    if (p.policy.allowReconstruct && !ctx.policy.allowReconstruct)
      warnings.push(
        'This policy allows reconstructing the whole key on one device, which the current policy does not.',
      );
    return {
      kind: 'policy',
      title: `Change the policy of “${ctx.groupName}”`,
      summary: `Change the group policy of ${ctx.groupName} to: ${rules.join(' ')}`,
      fields: [
        ...rules.map((line, i) => ({ label: i === 0 ? 'New rules' : '', value: line })),
        { label: 'Replaces policy', value: p.from, kind: 'hex' as const },
        { label: 'New policy hash', value: policyHash(p.policy), kind: 'hex' as const },
      ],
      ...(warnings.length ? { warnings, danger: true } : {}),
    };
  },
  policy: {
    noun: 'changing the policy',
    allowedByDefault: true,
    canBeForbidden: false,
    // One rule for policy changes: policyChange ('threshold' or 'all'), not approvals.policy.
    approvalsConfigurable: false,
    needsReconstructEnabled: false,
    needsOnline: 'approvers',
    exposesKey: false,
  },
};
