// 'repair': T members rebuild a lost member's share on a new device that takes their place (same
// key, same epoch). The card recommends a refresh afterwards: the "lost" device's share, should it
// turn up in someone else's hands, stays valid until one.
import {
  canonicalObject,
  epoch,
  fail,
  fingerprintOf,
  literal,
  memberName,
  memberOf,
  object,
  peerId,
  sameGroup,
  show,
} from './fields.js';
import { newcomer, type Newcomer } from './reshare.js';
import type { RequestContext, RequestKindModule } from './types.js';
import { REFRESH_AFTER_REPAIR } from './words.js';

export interface RepairParams {
  ceremony: 'repair';
  group: string;
  fromEpoch: number;
  /** The member who lost their share. */
  lost: string;
  /** The fresh identity that takes their place. */
  newcomer: Newcomer;
}

export { REFRESH_AFTER_REPAIR };

function read(message: Uint8Array, ctx: RequestContext): RepairParams {
  const o = object(canonicalObject(message), 'message', [
    'ceremony',
    'group',
    'fromEpoch',
    'lost',
    'newcomer',
  ]);
  const p: RepairParams = {
    ceremony: literal(o.ceremony, 'ceremony', 'repair'),
    group: sameGroup(o.group, ctx),
    fromEpoch: epoch(o.fromEpoch, 'fromEpoch'),
    lost: peerId(o.lost, 'lost'),
    newcomer: newcomer(o.newcomer, 'newcomer'),
  };
  if (p.newcomer.peerId === p.lost) fail('newcomer.peerId', 'is the lost member itself');
  return p;
}

function parse(message: Uint8Array, ctx: RequestContext): RepairParams {
  const p = read(message, ctx);
  if (!memberOf(ctx, p.lost)) fail('lost', `${show(p.lost)} is not a member of ${ctx.groupName}`);
  if (p.lost === ctx.author)
    fail('lost', 'is the request’s author: a member cannot repair its own share');
  if (memberOf(ctx, p.newcomer.peerId))
    fail('newcomer.peerId', `${show(p.newcomer.peerId)} is already a member of ${ctx.groupName}`);
  return p;
}

export const repair: RequestKindModule<RepairParams> = {
  kind: 'repair',
  read,
  parse,
  decode(p, ctx) {
    const lost = memberName(ctx, p.lost);
    const fp = fingerprintOf(p.newcomer.peerId);
    return {
      kind: 'repair',
      title: `Replace a lost device in “${ctx.groupName}” (repair)`,
      summary: `Repair: rebuild ${lost}'s share on a new device, ${p.newcomer.name} (fingerprint ${fp}), which takes their place; ${lost}'s old identity stops counting. ${ctx.threshold} members help without any of them learning the share; the public key and epoch stay the same.`,
      fields: [
        {
          label: 'Lost device of',
          value: `${lost} (${fingerprintOf(p.lost)}), stops counting`,
          kind: 'members',
          people: [
            {
              name: lost,
              peerId: p.lost,
              fingerprint: fingerprintOf(p.lost),
              change: 'replaced',
              member: !!memberOf(ctx, p.lost),
            },
          ],
        },
        {
          label: 'New device',
          value: `${p.newcomer.name} (${fp}) takes their place and gets the same share`,
          kind: 'members',
          people: [
            {
              name: p.newcomer.name,
              peerId: p.newcomer.peerId,
              fingerprint: fp,
              change: 'added',
              member: !!memberOf(ctx, p.newcomer.peerId),
            },
          ],
        },
        { label: 'Epoch', value: `${p.fromEpoch} (no change)`, kind: 'epoch' },
        { label: 'Public key', value: 'Stays the same' },
      ],
      warnings: [
        `Check with ${lost} (a call, in person) that the new device is really theirs before approving.`,
        REFRESH_AFTER_REPAIR,
      ],
    };
  },
  policy: {
    noun: 'repairing a lost share',
    allowedByDefault: true,
    canBeForbidden: true,
    approvalsConfigurable: true,
    needsReconstructEnabled: false,
    needsOnline: 'helpers-and-newcomer',
    exposesKey: false,
  },
};
