// Who is a member of what, for the lookups every incoming message and connection review makes: an
// index of the groups, their members, former members and newcomer candidates, built from the store
// and built again only after a write to a table it was read from.
import type { GroupRow, MemberRow, Store } from '../store/index.js';
import { formerKey, isCandidate, isString, readMetaList } from './common.js';

/** The store's tables whose writes the node counts (what membership answers are read from). */
export type WatchedTable = 'meta' | 'groups' | 'members' | 'requests';
const WATCHED: readonly WatchedTable[] = ['meta', 'groups', 'members', 'requests'];

/** The methods of each watched table that only read; any other method counts as a write. */
const READS: Record<WatchedTable, ReadonlySet<string>> = {
  meta: new Set(['get']),
  groups: new Set(['get', 'findByName', 'list']),
  members: new Set(['get', 'list']),
  requests: new Set(['get', 'list']),
};

/** How many writes each watched table has had on one store object; the counts only grow. */
export type StoreWrites = Readonly<Record<WatchedTable, number>>;

const writesOf = new WeakMap<Store, Record<WatchedTable, number>>();

/**
 * The write counts of a store. The first call wraps the writers of the watched tables in place, on
 * the store object itself: a write through any reference to it counts (a service's, a test's),
 * and every context built on the same store shares the counts. A writer is any method not known
 * to read, so a method added to the store later counts as a write until it is listed in READS; a
 * table's methods are taken to write that table only (a group's deletion takes its members and
 * requests with it, and every answer that reads those also reads the groups). A method of the
 * store itself that throws (a transaction, tx or txNoSync, rolled back) counts as a write to
 * every table: what was read inside it may be gone. Writes by another connection to the same file
 * are not seen: only the node's own process writes its store while it runs.
 *
 * Undefined when the store cannot be wrapped (a frozen object): callers then read the store for
 * every answer.
 */
export function storeWrites(store: Store): StoreWrites | undefined {
  const known = writesOf.get(store);
  if (known) return known;
  const counts: Record<WatchedTable, number> = { meta: 0, groups: 0, members: 0, requests: 0 };
  const wrapped: [object, string, unknown][] = [];
  try {
    for (const table of WATCHED) {
      const t = store[table] as unknown as Record<string, unknown>;
      for (const [name, fn] of Object.entries(t)) {
        if (typeof fn !== 'function' || READS[table].has(name)) continue;
        const write = fn as (...args: unknown[]) => unknown;
        t[name] = function (this: unknown, ...args: unknown[]) {
          try {
            return write.apply(this, args);
          } finally {
            counts[table]++;
          }
        };
        if (t[name] === fn) throw new Error(`store.${table}.${name} cannot be wrapped`);
        wrapped.push([t, name, fn]);
      }
    }
    // Its own methods (tx, txNoSync, …): one that throws may have rolled writes back.
    const top = store as unknown as Record<string, unknown>;
    for (const [name, fn] of Object.entries(top)) {
      if (typeof fn !== 'function') continue;
      const method = fn as (...args: unknown[]) => unknown;
      top[name] = function (this: unknown, ...args: unknown[]) {
        try {
          return method.apply(this, args);
        } catch (e) {
          for (const table of WATCHED) counts[table]++;
          throw e;
        }
      };
      if (top[name] === fn) throw new Error(`store.${name} cannot be wrapped`);
      wrapped.push([top, name, fn]);
    }
  } catch {
    // A frozen store: undo what was wrapped, so that no count is half kept.
    for (const [t, name, fn] of wrapped) (t as Record<string, unknown>)[name] = fn;
    return undefined;
  }
  writesOf.set(store, counts);
  return counts;
}

/**
 * A value read from the store, read again only after a write to one of `tables` (storeWrites):
 * `get()` gives what `compute()` would give now. Without write counts (a store that cannot be
 * wrapped), it computes every time.
 */
export class StoreMemo<T> {
  private readonly writes: StoreWrites | undefined;
  private kept?: { stamp: number; value: T };

  constructor(
    store: Store,
    private readonly tables: readonly WatchedTable[],
    private readonly compute: () => T,
  ) {
    this.writes = storeWrites(store);
  }

  /** Whether the value is kept between writes (false: computed at every get). */
  get cached(): boolean {
    return this.writes !== undefined;
  }

  get(): T {
    const stamp = this.stamp();
    if (stamp !== undefined && this.kept?.stamp === stamp) return this.kept.value;
    const value = this.compute();
    // Computed while something wrote to the store (a callback of compute's): not kept.
    if (stamp !== undefined && stamp === this.stamp()) this.kept = { stamp, value };
    return value;
  }

