// A participant that goes away in the middle of a reshare or a repair: the ceremony fails cleanly
// on the others, every member keeps the old epoch and roster (the newcomer is not left half a
// member), the group still signs, and the same change succeeds when proposed again. The one who
// leaves is either a plain participant or the coordinator, whose restart must not start the
// failed request again; each ceremony runs once per scheme.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { GroupView, RequestView, Scheme } from '../../shared/api/index.js';
import { formGroup, requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';

// Short enough that the abort does not dominate the run, long enough for a loaded 2-core machine
// to finish the retried ceremony within it.
const env = { CONCLAVE_CEREMONY_TIMEOUT_MS: '8000' };
const FAULT = { CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_FAULT: 'exit-mid-ceremony' };

function verifies(scheme: Scheme, publicKey: string, msg: string, sig: string): boolean {
  if (scheme === 'taproot')
    return schnorr.verify(hexToBytes(sig), utf8ToBytes(msg), hexToBytes(publicKey));
  const key = createPublicKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(hexToBytes(publicKey)).toString('base64url'),
    },
    format: 'jwk',
  });
  return nodeVerify(null, utf8ToBytes(msg), key, Buffer.from(hexToBytes(sig)));
}

/** The approver with the smallest peer id coordinates a ceremony (when it is online). */
const byPeerId = (a: TestNode, b: TestNode) => (a.peerId < b.peerId ? -1 : 1);
const names = (list: { name: string }[]) => list.map((m) => m.name).sort();

/** Creates a 2-of-3 group with `creator` and two joiners, and waits until all hold the key. */
async function createGroup(
  name: string,
  scheme: Scheme,
  creator: TestNode,
  joiners: TestNode[],
): Promise<GroupView> {
  const { groups } = await formGroup(creator, joiners, { name, threshold: 2, scheme });
  return groups[0];
}

/** Proposes a signature by `by`, approved by `approvers`; resolves with the done request. */
async function sign(
  group: string,
  by: TestNode,
  approvers: TestNode[],
  msg: string,
): Promise<RequestView> {
  const req = await by.cliJson<{ id: string }>([
    'request',
    'sign',
    '--group',
    group,
    '--message',
    msg,
  ]);
  for (const a of approvers) {
    await seen(a, req.id);
    await a.cliJson(['approve', req.id]);
  }
  return requestStatus(by, req.id, 'done');
}

/** Waits for `leaver` to exit with the fault's code and forgets its process. */
async function wentAway(leaver: TestNode): Promise<void> {
  await waitFor(`${leaver.name} to go away`, () => leaver.proc?.exitCode === 3, 60_000);
  leaver.proc = undefined;
}

