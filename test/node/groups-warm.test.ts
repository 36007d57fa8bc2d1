// A group's coming key generation is rehearsed (main/crypto/warm.ts) from when this node creates
// or joins it until the key generation starts, once per scheme, and not for an imported key.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { NodeServices } from '../../main/node/context.js';
import { GroupsService } from '../../main/node/groups.js';
import { joinToken } from '../../main/node/common.js';
import { decodeInvite } from '../../shared/protocol/roster.js';
import { harness, peer, type Peer } from './fixtures.js';

const warm = vi.hoisted(() => ({ calls: [] as string[], stops: 0 }));
vi.mock('../../main/crypto/warm.js', () => ({
  WARM_MAX_MS: 400,
  warmThreshold: (scheme: string) => {
    warm.calls.push(scheme);
    return { stop: () => void warm.stops++, rehearsals: () => 0 };
  },
}));

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map(peer));
});

describe('rehearsing a coming key generation', () => {
  it('starts when the group is created, once, and stops when the key generation starts', async () => {
    warm.calls = [];
    warm.stops = 0;
    const h = harness(alice);
    const runDkg = vi.fn(async () => undefined);
    const groups = new GroupsService(h.ctx, { dkg: { runDkg } } as unknown as NodeServices);
    const created = groups.createGroup({
      name: 'treasury',
      threshold: 2,
      size: 3,
      scheme: 'secp256k1',
    });
    expect(warm.calls).toEqual(['secp256k1']);
    const invite = decodeInvite(created.invite);
    for (const who of [bob, carol])
      expect(
        await groups.onJoin(
          who.peerId,
          {
            v: 1,
            type: 'join',
            groupId: created.id,
            token: joinToken(invite.secret, created.id, who.peerId),
            name: who.name,
            addrs: [],
          },
          { remoteAddr: '/ip4/127.0.0.1/tcp/50123' },
        ),
      ).toMatchObject({ ok: true });
    // Complete now (confirming): the rehearsal already under way goes on, no second one.
    expect(warm.calls).toEqual(['secp256k1']);
    groups.confirmGroup(created.id);
    expect(warm.stops).toBe(0);
    const hash = groups.confirmations.get(created.id)!.get(alice.peerId)!;
    for (const who of [bob, carol]) groups.noteConfirmation(created.id, who.peerId, hash);
    groups.maybeStartDkg(created.id);
    expect(runDkg).toHaveBeenCalledTimes(1);
    expect(warm.stops).toBe(1);
    // The next group of the same scheme finds the code compiled: no second rehearsal.
    groups.createGroup({ name: 'vault 2', threshold: 2, size: 3, scheme: 'secp256k1' });
    expect(warm.calls).toEqual(['secp256k1']);
    groups.createGroup({ name: 'vault 3', threshold: 2, size: 3, scheme: 'ed25519' });
    expect(warm.calls).toEqual(['secp256k1', 'ed25519']);
  });

  it('rehearses nothing for an imported key (it has no key generation)', () => {
    warm.calls = [];
    const h = harness(alice);
    const groups = new GroupsService(h.ctx, {} as NodeServices);
    groups.createGroup(
      { name: 'imported', threshold: 2, size: 3, scheme: 'ed25519' },
      { publicKey: 'ab'.repeat(32), keyFile: '{}' },
    );
    expect(warm.calls).toEqual([]);
  });
});
