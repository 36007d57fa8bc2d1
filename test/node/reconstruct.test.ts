// The reconstruction service alone, approver side (issue 9 finding 2): its share goes only to a
// requester who is the request's author and a current member, and it records the key as exposed
// to that requester, in its own audit log and store, before the share leaves (fail-closed).
// Requester side: every approver's round-2 payload is hostile until its schema accepted it and it
// opened to that approver's share; a bad one fails that share, named and counted, never a TypeError.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { importExportedKey, sealTo } from '../../shared/crypto/exported-key.js';
import { publicPackageToJSON, SecretShare, type KeyPackage } from '../../shared/crypto/keys.js';
import { getSuite, identifierHex } from '../../shared/crypto/suite.js';
import { defaultPolicy } from '../../shared/policy/policy.js';
import { ReconstructService } from '../../main/node/ceremonies/reconstruct.js';
import type { NodeServices } from '../../main/node/context.js';
import { Inboxes } from '../../main/node/inbox.js';
import { dealerKeys } from '../crypto/helpers.js';
import {
  approve,
  approvedExport,
  harness,
  insertRequest,
  peer,
  readyGroup,
  reconstructRequests,
  type Peer,
} from './fixtures.js';

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

/**
 * alice's node as the requester of an export in a `t`-of-n group of `members` (a real key split,
 * its public package stored), approved by `approvers`, with a real inbox that the test fills with
 * the approvers' round-2 payloads as the ceremony handler would.
 */
function requesterSetup(
  opts: { members?: Peer[]; threshold?: number; approvers?: Peer[]; timeoutMs?: number } = {},
) {
  const members = opts.members ?? [alice, bob, carol];
  const threshold = opts.threshold ?? 2;
  const h = harness(alice);
  (h.ctx as { ceremonyTimeoutMs: number }).ceremonyTimeoutMs = opts.timeoutMs ?? 60_000;
  const groupId = readyGroup(h.store, members, threshold);
  const keys = dealerKeys('ed25519', threshold, members.length);
  h.store.groups.update(groupId, {
    publicPackage: JSON.stringify(publicPackageToJSON(keys[0]!.public)),
  });
  h.ctx.keys.set(groupId, keys[0]!);
  const inboxes = new Inboxes(h.ctx);
  const failures: string[] = [];
  const out = join(tmpdir(), `conclave-reconstruct-${bytesToHex(randomBytes(8))}.key`);
  onTestFinished(() => rmSync(out, { force: true }));
  const deps = {
    ceremony: { ceremonies: new Set<string>() },
    groups: { findGroup: () => h.store.groups.get(groupId)! },
    inboxes,
    requests: reconstructRequests(h.store, alice.peerId, failures),
  } as unknown as NodeServices;
  const svc = approvedExport(h, deps, out, PASSPHRASE, opts.approvers ?? [alice, bob]);
  const { oneTimeKey } = JSON.parse(
    new TextDecoder().decode(h.store.requests.get('r1')!.message),
  ) as { oneTimeKey: string };
  const session = bytesToHex(sha256(utf8ToBytes('conclave/reconstruct/v1:r1')));
  const aad = utf8ToBytes('conclave/reconstruct/v1:r1');
  const suite = getSuite('ed25519');
  const position = (who: Peer) => members.indexOf(who) + 1;
  /** What `who` sends when honest: its own share sealed to the one-time key. */
  const honest = (who: Peer) => ({
    from: identifierHex(suite, BigInt(position(who))),
    sealed: sealTo(hexToBytes(oneTimeKey), keys[position(who) - 1]!.share.toBytes(), aad),
  });
  /** As the ceremony handler does: the payload goes into the session's round-2 inbox. */
  const deliver = (who: Peer, payload: unknown) =>
    inboxes.inbox(session, groupId).round2.set(who.peerId, payload);
  const step = () => svc.reconstructStep(h.store.requests.get('r1')!);
  const exported = () => {
    const key = importExportedKey(readFileSync(out, 'utf8'), PASSPHRASE);
    return bytesToHex(ed25519.Point.BASE.multiply(bytesToNumberLE(key.secret)).toBytes());
  };
  const groupKey = bytesToHex(keys[0]!.public.groupKey.toBytes());
  return {
    ...h,
    groupId,
    keys,
    out,
    failures,
    oneTimeKey,
    aad,
    suite,
    honest,
    deliver,
    step,
    exported,
    groupKey,
  };
}

const PASSPHRASE = 'a long passphrase for the export';

