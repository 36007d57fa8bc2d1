// A refresh (or reshare) that settles here: the new epoch's public package, decoded from the
// pending record and written to the group's row, is the one the views and checks then read,
// without decoding the row again (as a key generation's, dkg-messages.test.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import { SettleService } from '../../main/node/ceremonies/settle.js';
import { pendingKey, shareName } from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import type { GroupRow, MemberRow, RequestRow } from '../../main/store/index.js';
import { dealerKeys } from '../crypto/helpers.js';
import { plannedRoster } from './ceremony-fixtures.js';
import { harness, insertRequest, peer, readyGroup, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => peer(n)));
});

describe('a refresh that settles here', () => {
  it("reads the group's new package as the one it settled, without decoding the row again", async () => {
    const secrets = new Map<string, Uint8Array>();
    const h = harness(alice, { secrets });
    const id = readyGroup(h.store, [alice, bob, carol], 2);
    const roster = plannedRoster(h.store, id);
    const session = 'aa'.repeat(32);
    insertRequest(
      h.store,
      { ceremony: 'refresh', group: id, fromEpoch: 0 },
      { groupId: id, kind: 'refresh', createdBy: alice.peerId, status: 'signing' },
    );
    // This member holds its epoch-1 share and the record of the epoch-1 package.
    const key = dealerKeys('ed25519', 2, 3)[0]!;
    const pubJson = JSON.stringify({ ...publicPackageToJSON(key.public), epoch: 1 });
    const digest = bytesToHex(sha256(utf8ToBytes(pubJson)));
    secrets.set(shareName(id, 1), key.share.toBytes());
    h.store.meta.set(
      pendingKey(id),
      JSON.stringify({
        requestId: 'r1',
        session,
        kind: 'refresh',
        stage: 'holding',
        fromEpoch: 0,
        epoch: 1,
        digest,
        pubJson,
        roster,
        hadOldShare: false,
      }),
    );
    // Every other new member holds the new epoch: the commit rule says switch.
    const done = new Map<string, unknown>([
      [bob.peerId, { epoch: 1, digest }],
      [carol.peerId, { epoch: 1, digest }],
    ]);
    const noop = () => undefined;
    const deps = {
      auditLog: { syncAuditWithAll: noop },
      ceremony: {
        runningSessions: new Set<string>(),
        aborted: new Map<string, true>(),
        abortedBy: new Map<string, Map<string, string>>(),
        evaluateGroup: noop,
      },
      inboxes: { inbox: () => ({ done }) },
      groups: {
        deleteMember: (g: string, p: string) => h.store.members.delete(g, p),
        upsertMember: (row: MemberRow) => h.store.members.upsert(row),
        updateGroup: (gid: string, patch: Partial<GroupRow>) => h.store.groups.update(gid, patch),
      },
      requests: {
        updateRequest: (rid: string, patch: Partial<RequestRow>) =>
          h.store.requests.update(rid, patch),
      },
      signing: { forgetGroup: noop, applyEarlyNonces: noop, sendNonces: async () => undefined },
    } as unknown as NodeServices;
    await new SettleService(h.ctx, deps).settleCeremony(id, Date.now() + 60_000);
    h.ctx.stopped = true;
    expect(h.store.groups.get(id)).toMatchObject({
      epoch: 1,
      status: 'ready',
      publicPackage: pubJson,
    });
    expect(h.store.requests.get('r1')!.status).toBe('done');
    // The package it switched to, not a second decoding of the row's text.
    const next = h.ctx.keys.get(id)!;
    expect(next.public.epoch).toBe(1);
    expect(h.ctx.publicPackage(id)).toBe(next.public);
  });
});
