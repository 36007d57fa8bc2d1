// Row types of the node's SQLite store: camelCase here, snake_case in SQL (see migrations.ts).
import type { AuditEntry } from '../../shared/audit/chain.js';
import type { GroupStatus, RequestKind, RequestStatus, Scheme } from '../../shared/api/index.js';

export type { AuditEntry, GroupStatus, RequestKind, RequestStatus, Scheme };

export interface GroupRow {
  id: string;
  name: string;
  threshold: number;
  size: number;
  scheme: Scheme;
  status: GroupStatus;
  creatorPeerId: string;
  /**
   * The invite's one-time join secret, kept by the creator only so that joiners can be checked.
   * Not key material (shares live in the OS keychain), but it admits whoever holds it until the
   * group is complete: the file is 0600 and the node should clear it once the roster is full.
   */
  inviteSecret?: string;
  /**
   * The group's public key package as JSON, once the DKG is done. Written only if it decodes
   * (publicPackageFromJSON); a row read back may still hold a damaged one: readers guard it.
   */
  publicPackage?: string;
  /** Refreshes and reshares so far: written only as a non-negative integer (readers guard it). */
  epoch: number;
  createdAt: number;
  updatedAt: number;
  error?: string;
  dkgSession?: string;
  rosterHash?: string;
}

export interface MemberRow {
  groupId: string;
  peerId: string;
  name: string;
  /** Hex of the raw Ed25519 identity public key. */
  identityKey: string;
  fingerprint: string;
  /** 1-based roster position; also the FROST identifier. */
  index: number;
  addrs: string[];
  confirmed: boolean;
  joinedAt: number;
}

export interface RequestRow {
  id: string;
  groupId: string;
  kind: RequestKind;
  message: Uint8Array;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  status: RequestStatus;
  signature?: Uint8Array;
  failure?: string;
  culprits: string[];
  /** The signed request exactly as received (JSON); kept verbatim so its signature still checks. */
  envelope: string;
  updatedAt: number;
  /**
   * The signed outcome (JSON) that ended the request: a failure exactly as its reporter signed it,
   * relayed unchanged so every member can check the reporter's signature and evidence itself.
   */
  outcome?: string;
}

export interface DecisionRow {
  requestId: string;
  peerId: string;
  decision: 'approve' | 'deny';
  reason?: string;
  /** The signed statement exactly as received (JSON). */
  statement: string;
  at: number;
}

export interface AuditListFilter {
  group?: string;
  author?: string;
  /** Per author: only entries with a greater seq. Authors not named here are not limited. */
  afterSeq?: Record<string, number>;
  /** At most this many, taken from the start of the order. */
  limit?: number;
  /** 'asc' (default): oldest first; 'desc': newest first, so `limit` keeps the latest. */
  order?: 'asc' | 'desc';
}

export type AuditHeads = Record<string, { seq: number; hash: string }>;

