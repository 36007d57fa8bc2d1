// The audit log after the roster changed: a reshare that adds a newcomer and removes a member
// leaves every remaining member (the newcomer too) holding the removed member's chain, nothing is
// refused as a non-member's, and `audit verify` passes everywhere (no false unknown_author).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { formGroup, requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';

const tmp = tempRoot('conclave-audit-');
const [ann, ben, cat, dan] = ['ann', 'ben', 'cat', 'dan'].map((n) => new TestNode(n, tmp.root));
const all = [ann, ben, cat, dan];

beforeAll(async () => {
  await Promise.all(all.map((n) => n.init()));
  await Promise.all(all.map((n) => n.start()));
}, 180_000);

afterAll(async () => {
  if (process.env.CONCLAVE_TEST_LOGS) for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
  await Promise.all(all.map((n) => n.kill()));
  tmp.cleanup();
});

it('a reshare that adds dan and removes cat: the members keep cat’s chain, and audit verify passes', async () => {
  const created = await formGroup(ann, [ben, cat], {
    name: 'board',
    threshold: 2,
    scheme: 'ed25519',
  });
  const group = created.id;
  const inv = await ben.cliJson<{ invite: string }>(['group', 'invite', 'board']);
  await dan.cliJson<GroupView>(['group', 'join', inv.invite]);
  await waitFor('dan listed on ben', async () => {
    const g = await ben.api('group.show', { group });
    return g.newcomers?.length ? g : undefined;
  });
  const swap = await ben.cliJson<RequestView>([
    'request',
    'reshare',
    '--group',
    'board',
    '--add',
    'dan',
    '--remove',
    'cat',
  ]);
  for (const n of [ann, cat]) await seen(n, swap.id);
  for (const n of [ann, cat]) await n.cliJson(['approve', swap.id]);
  for (const n of [ann, ben]) await requestStatus(n, swap.id, 'done');
  const members = [ann, ben, dan];
  for (const n of members)
    await waitFor(
      `${n.name} at epoch 1`,
      async () => (await n.api('group.show', { group })).epoch === 1,
      90_000,
    );

  // cat's chain was written while cat was a member: everyone who stays holds it, dan included.
  for (const n of members)
    await waitFor(
      `cat's chain on ${n.name}`,
      async () =>
        (await n.api('audit.list', { group })).some((e) => e.author.startsWith(cat.peerId)),
      60_000,
    );
  // The log converges rather than arriving in order: dan's first entry (written while it was a
  // newcomer) was refused by the members then, so its later entries wait in memory on ann and ben
  // until dan's or a member's sync brings that first one. That sync is retried with backoff while
  // a member's roster still lags, so it can land seconds after the member reached epoch 1. Waited
  // for, then checked: nothing left waiting, and every member holds the same head of every chain.
  const heads = async (n: TestNode) => {
    const out = new Map<string, number>();
    for (const e of await n.api('audit.list', { group, limit: 10_000 }))
      out.set(e.author, Math.max(e.seq, out.get(e.author) ?? -1));
    return [...out].sort(([a], [b]) => a.localeCompare(b));
  };
  await waitFor(
    'the same audit log on ann, ben and dan, with no entry waiting for an earlier one',
    async () => {
      for (const n of members)
        if ((await n.api('node.status', {})).buffers?.pendingAudit !== 0) return false;
      const [first, ...rest] = await Promise.all(members.map(heads));
      return rest.every((h) => JSON.stringify(h) === JSON.stringify(first));
    },
    60_000,
  );
  const held = await heads(ann);
  for (const n of [ann, ben, cat, dan])
    expect(
      held.some(([author]) => author.startsWith(n.peerId)),
      `${n.name}'s chain`,
    ).toBe(true);
  for (const n of members) {
    const report = await n.api('audit.verify', {});
    expect(report.problems, `audit verify on ${n.name}`).toEqual([]);
    expect(report.ok).toBe(true);
    const status = await n.api('node.status', {});
    expect(status.dropped.unknown_author, `entries refused on ${n.name}`).toBeUndefined();
    expect(status.buffers).toMatchObject({ pendingAudit: 0, aborted: 0 });
  }
}, 300_000);
