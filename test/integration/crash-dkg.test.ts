// A member SIGKILLed at each named point of the key generation, then restarted: the group does not
// fail for good; the members finish the same run or a new one, all hold one key, and it signs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrashPoint } from '../../main/node/crash.js';
import { tempRoot, TestNode, waitFor } from './harness.js';
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

describe('a 2-of-3 key generation with a member that crashes', () => {
  const tmp = tempRoot('conclave-crash-dkg-');
  // Short enough that the "failed, then retried" case does not wait two minutes.
  const env = { CONCLAVE_DKG_TIMEOUT_MS: '20000' };
  const [ann, ben, cal] = ['ann', 'ben', 'cal'].map((n) => new TestNode(n, tmp.root, env));
  const all = [ann, ben, cal];

  beforeAll(async () => {
    await Promise.all(all.map((n) => n.init()));
    await Promise.all([ann.start(), ben.start()]);
  }, 120_000);

  afterAll(async () => {
    if (process.env.CONCLAVE_TEST_LOGS)
      for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
    await Promise.all(all.map((n) => n.kill()));
    tmp.cleanup();
  });

  /** cal (the last to confirm) runs with the crash point; the group forms until it dies. */
  async function crashDuringDkg(point: CrashPoint, name: string): Promise<string> {
    await cal.start(undefined, crashEnv(point));
    const id = await formGroupApi(ann, [ben, cal], name);
    await waitForCrash(cal);
    return id;
  }

  const points: CrashPoint[] = [
    'dkg-round1-sent',
    'dkg-echo-sent',
    'dkg-round2-sent',
    'dkg-before-store',
    'dkg-after-store',
  ];

  it.each(points)(
    'killed at %s, restarted: every member ends ready with one key, which signs',
    async (point) => {
      let survived = false;
      try {
        const id = await crashDuringDkg(point, `g-${point}`);
        await restart(cal);
        const views = await allReady(all, id);
        // The restarted member's share is one of the two that sign.
        await signAndVerify(ann, [cal], views[0]!, `after a crash at ${point}`);
        expect(expectNoNonceReuse(all, id)).toBeGreaterThan(0);
        survived = true;
      } finally {
        recordCrash(
          `DKG member killed at ${point}`,
          point,
          survived,
          survived ? 'completed' : 'lost',
        );
        await cal.kill();
      }
    },
    150_000,
  );

  it('a group that failed for want of the crashed member runs again when it comes back', async () => {
    const point = 'dkg-round1-sent';
    let survived = false;
    try {
      const id = await crashDuringDkg(point, 'g-timeout');
      // The others give up at the DKG deadline: failed, but not for good.
      for (const n of [ann, ben])
        await waitFor(
          `${n.name}: group failed`,
          async () => (await n.api('group.show', { group: id })).status === 'failed',
          90_000,
        );
      await restart(cal);
      const views = await allReady(all, id);
      await signAndVerify(ben, [cal], views[1]!, 'after a failed key generation');
      expectNoNonceReuse(all, id);
      survived = true;
    } finally {
      recordCrash(
        'DKG member away past the deadline, then back',
        point,
        survived,
        survived ? 'retried' : 'lost',
      );
      await cal.kill();
    }
  }, 180_000);
});
