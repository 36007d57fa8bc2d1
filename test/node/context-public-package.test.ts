// The context decodes a group's public package once per group and epoch: outcome checks reuse it,
// and a new epoch, another package or a group gone decode (or drop) it anew.
import { beforeAll, describe, expect, it } from 'vitest';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import { dealerKeys } from '../crypto/helpers.js';
import { harness, peer, readyGroup, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([peer('alice'), peer('bob'), peer('carol')]);
});

describe('NodeContext.publicPackage', () => {
  it('decodes once per group and epoch, and anew when the stored package or epoch changes', () => {
    const h = harness(alice);
    const groupId = readyGroup(h.store, [alice, bob, carol], 2);
    expect(h.ctx.publicPackage(groupId)).toBeUndefined();
    const first = JSON.stringify(publicPackageToJSON(dealerKeys('ed25519', 2, 3)[0]!.public));
    h.store.groups.update(groupId, { publicPackage: first });
    const a = h.ctx.publicPackage(groupId)!;
    expect(h.ctx.publicPackage(groupId)).toBe(a);
    // A new epoch with a new key: the cached package is not used.
    const second = JSON.stringify(publicPackageToJSON(dealerKeys('ed25519', 2, 3)[0]!.public));
    h.store.groups.update(groupId, { publicPackage: second, epoch: 1 });
    const b = h.ctx.publicPackage(groupId)!;
    expect(b).not.toBe(a);
    expect(b.groupKey.equals(a.groupKey)).toBe(false);
    expect(h.ctx.publicPackage(groupId)).toBe(b);
    // Same epoch, different text (a repair): decoded anew too.
    h.store.groups.update(groupId, { publicPackage: first });
    expect(h.ctx.publicPackage(groupId)!.groupKey.equals(a.groupKey)).toBe(true);
    // The group gone (left): nothing.
    h.store.groups.delete(groupId);
    expect(h.ctx.publicPackage(groupId)).toBeUndefined();
  });
});
