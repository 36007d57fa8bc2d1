// A member SIGKILLed in the middle of a refresh or an import, or right after it committed, then
// restarted: the ceremony completes or aborts on every member alike (never a mix of epochs), a
// retry succeeds when it aborted, and the group still signs with the restarted member.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import type { CrashPoint } from '../../main/node/crash.js';
import { groupStatus, requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';
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

const TERMINAL = ['done', 'failed', 'denied', 'expired'];

describe('ceremonies in a 2-of-3 group with a member that crashes', () => {
  const tmp = tempRoot('conclave-crash-ceremony-');
  const env = { CONCLAVE_CEREMONY_TIMEOUT_MS: '10000' };
  const [ann, ben, cal] = ['ann', 'ben', 'cal'].map((n) => new TestNode(n, tmp.root, env));
  const all = [ann, ben, cal];
  let group: GroupView;
  /** The three-member group the ceremony cases share, formed by the first case that runs. */
  async function ensureGroup(): Promise<void> {
    if (group) return;
    await cal.start();
    const id = await formGroupApi(ann, [ben, cal], 'vault');
    group = (await allReady(all, id))[0]!;
  }

  beforeAll(async () => {
    await Promise.all(all.map((n) => n.init()));
    await Promise.all([ann.start(), ben.start()]);
  }, 120_000);

  afterAll(async () => {
    if (process.env.CONCLAVE_TEST_LOGS)
      for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
    await Promise.all(all.map((n) => n.kill()));
    if (!process.env.CONCLAVE_KEEP_TMP) tmp.cleanup();
  });

  /** Every member shows the group ready at one epoch (the same on all), which is returned. */
  async function oneEpoch(id: string): Promise<number> {
    const views = await waitFor(
      'every member at one epoch',
      async () => {
        const vs = await Promise.all(all.map((n) => n.api('group.show', { group: id })));
        return vs.every((v) => v.status === 'ready' && v.epoch === vs[0]!.epoch) ? vs : undefined;
      },
      90_000,
    );
    expect(new Set(views.map((v) => v.publicKey)).size).toBe(1);
    return views[0]!.epoch;
  }

  /** Every member shows the others online (a request made now reaches them, not a later sync). */
  async function allOnline(id: string): Promise<void> {
    await waitFor(
      'every member to see the others online',
      async () => {
        const vs = await Promise.all(all.map((n) => n.api('group.show', { group: id })));
        return vs.every((v) => v.members.every((m) => m.me || m.online));
      },
      90_000,
    );
  }

  /** Waits for request `id` to end on every member; all end alike. */
  async function endedAlike(id: string): Promise<string> {
    const ends = await waitFor(
      `request ${id} to end on every member`,
      async () => {
        const rs = await Promise.all(all.map((n) => n.api('request.show', { id })));
        if (rs.every((r) => TERMINAL.includes(r.status))) return rs.map((r) => r.status);
        // Thrown to be retried: on a timeout, the message says where each member stood.
        throw new Error(all.map((n, i) => `${n.name} ${rs[i]!.status}`).join(', '));
      },
      120_000,
    );
    expect(new Set(ends).size, `ended as ${ends.join(', ')}`).toBe(1);
    return ends[0]!;
  }

  /** `by` proposes a refresh, ann and ben approve it. */
  async function refresh(by: TestNode): Promise<RequestView> {
    const req = await by.api('request.refresh', { group: group.id });
    for (const n of [ann, ben]) {
      await seen(n, req.id);
      await n.api('request.approve', { id: req.id });
    }
    return req;
  }

  const refreshPoints: CrashPoint[] = ['refresh-mid', 'refresh-committed'];

  // A survivor's round of a failed refresh ends at its deadline, which can come after the refresh
  // already failed there from the restarted member's word and the retry reached its commit: that
  // late failure cleared the retry's pending record, so the retry never ended on that member
  // (seen at load 20; the likely cause of the full-suite hangs of 2026-12-04; refresh-reshare.ts).
  it.for(refreshPoints)(
    'a refresh with a member killed at %s ends alike on all, can be retried, and the group signs',
    { timeout: 180_000 },
    async (point) => {
      let survived = false;
      let outcome = 'lost';
      try {
        await ensureGroup();
        const before = await oneEpoch(group.id);
        await cal.kill();
        await cal.start(undefined, crashEnv(point));
        const req = await refresh(ann);
        await waitForCrash(cal);
        await restart(cal);
        outcome = await endedAlike(req.id);
        const after = await oneEpoch(group.id);
        expect(after).toBe(outcome === 'done' ? before + 1 : before);
        if (outcome !== 'done') {
          // Aborted cleanly: proposed again, it goes through.
          const again = await refresh(ben);
          for (const n of all) await requestStatus(n, again.id, 'done');
          expect(await oneEpoch(group.id)).toBe(before + 1);
          outcome = `${outcome}, retried`;
        }
        await signAndVerify(ann, [cal], group, `after a crash at ${point}`);
        expectNoNonceReuse(all, group.id);
        survived = true;
      } finally {
        recordCrash(`refresh member killed at ${point}`, point, survived, outcome);
        // What each node said is the only trace of a case that failed in a full-suite run.
        if (!survived && !process.env.CONCLAVE_TEST_LOGS)
          for (const n of all) console.log(`--- ${n.name} (${point})\n${n.logs.slice(-20_000)}`);
      }
    },
  );

  /**
   * ann imports a key, cal is killed at `point` and restarted (with `late`, only once ann gave the
   * import up); the import ends alike on every member, imported again if it failed, and the
   * importer signs with the restarted member.
   */
  async function importCase(point: CrashPoint, late: boolean): Promise<void> {
    const tag = late ? `${point}-late` : point;
    let survived = false;
    let outcome = 'lost';
    const seed = randomBytes(32);
    const keyFile = join(tmp.root, `${tag}.key`);
    writeFileSync(keyFile, bytesToHex(seed) + '\n', { mode: 0o600 });
    const publicKey = bytesToHex(ed25519.getPublicKey(seed));
    try {
      await cal.kill();
      await cal.start(undefined, crashEnv(point));
      const first = await formGroupApi(ann, [ben, cal], `cold-${tag}`, 2, keyFile);
      await waitForCrash(cal);
      // cal's only word of the outcome is then ann's result message, sent while it was away.
      if (late) await groupStatus(ann, first, 'failed', 90_000);
      await restart(cal);
      // Ready with the imported key on every member, or failed on every member: never a mix.
      const views = await waitFor(
        'the import to end alike on every member',
        async () => {
          const vs = await Promise.all(all.map((n) => n.api('group.show', { group: first })));
          const statuses = new Set(vs.map((v) => v.status));
          if (statuses.size === 1 && (statuses.has('ready') || statuses.has('failed'))) return vs;
          throw new Error(all.map((n, i) => `${n.name} ${vs[i]!.status}`).join(', '));
        },
        120_000,
      );
      outcome = views[0]!.status === 'ready' ? 'done' : 'failed';
      if (late) expect(outcome).toBe('failed');
      let ready = views;
      if (outcome === 'failed') {
        for (const v of views) expect(v.publicKey).toBeUndefined();
        const second = await formGroupApi(ann, [ben, cal], `cold-${tag}-again`, 2, keyFile);
        ready = await allReady(all, second);
        outcome = 'failed, retried';
      }
      for (const v of ready) expect(v.publicKey).toBe(publicKey);
      // The importer signs too: it once kept a wiped share as its key package after the split.
      await signAndVerify(ann, [cal], ready[0]!, `imported, after a crash at ${tag}`);
      expectNoNonceReuse(all, ready[0]!.id);
      survived = true;
    } finally {
      recordCrash(`import member killed at ${tag}`, point, survived, outcome);
      if (!survived && !process.env.CONCLAVE_TEST_LOGS)
        for (const n of all) console.log(`--- ${n.name} (${tag})\n${n.logs.slice(-20_000)}`);
    }
  }

  const importPoints: CrashPoint[] = ['import-mid', 'import-committed'];

  it.each(importPoints)(
    'an import with a member killed at %s ends alike on all, and imported again it signs',
    (point) => importCase(point, false),
    180_000,
  );

  it(
    'an import whose member killed at import-committed comes back after the importer gave up fails on all, and imported again it signs',
    () => importCase('import-committed', true),
    240_000,
  );

  // The race behind the refresh hangs, made certain (last: ann and ben keep a long deadline). The
  // first refresh's rounds wait on ann and ben until their deadline, though it already failed there
  // from cal's word (cal died in them); by then the retry holds its new share there and waits for
  // cal, who died right after committing it. The first refresh's late failure must leave the
  // retry's pending record alone (it cleared it: the retry never ended on ann and ben).
  it("a refresh that fails late on the others leaves the retry's commit alone: it ends done on all", async () => {
    let survived = false;
    let outcome = 'lost';
    try {
      await ensureGroup();
      const slow = { CONCLAVE_CEREMONY_TIMEOUT_MS: '90000' };
      // One at a time, each back in touch before the next goes: the others learn a restarted
      // member's new port only from a connection to it. In CI (2026-12-05) ben went down while
      // ann's first dial to it was under way; then each knew only the other's old port.
      for (const n of [ann, ben]) {
        await n.kill();
        await n.start(undefined, slow);
        await allOnline(group.id);
      }
      const before = await oneEpoch(group.id);
      await cal.kill();
      await cal.start(undefined, { ...slow, ...crashEnv('refresh-mid') });
      await allOnline(group.id);
      const first = await refresh(ann);
      await waitForCrash(cal);
      const from = [ann, ben].map((n) => n.logs.length);
      const failedLate = () =>
        [ann, ben].map((n, i) => /refresh of "vault" failed/.test(n.logs.slice(from[i])));
      // Back, armed for the retry: it ends the first refresh as failed and tells the others.
      await cal.start(undefined, { ...slow, ...crashEnv('refresh-committed') });
      expect(await endedAlike(first.id)).toBe('failed');
      await allOnline(group.id);
      const again = await refresh(ben);
      await waitForCrash(cal);
      // The race is set: the retry waits for cal while the first one's rounds still run.
      expect(failedLate(), 'the first refresh gave up on ann, ben before the retry').toEqual([
        false,
        false,
      ]);
      await waitFor(
        'the first refresh to fail late on ann and ben',
        () => failedLate().every(Boolean),
        120_000,
      );
      await restart(cal);
      outcome = await endedAlike(again.id);
      expect(outcome).toBe('done');
      expect(await oneEpoch(group.id)).toBe(before + 1);
      await signAndVerify(ann, [cal], group, 'after a refresh failed late');
      expectNoNonceReuse(all, group.id);
      survived = true;
    } finally {
      recordCrash('refresh failing late beside its retry', 'refresh-committed', survived, outcome);
      if (!survived && !process.env.CONCLAVE_TEST_LOGS)
        for (const n of all) console.log(`--- ${n.name} (late)\n${n.logs.slice(-20_000)}`);
    }
  }, 360_000);
});
