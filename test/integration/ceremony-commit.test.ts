// The end of a refresh when a member crashes at the worst moments. Every member must end at the
// same epoch: all switch (a member crashed right after telling only one other "done"), or none
// do (a dealer crashed after dealing to only one new member). The crashed member settles the
// outcome with the others when it comes back.
import { afterAll, expect, it } from 'vitest';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { approveBy, formGroup, requestStatus, tempRoot, TestNode, waitFor } from './harness.js';

const tmp = tempRoot();
const env = { CONCLAVE_CEREMONY_TIMEOUT_MS: '6000' };
const [ria, sol, tom] = ['ria', 'sol', 'tom'].map((n) => new TestNode(n, tmp.root, env));
const all = [ria, sol, tom];
const fault = (f: string) => ({ CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_FAULT: f });
let groupId = '';
let publicKey = '';

afterAll(async () => {
  if (process.env.CONCLAVE_TEST_LOGS) for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
  await Promise.all(all.map((n) => n.kill()));
  tmp.cleanup();
});

async function epochs(): Promise<number[]> {
  return Promise.all(all.map(async (n) => (await n.api('group.show', { group: groupId })).epoch));
}

async function allAt(epoch: number): Promise<GroupView[]> {
  return Promise.all(
    all.map((n) =>
      waitFor(
        `${n.name} at epoch ${epoch}`,
        async () => {
          const g = await n.api('group.show', { group: groupId });
          return g.epoch === epoch && g.status === 'ready' ? g : undefined;
        },
        90_000,
      ),
    ),
  );
}

async function refresh(by: TestNode, approvers: TestNode[]): Promise<string> {
  const req = await by.cliJson<RequestView>(['request', 'refresh', '--group', 'treasury']);
  await approveBy(req.id, approvers);
  return req.id;
}

/** tom exits on its own (the fault); the harness forgets the process. */
async function tomExits(): Promise<void> {
  await waitFor('tom to exit', () => tom.proc?.exitCode === 3, 90_000);
  tom.proc = undefined;
}

async function signs(approvers: TestNode[]): Promise<void> {
  const req = await approvers[0].cliJson<RequestView>([
    'request',
    'sign',
    '--group',
    'treasury',
    '--message',
    `after epoch ${(await epochs()).join('/')}`,
  ]);
  await approveBy(req.id, approvers);
  for (const n of approvers) await requestStatus(n, req.id, 'done');
}

it('forms a 2-of-3 group', async () => {
  await Promise.all(all.map((n) => n.init()));
  await Promise.all(all.map((n) => n.start()));
  const g = await formGroup(ria, [sol, tom], { name: 'treasury', threshold: 2, scheme: 'ed25519' });
  groupId = g.id;
  publicKey = g.groups[0].publicKey!;
}, 120_000);

it('switches everyone to the new epoch when a member crashes right after one "done"', async () => {
  // tom tells ria (the first other member) "done", then crashes: ria has every "done" and
  // switches; sol never hears tom's and must learn from ria that the refresh went through.
  await tom.kill();
  await tom.start(undefined, fault('exit-after-done'));
  const id = await refresh(ria, [ria, sol]);
  await tomExits();
  await requestStatus(ria, id, 'done');
  await requestStatus(sol, id, 'done');
  for (const n of [ria, sol]) expect((await n.api('group.show', { group: groupId })).epoch).toBe(1);

  // tom comes back holding both shares and a record of where it stood; it switches too.
  await tom.start();
  const groups = await allAt(1);
  expect(new Set(groups.map((g) => g.publicKey))).toEqual(new Set([publicKey]));
  await requestStatus(tom, id, 'done');
  // tom's share is the epoch 1 one: it signs with sol.
  await signs([tom, sol]);
  const audit = await tom.api('audit.list', { group: groupId });
  expect(
    audit.filter((e) => e.type === 'group.refreshed' && e.author.startsWith(tom.peerId)),
  ).toHaveLength(1);
}, 180_000);

it('keeps everyone at the old epoch when a dealer crashes after dealing to one member', async () => {
  // tom deals its part to ria only, then crashes: ria could finish and says "done"; sol cannot,
  // and says so; ria rolls back instead of switching alone.
  await tom.kill();
  await tom.start(undefined, fault('exit-during-round2'));
  const id = await refresh(sol, [sol, ria]);
  await tomExits();
  const failed = await requestStatus(ria, id, 'failed');
  expect(failed.failure).toMatch(/stays at epoch 1/);
  await requestStatus(sol, id, 'failed');
  await tom.start();
  await allAt(1);
  expect(await epochs()).toEqual([1, 1, 1]);
  // Every share still works at epoch 1 (ria's new epoch 2 share is gone, its epoch 1 kept).
  await signs([ria, tom]);

  // The refresh proposed again goes through.
  const again = await refresh(tom, [tom, ria]);
  for (const n of all) await requestStatus(n, again, 'done');
  const groups = await allAt(2);
  expect(new Set(groups.map((g) => g.publicKey))).toEqual(new Set([publicKey]));
  await signs([sol, ria]);
}, 240_000);

it('never mixes two refreshes proposed at the same time: at most one goes through', async () => {
  const a = await ria.cliJson<RequestView>(['request', 'refresh', '--group', 'treasury']);
  const b = await tom.cliJson<RequestView>(['request', 'refresh', '--group', 'treasury']);
  await Promise.all([approveBy(a.id, [ria, sol]), approveBy(b.id, [tom, sol])]);
  // Each ends, on every member, as done or failed; both were proposed for epoch 2.
  const ended = async (id: string) =>
    Promise.all(
      all.map((n) =>
        waitFor(
          `${id} to end on ${n.name}`,
          async () => {
            const r = await n.api('request.show', { id });
            return r.status === 'done' || r.status === 'failed' ? r.status : undefined;
          },
          90_000,
        ),
      ),
    );
  const [ea, eb] = [await ended(a.id), await ended(b.id)];
  for (const e of [ea, eb]) expect(new Set(e).size).toBe(1);
  const done = [ea[0], eb[0]].filter((s) => s === 'done').length;
  expect(done).toBeLessThanOrEqual(1);
  const groups = await allAt(2 + done);
  expect(new Set(groups.map((g) => g.publicKey))).toEqual(new Set([publicKey]));
  await signs([tom, sol]);
}, 240_000);
