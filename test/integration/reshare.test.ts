// Reshare over the network: a newcomer joins a 2-of-3 group as the 4th member with threshold 3,
// then a member is removed back to 2-of-3; the key never changes, signing works after each step
// and the removed member can no longer take part.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { formGroup, requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';

describe.each(['ed25519', 'taproot'] as const)('reshare in a %s group', (scheme) => {
  const tmp = tempRoot();
  const [ann, ben, cat, dan] = ['ann', 'ben', 'cat', 'dan'].map((n) => new TestNode(n, tmp.root));
  const all = [ann, ben, cat, dan];

  afterAll(async () => {
    if (process.env.CONCLAVE_TEST_LOGS)
      for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
    await Promise.all(all.map((n) => n.kill()));
    tmp.cleanup();
  });

  const status = requestStatus;

  function verifies(publicKey: string, msg: string, sig: string): boolean {
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

  async function sign(by: TestNode, approvers: TestNode[], msg: string): Promise<RequestView> {
    const req = await by.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'board',
      '--message',
      msg,
    ]);
    for (const a of approvers) {
      await seen(a, req.id);
      await a.cliJson(['approve', req.id]);
    }
    return status(by, req.id, 'done');
  }

  it('adds a newcomer (2-of-3 → 3-of-4), then removes a member (→ 2-of-3), keeping the key', async () => {
    await Promise.all(all.map((n) => n.init()));
    await Promise.all(all.map((n) => n.start()));
    const created = await formGroup(ann, [ben, cat], { name: 'board', threshold: 2, scheme });
    const first = created.groups[0];

    // Dan joins with a newcomer invite and waits to be added.
    const inv = await ben.cliJson<{ invite: string }>(['group', 'invite', 'board']);
    const waiting = await dan.cliJson<GroupView>(['group', 'join', inv.invite]);
    expect(waiting.status).toBe('forming');
    expect(waiting.error).toMatch(/waiting to be added/);
    // ben, who invited dan, lists dan as a newcomer (with the fingerprint to compare).
    const onBen = await waitFor('dan listed on ben', async () => {
      const g = await ben.api('group.show', { group: created.id });
      return g.newcomers?.length ? g : undefined;
    });
    expect(onBen.newcomers).toEqual([
      { name: 'dan', peerId: dan.peerId, fingerprint: expect.stringMatching(/^[0-9A-Z-]{24}$/) },
    ]);

    const add = await ben.cliJson<RequestView>([
      'request',
      'reshare',
      '--group',
      'board',
      '--add',
      'dan',
      '--threshold',
      '3',
    ]);
    expect(add.kind).toBe('reshare');
    expect(add.description).toMatch(/add dan .*threshold from 2 to 3/);
    // Every member is shown the newcomer's fingerprint to compare with dan in person.
    expect(add.fingerprints?.[dan.peerId]).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){4}$/);
    expect(add.description).toContain(add.fingerprints![dan.peerId]);
    expect(add.fingerprints![dan.peerId]).toBe(onBen.newcomers![0].fingerprint);
    for (const n of [ann, cat]) await seen(n, add.id);
    await ann.cliJson(['approve', add.id]);
    await cat.cliJson(['approve', add.id]);
    for (const n of [ann, ben, cat]) await status(n, add.id, 'done');
    const grown = await Promise.all(
      all.map((n) =>
        waitFor(
          `${n.name} at epoch 1`,
          async () => {
            const g = await n.api('group.show', { group: created.id });
            return g.epoch === 1 && g.status === 'ready' ? (g as GroupView) : undefined;
          },
          60_000,
        ),
      ),
    );
    for (const g of grown) {
      expect(g.publicKey).toBe(first.publicKey);
      expect(g).toMatchObject({ threshold: 3, size: 4 });
      expect(g.members.map((m) => m.name).sort()).toEqual(['ann', 'ben', 'cat', 'dan']);
      expect(g.newcomers).toBeUndefined();
    }
    // 3-of-4 with the newcomer among the signers.
    const s1 = await sign(dan, [dan, ann, cat], 'first with dan');
    expect(verifies(first.publicKey!, 'first with dan', s1.signature!)).toBe(true);

    // Remove cat, back to 2-of-3.
    const rm = await ann.cliJson<RequestView>([
      'request',
      'reshare',
      '--group',
      'board',
      '--remove',
      'cat',
      '--threshold',
      '2',
    ]);
    for (const n of [ben, dan, cat]) await seen(n, rm.id);
    for (const n of [ann, ben, dan]) await n.cliJson(['approve', rm.id]);
    await status(ann, rm.id, 'done');
    const shrunk = await Promise.all(
      [ann, ben, dan].map((n) =>
        waitFor(
          `${n.name} at epoch 2`,
          async () => {
            const g = await n.api('group.show', { group: created.id });
            return g.epoch === 2 ? (g as GroupView) : undefined;
          },
          60_000,
        ),
      ),
    );
    for (const g of shrunk) {
      expect(g.publicKey).toBe(first.publicKey);
      expect(g).toMatchObject({ threshold: 2, size: 3 });
      expect(g.members.map((m) => m.name).sort()).toEqual(['ann', 'ben', 'dan']);
    }
    const gone = await waitFor('cat to know she left', async () => {
      const g = await cat.api('group.show', { group: created.id });
      return g.status === 'failed' ? g : undefined;
    });
    expect(gone.error).toMatch(/removed/);
    const s2 = await sign(ben, [dan, ann], 'after cat left');
    expect(verifies(first.publicKey!, 'after cat left', s2.signature!)).toBe(true);
    // Cat cannot take part any more: her node refuses, and the others no longer list her.
    const late = await ben.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'board',
      '--message',
      'cat tries',
    ]);
    await seen(ann, late.id);
    const catTry = await cat.cli(['request', 'show', late.id]);
    expect(catTry.code).not.toBe(0);
  }, 240_000);
});
