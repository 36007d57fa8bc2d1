// Who is a member of what, for the lookups every incoming message and connection review makes: an
// index of the groups, their members, former members and newcomer candidates, built from the store
// and built again only after a write to a table it was read from.
import type { GroupRow, MemberRow, Store, VersionedTable } from '../store/index.js';
import { formerKey, isCandidate, isString, readMetaList } from './common.js';

/**
 * A value read from the store, read again only after a write to one of `tables`: `get()` gives
 * what `compute()` would give now. Current while the store's write versions of those tables
 * (Store.version) are what they were when it was computed: any write to them, and any rollback,
 * changes one. Writes by another connection to the same file are not seen: only the node's own
 * process writes its store while it runs.
 */
export class StoreMemo<T> {
  private kept?: { stamp: number; value: T };

  constructor(
    private readonly store: Store,
    private readonly tables: readonly VersionedTable[],
    private readonly compute: () => T,
  ) {}

  get(): T {
    const stamp = this.stamp();
    if (this.kept?.stamp === stamp) return this.kept.value;
    const value = this.compute();
    // Computed while something wrote to the store (a callback of compute's): not kept.
    if (stamp === this.stamp()) this.kept = { stamp, value };
    return value;
  }

  /** The sum of the tables' versions: they only grow, so it changes whenever one of them does. */
  private stamp(): number {
    let n = 0;
    for (const t of this.tables) n += this.store.version(t);
    return n;
  }
}

const NONE: ReadonlySet<string> = Object.freeze(new Set<string>());

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
 * a write to the groups, members or meta table (Store.version), so every answer is the store's.
 */
export class Membership {
  private readonly memo: StoreMemo<Index>;

  constructor(
    private readonly store: Store,
    private readonly log?: (line: string) => void,
  ) {
    this.memo = new StoreMemo(store, ['meta', 'groups', 'members'], () => this.build());
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

  /** A group on this node (as store.groups.get()). */
  group(groupId: string): GroupRow | undefined {
    return this.index().groups.find((g) => g.id === groupId);
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

  /**
   * The members reshares removed from a group on this node; empty for a group not on it, or whose
   * record is unreadable.
   */
  formerMembers(groupId: string): ReadonlySet<string> {
    return this.index().former.get(groupId) ?? NONE;
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
