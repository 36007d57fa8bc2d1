// Issue 13, malicious custodians while signing: a 2-of-3 ed25519 group in which the coordinator
// runs the real node with the test-only tampering layer (main/node/adversary.ts) and lies to a
// signer in the commitment list of its sign request. Each case: the signer releases no share (no
// nonce used, no output), names the coordinator in its view of the request and, as its own
// statement, in its audit chain; once the third member approves, the two honest members sign
// that request without the liar (the victim no longer counts it as coordinator), and at the end
// the liar, honest again, signs too, so no share was harmed.
import { beforeAll, describe, expect, it } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { expectNoNonceReuse, nonceRecords } from './crash-helpers.js';
import { approveBy, GiveUp, requestStatus, type TestNode, waitFor } from './harness.js';
import { lying, setLie, signRandom, threeNodeGroup, verifiesEd25519 } from './adversary-helpers.js';
import { recordCase } from './reliability-record.js';

// victim creates the group; the liar starts with the tampering layer, telling no lie yet.
const fx = threeNodeGroup({
  tmpPrefix: 'conclave-adv-coord-',
  name: 'adv-coord',
  creator: 1,
  env: (rank) => (rank === 0 ? lying('none') : undefined),
});
const nodes = fx.nodes;
/** The liar: the smallest peer id, so it coordinates every request it approves. */
let liar: TestNode;
/** The signer it lies to (the approver it asks), and the member that stays out of it. */
let victim: TestNode;
let honest: TestNode;
let group = '';
let publicKey = '';
beforeAll(() => {
  [liar, victim, honest] = fx.ranked;
  group = fx.group.id;
  publicKey = fx.group.publicKey!;
});

/** Switches the liar to another lie (no restart needed). */
const lie = (kase: string) => setLie(liar, kase);

/**
 * Restarts the liar, honest: every attempt the victim refuses costs the liar one of the victim's
 * commitments, and pools are exchanged afresh both ways when members reconnect.
 */
async function freshLiar(): Promise<void> {
  await liar.kill();
  lie('none');
  await liar.start(undefined, lying('none'));
  for (const n of nodes)
    await waitFor(`${n.name} to see both others`, async () => {
      const s = await n.api('node.status', {});
      return (s.connections?.members ?? 0) >= 2;
    });
}

const signRequest = (by: TestNode) => signRandom(by, group);

const verifies = (r: RequestView, msg: string) => verifiesEd25519(r.signature!, msg, publicKey);

/** The nonce records (share_released entries) signer `n` wrote for request `id`. */
function releases(n: TestNode, id: string): string[] {
  return nonceRecords(nodes, group)
    .filter(([signer, , req]) => signer === n.peerId && req === id)
    .map(([, nonce]) => nonce);
}

/**
 * The liar coordinates a request the victim approved and lies to it (`kase`); the victim refuses
 * with `reason` and names the liar; then the honest member approves, the liar lies to it too, and
 * the victim signs the request with the honest member.
 */