describe.each([
  { scheme: 'ed25519', leaves: 'a member' },
  { scheme: 'taproot', leaves: 'the coordinator' },
] as const)('a $scheme reshare that loses $leaves mid-way', ({ scheme, leaves }) => {
  const tmp = tempRoot();
  const [ann, ben, cat, dan] = ['ann', 'ben', 'cat', 'dan'].map(
    (n) => new TestNode(n, tmp.root, env),
  );
  const all = [ann, ben, cat, dan];

  afterAll(async () => {
    if (process.env.CONCLAVE_TEST_LOGS)
      for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
    await Promise.all(all.map((n) => n.kill()));
    tmp.cleanup();
  });

  it('fails at the old epoch and roster everywhere, leaves the newcomer waiting, and succeeds when proposed again', async () => {
    await Promise.all(all.map((n) => n.init()));
    // A member that leaves does not approve; a coordinator that leaves approves and has the
    // smallest peer id. The proposer invites the newcomer and approves.
    const old = [ann, ben, cat].sort(byPeerId);
    const leaver = leaves === 'a member' ? old[2] : old[0];
    const [proposer, other] = old.filter((n) => n !== leaver);
    const approvers = leaves === 'a member' ? [proposer, other] : [leaver, proposer];
    const oldNames = names(old);
    await Promise.all(old.filter((n) => n !== leaver).map((n) => n.start()));
    await Promise.all([dan.start(), leaver.start(undefined, FAULT)]);
    const before = await createGroup('board', scheme, ann, [ben, cat]);

    const inv = await proposer.cliJson<{ invite: string }>(['group', 'invite', 'board']);
    expect((await dan.cliJson<GroupView>(['group', 'join', inv.invite])).status).toBe('forming');
    const propose = () =>
      proposer.cliJson<RequestView>(['request', 'reshare', '--group', 'board', '--add', 'dan']);
    const first = await propose();
    for (const a of approvers) {
      await seen(a, first.id);
      await a.cliJson(['approve', first.id]);
    }
    // The leaver exits after round 1 (as a dealer); the others give up.
    await wentAway(leaver);
    const stayed = [proposer, other];
    // Whoever gives up first names the leaver; the others may only hear that it aborted.
    const failures = await Promise.all(
      [...stayed, dan].map((n) => requestStatus(n, first.id, 'failed')),
    );
    for (const f of failures)
      expect(f.failure).toMatch(
        /^reshare failed: .+; the group stays at epoch 0 and a new reshare can be proposed$/,
      );
    expect(failures.map((f) => f.failure).join('\n')).toContain(
      `${leaver.name} could not be reached`,
    );
    const unchanged = async (n: TestNode) => {
      const g = await n.api('group.show', { group: before.id });
      expect(g).toMatchObject({ status: 'ready', epoch: 0, threshold: 2, size: 3 });
      expect(g.publicKey).toBe(before.publicKey);
      expect(names(g.members)).toEqual(oldNames);
    };
    for (const n of stayed) await unchanged(n);
    // The newcomer is not a member: still waiting, not on its own roster, holding no share.
    const waiting = await dan.api('group.show', { group: before.id });
    expect(waiting).toMatchObject({ status: 'forming', epoch: 0 });
    expect(waiting.error).toMatch(/waiting to be added/);
    expect(names(waiting.members)).toEqual(oldNames);
    const danSigns = await dan.cli([
      'request',
      'sign',
      '--group',
      'board',
      '--message',
      'too soon',
    ]);
    expect(danSigns.code).not.toBe(0);
    expect(danSigns.stderr).toMatch(/not ready to sign/);

    // The leaver comes back without the fault, still at epoch 0, and the reshare is failed there
    // too; the group signs with it.
    await leaver.start();
    await unchanged(leaver);
    await requestStatus(leaver, first.id, 'failed');
    const s0 = await sign('board', leaver, [leaver, other], 'after the failed reshare');
    expect(verifies(scheme, before.publicKey!, 'after the failed reshare', s0.signature!)).toBe(
      true,
    );

    // Joining again with the same invite is harmless: dan is told to keep waiting.
    const again = await dan.cliJson<GroupView>(['group', 'join', inv.invite]);
    expect(again.status).toBe('forming');
    expect(again.error).toMatch(/waiting to be added/);

    // The same reshare, proposed again by the inviter: dan needs no new invite.
    const second = await propose();
    for (const a of approvers) {
      await seen(a, second.id);
      await a.cliJson(['approve', second.id]);
    }
    for (const n of all) await requestStatus(n, second.id, 'done');
    const grown = await Promise.all(
      all.map((n) =>
        waitFor(
          `${n.name} at epoch 1`,
          async () => {
            const g = await n.api('group.show', { group: before.id });
            return g.epoch === 1 && g.status === 'ready' ? (g as GroupView) : undefined;
          },
          60_000,
        ),
      ),
    );
    for (const g of grown) {
      expect(g.publicKey).toBe(before.publicKey);
      expect(g).toMatchObject({ threshold: 2, size: 4 });
      expect(names(g.members)).toEqual(['ann', 'ben', 'cat', 'dan']);
    }
    // The first request stayed failed everywhere: nobody ran it again.
    for (const n of all)
      expect((await n.api('request.show', { id: first.id })).status).toBe('failed');
    const s1 = await sign('board', dan, [dan, leaver], 'dan is in');
    expect(verifies(scheme, before.publicKey!, 'dan is in', s1.signature!)).toBe(true);
  }, 240_000);
});

