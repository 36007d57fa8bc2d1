// Issue 13, malicious custodians at the transport, approval, request and audit layers: carol took
// part in the DKG of a 2-of-3 group, then her identity key went to an attacker ("mallory") who
// speaks to the honest members alice and bob through a libp2p host of her own, with validly
// signed messages crafted by hand. Every case ends with the group still signing.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { makeEntry, type AuditEntry } from '../../shared/audit/chain.js';
import type { RequestView } from '../../shared/api/index.js';
import { MAX_OPEN_REQUESTS_PER_MEMBER } from '../../shared/requests/index.js';
import {
  PROTOCOL,
  requestId,
  signStatement,
  statementHash,
  type RequestBody,
  type Signed,
} from '../../shared/protocol/wire.js';
import { PENDING_AUDIT_BOUNDS } from '../../main/node/audit.js';
import { INBOX_BOUNDS } from '../../main/node/inbox.js';
import { ABORT_MAP_BOUNDS } from '../../main/node/ceremonies/ceremony.js';
import {
  decisionBody,
  outsider,
  policyHashOn,
  requestBody,
  turnRogue,
  type Rogue,
} from './attack-helpers.js';
import {
  approveBy,
  formGroup,
  requestStatus,
  seen,
  tempRoot,
  TestNode,
  waitFor,
} from './harness.js';
import { recordCase } from './reliability-record.js';

const tmp = tempRoot('conclave-adversary-');
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

/** alice and bob sign a fresh message; the signature verifies under the group key. */
async function stillSigns(message: string): Promise<void> {
  const req = await alice.cliJson<RequestView>([
    'request',
    'sign',
    '--group',
    'vault',
    '--message',
    message,
  ]);
  await approveBy(req.id, honest);
  const done = await requestStatus(alice, req.id, 'done');
  const pub = (await alice.api('group.show', { group })).publicKey!;
  expect(
    ed25519.verify(
      Buffer.from(done.signature!, 'hex'),
      new TextEncoder().encode(message),
      Buffer.from(pub, 'hex'),
    ),
    'the group signature verifies',
  ).toBe(true);
}

async function dropped(n: TestNode): Promise<Record<string, number>> {
  return (await n.api('node.status', {})).dropped;
}

/** Every message `n` dropped so far, whatever the reason. */
async function droppedTotal(n: TestNode): Promise<number> {
  return Object.values(await dropped(n)).reduce((a, b) => a + b, 0);
}

/** Sends `msg` on the group protocol from `host`, as far as its own limits let it. */
async function rawSend(
  host: Rogue['host'],
  to: TestNode,
  msg: unknown,
  maxRequestBytes?: number,
): Promise<'ok' | string> {
  const { addrs } = await to.api('node.status', {});
  try {
    await host.request(to.peerId, PROTOCOL.group, msg, {
      addrs,
      timeoutMs: 15_000,
      ...(maxRequestBytes ? { maxRequestBytes } : {}),
    });
    return 'ok';
  } catch (e) {
    const err = e as { code?: string; remoteCode?: string };
    return err.remoteCode ?? err.code ?? String(e);
  }
}

