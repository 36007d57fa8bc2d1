// Hostile rows in the store's meta table: the group view and the timers/handlers that read them
// take a damaged row as absent (logged once, by key), user actions refuse it with a typed error
// naming the key; none of them throws a raw SyntaxError or TypeError.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import { ApiError } from '../../shared/api/index.js';
import { sealTo } from '../../shared/crypto/exported-key.js';
import { SecretShare, type KeyPackage } from '../../shared/crypto/keys.js';
import { getSuite } from '../../shared/crypto/suite.js';
import { defaultPolicy, policyHash } from '../../shared/policy/policy.js';
import { decodeInvite } from '../../shared/protocol/roster.js';
import type { Vault } from '../../main/vault/index.js';
import { BackupService } from '../../main/node/backup.js';
import { ImportService } from '../../main/node/ceremonies/import.js';
import { RefreshReshareService } from '../../main/node/ceremonies/refresh-reshare.js';
import { RepairService } from '../../main/node/ceremonies/repair.js';
import { SettleService } from '../../main/node/ceremonies/settle.js';
import {
  committedKey,
  formerKey,
  isString,
  parseStoredSigned,
  pendingKey,
  readMetaList,
  readRelays,
  requireMetaList,
  shareName,
} from '../../main/node/common.js';
import type { NodeServices } from '../../main/node/context.js';
import { Custodian } from '../../main/node/custodian.js';
import { leaveEpochs, MAX_LEAVE_EPOCHS } from '../../main/node/leave.js';
import { GroupsService } from '../../main/node/groups.js';
import { releaseCheck, RequestPolicy } from '../../main/node/request-policy.js';
import type { RequestsService } from '../../main/node/requests.js';
import { SyncService } from '../../main/node/sync.js';
import type { GroupRow } from '../../main/store/index.js';
import { newDeviceRepair, plannedRoster, refreshRig } from './ceremony-fixtures.js';
import {
  approvedExport,
  harness,
  insertRequest,
  joinMessage,
  peer,
  plantGroupColumns,
  publicPackageJSON,
  readyGroup,
  reconstructRequests,
  type Harness,
  type HarnessOptions,
  type Peer,
} from './fixtures.js';

let alice: Peer, bob: Peer, carol: Peer, dave: Peer;
beforeAll(async () => {
  [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map(peer));
});

/**
 * A group key package as a damaged file may hold it (JSON, not a package): the store refuses to
 * write one, so tests plant it in the store's file (plantGroupColumns).
 */
const DAMAGED_PACKAGE = '{"scheme":"ed25519","groupKey":"zz"}';

/** Values no reader may trust: not JSON, JSON of the wrong shape, and a huge one. */
const HOSTILE = [
  '{not json',
  '"not a list"',
  '42',
  'null',
  '{"peerId":1,"publicKey":[]}',
  '[1,null,"x",{"peerId":7}]',
  JSON.stringify('x'.repeat(1 << 20)),
  JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ peerId: `p${i}`, addrs: {} }))),
];

/** Candidates of which one only is well formed: the others have a bad peer id, name or addrs. */
function mixedCandidates(good: Peer): string {
  return JSON.stringify([
    { peerId: 'not-a-peer-id', name: 'eve', addrs: [] },
    { peerId: '12D3KooW' + 'x'.repeat(44), name: 'mallory', addrs: [] },
    { peerId: 'z'.repeat(100_000), name: 'huge', addrs: [] },
    { peerId: dave.peerId, name: { toString: 1 }, addrs: [] },
    { peerId: dave.peerId, name: 'dave', addrs: 'not a list' },
    { peerId: good.peerId, name: good.name, addrs: ['/ip4/127.0.0.1/tcp/4001'] },
  ]);
}

function groupsSetup(opts: HarnessOptions = {}) {
  const h = harness(alice, opts);
  const id = readyGroup(h.store, [alice, bob, carol], 2);
  const groups = new GroupsService(h.ctx, {} as NodeServices);
  const list = () => h.store.groups.list().map((g) => groups.groupView(g));
  return { ...h, id, groups, list };
}

