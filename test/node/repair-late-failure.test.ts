// A repair whose rounds fail late on the new device, once a retry of it (another request) has
// committed there: repair keeps the epoch, so the share name is the same, and the failure must
// leave the committed share alone. Before the fix it deleted it, and the repaired device lost it.
import { beforeAll, describe, expect, it } from 'vitest';
import { shareName } from '../../main/node/common.js';
import { newDeviceRepair } from './ceremony-fixtures.js';
import { peer, publicPackageJSON, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer, dave: Peer;
beforeAll(async () => {
  [alice, bob, carol, dave] = await Promise.all(
    ['alice', 'bob', 'carol', 'dave'].map((n) => peer(n)),
  );
});

/**
 * dave's node, the new device of a repair r1 that puts it in carol's place in a 2-of-3 group of
 * alice, bob and carol, with alice and bob helping. r1's first round never comes: while it waits,
 * `meanwhile` runs (what happened here in the meantime), then its deadline passes.
 */
function setup(meanwhile: (t: { secrets: Map<string, Uint8Array>; groupId: string }) => void) {
  // The device knows the group from its invitation: the public package, no share yet.
  const t = newDeviceRepair(dave, [alice, bob, carol], publicPackageJSON(), async () => {
    meanwhile({ secrets: t.secrets, groupId: t.groupId });
    throw new Error('deadline passed');
  });
  return { ...t, share: shareName(t.groupId, 0) };
}

describe('a repair that fails late on the new device', () => {
  it('leaves the share that a retry of it committed meanwhile, and the ready group, alone', async () => {
    const committed = new Uint8Array(32).fill(7);
    const t = setup(({ secrets, groupId }) => {
      // r1 failed here from another member's word; its retry r2 ran and committed on this device.
      const s = t.h.store;
      s.requests.update('r1', { status: 'failed', updatedAt: Date.now() });
      secrets.set(shareName(groupId, 0), committed);
      s.meta.set(
        `repair-done:${groupId}`,
        JSON.stringify({ requestId: 'r2', proof: 'ab', session: 'bb'.repeat(32) }),
      );
      s.groups.update(groupId, { status: 'ready', updatedAt: Date.now() });
    });
    await t.run();
    expect(t.failed).toEqual(['r1']);
    expect(t.secrets.get(t.share)).toEqual(committed);
    expect(t.h.store.groups.get(t.groupId)!.status).toBe('ready');
    expect(JSON.parse(t.h.store.meta.get(`repair-done:${t.groupId}`)!).requestId).toBe('r2');
  });

  it('still deletes a share of its own that it never committed', async () => {
    const t = setup(({ secrets, groupId }) => {
      secrets.set(shareName(groupId, 0), new Uint8Array(32).fill(9));
    });
    await t.run();
    expect(t.failed).toEqual(['r1']);
    expect(t.secrets.has(t.share)).toBe(false);
    expect(t.h.store.groups.get(t.groupId)!.status).toBe('forming');
  });
});
