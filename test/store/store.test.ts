// The SQLite store: round trips, idempotence, ordering and filters, migrations, pragmas, errors,
// file mode, and durability of acknowledged writes across a SIGKILL.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import Database from 'libsql';
import { makeEntry, verifyEntries, type AuditEntry } from '../../shared/audit/chain.js';
import { publicPackageToJSON } from '../../shared/crypto/keys.js';
import {
  MIGRATIONS,
  openStore,
  StoreError,
  type DecisionRow,
  type GroupRow,
  type MemberRow,
  type RequestRow,
  type Store,
} from '../../main/store/index.js';
import { dealerKeys } from '../crypto/helpers.js';
import { groupRow } from './rows.js';

let dir: string;
let store: Store;
const T0 = 1_760_000_000_000;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-store-'));
  store = openStore(join(dir, 'node.db'));
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const group = (over: Partial<GroupRow> = {}): GroupRow =>
  groupRow({ createdAt: T0, updatedAt: T0, ...over });

/** A group's public key package as the node stores it (a real one: it decodes). */
const PACKAGE = JSON.stringify(publicPackageToJSON(dealerKeys('ed25519', 2, 3)[0]!.public));

const member = (over: Partial<MemberRow> = {}): MemberRow => ({
  groupId: 'g1',
  peerId: '12D3KooWAlice',
  name: 'Alice',
  identityKey: 'ab'.repeat(32),
  fingerprint: 'ABCD-EF01',
  index: 1,
  addrs: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWAlice'],
  confirmed: false,
  joinedAt: T0,
  ...over,
});

const request = (over: Partial<RequestRow> = {}): RequestRow => ({
  id: 'r1',
  groupId: 'g1',
  kind: 'sign',
  message: new Uint8Array([0, 1, 2, 255]),
  createdBy: '12D3KooWAlice',
  createdAt: T0,
  expiresAt: T0 + 3_600_000,
  status: 'pending',
  culprits: [],
  envelope: '{"id":"r1","sig":"00"}',
  updatedAt: T0,
  ...over,
});

const decision = (over: Partial<DecisionRow> = {}): DecisionRow => ({
  requestId: 'r1',
  peerId: '12D3KooWBob',
  decision: 'approve',
  statement: '{"approve":"r1","sig":"11"}',
  at: T0 + 5,
  ...over,
});

function signer() {
  const secret = ed25519.utils.randomSecretKey();
  return {
    publicKey: ed25519.getPublicKey(secret),
    sign: (h: Uint8Array) => ed25519.sign(h, secret),
  };
}

/** A chain of `n` entries by `author`, one ms apart from `at`. */
function chain(author: string, n: number, at: number, group?: string): AuditEntry[] {
  const { sign } = signer();
  const out: AuditEntry[] = [];
  for (let i = 0; i < n; i++)
    out.push(
      makeEntry(
        out.at(-1),
        { author, at: at + i, type: 'request.created', group, body: { i } },
        sign,
      ),
    );
  return out;
}

