// A signer or the coordinator SIGKILLed at each named point of signing, then restarted: the request
// and the approvals acknowledged before the kill are still there, the request completes (with
// another signer or on a retry), no nonce is used twice (from every member's share_released
// entries), and the group still signs with the restarted member.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupView } from '../../shared/api/index.js';
import type { CrashPoint } from '../../main/node/crash.js';
import { requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';
import {
  allReady,
  crashEnv,
  expectNoNonceReuse,
  formGroupApi,
  recordCrash,
  restart,
  signAndVerify,
  waitForCrash,
} from './crash-helpers.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';

describe('signing in a 2-of-3 group with a member that crashes', () => {
  const tmp = tempRoot('conclave-crash-sign-');
  const [ann, ben, cal] = ['ann', 'ben', 'cal'].map((n) => new TestNode(n, tmp.root));
  const all = [ann, ben, cal];
  let group: GroupView;

  beforeAll(async () => {
    await Promise.all(all.map((n) => n.init()));
    await Promise.all(all.map((n) => n.start()));
    const id = await formGroupApi(ann, [ben, cal], 'vault');
    group = (await allReady(all, id))[0]!;
  }, 150_000);

  afterAll(async () => {
    if (process.env.CONCLAVE_TEST_LOGS)
      for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
    await Promise.all(all.map((n) => n.kill()));
    tmp.cleanup();
  });

  /** `n` runs again, now with the crash point. */
  async function armed(n: TestNode, point: CrashPoint): Promise<void> {
    await n.kill();
    await n.start(undefined, crashEnv(point));
    await everyoneOnline();
  }

  /** Every member sees every other online (nonces are exchanged on connect). */
  function everyoneOnline(): Promise<unknown> {
    return Promise.all(
      all.map((n) =>
        waitFor(`${n.name} to see every member online`, async () =>
          (await n.api('group.show', { group: group.id })).members.every((m) => m.me || m.online),
        ),
      ),
    );
  }

  const signerPoints: CrashPoint[] = ['sign-nonce-taken', 'sign-share-released'];

  it.each(signerPoints)(
    'a signer killed at %s: the request completes with another signer, and the restarted signer signs again',
    async (point) => {
      let survived = false;
      try {
        await armed(ben, point);
        const text = `crash at ${point}`;
        const req = await ann.api('request.sign', {
          group: group.id,
          message: text,
          encoding: 'utf8',
          approve: true,
        });
        await seen(ben, req.id);
        await ben.api('request.approve', { id: req.id });
        await waitForCrash(ben);
        // The coordinator names ben and waits for another approver.
        await waitFor('ben named for the request', async () =>
          (await ann.api('request.show', { id: req.id })).culprits.includes(ben.peerId),
        );
        await restart(ben);
        await everyoneOnline();
        // What ben acknowledged before the kill is still there: the request and its approval.
        const onBen = await ben.api('request.show', { id: req.id });
        expect(onBen.approvals.map((d) => d.peerId)).toContain(ben.peerId);
        await seen(cal, req.id);
        await cal.api('request.approve', { id: req.id });
        const done = await requestStatus(ann, req.id, 'done', 120_000);
        expect(
          ed25519.verify(
            hexToBytes(done.signature!),
            utf8ToBytes(text),
            hexToBytes(group.publicKey!),
          ),
        ).toBe(true);
        // The restarted signer's share is one of the two of the next signature.
        await signAndVerify(ann, [ben], group, `after ${point}`);
        expect(expectNoNonceReuse(all, group.id)).toBeGreaterThan(0);
        survived = true;
      } finally {
        recordCrash(`signer killed at ${point}`, point, survived, survived ? 'completed' : 'lost');
      }
    },
    150_000,
  );

  it('the coordinator killed after a signer answered: on restart it signs the request with fresh nonces', async () => {
    const point = 'sign-coordinator-sent';
    let survived = false;
    try {
      await armed(ann, point);
      const text = `crash at ${point}`;
      const req = await ann.api('request.sign', {
        group: group.id,
        message: text,
        encoding: 'utf8',
        approve: true,
      });
      await seen(cal, req.id);
      await cal.api('request.approve', { id: req.id });
      await waitForCrash(ann);
      await restart(ann);
      await everyoneOnline();
      // The request acknowledged before the kill is still there, and completes after the restart.
      const done = await requestStatus(ann, req.id, 'done', 120_000);
      expect(
        ed25519.verify(
          hexToBytes(done.signature!),
          utf8ToBytes(text),
          hexToBytes(group.publicKey!),
        ),
      ).toBe(true);
      for (const n of [ben, cal]) await requestStatus(n, req.id, 'done');
      await signAndVerify(cal, [ann], group, `after ${point}`);
      expect(expectNoNonceReuse(all, group.id)).toBeGreaterThan(0);
      survived = true;
    } finally {
      recordCrash(
        `coordinator killed at ${point}`,
        point,
        survived,
        survived ? 'completed' : 'lost',
      );
    }
  }, 150_000);
});