describe('the group view over hostile stored rows', () => {
  it('shows the group without newcomers when candidates:<group> is damaged, logging the key once', () => {
    const { store, id, list, logs } = groupsSetup();
    for (const bad of HOSTILE) {
      store.meta.set(`candidates:${id}`, bad);
      const [view] = list();
      expect(view).toMatchObject({ id, name: 'treasury', status: 'ready' });
      expect(view!.newcomers).toBeUndefined();
    }
    const lines = logs.filter((l) => l.includes(`candidates:${id}`));
    expect(lines).toHaveLength(1);
    // The key, never the value.
    expect(lines[0]!.length).toBeLessThan(300);
  });

  it('drops newcomers with a malformed peer id (their fingerprint threw) and keeps the good one', () => {
    const { store, id, list } = groupsSetup();
    store.meta.set(`candidates:${id}`, mixedCandidates(dave));
    const [view] = list();
    expect(view!.newcomers).toEqual([
      { name: 'dave', peerId: dave.peerId, fingerprint: expect.any(String) },
    ]);
  });

  it('shows the group without its imported key or public key when those are damaged', () => {
    const { store, id, groups, list } = groupsSetup({ file: true });
    for (const bad of [...HOSTILE, '{"publicKey":"not hex"}']) {
      store.meta.set(`import:${id}`, bad);
      expect(list()[0]!.importedKey).toBeUndefined();
      expect(groups.importedKey(id)).toBeUndefined();
    }
    // (The store refuses to write a package that does not decode: one is planted in its file.)
    plantGroupColumns(store, id, { public_package: '{"groupKey":"zz"}' });
    expect(list()[0]!.publicKey).toBeUndefined();
  });

  it('reads good rows as before', () => {
    const { store, id, groups, list } = groupsSetup();
    store.meta.set(`import:${id}`, JSON.stringify({ publicKey: 'ab'.repeat(32) }));
    store.meta.set(
      `candidates:${id}`,
      JSON.stringify([{ peerId: dave.peerId, name: 'dave', addrs: [] }]),
    );
    store.meta.set(formerKey(id), JSON.stringify([carol.peerId]));
    const [view] = list();
    expect(view!.importedKey).toBe('ab'.repeat(32));
    expect(view!.newcomers?.map((n) => n.peerId)).toEqual([dave.peerId]);
    expect(groups.isFormerMember(id, carol.peerId)).toBe(true);
    expect(groups.isCandidate(dave.peerId)).toBe(true);
  });

  it('answers "not a former member / not a candidate" on damaged rows (message handlers)', () => {
    const { store, id, groups } = groupsSetup();
    for (const bad of HOSTILE) {
      store.meta.set(formerKey(id), bad);
      store.meta.set(`candidates:${id}`, bad);
      expect(groups.isFormerMember(id, carol.peerId)).toBe(false);
      expect(groups.isCandidate(dave.peerId)).toBe(false);
    }
  });
});

describe('ceremony records over hostile stored rows', () => {
  function settleSetup() {
    const h = harness(alice);
    const id = readyGroup(h.store, [alice, bob, carol], 2);
    const deps = {
      ceremony: { runningSessions: new Set<string>(), aborted: new Map<string, true>() },
    } as unknown as NodeServices;
    return { ...h, id, settle: new SettleService(h.ctx, deps) };
  }

  it('reads a damaged pending record as none, and a damaged committed record as not committed', () => {
    const { store, id, settle, logs } = settleSetup();
    const session = 'aa'.repeat(32);
    for (const bad of [...HOSTILE, '{"requestId":"r1","session":"s","roster":[{}]}']) {
      store.meta.set(pendingKey(id), bad);
      store.meta.set(committedKey('r1'), bad);
      expect(settle.pendingCeremony(id)).toBeUndefined();
      expect(settle.ceremonyAnswer(id, 'r1', session)).toEqual({ state: 'aborted' });
    }
    expect(logs.filter((l) => l.includes(pendingKey(id)))).toHaveLength(1);
    // Good data: as before.
    store.meta.set(committedKey('r1'), JSON.stringify({ session, epoch: 1, digest: 'cd' }));
    expect(settle.ceremonyAnswer(id, 'r1', session)).toEqual({
      state: 'committed',
      epoch: 1,
      digest: 'cd',
    });
  });
});

