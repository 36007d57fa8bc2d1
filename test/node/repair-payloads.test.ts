// The repair ceremony alone, over a real inbox and real shares: every payload a helper or the new
// device sends (round-1 commitments, echo parts, round-2 sums with their views, the done proof) is
// hostile until its schema accepted it. A malformed one ends the repair with a reason naming its
// sender, counted as a drop, never a raw TypeError; one from a peer that is not the awaited
// participant is dropped and counted, and does not stand in for the participant's.
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { splitSecret } from '../../shared/crypto/dealer.js';
import { proveKnowledge } from '../../shared/crypto/dkg.js';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import {
  repairCommitmentsSigningBytes,
  repairStep1,
  repairStep2,
  repairViewsToWire,
  type RepairView,
} from '../../shared/crypto/repair.js';
import { getSuite, identifierHex, type GroupPoint } from '../../shared/crypto/suite.js';
import { decodeRepairSum } from '../../shared/protocol/repair-payload.js';
import { RepairService } from '../../main/node/ceremonies/repair.js';
import { repairContext, shareName } from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import { Inboxes } from '../../main/node/inbox.js';
import type { DkgInbox } from '../../main/node/common.js';
import type { GroupRow, MemberRow, RequestRow } from '../../main/store/index.js';
import { harness, insertRepairRequest, peer, readyGroup, type Peer } from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer, dave: Peer, erin: Peer;
beforeAll(async () => {
  [alice, bob, carol, dave, erin] = await Promise.all(
    ['alice', 'bob', 'carol', 'dave', 'erin'].map((n) => peer(n)),
  );
});

const SESSION = 'aa'.repeat(32);
const suite = getSuite('ed25519');
const id = (i: bigint) => identifierHex(suite, i);
const HELPERS = [1n, 2n];
const LOST = 3n;

/**
 * `me`'s node in a 2-of-4 group of alice (1), bob (2), carol (3) and erin (4), in a repair r1 that
 * puts dave's new device in carol's place with alice and bob helping: alice is a helper, dave the
 * new device, erin a member that awaits dave's proof. The test puts the others' payloads in the
 * session's real inbox, as the ceremony handler would, and builds them honest from real shares.
 */
