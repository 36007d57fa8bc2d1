// The reconstruction service alone, approver side (issue 9 finding 2): its share goes only to a
// requester who is the request's author and a current member, and it records the key as exposed
// to that requester, in its own audit log and store, before the share leaves (fail-closed).
import { beforeAll, describe, expect, it } from 'vitest';
import { x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { SecretShare, type KeyPackage } from '../../shared/crypto/keys.js';
import { getSuite } from '../../shared/crypto/suite.js';
import { defaultPolicy } from '../../shared/policy/policy.js';
import { ReconstructService } from '../../main/node/ceremonies/reconstruct.js';
import type { NodeServices } from '../../main/node/context.js';
import { approve, harness, insertRequest, peer, readyGroup, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer, dave: Peer;
beforeAll(async () => {
  [alice, bob, carol, dave] = await Promise.all(
    ['alice', 'bob', 'carol', 'dave'].map((n) => peer(n)),
  );
});

/**
 * alice's node in a 2-of-3 group of alice, bob and carol, holding a reconstruction request signed
 * by `author` that names `requester`, approved by alice and the author.
 */
function setup(author: Peer = bob, requester: Peer = author) {
  const h = harness(alice);
  const groupId = readyGroup(h.store, [alice, bob, carol], 2);
  const params = {
    ceremony: 'reconstruct',
    group: groupId,
    fromEpoch: 0,
    purpose: 'migration to a new wallet',
    operation: 'export',
    requester: requester.peerId,
    oneTimeKey: bytesToHex(x25519.keygen().publicKey),
  };
  const r = insertRequest(h.store, params, {
    groupId,
    kind: 'reconstruct',
    createdBy: author.peerId,
    status: 'pending',
    envelope: JSON.stringify({ body: { type: 'request' } }),
  });
  approve(h.store, 'r1', [alice, author], r.createdAt);
  // alice's share, as the vault would give it (any scalar will do: nobody combines it here).
  const suite = getSuite('ed25519');
  const share = new SecretShare('ed25519', 1n, suite.randomScalar(), 0);
  h.ctx.keys.set(groupId, { share } as unknown as KeyPackage);
  const deps = {
    requests: {
      policyOf: () => defaultPolicy(),
      updateRequest: (id: string, patch: Record<string, unknown>) =>
        h.store.requests.update(id, patch),
    },
  } as unknown as NodeServices;
  const svc = new ReconstructService(h.ctx, deps);
  const step = () => svc.reconstructStep(h.store.requests.get('r1')!);
  const sharesSent = () =>
    h.sent.filter((s) => s.msg.type === 'ceremony' && s.msg.step === 'round2');
  const exposures = () =>
    h.store.audit
      .list({ group: groupId })
      .filter((e) => e.type === 'group.key_exposed' && e.author === `${alice.peerId}/${groupId}`);
  const exposed = () => h.store.meta.get(`exposed:${groupId}`);
  return { ...h, groupId, svc, step, sharesSent, exposures, exposed };
}

describe('ReconstructService (approver)', () => {
  it('records the key as exposed to the requester, by name and fingerprint, and sends its share', async () => {
    const t = setup();
    await t.step();
    expect(t.sharesSent().map((s) => s.peer)).toEqual([bob.peerId]);
    expect(t.exposed()).toMatch(/^key exposed on bob at .* \(migration to a new wallet\)$/);
    const [entry, ...more] = t.exposures();
    expect(more).toEqual([]);
    const bobFingerprint = t.store.members.get(t.groupId, bob.peerId)!.fingerprint;
    expect(entry!.body).toMatchObject({
      requestId: 'r1',
      to: bob.peerId,
      toName: 'bob',
      fingerprint: bobFingerprint,
      how: 'share-sent',
    });
    // Once per request: evaluating it again neither resends nor records again.
    await t.step();
    expect(t.sharesSent()).toHaveLength(1);
    expect(t.exposures()).toHaveLength(1);
  });

  it('refuses to send its share when the requester is not the request’s author', async () => {
    const t = setup(bob, carol);
    await t.step();
    expect(t.sharesSent()).toEqual([]);
    expect(t.exposed()).toBeUndefined();
    expect(t.exposures()).toEqual([]);
    expect(t.logs.join('\n')).toMatch(/not sending my share for reconstruction r1: .*requester/);
  });

  it('refuses to send its share to an outsider who signed the request', async () => {
    const t = setup(dave);
    await t.step();
    expect(t.sharesSent()).toEqual([]);
    expect(t.exposures()).toEqual([]);
    expect(t.logs.join('\n')).toMatch(/not sending my share for reconstruction r1: .*not a member/);
  });

  it('refuses to send its share to a requester removed from the group since the request', async () => {
    const t = setup();
    t.store.members.delete(t.groupId, bob.peerId);
    await t.step();
    expect(t.sharesSent()).toEqual([]);
    expect(t.exposures()).toEqual([]);
    expect(t.logs.join('\n')).toMatch(/not sending my share for reconstruction r1: .*not a member/);
  });

  it('sends no share when its audit entry cannot be written, and nothing is marked (fail-closed)', async () => {
    const t = setup();
    const append = t.store.audit.append;
    t.store.audit.append = () => {
      throw new Error('disk full');
    };
    await t.step();
    expect(t.sharesSent()).toEqual([]);
    expect(t.exposed()).toBeUndefined();
    expect(t.store.meta.get('reconstruct-released:r1')).toBeUndefined();
    expect(t.logs.join('\n')).toMatch(/exposure could not be recorded \(disk full\)/);
    // Once the log can be written again, the next evaluation records and sends.
    t.store.audit.append = append;
    await t.step();
    expect(t.exposures()).toHaveLength(1);
    expect(t.sharesSent()).toHaveLength(1);
  });

  it('keeps its own record when the requester then says it is done', async () => {
    const t = setup();
    await t.step();
    const own = t.exposed();
    t.svc.markExposed(t.groupId, 'r1', 'key exposed on nobody at some time (nothing to see)');
    expect(t.exposed()).toBe(own);
    expect(t.exposures()).toHaveLength(1);
    expect(t.store.requests.get('r1')!.status).toBe('done');
  });

  it('a member that sent no share records the requester’s word, naming the requester', () => {
    const t = setup();
    t.svc.markExposed(t.groupId, 'r1', 'key exposed on bob at 2026-01-01T00:00:00.000Z (x)');
    expect(t.exposed()).toBe('key exposed on bob at 2026-01-01T00:00:00.000Z (x)');
    expect(t.exposures().map((e) => e.body)).toMatchObject([
      { requestId: 'r1', to: bob.peerId, toName: 'bob', how: 'reported' },
    ]);
  });
});
