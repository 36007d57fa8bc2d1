// Three custodian processes on 127.0.0.1: form a group by invite, confirm the safety code, run the
// DKG, then sign, deny, expire, catch up after being offline, and survive a killed approver.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { openStore } from '../../main/store/index.js';
import { cli, tempRoot, TestNode, waitFor } from './harness.js';

async function formGroup(
  nodes: TestNode[],
  name: string,
  t: number,
  scheme: string,
): Promise<GroupView> {
  const [creator, ...rest] = nodes;
  const created = await creator.cliJson<{ id: string; name: string; invite: string }>([
    'group',
    'create',
    '--name',
    name,
    '--threshold',
    String(t),
    '--size',
    String(nodes.length),
    '--scheme',
    scheme,
  ]);
  expect(created.id).toMatch(/^[0-9a-f]{32}$/);
  expect(created.name).toBe(name);
  for (const n of rest) await n.cliJson(['group', 'join', created.invite]);
  const views = await Promise.all(
    nodes.map((n) =>
      waitFor(`${n.name} sees the full roster`, async () => {
        const g = await n.api('group.show', { group: created.id });
        return g.members.length === nodes.length && g.status === 'confirming' ? g : undefined;
      }),
    ),
  );
  // Every member sees the same roster and the same safety code.
  const codes = new Set(views.map((v) => v.safetyCode));
  expect(codes.size).toBe(1);
  expect(views[0].safetyCode!.split(' ')).toHaveLength(6);
  for (const n of nodes) await n.cliJson(['group', 'confirm', created.id]);
  const ready = await Promise.all(
    nodes.map((n) =>
      waitFor(
        `${n.name} has the group key`,
        async () => {
          const g = await n.cliJson<GroupView>(['group', 'show', name]);
          if (g.status === 'failed') throw new Error(`group failed: ${g.error}`);
          return g.status === 'ready' ? g : undefined;
        },
        60_000,
      ),
    ),
  );
  expect(new Set(ready.map((g) => g.publicKey)).size).toBe(1);
  for (const g of ready) {
    expect(g).toMatchObject({
      id: created.id,
      name,
      threshold: t,
      size: nodes.length,
      scheme,
      status: 'ready',
    });
    expect(g.members.map((m) => m.name).sort()).toEqual(nodes.map((n) => n.name).sort());
    for (const m of g.members) expect(m).toHaveProperty('fingerprint');
  }
  return ready[0];
}

async function waitStatus(
  n: TestNode,
  id: string,
  status: string,
  timeoutMs = 60_000,
): Promise<RequestView> {
  return waitFor(
    `request ${id} to be ${status} on ${n.name}`,
    async () => {
      const r = await n.api('request.show', { id });
      return r.status === status ? r : undefined;
    },
    timeoutMs,
  );
}

function ed25519Verify(publicKeyHex: string, message: Uint8Array, signatureHex: string): boolean {
  const key = createPublicKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(hexToBytes(publicKeyHex)).toString('base64url'),
    },
    format: 'jwk',
  });
  return nodeVerify(null, message, key, Buffer.from(hexToBytes(signatureHex)));
}