function rig(me: Peer, opts: { timeoutMs?: number } = {}) {
  // A refused payload ends the repair at once: the deadline is only for what never comes.
  const members = [alice, bob, carol, erin];
  const secrets = new Map<string, Uint8Array>();
  const h = harness(me, { secrets });
  (h.ctx as { ceremonyTimeoutMs: number }).ceremonyTimeoutMs = opts.timeoutMs ?? 5_000;
  const groupId = readyGroup(h.store, members, 2);
  const keys = splitSecret('ed25519', suite.randomScalar(), 2, [1n, 2n, 3n, 4n]);
  const pub = keys[0]!.public;
  const pubJSON = JSON.stringify(publicPackageToJSON(pub));
  if (me === dave) {
    // The new device knows the group from its invitation: the package, no share.
    h.store.groups.update(groupId, { status: 'forming', error: 'waiting to be added' });
    h.store.meta.set(`newcomer-package:${groupId}`, pubJSON);
  } else h.store.groups.update(groupId, { publicPackage: pubJSON });
  if (me === alice) h.ctx.keys.set(groupId, keys[0]!);
  const params = insertRepairRequest(h.store, groupId, carol, dave, alice);
  const inboxes = new Inboxes(h.ctx);
  const names = new Map([alice, bob, carol, dave, erin].map((p) => [p.peerId, p.name]));
  /** What the node sent in the ceremony, by recipient and step. */
  const sent: { peer: string; step: string; payload: Record<string, unknown> }[] = [];
  const failures: string[] = [];
  const deps = {
    ceremony: {
      ceremonies: new Set<string>(),
      abortedBy: new Map<string, Map<string, string>>(),
      stoppedBy: () => undefined,
      ceremonySender: () => async (peer: string, step: string, payload: Record<string, unknown>) =>
        void sent.push({ peer, step, payload }),
      participantName: (_g: string, p: string) => names.get(p) ?? p,
    },
    inboxes,
    groups: {
      nameOfIdentifier: (_g: string, hex: string) =>
        members.find((_, k) => id(BigInt(k + 1)) === hex)?.name ?? hex,
      updateGroup: (g: string, patch: Partial<GroupRow>) => h.store.groups.update(g, patch),
      deleteMember: (g: string, p: string) => h.store.members.delete(g, p),
      upsertMember: (m: MemberRow) => h.store.members.upsert(m),
    },
    requests: {
      updateRequest: (rid: string, patch: Partial<RequestRow>) =>
        h.store.requests.update(rid, patch),
      finish: (rid: string, patch: Partial<RequestRow> & { failure: string }) => {
        failures.push(patch.failure);
        h.store.requests.update(rid, patch);
      },
    },
    signing: {
      forgetSigner: () => undefined,
      applyEarlyNonces: () => undefined,
      sendNonces: async () => undefined,
    },
    auditLog: { syncAuditWithAll: () => undefined },
  } as unknown as NodeServices;
  const svc = new RepairService(h.ctx, deps);

  // The helpers' honest messages, from their real shares.
  const step1 = new Map(HELPERS.map((i) => [i, repairStep1(keys[Number(i) - 1]!, HELPERS, LOST)]));
  const helperPeer = (i: bigint) => members[Number(i) - 1]!;
  const pointsWire = (c: ReadonlyMap<bigint, GroupPoint>) =>
    Object.fromEntries([...c].map(([j, C]) => [id(j), bytesToHex(C.toBytes())]));
  const signature = (i: bigint) =>
    bytesToHex(
      helperPeer(i).sign(
        repairCommitmentsSigningBytes(suite, SESSION, i, step1.get(i)!.commitments),
      ),
    );
  const all = new Map(HELPERS.map((i) => [i, step1.get(i)!.commitments]));
  const views = new Map<bigint, RepairView>(
    HELPERS.map((i) => [i, { commitments: step1.get(i)!.commitments, signature: signature(i) }]),
  );
  const honest = {
    /** Helper i's round-1 payload: its commitments, signed. */
    round1: (i: bigint) => ({
      from: id(i),
      commitments: pointsWire(step1.get(i)!.commitments),
      signature: signature(i),
    }),
    /** Helper i's part for helper j. */
    echo: (i: bigint, j: bigint) => step1.get(i)!.parts.get(j)!.toWire(suite),
    /** Helper j's sum for the new device, with the commitments it was shown. */
    round2: (j: bigint) => ({
      ...repairStep2(
        pub,
        HELPERS,
        LOST,
        j,
        HELPERS.map((i) => step1.get(i)!.parts.get(j)!),
        all,
      ).toWire(suite),
      views: repairViewsToWire(suite, views),
    }),
    /** The new device's proof that it holds carol's share. */
    done: () => ({
      proof: bytesToHex(
        proveKnowledge(
          suite,
          LOST,
          keys[2]!.share.scalar(),
          pub.verifyingShares.get(LOST)!,
          repairContext('r1'),
        ),
      ),
    }),
  };
  /** As the ceremony handler does: the payload goes into the session's inbox for `step`. */
  const deliver = (who: Peer, step: keyof DkgInbox, payload: unknown) =>
    inboxes.inbox(SESSION, groupId)[step].set(who.peerId, payload);
  const run = () => svc.runRepair(groupId, 'r1', SESSION, [alice.peerId, bob.peerId], params);
  const roster = () => h.store.members.list(groupId).map((m) => `${m.name}:${m.index}`);
  const aborts = () =>
    h.sent.filter((s) => s.msg.step === 'abort').map((s) => names.get(s.peer) ?? s.peer);
  return {
    ...h,
    groupId,
    keys,
    pub,
    secrets,
    honest,
    deliver,
    run,
    roster,
    aborts,
    failures,
    ceremonySent: sent,
  };
}

type Rig = ReturnType<typeof rig>;

const bobId = id(2n);
const aliceId = id(1n);
const carolId = id(3n);
const scalar = 'ab'.repeat(31) + '00';
const sig = 'cd'.repeat(64);

