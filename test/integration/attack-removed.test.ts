// Issue 9 finding 6 (stale approvals): an approval given by a member who is removed by a reshare
// before the request is signed must no longer count towards it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import {
  approveBy,
  formGroup,
  requestStatus,
  seen,
  tempRoot,
  TestNode,
  waitFor,
} from './harness.js';

const tmp = tempRoot('conclave-attack-');
const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => new TestNode(n, tmp.root));
const all = [alice, bob, carol];
let group = '';

beforeAll(async () => {
  await Promise.all(all.map((n) => n.init()));
  await Promise.all(all.map((n) => n.start()));
  group = (await formGroup(alice, [bob, carol], { name: 'vault', threshold: 2, scheme: 'ed25519' }))
    .id;
}, 120_000);

afterAll(async () => {
  if (process.env.CONCLAVE_TEST_LOGS) for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
  await Promise.all(all.map((n) => n.kill()));
  tmp.cleanup();
});

it('an approval by a member since removed by a reshare no longer counts', async () => {
  const req = await alice.cliJson<RequestView>([
    'request',
    'sign',
    '--group',
    'vault',
    '--message',
    'approved by carol while she was a member',
  ]);
  await approveBy(req.id, [carol]);
  for (const n of [alice, bob])
    await waitFor(`carol's approval on ${n.name}`, async () =>
      (await n.api('request.show', { id: req.id })).approvals.some(
        (a) => a.peerId === carol.peerId,
      ),
    );

  // alice and bob remove carol: 2-of-2.
  const rm = await alice.cliJson<RequestView>([
    'request',
    'reshare',
    '--group',
    'vault',
    '--remove',
    'carol',
    '--threshold',
    '2',
  ]);
  await seen(bob, rm.id);
  await bob.cliJson(['approve', rm.id]);
  await alice.cliJson(['approve', rm.id]);
  for (const n of [alice, bob])
    await waitFor(
      `${n.name} without carol`,
      async () => {
        const g: GroupView = await n.api('group.show', { group });
        return g.epoch === 1 && g.status === 'ready' && g.size === 2;
      },
      90_000,
    );

  for (const n of [alice, bob]) {
    const r = await n.api('request.show', { id: req.id });
    expect(
      r.approvals.map((a) => a.peerId),
      `approvals counted on ${n.name}`,
    ).not.toContain(carol.peerId);
  }
  // The two remaining members sign it with their own approvals.
  await approveBy(req.id, [alice, bob]);
  const done = await requestStatus(alice, req.id, 'done');
  expect(done.signature).toMatch(/^[0-9a-f]{128}$/);
}, 180_000);
