// 'reshare': change who holds shares and/or the threshold, keeping the public key (epoch + 1).
// The claimed new size must be what the roster becomes (kept + added), or the request is refused.
import {
  MAX_GROUP_SIZE,
  MIN_GROUP_SIZE,
  addrs,
  canonicalObject,
  epoch,
  fail,
  fingerprintOf,
  int,
  list,
  literal,
  memberName,
  memberOf,
  name,
  object,
  peerId,
  sameGroup,
  show,
} from './fields.js';
import type { CardPerson, RequestContext, RequestKindModule } from './types.js';

export interface Newcomer {
  peerId: string;
  name: string;
  addrs: string[];
}

export interface ReshareParams {
  ceremony: 'reshare';
  group: string;
  fromEpoch: number;
  threshold: number;
  size: number;
  add: Newcomer[];
  remove: string[];
}

/** A newcomer as the parameters carry it (shared with repair). */
export function newcomer(v: unknown, field: string): Newcomer {
  const o = object(v, field, ['peerId', 'name', 'addrs']);
  return {
    peerId: peerId(o.peerId, `${field}.peerId`),
    name: name(o.name, `${field}.name`),
    addrs: addrs(o.addrs, `${field}.addrs`),
  };
}

function read(message: Uint8Array, ctx: RequestContext): ReshareParams {
  const o = object(canonicalObject(message), 'message', [
    'ceremony',
    'group',
    'fromEpoch',
    'threshold',
    'size',
    'add',
    'remove',
  ]);
  const size = int(o.size, 'size', MIN_GROUP_SIZE, MAX_GROUP_SIZE);
  const p: ReshareParams = {
    ceremony: literal(o.ceremony, 'ceremony', 'reshare'),
    group: sameGroup(o.group, ctx),
    fromEpoch: epoch(o.fromEpoch, 'fromEpoch'),
    threshold: int(o.threshold, 'threshold', MIN_GROUP_SIZE, size),
    size,
    add: list(o.add, 'add', MAX_GROUP_SIZE).map((a, i) => newcomer(a, `add[${i}]`)),
    remove: list(o.remove, 'remove', MAX_GROUP_SIZE).map((r, i) => peerId(r, `remove[${i}]`)),
  };
  const seen = new Set<string>();
  for (const [i, peer] of [...p.add.map((a) => a.peerId), ...p.remove].entries()) {
    const field = i < p.add.length ? `add[${i}].peerId` : `remove[${i - p.add.length}]`;
    if (seen.has(peer)) fail(field, `names ${show(peer)} twice`);
    seen.add(peer);
  }
  return p;
}

/** The roster this reshare leads to, counted from the group as it is now. */
export function reshareSize(p: ReshareParams, ctx: RequestContext): number {
  const kept = ctx.members.filter((m) => !p.remove.includes(m.peerId)).length;
  return kept + p.add.length;
}

function parse(message: Uint8Array, ctx: RequestContext): ReshareParams {
  const p = read(message, ctx);
  p.add.forEach((a, i) => {
    if (memberOf(ctx, a.peerId))
      fail(`add[${i}].peerId`, `${show(a.peerId)} is already a member of ${ctx.groupName}`);
  });
  p.remove.forEach((peer, i) => {
    if (!memberOf(ctx, peer))
      fail(`remove[${i}]`, `${show(peer)} is not a member of ${ctx.groupName}`);
  });
  const size = reshareSize(p, ctx);
  if (p.size !== size)
    fail(
      'size',
      `says ${p.size} but the group would have ${size} members (${ctx.members.length} now, +${p.add.length}, −${p.remove.length})`,
    );
  if (p.add.length === 0 && p.remove.length === 0 && p.threshold === ctx.threshold)
    fail('message', 'changes nothing: it adds and removes nobody and keeps the threshold');
  return p;
}

export const reshare: RequestKindModule<ReshareParams> = {
  kind: 'reshare',
  read,
  parse,
  decode(p, ctx) {
    const name = ctx.groupName;
    const size = reshareSize(p, ctx);
    const parts: string[] = [];
    for (const a of p.add) parts.push(`add ${a.name} (${fingerprintOf(a.peerId)})`);
    for (const peer of p.remove) parts.push(`remove ${memberName(ctx, peer)}`);
    if (p.threshold !== ctx.threshold)
      parts.push(`change the threshold from ${ctx.threshold} to ${p.threshold}`);
    const added: CardPerson[] = p.add.map((a) => ({
      name: a.name,
      peerId: a.peerId,
      fingerprint: fingerprintOf(a.peerId),
      change: 'added',
      member: !!memberOf(ctx, a.peerId),
    }));
    const removed: CardPerson[] = p.remove.map((peer) => ({
      name: memberName(ctx, peer),
      peerId: peer,
      fingerprint: fingerprintOf(peer),
      change: 'removed',
      member: !!memberOf(ctx, peer),
    }));
    const people = (xs: CardPerson[]) =>
      xs.length ? xs.map((x) => `${x.name} (${x.fingerprint})`).join(', ') : 'Nobody';
    const warnings: string[] = [];
    if (p.size !== size)
      warnings.push(
        `The request says the group will have ${p.size} members, but keeping the current members and applying these changes gives ${size}.`,
      );
    if (ctx.me && p.remove.includes(ctx.me))
      warnings.push('This removes you: your share stops working once it is done.');
    return {
      kind: 'reshare',
      title: `Change the members of “${name}” (reshare)`,
      summary: `Reshare ${name}: ${parts.join(', ') || 'new shares for the same members'} (epoch ${p.fromEpoch} → ${p.fromEpoch + 1}, ${p.threshold} of ${size} afterwards). The public key stays the same; removed members' shares stop working.`,
      fields: [
        { label: 'Added', value: people(added), kind: 'members', people: added },
        { label: 'Removed', value: people(removed), kind: 'members', people: removed },
        {
          label: 'Approvals needed',
          value:
            p.threshold === ctx.threshold && size === ctx.size
              ? `${p.threshold} of ${size} (no change)`
              : `${ctx.threshold} of ${ctx.size} → ${p.threshold} of ${size}`,
          kind: 'number',
        },
        { label: 'Epoch', value: `${p.fromEpoch} → ${p.fromEpoch + 1}`, kind: 'epoch' },
        { label: 'Public key', value: 'Stays the same; removed members’ shares stop working' },
      ],
      ...(warnings.length ? { warnings } : {}),
    };
  },
  policy: {
    noun: 'resharing (changing custodians or threshold)',
    allowedByDefault: true,
    canBeForbidden: true,
    approvalsConfigurable: true,
    needsReconstructEnabled: false,
    needsOnline: 'all-members',
    exposesKey: false,
  },
};
