// A member offline while a policy change was approved, and while a request was made under the new
// policy, gets both when it is back. The catch-up sends a group's requests oldest first, so the
// member applies the change before it judges the later request: it holds that request pending under
// the same policy and can approve it. (Sent newest first, the request came before the change's
// approvals and the member failed it for good, "made under another group policy".) The member
// catches up from one member only, so the order that member sends in is what is tested.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { formGroup, requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';

const tmp = tempRoot();
const [kai, lou, mo] = ['kai', 'lou', 'mo'].map((n) => new TestNode(n, tmp.root));
const all = [kai, lou, mo];

beforeAll(async () => {
  await Promise.all(all.map((n) => n.init()));
  await Promise.all(all.map((n) => n.start()));
}, 180_000);

afterAll(async () => {
  await Promise.all(all.map((n) => n.kill()));
  tmp.cleanup();
});

it('a member back after a policy change and a request under it applies the change and approves the request', async () => {
  const created = await formGroup(kai, [lou, mo], {
    name: 'desk',
    threshold: 2,
    scheme: 'ed25519',
  });
  await mo.kill();

  // While mo is away: the policy changes (requests now expire after 12 hours by default), and a
  // request is made under it.
  const current = await kai.cliJson<{ hash: string; policy: Record<string, unknown> }>([
    'group',
    'policy',
    'desk',
  ]);
  const file = join(tmp.root, 'policy.json');
  writeFileSync(file, JSON.stringify({ ...current.policy, defaultExpirySec: 12 * 3600 }));
  const change = await kai.cliJson<RequestView>([
    'request',
    'policy',
    '--group',
    'desk',
    '--file',
    file,
  ]);
  await seen(lou, change.id);
  await lou.cliJson(['approve', change.id]);
  await kai.cliJson(['approve', change.id]);
  for (const n of [kai, lou]) await requestStatus(n, change.id, 'done');
  const policy = await kai.api('group.policy', { group: created.id });
  expect(policy.hash).not.toBe(current.hash);
  const req = await kai.cliJson<RequestView>([
    'request',
    'sign',
    '--group',
    'desk',
    '--message',
    'made while mo was away',
  ]);
  await seen(lou, req.id);

  // mo catches up from kai alone (lou away from now on), so the order kai sends in decides.
  await lou.kill();
  await mo.start();
  await requestStatus(mo, change.id, 'done');
  await waitFor('mo on the new policy', async () => {
    const p = await mo.api('group.policy', { group: created.id });
    return p.hash === policy.hash;
  });
  const onMo = await requestStatus(mo, req.id, 'pending');
  expect(onMo.failure).toBeUndefined();
  // With lou away, mo's approval is the second one: the signature proves mo could give it.
  for (const n of [kai, mo]) await n.cliJson(['approve', req.id]);
  for (const n of [kai, mo]) await requestStatus(n, req.id, 'done');
}, 240_000);
