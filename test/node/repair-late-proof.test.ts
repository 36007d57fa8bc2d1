// The repair service alone, on a member whose repair failed (issue 13, crash at repair-committed):
// the new device stays welcome to prove it holds the lost share, within bounds, and only a proof
// bound to the approved request and the lost member's verifying share switches the roster.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { splitSecret } from '../../shared/crypto/dealer.js';
import { proveKnowledge } from '../../shared/crypto/dkg.js';
import { publicPackageToJSON, type KeyPackage } from '../../shared/crypto/keys.js';
import { getSuite } from '../../shared/crypto/suite.js';
import { RepairService } from '../../main/node/ceremonies/repair.js';
import { DroppedMessage, repairContext } from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import type { RequestRow } from '../../main/store/index.js';
import {
  harness,
  insertRequest,
  peer,
  plantGroupColumns,
  readyGroup,
  repairParams,
  type HarnessOptions,
  type Peer,
} from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer, dave: Peer, erin: Peer;
beforeAll(async () => {
  [alice, bob, carol, dave, erin] = await Promise.all(
    ['alice', 'bob', 'carol', 'dave', 'erin'].map((n) => peer(n)),
  );
});
afterEach(() => vi.useRealTimers());

/**
 * alice's node in a 2-of-3 group of alice, bob and carol (index 3), with a repair r1 (approved by
 * alice and bob) that puts dave in carol's place and has just failed here.
 */
function setup(opts: HarnessOptions = {}) {
  const h = harness(alice, opts);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  const suite = getSuite('ed25519');
  const keys: KeyPackage[] = splitSecret('ed25519', suite.randomScalar(), 2, [1n, 2n, 3n]);
  const pub = keys[0]!.public;
  h.store.groups.update(groupId, { publicPackage: JSON.stringify(publicPackageToJSON(pub)) });
  const params = repairParams(groupId, carol, dave);
  insertRequest(h.store, params, {
    groupId,
    kind: 'repair',
    createdBy: alice.peerId,
    status: 'signing',
  });
  const deps = {
    ceremony: {
      // As the real one, checked against the group as it is now.
      ceremonyParams: (r: RequestRow) => {
        const p = JSON.parse(new TextDecoder().decode(r.message)) as typeof params;
        if (!h.store.members.get(groupId, p.lost)) throw new Error('lost: is not a member');
        return p;
      },
    },
    requests: {
      approversOf: () => [alice.peerId, bob.peerId],
      needed: () => 2,
      updateRequest: (id: string, patch: Partial<RequestRow>) => h.store.requests.update(id, patch),
    },
    groups: {
      deleteMember: (g: string, p: string) => h.store.members.delete(g, p),
      upsertMember: (m: Parameters<typeof h.store.members.upsert>[0]) => h.store.members.upsert(m),
    },
    signing: {
      forgetSigner: () => undefined,
      applyEarlyNonces: () => undefined,
      sendNonces: async () => undefined,
    },
    auditLog: { syncAuditWithAll: () => undefined },
  } as unknown as NodeServices;
  const svc = new RepairService(h.ctx, deps);
  /** The request fails here, as its own run, a restart or another member's report ends it. */
  const fail = () => {
    h.store.requests.update('r1', { status: 'failed', updatedAt: Date.now() });
    h.ctx.notify('r1');
  };
  /** A proof of knowledge of carol's share (or `scalar`) bound to request `requestId`. */
  const proof = (requestId = 'r1', scalar = keys[2]!.share.scalar()) =>
    bytesToHex(
      proveKnowledge(suite, 3n, scalar, pub.verifyingShares.get(3n)!, repairContext(requestId)),
    );
  /** What alice's node does with a late 'done' from `from`: 'ok' or the drop reason. */
  const late = (from: Peer, p: string): string => {
    const g = h.store.groups.get(groupId)!;
    try {
      svc.lateRepairDone(from.peerId, g, h.store.requests.get('r1')!, { proof: p });
      return 'ok';
    } catch (e) {
      if (e instanceof DroppedMessage) return e.reason;
      throw e;
    }
  };
  const roster = () => h.store.members.list(groupId).map((m) => `${m.name}:${m.index}`);
  return { ...h, groupId, svc, fail, proof, late, roster, suite };
}

