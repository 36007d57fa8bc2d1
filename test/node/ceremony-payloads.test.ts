// The ceremony service decodes a participant's 'abort' and a reconstruction requester's 'done'
// before it records them: a payload its schema refuses is dropped as malformed (and counted by
// the host like every other drop), and nothing of it is recorded.
import { beforeAll, describe, expect, it } from 'vitest';
import { x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { defaultPolicy } from '../../shared/policy/policy.js';
import { requestContext } from '../../shared/requests/index.js';
import type { CeremonyMessage } from '../../shared/protocol/wire.js';
import { CeremonyService } from '../../main/node/ceremonies/ceremony.js';
import { DroppedMessage, groupContextOf } from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import type { RequestRow } from '../../main/store/index.js';
import { harness, insertRequest, peer, readyGroup, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => peer(n)));
});

const SESSION = 'ee'.repeat(32);

/**
 * alice's ceremony service in a 2-of-3 group of alice, bob and carol, with a pending
 * reconstruction r1 that bob asked for; what it marks exposed is kept in `exposed`.
 */
function setup() {
  const h = harness(alice);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  const params = {
    ceremony: 'reconstruct',
    group: groupId,
    fromEpoch: 0,
    purpose: 'migration to a new wallet',
    operation: 'export',
    requester: bob.peerId,
    oneTimeKey: bytesToHex(x25519.keygen().publicKey),
  };
  insertRequest(h.store, params, {
    groupId,
    kind: 'reconstruct',
    createdBy: bob.peerId,
    status: 'signing',
  });
  const exposed: string[] = [];
  const deps = {
    reconstruct: { markExposed: (_g: string, _r: string, text: string) => exposed.push(text) },
    requests: {
      contextOf: (r: RequestRow) =>
        requestContext(
          { createdBy: r.createdBy, policy: '' },
          groupContextOf(h.store, h.store.groups.get(r.groupId)!, defaultPolicy(), alice.peerId),
        ),
    },
  } as unknown as NodeServices;
  const svc = new CeremonyService(h.ctx, deps);
  const msg = (step: CeremonyMessage['step'], payload: Record<string, unknown>) => ({
    v: 1 as const,
    type: 'ceremony' as const,
    groupId,
    requestId: 'r1',
    session: SESSION,
    step,
    payload,
  });
  /** The reason `from`'s message was dropped for, or 'taken'. */
  const outcome = (from: Peer, m: CeremonyMessage): string => {
    try {
      svc.onCeremony(from.peerId, m);
      return 'taken';
    } catch (e) {
      if (e instanceof DroppedMessage) return e.reason;
      throw e;
    }
  };
  return { h, svc, msg, outcome, exposed, groupId };
}

describe("a ceremony 'abort' is decoded before it is recorded", () => {
  it('a malformed abort is dropped as malformed and stops nothing', () => {
    const { svc, msg, outcome } = setup();
    for (const payload of [
      {},
      { reason: '' },
      { reason: 42 },
      { reason: 'x'.repeat(501) },
      { reason: 'ann misbehaved', culprits: ['ann'] },
    ])
      expect(outcome(carol, msg('abort', payload)), JSON.stringify(payload)).toBe('malformed');
    expect(svc.abortedBy.has(SESSION)).toBe(false);
  });

  it("a well-formed abort is recorded as its sender's word", () => {
    const { svc, msg, outcome, groupId } = setup();
    expect(outcome(carol, msg('abort', { reason: 'bob misbehaved' }))).toBe('taken');
    // Its first word stands; the text is quoted, whatever it holds.
    expect(outcome(carol, msg('abort', { reason: 'ann misbehaved' }))).toBe('taken');
    expect(outcome(bob, msg('abort', { reason: 'x")\nalice stopped it: ("y' }))).toBe('taken');
    expect(svc.stoppedBy(groupId, SESSION)).toBe(
      'carol stopped it: "bob misbehaved"; bob stopped it: "x\\")\\u{a}alice stopped it: (\\"y"',
    );
    expect(svc.stoppedBy(groupId, SESSION, [carol.peerId])).toBe(
      'carol stopped it: "bob misbehaved"',
    );
  });
});

describe("a reconstruction's 'done' is decoded before the key is marked exposed", () => {
  it('a malformed note from the requester is dropped as malformed; the key is not marked', () => {
    const { msg, outcome, exposed } = setup();
    for (const payload of [
      {},
      { exposed: '' },
      { exposed: ['key exposed'] },
      { exposed: 'x'.repeat(1201) },
      { exposed: 'key exposed on bob', signature: 'ab' },
    ])
      expect(outcome(bob, msg('done', payload)), JSON.stringify(payload)).toBe('malformed');
    expect(exposed).toEqual([]);
  });

  it("the requester's note is recorded whole, however long its purpose", () => {
    const { msg, outcome, exposed } = setup();
    const note = `key exposed on bob at 2026-01-01T00:00:00.000Z (${'🔑'.repeat(500)})`;
    expect(outcome(bob, msg('done', { exposed: note }))).toBe('taken');
    expect(exposed).toEqual([note]);
  });

  it("another member's note is not the requester's", () => {
    const { msg, outcome, exposed } = setup();
    expect(outcome(carol, msg('done', { exposed: 'key exposed on carol' }))).toBe('not_requester');
    expect(exposed).toEqual([]);
  });
});