describe('user actions over a damaged candidates row', () => {
  function actionsSetup() {
    const h = harness(alice);
    const id = readyGroup(h.store, [alice, bob, carol], 2);
    const created: { kind: string; message: Uint8Array }[] = [];
    const deps = {
      groups: { findGroup: () => h.store.groups.get(id)! },
      requests: {
        createRequest: (_g: GroupRow, kind: string, message: Uint8Array) => {
          created.push({ kind, message });
          return { id: 'r1', kind };
        },
      },
    } as unknown as NodeServices;
    return {
      ...h,
      id,
      created,
      reshare: new RefreshReshareService(h.ctx, deps),
      repair: new RepairService(h.ctx, deps),
    };
  }

  it('refuses a reshare or repair with a typed error naming the key when the row is not a list', () => {
    const { store, id, reshare, repair } = actionsSetup();
    for (const bad of [
      '{not json',
      '"not a list"',
      '{"peerId":1}',
      JSON.stringify('x'.repeat(1 << 20)),
    ]) {
      store.meta.set(`candidates:${id}`, bad);
      for (const act of [
        () => reshare.createReshareRequest({ group: 'treasury', add: ['dave'] }),
        () => repair.createRepairRequest({ group: 'treasury', member: 'carol' }),
      ]) {
        let err: unknown;
        try {
          act();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ApiError);
        expect(err).toMatchObject({ code: 'internal' });
        expect((err as Error).message).toContain(`candidates:${id}`);
      }
    }
  });

  it('leaves malformed newcomers out and proposes the well-formed one', () => {
    const { store, id, reshare, repair, created } = actionsSetup();
    store.meta.set(`candidates:${id}`, mixedCandidates(dave));
    expect(() => reshare.createReshareRequest({ group: 'treasury', add: ['eve'] })).toThrow(
      expect.objectContaining({ code: 'not_found' }),
    );
    reshare.createReshareRequest({ group: 'treasury', add: ['dave'] });
    repair.createRepairRequest({ group: 'treasury', member: 'carol' });
    expect(created.map((c) => c.kind)).toEqual(['reshare', 'repair']);
    for (const c of created)
      expect(new TextDecoder().decode(c.message)).toContain(`"peerId":"${dave.peerId}"`);
  });
});

describe('distributing an import over a damaged import record', () => {
  it('fails the group with a reason naming the key instead of rejecting unawaited', async () => {
    for (const bad of ['{not json', '{"publicKey":7}', '[]']) {
      const h = harness(alice);
      const id = readyGroup(h.store, [alice, bob, carol], 2);
      h.store.groups.update(id, { status: 'confirming' });
      h.store.meta.set(`import:${id}`, bad);
      const failed: string[] = [];
      const deps = {
        groups: {
          updateGroup: (gid: string, patch: Partial<GroupRow>) => h.store.groups.update(gid, patch),
          failGroup: (_gid: string, reason: string) => failed.push(reason),
          importedKey: () => undefined,
        },
      } as unknown as NodeServices;
      await new ImportService(h.ctx, deps).distributeImport(id);
      expect(failed).toEqual([expect.stringContaining(`import:${id}`)]);
    }
  });
});

describe('an import result over a damaged held package', () => {
  it('fails the group with a reason naming the key instead of throwing in the handler', async () => {
    for (const bad of ['{not json', '{"scheme":"ed25519","groupKey":7}', '[]']) {
      const secrets = new Map<string, Uint8Array>();
      const h = harness(bob, { secrets });
      const id = readyGroup(h.store, [alice, bob, carol], 2);
      h.store.groups.update(id, { status: 'dkg' });
      secrets.set(shareName(id, 0), new Uint8Array(32).fill(1));
      h.store.meta.set(`import-held:${id}`, bad);
      const failed: string[] = [];
      const deps = {
        groups: {
          failGroup: (_gid: string, reason: string) => failed.push(reason),
          importedKey: () => 'ab'.repeat(32),
        },
      } as unknown as NodeServices;
      const svc = new ImportService(h.ctx, deps);
      await expect(
        svc.onImportResult(alice.peerId, { v: 1, type: 'import-result', groupId: id, ok: true }),
      ).resolves.toEqual({ ok: true });
      expect(failed).toEqual([expect.stringContaining(`import-held:${id}`)]);
    }
  });
});