describe('a 2-of-3 ed25519 group of three processes', () => {
  const tmp = tempRoot();
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((n) => new TestNode(n, tmp.root));
  let group: GroupView;

  beforeAll(async () => {
    await Promise.all([alice, bob, carol].map((n) => n.init()));
    await Promise.all([alice, bob, carol].map((n) => n.start()));
    group = await formGroup([alice, bob, carol], 'treasury', 2, 'ed25519');
  }, 180_000);

  afterAll(async () => {
    await Promise.all([alice, bob, carol].map((n) => n.kill()));
    tmp.cleanup();
  });

  it('signs after two approvals, and the signature verifies with OpenSSL on every member', async () => {
    const req = await alice.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'treasury',
      '--message',
      'pay 1 BTC to X',
    ]);
    await waitFor('bob to receive the request', async () =>
      (await bob.api('request.list', { pending: true })).some((r) => r.id === req.id),
    );
    const shown = await bob.cliJson<RequestView>(['request', 'show', req.id]);
    expect(shown).toMatchObject({
      id: req.id,
      group: group.id,
      kind: 'sign',
      status: 'pending',
      messageText: 'pay 1 BTC to X',
    });
    await bob.cliJson(['approve', req.id]);
    await waitFor('carol to receive the request', async () =>
      (await carol.api('request.list', {})).some((r) => r.id === req.id),
    );
    await carol.cliJson(['approve', req.id]);
    const waited = await alice.cli(['request', 'wait', req.id, '--timeout', '60', '--json']);
    expect(waited.code).toBe(0);
    for (const n of [alice, bob, carol]) {
      const done = await waitStatus(n, req.id, 'done');
      expect(done.message).toBe(Buffer.from('pay 1 BTC to X').toString('hex'));
      expect(done.approvals.map((a) => a.name).sort()).toEqual(['bob', 'carol']);
      expect(ed25519Verify(group.publicKey!, utf8ToBytes('pay 1 BTC to X'), done.signature!)).toBe(
        true,
      );
    }
    // The audit evidence: each approver's own chain has its approval, no chain has another
    // member's approval, and every member's request.signed entry lists the approvals it held.
    const approvedBy: string[] = [];
    const ownChains = [alice, bob, carol].map((n) => {
      const store = openStore(join(n.home, 'conclave.db'));
      try {
        return store.audit
          .list({ author: `${n.peerId}/${group.id}` })
          .filter((e) => (e.body as { id?: unknown }).id === req.id);
      } finally {
        store.close();
      }
    });
    for (const [i, n] of [alice, bob, carol].entries()) {
      const mine = ownChains[i]!;
      for (const e of mine.filter((x) => x.type === 'request.approved'))
        approvedBy.push(`${n.name}:${String((e.body as { by: string }).by === n.peerId)}`);
      const signed = mine.filter((x) => x.type === 'request.signed');
      expect(signed, n.name).toHaveLength(1);
      const listed = (signed[0]!.body as { approvals: { by: string; statement: string }[] })
        .approvals;
      expect(listed.map((a) => a.by).sort(), n.name).toEqual([bob.peerId, carol.peerId].sort());
      for (const a of listed) expect(a.statement).toMatch(/^[0-9a-f]{128}$/);
    }
    expect(approvedBy.sort()).toEqual(['bob:true', 'carol:true']);
  }, 120_000);

  it('refuses the request when too many members deny it', async () => {
    const req = await bob.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      group.id,
      '--message',
      'send everything to Mallory',
    ]);
    await waitFor(
      'carol and alice to receive it',
      async () =>
        (await carol.api('request.list', {})).some((r) => r.id === req.id) &&
        (await alice.api('request.list', {})).some((r) => r.id === req.id),
    );
    await carol.cliJson(['deny', req.id, '--reason', 'unknown recipient']);
    await alice.cliJson(['deny', req.id]);
    const denied = await waitStatus(bob, req.id, 'denied');
    expect(denied.denials.map((d) => d.name).sort()).toEqual(['alice', 'carol']);
    expect(denied.denials.find((d) => d.name === 'carol')!.reason).toBe('unknown recipient');
    expect(denied.signature).toBeUndefined();
    const approveLate = await bob.cli(['approve', req.id]);
    expect(approveLate.code).not.toBe(0);
    expect(approveLate.stderr).toMatch(/denied/);
  }, 60_000);

  it('expires a request nobody approved in time', async () => {
    const req = await alice.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'treasury',
      '--message',
      'too late',
      '--expires',
      '10',
    ]);
    const r = await alice.cli(['request', 'wait', req.id, '--timeout', '30', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).status).toBe('expired');
    await waitStatus(bob, req.id, 'expired');
  }, 60_000);

  it('lets a member who was offline during the request catch up and approve when it starts', async () => {
    await carol.kill('SIGTERM');
    const req = await alice.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'treasury',
      '--message',
      'quarterly rebalance',
    ]);
    await waitFor('bob to receive it', async () =>
      (await bob.api('request.list', {})).some((r) => r.id === req.id),
    );
    await carol.start();
    const seen = await waitFor(
      'carol to catch up',
      async () => (await carol.api('request.list', { pending: true })).find((r) => r.id === req.id),
      60_000,
    );
    expect(seen.messageText).toBe('quarterly rebalance');
    await carol.cliJson(['approve', req.id]);
    await alice.cliJson(['approve', req.id]);
    const done = await waitStatus(carol, req.id, 'done');
    expect(
      ed25519Verify(group.publicKey!, utf8ToBytes('quarterly rebalance'), done.signature!),
    ).toBe(true);
  }, 120_000);

  it('exports an encrypted share backup and restores it, refusing a wrong passphrase', async () => {
    const out = join(tmp.root, 'alice-treasury.backup');
    const env = { CONCLAVE_BACKUP_PASSPHRASE: 'correct horse battery staple' };
    // Without a terminal to confirm at, only --yes exports.
    const unconfirmed = await cli(
      ['--home', alice.home, 'backup', 'export', '--group', 'treasury', '--out', out],
      env,
    );
    expect(unconfirmed.code).toBe(64);
    expect(unconfirmed.stderr).toMatch(/pass --yes/);
    expect(existsSync(out)).toBe(false);
    const exported = await cli(
      [
        ...['--home', alice.home, 'backup', 'export', '--group', 'treasury'],
        ...['--out', out, '--yes', '--json'],
      ],
      env,
    );
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ groupName: 'treasury', epoch: 0, out });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const text = readFileSync(out, 'utf8');
    expect(JSON.parse(text)).toMatchObject({
      format: 'conclave-share-backup',
      groupName: 'treasury',
      epoch: 0,
    });
    const again = await cli(
      ['--home', alice.home, 'backup', 'export', '--group', 'treasury', '--out', out, '--yes'],
      env,
    );
    expect(again.code).toBe(64);
    const wrong = await cli(['--home', alice.home, 'backup', 'restore', out], {
      CONCLAVE_BACKUP_PASSPHRASE: 'not the passphrase',
    });
    expect(wrong.code, wrong.stderr).toBe(1);
    expect(wrong.stderr).toMatch(/wrong passphrase/);
    const restored = await cli(['--home', alice.home, 'backup', 'restore', out], env);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/restored your share of treasury/);
    const noPass = await cli(['--home', alice.home, 'backup', 'restore', out], {
      CONCLAVE_BACKUP_PASSPHRASE: '',
    });
    expect(noPass.code).toBe(64);
  }, 60_000);

  it('keeps a hash-chained audit log that verifies', async () => {
    // Once the entries a member's checkpoint names have all arrived (the log converges).
    await waitFor('alice’s log to verify', async () => (await alice.api('audit.verify', {})).ok);
    const v = await alice.cliJson<{ ok: boolean; entries: number }>(['audit', 'verify']);
    expect(v.ok).toBe(true);
    expect(v.entries).toBeGreaterThan(5);
    const list = await alice.cliJson<{ type: string }[]>(['audit', 'list']);
    const types = new Set(list.map((e) => e.type));
    for (const t of [
      'identity.created',
      'group.created',
      'group.ready',
      'request.created',
      'request.approved',
      'request.signed',
    ])
      expect(types).toContain(t);
  });
});

