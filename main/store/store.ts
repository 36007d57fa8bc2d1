// The node's SQLite store (libsql): opening, pragmas, migrations and the typed repositories.
// It stores and returns rows; what the rows mean is decided by the node, not here.
import { chmodSync, closeSync, constants, openSync, statSync } from 'node:fs';
import Database from 'libsql';
import { canonicalJSON, entryProblem, type AuditEntry } from '../../shared/audit/chain.js';
import { publicPackageFromJSON, type PublicKeyPackageJSON } from '../../shared/crypto/keys.js';
import { logSafe } from '../../shared/protocol/text.js';
import { MIGRATIONS } from './migrations.js';
import type {
  AuditHeads,
  AuditListFilter,
  DecisionRow,
  GroupRow,
  MemberRow,
  RequestRow,
  RequestStatus,
  Store,
  VersionedTable,
} from './types.js';

type DB = Database.Database;
type Statement = Database.Statement;
type Row = Record<string, unknown>;
type SqlValue = string | number | bigint | Uint8Array | null;

export type StoreErrorCode =
  'open_failed' | 'not_found' | 'conflict' | 'audit_conflict' | 'bad_value' | 'bad_row';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** Busy timeout: another connection holding the write lock is waited for this long. */
export const BUSY_TIMEOUT_MS = 5000;

// ---- opening ----

/**
 * Opens (creating if needed, mode 0600) the store at `path`, or ':memory:' for tests. Sets WAL and
 * synchronous=FULL so that a write acknowledged by a returned call survives a process or OS crash,
 * then applies pending migrations. Failures become StoreError 'open_failed' naming the path.
 */
export function openStore(path: string): Store {
  const memory = path === ':memory:';
  let db: DB | undefined;
  try {
    if (!memory) createPrivateFile(path);
    db = new Database(path);
    configure(db, memory);
    migrate(db, path);
  } catch (err) {
    try {
      db?.close();
    } catch {
      // already unusable; the open error is what matters
    }
    throw openError(path, err);
  }
  return makeStore(db, path);
}

/** Creates the file 0600 before SQLite does (it would use 0644); tightens an existing one. */
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_RDWR, 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = statSync(path);
  if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
  // SQLite gives the -wal and -shm files the database file's mode, so they follow.
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o600);
}

function pragma(db: DB, name: string): unknown {
  const row = db.prepare(`PRAGMA ${name}`).get() as Row | undefined;
  if (row === undefined) return undefined;
  const key = Object.keys(row).find((k) => k !== '_metadata');
  return key === undefined ? undefined : row[key];
}

function configure(db: DB, memory: boolean): void {
  // First, so that the following statements wait for a lock rather than fail.
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const mode = pragma(db, 'journal_mode = WAL');
  if (!memory && mode !== 'wal')
    throw new Error(
      `the file system refused write-ahead logging (journal_mode is ${String(mode)})`,
    );
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA foreign_keys = ON');
}