describe('the readers', () => {
  it('read a damaged list as empty on a timer and refuse it in an action', () => {
    const { store } = harness(alice);
    for (const bad of HOSTILE) {
      store.meta.set('relays', bad);
      expect(() => readMetaList(store, 'relays', isString)).not.toThrow();
    }
    store.meta.set('relays', '{not json');
    expect(readMetaList(store, 'relays', isString)).toEqual([]);
    expect(() => requireMetaList(store, 'relays', isString)).toThrow(
      /stored "relays" is unreadable/,
    );
    store.meta.set('relays', JSON.stringify(['/dns4/relay.example/tcp/443/wss', 5]));
    expect(requireMetaList(store, 'relays', isString)).toEqual(['/dns4/relay.example/tcp/443/wss']);
  });

  it('read the stored relays as the relay addresses the host takes, at most 16', () => {
    const { store, logs } = harness(alice);
    const log = (l: string) => logs.push(l);
    const good = (i: number) => `/ip4/10.0.0.${i}/tcp/4001/p2p/${bob.peerId}`;
    for (const bad of HOSTILE) {
      store.meta.set('relays', bad);
      expect(readRelays(store, log)).toEqual([]);
    }
    store.meta.set(
      'relays',
      JSON.stringify(['garbage', '/ip4/10.0.0.1/tcp/4001', good(1), `${good(2)}/p2p-circuit`]),
    );
    expect(readRelays(store, log)).toEqual([good(1)]);
    store.meta.set('relays', JSON.stringify(Array.from({ length: 20 }, (_, i) => good(i))));
    expect(readRelays(store, log)).toEqual(Array.from({ length: 16 }, (_, i) => good(i)));
    expect(logs.filter((l) => l.includes('"relays"'))).toHaveLength(1);
  });

  it('keep a stored signed statement only if it still decodes as one', () => {
    expect(parseStoredSigned('{not json')).toBeUndefined();
    expect(parseStoredSigned('{}')).toBeUndefined();
    expect(parseStoredSigned('{"body":{"v":1},"sig":"00"}')).toBeUndefined();
  });
});

describe('ceremonies over a damaged newcomer package', () => {
  /** The stored package a newcomer was given with its invitation: not JSON, or not a package. */
  const DAMAGED_PACKAGES = ['{not json', '{"scheme":"ed25519","groupKey":7}', 'null', '[]'];

  it('a refresh fails with a reason naming newcomer-package:<group>, not a raw JSON error', async () => {
    for (const bad of DAMAGED_PACKAGES) {
      const h = harness(alice);
      const id = readyGroup(h.store, [alice, bob, carol], 2);
      h.store.meta.set(`newcomer-package:${id}`, bad);
      const { insert, run, failures } = refreshRig(h, id);
      insert();
      await run('r1', 'aa'.repeat(32));
      expect(failures).toEqual([expect.stringContaining(`newcomer-package:${id}`)]);
      expect(failures[0]).toMatch(/is unreadable \(not a key package\)/);
      expect(failures[0]).not.toMatch(/JSON|Unexpected|Cannot read/);
    }
  });

  it('a repair on the new device fails the same way', async () => {
    for (const bad of DAMAGED_PACKAGES) {
      const { groupId: id, run, failures } = newDeviceRepair(dave, [alice, bob, carol], bad);
      await run();
      expect(failures).toEqual([expect.stringContaining(`newcomer-package:${id}`)]);
      expect(failures[0]).not.toMatch(/JSON|Unexpected|Cannot read/);
    }
  });
});

describe('a pending ceremony whose key package is damaged', () => {
  it('ends the request here with a reason naming the record instead of retrying forever', async () => {
    const secrets = new Map<string, Uint8Array>();
    const h = harness(alice, { secrets });
    const id = readyGroup(h.store, [alice, bob, carol], 2);
    const roster = plannedRoster(h.store, id);
    const session = 'aa'.repeat(32);
    const digest = 'cd'.repeat(32);
    insertRequest(
      h.store,
      { ceremony: 'refresh', group: id, fromEpoch: 0 },
      {
        groupId: id,
        kind: 'refresh',
        createdBy: alice.peerId,
        status: 'signing',
      },
    );
    // Stored as this member held it: a new share, and a package that does not decode.
    secrets.set(shareName(id, 1), new Uint8Array(32).fill(3));
    const pending = {
      requestId: 'r1',
      session,
      kind: 'refresh',
      stage: 'holding',
      fromEpoch: 0,
      epoch: 1,
      digest,
      pubJson: '{"scheme":"ed25519","groupKey":7}',
      roster,
      hadOldShare: true,
    };
    h.store.meta.set(pendingKey(id), JSON.stringify(pending));
    const failures: string[] = [];
    // Every other new member holds the new epoch: the commit rule says switch.
    const done = new Map<string, unknown>([
      [bob.peerId, { epoch: 1, digest }],
      [carol.peerId, { epoch: 1, digest }],
    ]);
    const deps = {
      ceremony: {
        runningSessions: new Set<string>(),
        aborted: new Map<string, true>(),
        abortedBy: new Map<string, string[]>(),
        evaluateGroup: () => undefined,
      },
      inboxes: { inbox: () => ({ done }) },
      groups: {
        updateGroup: (gid: string, patch: Partial<GroupRow>) => h.store.groups.update(gid, patch),
      },
      requests: {
        finish: (rid: string, patch: { status: 'failed'; failure: string }) => {
          failures.push(patch.failure);
          h.store.requests.update(rid, patch);
        },
      },
    } as unknown as NodeServices;
    const settle = new SettleService(h.ctx, deps);
    const settled = settle.settleCeremony(id, Date.now() + 60_000);
    try {
      await vi.waitFor(() => expect(failures).toHaveLength(1), { timeout: 5_000 });
      await settled;
    } finally {
      // Before the fix the loop retried for ever: stop it whatever happened.
      h.ctx.stopped = true;
    }
    expect(failures[0]).toContain(pendingKey(id));
    expect(failures[0]).not.toMatch(/JSON|Unexpected|bad_input|groupKey/);
    expect(h.store.groups.get(id)).toMatchObject({ epoch: 0, status: 'ready' });
    expect(h.store.groups.get(id)!.error).toContain('repair');
    expect(h.store.meta.get(pendingKey(id)) || undefined).toBeUndefined();
    // The new share the others count on is kept.
    expect(secrets.has(shareName(id, 1))).toBe(true);
    expect(h.logs.filter((l) => l.includes(pendingKey(id)))).toHaveLength(1);
  });
});

