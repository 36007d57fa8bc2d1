// Issue 13, malicious custodians in refresh and reshare: three members of a 2-of-3 ed25519 group,
// one of them running the real node with the test-only tampering layer (main/node/adversary.ts),
// which lies in its echo about another dealer's round-1 package. Dealers sign their packages with
// their identity keys, so each honest member names the liar, not the dealer lied about (without
// signatures the honest dealer was framed). The group stays at its epoch with its shares and the
// honest pair still signs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import type { RequestView } from '../../shared/api/index.js';
import { lying, setLie, verifiesEd25519 } from './adversary-helpers.js';
import { approveBy, groupStatus, requestStatus, tempRoot, TestNode, waitFor } from './harness.js';
import { recordCase } from './reliability-record.js';

const tmp = tempRoot('conclave-adv-reshare-');
const [alice, bob, mal] = ['alice', 'bob', 'mallory'].map((n) => new TestNode(n, tmp.root));
const honest = [alice!, bob!];

const lie = (kase: string) => setLie(mal!, kase);

/** How a member's peer id shows in names and summaries (…last 8). */
const shortId = (n: TestNode) => n.peerId.slice(-8);

let groupId = '';
let publicKey = '';

beforeAll(async () => {
  await Promise.all([alice!, bob!, mal!].map((n) => n.init()));
  await Promise.all(honest.map((n) => n.start()));
  await mal!.start(undefined, lying('none'));
  const created = await alice!.api('group.create', {
    name: 'vault',
    threshold: 2,
    size: 3,
    scheme: 'ed25519',
  });
  for (const n of [bob!, mal!]) await n.api('group.join', { invite: created.invite });
  await Promise.all([alice!, bob!, mal!].map((n) => groupStatus(n, created.id, 'confirming')));
  for (const n of [alice!, bob!, mal!]) await n.api('group.confirm', { group: created.id });
  const [g] = await Promise.all(
    [alice!, bob!, mal!].map((n) => groupStatus(n, created.id, 'ready')),
  );
  groupId = created.id;
  publicKey = g!.publicKey!;
}, 180_000);

afterAll(async () => {
  await Promise.all([alice!, bob!, mal!].map((n) => n.kill()));
  tmp.cleanup();
});

/**
 * The liar lies in its echo of the ceremony `propose` starts: the request fails on every honest
 * member naming the liar and no honest member (request and audit log); the group keeps epoch 0.
 */
async function caughtInCeremony(name: string, propose: () => Promise<RequestView>): Promise<void> {
  lie('reshare-lying-echo');
  const r = await propose();
  await approveBy(r.id, [bob!, mal!]);
  const ended = await Promise.all(honest.map((n) => requestStatus(n, r.id, 'failed', 120_000)));
  const named = ended.every((v) => v.failure?.includes(shortId(mal!)));
  const framed = honest.filter((h) => ended.some((v) => v.failure?.includes(shortId(h))));
  recordCase({
    suite: 'adversary',
    name,
    culprit: named ? mal!.name : null,
    outcome: !named ? 'undetected' : framed.length ? 'misattributed' : 'detected',
    detail: honest.map((n, i) => `${n.name}: ${ended[i]!.failure}`).join('; '),
  });
  for (const [i, n] of honest.entries()) {
    const failure = ended[i]!.failure;
    expect(failure).toContain(shortId(mal!));
    for (const h of honest) expect(failure, `${n.name} blames ${h.name}`).not.toContain(shortId(h));
    const audit = await n.api('audit.list', { group: groupId, limit: 200 });
    const failed = audit.find(
      (e) =>
        e.type === 'request.failed' && e.author.startsWith(n.peerId) && e.summary.includes(r.id),
    );
    expect(failed?.summary).toContain(shortId(mal!));
    for (const h of honest) expect(failed?.summary).not.toContain(shortId(h));
  }
  // Nobody moved: every member is still at epoch 0 with the same key.
  for (const n of [alice!, bob!, mal!])
    await waitFor(`${n.name} to stay at epoch 0`, async () => {
      const g = await n.api('group.show', { group: groupId });
      return g.status === 'ready' && g.epoch === 0 && g.publicKey === publicKey;
    });
}

describe('a member lying in its refresh or reshare echo is named, not the dealer it lied about', () => {
  it(
    "a refresh echo misreporting another dealer's round-1 package",
    () =>
      caughtInCeremony('refresh-lying-echo', () =>
        alice!.api('request.refresh', { group: groupId }),
      ),
    240_000,
  );

  it(
    "a reshare echo (threshold 2 → 3) misreporting another dealer's round-1 package",
    () =>
      caughtInCeremony('reshare-lying-echo', () =>
        alice!.api('request.reshare', { group: groupId, threshold: 3 }),
      ),
    240_000,
  );

  it('the honest members still sign with their shares of epoch 0', async () => {
    lie('none');
    const msg = bytesToHex(randomBytes(32));
    const r = await alice!.api('request.sign', { group: groupId, message: msg, encoding: 'hex' });
    await approveBy(r.id, honest);
    const done = await requestStatus(alice!, r.id, 'done', 90_000);
    expect(verifiesEd25519(done.signature!, msg, publicKey)).toBe(true);
  }, 150_000);
});
