// Issue 9 findings 2, 4, 5 and 6 as a malicious member would try them: carol took part in the DKG
// of a 2-of-3 group, then her identity key went to an attacker, who sends validly signed messages
// crafted by hand to the honest members alice and bob.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { RequestView } from '../../shared/api/index.js';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import { requestId } from '../../shared/protocol/wire.js';
import { generateIdentity } from '../../main/net/index.js';
import {
  auditEntry,
  outcomeBody,
  policyHashOn,
  requestBody,
  turnRogue,
  type Rogue,
} from './attack-helpers.js';
import {
  allowReconstruction,
  approveBy,
  formGroup,
  requestStatus,
  seen,
  tempRoot,
  TestNode,
  waitFor,
} from './harness.js';

const tmp = tempRoot('conclave-attack-');
const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => new TestNode(n, tmp.root));
const all = [alice, bob, carol];
const honest = [alice, bob];
let group = '';
let mallory: Rogue;

beforeAll(async () => {
  await Promise.all(all.map((n) => n.init()));
  await Promise.all(all.map((n) => n.start()));
  group = (await formGroup(alice, [bob, carol], { name: 'vault', threshold: 2, scheme: 'ed25519' }))
    .id;
  mallory = await turnRogue(carol, honest);
}, 120_000);

afterAll(async () => {
  if (process.env.CONCLAVE_TEST_LOGS) for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
  await mallory?.stop();
  await Promise.all(all.map((n) => n.kill()));
  tmp.cleanup();
});

/** A signing request by `by`, seen by every honest member. */
async function signRequest(by: TestNode, message: string): Promise<RequestView> {
  const req = await by.cliJson<RequestView>([
    'request',
    'sign',
    '--group',
    'vault',
    '--message',
    message,
  ]);
  for (const n of honest) await seen(n, req.id);
  return req;
}

it('a failure outcome from a member that did not coordinate the request neither fails it nor blames anyone', async () => {
  const req = await signRequest(alice, 'pay the rent');
  // No approvals, so nobody coordinated anything; mallory blames alice anyway, without evidence.
  const lie = mallory.statement(
    outcomeBody(mallory.peerId, group, req.id, {
      failure: 'alice sent an invalid signature share',
      culprits: [alice.peerId],
    }),
  );
  for (const n of honest) await mallory.offer(n, [lie]);

  for (const n of honest) {
    const r = await n.api('request.show', { id: req.id });
    expect({ status: r.status, culprits: r.culprits }, `the request on ${n.name}`).toEqual({
      status: 'pending',
      culprits: [],
    });
  }
  await approveBy(req.id, honest);
  await requestStatus(alice, req.id, 'done');
}, 90_000);

it('an audit entry authored by a non-member and relayed by a member is not stored, and audit verify does not pass it', async () => {
  const stranger = await generateIdentity();
  const forged = auditEntry(
    stranger.privateKey.raw.slice(0, 32),
    `${stranger.peerId}/${group}`,
    group,
    'group.key_exposed',
    { requestId: '00'.repeat(16), exposed: 'key exposed on alice (forged)' },
  );
  for (const n of honest) await mallory.relayAudit(n, group, [forged]);

  for (const n of honest) {
    const foreign = (await n.api('audit.list', {})).filter((e) =>
      e.author.startsWith(stranger.peerId),
    );
    const report = await n.api('audit.verify', {});
    if (foreign.length)
      expect(report.ok, `audit verify on ${n.name} with a non-member's chain in the log`).toBe(
        false,
      );
    expect(foreign, `non-member entries stored on ${n.name}`).toEqual([]);
  }
}, 60_000);

