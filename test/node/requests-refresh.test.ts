// A policy with refreshAfterRepair holds signing after a repair until the group has refreshed, on
// the signer's side too: a coordinator that asks anyway (a rogue member's node) gets no share.
import { bytesToHex, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import { defaultPolicy, policyHash, type GroupPolicy } from '../../shared/policy/policy.js';
import {
  requestId,
  signStatement,
  statementHash,
  type DecisionBody,
  type RequestBody,
} from '../../shared/protocol/wire.js';
import type { NodeServices } from '../../main/node/context.js';
import { RequestsService } from '../../main/node/requests.js';
import { SigningService } from '../../main/node/signing.js';
import { harness, insertRequest, peer, readyGroup, repairParams, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer, dave: Peer;
beforeAll(async () => {
  [alice, bob, carol, dave] = await Promise.all(
    ['alice', 'bob', 'carol', 'dave'].map((n) => peer(n)),
  );
});

describe('refreshAfterRepair on the signer side', () => {
  it('a signer releases no share while the refresh the policy requires after a repair is owed', async () => {
    const h = harness(alice);
    const groupId = readyGroup(h.store, [alice, bob, carol], 2);
    const policy: GroupPolicy = { ...defaultPolicy(), refreshAfterRepair: true };
    h.store.meta.set(`policy:${groupId}`, JSON.stringify(policy));
    const deps = {
      groups: { findGroup: (ref: string) => h.store.groups.get(ref)! },
    } as unknown as NodeServices;
    deps.requests = new RequestsService(h.ctx, deps);
    deps.signing = new SigningService(h.ctx, deps);
    // A signing request made before the repair, which alice and bob approve.
    const view = deps.requests.createSignRequest({
      group: groupId,
      message: 'pay 11',
      encoding: 'utf8',
    });
    const envelope = JSON.parse(h.store.requests.get(view.id)!.envelope) as { body: RequestBody };
    const approval: DecisionBody = {
      v: 1,
      type: 'decision',
      groupId,
      requestId: view.id,
      requestHash: bytesToHex(statementHash(envelope.body)),
      decision: 'approve',
      by: bob.peerId,
      at: Date.now(),
    };
    h.store.decisions.insert({
      requestId: view.id,
      peerId: alice.peerId,
      decision: 'approve',
      statement: '{}',
      at: Date.now(),
    });
    // Then a repair of carol's share on dave's device finished at epoch 0.
    const repair = repairParams(groupId, carol, dave);
    const now = Date.now();
    const body: RequestBody = {
      v: 1,
      type: 'request',
      groupId,
      kind: 'repair',
      message: bytesToHex(utf8ToBytes(canonicalJSON(repair))),
      createdBy: bob.peerId,
      createdAt: now,
      expiresAt: now + 3600_000,
      nonce: bytesToHex(randomBytes(16)),
      policy: policyHash(policy),
    };
    insertRequest(h.store, repair, {
      id: requestId(body),
      groupId,
      kind: 'repair',
      createdBy: bob.peerId,
      createdAt: now,
      expiresAt: body.expiresAt,
      status: 'done',
      envelope: JSON.stringify(signStatement(body, (m) => bob.sign(m))),
      updatedAt: now,
    });
    // Bob coordinates anyway and asks alice for her share.
    const answer = await deps.signing.onSign(bob.peerId, {
      v: 1,
      type: 'sign',
      groupId,
      requestId: view.id,
      commitments: [alice, bob].map((s) => ({ peerId: s.peerId, commitment: {} })),
      approvals: [signStatement(approval, (m) => bob.sign(m))],
    });
    expect(answer).toEqual({ error: expect.stringMatching(/run a refresh first/) });
  });
});
