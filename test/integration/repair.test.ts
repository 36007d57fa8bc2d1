// Repair over the network: a member whose device is wiped re-installs with a fresh identity, the
// group approves, two helpers rebuild exactly that share on the new device, and it signs.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { formGroup, requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';

describe.each(['ed25519', 'taproot'] as const)('repair in a %s group', (scheme) => {
  const tmp = tempRoot();
  const [eva, fay, gus] = ['eva', 'fay', 'gus'].map((n) => new TestNode(n, tmp.root));
  const gus2 = new TestNode('gus-new', tmp.root);
  const all = [eva, fay, gus, gus2];

  afterAll(async () => {
    if (process.env.CONCLAVE_TEST_LOGS)
      for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
    await Promise.all(all.map((n) => n.kill()));
    tmp.cleanup();
  });

  const status = requestStatus;

  it('rebuilds a wiped member’s share on a new identity, keeps key and epoch, and signs with it', async () => {
    await Promise.all([eva, fay, gus].map((n) => n.init()));
    await Promise.all([eva, fay, gus].map((n) => n.start()));
    const created = await formGroup(eva, [fay, gus], { name: 'vault', threshold: 2, scheme });
    const before = created.groups[0];

    // Gus loses his device: process gone, home wiped.
    await gus.kill('SIGKILL');
    rmSync(gus.home, { recursive: true, force: true });
    await gus2.init();
    await gus2.start();
    const inv = await fay.cliJson<{ invite: string }>(['group', 'invite', 'vault']);
    await gus2.cliJson(['group', 'join', inv.invite]);

    const req = await fay.cliJson<RequestView>([
      'request',
      'repair',
      '--group',
      'vault',
      '--member',
      'gus',
    ]);
    expect(req.kind).toBe('repair');
    expect(req.description).toMatch(/rebuild gus's share .*gus-new/);
    await seen(eva, req.id);
    await eva.cliJson(['approve', req.id]);
    await fay.cliJson(['approve', req.id]);
    for (const n of [eva, fay]) await status(n, req.id, 'done');
    const after = await waitFor(
      'gus-new to hold the share',
      async () => {
        const g = await gus2.api('group.show', { group: created.id });
        return g.status === 'ready' ? (g as GroupView) : undefined;
      },
      60_000,
    );
    expect(after.publicKey).toBe(before.publicKey);
    expect(after.epoch).toBe(0);
    for (const n of [eva, fay, gus2]) {
      const g = await waitFor(`${n.name}'s roster`, async () => {
        const v = await n.api('group.show', { group: created.id });
        return v.members.some((m) => m.name === 'gus-new') ? v : undefined;
      });
      expect(g.members.map((m) => m.name).sort()).toEqual(['eva', 'fay', 'gus-new']);
    }

    // The repaired member signs with eva.
    const sreq = await gus2.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'vault',
      '--message',
      'back in business',
    ]);
    await seen(eva, sreq.id);
    await eva.cliJson(['approve', sreq.id]);
    await gus2.cliJson(['approve', sreq.id]);
    const done = await status(eva, sreq.id, 'done');
    const msg = utf8ToBytes('back in business');
    if (scheme === 'taproot') {
      expect(schnorr.verify(hexToBytes(done.signature!), msg, hexToBytes(before.publicKey!))).toBe(
        true,
      );
    } else {
      const key = createPublicKey({
        key: {
          kty: 'OKP',
          crv: 'Ed25519',
          x: Buffer.from(hexToBytes(before.publicKey!)).toString('base64url'),
        },
        format: 'jwk',
      });
      expect(nodeVerify(null, msg, key, Buffer.from(hexToBytes(done.signature!)))).toBe(true);
    }
    expect(done.approvals.map((a) => a.name).sort()).toEqual(['eva', 'gus-new']);
  }, 240_000);
});
