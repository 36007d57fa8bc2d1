// Refresh over the network: every member gets a new share of the same key, the epoch goes up, the
// old share is gone from the keychain and an old backup is refused; signing still works.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import type { RequestView } from '../../shared/api/index.js';
import { cli, formGroup, tempRoot, TestNode, waitFor } from './harness.js';

describe.each(['taproot', 'ed25519'] as const)('refresh in a %s group', (scheme) => {
  const tmp = tempRoot();
  const nodes = ['ida', 'jon', 'kim'].map((n) => new TestNode(n, tmp.root));

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    tmp.cleanup();
  });

  async function status(n: TestNode, id: string, want: string): Promise<RequestView> {
    return waitFor(
      `${want} on ${n.name}`,
      async () => {
        const r = await n.api('request.show', { id });
        if (r.status === 'failed' && want !== 'failed') throw new Error(r.failure);
        return r.status === want ? r : undefined;
      },
      90_000,
    );
  }

  it('refreshes the group: same key, epoch 1, old backup refused, signing works', async () => {
    await Promise.all(nodes.map((n) => n.init()));
    await Promise.all(nodes.map((n) => n.start()));
    const [ida, jon, kim] = nodes;
    const created = await formGroup(ida, [jon, kim], { name: 'cold', threshold: 2, scheme });
    const before = created.groups[2];
    expect(before.epoch).toBe(0);

    const env = { CONCLAVE_BACKUP_PASSPHRASE: 'an old backup passphrase' };
    const backup = join(tmp.root, 'jon-epoch0.backup');
    expect(
      (
        await cli(
          ['--home', jon.home, 'backup', 'export', '--group', 'cold', '--out', backup, '--yes'],
          env,
        )
      ).code,
    ).toBe(0);

    const req = await ida.cliJson<RequestView>(['request', 'refresh', '--group', 'cold']);
    expect(req.kind).toBe('refresh');
    expect(req.description).toMatch(/epoch 0 → 1/);
    await waitFor('everyone to see it', async () =>
      (await Promise.all([jon, kim].map((n) => n.api('request.list', {})))).every((l) =>
        l.some((r) => r.id === req.id),
      ),
    );
    await jon.cliJson(['approve', req.id]);
    await kim.cliJson(['approve', req.id]);
    for (const n of nodes) await status(n, req.id, 'done');
    const after = await Promise.all(
      nodes.map((n) =>
        waitFor('epoch 1', async () => {
          const g = await n.api('group.show', { group: created.id });
          return g.epoch === 1 ? g : undefined;
        }),
      ),
    );
    for (const g of after) expect(g.publicKey).toBe(before.publicKey);

    // The epoch-0 backup no longer restores.
    const stale = await cli(['--home', jon.home, 'backup', 'restore', backup], env);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/out of date/);
    expect(JSON.parse(readFileSync(backup, 'utf8')).epoch).toBe(0);

    // Signing with the new shares, under the same key.
    const msg = 'bb'.repeat(32);
    const sreq = await kim.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'cold',
      '--hex',
      msg,
    ]);
    await waitFor('ida to see it', async () =>
      (await ida.api('request.list', {})).some((r) => r.id === sreq.id),
    );
    await ida.cliJson(['approve', sreq.id]);
    await waitFor('jon to see it', async () =>
      (await jon.api('request.list', {})).some((r) => r.id === sreq.id),
    );
    await jon.cliJson(['approve', sreq.id]);
    const done = await status(kim, sreq.id, 'done');
    expect(
      (scheme === 'taproot' ? schnorr.verify : ed25519.verify)(
        hexToBytes(done.signature!),
        hexToBytes(msg),
        hexToBytes(before.publicKey!),
      ),
    ).toBe(true);
    const audit = await ida.cliJson<{ type: string }[]>(['audit', 'list']);
    expect(audit.map((e) => e.type)).toContain('group.refreshed');
  }, 240_000);
});
