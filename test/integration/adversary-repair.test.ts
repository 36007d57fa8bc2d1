// Issue 13, malicious custodians in repair: a 2-of-4 ed25519 group loses gus's device; his new
// device (gus-new) gets the share back from two helpers, one of them mallory running the real node
// with the test-only tampering layer (main/node/adversary.ts). She sends the device a wrong sum, or
// signed commitments other than the ones she showed the other helper, or that helper a wrong part.
// Each time the repair fails on every honest participant naming her and nobody honest (request
// and audit log: whoever caught her tells the others why it stopped the repair), the device
// keeps no share, the roster and the honest members' shares are unchanged (alice and bob still
// sign), and the repair proposed again with her away rebuilds the share on the device, which signs.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { lying, setLie, verifiesEd25519 } from './adversary-helpers.js';
import { approveBy, formGroup, requestStatus, tempRoot, TestNode, waitFor } from './harness.js';
import { recordCase } from './reliability-record.js';

// The honest members wait this long for the device's proof before giving up on a repair: short
// enough that a failed case does not dominate the run, long enough for a loaded 2-core machine to
// finish the honest repair within it.
const env = { CONCLAVE_CEREMONY_TIMEOUT_MS: '30000' };

const tmp = tempRoot('conclave-adv-repair-');
// Joined in this order, mallory holds index 2: with gus gone the helpers are alice and mallory.
const [alice, mal, bob, gus, gus2] = ['alice', 'mallory', 'bob', 'gus', 'gus-new'].map(
  (n) => new TestNode(n, tmp.root, env),
) as [TestNode, TestNode, TestNode, TestNode, TestNode];
/** Everyone honest in a repair: the members that stay and the new device. */
const honest = [alice, bob, gus2];

/** How a participant's peer id shows in names and summaries (…last 8). */
const shortId = (n: TestNode) => n.peerId.slice(-8);
const names = (list: { name: string }[]) => list.map((m) => m.name).sort();

let groupId = '';
let publicKey = '';

beforeAll(async () => {
  await Promise.all([alice, mal, bob, gus, gus2].map((n) => n.init()));
  await Promise.all([alice, bob, gus].map((n) => n.start()));
  await mal.start(undefined, lying('none'));
  const created = await formGroup(alice, [mal, bob, gus], {
    name: 'vault',
    threshold: 2,
    scheme: 'ed25519',
  });
  groupId = created.id;
  publicKey = created.groups[0]!.publicKey!;
  const indexOf = (n: TestNode) =>
    created.groups[0]!.members.find((m) => m.peerId === n.peerId)!.index;
  expect([alice, mal, bob, gus].map(indexOf)).toEqual([1, 2, 3, 4]);

  // Gus loses his device: process gone, home wiped; he joins again as gus-new.
  await gus.kill('SIGKILL');
  rmSync(gus.home, { recursive: true, force: true });
  await gus2.start();
  const inv = await alice.api('group.invite', { group: groupId });
  await gus2.api('group.join', { invite: inv.invite });
}, 240_000);

afterAll(async () => {
  if (process.env.CONCLAVE_TEST_LOGS)
    for (const n of [alice, mal, bob, gus2]) console.log(`--- ${n.name}\n${n.logs}`);
  await Promise.all([alice, mal, bob, gus, gus2].map((n) => n.kill()));
  tmp.cleanup();
});

/** Alice proposes the repair of gus's share on gus-new; alice and bob approve. */
async function proposeRepair(): Promise<RequestView> {
  const r = await alice.api('request.repair', { group: groupId, member: 'gus' });
  await approveBy(r.id, [alice, bob]);
  return r;
}

/** The group as `n` shows it is still the one before any repair: roster, key, epoch. */
async function unchanged(n: TestNode): Promise<GroupView> {
  const g = await n.api('group.show', { group: groupId });
  expect(g.epoch).toBe(0);
  expect(names(g.members)).toEqual(['alice', 'bob', 'gus', 'mallory']);
  return g;
}

/**
 * Mallory tells lie `kase` in a repair: it fails on every honest participant naming her and none
 * of them (request and audit log), the device holds no share and nobody's roster changed.
 */