/** The repair failed here naming `who` for `what`, with `reason`; counted, nothing committed. */
function expectRefused(t: Rig, who: string, what: string, reason: RegExp, counter: string) {
  expect(t.failures).toHaveLength(1);
  const failure = t.failures[0]!;
  expect(failure.startsWith(`repair failed: ${who} sent ${what} that cannot be used (`)).toBe(true);
  expect(failure).toMatch(reason);
  expect(failure).toMatch(/; it can be proposed again$/);
  expect(failure).not.toMatch(/TypeError|Cannot read|undefined|\[object|misbehaved/);
  // Bounded whatever was sent.
  expect(failure.length).toBeLessThan(400);
  expect(t.ctx.dropped[counter]).toBe(1);
  expect(t.store.requests.get('r1')).toMatchObject({ status: 'failed' });
  expect(t.roster()).toEqual(['alice:1', 'bob:2', 'carol:3', 'erin:4']);
}

/** Hostile variants of a field: [what, value, what the failure says]. */
const hostileHex = (
  field: string,
  good: string,
  missing = new RegExp(`${field} must be \\d+ lowercase hex`),
): [string, unknown, RegExp][] => [
  ['missing', undefined, missing],
  ['a number', 5, new RegExp(`${field} must be`)],
  ['a list', [good], new RegExp(`${field} must be`)],
  ['an object with its own toString', JSON.parse('{"toString":1}'), new RegExp(`${field}`)],
  ['huge', 'ab'.repeat(300_000), new RegExp(`${field} must be \\d+ lowercase hex`)],
  ['non-hex', 'zz' + good.slice(2), new RegExp(`${field} must be`)],
  // (An identifier is all digits: its uppercase is itself.)
  ...(good.toUpperCase() === good
    ? []
    : [
        ['uppercase', good.toUpperCase(), new RegExp(`${field} must be \\d+ lowercase hex`)] as [
          string,
          unknown,
          RegExp,
        ],
      ]),
  ['one byte short', good.slice(2), new RegExp(`${field} must be \\d+ lowercase hex`)],
  ['of odd length', good.slice(1), new RegExp(`${field} must be \\d+ lowercase hex`)],
];

/** `base` with `field` set to `value` (removed when undefined). */
function withField(base: Record<string, unknown>, field: string, value: unknown) {
  const out: Record<string, unknown> = { ...base };
  if (value === undefined) delete out[field];
  else out[field] = value;
  return out;
}

describe('repair: a helper’s round-1 commitments', () => {
  type R1 = ReturnType<Rig['honest']['round1']>;
  type Case = [string, (good: R1) => unknown, RegExp];
  const cases: Case[] = [
    ['a list for the payload', (g) => [g], /payload must be an object/],
    ...hostileHex('signature', sig).map(([w, v, r]): Case => [
      `signature ${w}`,
      (g) => withField(g, 'signature', v),
      r,
    ]),
    ...hostileHex('from', bobId).map(([w, v, r]): Case => [
      `from ${w}`,
      (g) => withField(g, 'from', v),
      r,
    ]),
    ['from another position', (g) => ({ ...g, from: carolId }), /from is not the roster position/],
    [
      'no commitments',
      (g) => withField(g, 'commitments', undefined),
      /commitments must be an object/,
    ],
    [
      'commitments a string',
      (g) => ({ ...g, commitments: 'ab'.repeat(64) }),
      /commitments must be an object/,
    ],
    ['commitments null', (g) => ({ ...g, commitments: null }), /commitments must be an object/],
    [
      'commitments a list',
      (g) => ({ ...g, commitments: Object.values(g.commitments) }),
      /commitments must be an object/,
    ],
    [
      'a helper’s commitment missing',
      (g) => ({ ...g, commitments: { [aliceId]: g.commitments[aliceId] } }),
      new RegExp(`commitments has no commitment for helper ${bobId}`),
    ],
    [
      'a commitment for a non-helper',
      (g) => ({ ...g, commitments: { ...g.commitments, [carolId]: g.commitments[aliceId] } }),
      new RegExp(`commitments has unknown field "${carolId}"`),
    ],
    [
      'a commitment keyed by a huge non-identifier',
      (g) => ({ ...g, commitments: { ...g.commitments, ['x'.repeat(10_000)]: 'ab' } }),
      /commitments has unknown field "xxxx/,
    ],
    ...hostileHex(
      `commitments.${bobId}`,
      'ab'.repeat(32),
      new RegExp(`commitments has no commitment for helper ${bobId}`),
    ).map(([w, v, r]): Case => [
      `a commitment ${w}`,
      (g) => ({ ...g, commitments: withField(g.commitments, bobId, v) }),
      r,
    ]),
    [
      'a commitment that is the identity',
      (g) => ({ ...g, commitments: { ...g.commitments, [bobId]: '01' + '00'.repeat(31) } }),
      /identity element/,
    ],
    [
      'a commitment that is no point',
      (g) => ({ ...g, commitments: { ...g.commitments, [bobId]: 'ff'.repeat(32) } }),
      /not a valid encoding/,
    ],
    [
      'an unknown field',
      (g) => ({ ...g, extra: { deep: [1, { x: 2 }] } }),
      /payload has unknown field "extra"/,
    ],
    [
      'an own __proto__ field',
      (g) => JSON.parse(`{"__proto__":{"signature":1},${JSON.stringify(g).slice(1)}`),
      /payload has unknown field "__proto__"/,
    ],
    [
      'an own __proto__ in commitments',
      (g) =>
        JSON.parse(
          JSON.stringify(g).replace('"commitments":{', '"commitments":{"__proto__":"ab",'),
        ),
      /commitments has unknown field "__proto__"/,
    ],
  ];
  for (const [what, make, reason] of cases)
    it(`with ${what}: refused naming bob, counted as malformed`, async () => {
      const t = rig(alice);
      t.deliver(bob, 'round1', make(t.honest.round1(2n)));
      await t.run();
      expectRefused(t, 'bob', 'commitments', reason, 'malformed');
      // The others hear why (they would otherwise wait out the deadline).
      expect(t.aborts().sort()).toEqual(['bob', 'dave', 'erin']);
    });

  it('signed by someone else: refused naming bob, as before', async () => {
    const t = rig(alice);
    t.deliver(bob, 'round1', { ...t.honest.round1(2n), signature: sig });
    await t.run();
    expect(t.failures).toEqual([
      'repair failed: bad_input: bob misbehaved; it can be proposed again',
    ]);
  });
});

describe('repair: a helper’s part (echo)', () => {
  const cases: [string, (good: Record<string, unknown>) => unknown, RegExp][] = [
    ['a list for the payload', (g) => [g], /payload must be an object/],
    ...hostileHex('value', scalar).map(
      ([w, v, r]): [string, (g: Record<string, unknown>) => unknown, RegExp] => [
        `value ${w}`,
        (g) => withField(g, 'value', v),
        r,
      ],
    ),
    [
      'value not reduced',
      (g) => ({ ...g, value: 'ff'.repeat(32) }),
      /value: not reduced modulo the group order/,
    ],
    ...hostileHex('to', aliceId).map(
      ([w, v, r]): [string, (g: Record<string, unknown>) => unknown, RegExp] => [
        `to ${w}`,
        (g) => withField(g, 'to', v),
        r,
      ],
    ),
    [
      'to another helper',
      (g) => ({ ...g, to: bobId }),
      /to is not the roster position of this helper/,
    ],
    ['from another position', (g) => ({ ...g, from: carolId }), /from is not the roster position/],
    ['no from', (g) => withField(g, 'from', undefined), /from must be 64 lowercase hex/],
    [
      'an unknown field',
      (g) => ({ ...g, extra: 'x'.repeat(100_000) }),
      /payload has unknown field "extra"/,
    ],
    [
      'an own __proto__ field',
      (g) => JSON.parse(`{"__proto__":{"value":1},${JSON.stringify(g).slice(1)}`),
      /payload has unknown field "__proto__"/,
    ],
  ];
  for (const [what, make, reason] of cases)
    it(`with ${what}: refused naming bob, counted as malformed`, async () => {
      const t = rig(alice);
      t.deliver(bob, 'round1', t.honest.round1(2n));
      t.deliver(bob, 'echo', make(t.honest.echo(2n, 1n)));
      await t.run();
      expectRefused(t, 'bob', 'a part', reason, 'malformed');
      // Nothing went to the new device.
      expect(t.ceremonySent.filter((s) => s.step === 'round2')).toEqual([]);
    });
});

describe('repair: a helper’s sum for the new device (round 2)', () => {
  /** dave's node, with both helpers' honest commitments in, and alice's honest sum. */
  function atDave() {
    const t = rig(dave);
    t.deliver(alice, 'round1', t.honest.round1(1n));
    t.deliver(bob, 'round1', t.honest.round1(2n));
    t.deliver(alice, 'round2', t.honest.round2(1n));
    return t;
  }
  type Sum = ReturnType<Rig['honest']['round2']>;
  const viewOf = (g: Sum, k: string) => (g.views as Record<string, Record<string, unknown>>)[k]!;
  const cases: [string, (good: Sum) => unknown, RegExp][] = [
    ['a list for the payload', (g) => [g], /payload must be an object/],
    ...hostileHex('value', scalar).map(([w, v, r]): [string, (g: Sum) => unknown, RegExp] => [
      `value ${w}`,
      (g) => withField(g, 'value', v),
      r,
    ]),
    [
      'to another position',
      (g) => ({ ...g, to: bobId }),
      /to is not the roster position being repaired/,
    ],
    ['no to', (g) => withField(g, 'to', undefined), /to must be 64 lowercase hex/],
    ['from another position', (g) => ({ ...g, from: aliceId }), /from is not the roster position/],
    ['no views', (g) => withField(g, 'views', undefined), /views must be an object/],
    ['views a list', (g) => ({ ...g, views: Object.values(g.views) }), /views must be an object/],
    ['views a string', (g) => ({ ...g, views: 'views' }), /views must be an object/],
    [
      'a helper’s view missing',
      (g) => ({ ...g, views: { [bobId]: viewOf(g, bobId) } }),
      new RegExp(`views has no entry for helper ${aliceId}`),
    ],
    [
      'a view of a non-helper',
      (g) => ({ ...g, views: { ...g.views, [carolId]: viewOf(g, bobId) } }),
      new RegExp(`views has unknown field "${carolId}"`),
    ],
    [
      'a view with an unknown field',
      (g) => ({ ...g, views: { ...g.views, [aliceId]: { ...viewOf(g, aliceId), x: 1 } } }),
      new RegExp(`views\\.${aliceId} has unknown field "x"`),
    ],
    [
      'a view that is a string',
      (g) => ({ ...g, views: { ...g.views, [aliceId]: 'ab' } }),
      new RegExp(`views\\.${aliceId} must be an object`),
    ],
    ...hostileHex(`views.${aliceId}.signature`, sig).map(
      ([w, v, r]): [string, (g: Sum) => unknown, RegExp] => [
        `a view’s signature ${w}`,
        (g) => ({
          ...g,
          views: { ...g.views, [aliceId]: withField(viewOf(g, aliceId), 'signature', v) },
        }),
        r,
      ],
    ),
    [
      'a view missing a commitment',
      (g) => {
        const v = viewOf(g, aliceId);
        const c = v.commitments as Record<string, string>;
        return {
          ...g,
          views: { ...g.views, [aliceId]: { ...v, commitments: { [aliceId]: c[aliceId] } } },
        };
      },
      new RegExp(`views\\.${aliceId}\\.commitments has no commitment for helper ${bobId}`),
    ],
    [
      'a view with a commitment for a non-helper',
      (g) => {
        const v = viewOf(g, aliceId);
        const c = v.commitments as Record<string, string>;
        return {
          ...g,
          views: { ...g.views, [aliceId]: { ...v, commitments: { ...c, [carolId]: c[aliceId] } } },
        };
      },
      new RegExp(`views\\.${aliceId}\\.commitments has unknown field "${carolId}"`),
    ],
    [
      'a view with a huge commitment',
      (g) => {
        const v = viewOf(g, aliceId);
        const c = v.commitments as Record<string, string>;
        return {
          ...g,
          views: {
            ...g.views,
            [aliceId]: { ...v, commitments: { ...c, [bobId]: 'ab'.repeat(200_000) } },
          },
        };
      },
      new RegExp(`views\\.${aliceId}\\.commitments\\.${bobId} must be 64 lowercase hex`),
    ],
    ['an unknown field', (g) => ({ ...g, extra: [] }), /payload has unknown field "extra"/],
    [
      'an own __proto__ field',
      (g) => JSON.parse(`{"__proto__":{"views":1},${JSON.stringify(g).slice(1)}`),
      /payload has unknown field "__proto__"/,
    ],
    [
      'an own __proto__ in views',
      (g) => JSON.parse(JSON.stringify(g).replace('"views":{', '"views":{"__proto__":{},')),
      /views has unknown field "__proto__"/,
    ],
  ];
  for (const [what, make, reason] of cases)
    it(`with ${what}: refused naming bob, counted as malformed; no share is kept`, async () => {
      const t = atDave();
      t.deliver(bob, 'round2', make(t.honest.round2(2n)));
      await t.run();
      expectRefused(t, 'bob', 'its sum', reason, 'malformed');
      expect(t.secrets.size).toBe(0);
      expect(t.store.groups.get(t.groupId)!.status).toBe('forming');
    });

  it('a sum from a member that is no helper is dropped and counted; the helpers’ sums repair the share', async () => {
    const t = rig(dave);
    t.deliver(alice, 'round1', t.honest.round1(1n));
    t.deliver(bob, 'round1', t.honest.round1(2n));
    // erin helps in nothing: her message is in the inbox first, and is no helper's.
    t.deliver(erin, 'round2', { junk: true });
    t.deliver(alice, 'round2', t.honest.round2(1n));
    t.deliver(bob, 'round2', t.honest.round2(2n));
    await t.run();
    expect(t.failures).toEqual([]);
    expect(t.ctx.dropped.not_participant).toBe(1);
    expect(t.secrets.get(shareName(t.groupId, 0))).toEqual(t.keys[2]!.share.toBytes());
    expect(t.roster()).toEqual(['alice:1', 'bob:2', 'dave:3', 'erin:4']);
  });

  it('commitments from a member that is no helper do not stand in for a helper’s', async () => {
    const t = rig(dave, { timeoutMs: 300 });
    t.deliver(erin, 'round1', t.honest.round1(2n));
    t.deliver(alice, 'round1', t.honest.round1(1n));
    await t.run();
    expect(t.failures).toEqual([
      'repair failed: bob did not send its commitments in time; it can be proposed again',
    ]);
    expect(t.ctx.dropped.not_participant).toBe(1);
  });

  it('honest payloads repair the share', async () => {
    const t = atDave();
    t.deliver(bob, 'round2', t.honest.round2(2n));
    await t.run();
    expect(t.failures).toEqual([]);
    expect(t.ctx.dropped).toEqual({});
    expect(t.secrets.get(shareName(t.groupId, 0))).toEqual(t.keys[2]!.share.toBytes());
    expect(
      t.ceremonySent
        .filter((s) => s.step === 'done')
        .map((s) => s.peer)
        .sort(),
    ).toEqual([alice.peerId, bob.peerId, erin.peerId].sort());
  });
});

describe('repair: the new device’s proof (done)', () => {
  const cases: [string, unknown, RegExp][] = [
    ['a list for the payload', [], /payload must be an object/],
    ...hostileHex('proof', 'ab'.repeat(64)).map(([w, v, r]): [string, unknown, RegExp] => [
      `a proof ${w}`,
      withField({}, 'proof', v),
      r,
    ]),
    ['an unknown field', { proof: 'ab'.repeat(64), by: 'me' }, /payload has unknown field "by"/],
    [
      'an own __proto__ field',
      JSON.parse(`{"__proto__":{"proof":1},"proof":"${'ab'.repeat(64)}"}`),
      /payload has unknown field "__proto__"/,
    ],
  ];
  for (const [what, payload, reason] of cases)
    it(`with ${what}: refused naming dave, counted as malformed; the roster stays`, async () => {
      const t = rig(erin);
      t.deliver(dave, 'done', payload);
      await t.run();
      expectRefused(t, 'dave', 'a proof', reason, 'malformed');
    });

  it('a proof that does not verify names dave, who sent it, not carol', async () => {
    const t = rig(erin);
    t.deliver(dave, 'done', { proof: 'ab'.repeat(64) });
    await t.run();
    expectRefused(t, 'dave', 'a proof', /\(it does not verify\)/, 'bad_proof');
  });

  it('a done from another member is dropped and counted; dave’s proof switches the roster', async () => {
    const t = rig(erin);
    t.deliver(alice, 'done', { proof: 'zz' });
    t.deliver(dave, 'done', t.honest.done());
    await t.run();
    expect(t.failures).toEqual([]);
    expect(t.ctx.dropped.not_participant).toBe(1);
    expect(t.roster()).toEqual(['alice:1', 'bob:2', 'dave:3', 'erin:4']);
  });
});

describe('repair: a helper with honest payloads', () => {
  it('sends the new device a sum that decodes strictly, and switches on its proof', async () => {
    const t = rig(alice);
    t.deliver(bob, 'round1', t.honest.round1(2n));
    t.deliver(bob, 'echo', t.honest.echo(2n, 1n));
    t.deliver(dave, 'done', t.honest.done());
    await t.run();
    expect(t.failures).toEqual([]);
    expect(t.ctx.dropped).toEqual({});
    const [sum] = t.ceremonySent.filter((s) => s.step === 'round2');
    expect(sum!.peer).toBe(dave.peerId);
    const d = decodeRepairSum(
      JSON.parse(JSON.stringify(sum!.payload)),
      'ed25519',
      HELPERS,
      1n,
      LOST,
    );
    expect([...d.views.keys()]).toEqual(HELPERS);
    expect(t.roster()).toEqual(['alice:1', 'bob:2', 'dave:3', 'erin:4']);
  });
});
