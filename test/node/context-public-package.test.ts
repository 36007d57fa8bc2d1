// The context decodes a group's public package once per group and epoch: outcome checks reuse it,
// and a new epoch, another package or a group gone decode (or drop) it anew.
import { beforeAll, describe, expect, it } from 'vitest';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import { rememberOwnPackage } from '../../main/node/common.js';
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

  it('serves a package the node built and handed over for its exact stored text only, and decodes any other text', () => {
    const h = harness(alice);
    const groupId = readyGroup(h.store, [alice, bob, carol], 2);
    const own = dealerKeys('ed25519', 2, 3)[0]!.public;
    const json = JSON.stringify(publicPackageToJSON(own));
    rememberOwnPackage(own);
    // The same package in other text (indented): decoded, not the handed-over object.
    h.store.groups.update(groupId, { publicPackage: JSON.stringify(JSON.parse(json), null, 1) });
    const decoded = h.ctx.publicPackage(groupId)!;
    expect(decoded).not.toBe(own);
    expect(decoded.groupKey.equals(own.groupKey)).toBe(true);
    // Another package: decoded, its own key.
    const other = JSON.stringify(publicPackageToJSON(dealerKeys('ed25519', 2, 3)[0]!.public));
    h.store.groups.update(groupId, { publicPackage: other });
    expect(h.ctx.publicPackage(groupId)!.groupKey.equals(own.groupKey)).toBe(false);
    // Its exact text: the handed-over package itself.
    h.store.groups.update(groupId, { publicPackage: json });
    expect(h.ctx.publicPackage(groupId)).toBe(own);
  });
});
