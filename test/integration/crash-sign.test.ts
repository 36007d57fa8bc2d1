// A signer or the coordinator SIGKILLed at each named point of signing, then restarted: the request
// and the approvals acknowledged before the kill are still there, the request completes (with
// another signer or on a retry), no nonce is used twice (from every member's share_released
// entries), and the group still signs with the restarted member.
import { beforeAll, describe, expect, it } from 'vitest';
import type { GroupView } from '../../shared/api/index.js';
import type { CrashPoint } from '../../main/node/crash.js';
import { threeNodeGroup } from './adversary-helpers.js';
import { requestStatus, seen, type TestNode, waitFor } from './harness.js';
import {
  crashEnv,
  expectNoNonceReuse,
  recordCrash,
  restart,
  signAndVerify,
  waitForCrash,
} from './crash-helpers.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';

describe('signing in a 2-of-3 group with a member that crashes', () => {
  // ann creates the group through the control API.
  const fx = threeNodeGroup({
    tmpPrefix: 'conclave-crash-sign-',
    names: ['ann', 'ben', 'cal'],
    name: 'vault',
    via: 'api',
    timeoutMs: 150_000,
  });
  const all = fx.nodes;
  let group: GroupView;
  // The roles are given by peer-id order so that the member armed to crash as a signer is never
  // the coordinator, and the one armed as coordinator always is.
  let low: TestNode;
  let mid: TestNode;
  let high: TestNode;
  beforeAll(() => {
    [low, mid, high] = fx.ranked;
    group = fx.group;
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
      // low asks and coordinates, high signs and crashes, mid takes its place.
      const [coord, victim, backup] = [low, high, mid];
      try {
        await armed(victim, point);
        const text = `crash at ${point}`;
        const req = await coord.api('request.sign', {
          group: group.id,
          message: text,
          encoding: 'utf8',
          approve: true,
        });
        await seen(victim, req.id);
        await victim.api('request.approve', { id: req.id });
        await waitForCrash(victim);
        // The coordinator names the victim and waits for another approver.
        await waitFor(`${victim.name} named for the request`, async () =>
          (await coord.api('request.show', { id: req.id })).culprits.includes(victim.peerId),
        );
        await restart(victim);
        await everyoneOnline();
        // What the victim acknowledged before the kill is still there: the request and its approval.
        const onVictim = await victim.api('request.show', { id: req.id });
        expect(onVictim.approvals.map((d) => d.peerId)).toContain(victim.peerId);
        await seen(backup, req.id);
        await backup.api('request.approve', { id: req.id });
        const done = await requestStatus(coord, req.id, 'done', 120_000);
        expect(
          ed25519.verify(
            hexToBytes(done.signature!),
            utf8ToBytes(text),
            hexToBytes(group.publicKey!),
          ),
        ).toBe(true);
        // The restarted signer's share is one of the two of the next signature.
        await signAndVerify(coord, [victim], group, `after ${point}`);
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
    // low is the coordinator of every request it approves; high approves, mid stays out.
    const [coord, signer, third] = [low, high, mid];
    try {
      await armed(coord, point);
      const text = `crash at ${point}`;
      const req = await coord.api('request.sign', {
        group: group.id,
        message: text,
        encoding: 'utf8',
        approve: true,
      });
      await seen(signer, req.id);
      await signer.api('request.approve', { id: req.id });
      await waitForCrash(coord);
      await restart(coord);
      await everyoneOnline();
      // The request acknowledged before the kill is still there, and completes after the restart.
      const done = await requestStatus(coord, req.id, 'done', 120_000);
      expect(
        ed25519.verify(
          hexToBytes(done.signature!),
          utf8ToBytes(text),
          hexToBytes(group.publicKey!),
        ),
      ).toBe(true);
      for (const n of [signer, third]) await requestStatus(n, req.id, 'done');
      await signAndVerify(signer, [coord], group, `after ${point}`);
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
