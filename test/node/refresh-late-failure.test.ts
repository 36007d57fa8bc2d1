// A refresh whose rounds fail late, once the group's next refresh is already under way on this
// member (issue 13): the failure ends its own request and leaves the other one's pending record
// alone. Before the fix it cleared that record, so the next refresh never committed here.
import { beforeAll, describe, expect, it } from 'vitest';
import type { PendingCeremony } from '../../main/node/common.js';
import { pendingKey } from '../../main/node/common.js';
import { refreshRig } from './ceremony-fixtures.js';
import { harness, peer, readyGroup, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => peer(n)));
});

/** alice's refresh service over fakes: the group has no key package, so a round fails at once. */
function setup() {
  const h = harness(alice);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  const { roster, service, insert, failed } = refreshRig(h, groupId);
  for (const id of ['first', 'second']) insert(id);
  const pendingOf = (requestId: string, session: string): PendingCeremony => ({
    requestId,
    session,
    kind: 'refresh',
    stage: 'holding',
    fromEpoch: 0,
    epoch: 1,
    digest: 'cd'.repeat(32),
    pubJson: '{}',
    roster,
    hadOldShare: true,
  });
  return { h, groupId, service, failed, pendingOf };
}

describe('a refresh that fails late', () => {
  it("leaves the pending record of the group's next refresh alone", async () => {
    const { h, groupId, service, failed, pendingOf } = setup();
    // The second refresh holds its new share here, waiting for the others' word.
    const next = JSON.stringify(pendingOf('second', 'bb'.repeat(32)));
    h.store.meta.set(pendingKey(groupId), next);
    await service.runCeremony(groupId, 'first', 'aa'.repeat(32), [
      alice.peerId,
      bob.peerId,
      carol.peerId,
    ]);
    expect(failed).toEqual(['first']);
    expect(h.store.meta.get(pendingKey(groupId))).toBe(next);
  });

  it('clears its own pending record', async () => {
    const { h, groupId, service, failed, pendingOf } = setup();
    const session = 'aa'.repeat(32);
    h.store.meta.set(pendingKey(groupId), JSON.stringify(pendingOf('first', session)));
    await service.runCeremony(groupId, 'first', session, [alice.peerId, bob.peerId, carol.peerId]);
    expect(failed).toEqual(['first']);
    expect(h.store.meta.get(pendingKey(groupId)) || undefined).toBeUndefined();
  });
});
