// Issue 13, malicious custodians while signing: a 2-of-3 ed25519 group in which one member runs
// the real node with the test-only tampering layer (main/node/adversary.ts) and lies as a signer.
// Each case: the coordinator names it (request view and audit log), no invalid signature comes
// out, and the request is signed with the honest approver instead; afterwards the honest members
// (and the liar, restarted honest) still sign, so no share was harmed.
import { beforeAll, describe, expect, it } from 'vitest';
import type { RequestView } from '../../shared/api/index.js';
import { approveBy, GiveUp, requestStatus, type TestNode, waitFor } from './harness.js';
import { lying, setLie, signRandom, threeNodeGroup, verifiesEd25519 } from './adversary-helpers.js';
import { recordCase } from './reliability-record.js';

// The coordinator creates the group; the liar starts with the tampering layer, telling no lie yet.
const fx = threeNodeGroup({
  tmpPrefix: 'conclave-adv-sign-',
  name: 'adv',
  creator: 0,
  env: (rank) => (rank === 2 ? lying('none') : undefined),
});
/** The coordinator: the approver with the smallest peer id (it coordinates whoever approves). */
let coord: TestNode;
let honest: TestNode;
let mal: TestNode;
let group = '';
let publicKey = '';
beforeAll(() => {
  [coord, honest, mal] = fx.ranked;
  group = fx.group.id;
  publicKey = fx.group.publicKey!;
});

/** Switches the liar to another lie (no restart needed). */
const lie = (kase: string) => setLie(mal, kase);

/**
 * Restarts the liar: the coordinator loses one of its commitments with every answer it refuses
 * (the refill goes with it), so after a few lies the liar has none left there and would not be
 * asked at all. A restarted node sends a fresh pool when it connects.
 */
async function freshPool(): Promise<void> {
  await mal.kill();
  await mal.start(undefined, lying('none'));
  await waitFor('the liar to be connected again', async () => {
    const s = await coord.api('node.status', {});
    return (s.connections?.members ?? 0) >= 2;
  });
}

const signRequest = () => signRandom(coord, group);

const verifies = (r: RequestView, msg: string) => verifiesEd25519(r.signature!, msg, publicKey);

/**
 * The liar and the coordinator approve: the coordinator asks the liar, catches the lie and names
 * it; once the honest member approves the request is signed with it, and the signature verifies.
 */
async function caughtSigning(kase: string): Promise<void> {
  lie(kase);
  const { id, msg } = await signRequest();
  await approveBy(id, [coord, mal]);
  const blamed = await waitFor(
    `${kase}: the coordinator to name the liar`,
    async () => {
      const r = await coord.api('request.show', { id });
      if (r.status === 'done') throw new GiveUp(`signed with the liar's ${kase} unnoticed`);
      return r.culprits.includes(mal.peerId) ? r : undefined;
    },
    60_000,
  );
  expect(blamed.status).not.toBe('done');
  await approveBy(id, [honest]);
  const done = await requestStatus(coord, id, 'done', 60_000);
  expect(verifies(done, msg)).toBe(true);
  expect(done.culprits).toEqual([mal.peerId]);
  // The audit log says who failed the attempt.
  const audit = await coord.api('audit.list', { group, limit: 500 });
  const entry = audit.find(
    (e) => e.type === 'request.signing_attempt_failed' && e.summary.includes(id),
  );
  expect(entry?.summary).toContain(mal.peerId.slice(-8));
  // The honest member's view: the request is done (a coordinator's word on culprits is not taken
  // by the others, finding 4), and its copy of the coordinator's audit chain names the liar.
  await requestStatus(honest, id, 'done', 30_000);
  await waitFor('the honest member to hold the entry naming the liar', async () => {
    const copy = await honest.api('audit.list', { group, limit: 500 });
    return copy.some((e) => e.hash === entry!.hash);
  });
  recordCase({
    suite: 'adversary',
    name: kase,
    culprit: mal.name,
    outcome: 'detected',
    detail: entry?.summary,
  });
}

describe('a signer that lies to the coordinator is named, and the honest members sign instead', () => {
  it(
    'a bad signature share, with a receipt signed over it',
    () => caughtSigning('sign-bad-share'),
    120_000,
  );

  it(
    'a receipt over another commitment list than the one sent',
    () => caughtSigning('sign-tampered-commitments'),
    120_000,
  );

  it('withholding the share', () => caughtSigning('sign-withhold'), 120_000);

  it('replaying the share and receipt of an earlier request', async () => {
    await freshPool();
    lie('sign-replay');
    // The first request the liar signs in this mode is honest: it is what it replays next.
    const first = await signRequest();
    await approveBy(first.id, [coord, mal]);
    expect(verifies(await requestStatus(coord, first.id, 'done', 60_000), first.msg)).toBe(true);
    await caughtSigning('sign-replay');
  }, 180_000);

  for (const kase of ['sign-off-curve', 'sign-low-order', 'sign-non-canonical'])
    it(`a refill commitment with a bad point (${kase})`, async () => {
      await freshPool();
      await caughtSigning(kase);
    }, 120_000);

  for (const [kase, reason] of [
    ['approve-forged', 'bad_signature'],
    ['approve-other-hash', 'wrong_request_hash'],
  ] as const)
    it(`an approval that does not count (${kase}) is dropped naming its sender; the honest pair signs`, async () => {
      lie(kase);
      const dropped = async () => (await coord.api('node.status', {})).dropped[reason] ?? 0;
      const before = await dropped();
      const { id, msg } = await signRequest();
      await approveBy(id, [coord, mal]);
      await waitFor(`${kase}: the coordinator to drop the liar's approval`, async () => {
        return (await dropped()) > before;
      });
      const r = await coord.api('request.show', { id });
      expect(r.status).toBe('pending');
      expect(r.approvals.map((d) => d.peerId)).not.toContain(mal.peerId);
      // The drop log names the sender (one line per reason per 10 s: the first is this one).
      expect(coord.logs).toMatch(
        new RegExp(`dropped \\(${reason}\\) from …${mal.peerId.slice(-8)}`),
      );
      await approveBy(id, [honest]);
      const done = await requestStatus(coord, id, 'done', 60_000);
      expect(verifies(done, msg)).toBe(true);
      expect(done.approvals.map((d) => d.peerId)).not.toContain(mal.peerId);
      recordCase({
        suite: 'adversary',
        name: kase,
        culprit: mal.name,
        outcome: 'detected',
        detail: `dropped (${reason}) and logged with the sender; the request was signed without it`,
      });
    }, 120_000);

  it('afterwards every share is intact: the honest pair signs, and the liar, honest again, too', async () => {
    lie('none');
    await freshPool();
    const a = await signRequest();
    await approveBy(a.id, [coord, honest]);
    expect(verifies(await requestStatus(coord, a.id, 'done', 60_000), a.msg)).toBe(true);
    const b = await signRequest();
    await approveBy(b.id, [coord, mal]);
    const done = await requestStatus(coord, b.id, 'done', 60_000);
    expect(verifies(done, b.msg)).toBe(true);
    expect(done.culprits).toEqual([]);
  }, 120_000);
});
