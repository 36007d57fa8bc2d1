// 'reconstruct': approvers send their shares to the requester's computer, which puts the whole key
// together once (to export it, or for one ECDSA signature). The requester must be the request's
// author and a current member, and the card names them with their fingerprint.
import {
  MAX_PURPOSE_CHARS,
  canonicalObject,
  epoch,
  fail,
  fingerprintOf,
  hex,
  literal,
  memberName,
  memberOf,
  object,
  oneOf,
  peerId,
  sameGroup,
  show,
  text,
} from './fields.js';
import { logSafe } from '../protocol/text.js';
import type { RequestContext, RequestKindModule } from './types.js';

export const OPERATIONS = ['export', 'ecdsa-sign'] as const;
export type ReconstructOperation = (typeof OPERATIONS)[number];

export interface ReconstructParams {
  ceremony: 'reconstruct';
  group: string;
  fromEpoch: number;
  purpose: string;
  operation: ReconstructOperation;
  requester: string;
  /** Hex X25519 public key that exists for this request only; shares are sealed to it. */
  oneTimeKey: string;
  /** For ecdsa-sign: the 32-byte digest to sign, hex. */
  digest?: string;
}

function read(message: Uint8Array, ctx: RequestContext): ReconstructParams {
  const o = object(
    canonicalObject(message),
    'message',
    ['ceremony', 'group', 'fromEpoch', 'purpose', 'operation', 'requester', 'oneTimeKey'],
    ['digest'],
  );
  const p: ReconstructParams = {
    ceremony: literal(o.ceremony, 'ceremony', 'reconstruct'),
    group: sameGroup(o.group, ctx),
    fromEpoch: epoch(o.fromEpoch, 'fromEpoch'),
    purpose: text(o.purpose, 'purpose', MAX_PURPOSE_CHARS),
    operation: oneOf(o.operation, 'operation', OPERATIONS),
    requester: peerId(o.requester, 'requester'),
    oneTimeKey: hex(o.oneTimeKey, 'oneTimeKey', 32),
  };
  if (/^0+$/.test(p.oneTimeKey)) fail('oneTimeKey', 'must not be all zeros');
  if (p.operation === 'ecdsa-sign') {
    if (o.digest === undefined) fail('digest', 'is required for ecdsa-sign');
    p.digest = hex(o.digest, 'digest', 32);
    if (ctx.scheme === 'ed25519')
      fail('operation', 'ecdsa-sign needs a secp256k1 or taproot group, this one is ed25519');
  } else if (o.digest !== undefined)
    fail('digest', `is only for ecdsa-sign, got ${show(o.digest)}`);
  return p;
}

function parse(message: Uint8Array, ctx: RequestContext): ReconstructParams {
  const p = read(message, ctx);
  // Finding 2: the shares go to the requester, so it must be the member who signed the request.
  if (p.requester !== ctx.author)
    fail('requester', `must be the request's author ${show(ctx.author)}, got ${show(p.requester)}`);
  if (!memberOf(ctx, p.requester))
    fail('requester', `${show(p.requester)} is not a member of ${ctx.groupName}`);
  return p;
}

export const reconstruct: RequestKindModule<ReconstructParams> = {
  kind: 'reconstruct',
  read,
  parse,
  decode(p, ctx) {
    const who = memberName(ctx, p.requester);
    const fp = fingerprintOf(p.requester);
    const what =
      p.operation === 'export'
        ? 'export it encrypted (to migrate it elsewhere)'
        : `sign the digest ${p.digest ?? ''} with ECDSA (the signature verifies under the secp256k1 key ${ctx.ecdsaKey ?? 'of the group'})`;
    const warnings = [
      'Approving sends your share to the requester’s computer. Approve only if you have confirmed with them, outside Conclave, that this reconstruction is really wanted.',
      `When your share leaves, your node records in its audit log that the key is exposed to ${who} (${fp}) and marks the group exposed, whatever the requester does next.`,
    ];
    if (p.requester !== ctx.author)
      warnings.push('The shares would go to someone other than the member who asked.');
    if (!memberOf(ctx, p.requester))
      warnings.push('The requester is not a current member of this group.');
    return {
      kind: 'reconstruct',
      title: `Reconstruct the whole key of “${ctx.groupName}”`,
      summary: `RECONSTRUCT the whole key of ${ctx.groupName} on ${who}'s computer to ${what}. Purpose: "${p.purpose}". Approvers send their shares to that computer; afterwards the key must be treated as exposed and funds moved to a new key.`,
      fields: [
        {
          label: 'Requester',
          value: `${who}${ctx.me === p.requester ? ' (you)' : ''} (${fp})`,
          kind: 'members',
          people: [
            {
              name: who,
              peerId: p.requester,
              fingerprint: fp,
              change: 'requester',
              member: !!memberOf(ctx, p.requester),
            },
          ],
        },
        { label: 'Purpose', value: p.purpose, kind: 'text' },
        {
          label: 'Operation',
          value:
            p.operation === 'export'
              ? 'Write the key to a passphrase-encrypted file on that computer'
              : 'One ECDSA signature of the digest',
        },
        ...(p.digest ? [{ label: 'Digest', value: p.digest, kind: 'hex' as const }] : []),
        { label: 'Epoch', value: String(p.fromEpoch), kind: 'epoch' },
      ],
      danger: true,
      warnings,
    };
  },
  policy: {
    noun: 'reconstructing the key',
    allowedByDefault: false,
    canBeForbidden: true,
    approvalsConfigurable: true,
    needsReconstructEnabled: true,
    needsOnline: 'approvers',
    exposesKey: true,
  },
};

/** How a member came to record the key as exposed (the `how` of a `group.key_exposed` entry). */
const HOW: Record<string, string> = {
  'share-sent': 'this member sent its share',
  reconstructed: 'put together on their computer',
  reported: 'as the requester reported',
};

/**
 * The audit log's sentence for a `group.key_exposed` entry: "key exposed to "carol" (ABCD-…) by
 * reconstruction <id>: this member sent its share". The body comes from any member's chain, so
 * the name is escaped and the fingerprint is computed here from the peer id, not taken from it.
 */
export function exposureSummary(body: Record<string, unknown>): string {
  const id =
    typeof body.requestId === 'string' && /^[0-9a-f]{1,64}$/.test(body.requestId)
      ? body.requestId
      : logSafe(body.requestId);
  if (typeof body.to !== 'string')
    return `key exposed by reconstruction ${id}: ${logSafe(body.exposed, 200)}`;
  const how = typeof body.how === 'string' ? HOW[body.how] : undefined;
  const name = typeof body.toName === 'string' ? logSafe(body.toName) : logSafe(body.to);
  return `key exposed to ${name} (${fingerprintOf(body.to)}) by reconstruction ${id}${how ? `: ${how}` : ''}`;
}