describe('openStore', () => {
  it('sets WAL, synchronous=FULL, foreign keys and the busy timeout', () => {
    expect(store.pragmas()).toEqual({
      journalMode: 'wal',
      synchronous: 2,
      foreignKeys: true,
      busyTimeout: 5000,
      userVersion: MIGRATIONS.length,
    });
    // journal_mode=WAL is a property of the file: another connection sees it too.
    const other = new Database(store.path);
    expect(other.prepare('PRAGMA journal_mode').get()).toMatchObject({ journal_mode: 'wal' });
    other.close();
  });

  it('runs the migrations once: a reopened store keeps its data at the latest user_version', () => {
    store.groups.insert(group());
    store.meta.set('identity.name', 'Alice');
    store.close();
    store = openStore(join(dir, 'node.db'));
    expect(store.pragmas().userVersion).toBe(MIGRATIONS.length);
    expect(store.groups.get('g1')).toEqual(group());
    expect(store.meta.get('identity.name')).toBe('Alice');
  });

  it('creates the database file with mode 0600, and its WAL files too', () => {
    store.groups.insert(group());
    for (const f of ['node.db', 'node.db-wal', 'node.db-shm'])
      expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
  });

  it('tightens an existing database file that others could read', () => {
    store.close();
    chmodSync(join(dir, 'node.db'), 0o644);
    store = openStore(join(dir, 'node.db'));
    expect(statSync(join(dir, 'node.db')).mode & 0o777).toBe(0o600);
  });

  it('refuses a file that is not a database, naming the path', () => {
    const path = join(dir, 'garbage.db');
    writeFileSync(path, 'not a database '.repeat(400));
    expect(() => openStore(path)).toThrow(StoreError);
    expect(() => openStore(path)).toThrow(
      `cannot open the store at ${path}: it is not a SQLite database`,
    );
  });

  it('refuses a path whose folder does not exist, naming the path', () => {
    const path = join(dir, 'missing', 'node.db');
    expect(() => openStore(path)).toThrow(
      `cannot open the store at ${path}: its folder does not exist`,
    );
  });

  it('refuses a directory, naming the path', () => {
    const path = join(dir, 'adir');
    mkdirSync(path);
    expect(() => openStore(path)).toThrow(
      `cannot open the store at ${path}: it is not a regular file`,
    );
  });

  it('migration 3 widens the request kinds and keeps every request and decision', () => {
    store.close();
    const path = join(dir, 'v2.db');
    // A store as the previous build left it: schema version 2, one request with its decision.
    const raw = new Database(path);
    raw.exec('PRAGMA foreign_keys = ON');
    raw.exec('BEGIN');
    raw.exec(MIGRATIONS[0]!);
    raw.exec(MIGRATIONS[1]!);
    raw.exec('PRAGMA user_version = 2');
    raw.exec('COMMIT');
    raw.close();
    const db = new Database(path);
    db.exec(`INSERT INTO groups (id, name, threshold, size, scheme, status, creator_peer_id, epoch,
      created_at, updated_at) VALUES ('g1', 'Treasury', 2, 3, 'ed25519', 'ready', 'p1', 0, 1, 1)`);
    db.exec(`INSERT INTO requests (id, group_id, kind, message, created_by, created_at, expires_at,
      status, culprits, envelope, updated_at) VALUES ('r1', 'g1', 'sign', x'6869', 'p1', 1, 2,
      'pending', '[]', '{}', 1)`);
    db.exec(`INSERT INTO decisions (request_id, peer_id, decision, statement, at)
      VALUES ('r1', 'p2', 'approve', '{}', 1)`);
    db.close();
    // A use's kind could not be stored at version 2.
    const check = new Database(path);
    expect(() =>
      check.exec(
        `INSERT INTO requests SELECT 'r2', group_id, 'ssh', message, created_by, created_at, expires_at, status, signature, failure, culprits, envelope, updated_at, outcome FROM requests`,
      ),
    ).toThrow(/CHECK constraint/);
    check.close();
    store = openStore(path);
    expect(store.pragmas().userVersion).toBe(MIGRATIONS.length);
    expect(store.requests.get('r1')).toMatchObject({ id: 'r1', kind: 'sign', status: 'pending' });
    expect(store.decisions.list('r1')).toMatchObject([{ peerId: 'p2', decision: 'approve' }]);
    expect(store.requests.insert(request({ id: 'r-ssh', groupId: 'g1', kind: 'ssh' }))).toBe(true);
    expect(store.requests.get('r-ssh')?.kind).toBe('ssh');
    // The rebuilt table still cascades: the group's requests and decisions go with it.
    const fk = new Database(path);
    fk.exec('PRAGMA foreign_keys = ON');
    fk.exec(`DELETE FROM groups WHERE id = 'g1'`);
    expect(fk.prepare('SELECT count(*) AS n FROM decisions').get()).toMatchObject({ n: 0 });
    fk.close();
  });

  it('refuses a database written by a newer schema version', () => {
    store.close();
    const raw = new Database(join(dir, 'node.db'));
    raw.exec('PRAGMA user_version = 99');
    raw.close();
    expect(() => openStore(join(dir, 'node.db'))).toThrow(
      new RegExp(`schema version 99, newer than this build's ${MIGRATIONS.length}`),
    );
    store = openStore(':memory:');
  });

  it('opens an in-memory store for tests', () => {
    const mem = openStore(':memory:');
    mem.groups.insert(group());
    expect(mem.groups.list()).toHaveLength(1);
    mem.close();
  });
});

describe('meta', () => {
  it('stores, overwrites and reads values', () => {
    expect(store.meta.get('k')).toBeUndefined();
    store.meta.set('k', 'v1');
    store.meta.set('k', 'v2');
    expect(store.meta.get('k')).toBe('v2');
  });
});