describe('RepairService: a late proof from a failed repair’s new device', () => {
  it('lets the device in once the repair failed here, and switches the roster on its proof', () => {
    const t = setup();
    t.fail();
    expect(t.svc.isAwaitedNewcomer(dave.peerId)).toBe(true);
    expect(t.svc.isAwaitedNewcomer(erin.peerId)).toBe(false);
    expect(t.late(dave, t.proof())).toBe('ok');
    expect(t.roster()).toEqual(['alice:1', 'bob:2', 'dave:3']);
    expect(t.store.requests.get('r1')!.status).toBe('done');
    // Done: nothing is awaited any more (dave is a member now).
    expect(t.svc.isAwaitedNewcomer(dave.peerId)).toBe(false);
    expect(t.late(dave, t.proof())).toBe('ok');
  });

  it('switches nothing on a proof from another peer, for another request or of another share', () => {
    const t = setup();
    t.fail();
    expect(t.late(erin, t.proof())).toBe('not_newcomer');
    expect(t.late(dave, t.proof('r0'))).toBe('bad_proof');
    expect(t.late(dave, t.proof('r1', t.suite.randomScalar()))).toBe('bad_proof');
    expect(t.late(dave, 'zz')).toBe('malformed');
    expect(t.roster()).toEqual(['alice:1', 'bob:2', 'carol:3']);
    expect(t.store.requests.get('r1')!.status).toBe('failed');
    expect(t.svc.isAwaitedNewcomer(dave.peerId)).toBe(true);
  });

  it('does not count proofs against the device while this node’s key package is damaged', () => {
    const t = setup({ file: true });
    t.fail();
    const good = t.store.groups.get(t.groupId)!.publicPackage!;
    // (The store refuses to write a package that does not decode: one is planted in its file.)
    plantGroupColumns(t.store, t.groupId, {
      public_package: '{"scheme":"ed25519","groupKey":"zz"}',
    });
    for (let i = 0; i < 6; i++) expect(t.late(dave, t.proof())).toBe('wrong_state');
    expect(t.roster()).toEqual(['alice:1', 'bob:2', 'carol:3']);
    expect(
      t.logs.filter((l) => l.includes(`public key package of group ${t.groupId}`)),
    ).toHaveLength(1);
    // Repaired: the device is still awaited, and its proof switches the roster.
    t.store.groups.update(t.groupId, { publicPackage: good });
    expect(t.svc.isAwaitedNewcomer(dave.peerId)).toBe(true);
    expect(t.late(dave, t.proof())).toBe('ok');
    expect(t.roster()).toEqual(['alice:1', 'bob:2', 'dave:3']);
  });

  it('gives the device up after five bad proofs, even for a good one after them', () => {
    const t = setup();
    t.fail();
    for (let i = 0; i < 5; i++) expect(t.late(dave, t.proof('r0'))).toBe('bad_proof');
    expect(t.svc.isAwaitedNewcomer(dave.peerId)).toBe(false);
    // Another event on the request does not take it up again.
    t.ctx.notify('r1');
    expect(t.svc.isAwaitedNewcomer(dave.peerId)).toBe(false);
    expect(t.late(dave, t.proof())).toBe('repair_given_up');
    expect(t.roster()).toEqual(['alice:1', 'bob:2', 'carol:3']);
  });

  it('gives the device up a day after the failure', () => {
    const t = setup();
    vi.useFakeTimers({ now: Date.now() });
    t.fail();
    vi.setSystemTime(Date.now() + 24 * 3600_000 + 1000);
    expect(t.svc.isAwaitedNewcomer(dave.peerId)).toBe(false);
    expect(t.late(dave, t.proof())).toBe('repair_given_up');
    expect(t.roster()).toEqual(['alice:1', 'bob:2', 'carol:3']);
  });

  it('awaits nothing while the repair has not failed, nor once the group moved to another epoch', () => {
    const t = setup();
    expect(t.svc.isAwaitedNewcomer(dave.peerId)).toBe(false);
    t.fail();
    t.store.groups.update(t.groupId, { epoch: 1 });
    expect(t.svc.isAwaitedNewcomer(dave.peerId)).toBe(false);
    expect(t.late(dave, t.proof())).toBe('wrong_state');
  });

  it('awaits nothing once another device took the lost member’s place (and the gate does not throw)', () => {
    const t = setup();
    t.fail();
    const carolRow = t.store.members.get(t.groupId, carol.peerId)!;
    t.store.members.delete(t.groupId, carol.peerId);
    t.store.members.upsert({ ...carolRow, peerId: erin.peerId, name: 'erin' });
    expect(t.svc.isAwaitedNewcomer(dave.peerId)).toBe(false);
    expect(t.late(dave, t.proof())).toBe('wrong_state');
  });
});