describe('a repaired device over a damaged repair-done record', () => {
  /** The sync service of `h`'s node over fakes: every peer a member, nothing else to send. */
  function syncService(h: Harness): SyncService {
    const deps = {
      auditLog: { syncAudit: async () => undefined },
      groups: {
        isKnownMember: () => true,
        sharedGroups: () => h.store.groups.list(),
        rosterMessage: () => ({ v: 1, type: 'roster' }),
        confirmations: new Map(),
      },
      imports: { importResult: () => undefined },
      requests: { sendStatements: async () => undefined, evaluate: () => undefined },
      signing: { sendNonces: async () => undefined },
    } as unknown as NodeServices;
    return new SyncService(h.ctx, deps);
  }

  it('still says hello and catches the peer up on connection, logging the key once', async () => {
    for (const bad of [...HOSTILE, '{"requestId":"r1","proof":"not hex"}']) {
      const h = harness(alice, { connected: true });
      const id = readyGroup(h.store, [alice, bob, carol], 2);
      h.store.meta.set(`repair-done:${id}`, bad);
      await syncService(h).onConnect(bob.peerId);
      expect(h.sent.map((s) => s.msg.type)).toContain('hello');
      expect(h.sent.map((s) => s.msg.type)).not.toContain('ceremony');
      expect(h.logs.filter((l) => l.includes('sync with'))).toEqual([]);
      expect(h.logs.filter((l) => l.includes(`repair-done:${id}`))).toHaveLength(1);
    }
  });

  it('resends a well-formed proof as before', async () => {
    const h = harness(alice, { connected: true });
    const id = readyGroup(h.store, [alice, bob, carol], 2);
    const record = { requestId: 'r1', proof: 'ab'.repeat(64), session: 'cc'.repeat(32) };
    h.store.meta.set(`repair-done:${id}`, JSON.stringify(record));
    await syncService(h).onConnect(bob.peerId);
    expect(h.sent[0]!.msg).toMatchObject({
      type: 'ceremony',
      requestId: 'r1',
      session: record.session,
      step: 'done',
      payload: { proof: record.proof },
    });
  });
});