it('a request claiming a creation time far in the future cannot stay open beyond the policy’s maximum from now', async () => {
  const { hash, policy } = await alice.api('group.policy', { group });
  const maxExpirySec = (policy as { maxExpirySec: number }).maxExpirySec;
  const createdAt = Date.now() + 365 * 24 * 3600_000;
  // Open for one day from its claimed creation: within the policy as today's check reads it.
  const body = requestBody(mallory.peerId, group, 'sign', 'post-dated', hash, {
    createdAt,
    expiresAt: createdAt + 24 * 3600_000,
  });
  for (const n of honest) await mallory.offer(n, [mallory.statement(body)]);

  const latest = Date.now() + maxExpirySec * 1000;
  for (const n of honest) {
    const r = (await n.api('request.list', {})).find((x) => x.id === requestId(body));
    // Refused, or capped at the policy's maximum from when it arrived.
    if (r)
      expect(
        Date.parse(r.expiresAt),
        `expiry of the post-dated request on ${n.name}`,
      ).toBeLessThanOrEqual(latest);
  }
}, 60_000);

it('every signer writes an entry in its own audit log when it releases a signature share', async () => {
  // Entries about a signature share (not about a reshare) in `n`'s own chain of the group.
  const shareEntries = async (n: TestNode) =>
    (await n.api('audit.list', { group })).filter(
      (e) => e.author === `${n.peerId}/${group}` && /share/.test(e.type) && !/reshare/.test(e.type),
    ).length;
  const before = await Promise.all(honest.map(shareEntries));
  const req = await signRequest(bob, 'audited signature');
  await approveBy(req.id, honest);
  await Promise.all(honest.map((n) => requestStatus(n, req.id, 'done')));
  for (const [i, n] of honest.entries())
    expect(await shareEntries(n), `signature share entries in ${n.name}'s own log`).toBe(
      before[i]! + 1,
    );
}, 90_000);

describe('reconstruction', () => {
  beforeAll(async () => {
    // carol's node is gone: alice and bob alone approve the policy that allows reconstruction.
    await allowReconstruction('vault', alice, honest, honest, tmp.root);
  }, 90_000);

  /** The parameters of a reconstruction request, as a member's node would write them. */
  async function reconstructParams(requester: string): Promise<string> {
    const g = await alice.api('group.show', { group });
    return canonicalJSON({
      ceremony: 'reconstruct',
      group,
      fromEpoch: g.epoch,
      purpose: 'migration to a new wallet',
      operation: 'export',
      requester,
      oneTimeKey: bytesToHex(x25519.keygen().publicKey),
    });
  }

  it('a reconstruction that would send the key to an outsider is refused', async () => {
    const stranger = await generateIdentity();
    const body = requestBody(
      mallory.peerId,
      group,
      'reconstruct',
      await reconstructParams(stranger.peerId),
      await policyHashOn(alice, group),
    );
    for (const n of honest) await mallory.offer(n, [mallory.statement(body)]);
    for (const n of honest) {
      const ids = (await n.api('request.list', {})).map((r) => r.id);
      expect(ids, `requests stored on ${n.name}`).not.toContain(requestId(body));
    }
  });

  it('each approver records that the key is exposed to the requester when it releases its share, though the requester never says it is done', async () => {
    const body = requestBody(
      mallory.peerId,
      group,
      'reconstruct',
      await reconstructParams(mallory.peerId),
      await policyHashOn(alice, group),
    );
    const id = requestId(body);
    for (const n of honest) await mallory.offer(n, [mallory.statement(body)]);
    await approveBy(id, honest);
    // Both sealed shares reach mallory, who keeps quiet from then on.
    await waitFor(
      'both sealed shares at mallory',
      () =>
        new Set(
          mallory
            .got('ceremony', 'round2')
            .filter((m) => m.msg.requestId === id)
            .map((m) => m.from),
        ).size === 2,
      60_000,
    );
    for (const n of honest) {
      const g = await waitFor(
        `${n.name} to mark the group exposed`,
        async () => {
          const v = await n.api('group.show', { group });
          return v.exposed ? v : undefined;
        },
        10_000,
      );
      expect(g.exposed, `exposure on ${n.name}`).toContain('carol');
      const own = (await n.api('audit.list', { group })).filter(
        (e) => e.author === `${n.peerId}/${group}` && /expos/.test(e.type),
      );
      expect(own.map((e) => e.summary).join('\n'), `${n.name}'s own audit log`).toContain('carol');
    }
  }, 120_000);
});
