// 'refresh': every member gets a new share of the same key (epoch + 1); old shares stop working.
import { canonicalObject, epoch, literal, object, sameGroup } from './fields.js';
import type { RequestContext, RequestKindModule } from './types.js';

export interface RefreshParams {
  ceremony: 'refresh';
  group: string;
  fromEpoch: number;
}

function read(message: Uint8Array, ctx: RequestContext): RefreshParams {
  const o = object(canonicalObject(message), 'message', ['ceremony', 'group', 'fromEpoch']);
  return {
    ceremony: literal(o.ceremony, 'ceremony', 'refresh'),
    group: sameGroup(o.group, ctx),
    fromEpoch: epoch(o.fromEpoch, 'fromEpoch'),
  };
}

export const refresh: RequestKindModule<RefreshParams> = {
  kind: 'refresh',
  read,
  parse: read,
  decode(p, ctx) {
    const name = ctx.groupName;
    return {
      kind: 'refresh',
      title: `Refresh the key shares of “${name}”`,
      summary: `Refresh every member's share of ${name} (epoch ${p.fromEpoch} → ${p.fromEpoch + 1}). The public key stays the same; the old shares and their backups stop working. Every member must be online.`,
      fields: [
        { label: 'Epoch', value: `${p.fromEpoch} → ${p.fromEpoch + 1}`, kind: 'epoch' },
        {
          label: 'Shares',
          value: 'Every member gets a new share; the old shares and their backups stop working.',
        },
        { label: 'Public key', value: 'Stays the same' },
        { label: 'Members', value: `No change (${ctx.threshold} of ${ctx.size})` },
        { label: 'Runs when', value: 'Every member’s app is online' },
      ],
    };
  },
  policy: {
    noun: 'refreshing the shares',
    allowedByDefault: true,
    canBeForbidden: true,
    approvalsConfigurable: true,
    needsReconstructEnabled: false,
    needsOnline: 'all-members',
    exposesKey: false,
  },
};