function rssMiB(n: TestNode): number {
  const status = readFileSync(`/proc/${n.proc!.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

it('a non-member peer is dropped before anything it says is considered; the members stay connected', async () => {
  const stranger = await outsider();
  try {
    const policy = await policyHashOn(alice, group);
    const body = requestBody(stranger.peerId, group, 'sign', 'from a stranger', policy);
    const signed = signStatement(body, (h) => ed25519.sign(h, stranger.seed));
    const before = await droppedTotal(alice);
    const msgs: unknown[] = [
      { v: 1, type: 'statements', items: [signed] },
      { v: 1, type: 'hello', addrs: stranger.host.addrs() },
      { v: 1, type: 'audit', groupId: group, entries: [] },
      { v: 1, type: 'nonces', groupId: group, commitments: [] },
    ];
    for (const m of msgs)
      expect(await rawSend(stranger.host, alice, m)).toMatch(/^(not_allowed|non_member)$/);
    expect(await droppedTotal(alice)).toBeGreaterThanOrEqual(before + msgs.length);
    expect((await alice.api('request.list', {})).map((r) => r.id)).not.toContain(requestId(body));
    const conn = (await alice.api('node.status', {})).connections!;
    expect(conn.members, 'alice still holds her members’ connections').toBeGreaterThanOrEqual(1);
    recordCase({
      suite: 'adversary',
      name: 'transport: non-member peer',
      culprit: null,
      outcome: 'refused',
    });
  } finally {
    await stranger.host.stop();
  }
}, 60_000);

/** The signed request `id` as mallory's host received it from alice's broadcast. */
async function receivedRequest(id: string): Promise<Signed<RequestBody>> {
  return waitFor(
    `mallory to receive request ${id}`,
    () => {
      for (const r of mallory.got('statements'))
        for (const s of (r.msg.items as Signed[]) ?? [])
          if (s.body.type === 'request' && requestId(s.body as RequestBody) === id)
            return s as Signed<RequestBody>;
      return undefined;
    },
    30_000,
  );
}

async function signRequest(message: string, approve = false): Promise<RequestView> {
  const req = await alice.cliJson<RequestView>([
    'request',
    'sign',
    '--group',
    'vault',
    '--message',
    message,
    ...(approve ? ['--approve'] : []),
  ]);
  await seen(bob, req.id);
  return req;
}

/** The newest entry of `chain` as `n` holds it (seq and hash are all a continuation needs). */
async function headOf(n: TestNode, chain: string): Promise<AuditEntry> {
  const mine = (await n.api('audit.list', { limit: 10_000 })).filter((e) => e.author === chain);
  const last = mine[mine.length - 1];
  if (!last) throw new Error(`${n.name} holds no entry of ${chain}`);
  return { author: last.author, seq: last.seq, hash: last.hash } as AuditEntry;
}

function entryBy(
  sign: (h: Uint8Array) => Uint8Array,
  chain: string,
  prev: AuditEntry,
  type = 'request.note',
  body: Record<string, unknown> = { text: 'written by mallory' },
): AuditEntry {
  return makeEntry(prev, { author: chain, at: Date.now(), type, group, body }, sign);
}

it('a member cannot speak for another: a request, an approval and an audit entry in another’s name are refused', async () => {
  const policy = await policyHashOn(alice, group);
  const asAlice = requestBody(alice.peerId, group, 'sign', 'alice never asked for this', policy);
  expect(await mallory.offer(bob, [mallory.statement(asAlice)])).toBe(false);
  expect((await bob.api('request.list', {})).map((r) => r.id)).not.toContain(requestId(asAlice));

  const req = await signRequest('only alice and bob decide', true);
  const hash = bytesToHex(statementHash((await receivedRequest(req.id)).body));
  const asBob = mallory.statement(decisionBody(bob.peerId, group, req.id, hash));
  expect(await mallory.offer(alice, [asBob])).toBe(false);
  const view = await alice.api('request.show', { id: req.id });
  expect(view.approvals.map((a) => a.peerId)).toEqual([alice.peerId]);
  expect(view.status).toBe('pending');

  const aliceChain = `${alice.peerId}/${group}`;
  const fake = entryBy(
    (h) => mallory.sign(h),
    aliceChain,
    await headOf(bob, aliceChain),
    'group.key_exposed',
    {
      requestId: req.id,
      exposed: 'alice exposed the key (a lie)',
    },
  );
  expect(await mallory.relayAudit(bob, group, [fake])).toBe(false);
  const chain = (await bob.api('audit.list', { limit: 10_000 })).filter(
    (e) => e.author === aliceChain,
  );
  expect(chain.map((e) => e.hash)).not.toContain(fake.hash);

  await approveBy(req.id, [bob]);
  await requestStatus(alice, req.id, 'done');
  recordCase({
    suite: 'adversary',
    name: 'transport: a member claims another member’s identity in a field',
    culprit: null,
    outcome: 'refused',
  });
}, 90_000);

it('approvals: a forged one and one for another request’s hash do not count', async () => {
  const req = await signRequest('approve me properly', true);
  const other = await signRequest('some other request');
  const otherHash = bytesToHex(statementHash((await receivedRequest(other.id)).body));
  const hash = bytesToHex(statementHash((await receivedRequest(req.id)).body));

  const forged = mallory.statement(decisionBody(mallory.peerId, group, req.id, hash));
  const badSig: Signed = { ...forged, sig: bytesToHex(randomBytes(64)) };
  const wrongHash = mallory.statement(decisionBody(mallory.peerId, group, req.id, otherHash));
  for (const n of honest) {
    expect(await mallory.offer(n, [badSig]), `forged approval on ${n.name}`).toBe(false);
    expect(await mallory.offer(n, [wrongHash]), `wrong-hash approval on ${n.name}`).toBe(false);
  }
  for (const n of honest) {
    const view = await n.api('request.show', { id: req.id });
    expect(
      view.approvals.map((a) => a.peerId),
      `approvals on ${n.name}`,
    ).toEqual([alice.peerId]);
    expect(view.status).toBe('pending');
  }
  await approveBy(req.id, [bob]);
  await requestStatus(alice, req.id, 'done');
  for (const name of ['approval: forged signature', 'approval: another request’s hash'])
    recordCase({ suite: 'adversary', name, culprit: null, outcome: 'refused' });
}, 90_000);

it('requests: malformed parameters of every kind, and an expiry beyond the policy, are refused or capped on receipt', async () => {
  const policy = await policyHashOn(alice, group);
  const garbage = [
    'ssh',
    'age',
    'x509',
    'psbt',
    'nostr',
    'policy',
    'reshare',
    'repair',
    'refresh',
  ].map((kind) =>
    requestBody(
      mallory.peerId,
      group,
      kind as RequestBody['kind'],
      'not what a ' + kind + ' request holds',
      policy,
    ),
  );
  const before = (await dropped(alice)).invalid_request ?? 0;
  for (const b of garbage) await mallory.offer(alice, [mallory.statement(b)]);
  const ids = (await alice.api('request.list', {})).map((r) => r.id);
  for (const b of garbage)
    expect(ids, `a malformed ${b.kind} request stored`).not.toContain(requestId(b));
  expect((await dropped(alice)).invalid_request ?? 0).toBeGreaterThanOrEqual(
    before + garbage.length,
  );

  const { policy: p } = await alice.api('group.policy', { group });
  const maxExpirySec = (p as { maxExpirySec: number }).maxExpirySec;
  const far = requestBody(mallory.peerId, group, 'sign', 'open for a year', policy, {
    expiresAt: Date.now() + 365 * 24 * 3600_000,
  });
  await mallory.offer(alice, [mallory.statement(far)]);
  const stored = (await alice.api('request.list', {})).find((r) => r.id === requestId(far));
  if (stored)
    expect(Date.parse(stored.expiresAt)).toBeLessThanOrEqual(Date.now() + maxExpirySec * 1000);
  for (const b of garbage)
    recordCase({
      suite: 'adversary',
      name: `request: malformed ${b.kind}`,
      culprit: null,
      outcome: 'refused',
    });
  recordCase({
    suite: 'adversary',
    name: 'request: expiry beyond the policy',
    culprit: null,
    outcome: stored ? 'capped' : 'refused',
  });
}, 60_000);

it('oversized and malformed frames from a member are dropped; its connection and the node keep working', async () => {
  const before = await dropped(alice);
  const total = await droppedTotal(alice);
  const big = { v: 1, type: 'statements', items: [], pad: 'x'.repeat(700 * 1024) };
  expect(await rawSend(mallory.host, alice, big, 2 * 1024 * 1024)).not.toBe('ok');
  for (const m of [
    { v: 1, type: 'statements', items: 'not a list' },
    { v: 1, type: 'no-such-type' },
    { v: 99, type: 'hello', addrs: [] },
    { v: 1, type: 'dkg', groupId: 'zz', session: 1, step: 'round1', payload: null },
    {
      v: 1,
      type: 'ceremony',
      groupId: group,
      requestId: '00',
      session: '',
      step: 'start',
      payload: {},
    },
  ])
    expect(await rawSend(mallory.host, alice, m), JSON.stringify(m).slice(0, 80)).not.toBe('ok');
  const after = await dropped(alice);
  expect(after.oversized ?? 0).toBeGreaterThan(before.oversized ?? 0);
  expect(await droppedTotal(alice)).toBeGreaterThanOrEqual(total + 6);
  // The same member, next message: still served.
  expect(
    await rawSend(mallory.host, alice, { v: 1, type: 'hello', addrs: mallory.host.addrs() }),
  ).toBe('ok');
  recordCase({
    suite: 'adversary',
    name: 'transport: oversized and malformed frames',
    culprit: null,
    outcome: 'dropped',
  });
}, 60_000);

it('audit: a forged entry, a broken link and a fork are refused; entries reordered in transit are stored in order; a deleted one leaves the rest waiting', async () => {
  const chain = `${mallory.peerId}/${group}`;
  const head = await headOf(alice, chain);
  const sign = (h: Uint8Array) => mallory.sign(h);

  // Forged: a continuation whose signature is not the author's.
  const e1 = entryBy(sign, chain, head);
  const stranger = randomBytes(32);
  const forged = entryBy((h) => ed25519.sign(h, stranger), chain, head, 'request.note', {
    text: 'not signed by its author',
  });
  expect(await mallory.relayAudit(alice, group, [forged])).toBe(false);

  // Reordered in transit: e2 before e1; both end up stored, in order.
  const e2 = entryBy(sign, chain, e1);
  await mallory.relayAudit(alice, group, [e2]);
  await mallory.relayAudit(alice, group, [e1]);
  await waitFor(
    'e1 and e2 in alice’s log',
    async () => {
      const h = await headOf(alice, chain);
      return h.seq === e2.seq && h.hash === e2.hash;
    },
    15_000,
  );

  // A broken link: the next position, but chained to something else.
  const broken = entryBy(sign, chain, { ...e2, hash: bytesToHex(randomBytes(32)) });
  await mallory.relayAudit(alice, group, [broken]);
  // A fork: another entry at e2's position.
  const fork = entryBy(sign, chain, e1, 'request.note', { text: 'the other history' });
  await mallory.relayAudit(alice, group, [fork]);
  // Deleted: e3 never arrives, e4 does.
  const e3 = entryBy(sign, chain, e2);
  const e4 = entryBy(sign, chain, e3);
  await mallory.relayAudit(alice, group, [e4]);

  const held = (await alice.api('audit.list', { limit: 10_000 })).filter((e) => e.author === chain);
  const hashes = held.map((e) => e.hash);
  expect(hashes).toContain(e1.hash);
  expect(hashes).toContain(e2.hash);
  for (const [what, e] of [
    ['forged', forged],
    ['broken link', broken],
    ['fork', fork],
    ['after a gap', e4],
  ] as const)
    expect(hashes, `the ${what} entry stored`).not.toContain(e.hash);
  const report = await alice.api('audit.verify', {});
  expect(report.problems, 'audit verify on alice').toEqual([]);
  expect(report.ok).toBe(true);
  for (const name of ['forged entry', 'entry with a broken link', 'forked entry', 'deleted entry'])
    recordCase({
      suite: 'adversary',
      name: `audit: ${name}`,
      culprit: mallory.peerId,
      outcome: 'refused',
    });
}, 90_000);

it('floods of requests, statements, audit entries and ceremony messages: memory bounded, node responsive, members kept, the group still signs', async () => {
  const policy = await policyHashOn(alice, group);
  const rss0 = rssMiB(alice);
  const slowest: number[] = [];
  let flooding = true;
  // Alice's control API answers while the flood goes on.
  const probe = (async () => {
    while (flooding) {
      const t = Date.now();
      await alice.api('node.status', {}, 20_000);
      slowest.push(Date.now() - t);
      await new Promise<void>((r) => setImmediate(r));
    }
  })();
  try {
    // Requests: far more open ones than one member may have.
    const flood = Array.from({ length: MAX_OPEN_REQUESTS_PER_MEMBER + 150 }, (_, i) =>
      mallory.statement(requestBody(mallory.peerId, group, 'sign', `flood ${i}`, policy)),
    );
    for (let i = 0; i < flood.length; i += 50) await mallory.offer(alice, flood.slice(i, i + 50));
    // Decisions for requests that do not exist.
    const ghosts = Array.from({ length: 500 }, () =>
      mallory.statement(
        decisionBody(
          mallory.peerId,
          group,
          bytesToHex(randomBytes(16)),
          bytesToHex(randomBytes(32)),
        ),
      ),
    );
    for (let i = 0; i < ghosts.length; i += 100)
      await mallory.offer(alice, ghosts.slice(i, i + 100));
    // Audit entries that can never be stored (a gap before them), more than a chain may park.
    const chain = `${mallory.peerId}/${group}`;
    let prev = {
      author: chain,
      seq: (await headOf(alice, chain)).seq + 5,
      hash: bytesToHex(randomBytes(32)),
    } as AuditEntry;
    const parked: AuditEntry[] = [];
    for (let i = 0; i < PENDING_AUDIT_BOUNDS.maxPendingPerChain + 200; i++) {
      prev = entryBy((h) => mallory.sign(h), chain, prev);
      parked.push(prev);
    }
    for (let i = 0; i < parked.length; i += 400)
      await mallory.relayAudit(alice, group, parked.slice(i, i + 400));
    // Ceremony and key-generation messages for sessions nobody started.
    for (let i = 0; i < 400; i++) {
      const step = (['round1', 'echo', 'round2', 'abort'] as const)[i % 4];
      await rawSend(mallory.host, alice, {
        v: 1,
        type: 'ceremony',
        groupId: group,
        requestId: bytesToHex(randomBytes(16)),
        session: bytesToHex(randomBytes(32)),
        step,
        payload: { junk: i },
      });
    }
  } finally {
    flooding = false;
    await probe;
  }
  const open = (await alice.api('request.list', {})).filter(
    (r) => r.createdBy.peerId === mallory.peerId && r.status === 'pending',
  );
  expect(open.length, 'open requests of one member').toBeLessThanOrEqual(
    MAX_OPEN_REQUESTS_PER_MEMBER,
  );
  const status = await alice.api('node.status', {});
  const buffers = status.buffers ?? {};
  expect(buffers.pendingAudit ?? 0).toBeLessThanOrEqual(PENDING_AUDIT_BOUNDS.maxPendingPerChain);
  expect(buffers.inboxes ?? 0).toBeLessThanOrEqual(
    INBOX_BOUNDS.maxInboxes * INBOX_BOUNDS.maxPerGroup,
  );
  for (const [name, size] of Object.entries(buffers))
    if (name !== 'pendingAudit' && name !== 'inboxes')
      expect(size, `buffer ${name}`).toBeLessThanOrEqual(ABORT_MAP_BOUNDS.maxSize);
  expect(status.connections!.members, 'members connected to alice').toBeGreaterThanOrEqual(1);
  const rss1 = rssMiB(alice);
  expect(
    rss1 - rss0,
    `alice's RSS grew from ${rss0.toFixed(0)} to ${rss1.toFixed(0)} MiB`,
  ).toBeLessThan(150);
  expect(Math.max(...slowest), 'the slowest status answer during the flood (ms)').toBeLessThan(
    10_000,
  );
  // A flood by one member does not take the others' turn: alice can still ask, and sign.
  await stillSigns('signed after the flood');
  recordCase({
    suite: 'adversary',
    name: 'transport: floods of requests, statements, audit entries and ceremony messages',
    culprit: null,
    outcome: `bounded: open ${open.length}, rss +${(rss1 - rss0).toFixed(0)} MiB, slowest status ${Math.max(...slowest)} ms`,
  });
}, 240_000);