describe('the group policy over a damaged policy row', () => {
  function policySetup() {
    const h = harness(alice);
    const id = readyGroup(h.store, [alice, bob, carol], 2);
    const failures: string[] = [];
    const requests = {
      finish: (_rid: string, patch: { failure: string }) => failures.push(patch.failure),
    } as unknown as RequestsService;
    return { ...h, id, failures, rules: new RequestPolicy(h.ctx, requests) };
  }

  it('reads it as the default in views and handlers (logged once), and refuses it in an action', () => {
    const { store, id, rules, logs } = policySetup();
    const g = store.groups.get(id)!;
    for (const bad of [...HOSTILE, JSON.stringify({ ...defaultPolicy(), v: 2 })]) {
      store.meta.set(`policy:${id}`, bad);
      expect(rules.policyOf(id)).toEqual(defaultPolicy());
      expect(rules.policyView(g).hash).toBe(policyHash(defaultPolicy()));
      expect(() => rules.requirePolicyOf(id)).toThrow(
        expect.objectContaining({
          code: 'internal',
          message: expect.stringContaining(`policy:${id}`),
        }),
      );
    }
    expect(logs.filter((l) => l.includes(`policy:${id}`))).toHaveLength(1);
  });

  it('keeps a good policy, also one written for a larger group before a reshare', () => {
    const { store, id, rules } = policySetup();
    const p = { ...defaultPolicy(), approvals: { sign: 5 }, messagePrefixes: ['pay:'] };
    store.meta.set(`policy:${id}`, JSON.stringify(p));
    expect(rules.policyOf(id)).toEqual(p);
    expect(rules.requirePolicyOf(id)).toEqual(p);
  });

  it('a policy change whose message is not JSON fails with a plain reason', () => {
    const { store, id, rules, failures } = policySetup();
    const r = insertRequest(
      store,
      {},
      {
        groupId: id,
        kind: 'policy',
        createdBy: alice.peerId,
        status: 'pending',
      },
    );
    rules.applyPolicyChange({ ...r, message: new TextEncoder().encode('{not json') });
    expect(failures).toEqual(['policy change refused: its message is not JSON']);
  });

  it('refuses to release a share for a request whose stored envelope is damaged', () => {
    const { store, id } = policySetup();
    const g = store.groups.get(id)!;
    for (const envelope of ['null', '{}', '{"body":7}', '[1]', '{"body":{"type":"request"}}']) {
      const r = insertRequest(
        store,
        {},
        {
          id: `r-${envelope.length}-${Math.random()}`,
          groupId: id,
          kind: 'sign',
          createdBy: alice.peerId,
          status: 'signing',
          envelope,
        },
      );
      const deps = {
        acceptStatement: () => undefined,
        approversOf: () => [alice.peerId, bob.peerId],
        policyRefusal: () => undefined,
        needed: () => 2,
        refreshOwed: () => undefined,
      };
      expect(releaseCheck(deps, alice.peerId, r, g, bob.peerId, [], 'coordinator')).toEqual({
        error: "this node's stored copy of the request is unreadable",
      });
    }
  });
});

describe('share backups over a damaged stored key package', () => {
  it('refuse export and restore with a typed error naming the package, not the file', async () => {
    const h = harness(alice, { secrets: new Map(), file: true });
    const id = readyGroup(h.store, [alice, bob, carol], 2);
    plantGroupColumns(h.store, id, { public_package: DAMAGED_PACKAGE });
    const deps = {
      groups: { findGroup: () => h.store.groups.get(id)! },
    } as unknown as NodeServices;
    const backups = new BackupService(h.ctx, deps);
    for (const act of [
      () => backups.exportShareBackup('treasury', 'a long passphrase'),
      () => backups.restoreShareBackup(JSON.stringify({ groupId: id }), 'a long passphrase'),
    ]) {
      const err = await act().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ApiError);
      expect(err).toMatchObject({ code: 'internal' });
      expect((err as Error).message).toContain(`public key package of group ${id}`);
    }
  });
});

describe('the stored relays at start, in the settings and for vouched addresses', () => {
  it('are read as relay addresses the host takes, the key logged once', () => {
    const h = harness(alice);
    const good = `/ip4/10.0.0.1/tcp/4001/p2p/${bob.peerId}`;
    h.store.meta.set('relays', JSON.stringify(['garbage', good, 7]));
    const c = new Custodian({
      store: h.store,
      vault: h.ctx.vault,
      host: h.ctx.host,
      identity: alice,
      log: (l) => h.logs.push(l),
    });
    expect(c.settings()).toMatchObject({ relays: [good], restartNeeded: false });
    for (const bad of HOSTILE) {
      h.store.meta.set('relays', bad);
      expect(c.settings()).toMatchObject({ relays: [], restartNeeded: true });
    }
    expect(h.logs.filter((l) => l.includes('"relays"'))).toHaveLength(1);
  });

  it('a damaged row does not throw where a peer’s addresses are vouched for, and is logged once', () => {
    const { store, groups, logs } = groupsSetup();
    for (const bad of HOSTILE) {
      store.meta.set('relays', bad);
      expect(() =>
        groups.vouchedAddrs(bob.peerId, ['/ip4/127.0.0.1/tcp/4005'], '/ip4/127.0.0.1/tcp/51000'),
      ).not.toThrow();
    }
    expect(logs.filter((l) => l.includes('"relays"'))).toHaveLength(1);
  });
});

