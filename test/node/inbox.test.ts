// Waiting on a DKG or ceremony inbox: woken by the message that completes it, by wake() (a ceremony
// stopped) or by the node stopping, and bounded by its deadline; never a timer poll.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Inboxes } from '../../main/node/inbox.js';
import { harness, peer, type Peer } from './fixtures.js';

let alice: Peer;
beforeAll(async () => {
  alice = await peer('alice');
});
afterEach(() => {
  vi.useRealTimers();
});

/** Settles pending promise callbacks (no timers run: they are faked). */
const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

function setup() {
  const { ctx } = harness(alice);
  const inboxes = new Inboxes(ctx);
  // Fake timers after the harness is built: a poll on a timer would never run again.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'Date'] });
  return { ctx, inboxes };
}

describe('awaiting an inbox', () => {
  it('returns as soon as the n-th message is put in, with no timer firing', async () => {
    const { ctx, inboxes } = setup();
    let got: Map<string, unknown> | undefined;
    const p = inboxes.awaitInbox('s1', 'round1', 2, Date.now() + 60_000).then((m) => (got = m));
    await flush();
    inboxes.inbox('s1', 'g1').round1.set('bob', 1);
    await flush();
    expect(got).toBeUndefined();
    // Another step's message does not complete this one.
    inboxes.inbox('s1', 'g1').echo.set('bob', 1);
    await flush();
    expect(got).toBeUndefined();
    inboxes.inbox('s1', 'g1').round1.set('carol', 2);
    await flush();
    expect(got?.size).toBe(2);
    await p;
    // No waiter is left behind.
    expect([...ctx.waiters.keys()].filter((k) => k.startsWith('inbox:'))).toEqual([]);
  });

  it('throws on the deadline, naming what it had', async () => {
    const { inboxes } = setup();
    inboxes.inbox('s1').round2.set('bob', 1);
    const p = inboxes.awaitInbox('s1', 'round2', 3, Date.now() + 5_000);
    const seen = p.catch((e: Error) => e.message);
    await vi.advanceTimersByTimeAsync(4_000);
    await flush();
    // Not yet: still waiting at 4 s.
    let settled = false;
    void seen.then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1_100);
    expect(await seen).toBe('timed out waiting for round2 messages (1 of 3)');
  });

  it('wake() makes it run its check again, so a stopped ceremony ends the wait at once', async () => {
    const { inboxes } = setup();
    let aborted = false;
    const check = () => {
      if (aborted) throw new Error('another member stopped the ceremony');
    };
    const seen = inboxes
      .awaitInbox('s1', 'round1', 1, Date.now() + 60_000, check)
      .catch((e: Error) => e.message);
    await flush();
    aborted = true;
    inboxes.wake('s1');
    expect(await seen).toBe('another member stopped the ceremony');
  });

  it("stopping the node (which wakes every waiter) ends the wait with 'node stopped'", async () => {
    const { ctx, inboxes } = setup();
    const seen = inboxes
      .awaitInbox('s1', 'done', 1, Date.now() + 60_000)
      .catch((e: Error) => e.message);
    await flush();
    // What custodian.stop() does.
    ctx.stopped = true;
    for (const ws of ctx.waiters.values()) for (const w of ws) w();
    expect(await seen).toBe('node stopped');
  });

  it('two waiters on one inbox are both woken, and a message for another session wakes neither', async () => {
    const { inboxes } = setup();
    const done: string[] = [];
    const a = inboxes.awaitInbox('s1', 'round1', 1, Date.now() + 60_000).then(() => done.push('a'));
    const b = inboxes.awaitInbox('s1', 'round1', 1, Date.now() + 60_000).then(() => done.push('b'));
    await flush();
    inboxes.inbox('s2', 'g1').round1.set('bob', 1);
    await flush();
    expect(done).toEqual([]);
    inboxes.inbox('s1', 'g1').round1.set('bob', 1);
    await Promise.all([a, b]);
    expect(done.sort()).toEqual(['a', 'b']);
  });
});