function migrate(db: DB, path: string): void {
  for (;;) {
    // IMMEDIATE takes the write lock before reading the version: two processes opening the same
    // file at once cannot both run a migration.
    db.exec('BEGIN IMMEDIATE');
    try {
      const version = Number(pragma(db, 'user_version'));
      if (version > MIGRATIONS.length)
        throw new StoreError(
          'open_failed',
          `${path} has schema version ${version}, newer than this build's ${MIGRATIONS.length}: ` +
            'it was written by a newer version of Conclave',
        );
      if (version === MIGRATIONS.length) {
        db.exec('COMMIT');
        return;
      }
      db.exec(MIGRATIONS[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec('COMMIT');
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }
}

function openError(path: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const detail = typeof e.message === 'string' ? e.message : String(err);
  const why =
    code === 'SQLITE_NOTADB'
      ? 'it is not a SQLite database (wrong file, encrypted or corrupt)'
      : code === 'SQLITE_CORRUPT'
        ? 'the database is corrupt'
        : code === 'EACCES' || code === 'EPERM' || code.startsWith('SQLITE_READONLY')
          ? 'permission denied'
          : code === 'ENOENT'
            ? 'its folder does not exist'
            : code === 'EISDIR' || code === 'ENOTFILE'
              ? 'it is not a regular file'
              : code.startsWith('SQLITE_BUSY')
                ? 'another process holds it locked'
                : detail;
  return new StoreError('open_failed', `cannot open the store at ${path}: ${why}`, { cause: err });
}

// ---- values ----

function bind(v: unknown, what: string): SqlValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'bigint' || v instanceof Uint8Array) return v;
  if (typeof v === 'number') {
    // Every numeric column is an integer (counts, ms timestamps); STRICT tables refuse the rest.
    if (!Number.isSafeInteger(v))
      throw new StoreError('bad_value', `${what} must be an integer, got ${v}`);
    return v;
  }
  // libsql 0.5 aborts the process on a boolean parameter: never let one through.
  throw new StoreError('bad_value', `${what} cannot be stored as a ${typeof v}`);
}

function strArray(v: unknown, what: string): string {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new StoreError('bad_value', `${what} must be an array of strings`);
  return JSON.stringify(v);
}

/** An epoch: a count of refreshes and reshares, never negative (readers guard older rows). */
function epochValue(v: unknown, what: string): SqlValue {
  const n = bind(v, what);
  if (typeof n === 'number' && n >= 0) return n;
  const got = typeof n === 'number' ? String(n) : v === null ? 'null' : `a ${typeof v}`;
  throw new StoreError('bad_value', `${what} must be a non-negative integer, got ${got}`);
}

/** Groups whose rows (or absence) groups.get keeps at once; past it the kept ones are dropped. */
const MAX_GROUP_ROWS = 256;

/** Package texts vouched for by vouchForPackage, newest last (a few: one per key generation). */
const vouched = new Set<string>();
const MAX_VOUCHED = 8;

/**
 * Vouches for a public key package text this process built itself from points it checked (a key
 * generation's result, a ceremony's new package; the node does it with rememberOwnPackage): the
 * store takes exactly this text without decoding it again. Decoding checks every point (a 14-of-20
 * package: 21 subgroup checks, tens of ms), and every member wrote its package at the same moment,
 * the last step before 'ready'.
 * Never for a text that came from elsewhere (a peer, a file): that is decoded as always.
 */
export function vouchForPackage(json: string): void {
  vouched.delete(json);
  if (vouched.size >= MAX_VOUCHED) vouched.delete(vouched.values().next().value!);
  vouched.add(json);
}

/**
 * A group's public key package: refused unless it decodes as the readers decode it (JSON, then
 * publicPackageFromJSON), so the store never takes in a package its readers would find damaged;
 * a text this process built and vouched for (vouchForPackage) is taken as it is.
 */
function packageValue(v: unknown, what: string): SqlValue {
  if (v === null) return null;
  if (typeof v !== 'string') throw new StoreError('bad_value', `${what} must be a string`);
  if (vouched.has(v)) return v;
  try {
    publicPackageFromJSON(JSON.parse(v) as PublicKeyPackageJSON);
  } catch (err) {
    const why =
      err instanceof SyntaxError
        ? 'it is not JSON'
        : logSafe(err instanceof Error ? err.message : err, 200);
    throw new StoreError('bad_value', `${what} is not a public key package: ${why}`, {
      cause: err,
    });
  }
  return v;
}

const bool = (v: unknown, what: string): number => {
  if (typeof v !== 'boolean') throw new StoreError('bad_value', `${what} must be a boolean`);
  return v ? 1 : 0;
};

function str(row: Row, name: string): string {
  const v = row[name];
  if (typeof v !== 'string') throw new StoreError('bad_row', `column ${name} holds a ${typeof v}`);
  return v;
}
function int(row: Row, name: string): number {
  const v = row[name];
  if (typeof v !== 'number') throw new StoreError('bad_row', `column ${name} holds a ${typeof v}`);
  return v;
}
const optStr = (row: Row, name: string) => (row[name] === null ? undefined : str(row, name));
function bytes(row: Row, name: string): Uint8Array {
  const v = row[name];
  // libsql returns a Buffer from get() but an ArrayBuffer from all() and iterate().
  if (v instanceof Uint8Array) return new Uint8Array(v); // a copy, not a view into a Buffer pool
  if (Object.prototype.toString.call(v) === '[object ArrayBuffer]')
    return new Uint8Array(v as ArrayBuffer);
  throw new StoreError('bad_row', `column ${name} holds a ${typeof v}, not a blob`);
}
const optBytes = (row: Row, name: string) => (row[name] === null ? undefined : bytes(row, name));
const json = (row: Row, name: string): unknown => JSON.parse(str(row, name));

/** How each field of a row type becomes a column value; the table for updates. */
type Columns = Record<string, { column: string; encode?: (v: unknown, what: string) => SqlValue }>;

const GROUP_COLUMNS: Columns = {
  id: { column: 'id' },
  name: { column: 'name' },
  threshold: { column: 'threshold' },
  size: { column: 'size' },
  scheme: { column: 'scheme' },
  status: { column: 'status' },
  creatorPeerId: { column: 'creator_peer_id' },
  inviteSecret: { column: 'invite_secret' },
  publicPackage: { column: 'public_package', encode: packageValue },
  epoch: { column: 'epoch', encode: epochValue },
  createdAt: { column: 'created_at' },
  updatedAt: { column: 'updated_at' },
  error: { column: 'error' },
  dkgSession: { column: 'dkg_session' },
  rosterHash: { column: 'roster_hash' },
};

const MEMBER_COLUMNS: Columns = {
  groupId: { column: 'group_id' },
  peerId: { column: 'peer_id' },
  name: { column: 'name' },
  identityKey: { column: 'identity_key' },
  fingerprint: { column: 'fingerprint' },
  index: { column: 'roster_index' },
  addrs: { column: 'addrs', encode: strArray },
  confirmed: { column: 'confirmed', encode: bool },
  joinedAt: { column: 'joined_at' },
};

const REQUEST_COLUMNS: Columns = {
  id: { column: 'id' },
  groupId: { column: 'group_id' },
  kind: { column: 'kind' },
  message: { column: 'message' },
  createdBy: { column: 'created_by' },
  createdAt: { column: 'created_at' },
  expiresAt: { column: 'expires_at' },
  status: { column: 'status' },
  signature: { column: 'signature' },
  failure: { column: 'failure' },
  culprits: { column: 'culprits', encode: strArray },
  envelope: { column: 'envelope' },
  updatedAt: { column: 'updated_at' },
  outcome: { column: 'outcome' },
};

const DECISION_COLUMNS: Columns = {
  requestId: { column: 'request_id' },
  peerId: { column: 'peer_id' },
  decision: { column: 'decision' },
  reason: { column: 'reason' },
  statement: { column: 'statement' },
  at: { column: 'at' },
};

/** Named parameters (one per column) for a whole row or a patch; refuses unknown fields. */
function params(table: string, columns: Columns, obj: object): Record<string, SqlValue> {
  const out: Record<string, SqlValue> = {};
  for (const [field, value] of Object.entries(obj)) {
    const c = columns[field];
    if (c === undefined) throw new StoreError('bad_value', `${table} has no field ${field}`);
    const what = `${table}.${field}`;
    out[c.column] = c.encode && value !== undefined ? c.encode(value, what) : bind(value, what);
  }
  return out;
}

function insertSql(table: string, columns: Columns, conflict: string): string {
  const cols = Object.values(columns).map((c) => c.column);
  return `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')}) ${conflict}`;
}

const GROUP_INSERT = insertSql('groups', GROUP_COLUMNS, 'ON CONFLICT (id) DO NOTHING');
const MEMBER_UPSERT = insertSql(
  'members',
  MEMBER_COLUMNS,
  'ON CONFLICT (group_id, peer_id) DO UPDATE SET ' +
    Object.values(MEMBER_COLUMNS)
      .map((c) => c.column)
      .filter((c) => c !== 'group_id' && c !== 'peer_id')
      .map((c) => `${c} = excluded.${c}`)
      .join(', '),
);
const REQUEST_INSERT = insertSql('requests', REQUEST_COLUMNS, 'ON CONFLICT (id) DO NOTHING');
const DECISION_INSERT = insertSql(
  'decisions',
  DECISION_COLUMNS,
  'ON CONFLICT (request_id, peer_id) DO NOTHING',
);

/** Checks that every non-optional field is present: libsql binds a missing parameter as NULL. */
function complete(table: string, obj: object, required: readonly string[]): void {
  const o = obj as Record<string, unknown>;
  const missing = required.filter((k) => o[k] === undefined);
  if (missing.length > 0) throw new StoreError('bad_value', `${table} needs ${missing.join(', ')}`);
}

const GROUP_REQUIRED = [
  'id',
  'name',
  'threshold',
  'size',
  'scheme',
  'status',
  'creatorPeerId',
  'epoch',
  'createdAt',
  'updatedAt',
];
const MEMBER_REQUIRED = Object.keys(MEMBER_COLUMNS);
const REQUEST_REQUIRED = [
  'id',
  'groupId',
  'kind',
  'message',
  'createdBy',
  'createdAt',
  'expiresAt',
  'status',
  'culprits',
  'envelope',
  'updatedAt',
];
const DECISION_REQUIRED = ['requestId', 'peerId', 'decision', 'statement', 'at'];

// ---- rows ----

function groupFromRow(r: Row): GroupRow {
  const g: GroupRow = {
    id: str(r, 'id'),
    name: str(r, 'name'),
    threshold: int(r, 'threshold'),
    size: int(r, 'size'),
    scheme: str(r, 'scheme') as GroupRow['scheme'],
    status: str(r, 'status') as GroupRow['status'],
    creatorPeerId: str(r, 'creator_peer_id'),
    epoch: int(r, 'epoch'),
    createdAt: int(r, 'created_at'),
    updatedAt: int(r, 'updated_at'),
  };
  const inviteSecret = optStr(r, 'invite_secret');
  const publicPackage = optStr(r, 'public_package');
  const error = optStr(r, 'error');
  const dkgSession = optStr(r, 'dkg_session');
  const rosterHash = optStr(r, 'roster_hash');
  if (inviteSecret !== undefined) g.inviteSecret = inviteSecret;
  if (publicPackage !== undefined) g.publicPackage = publicPackage;
  if (error !== undefined) g.error = error;
  if (dkgSession !== undefined) g.dkgSession = dkgSession;
  if (rosterHash !== undefined) g.rosterHash = rosterHash;
  return g;
}

function memberFromRow(r: Row): MemberRow {
  return {
    groupId: str(r, 'group_id'),
    peerId: str(r, 'peer_id'),
    name: str(r, 'name'),
    identityKey: str(r, 'identity_key'),
    fingerprint: str(r, 'fingerprint'),
    index: int(r, 'roster_index'),
    addrs: json(r, 'addrs') as string[],
    confirmed: int(r, 'confirmed') === 1,
    joinedAt: int(r, 'joined_at'),
  };
}

function requestFromRow(r: Row): RequestRow {
  const q: RequestRow = {
    id: str(r, 'id'),
    groupId: str(r, 'group_id'),
    kind: str(r, 'kind') as RequestRow['kind'],
    message: bytes(r, 'message'),
    createdBy: str(r, 'created_by'),
    createdAt: int(r, 'created_at'),
    expiresAt: int(r, 'expires_at'),
    status: str(r, 'status') as RequestStatus,
    culprits: json(r, 'culprits') as string[],
    envelope: str(r, 'envelope'),
    updatedAt: int(r, 'updated_at'),
  };
  const signature = optBytes(r, 'signature');
  const failure = optStr(r, 'failure');
  if (signature !== undefined) q.signature = signature;
  if (failure !== undefined) q.failure = failure;
  const outcome = optStr(r, 'outcome');
  if (outcome !== undefined) q.outcome = outcome;
  return q;
}

function decisionFromRow(r: Row): DecisionRow {
  const d: DecisionRow = {
    requestId: str(r, 'request_id'),
    peerId: str(r, 'peer_id'),
    decision: str(r, 'decision') as DecisionRow['decision'],
    statement: str(r, 'statement'),
    at: int(r, 'at'),
  };
  const reason = optStr(r, 'reason');
  if (reason !== undefined) d.reason = reason;
  return d;
}

function entryFromRow(r: Row): AuditEntry {
  const e: AuditEntry = {
    v: int(r, 'v') as AuditEntry['v'],
    author: str(r, 'author'),
    seq: int(r, 'seq'),
    prev: str(r, 'prev'),
    at: int(r, 'at'),
    type: str(r, 'type'),
    body: json(r, 'body') as Record<string, unknown>,
    hash: str(r, 'hash'),
    sig: str(r, 'sig'),
  };
  const group = optStr(r, 'group_id');
  if (group !== undefined) e.group = group;
  return e;
}

// ---- the store ----

function makeStore(db: DB, path: string): Store {
  const cache = new Map<string, Statement>();
  const stmt = (sql: string): Statement => {
    let s = cache.get(sql);
    if (s === undefined) cache.set(sql, (s = db.prepare(sql)));
    return s;
  };
  const get = (sql: string, p: object = {}) => stmt(sql).get(p) as Row | undefined;
  const all = (sql: string, p: object = {}) => stmt(sql).all(p) as Row[];
  const run = (sql: string, p: object) => {
    // A write outside a transaction commits at once: never with the fsync left off.
    if (depth === 0) makeDurable();
    try {
      return stmt(sql).run(p);
    } catch (err) {
      // SQLite rolls the whole transaction back by itself after some errors (a full disk, I/O),
      // also when the caller goes on: what was read inside it may be gone (see Store.version).
      if (depth > 0) bumpAll();
      throw err;
    }
  };

  /** UPDATE of the patch's fields; throws 'not_found' when no row matches. */
  function update(
    table: VersionedTable,
    columns: Columns,
    where: Record<string, SqlValue>,
    patch: object,
    label: string,
  ): void {
    versions[table]++;
    const set = params(table, columns, patch);
    const whereSql = Object.keys(where)
      .map((c) => `${c} = @w_${c}`)
      .join(' AND ');
    const p: Record<string, SqlValue> = { ...set };
    for (const [c, v] of Object.entries(where)) p[`w_${c}`] = v;
    const sets = Object.keys(set).map((c) => `${c} = @${c}`);
    if (sets.length === 0) {
      if (get(`SELECT 1 AS found FROM ${table} WHERE ${whereSql}`, p) === undefined)
        throw new StoreError('not_found', `no ${label}`);
      return;
    }
    const sql = `UPDATE ${table} SET ${sets.join(', ')} WHERE ${whereSql}`;
    if (run(sql, p).changes === 0) throw new StoreError('not_found', `no ${label}`);
  }

  let depth = 0;
  let closed = false;
  /** See Store.version: each table's count of writes, every one counted after a rollback. */
  const versions: Record<VersionedTable, number> = { meta: 0, groups: 0, members: 0, requests: 0 };
  const bumpAll = () => {
    for (const t of Object.keys(versions) as VersionedTable[]) versions[t]++;
  };
  /**
   * groups.get's answers, each with the groups version it was read at (see Store.version): every
   * message's handler reads its group, and a group's row changes a few times in its life. Its
   * absence is kept too (a peer can name any group id), so the map is bounded.
   */
  const groupRows = new Map<string, { version: number; row: GroupRow | undefined }>();
  /** synchronous is FULL now (false only during a txNoSync, or if restoring FULL failed). */
  let durable = true;
  /** The outermost transaction open now is a txNoSync. */
  let noSyncOpen = false;

  /** Puts synchronous back to FULL; SQLite refuses to change it inside a transaction. */
  function makeDurable(): void {
    if (durable) return;
    db.exec('PRAGMA synchronous = FULL');
    durable = true;
  }

  /** makeDurable after a transaction, where the caller's result or error is what to report. */
  function restoreDurable(): void {
    try {
      makeDurable();
    } catch {
      // Left NORMAL: every later write and transaction restores FULL before it starts.
    }
  }

  function tx<T>(fn: () => T, noSync = false): T {
    const level = depth;
    const savepoint = `sp${level}`;
    if (level === 0) {
      makeDurable();
      if (noSync) {
        db.exec('PRAGMA synchronous = NORMAL');
        durable = false;
      }
    } else if (!noSync && noSyncOpen)
      // It would commit without the fsync its caller relies on (and SQLite cannot switch the
      // fsync back on inside a transaction): refused, so a durable write never becomes a lax one.
      throw new StoreError('bad_value', 'a durable transaction cannot run inside txNoSync');
    try {
      db.exec(level === 0 ? 'BEGIN IMMEDIATE' : `SAVEPOINT ${savepoint}`);
    } catch (err) {
      if (level === 0) restoreDurable();
      throw err;
    }
    depth = level + 1;
    if (level === 0) noSyncOpen = noSync;
    try {
      const result = fn();
      if (typeof (result as { then?: unknown } | null)?.then === 'function')
        throw new StoreError('bad_value', 'tx takes a synchronous function; it returned a promise');
      db.exec(level === 0 ? 'COMMIT' : `RELEASE ${savepoint}`);
      return result;
    } catch (err) {
      // What a cache read inside it may be gone now (see Store.version).
      bumpAll();
      try {
        if (level > 0) {
          db.exec(`ROLLBACK TO ${savepoint}`);
          db.exec(`RELEASE ${savepoint}`);
        } else if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // SQLite rolls back by itself after some errors; the caller's error is the one to report.
      }
      throw err;
    } finally {
      depth = level;
      if (level === 0) {
        noSyncOpen = false;
        restoreDurable();
      }
    }
  }

  const AUDIT_COLUMNS = 'author, seq, v, prev, at, type, group_id, body, hash, sig';

  return {
    path,
    close() {
      if (closed) return;
      closed = true;
      // A read after close goes to the closed database, as before: nothing is kept past it.
      groupRows.clear();
      db.close();
    },
    tx: (fn) => tx(fn),
    txNoSync: (fn) => tx(fn, true),
    version: (table) => {
      if (!Object.hasOwn(versions, table))
        throw new StoreError('bad_value', `no write version for ${String(table)}`);
      return versions[table];
    },
    pragmas: () => ({
      journalMode: String(pragma(db, 'journal_mode')),
      synchronous: Number(pragma(db, 'synchronous')),
      foreignKeys: Number(pragma(db, 'foreign_keys')) === 1,
      busyTimeout: Number(pragma(db, 'busy_timeout')),
      userVersion: Number(pragma(db, 'user_version')),
    }),

    meta: {
      get: (key) => {
        const r = get('SELECT value FROM meta WHERE key = @key', { key });
        return r === undefined ? undefined : str(r, 'value');
      },
      set: (key, value) => {
        versions.meta++;
        run(
          'INSERT INTO meta (key, value) VALUES (@key, @value) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
          { key: bind(key, 'meta.key'), value: bind(value, 'meta.value') },
        );
      },
    },

    groups: {
      insert: (g) => {
        versions.groups++;
        complete('groups', g, GROUP_REQUIRED);
        const p = params('groups', GROUP_COLUMNS, g);
        if (run(GROUP_INSERT, { ...nulls(GROUP_COLUMNS), ...p }).changes === 0)
          throw new StoreError('conflict', `group ${g.id} exists`);
      },
      update: (id, patch) => {
        if ('id' in patch) throw new StoreError('bad_value', 'a group id cannot change');
        update('groups', GROUP_COLUMNS, { id }, patch, `group ${id}`);
      },
      get: (id) => {
        const hit = groupRows.get(id);
        if (hit?.version === versions.groups) return hit.row && { ...hit.row };
        const r = get('SELECT * FROM groups WHERE id = @id', { id });
        const row = r === undefined ? undefined : groupFromRow(r);
        if (groupRows.size >= MAX_GROUP_ROWS) groupRows.clear();
        groupRows.set(id, { version: versions.groups, row });
        return row && { ...row };
      },
      findByName: (name) =>
        all('SELECT * FROM groups WHERE name = @name ORDER BY created_at, rowid', { name }).map(
          groupFromRow,
        ),
      list: () => all('SELECT * FROM groups ORDER BY created_at, rowid').map(groupFromRow),
      delete: (id) => {
        // Its members and requests go with it (ON DELETE CASCADE).
        versions.groups++;
        versions.members++;
        versions.requests++;
        run('DELETE FROM groups WHERE id = @id', { id });
      },
    },

    members: {
      upsert: (m) => {
        versions.members++;
        complete('members', m, MEMBER_REQUIRED);
        const p = params('members', MEMBER_COLUMNS, m);
        run(MEMBER_UPSERT, p);
      },
      list: (groupId) =>
        all('SELECT * FROM members WHERE group_id = @groupId ORDER BY roster_index, peer_id', {
          groupId,
        }).map(memberFromRow),
      get: (groupId, peerId) => {
        const r = get('SELECT * FROM members WHERE group_id = @groupId AND peer_id = @peerId', {
          groupId,
          peerId,
        });
        return r === undefined ? undefined : memberFromRow(r);
      },
      update: (groupId, peerId, patch) => {
        if ('groupId' in patch || 'peerId' in patch)
          throw new StoreError('bad_value', 'a member’s group and peer id cannot change');
        update(
          'members',
          MEMBER_COLUMNS,
          { group_id: groupId, peer_id: peerId },
          patch,
          `member ${peerId} in group ${groupId}`,
        );
      },
      delete: (groupId, peerId) => {
        versions.members++;
        run('DELETE FROM members WHERE group_id = @groupId AND peer_id = @peerId', {
          groupId,
          peerId,
        });
      },
    },

    requests: {
      insert: (r) => {
        versions.requests++;
        complete('requests', r, REQUEST_REQUIRED);
        const p = params('requests', REQUEST_COLUMNS, r);
        return run(REQUEST_INSERT, { ...nulls(REQUEST_COLUMNS), ...p }).changes === 1;
      },
      get: (id) => {
        const r = get('SELECT * FROM requests WHERE id = @id', { id });
        return r === undefined ? undefined : requestFromRow(r);
      },
      list: (filter = {}) => {
        const where: string[] = [];
        const p: Record<string, SqlValue> = {};
        if (filter.groupId !== undefined) {
          where.push('group_id = @groupId');
          p.groupId = bind(filter.groupId, 'groupId');
        }
        if (filter.statuses !== undefined) {
          where.push('status IN (SELECT value FROM json_each(@statuses))');
          p.statuses = strArray(filter.statuses, 'statuses');
        }
        if (filter.limit !== undefined) p.limit = limitOf(filter.limit);
        const sql =
          'SELECT * FROM requests' +
          (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
          (filter.order === 'stored'
            ? ' ORDER BY rowid DESC'
            : ' ORDER BY created_at DESC, rowid DESC') +
          (filter.limit !== undefined ? ' LIMIT @limit' : '');
        return all(sql, p).map(requestFromRow);
      },
      update: (id, patch) => {
        if ('id' in patch) throw new StoreError('bad_value', 'a request id cannot change');
        update('requests', REQUEST_COLUMNS, { id }, patch, `request ${id}`);
      },
    },

    decisions: {
      insert: (d) => {
        complete('decisions', d, DECISION_REQUIRED);
        const p = params('decisions', DECISION_COLUMNS, d);
        return run(DECISION_INSERT, { ...nulls(DECISION_COLUMNS), ...p }).changes === 1;
      },
      list: (requestId) =>
        all('SELECT * FROM decisions WHERE request_id = @requestId ORDER BY at, rowid', {
          requestId,
        }).map(decisionFromRow),
    },

    audit: {
      append: (e) => {
        // Only entries that round-trip exactly are stored, or their hash would not recompute.
        const problem = entryProblem(e);
        if (problem !== undefined)
          throw new StoreError('bad_value', `audit entry ${e.author}#${e.seq}: ${problem}`);
        const inserted =
          run(
            `INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (@author, @seq, @v, @prev, @at, @type, @group, @body, @hash, @sig)
             ON CONFLICT (author, seq) DO NOTHING`,
            {
              author: e.author,
              seq: e.seq,
              v: e.v,
              prev: e.prev,
              at: e.at,
              type: e.type,
              group: e.group ?? null,
              body: canonicalJSON(e.body),
              hash: e.hash,
              sig: e.sig,
            },
          ).changes === 1;
        if (inserted) return true;
        const existing = get('SELECT hash FROM audit WHERE author = @author AND seq = @seq', {
          author: e.author,
          seq: e.seq,
        });
        const hash = existing === undefined ? undefined : str(existing, 'hash');
        if (hash === e.hash) return false;
        throw new StoreError(
          'audit_conflict',
          `audit entry ${e.author}#${e.seq} conflicts with the stored one (hash ${e.hash} vs ${String(hash)})`,
        );
      },
      head: (author) => {
        const r = get(
          `SELECT ${AUDIT_COLUMNS} FROM audit WHERE author = @author ORDER BY seq DESC LIMIT 1`,
          { author },
        );
        return r === undefined ? undefined : entryFromRow(r);
      },
      headSeq: (author) => {
        const r = get('SELECT max(seq) AS seq FROM audit WHERE author = @author', { author });
        return r === undefined || r.seq === null ? undefined : int(r, 'seq');
      },
      headLink: (author) => {
        const r = get(
          'SELECT seq, hash FROM audit WHERE author = @author ORDER BY seq DESC LIMIT 1',
          { author },
        );
        return r === undefined ? undefined : { seq: int(r, 'seq'), hash: str(r, 'hash') };
      },
      signatureAt: (author, seq) => {
        const r = get('SELECT hash, sig FROM audit WHERE author = @author AND seq = @seq', {
          author: bind(author, 'author'),
          seq: bind(seq, 'seq'),
        });
        return r === undefined ? undefined : { hash: str(r, 'hash'), sig: str(r, 'sig') };
      },
      list: (filter: AuditListFilter = {}) => {
        const where: string[] = [];
        const p: Record<string, SqlValue> = {};
        if (filter.group !== undefined) {
          where.push('group_id = @group');
          p.group = bind(filter.group, 'group');
        }
        if (filter.author !== undefined) {
          where.push('author = @author');
          p.author = bind(filter.author, 'author');
        }
        if (filter.afterSeq !== undefined) {
          for (const [a, s] of Object.entries(filter.afterSeq)) bind(s, `afterSeq[${a}]`);
          where.push(
            'NOT EXISTS (SELECT 1 FROM json_each(@after) j WHERE j.key = audit.author AND audit.seq <= j.value)',
          );
          p.after = JSON.stringify(filter.afterSeq);
          // The same bound for the one author asked for, as a range of the primary key: reading
          // a chain's last entries reads those, not the whole chain.
          if (filter.author !== undefined && Object.hasOwn(filter.afterSeq, filter.author)) {
            where.push('seq > @authorAfter');
            p.authorAfter = filter.afterSeq[filter.author]!;
          }
        }
        const dir = filter.order === 'desc' ? 'DESC' : 'ASC';
        let sql =
          `SELECT ${AUDIT_COLUMNS} FROM audit` +
          (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
          ` ORDER BY at ${dir}, author ${dir}, seq ${dir}`;
        if (filter.limit !== undefined) {
          sql += ' LIMIT @limit';
          p.limit = limitOf(filter.limit);
        }
        return all(sql, p).map(entryFromRow);
      },
      all: () =>
        all(`SELECT ${AUDIT_COLUMNS} FROM audit ORDER BY at, author, seq`).map(entryFromRow),
      heads: () => {
        const out: AuditHeads = {};
        // SQLite takes the bare columns of an aggregate query from the row holding the max.
        for (const r of all('SELECT author, max(seq) AS seq, hash FROM audit GROUP BY author'))
          out[str(r, 'author')] = { seq: int(r, 'seq'), hash: str(r, 'hash') };
        return out;
      },
    },
  };
}

/** NULL for every column, so an optional field left out of an insert binds as NULL explicitly. */
function nulls(columns: Columns): Record<string, null> {
  return Object.fromEntries(Object.values(columns).map((c) => [c.column, null]));
}

/** A LIMIT value: a non-negative safe integer, else a StoreError naming it. */
function limitOf(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new StoreError('bad_value', `limit must be a non-negative integer, got ${n}`);
  return n;
}