describe('groups', () => {
  it('round-trips a group with and without its optional fields', () => {
    const full = group({
      id: 'g2',
      inviteSecret: 'secret-token',
      publicPackage: PACKAGE,
      error: 'boom',
      dkgSession: 's1',
      rosterHash: 'cd'.repeat(32),
    });
    store.groups.insert(group());
    store.groups.insert(full);
    expect(store.groups.get('g1')).toEqual(group());
    expect(store.groups.get('g1')).not.toHaveProperty('inviteSecret');
    expect(store.groups.get('g2')).toEqual(full);
    expect(store.groups.get('nope')).toBeUndefined();
  });

  it('refuses a second group with the same id', () => {
    store.groups.insert(group());
    expect(() => store.groups.insert(group({ name: 'Other' }))).toThrow(/group g1 exists/);
  });

  it('updates the fields of a patch, clears one set to undefined and leaves the rest', () => {
    store.groups.insert(group({ error: 'old', inviteSecret: 'tok' }));
    store.groups.update('g1', { status: 'ready', epoch: 1, error: undefined, updatedAt: T0 + 1 });
    expect(store.groups.get('g1')).toEqual(
      group({ status: 'ready', epoch: 1, updatedAt: T0 + 1, inviteSecret: 'tok' }),
    );
  });

  it('refuses to update a group that does not exist', () => {
    expect(() => store.groups.update('nope', { status: 'ready' })).toThrow(/no group nope/);
    expect(() => store.groups.update('nope', {})).toThrow(/no group nope/);
  });

  it('refuses a value SQLite would not store as given (a boolean would abort libsql)', () => {
    store.groups.insert(group());
    expect(() => store.groups.update('g1', { epoch: true as unknown as number })).toThrow(
      /groups.epoch cannot be stored as a boolean/,
    );
    expect(() => store.groups.update('g1', { epoch: 1.5 })).toThrow(/must be an integer/);
    expect(() => store.groups.update('g1', { bogus: 1 } as Partial<GroupRow>)).toThrow(
      /groups has no field bogus/,
    );
    expect(() =>
      store.groups.insert(group({ id: 'g2', name: undefined as unknown as string })),
    ).toThrow(/groups needs name/);
  });

  it('refuses a negative or non-integer epoch at write, naming the field and the value', () => {
    for (const epoch of [-1, -(2 ** 40), 1.5, 2 ** 53, '3', null, 5n]) {
      const bad = epoch as unknown as number;
      const err = /groups\.epoch (must be a non-negative integer|must be an integer)/;
      expect(() => store.groups.insert(group({ epoch: bad }))).toThrow(err);
      expect(store.groups.get('g1')).toBeUndefined();
    }
    expect(() => store.groups.insert(group({ epoch: -1 }))).toThrow(
      expect.objectContaining({
        name: 'StoreError',
        code: 'bad_value',
        message: 'groups.epoch must be a non-negative integer, got -1',
      }),
    );
    store.groups.insert(group({ epoch: 0 }));
    expect(() => store.groups.update('g1', { epoch: -3 })).toThrow(
      'groups.epoch must be a non-negative integer, got -3',
    );
    store.groups.update('g1', { epoch: Number.MAX_SAFE_INTEGER });
    expect(store.groups.get('g1')!.epoch).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses a public key package its readers could not decode, at insert and update', () => {
    const wrongShape = [
      '{}',
      'null',
      '[]',
      '"a string"',
      '{"groupKey":"aa"}',
      '{"scheme":"ed25519","groupKey":"zz"}',
      '{"scheme":"rsa","groupKey":"aa","verifyingShares":{},"threshold":2,"epoch":0}',
      // A real package with a group key one byte short (not a point).
      PACKAGE.replace(/"groupKey":"[0-9a-f]{2}/, '"groupKey":"'),
      // A real package with a fractional threshold.
      PACKAGE.replace(/"threshold":\d+/, '"threshold":1.5'),
    ];
    for (const bad of ['{not json', ...wrongShape]) {
      expect(() => store.groups.insert(group({ publicPackage: bad }))).toThrow(
        expect.objectContaining({
          code: 'bad_value',
          message: expect.stringMatching(/^groups\.publicPackage is not a public key package: /),
        }),
      );
      expect(store.groups.get('g1')).toBeUndefined();
    }
    expect(() => store.groups.insert(group({ publicPackage: '{not json' }))).toThrow(
      'groups.publicPackage is not a public key package: it is not JSON',
    );
    store.groups.insert(group());
    for (const bad of wrongShape)
      expect(() => store.groups.update('g1', { publicPackage: bad })).toThrow(
        /groups\.publicPackage is not a public key package/,
      );
    expect(() => store.groups.update('g1', { publicPackage: 7 as unknown as string })).toThrow(
      'groups.publicPackage must be a string',
    );
    expect(store.groups.get('g1')).not.toHaveProperty('publicPackage');
    // A real one is kept as given, and can be cleared.
    store.groups.update('g1', { publicPackage: PACKAGE, epoch: 1 });
    expect(store.groups.get('g1')).toMatchObject({ publicPackage: PACKAGE, epoch: 1 });
    store.groups.update('g1', { publicPackage: undefined });
    expect(store.groups.get('g1')).not.toHaveProperty('publicPackage');
  });

  it('refuses an unknown scheme or status (CHECK constraint)', () => {
    expect(() => store.groups.insert(group({ scheme: 'rsa' as GroupRow['scheme'] }))).toThrow(
      /CHECK/,
    );
    expect(() => store.groups.insert(group({ status: 'odd' as GroupRow['status'] }))).toThrow(
      /CHECK/,
    );
  });

  it('finds groups by exact name and lists them oldest first', () => {
    store.groups.insert(group({ id: 'b', name: 'Ops', createdAt: T0 + 2 }));
    store.groups.insert(group({ id: 'a', name: 'Treasury', createdAt: T0 + 1 }));
    store.groups.insert(group({ id: 'c', name: 'Treasury', createdAt: T0 + 3 }));
    expect(store.groups.findByName('Treasury').map((g) => g.id)).toEqual(['a', 'c']);
    expect(store.groups.findByName('treasury')).toEqual([]);
    expect(store.groups.list().map((g) => g.id)).toEqual(['a', 'b', 'c']);
  });
});

describe('members', () => {
  beforeEach(() => store.groups.insert(group()));

  it('round-trips members and lists them by roster index', () => {
    const bob = member({
      peerId: '12D3KooWBob',
      name: 'Bob',
      index: 2,
      addrs: [],
      confirmed: true,
    });
    store.members.upsert(bob);
    store.members.upsert(member());
    expect(store.members.list('g1')).toEqual([member(), bob]);
    expect(store.members.get('g1', '12D3KooWBob')).toEqual(bob);
    expect(store.members.get('g1', 'nobody')).toBeUndefined();
    expect(store.members.list('other')).toEqual([]);
  });

  it('upsert replaces the member with the same group and peer id', () => {
    store.members.upsert(member());
    store.members.upsert(member({ name: 'Alice B.', addrs: ['/ip4/10.0.0.1/tcp/1'] }));
    expect(store.members.list('g1')).toEqual([
      member({ name: 'Alice B.', addrs: ['/ip4/10.0.0.1/tcp/1'] }),
    ]);
  });

  it('updates a member and refuses one that does not exist', () => {
    store.members.upsert(member());
    store.members.update('g1', '12D3KooWAlice', { confirmed: true, addrs: ['/dns4/x/tcp/1'] });
    expect(store.members.get('g1', '12D3KooWAlice')).toEqual(
      member({ confirmed: true, addrs: ['/dns4/x/tcp/1'] }),
    );
    expect(() => store.members.update('g1', 'nobody', { confirmed: true })).toThrow(
      /no member nobody/,
    );
  });

  it('refuses a member of an unknown group (foreign key)', () => {
    expect(() => store.members.upsert(member({ groupId: 'nope' }))).toThrow(/FOREIGN KEY/);
  });

  it('refuses addrs that are not strings', () => {
    expect(() => store.members.upsert(member({ addrs: [1] as unknown as string[] }))).toThrow(
      /members.addrs must be an array of strings/,
    );
  });
});

describe('requests and decisions', () => {
  beforeEach(() => store.groups.insert(group()));

  it('round-trips a request, bytes included', () => {
    const done = request({
      id: 'r2',
      status: 'done',
      signature: new Uint8Array(64).fill(7),
      failure: 'retry 1 failed',
      culprits: ['12D3KooWEve'],
    });
    expect(store.requests.insert(request())).toBe(true);
    expect(store.requests.insert(done)).toBe(true);
    expect(store.requests.get('r1')).toEqual(request());
    expect(store.requests.get('r2')).toEqual(done);
    expect(store.requests.list()).toEqual([done, request()]);
    const got = store.requests.get('r2')!;
    expect(got.message.constructor).toBe(Uint8Array);
    expect(got.signature!.constructor).toBe(Uint8Array);
    expect(store.requests.get('nope')).toBeUndefined();
  });

  it('insert is idempotent: the same id again returns false and changes nothing', () => {
    expect(store.requests.insert(request())).toBe(true);
    expect(store.requests.insert(request({ status: 'denied', envelope: '{"other":1}' }))).toBe(
      false,
    );
    expect(store.requests.get('r1')).toEqual(request());
  });

  it('stores a view of a larger buffer as just its bytes', () => {
    const big = new Uint8Array([9, 9, 1, 2, 3, 9]);
    store.requests.insert(request({ message: big.subarray(2, 5) }));
    expect(store.requests.get('r1')!.message).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('updates status, signature and culprits', () => {
    store.requests.insert(request());
    store.requests.update('r1', {
      status: 'failed',
      failure: 'timeout',
      culprits: ['a', 'b'],
      signature: new Uint8Array([1]),
      updatedAt: T0 + 9,
    });
    expect(store.requests.get('r1')).toEqual(
      request({
        status: 'failed',
        failure: 'timeout',
        culprits: ['a', 'b'],
        signature: new Uint8Array([1]),
        updatedAt: T0 + 9,
      }),
    );
    expect(() => store.requests.update('nope', { status: 'done' })).toThrow(/no request nope/);
  });

  it('lists newest first, filtered by group and statuses', () => {
    store.groups.insert(group({ id: 'g2' }));
    store.requests.insert(request({ id: 'old', createdAt: T0 }));
    store.requests.insert(request({ id: 'new', createdAt: T0 + 10, status: 'done' }));
    store.requests.insert(
      request({ id: 'mid', createdAt: T0 + 5, groupId: 'g2', status: 'signing' }),
    );
    store.requests.insert(request({ id: 'tie', createdAt: T0 + 10 }));
    expect(store.requests.list().map((r) => r.id)).toEqual(['tie', 'new', 'mid', 'old']);
    expect(store.requests.list({ groupId: 'g1' }).map((r) => r.id)).toEqual(['tie', 'new', 'old']);
    expect(store.requests.list({ statuses: ['pending', 'signing'] }).map((r) => r.id)).toEqual([
      'tie',
      'mid',
      'old',
    ]);
    expect(store.requests.list({ groupId: 'g2', statuses: ['pending'] })).toEqual([]);
    expect(store.requests.list({ statuses: [] })).toEqual([]);
  });

  it("lists in the order stored (not the creator's createdAt) with order 'stored', up to a limit", () => {
    store.requests.insert(request({ id: 'first', createdAt: T0 + 50 }));
    store.requests.insert(request({ id: 'second', createdAt: T0 }));
    store.requests.insert(request({ id: 'third', createdAt: T0 + 20 }));
    const ids = (f: Parameters<typeof store.requests.list>[0]) =>
      store.requests.list(f).map((r) => r.id);
    expect(ids({})).toEqual(['first', 'third', 'second']);
    expect(ids({ order: 'stored' })).toEqual(['third', 'second', 'first']);
    expect(ids({ order: 'stored', limit: 2 })).toEqual(['third', 'second']);
    expect(ids({ limit: 1 })).toEqual(['first']);
    expect(ids({ limit: 0 })).toEqual([]);
    for (const limit of [-1, 1.5, Number.NaN])
      expect(() => store.requests.list({ limit })).toThrow(/limit must be a non-negative integer/);
  });

  it('refuses a request whose envelope is not JSON', () => {
    expect(() => store.requests.insert(request({ envelope: 'not json' }))).toThrow(/CHECK/);
  });

  it('round-trips decisions in the order they were made; one per peer and request', () => {
    store.requests.insert(request());
    const deny = decision({
      peerId: '12D3KooWCarol',
      decision: 'deny',
      reason: 'unknown payee',
      at: T0 + 3,
    });
    expect(store.decisions.insert(decision())).toBe(true);
    expect(store.decisions.insert(deny)).toBe(true);
    expect(store.decisions.insert(decision({ decision: 'deny' }))).toBe(false);
    expect(store.decisions.list('r1')).toEqual([deny, decision()]);
    expect(store.decisions.list('other')).toEqual([]);
  });

  it('refuses a decision on an unknown request (foreign key)', () => {
    expect(() => store.decisions.insert(decision({ requestId: 'nope' }))).toThrow(/FOREIGN KEY/);
  });
});

describe('audit', () => {
  it('round-trips entries exactly: they still verify after storage', () => {
    const { publicKey, sign } = signer();
    const entries: AuditEntry[] = [];
    const bodies = [{ name: 'Alice', n: 1 }, { nested: { z: [1, 'é', null, true], a: {} } }];
    for (const body of bodies)
      entries.push(
        makeEntry(entries.at(-1), { author: 'A', at: T0, type: 'x.y', group: 'g1', body }, sign),
      );
    entries.push(
      makeEntry(entries.at(-1), { author: 'A', at: T0 + 1, type: 'x.z', body: {} }, sign),
    );
    for (const e of entries) expect(store.audit.append(e)).toBe(true);
    expect(store.audit.all()).toEqual(entries);
    expect(store.audit.all()[2]).not.toHaveProperty('group');
    expect(verifyEntries(store.audit.all(), () => publicKey)).toMatchObject({
      ok: true,
      entries: 3,
    });
  });

  it('append is idempotent on (author, seq, hash)', () => {
    const [e] = chain('A', 1, T0);
    expect(store.audit.append(e!)).toBe(true);
    expect(store.audit.append(e!)).toBe(false);
    expect(store.audit.all()).toHaveLength(1);
  });

  it('append refuses a different entry at a stored (author, seq): a fork', () => {
    const [e] = chain('A', 1, T0);
    const [f] = chain('A', 1, T0 + 1);
    store.audit.append(e!);
    let err: unknown;
    try {
      store.audit.append(f!);
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('audit_conflict');
    expect(store.audit.all()).toEqual([e]);
  });

  it('append refuses a malformed entry', () => {
    const [e] = chain('A', 1, T0);
    expect(() => store.audit.append({ ...e!, body: { d: new Date() } })).toThrow(
      /not a plain object/,
    );
    expect(() => store.audit.append({ ...e!, hash: 'xyz' })).toThrow(/hash must be/);
  });

  it('keeps entries that arrive out of order and reports each author’s head', () => {
    const a = chain('A', 3, T0);
    const b = chain('B', 2, T0);
    for (const e of [a[2]!, b[0]!, a[0]!, b[1]!, a[1]!]) store.audit.append(e);
    expect(store.audit.head('A')).toEqual(a[2]);
    expect(store.audit.head('B')).toEqual(b[1]);
    expect(store.audit.head('C')).toBeUndefined();
    expect(store.audit.heads()).toEqual({
      A: { seq: 2, hash: a[2]!.hash },
      B: { seq: 1, hash: b[1]!.hash },
    });
  });

  it('lists by time, then author, then seq, with filters, afterSeq, limit and order', () => {
    const a = chain('A', 3, T0, 'g1'); // at T0, T0+1, T0+2
    const b = chain('B', 3, T0 + 1); // at T0+1, T0+2, T0+3 (no group)
    for (const e of [...b, ...a]) store.audit.append(e);
    const ids = (es: AuditEntry[]) => es.map((e) => `${e.author}${e.seq}`);
    expect(ids(store.audit.list())).toEqual(['A0', 'A1', 'B0', 'A2', 'B1', 'B2']);
    expect(ids(store.audit.all())).toEqual(['A0', 'A1', 'B0', 'A2', 'B1', 'B2']);
    expect(ids(store.audit.list({ group: 'g1' }))).toEqual(['A0', 'A1', 'A2']);
    expect(ids(store.audit.list({ author: 'B' }))).toEqual(['B0', 'B1', 'B2']);
    expect(ids(store.audit.list({ afterSeq: { A: 1 } }))).toEqual(['B0', 'A2', 'B1', 'B2']);
    expect(ids(store.audit.list({ afterSeq: { A: 2, B: 0 } }))).toEqual(['B1', 'B2']);
    expect(ids(store.audit.list({ limit: 2 }))).toEqual(['A0', 'A1']);
    expect(ids(store.audit.list({ order: 'desc', limit: 2 }))).toEqual(['B2', 'B1']);
    expect(ids(store.audit.list({ author: 'A', afterSeq: { A: 0 }, limit: 1 }))).toEqual(['A1']);
    expect(() => store.audit.list({ limit: -1 })).toThrow(/limit/);
  });
});

describe('tx', () => {
  it('commits all writes of a transaction together', () => {
    const out = store.tx(() => {
      store.groups.insert(group());
      store.members.upsert(member());
      return 42;
    });
    expect(out).toBe(42);
    expect(store.members.list('g1')).toHaveLength(1);
  });

  it('rolls everything back when the function throws', () => {
    expect(() =>
      store.tx(() => {
        store.groups.insert(group());
        store.members.upsert(member());
        throw new Error('late failure');
      }),
    ).toThrow('late failure');
    expect(store.groups.list()).toEqual([]);
    // and the store is usable afterwards
    store.groups.insert(group());
    expect(store.groups.list()).toHaveLength(1);
  });

  it('rolls back a failing nested transaction alone when the outer one catches', () => {
    store.tx(() => {
      store.groups.insert(group());
      expect(() =>
        store.tx(() => {
          store.members.upsert(member());
          store.groups.insert(group()); // conflict
        }),
      ).toThrow(/exists/);
      store.members.upsert(member({ peerId: 'B', index: 2 }));
    });
    expect(store.members.list('g1').map((m) => m.peerId)).toEqual(['B']);
  });

  it('refuses an async function and rolls back what it wrote before its first await', async () => {
    const fn = async () => {
      store.groups.insert(group());
      await Promise.resolve();
    };
    expect(() => store.tx(fn)).toThrow(/synchronous/);
    expect(store.groups.list()).toEqual([]);
  });
});

describe('write versions', () => {
  const TABLES = ['meta', 'groups', 'members', 'requests'] as const;
  type Versions = Record<(typeof TABLES)[number], number>;
  const versions = (): Versions =>
    Object.fromEntries(TABLES.map((t) => [t, store.version(t)])) as Versions;
  /** The tables whose version `fn` changed (each grew, none went back). */
  const bumped = (fn: () => unknown): string[] => {
    const before = versions();
    try {
      fn();
    } catch {
      // A write that fails counts too; the caller says which.
    }
    const after = versions();
    for (const t of TABLES) expect(after[t]).toBeGreaterThanOrEqual(before[t]);
    return TABLES.filter((t) => after[t] !== before[t]);
  };

  it('each write method grows its own table’s version, and only that one', () => {
    const alice = member().peerId;
    expect(bumped(() => store.meta.set('k', 'v'))).toEqual(['meta']);
    expect(bumped(() => store.meta.set('k', 'v'))).toEqual(['meta']);
    expect(bumped(() => store.groups.insert(group()))).toEqual(['groups']);
    expect(bumped(() => store.groups.update('g1', { status: 'ready' }))).toEqual(['groups']);
    expect(bumped(() => store.members.upsert(member()))).toEqual(['members']);
    expect(bumped(() => store.members.update('g1', alice, { name: 'Al' }))).toEqual(['members']);
    expect(bumped(() => store.requests.insert(request()))).toEqual(['requests']);
    expect(bumped(() => store.requests.update('r1', { status: 'signing' }))).toEqual(['requests']);
    expect(bumped(() => store.members.delete('g1', alice))).toEqual(['members']);
    // A write that changes nothing or fails still counts (it is not read what it did).
    expect(bumped(() => store.groups.insert(group()))).toEqual(['groups']);
    expect(bumped(() => store.groups.update('nope', { status: 'ready' }))).toEqual(['groups']);
    expect(bumped(() => store.groups.update('g1', {}))).toEqual(['groups']);
    expect(bumped(() => store.members.update('g1', 'nobody', { name: 'x' }))).toEqual(['members']);
    expect(bumped(() => store.members.delete('g1', 'nobody'))).toEqual(['members']);
    expect(bumped(() => store.requests.insert(request()))).toEqual(['requests']);
    expect(bumped(() => store.requests.update('nope', { status: 'failed' }))).toEqual(['requests']);
    // A group's deletion takes its members and requests with it.
    store.members.upsert(member());
    expect(bumped(() => store.groups.delete('g1'))).toEqual(['groups', 'members', 'requests']);
    expect(store.members.list('g1')).toEqual([]);
    expect(store.requests.get('r1')).toBeUndefined();
  });

  it('reads, decisions and audit entries leave every version as it is', () => {
    store.groups.insert(group());
    store.members.upsert(member());
    store.requests.insert(request());
    store.meta.set('k', 'v');
    expect(
      bumped(() => {
        store.meta.get('k');
        store.groups.get('g1');
        store.groups.findByName('Treasury');
        store.groups.list();
        store.members.get('g1', member().peerId);
        store.members.list('g1');
        store.requests.get('r1');
        store.requests.list({ groupId: 'g1' });
        store.decisions.insert(decision());
        store.decisions.list('r1');
        for (const e of chain('12D3KooWBob/g1', 2, T0, 'g1')) store.audit.append(e);
        store.audit.heads();
        store.tx(() => store.groups.get('g1'));
        store.txNoSync(() => store.groups.get('g1'));
        store.pragmas();
      }),
    ).toEqual([]);
  });

  it('every version grows when a transaction or savepoint rolls back', () => {
    // What was read inside it (at a version it had there) may be gone after it.
    let inside: Versions | undefined;
    const rollsBack = (run: (fn: () => void) => void) =>
      bumped(() =>
        run(() => {
          store.meta.set('k', 'v');
          inside = versions();
          throw new Error('rolled back');
        }),
      );
    expect(rollsBack((fn) => store.tx(fn))).toEqual([...TABLES]);
    expect(rollsBack((fn) => store.txNoSync(fn))).toEqual([...TABLES]);
    expect(store.meta.get('k')).toBeUndefined();
    store.tx(() => {
      const before = versions();
      expect(() =>
        store.tx(() => {
          store.meta.set('k', 'w');
          inside = versions();
          throw new Error('savepoint rolled back');
        }),
      ).toThrow('savepoint rolled back');
      for (const t of TABLES) {
        expect(store.version(t)).toBeGreaterThan(before[t]);
        expect(store.version(t)).not.toBe(inside![t]);
      }
    });
    // A rollback without any write in it counts the same (the function may have read only).
    expect(
      bumped(() =>
        store.tx(() => {
          store.meta.get('k');
          throw new Error('read only');
        }),
      ),
    ).toEqual([...TABLES]);
  });

  it('every version grows when a write inside a transaction fails, though the caller goes on', () => {
    store.groups.insert(group());
    const before = versions();
    store.tx(() => {
      // A member of a group that does not exist: the foreign key refuses it.
      expect(() => store.members.upsert(member({ groupId: 'nope' }))).toThrow();
      store.meta.set('k', 'v');
    });
    for (const t of TABLES) expect(store.version(t)).toBeGreaterThan(before[t]);
    expect(store.meta.get('k')).toBe('v');
    // The same failure outside a transaction rolls back nothing else: its table only.
    expect(bumped(() => store.members.upsert(member({ groupId: 'nope' })))).toEqual(['members']);
  });

  it('refuses a table it does not count', () => {
    for (const t of ['decisions', 'audit', '__proto__', 'toString'])
      expect(() => store.version(t as 'meta')).toThrow(StoreError);
  });
});

describe('txNoSync', () => {
  const synchronous = () => store.pragmas().synchronous;

  it('runs with synchronous=NORMAL, commits its writes and restores FULL', () => {
    const out = store.txNoSync(() => {
      expect(synchronous()).toBe(1);
      store.groups.insert(group());
      store.members.upsert(member());
      return 7;
    });
    expect(out).toBe(7);
    expect(synchronous()).toBe(2);
    expect(store.members.list('g1')).toHaveLength(1);
    // Later transactions are durable again.
    store.tx(() => expect(synchronous()).toBe(2));
  });

  it('restores FULL and rolls back when the function throws', () => {
    expect(() =>
      store.txNoSync(() => {
        store.groups.insert(group());
        expect(synchronous()).toBe(1);
        throw new Error('late failure');
      }),
    ).toThrow('late failure');
    expect(synchronous()).toBe(2);
    expect(store.groups.list()).toEqual([]);
    // An async function is refused the same way.
    expect(() =>
      store.txNoSync((async () => {
        store.groups.insert(group());
      }) as () => unknown),
    ).toThrow(/synchronous/);
    expect(synchronous()).toBe(2);
    expect(store.groups.list()).toEqual([]);
  });

  it('inside an ordinary tx is a savepoint of it: the outer commit stays durable', () => {
    store.tx(() => {
      store.groups.insert(group());
      store.txNoSync(() => {
        expect(synchronous()).toBe(2);
        store.members.upsert(member());
      });
      expect(() =>
        store.txNoSync(() => {
          store.members.upsert(member({ peerId: 'B', index: 2 }));
          throw new Error('inner failure');
        }),
      ).toThrow('inner failure');
      expect(synchronous()).toBe(2);
    });
    expect(synchronous()).toBe(2);
    expect(store.members.list('g1').map((m) => m.peerId)).toEqual(['12D3KooWAlice']);
  });

  it('refuses an ordinary tx inside it, which would lose its fsync', () => {
    store.txNoSync(() => {
      store.groups.insert(group());
      expect(() => store.tx(() => store.members.upsert(member()))).toThrow(
        /durable transaction cannot run inside txNoSync/,
      );
      // A nested txNoSync is fine.
      store.txNoSync(() => store.members.upsert(member({ peerId: 'B', index: 2 })));
    });
    expect(synchronous()).toBe(2);
    expect(store.groups.list()).toHaveLength(1);
    expect(store.members.list('g1').map((m) => m.peerId)).toEqual(['B']);
  });
});

describe('durability', () => {
  it.each(['tx', 'txNoSync'])(
    'keeps every acknowledged %s of a process killed with SIGKILL',
    async (how) => {
      const path = join(dir, 'crash.db');
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(new URL('./crash-child.ts', import.meta.url)), path, how],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      let acked = -1;
      let buffered = '';
      const target = 100 + Math.floor(Math.random() * 100);
      const exit = new Promise<NodeJS.Signals | null>((resolve) =>
        proc.once('exit', (_code, signal) => resolve(signal)),
      );
      proc.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const m = /^ok (\d+)$/.exec(line);
          if (m) acked = Number(m[1]);
        }
        if (acked >= target && proc.exitCode === null && proc.signalCode === null)
          proc.kill('SIGKILL');
      });
      const signal = await exit;
      expect(stderr).toBe('');
      expect(signal).toBe('SIGKILL');
      expect(acked).toBeGreaterThanOrEqual(target);

      const reopened = openStore(path);
      try {
        const requests = reopened.requests.list();
        // Every acknowledged request is there; at most one more committed before its "ok" was written.
        expect(requests.length).toBeGreaterThanOrEqual(acked + 1);
        expect(requests.length).toBeLessThanOrEqual(acked + 2);
        for (let i = 0; i <= acked; i++)
          expect(reopened.requests.get(`r${i}`), `r${i}`).toBeDefined();
        // Transactions are whole: each request has its decision and its audit entry.
        for (const r of requests) expect(reopened.decisions.list(r.id)).toHaveLength(1);
        const entries = reopened.audit.all();
        expect(entries).toHaveLength(requests.length);
        const key = hexToBytes(reopened.meta.get('crash.publicKey')!);
        expect(verifyEntries(entries, () => key)).toMatchObject({ ok: true });
      } finally {
        reopened.close();
      }
    },
  );
});