describe('ReconstructService (requester): hostile round-2 payloads', () => {
  const bobId = identifierHex(getSuite('ed25519'), 2n);
  const carolId = identifierHex(getSuite('ed25519'), 3n);
  const epk = 'ab'.repeat(32);
  const nonce = 'cd'.repeat(24);
  const ct = 'ef'.repeat(48);
  /** Payloads a schema must refuse: [what, payload, what the failure says]. */
  const malformed: [string, unknown, RegExp][] = [
    ['no payload object', 'junk', /payload must be an object/],
    ['a list for the payload', [bobId, { epk, nonce, ct }], /payload must be an object/],
    ['no sealed field', { from: bobId }, /sealed must be an object/],
    ['sealed a string', { from: bobId, sealed: 'ab'.repeat(40) }, /sealed must be an object/],
    ['sealed null', { from: bobId, sealed: null }, /sealed must be an object/],
    ['sealed a list', { from: bobId, sealed: [epk, nonce, ct] }, /sealed must be an object/],
    ['no ct', { from: bobId, sealed: { epk, nonce } }, /sealed\.ct must be 96 lowercase hex/],
    ['ct a number', { from: bobId, sealed: { epk, nonce, ct: 5 } }, /sealed\.ct must be 96/],
    [
      'a huge ct',
      { from: bobId, sealed: { epk, nonce, ct: 'ab'.repeat(300_000) } },
      /sealed\.ct must be 96/,
    ],
    ['a non-hex ct', { from: bobId, sealed: { epk, nonce, ct: 'zz'.repeat(48) } }, /sealed\.ct/],
    [
      'an uppercase ct',
      { from: bobId, sealed: { epk, nonce, ct: 'EF'.repeat(48) } },
      /sealed\.ct must be 96 lowercase hex/,
    ],
    ['a short ct', { from: bobId, sealed: { epk, nonce, ct: 'ef'.repeat(47) } }, /sealed\.ct/],
    [
      'an epk of 31 bytes',
      { from: bobId, sealed: { epk: 'ab'.repeat(31), nonce, ct } },
      /sealed\.epk must be 64 lowercase hex/,
    ],
    [
      'a nonce of odd length',
      { from: bobId, sealed: { epk, nonce: nonce.slice(1), ct } },
      /sealed\.nonce must be 48 lowercase hex/,
    ],
    [
      'an epk that is an object with its own toString',
      { from: bobId, sealed: { epk: JSON.parse('{"toString":1}') as unknown, nonce, ct } },
      /sealed\.epk/,
    ],
    [
      'a ct inside a list',
      { from: bobId, sealed: { epk, nonce, ct: [ct] } },
      /sealed\.ct must be 96/,
    ],
    [
      'an unknown field in sealed',
      { from: bobId, sealed: { epk, nonce, ct, extra: { deep: [1, { x: 2 }] } } },
      /sealed has unknown field "extra"/,
    ],
    [
      'an own __proto__ field',
      JSON.parse(
        `{"from":"${bobId}","sealed":{"epk":"${epk}","nonce":"${nonce}","ct":"${ct}"},"__proto__":{"sealed":1}}`,
      ) as unknown,
      /payload has unknown field "__proto__"/,
    ],
    ['no from', { sealed: { epk, nonce, ct } }, /from must be 64 lowercase hex/],
    ['from a number', { from: 2, sealed: { epk, nonce, ct } }, /from must be 64 lowercase hex/],
    [
      'from another position',
      { from: carolId, sealed: { epk, nonce, ct } },
      /from is not the roster position of the member who sent it/,
    ],
  ];

  /** bob (the only other approver) sent `payload`: the request fails naming him, nothing else. */
  async function failsNamingBob(payload: unknown, reason: RegExp, counter: string) {
    const t = requesterSetup();
    t.deliver(bob, payload);
    await expect(t.step()).resolves.toBeUndefined();
    expect(t.failures).toHaveLength(1);
    const failure = t.failures[0]!;
    expect(failure).toMatch(/^reconstruction failed: bob sent a share that cannot be used \(/);
    expect(failure).toMatch(reason);
    expect(failure).toMatch(/nothing was reconstructed/);
    expect(failure).not.toMatch(/TypeError|Cannot read|undefined|\[object/);
    // Bounded whatever was sent.
    expect(failure.length).toBeLessThan(400);
    expect(t.ctx.dropped[counter]).toBe(1);
    expect(t.store.requests.get('r1')).toMatchObject({ status: 'failed' });
    expect(existsSync(t.out)).toBe(false);
    expect(t.store.meta.get(`exposed:${t.groupId}`)).toBeUndefined();
    expect(t.sent).toEqual([]);
  }

  for (const [what, payload, reason] of malformed)
    it(`a payload with ${what} fails bob's share with the schema's reason, counted as malformed`, async () => {
      await failsNamingBob(payload, reason, 'malformed');
    });

  it('a share sealed to another key, or for another request, does not open: refused naming bob', async () => {
    const share = () => new SecretShare('ed25519', 2n, getSuite('ed25519').randomScalar(), 0);
    await failsNamingBob(
      {
        from: bobId,
        sealed: sealTo(x25519.keygen().publicKey, share().toBytes(), utf8ToBytes('x')),
      },
      /cannot open the sealed message/,
      'bad_share',
    );
    const t = requesterSetup();
    t.deliver(bob, {
      from: bobId,
      sealed: sealTo(
        hexToBytes(t.oneTimeKey),
        t.keys[1]!.share.toBytes(),
        utf8ToBytes('conclave/reconstruct/v1:r2'),
      ),
    });
    await t.step();
    expect(t.failures[0]).toMatch(
      /bob sent a share that cannot be used \(.*cannot open the sealed message/,
    );
    expect(t.ctx.dropped.bad_share).toBe(1);
  });

  it('a sealed share that is not bob’s (or not a scalar) is refused naming bob, not combined', async () => {
    for (const [bytes, reason] of [
      // Any scalar but bob's: it would not reconstruct the key (and the failure would name nobody).
      [
        new SecretShare('ed25519', 2n, getSuite('ed25519').randomScalar(), 0).toBytes(),
        /does not match its verifying share/,
      ],
      [new Uint8Array(32).fill(0xff), /not reduced modulo the group order/],
      [new Uint8Array(32), /must be a non-zero scalar/],
    ] as const) {
      const t = requesterSetup();
      t.deliver(bob, { from: bobId, sealed: sealTo(hexToBytes(t.oneTimeKey), bytes, t.aad) });
      await t.step();
      expect(t.failures).toHaveLength(1);
      expect(t.failures[0]).toMatch(/^reconstruction failed: bob sent a share that cannot be used/);
      expect(t.failures[0]).toMatch(reason);
      expect(t.ctx.dropped.bad_share).toBe(1);
      expect(existsSync(t.out)).toBe(false);
    }
    // carol's real share, sent by bob as his: it is not his position's share.
    const t = requesterSetup();
    t.deliver(bob, {
      from: bobId,
      sealed: sealTo(hexToBytes(t.oneTimeKey), t.keys[2]!.share.toBytes(), t.aad),
    });
    await t.step();
    expect(t.failures[0]).toMatch(/bob sent a share that cannot be used .*verifying share/);
  });

  it('a malformed share is set aside and another approver’s share reconstructs the key', async () => {
    const t = requesterSetup({ approvers: [alice, bob, carol] });
    t.deliver(bob, { from: bobId, sealed: { epk, nonce, ct: 'x'.repeat(100_000) } });
    t.deliver(carol, t.honest(carol));
    await t.step();
    expect(t.failures).toEqual([]);
    expect(t.store.requests.get('r1')).toMatchObject({ status: 'done' });
    expect(t.exported()).toBe(t.groupKey);
    expect(t.ctx.dropped.malformed).toBe(1);
    expect(t.logs.join('\n')).toMatch(/malformed.*reconstruction "r1" share from/);
  });

  it('a payload from a peer that is not a member is dropped and counted; the approver’s share is used', async () => {
    const t = requesterSetup();
    // dave is no member (a pending newcomer can put a payload in a session's inbox).
    t.deliver(dave, t.honest(bob));
    t.deliver(bob, t.honest(bob));
    await t.step();
    expect(t.failures).toEqual([]);
    expect(t.exported()).toBe(t.groupKey);
    expect(t.ctx.dropped.non_member).toBe(1);
  });

  it('an approver that sends nothing and one whose share is refused are both named at the deadline', async () => {
    const t = requesterSetup({ approvers: [alice, bob, carol], timeoutMs: 300 });
    t.deliver(bob, { from: bobId });
    await t.step();
    expect(t.failures).toHaveLength(1);
    expect(t.failures[0]).toBe(
      'reconstruction failed: carol did not send its share in time, and bob sent a share that cannot be used (sealed must be an object); nothing was reconstructed and the key is not exposed',
    );
    expect(t.ctx.dropped.malformed).toBe(1);
    expect(existsSync(t.out)).toBe(false);
  });

  it('honest shares still reconstruct the group key', async () => {
    const t = requesterSetup();
    t.deliver(bob, t.honest(bob));
    await t.step();
    expect(t.failures).toEqual([]);
    expect(t.exported()).toBe(t.groupKey);
    expect(t.ctx.dropped).toEqual({});
  });
});