async function caughtCoordinating(kase: string, reason: RegExp): Promise<void> {
  await freshLiar();
  // An honest signature by the liar with each of the others first: the replay cases send them
  // again, and they show the pools are in order before the lie.
  for (const other of [victim, honest]) {
    const first = await signRequest(liar);
    await approveBy(first.id, [liar, other]);
    expect(verifies(await requestStatus(liar, first.id, 'done', 60_000), first.msg)).toBe(true);
    await requestStatus(other, first.id, 'done', 30_000);
    expect(releases(other, first.id)).toHaveLength(1);
  }

  lie(kase);
  const { id, msg } = await signRequest(liar);
  await approveBy(id, [liar, victim]);
  const named = await waitFor(
    `${kase}: the victim to name the coordinator`,
    async () => {
      const r = await victim.api('request.show', { id });
      if (r.status === 'done') throw new GiveUp(`signed with the coordinator's ${kase} unnoticed`);
      return r.culprits.includes(liar.peerId) ? r : undefined;
    },
    60_000,
  );
  expect(named.culprits).toEqual([liar.peerId]);
  expect(named.signature).toBeUndefined();
  // Its audit chain says why, as its own statement (authored by the victim, naming the liar).
  const audit = await victim.api('audit.list', { group, limit: 500 });
  const entry = audit.find((e) => e.type === 'request.share_refused' && e.summary.includes(id));
  expect(entry, 'the refusal in the victim audit log').toBeDefined();
  expect(entry!.author).toBe(`${victim.peerId}/${group}`);
  expect(entry!.summary).toContain(liar.peerId.slice(-8));
  expect(entry!.summary).toMatch(reason);
  // Once per request, however often the liar asks.
  expect(audit.filter((e) => e.summary.includes(id) && e.type === entry!.type)).toHaveLength(1);
  // No share left the victim for it, and no nonce was used twice (its replayed one included).
  expect(releases(victim, id)).toEqual([]);
  expectNoNonceReuse(nodes, group);
  const atLiar = await liar.api('request.show', { id });
  expect(atLiar.status).not.toBe('done');
  expect(atLiar.signature).toBeUndefined();
  // The honest member holds the victim's statement (its copy of the victim's chain) and, taking
  // it as the victim's word only, does not blame the liar for this request.
  await waitFor('the honest member to hold the victim statement', async () => {
    const copy = await honest.api('audit.list', { group, limit: 500 });
    return copy.some((e) => e.hash === entry!.hash);
  });
  expect((await honest.api('request.show', { id })).culprits).not.toContain(liar.peerId);

  // The honest member approves too. The liar asks it, with the same lie, and is refused again;
  // the victim, for which the liar coordinates this request no more, signs it with the honest
  // member (and refuses the liar's failure outcome for it: a culprit coordinates no more).
  await approveBy(id, [honest]);
  const done = await requestStatus(victim, id, 'done', 60_000);
  expect(verifies(done, msg)).toBe(true);
  expect(done.culprits).toEqual([liar.peerId]);
  await requestStatus(honest, id, 'done', 30_000);
  // The honest member's share went to the victim, never to the liar; the victim's own went into
  // the signature it made (no nonce record: the coordinator's share is not asked for).
  const mine = `${honest.peerId}/${group}`;
  const released = (await honest.api('audit.list', { group, limit: 500 })).filter(
    (e) => e.author === mine && e.type === 'request.share_released' && e.summary.includes(id),
  );
  expect(released.map((e) => e.summary.endsWith(victim.peerId.slice(-8)))).toEqual([true]);
  expect(releases(honest, id)).toHaveLength(1);
  expect(releases(victim, id)).toEqual([]);
  expectNoNonceReuse(nodes, group);
  recordCase({
    suite: 'adversary',
    name: kase,
    culprit: liar.name,
    outcome: 'detected',
    detail: entry!.summary,
  });
}

describe('a coordinator that lies in its commitment list is named by the signer, which releases no share', () => {
  it(
    'a commitment for the signer that is not from its pool (a random valid point)',
    () => caughtCoordinating('coord-foreign-commitment', /never gave it/),
    180_000,
  );

  it(
    "one of the signer's hiding commitments paired with another binding commitment",
    () => caughtCoordinating('coord-foreign-binding', /binding commitment the signer never made/),
    180_000,
  );

  it(
    "a commitment of the signer's already used in an earlier signature",
    () => caughtCoordinating('coord-used-commitment', /already used \(request [0-9a-f]+\)/),
    180_000,
  );

  it(
    'the signing package of an earlier request replayed for a new one',
    () => caughtCoordinating('coord-replay', /already used \(request [0-9a-f]+\)/),
    180_000,
  );

  it(
    "a tampered commitment list: another signer's commitment is a point of small order",
    () => caughtCoordinating('coord-bad-list', /invalid commitment for/),
    180_000,
  );

  it('afterwards the liar, honest again, signs with each honest member', async () => {
    await freshLiar();
    for (const other of [victim, honest]) {
      const r = await signRequest(liar);
      await approveBy(r.id, [liar, other]);
      const done = await requestStatus(liar, r.id, 'done', 60_000);
      expect(verifies(done, r.msg)).toBe(true);
      expect(done.culprits).toEqual([]);
    }
    expectNoNonceReuse(nodes, group);
  }, 180_000);
});
