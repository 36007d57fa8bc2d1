// Hostile input at a running node: non-members, malformed, oversized, forged and replayed messages
// are dropped and counted, and the node keeps working.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createHost, generateIdentity, type Host } from '../../main/net/index.js';
import { decodeInvite } from '../../shared/protocol/roster.js';
import { PROTOCOL, signStatement, type RequestBody } from '../../shared/protocol/wire.js';
import { tempRoot, TestNode, waitFor } from './harness.js';

const tmp = tempRoot();
const alice = new TestNode('alice', tmp.root);
const hosts: Host[] = [];

async function rogue() {
  const id = await generateIdentity();
  const host = await createHost({ privateKey: id.privateKey, listen: ['/ip4/127.0.0.1/tcp/0'] });
  await host.start();
  hosts.push(host);
  return { id, host };
}

beforeAll(async () => {
  await alice.init();
  await alice.start();
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  await alice.kill();
  tmp.cleanup();
});

it('drops and counts what non-members and misbehaving members send, and keeps serving', async () => {
  const status0 = await alice.api('node.status', {});
  const created = await alice.cliJson<{ id: string; invite: string }>([
    'group',
    'create',
    '--name',
    'guarded',
    '--threshold',
    '2',
    '--size',
    '3',
    '--scheme',
    'ed25519',
  ]);
  const invite = decodeInvite(created.invite);
  const opts = { addrs: status0.addrs, timeoutMs: 5000 };

  // A stranger is refused on the group protocol without being read.
  const stranger = await rogue();
  await expect(
    stranger.host.request(status0.peerId, PROTOCOL.group, { v: 1, type: 'hello', addrs: [] }, opts),
  ).rejects.toThrow();
  // A wrong invite token is refused.
  const forger = await rogue();
  const bad = await forger.host.request(
    status0.peerId,
    PROTOCOL.join,
    {
      v: 1,
      type: 'join',
      groupId: invite.groupId,
      token: 'ab'.repeat(32),
      name: 'mallory',
      addrs: [],
    },
    opts,
  );
  expect(bad).toMatchObject({ ok: false });

  // Mallory joins properly, then misbehaves as a member.
  const mallory = await rogue();
  const token = createHmac('sha256', Buffer.from(invite.secret, 'hex'))
    .update(`conclave/join/v1\n${invite.groupId}\n${mallory.id.peerId}`)
    .digest('hex');
  const joined = await mallory.host.request(
    status0.peerId,
    PROTOCOL.join,
    {
      v: 1,
      type: 'join',
      groupId: invite.groupId,
      token,
      name: 'mallory',
      addrs: mallory.host.addrs(),
    },
    opts,
  );
  expect(joined).toMatchObject({ ok: true });
  const send = (msg: unknown) => mallory.host.request(status0.peerId, PROTOCOL.group, msg, opts);
  await expect(send({ v: 1, type: 'launch-missiles' })).rejects.toThrow();
  await expect(send({ v: 2, type: 'hello', addrs: [] })).rejects.toThrow();
  await expect(send({ v: 1, type: 'hello', addrs: ['x'.repeat(600 * 1024)] })).rejects.toThrow();
  // A statement claiming to be signed by alice, signed by mallory.
  const seed = mallory.id.privateKey.raw.slice(0, 32);
  const body: RequestBody = {
    v: 1,
    type: 'request',
    groupId: invite.groupId,
    kind: 'sign',
    message: '00',
    createdBy: status0.peerId,
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    nonce: '11'.repeat(16),
    policy: 'ab'.repeat(32),
  };
  const forged = signStatement(body, (h) => ed25519.sign(h, seed));
  await expect(send({ v: 1, type: 'statements', items: [forged] })).rejects.toThrow();
  // A DKG message for a group that is not generating a key.
  await expect(
    send({
      v: 1,
      type: 'dkg',
      groupId: invite.groupId,
      session: 'cd'.repeat(32),
      step: 'round1',
      payload: { from: 'x' },
    }),
  ).rejects.toThrow();
  // A valid hello is still served, twice (replay is harmless).
  expect(await send({ v: 1, type: 'hello', addrs: mallory.host.addrs() })).toMatchObject({
    ok: true,
  });
  expect(await send({ v: 1, type: 'hello', addrs: mallory.host.addrs() })).toMatchObject({
    ok: true,
  });

  const status = await waitFor('the drop counters', async () => {
    const s = await alice.api('node.status', {});
    return s.dropped.not_allowed >= 1 && s.dropped.oversized >= 1 ? s : undefined;
  });
  expect(status.dropped.malformed).toBeGreaterThanOrEqual(1);
  expect(status.dropped.unsupported_version).toBeGreaterThanOrEqual(1);
  expect(status.dropped.bad_signature).toBe(1);
  expect(status.dropped.wrong_state).toBe(1);
  // Still working: the CLI answers and the group shows mallory as the only other member.
  const g = await alice.cliJson<{ members: { name: string }[] }>(['group', 'show', created.id]);
  expect(g.members.map((m) => m.name).sort()).toEqual(['alice', 'mallory']);
  const misuse = await alice.cli(['group', 'show']);
  expect(misuse.code).toBe(64);
  expect(misuse.stderr.trim().split('\n')).toHaveLength(1);
}, 120_000);