describe('a 2-of-3 taproot group where an approver is killed while signing', () => {
  const tmp = tempRoot();
  const nodes = ['dora', 'eve', 'finn'].map(
    (n) => new TestNode(n, tmp.root, { CONCLAVE_SIGN_TIMEOUT_MS: '5000' }),
  );

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    tmp.cleanup();
  });

  it('completes with the third member after the hung approver is SIGKILLed, naming it', async () => {
    await Promise.all(nodes.map((n) => n.init()));
    // The coordinator is the approver with the smallest peer id: make the other one hang when asked to sign.
    const [first, second] = [nodes[0], nodes[1]].sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
    await first.start();
    await second.start(undefined, { CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_FAULT: 'hang-sign' });
    await nodes[2].start();
    const group = await formGroup(nodes, 'vault', 2, 'taproot');
    expect(group.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(group.internalKey).toMatch(/^[0-9a-f]{64}$/);
    const msg = 'a'.repeat(64);
    const req = await first.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'vault',
      '--hex',
      msg,
    ]);
    await waitFor('second to receive it', async () =>
      (await second.api('request.list', {})).some((r) => r.id === req.id),
    );
    await first.cliJson(['approve', req.id]);
    await second.cliJson(['approve', req.id]);
    await waitStatus(first, req.id, 'signing');
    expect(await second.kill('SIGKILL')).toBeNull();
    const pending = await waitFor('the coordinator to give up on the killed approver', async () => {
      const r = await first.api('request.show', { id: req.id });
      return r.culprits.includes(second.peerId) ? r : undefined;
    });
    expect(pending.status).not.toBe('done');
    await waitFor('finn to receive it', async () =>
      (await nodes[2].api('request.list', {})).some((r) => r.id === req.id),
    );
    await nodes[2].cliJson(['approve', req.id]);
    const done = await waitStatus(first, req.id, 'done');
    expect(done.culprits).toContain(second.peerId);
    expect(
      schnorr.verify(hexToBytes(done.signature!), hexToBytes(msg), hexToBytes(group.publicKey!)),
    ).toBe(true);
  }, 240_000);
});

