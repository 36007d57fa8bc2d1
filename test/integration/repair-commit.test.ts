// A repair whose new device crashes right after telling only one member that it holds the share:
// the other member first gives up on it, then switches its roster too when the device, restarted,
// proves it holds the share. Every member ends with the same roster, and the device signs.
import { rmSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { RequestView } from '../../shared/api/index.js';
import {
  approveBy,
  formGroup,
  groupStatus,
  requestStatus,
  tempRoot,
  TestNode,
  waitFor,
} from './harness.js';

const tmp = tempRoot();
const env = { CONCLAVE_CEREMONY_TIMEOUT_MS: '6000' };
const [ada, bea, cyd] = ['ada', 'bea', 'cyd'].map((n) => new TestNode(n, tmp.root, env));
const cyd2 = new TestNode('cyd-new', tmp.root, env);
const all = [ada, bea, cyd, cyd2];

afterAll(async () => {
  if (process.env.CONCLAVE_TEST_LOGS) for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
  await Promise.all(all.map((n) => n.kill()));
  tmp.cleanup();
});

it('switches every member to the repaired device even when one missed its proof', async () => {
  await Promise.all([ada, bea, cyd].map((n) => n.init()));
  await Promise.all([ada, bea, cyd].map((n) => n.start()));
  const { id, groups } = await formGroup(ada, [bea, cyd], {
    name: 'vault',
    threshold: 2,
    scheme: 'ed25519',
  });
  const publicKey = groups[0].publicKey!;

  // cyd loses the device; the new one joins through ada's invite.
  await cyd.kill('SIGKILL');
  rmSync(cyd.home, { recursive: true, force: true });
  await cyd2.init();
  await cyd2.start(undefined, { CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_FAULT: 'exit-after-done' });
  const inv = await ada.cliJson<{ invite: string }>(['group', 'invite', 'vault']);
  await cyd2.cliJson(['group', 'join', inv.invite]);
  const req = await ada.cliJson<RequestView>([
    'request',
    'repair',
    '--group',
    'vault',
    '--member',
    'cyd',
  ]);
  await approveBy(req.id, [ada, bea]);

  // The device tells one member (the first on its roster), then crashes.
  await waitFor('cyd-new to go away', () => cyd2.proc?.exitCode === 3, 90_000);
  cyd2.proc = undefined;
  const [heard, missed] = await waitFor(
    'one member to switch, the other to give up',
    async () => {
      const s = await Promise.all([ada, bea].map((n) => n.api('request.show', { id: req.id })));
      if (s[0].status === 'done' && s[1].status === 'failed') return [ada, bea];
      if (s[1].status === 'done' && s[0].status === 'failed') return [bea, ada];
      return undefined;
    },
    60_000,
  );
  const split = await missed.api('group.show', { group: id });
  expect(split.members.map((m) => m.name).sort()).toEqual(['ada', 'bea', 'cyd']);

  // Restarted, the device proves it again to the member that missed it: that one switches too.
  await cyd2.start();
  // (its request goes from failed to done: requestStatus would stop at "failed")
  await waitFor(
    `the repair done on ${missed.name}`,
    async () => (await missed.api('request.show', { id: req.id })).status === 'done',
    60_000,
  );
  for (const n of [heard, missed, cyd2]) {
    const g = await waitFor(`${n.name}'s roster`, async () => {
      const v = await groupStatus(n, id, 'ready');
      return v.members.some((m) => m.name === 'cyd-new') ? v : undefined;
    });
    expect(g.members.map((m) => m.name).sort()).toEqual(['ada', 'bea', 'cyd-new']);
    expect(g.publicKey).toBe(publicKey);
  }

  // The repaired device signs with the member that had missed its proof.
  const msg = 'after the repair';
  const sreq = await missed.cliJson<RequestView>([
    'request',
    'sign',
    '--group',
    'vault',
    '--message',
    msg,
  ]);
  await approveBy(sreq.id, [missed, cyd2]);
  const done = await requestStatus(missed, sreq.id, 'done');
  expect(ed25519.verify(hexToBytes(done.signature!), utf8ToBytes(msg), hexToBytes(publicKey))).toBe(
    true,
  );
}, 240_000);