describe('a damaged group key package', () => {
  it('reads as none in the view and for services (the row logged once), a typed error for the key', async () => {
    const { store, id, list, ctx, logs } = groupsSetup({ file: true });
    plantGroupColumns(store, id, { public_package: DAMAGED_PACKAGE });
    for (let i = 0; i < 3; i++) {
      expect(list()[0]!.publicKey).toBeUndefined();
      expect(ctx.publicPackage(id)).toBeUndefined();
    }
    await expect(ctx.keyPackage(id)).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringContaining(`"public key package of group ${id}" is unreadable`),
    });
    expect(logs.filter((l) => l.includes(`public key package of group ${id}`))).toEqual([
      `stored "public key package of group ${id}" is not a key package; read as absent`,
    ]);
    // Repaired: read again, and shown.
    store.groups.update(id, { publicPackage: publicPackageJSON() });
    expect(ctx.publicPackage(id)).toBeDefined();
    expect(list()[0]!.publicKey).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('a reconstruction over a missing or damaged group key package', () => {
  it('fails the request with a reason naming the package before combining, nothing written', async () => {
    for (const stored of [undefined, DAMAGED_PACKAGE]) {
      const h = harness(alice, { file: true });
      const id = readyGroup(h.store, [alice, bob, carol], 2);
      if (stored !== undefined) plantGroupColumns(h.store, id, { public_package: stored });
      const suite = getSuite('ed25519');
      h.ctx.keys.set(id, {
        share: new SecretShare('ed25519', 1n, suite.randomScalar(), 0),
      } as unknown as KeyPackage);
      const failures: string[] = [];
      const out = join(tmpdir(), `conclave-reconstruct-${bytesToHex(randomBytes(8))}.key`);
      let awaited = 0;
      const deps = {
        ceremony: { ceremonies: new Set<string>() },
        groups: { findGroup: () => h.store.groups.get(id)! },
        inboxes: {
          // bob's sealed share, there at once (a fake inbox: no network in this test).
          awaitInbox: async () => {
            awaited++;
            const p = JSON.parse(new TextDecoder().decode(h.store.requests.get('r1')!.message));
            const share = new SecretShare('ed25519', 2n, suite.randomScalar(), 0).toBytes();
            const aad = new TextEncoder().encode('conclave/reconstruct/v1:r1');
            return new Map([
              [bob.peerId, { sealed: sealTo(hexToBytes(p.oneTimeKey), share, aad) }],
            ]);
          },
          inbox: () => ({ round2: new Map() }),
          drop: () => undefined,
        },
        requests: reconstructRequests(h.store, alice.peerId, failures),
      } as unknown as NodeServices;
      const svc = approvedExport(h, deps, out, 'a long passphrase', [alice, bob]);
      await expect(svc.reconstructStep(h.store.requests.get('r1')!)).resolves.toBeUndefined();
      expect(failures).toHaveLength(1);
      expect(failures[0]).not.toMatch(/TypeError|Cannot read|undefined/);
      if (stored === undefined)
        expect(failures[0]).toBe(
          'reconstruction failed: this node holds no public key package for the group',
        );
      else
        expect(failures[0]).toContain(
          `"public key package of group ${id}" is unreadable (not a key package)`,
        );
      // Failed before waiting for anyone's share: nothing combined, written or announced.
      expect(awaited).toBe(0);
      expect(h.store.requests.get('r1')).toMatchObject({ status: 'failed' });
      expect(existsSync(out)).toBe(false);
      expect(h.store.meta.get(`exposed:${id}`)).toBeUndefined();
      expect(h.sent).toEqual([]);
    }
  });
});

describe('a newcomer joining over damaged stored rows', () => {
  function joinSetup(opts: HarnessOptions = {}) {
    const h = harness(alice, opts);
    const id = readyGroup(h.store, [alice, bob, carol], 2);
    h.store.groups.update(id, { publicPackage: publicPackageJSON() });
    const groups = new GroupsService(h.ctx, {
      requests: { policyOf: () => defaultPolicy() },
    } as unknown as NodeServices);
    const join = (secret: string) =>
      groups.onJoin(dave.peerId, joinMessage(id, secret, dave), {
        remoteAddr: '/ip4/127.0.0.1/tcp/51000',
      });
    const invite = () => decodeInvite(groups.inviteNewcomer(id).invite).secret;
    return { ...h, id, groups, join, invite };
  }

  it('hands over the stored package and policy when they read', async () => {
    const { store, id, join, invite } = joinSetup();
    const policy = { ...defaultPolicy(), messagePrefixes: ['pay:'] };
    store.meta.set(`policy:${id}`, JSON.stringify(policy));
    expect(await join(invite())).toMatchObject({
      ok: true,
      newcomer: true,
      publicPackage: JSON.parse(store.groups.get(id)!.publicPackage!),
      policy,
    });
  });

  it('refuses the join (the row logged once) and the invite (a typed error naming it)', async () => {
    for (const [key, damage] of [
      [
        'package',
        (h: ReturnType<typeof joinSetup>) =>
          plantGroupColumns(h.store, h.id, { public_package: DAMAGED_PACKAGE }),
      ],
      [
        'policy',
        (h: ReturnType<typeof joinSetup>) =>
          h.store.meta.set(`policy:${h.id}`, JSON.stringify({ ...defaultPolicy(), v: 2 })),
      ],
    ] as const) {
      const h = joinSetup({ file: true });
      const secret = h.invite();
      damage(h);
      const named = key === 'package' ? `public key package of group ${h.id}` : `policy:${h.id}`;
      for (let i = 0; i < 2; i++)
        expect(await h.join(secret)).toEqual({
          ok: false,
          error: "the inviter's copy of the group is damaged; ask another member for an invite",
        });
      // Not recorded as a candidate on an answer it never got.
      expect(h.groups.isCandidate(dave.peerId)).toBe(false);
      expect(h.store.audit.all().map((e) => e.type)).not.toContain('group.newcomer_joined');
      expect(h.logs.filter((l) => l.includes(named))).toHaveLength(1);
      expect(() => h.groups.inviteNewcomer(h.id)).toThrow(
        expect.objectContaining({ code: 'internal', message: expect.stringContaining(named) }),
      );
    }
  });

  it('reads damaged stored invites as none, logging the key once', async () => {
    const { store, id, join, invite, logs } = joinSetup();
    const secret = invite();
    for (const bad of HOSTILE) {
      store.meta.set(`newcomer-invites:${id}`, bad);
      expect(await join(secret)).toEqual({
        ok: false,
        error: 'the invite code is not valid for this group',
      });
    }
    expect(logs.filter((l) => l.includes(`newcomer-invites:${id}`))).toHaveLength(1);
    // A new invite over it starts a fresh list.
    expect(await join(invite())).toMatchObject({ ok: true });
  });
});

describe("this node's own audit entries", () => {
  it('are refused inside a txNoSync (they would commit without an fsync), written anywhere else', () => {
    const { store, ctx } = harness(alice);
    const id = readyGroup(store, [alice, bob, carol], 2);
    expect(() => store.txNoSync(() => ctx.audit('group.test', { n: 1 }, id))).toThrow(
      /durable transaction cannot run inside txNoSync/,
    );
    expect(store.audit.all()).toEqual([]);
    ctx.audit('group.test', { n: 2 }, id);
    store.tx(() => ctx.audit('group.test', { n: 3 }, id));
    // Rolled back with the caller's transaction.
    expect(() =>
      store.tx(() => {
        ctx.audit('group.test', { n: 4 }, id);
        throw new Error('caller failed');
      }),
    ).toThrow('caller failed');
    expect(store.audit.all().map((e) => e.body)).toEqual([{ n: 2 }, { n: 3 }]);
  });
});

describe('leaving a group whose stored epoch is damaged', () => {
  it('looks at a bounded number of epochs and still deletes the shares held', async () => {
    for (const epoch of [2 ** 40, Number.MAX_SAFE_INTEGER, -3]) {
      const secrets = new Map<string, Uint8Array>();
      const h = harness(alice, { secrets, file: true });
      const id = readyGroup(h.store, [alice, bob, carol], 2);
      plantGroupColumns(h.store, id, { epoch });
      secrets.set(shareName(id, 0), new Uint8Array(32).fill(1));
      secrets.set(shareName(id, 1), new Uint8Array(32).fill(2));
      if (Number.isSafeInteger(epoch) && epoch > 0)
        secrets.set(shareName(id, epoch), new Uint8Array(32).fill(3));
      const vault = h.ctx.vault as Vault & { get: Vault['get'] };
      let reads = 0;
      const get = vault.get.bind(vault);
      vault.get = (name) => {
        reads++;
        return get(name);
      };
      const groups = new GroupsService(h.ctx, {
        dkg: { forget: () => undefined },
      } as unknown as NodeServices);
      expect((await groups.leaveGroup(id)).shareDeleted).toBe(true);
      expect([...secrets.keys()]).toEqual([]);
      expect(reads).toBeLessThanOrEqual(MAX_LEAVE_EPOCHS + 2);
    }
  });

  it('looks at every epoch up to the next of a sane one', () => {
    expect(leaveEpochs(0)).toEqual([0, 1]);
    expect(leaveEpochs(3)).toEqual([0, 1, 2, 3, 4]);
    expect(leaveEpochs(5000)).toHaveLength(MAX_LEAVE_EPOCHS + 2);
    expect(leaveEpochs(5000).slice(-2)).toEqual([5000, 5001]);
  });
});