export interface StorePragmas {
  journalMode: string;
  /** 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
  synchronous: number;
  foreignKeys: boolean;
  busyTimeout: number;
  userVersion: number;
}

/** The tables whose writes the store counts (Store.version). */
export type VersionedTable = 'meta' | 'groups' | 'members' | 'requests';

export interface Store {
  /** The database file (or ':memory:'). */
  readonly path: string;
  close(): void;
  /** The connection's settings as SQLite reports them (for tests and diagnostics). */
  pragmas(): StorePragmas;
  /**
   * Runs `fn` in one SQLite transaction (BEGIN IMMEDIATE): all of its writes commit together or
   * none do. Nested calls become savepoints. `fn` must be synchronous.
   */
  tx<T>(fn: () => T): T;
  /**
   * As `tx`, but its COMMIT is not fsync'd (PRAGMA synchronous = NORMAL for it, FULL again
   * afterwards, also when `fn` throws). In WAL mode the commit survives a crash of the process;
   * only a power loss or OS crash may lose the last such commits (never corrupt the file). For
   * data that can be fetched again, e.g. other members' audit entries, never for this node's own.
   * Inside an ordinary `tx` it is an ordinary savepoint of it (that one's COMMIT stays durable);
   * an ordinary `tx` inside it throws StoreError 'bad_value' (it would lose its fsync).
   */
  txNoSync<T>(fn: () => T): T;
  /**
   * The write version of a table: a number that only grows. It grows with every write by one of
   * the table's methods (meta.set; groups.insert, update, delete; members.upsert, update, delete;
   * requests.insert, update), also one that changes no row or fails; a groups.delete grows the
   * members and requests versions too (their rows go with the group). Every table's grows when a
   * transaction or savepoint rolls back, or a write inside one fails (SQLite may have rolled it
   * back): what was read inside it may be gone. A cache of what a table says keeps the version it
   * read at and is current while the version is the same. Writes by another connection to the
   * same file do not change it. Throws StoreError 'bad_value' for a table it does not count.
   */
  version(table: VersionedTable): number;
  meta: { get(key: string): string | undefined; set(key: string, value: string): void };
  groups: {
    /**
     * Throws StoreError 'conflict' when the id exists, 'bad_value' for a field it refuses (a
     * negative epoch, a public key package that does not decode).
     */
    insert(g: GroupRow): void;
    /** A key present with the value undefined clears that optional column; refuses as insert. */
    update(id: string, patch: Partial<Omit<GroupRow, 'id'>>): void;
    get(id: string): GroupRow | undefined;
    /** Exact (case-sensitive) name; oldest first. */
    findByName(name: string): GroupRow[];
    /** Oldest first. */
    list(): GroupRow[];
    /** Removes a group left by this node, with its members and requests (not its audit entries). */
    delete(id: string): void;
  };
  members: {
    /** Inserts, or replaces every field of the member with this (groupId, peerId). */
    upsert(m: MemberRow): void;
    /** By roster index. */
    list(groupId: string): MemberRow[];
    get(groupId: string, peerId: string): MemberRow | undefined;
    update(
      groupId: string,
      peerId: string,
      patch: Partial<Omit<MemberRow, 'groupId' | 'peerId'>>,
    ): void;
    /** Removes a member from a group's roster (after a reshare that removed it). */
    delete(groupId: string, peerId: string): void;
  };
  requests: {
    /** False when a request with this id exists (it is left unchanged). */
    insert(r: RequestRow): boolean;
    get(id: string): RequestRow | undefined;
    /**
     * Newest first: by createdAt (then insertion order), or with `order: 'stored'` by the order
     * this node stored them (createdAt is the creator's word and clock; the stored order is the
     * order this node took them in). At most `limit` rows when given.
     */
    list(filter?: {
      groupId?: string;
      statuses?: RequestStatus[];
      order?: 'created' | 'stored';
      limit?: number;
    }): RequestRow[];
    update(id: string, patch: Partial<Omit<RequestRow, 'id'>>): void;
  };
  decisions: {
    /** False when this peer's decision on this request exists (it is left unchanged). */
    insert(d: DecisionRow): boolean;
    /** In the order they were made (at, then insertion order). */
    list(requestId: string): DecisionRow[];
  };
  audit: {
    /**
     * Stores an entry as it is (no hash or signature check: that is verifyEntries' job). False when
     * the same (author, seq, hash) is stored; throws StoreError 'audit_conflict' when a different
     * entry is stored at (author, seq): a fork, evidence the caller should keep.
     */
    append(e: AuditEntry): boolean;
    /** The author's entry with the highest seq. */
    head(author: string): AuditEntry | undefined;
    /** The highest seq of the author's entries (head's seq, without reading the entry). */
    headSeq(author: string): number | undefined;
    /** The seq and hash of the author's head entry (what the next entry links to), body unread. */
    headLink(author: string): { seq: number; hash: string } | undefined;
    /** The hash and signature of the author's entry at `seq`, or undefined when none is there. */
    signatureAt(author: string, seq: number): { hash: string; sig: string } | undefined;
    /** Ordered by at, then author, then seq. */
    list(filter?: AuditListFilter): AuditEntry[];
    all(): AuditEntry[];
    /** Per author, the highest seq and its hash. */
    heads(): AuditHeads;
  };
}
