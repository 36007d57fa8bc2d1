// Group policy: a change approved by T takes effect on every member; signing then needs what the
// policy says; a member holding a tampered policy cannot make the others approve or sign.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { formGroup, requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';

describe.each(['ed25519', 'taproot'] as const)('group policy in a %s group', (scheme) => {
  const tmp = tempRoot();
  const [rae, sam, ted] = ['rae', 'sam', 'ted'].map((n) => new TestNode(n, tmp.root));
  const all = [rae, sam, ted];

  afterAll(async () => {
    await Promise.all(all.map((n) => n.kill()));
    tmp.cleanup();
  });

  it('applies an approved policy change everywhere and refuses requests made under a tampered one', async () => {
    await Promise.all(all.map((n) => n.init()));
    await Promise.all(all.map((n) => n.start()));
    const created = await formGroup(rae, [sam, ted], {
      name: 'fund',
      threshold: 2,
      scheme,
    });

    const current = await rae.cliJson<{
      hash: string;
      policy: Record<string, unknown>;
      description: string[];
    }>(['group', 'policy', 'fund']);
    expect(current.description.join(' ')).toMatch(/Reconstructing the key is not allowed/);
    // Signing needs all three from now on.
    const file = join(tmp.root, 'policy.json');
    writeFileSync(file, JSON.stringify({ ...current.policy, approvals: { sign: 3 } }));
    const change = await rae.cliJson<RequestView>([
      'request',
      'policy',
      '--group',
      'fund',
      '--file',
      file,
    ]);
    expect(change.kind).toBe('policy');
    await seen(sam, change.id);
    await sam.cliJson(['approve', change.id]);
    await rae.cliJson(['approve', change.id]);
    for (const n of all) await requestStatus(n, change.id, 'done');
    const hashes = await Promise.all(
      all.map((n) =>
        waitFor(`${n.name} new policy`, async () => {
          const p = await n.api('group.policy', { group: created.id });
          return p.hash !== current.hash ? p.hash : undefined;
        }),
      ),
    );
    expect(new Set(hashes).size).toBe(1);

    const req = await sam.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'fund',
      '--message',
      'needs everyone',
    ]);
    for (const n of [rae, ted]) await seen(n, req.id);
    await sam.cliJson(['approve', req.id]);
    await rae.cliJson(['approve', req.id]);
    // Two approvals are no longer enough …
    const shown = await sam.api('request.show', { id: req.id });
    expect(shown.status).toBe('pending');
    await ted.cliJson(['approve', req.id]);
    await requestStatus(sam, req.id, 'done');

    // Ted's node gets a tampered policy (two approvals for signing again) behind the group's back.
    await ted.kill();
    const db = new Database(join(ted.home, 'conclave.db'));
    db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(
      JSON.stringify({ ...current.policy }),
      `policy:${created.id}`,
    );
    db.close();
    await ted.start();
    const sneaky = await ted.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'fund',
      '--message',
      'only two of us',
    ]);
    const refused = await waitFor('rae to refuse it', async () => {
      const r = await rae.api('request.list', {});
      return r.find((x) => x.id === sneaky.id && x.status === 'failed');
    });
    expect(refused.failure).toMatch(/another group policy/);
    const late = await rae.cli(['approve', sneaky.id]);
    expect(late.code).not.toBe(0);
  }, 240_000);
});