describe('a 2-of-3 taproot group where an approver hangs while signing and stays alive', () => {
  const tmp = tempRoot();
  // A sign timeout of 120 s: the coordinator must not need it to go on without the hung one, and
  // without the fast failover the test could not pass. The margin is wide on purpose: on a loaded
  // machine the failover (a deadline derived from the answers) stretches; how fast it is on a
  // quiet one is the benchmark's business (npm run bench: failover), not a timed test's.
  const SIGN_TIMEOUT_MS = 120_000;
  const nodes = ['gail', 'hugo', 'ines'].map(
    (n) => new TestNode(n, tmp.root, { CONCLAVE_SIGN_TIMEOUT_MS: String(SIGN_TIMEOUT_MS) }),
  );

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    tmp.cleanup();
  });

  it('asks the third member as soon as the hung one is late, long before the sign timeout, blaming nobody', async () => {
    await Promise.all(nodes.map((n) => n.init()));
    const [first, second] = [nodes[0], nodes[1]].sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
    const third = nodes[2];
    await first.start();
    await second.start(undefined, { CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_FAULT: 'hang-sign' });
    await third.start();
    const group = await formGroup(nodes, 'hangs', 2, 'taproot');
    const msg = 'b'.repeat(64);
    const req = await first.cliJson<{ id: string }>([
      'request',
      'sign',
      '--group',
      'hangs',
      '--hex',
      msg,
    ]);
    await waitFor('the others to receive it', async () => {
      const lists = await Promise.all([second, third].map((n) => n.api('request.list', {})));
      return lists.every((l) => l.some((r) => r.id === req.id));
    });
    // first and second approve: the coordinator (first) asks second, which hangs.
    await first.api('request.approve', { id: req.id });
    await second.api('request.approve', { id: req.id });
    await waitStatus(first, req.id, 'signing');
    const signingAt = Date.now();
    await third.api('request.approve', { id: req.id });
    // Without the fast failover the coordinator waits out the sign timeout before asking third;
    // with it, third is asked once second is late (about a second on a quiet machine).
    const done = await waitStatus(
      first,
      req.id,
      'done',
      Math.max(1, SIGN_TIMEOUT_MS / 2 - (Date.now() - signingAt)),
    );
    expect(Date.now() - signingAt).toBeLessThan(SIGN_TIMEOUT_MS / 2);
    expect(
      schnorr.verify(hexToBytes(done.signature!), hexToBytes(msg), hexToBytes(group.publicKey!)),
    ).toBe(true);
    // Late is no fault: nobody is blamed, and the hung member is still up and learns the outcome.
    expect(done.culprits).toEqual([]);
    await waitStatus(second, req.id, 'done', 30_000);
  }, 240_000);
});