  /** The sum of the tables' write counts: it changes whenever one of them is written. */
  private stamp(): number | undefined {
    if (!this.writes) return undefined;
    let n = 0;
    for (const t of this.tables) n += this.writes[t];
    return n;
  }
}

interface Index {
  /** As store.groups.list(): oldest first. */
  groups: readonly GroupRow[];
  /** Per group, its members as store.members.list() gives them (by roster index). */
  members: Map<string, Map<string, MemberRow>>;
  /** Per peer, the ids of the groups it is a member of (in the order of `groups`). */
  groupsOf: Map<string, string[]>;
  /** Per group, the members reshares removed (who may still ask how the reshare ended). */
  former: Map<string, Set<string>>;
  /** Newcomers that joined a ready group with an invite of this node and wait to be added. */
  candidates: Set<string>;
}

/**
 * The node's membership, from its store: the groups, members, former members and candidates. Rows
 * it returns are frozen (they are shared between callers). Rebuilt whole at the first lookup after
 * a write to the groups, members or meta table (storeWrites), so every answer is the store's.
 */
export class Membership {
  private readonly memo: StoreMemo<Index>;

  constructor(
    private readonly store: Store,
    private readonly log?: (line: string) => void,
  ) {
    this.memo = new StoreMemo(store, ['meta', 'groups', 'members'], () => this.build());
  }

  /** Whether lookups are answered from the index (false: from the store every time). */
  get cached(): boolean {
    return this.memo.cached;
  }

  private index(): Index {
    return this.memo.get();
  }

  private build(): Index {
    const groups = this.store.groups.list().map((g) => Object.freeze(g));
    const index: Index = {
      groups: Object.freeze(groups),
      members: new Map(),
      groupsOf: new Map(),
      former: new Map(),
      candidates: new Set(),
    };
    for (const g of groups) {
      const members = new Map<string, MemberRow>();
      for (const m of this.store.members.list(g.id)) {
        Object.freeze(m.addrs);
        members.set(m.peerId, Object.freeze(m));
        const of = index.groupsOf.get(m.peerId);
        if (of) of.push(g.id);
        else index.groupsOf.set(m.peerId, [g.id]);
      }
      index.members.set(g.id, members);
      const former = readMetaList(this.store, formerKey(g.id), isString, this.log);
      if (former.length) index.former.set(g.id, new Set(former));
      if (g.status === 'ready')
        for (const c of readMetaList(this.store, `candidates:${g.id}`, isCandidate, this.log))
          index.candidates.add(c.peerId);
    }
    return index;
  }

  /** The groups on this node, oldest first (as store.groups.list()). */
  groups(): readonly GroupRow[] {
    return this.index().groups;
  }

  /** A group's member row of this peer (as store.members.get()). */
  member(groupId: string, peer: string): MemberRow | undefined {
    return this.index().members.get(groupId)?.get(peer);
  }

  /** A group's members by roster index (as store.members.list()); empty for an unknown group. */
  members(groupId: string): readonly MemberRow[] {
    const m = this.index().members.get(groupId);
    return m ? [...m.values()] : [];
  }

  /** The groups this peer is a member of, oldest first. */
  groupsOf(peer: string): readonly GroupRow[] {
    const index = this.index();
    const ids = index.groupsOf.get(peer);
    return ids ? index.groups.filter((g) => ids.includes(g.id)) : [];
  }

  /** Whether this peer is on the roster of any group on this node (forming groups included). */
  isMemberOfAny(peer: string): boolean {
    return this.index().groupsOf.has(peer);
  }

  /** A member removed from this group by a reshare. */
  isFormer(groupId: string, peer: string): boolean {
    const index = this.index();
    // A group no longer on this node (left): its record is read as it is, as before the index.
    if (!index.members.has(groupId))
      return readMetaList(this.store, formerKey(groupId), isString, this.log).includes(peer);
    return index.former.get(groupId)?.has(peer) === true;
  }

  /** A member removed by a reshare from any group on this node. */
  isFormerOfAny(peer: string): boolean {
    for (const former of this.index().former.values()) if (former.has(peer)) return true;
    return false;
  }

  /** A newcomer waiting, with one of this node's invites, to be added to a ready group. */
  isCandidate(peer: string): boolean {
    return this.index().candidates.has(peer);
  }
}