describe.each([
  { scheme: 'taproot', leaves: 'a helper' },
  { scheme: 'ed25519', leaves: 'the coordinator' },
] as const)('a $scheme repair that loses $leaves mid-way', ({ scheme, leaves }) => {
  const tmp = tempRoot();
  const [eva, fay, gus] = ['eva', 'fay', 'gus'].map((n) => new TestNode(n, tmp.root, env));
  const gus2 = new TestNode('gus-new', tmp.root, env);
  const all = [eva, fay, gus, gus2];

  afterAll(async () => {
    if (process.env.CONCLAVE_TEST_LOGS)
      for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
    await Promise.all(all.map((n) => n.kill()));
    tmp.cleanup();
  });

  it('fails with the group unchanged on every member, then rebuilds the share when proposed again', async () => {
    await Promise.all([eva, fay, gus].map((n) => n.init()));
    // Both remaining members must help (and approve); the one with the smaller peer id
    // coordinates. The steady one invites the new device and proposes.
    const helpers = [eva, fay].sort(byPeerId);
    const [leaver, steady] = leaves === 'a helper' ? [helpers[1], helpers[0]] : helpers;
    await Promise.all([steady.start(), gus.start(), leaver.start(undefined, FAULT)]);
    const before = await createGroup('vault', scheme, eva, [fay, gus]);

    // Gus loses his device and joins again as gus-new.
    await gus.kill('SIGKILL');
    rmSync(gus.home, { recursive: true, force: true });
    await gus2.init();
    await gus2.start();
    const inv = await steady.cliJson<{ invite: string }>(['group', 'invite', 'vault']);
    await gus2.cliJson(['group', 'join', inv.invite]);

    const propose = () =>
      steady.cliJson<RequestView>(['request', 'repair', '--group', 'vault', '--member', 'gus']);
    const first = await propose();
    await seen(leaver, first.id);
    await leaver.cliJson(['approve', first.id]);
    await steady.cliJson(['approve', first.id]);
    await wentAway(leaver);
    // The new device names the helper that went away; the steady helper quotes the device's
    // word, or, should its own deadline come first, only sees no confirmation (or, if the helper
    // left before answering its last message, no answer).
    expect((await requestStatus(gus2, first.id, 'failed')).failure).toBe(
      `repair failed: ${leaver.name} did not send its part of the share in time; it can be proposed again`,
    );
    expect((await requestStatus(steady, first.id, 'failed')).failure).toMatch(
      new RegExp(
        `^repair failed: (gus-new stopped it: "${leaver.name} did not send its part of the share in time"|gus-new did not confirm that it holds the share in time|${leaver.name} could not be reached \\(\\w+\\)); it can be proposed again$`,
      ),
    );
    const unchanged = async (n: TestNode) => {
      const g = await n.api('group.show', { group: before.id });
      expect(g).toMatchObject({ status: 'ready', epoch: 0, threshold: 2, size: 3 });
      expect(g.publicKey).toBe(before.publicKey);
      expect(names(g.members)).toEqual(['eva', 'fay', 'gus']);
    };
    await unchanged(steady);
    const newcomer = await gus2.api('group.show', { group: before.id });
    expect(newcomer.status).toBe('forming');
    expect(names(newcomer.members)).toEqual(['eva', 'fay', 'gus']);

    // The helper comes back without the fault: nothing changed there either, the repair is failed
    // there too (a restarted coordinator does not run it again), and the group signs.
    await leaver.start();
    await unchanged(leaver);
    expect((await requestStatus(leaver, first.id, 'failed')).failure).toMatch(
      /^repair failed: .+; it can be proposed again$/,
    );
    const s0 = await sign('vault', leaver, [leaver, steady], 'still two of three');
    expect(verifies(scheme, before.publicKey!, 'still two of three', s0.signature!)).toBe(true);

    // The same repair, proposed again, rebuilds gus's share on gus-new.
    const second = await propose();
    await seen(leaver, second.id);
    await leaver.cliJson(['approve', second.id]);
    await steady.cliJson(['approve', second.id]);
    for (const n of [steady, leaver]) await requestStatus(n, second.id, 'done');
    const after = await waitFor(
      'gus-new to hold the share',
      async () => {
        const g = await gus2.api('group.show', { group: before.id });
        return g.status === 'ready' ? (g as GroupView) : undefined;
      },
      60_000,
    );
    expect(after).toMatchObject({ epoch: 0, publicKey: before.publicKey });
    for (const n of [steady, leaver, gus2]) {
      const g = await waitFor(`${n.name}'s roster`, async () => {
        const v = await n.api('group.show', { group: before.id });
        return v.members.some((m) => m.name === 'gus-new') ? v : undefined;
      });
      expect(names(g.members)).toEqual(['eva', 'fay', 'gus-new']);
    }
    for (const n of [steady, leaver, gus2])
      expect((await n.api('request.show', { id: first.id })).status).toBe('failed');
    const s1 = await sign('vault', gus2, [gus2, leaver], 'gus is back');
    expect(verifies(scheme, before.publicKey!, 'gus is back', s1.signature!)).toBe(true);
    expect(names(s1.approvals)).toEqual(names([leaver, gus2]));
  }, 240_000);
});