async function caughtInRepair(kase: string): Promise<void> {
  setLie(mal, kase);
  const r = await proposeRepair();
  const ended = await Promise.all(honest.map((n) => requestStatus(n, r.id, 'failed', 150_000)));
  const named = ended.every((v) => v.failure?.includes(shortId(mal)));
  const framed = honest.filter((h) => ended.some((v) => v.failure?.includes(shortId(h))));
  recordCase({
    suite: 'adversary',
    name: kase,
    culprit: named ? mal.name : null,
    outcome: !named ? 'undetected' : framed.length ? 'misattributed' : 'detected',
    detail: honest.map((n, i) => `${n.name}: ${ended[i]!.failure}`).join('; '),
  });
  for (const [i, n] of honest.entries()) {
    const failure = ended[i]!.failure;
    // Named by peer id as a culprit; an honest participant is at most named as the one who
    // stopped the repair, never as missing or misbehaving.
    expect(failure, `${n.name}'s failure`).toContain(shortId(mal));
    expect(failure).not.toMatch(/did not|could not/);
    for (const h of honest) expect(failure, `${n.name} blames ${h.name}`).not.toContain(shortId(h));
    const audit = await n.api('audit.list', { group: groupId, limit: 200 });
    const failed = audit.find(
      (e) =>
        e.type === 'request.failed' && e.author.startsWith(n.peerId) && e.summary.includes(r.id),
    );
    expect(failed?.summary, `${n.name}'s audit entry`).toContain(shortId(mal));
    for (const h of honest) expect(failed?.summary).not.toContain(shortId(h));
  }
  // No wrong (or any) share on the device; every roster as it was.
  const device = await gus2.api('group.show', { group: groupId });
  expect(device.status).toBe('forming');
  expect(names(device.members)).toEqual(['alice', 'bob', 'gus', 'mallory']);
  for (const n of [alice, bob]) expect((await unchanged(n)).status).toBe('ready');
  setLie(mal, 'none');
}

/** A message signed by `approvers` (the first proposes); checked against the group key. */
async function signs(approvers: TestNode[]): Promise<RequestView> {
  const msg = bytesToHex(randomBytes(32));
  const r = await approvers[0]!.api('request.sign', {
    group: groupId,
    message: msg,
    encoding: 'hex',
  });
  await approveBy(r.id, approvers);
  const done = await requestStatus(approvers[0]!, r.id, 'done', 90_000);
  expect(verifiesEd25519(done.signature!, msg, publicKey)).toBe(true);
  return done;
}

describe('a repair helper lying to the new device is named, and the repair retried without her works', () => {
  it('a wrong sum to the new device', () => caughtInRepair('repair-bad-sum'), 240_000);

  it(
    'signed commitments to the new device other than the ones the other helper saw',
    () => caughtInRepair('repair-equivocate'),
    240_000,
  );

  it('a wrong part to the other helper', () => caughtInRepair('repair-bad-part'), 240_000);

  it('the honest members still sign with their shares', () => signs([alice, bob]), 150_000);

  it('the repair proposed again with the liar away rebuilds the share, and the device signs', async () => {
    await mal.kill();
    const r = await proposeRepair();
    for (const n of [alice, bob]) await requestStatus(n, r.id, 'done', 150_000);
    const after = await waitFor(
      'gus-new to hold the share',
      async () => {
        const g = await gus2.api('group.show', { group: groupId });
        return g.status === 'ready' ? g : undefined;
      },
      90_000,
    );
    expect(after).toMatchObject({ epoch: 0, publicKey });
    for (const n of [alice, bob, gus2]) {
      const g = await waitFor(`${n.name}'s roster`, async () => {
        const v = await n.api('group.show', { group: groupId });
        return v.members.some((m) => m.name === 'gus-new') ? v : undefined;
      });
      expect(names(g.members)).toEqual(['alice', 'bob', 'gus-new', 'mallory']);
    }
    const done = await signs([gus2, alice]);
    expect(names(done.approvals)).toEqual(['alice', 'gus-new']);
  }, 240_000);
});
