// Issue 9 finding 3 end to end: a custodian with small connection limits keeps its members'
// connections while outsiders flood it (they are capped, then closed at the end of their lifetime),
// and a member that restarts on a new port still gets through to it and signs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../shared/api/index.js';
import { join } from 'node:path';
import { createHost, generateIdentity, type Host } from '../../main/net/index.js';
import { openStore } from '../../main/store/index.js';
import { turnRogue } from './attack-helpers.js';
import { approveBy, formGroup, requestStatus, tempRoot, TestNode, waitFor } from './harness.js';

const LIMITS = {
  maxConnections: 16,
  maxOutsiders: 2,
  maxOutsidersPerIp: 2,
  outsiderLifetimeMs: 3000,
};
const OUTSIDERS = 6;

type Connections = NonNullable<NodeStatus['connections']>;

describe('a custodian flooded by outsiders', () => {
  const tmp = tempRoot('conclave-net-');
  // Only alice has small limits: she is the one flooded.
  const alice = new TestNode('alice', tmp.root, { CONCLAVE_NET_LIMITS: JSON.stringify(LIMITS) });
  const bob = new TestNode('bob', tmp.root);
  const carol = new TestNode('carol', tmp.root);
  const outsiders: Host[] = [];
  let flooding = false;
  let floods: Promise<void>[] = [];
  /** The most outsiders alice ever reported connected at once. */
  let mostOutsiders = 0;
  let groupId = '';
  let rogueHost: Host | undefined;

  async function connections(n: TestNode): Promise<Connections> {
    const c = (await n.api('node.status', {})).connections;
    if (c === undefined) throw new Error(`${n.name}'s status has no connections`);
    mostOutsiders = Math.max(mostOutsiders, c.outsiders);
    return c;
  }

  /** Each outsider keeps (re)connecting to alice until the flood ends. */
  function flood(addrs: string[]): void {
    flooding = true;
    floods = outsiders.map(async (h) => {
      while (flooding) {
        if (!h.isConnected(alice.peerId))
          await h.connect(alice.peerId, { addrs, timeoutMs: 2000 }).catch(() => false);
        // Pacing, not waiting: keeps the sockets per second from one IP under libp2p's threshold.
        await new Promise((r) => setTimeout(r, 400));
      }
    });
  }

  beforeAll(async () => {
    await Promise.all([alice, bob, carol].map((n) => n.init()));
    await Promise.all([alice, bob, carol].map((n) => n.start()));
    // Bob and carol join alice's group while outsiders to her: one at a time, within the caps.
    groupId = (
      await formGroup(alice, [bob, carol], { name: 'vault', threshold: 2, scheme: 'ed25519' })
    ).id;
    for (let i = 0; i < OUTSIDERS; i++) {
      const id = await generateIdentity();
      const h = await createHost({ privateKey: id.privateKey, listen: [] });
      await h.start();
      outsiders.push(h);
    }
  }, 180_000);

  afterAll(async () => {
    flooding = false;
    await Promise.all(floods);
    await Promise.all(outsiders.map((h) => h.stop()));
    await rogueHost?.stop();
    await Promise.all([alice, bob, carol].map((n) => n.kill()));
    tmp.cleanup();
  });

  it('caps and expires the outsiders, and keeps the members connected past the outsiders’ lifetime', async () => {
    const { addrs } = await alice.api('node.status', {});
    await waitFor('alice to hold both members as members', async () => {
      const c = await connections(alice);
      return c.members >= 2;
    });
    flood(addrs);
    const seen = await waitFor(
      'alice to refuse outsiders over the cap and close expired ones',
      async () => {
        const c = await connections(alice);
        return c.refused >= 1 && c.expired >= OUTSIDERS ? c : undefined;
      },
      60_000,
    );
    // More outsiders tried than alice let in: the cap held the whole time.
    expect(mostOutsiders).toBeLessThanOrEqual(LIMITS.maxOutsiders);
    expect(seen.expired).toBeGreaterThanOrEqual(OUTSIDERS);
    // Every outsider's first connection has outlived its lifetime by now; the members' have not
    // been closed: they are still members' connections, and bob still sees alice online.
    const now = await connections(alice);
    expect(now.members).toBeGreaterThanOrEqual(2);
    const shown = await bob.api('group.show', { group: groupId });
    expect(shown.members.find((m) => m.name === 'alice')?.online).toBe(true);
  }, 90_000);

  it('lets a member that restarted on a new port through while outsiders hold the slots', async () => {
    expect(flooding).toBe(true);
    await bob.kill();
    const bobOnline = async () =>
      (await alice.api('group.show', { group: groupId })).members.find((m) => m.name === 'bob')
        ?.online;
    await waitFor('alice to see bob gone', async () => (await bobOnline()) === false);
    // A new port: alice cannot dial bob's old address, bob has to reach her.
    await bob.start();
    await waitFor(
      'bob to be connected to alice again, as a member',
      async () => (await bobOnline()) === true && (await connections(alice)).members >= 2,
      60_000,
    );
    expect(mostOutsiders).toBeLessThanOrEqual(LIMITS.maxOutsiders);
    const req = await bob.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      groupId,
      '--message',
      'through the flood',
    ]);
    await approveBy(req.id, [bob, alice]);
    await requestStatus(bob, req.id, 'done', 60_000);
    expect((await connections(alice)).refused).toBeGreaterThan(0);
  }, 120_000);

  it('keeps only the addresses a member’s own connection vouches for from its hello', async () => {
    // Carol's key in a host of our own, which tells alice where it is (a hello) as a node would.
    const rogue = await turnRogue(carol, [alice]);
    rogueHost = rogue.host;
    const own = rogue.host.addrs();
    const thirdParty = [
      `/ip4/10.1.2.3/tcp/9/p2p/${carol.peerId}`,
      `/ip4/127.0.0.1/tcp/1/p2p/${bob.peerId}`,
      '/dns4/victim.example/tcp/443',
      `/ip4/127.0.0.1/tcp/9/p2p/${outsiders[0]!.peerId}/p2p-circuit/p2p/${carol.peerId}`,
    ];
    expect(
      await rogue.send(alice, { v: 1, type: 'hello', addrs: [...thirdParty, ...own] }),
    ).toEqual({ ok: true });
    // Nothing this connection vouches for: alice keeps what she knew.
    expect(await rogue.send(alice, { v: 1, type: 'hello', addrs: thirdParty })).toEqual({
      ok: true,
    });
    await alice.kill();
    const store = openStore(join(alice.home, 'conclave.db'));
    try {
      expect(store.members.get(groupId, carol.peerId)?.addrs).toEqual(own);
    } finally {
      store.close();
    }
  }, 60_000);
});
