// A member that goes away in the middle of a refresh: the ceremony aborts cleanly on the others,
// nobody is left with a mix of epochs, the audit log still verifies (and detects tampering), and
// the refresh succeeds when proposed again.
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'libsql';
import { join } from 'node:path';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { formGroup, tempRoot, TestNode, waitFor } from './harness.js';

describe.each(['ed25519', 'taproot'] as const)('a %s group', (scheme) => {
  const tmp = tempRoot();
  const env = { CONCLAVE_CEREMONY_TIMEOUT_MS: '6000' };
  const [oli, pia, quin] = ['oli', 'pia', 'quin'].map((n) => new TestNode(n, tmp.root, env));
  const all = [oli, pia, quin];

  afterAll(async () => {
    if (process.env.CONCLAVE_TEST_LOGS)
      for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
    await Promise.all(all.map((n) => n.kill()));
    tmp.cleanup();
  });

  const request = (n: TestNode, id: string, want: string) =>
    waitFor(
      `${want} on ${n.name}`,
      async () => {
        const r = await n.api('request.show', { id });
        return r.status === want ? (r as RequestView) : undefined;
      },
      90_000,
    );

  it('aborts a refresh when a member leaves mid-way, keeps every share at one epoch, then retries', async () => {
    await Promise.all(all.map((n) => n.init()));
    await oli.start();
    await pia.start();
    await quin.start(undefined, {
      CONCLAVE_ALLOW_FAULTS: '1',
      CONCLAVE_FAULT: 'exit-mid-ceremony',
    });
    const created = await formGroup(oli, [pia, quin], {
      name: 'ops',
      threshold: 2,
      scheme,
    });

    const first = await oli.cliJson<RequestView>(['request', 'refresh', '--group', 'ops']);
    await waitFor('pia sees it', async () =>
      (await pia.api('request.list', {})).some((r) => r.id === first.id),
    );
    await pia.cliJson(['approve', first.id]);
    await oli.cliJson(['approve', first.id]);
    // quin exits in the middle; the others give up at the ceremony deadline.
    await waitFor('quin to go away', () => quin.proc?.exitCode === 3);
    quin.proc = undefined;
    const failed = await request(oli, first.id, 'failed');
    expect(failed.failure).toMatch(/stays at epoch 0/);
    await request(pia, first.id, 'failed');
    for (const n of [oli, pia])
      expect((await n.api('group.show', { group: created.id })).epoch).toBe(0);

    // quin comes back (without the fault) still at epoch 0; the refresh is proposed again.
    await quin.start();
    expect((await quin.api('group.show', { group: created.id })).epoch).toBe(0);
    const second = await pia.cliJson<RequestView>(['request', 'refresh', '--group', 'ops']);
    await waitFor('oli sees it', async () =>
      (await oli.api('request.list', {})).some((r) => r.id === second.id),
    );
    await oli.cliJson(['approve', second.id]);
    await pia.cliJson(['approve', second.id]);
    for (const n of all) await request(n, second.id, 'done');
    const epochs = await Promise.all(
      all.map((n) =>
        waitFor(`${n.name} at epoch 1`, async () => {
          const g = await n.api('group.show', { group: created.id });
          return g.epoch === 1 ? (g as GroupView) : undefined;
        }),
      ),
    );
    expect(new Set(epochs.map((g) => g.publicKey)).size).toBe(1);

    // Every member holds the group's whole log: pia has oli's chain too, and it verifies.
    const mine = `${pia.peerId}/${created.id}`;
    const olis = `${oli.peerId}/${created.id}`;
    await waitFor('pia to hold oli’s entries', async () => {
      const entries = await pia.api('audit.list', { group: created.id });
      return entries.some((e) => e.author === olis && e.type === 'group.refreshed');
    });
    // The log converges: a checkpoint (written by any member's sync) can name another member's
    // newest entry a moment before that entry itself reaches pia.
    await waitFor(
      'pia’s log to verify',
      async () => (await pia.cli(['audit', 'verify'])).code === 0,
    );
    // A forged entry of oli's (in pia's copy) and a removed entry of pia's own are both found.
    await pia.kill();
    const db = new Database(join(pia.home, 'conclave.db'));
    const count = (author: string) =>
      (db.prepare('SELECT count(*) AS n FROM audit WHERE author = ?').get(author) as { n: number })
        .n;
    expect(count(olis)).toBeGreaterThan(4);
    expect(count(mine)).toBeGreaterThan(4);
    db.prepare(
      "UPDATE audit SET body = json_set(body, '$.forged', 1) WHERE author = ? AND seq = 2",
    ).run(olis);
    db.prepare('DELETE FROM audit WHERE author = ? AND seq = 3').run(mine);
    db.close();
    await pia.start();
    const report = await pia.cli(['audit', 'verify', '--json']);
    expect(report.code).toBe(1);
    const problems = (
      JSON.parse(report.stdout) as { problems: { author: string; seq: number; problem: string }[] }
    ).problems;
    expect(problems).toContainEqual(
      expect.objectContaining({
        author: olis,
        seq: 2,
        problem: expect.stringMatching(/hash mismatch/),
      }),
    );
    expect(problems).toContainEqual(
      expect.objectContaining({ author: mine, seq: 3, problem: expect.stringMatching(/missing/) }),
    );
  }, 240_000);
});
