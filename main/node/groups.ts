// Groups: formation, roster, invites, joining (also newcomers joining a ready group), confirmation
// and the views of groups.
import { randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  ApiError,
  type GroupLeft,
  type GroupView,
  type MemberView,
} from '../../shared/api/index.js';
import {
  externalPublicKey,
  publicPackageFromJSON,
  publicPackageToJSON,
  taprootInternalKey,
  type PublicKeyPackage,
} from '../../shared/crypto/keys.js';
import { getSuite, parseIdentifier, type SchemeName } from '../../shared/crypto/suite.js';
import { isLowerHex } from '../../shared/protocol/fields.js';
import { validatePolicy, type GroupPolicy } from '../../shared/policy/policy.js';
import {
  decodeInvite,
  encodeInvite,
  fingerprint,
  rosterHash,
  safetyCode,
  type Roster,
} from '../../shared/protocol/roster.js';
import {
  decodeJoinRequest,
  decodeRoster,
  PROTOCOL,
  type JoinRequest,
  type RosterMessage,
} from '../../shared/protocol/wire.js';
import { logSafe } from '../../shared/protocol/text.js';
import { warmThreshold } from '../crypto/warm.js';
import { advertisedAddrsFor, publicKeyFromPeerId, type HandlerContext } from '../net/index.js';
import type { GroupRow, MemberRow } from '../store/index.js';
import {
  badRowError,
  groupPackageKey,
  isCandidate,
  isImportRecord,
  joinToken,
  parseStoredPackage,
  readMetaList,
  readMetaValue,
  readRelays,
  reportBadRow,
  short,
  type Candidate,
} from './common.js';
import { type NodeServices, type NodeContext, NodeService } from './context.js';
import { StoreMemo } from './membership.js';
import { requireStoredPolicy } from './request-policy.js';
import { GroupLeaver } from './leave.js';

/** How long a newcomer invite is good for, unless CONCLAVE_NEWCOMER_INVITE_TTL_MS says otherwise. */
export const NEWCOMER_INVITE_TTL_MS = 24 * 3600_000;
/** How many newcomer invites of one group are kept (older ones stop working). */
const NEWCOMER_INVITES_KEPT = 16;

/** A newcomer invite this node issued; `createdAt` is absent on those stored before invites expired. */
interface NewcomerInvite {
  secret: string;
  createdAt?: number;
}

/** What a join handler needs to know about the connection it came on. */
export type JoinConnection = Pick<HandlerContext, 'remoteAddr'>;

export function newcomerInviteTtlMs(): number {
  const v = Number(process.env.CONCLAVE_NEWCOMER_INVITE_TTL_MS);
  return Number.isSafeInteger(v) && v > 0 ? v : NEWCOMER_INVITE_TTL_MS;
}

export class GroupsService extends NodeService {
  /**
   * Groups whose key generation is to come (created or joined here, and not all confirmed yet:
   * the others join, then everyone compares the safety code): this node rehearses the scheme's
   * arithmetic meanwhile (main/crypto/warm.ts), so that the key generation runs compiled code. Once
   * per scheme (warmFor), stopped when the key generation starts, else after WARM_MAX_MS.
   */
  private warming = new Map<string, { stop(): void }>();
  /** Confirmations seen, by group then peer: the roster hash each member confirmed. */
  confirmations = new Map<string, Map<string, string>>();
  /** Leaving a group (leave.ts). */
  private readonly leaver = new GroupLeaver(this.ctx, this, (id) => this.dkg.forget(id));

  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<NodeServices, 'ceremony' | 'dkg' | 'imports' | 'requests'>,
  ) {
    super(ctx);
  }

  private get ceremony() {
    return this.deps.ceremony;
  }
  private get dkg() {
    return this.deps.dkg;
  }
  private get imports() {
    return this.deps.imports;
  }
  private get requests() {
    return this.deps.requests;
  }

  /** Writes to the groups and members tables by other services (ceremonies, DKG, sync) go here. */
  updateGroup(id: string, patch: Partial<Omit<GroupRow, 'id'>>): void {
    this.store.groups.update(id, patch);
  }

  upsertMember(row: MemberRow): void {
    this.store.members.upsert(row);
  }

  updateMember(
    groupId: string,
    peerId: string,
    patch: Partial<Omit<MemberRow, 'groupId' | 'peerId'>>,
  ): void {
    this.store.members.update(groupId, peerId, patch);
  }

  deleteMember(groupId: string, peerId: string): void {
    this.store.members.delete(groupId, peerId);
  }

  /** A member removed by a reshare: it may only ask how that reshare ended. */
  isFormerMember(groupId: string, peer: string): boolean {
    return this.ctx.membership.isFormer(groupId, peer);
  }

  /** A member removed by a reshare from any group on this node. */
  isFormerMemberOfAny(peer: string): boolean {
    return this.ctx.membership.isFormerOfAny(peer);
  }

  /**
   * Another peer on the roster of any group on this node, or a newcomer named by a pending
   * reshare or repair of a ready group. Asked for every incoming message and connection review:
   * answered from the membership index and the newcomers below, not from the store each time.
   */
  isKnownMember(peer: string): boolean {
    if (peer === this.me.peerId) return false;
    return this.ctx.membership.isMemberOfAny(peer) || this.pendingNewcomers.get().has(peer);
  }

  /**
   * The newcomers of the reshares and repairs pending or under way in ready groups: a newcomer
   * takes part in the reshare that adds it, before it is on the roster (as
   * ceremony.newcomerInPendingRequest, for every group at once). Read again after any write to the
   * groups, members, meta or requests (a request naming a newcomer counts from when it is stored).
   * A request whose parameters cannot be read names nobody (the requests sweep ends it).
   */
  private readonly pendingNewcomers = new StoreMemo(
    this.store,
    ['meta', 'groups', 'members', 'requests'],
    () => this.readPendingNewcomers(),
  );

  private readPendingNewcomers(): ReadonlySet<string> {
    const peers = new Set<string>();
    for (const g of this.ctx.membership.groups()) {
      if (g.status !== 'ready') continue;
      for (const r of this.store.requests.list({
        groupId: g.id,
        statuses: ['pending', 'signing'],
      })) {
        if (r.kind !== 'reshare' && r.kind !== 'repair') continue;
        try {
          for (const m of this.ceremony.plannedRoster(g, this.ceremony.ceremonyParams(r)))
            peers.add(m.peerId);
        } catch {
          continue;
        }
      }
    }
    return peers;
  }

  /** A newcomer that joined a ready group with one of this node's invites, waiting to be added. */
  isCandidate(peer: string): boolean {
    return this.ctx.membership.isCandidate(peer);
  }

  private candidates(groupId: string): Candidate[] {
    return readMetaList(this.store, `candidates:${groupId}`, isCandidate, this.log);
  }

  /**
   * Of the addresses a peer advertised, those its own connection (`remoteAddr`) vouches for: its
   * IP, the relay it came through, or one of ours; never a third party's (see advertisedAddrsFor).
   */
  vouchedAddrs(peer: string, advertised: readonly string[], remoteAddr: string): string[] {
    return advertisedAddrsFor(advertised, remoteAddr, { peerId: peer, relays: this.ourRelays() });
  }

  /** The relays this node has a reservation on, and those in its settings. */
  private ourRelays(): string[] {
    const out = new Set<string>();
    for (const a of this.host.addrs()) {
      const at = a.indexOf('/p2p-circuit');
      if (at > 0) out.add(a.slice(0, at));
    }
    // Unreadable settings read as none: the reserved relays above are still ours.
    for (const r of readRelays(this.store, this.log)) out.add(r);
    return [...out];
  }

  /** The groups this peer is a member of (rows shared with the membership index: read only). */
  sharedGroups(peer: string): readonly Readonly<GroupRow>[] {
    return this.ctx.membership.groupsOf(peer);
  }

  findGroup(ref: string): GroupRow {
    const byId = this.store.groups.get(ref);
    if (byId) return byId;
    const byName = this.store.groups.findByName(ref);
    if (byName.length === 1) return byName[0];
    if (byName.length > 1)
      throw new ApiError(
        'ambiguous',
        `several groups are called "${ref}"; use the group id (${byName.map((g) => g.id).join(', ')})`,
      );
    throw new ApiError('not_found', `no group "${ref}" on this node; see \`conclave group list\``);
  }

  private roster(g: GroupRow): Roster {
    return {
      groupId: g.id,
      name: g.name,
      threshold: g.threshold,
      size: g.size,
      scheme: g.scheme,
      creator: g.creatorPeerId,
      members: this.store.members
        .list(g.id)
        .map((m) => ({ index: m.index, peerId: m.peerId, name: m.name })),
      ...(this.importedKey(g.id) ? { importedKey: this.importedKey(g.id) } : {}),
    };
  }

  /** Hex of the group key of a group that shares an imported key, else undefined. */
  importedKey(groupId: string): string | undefined {
    return readMetaValue(this.store, `import:${groupId}`, isImportRecord, this.log)?.publicKey;
  }

  groupView(g: GroupRow): GroupView {
    const members = this.store.members.list(g.id).sort((a, b) => a.index - b.index);
    const complete = members.length === g.size;
    const confirmed = this.confirmations.get(g.id);
    const view: GroupView = {
      id: g.id,
      name: g.name,
      threshold: g.threshold,
      size: g.size,
      scheme: g.scheme,
      status: g.status,
      epoch: g.epoch,
      createdAt: new Date(g.createdAt).toISOString(),
      members: members.map((m): MemberView => ({
        name: m.name,
        peerId: m.peerId,
        fingerprint: m.fingerprint,
        index: m.index,
        online: m.peerId === this.me.peerId || this.host.isConnected(m.peerId),
        confirmed: m.confirmed || confirmed?.has(m.peerId) === true || g.status === 'ready',
        me: m.peerId === this.me.peerId,
      })),
    };
    if (complete) view.safetyCode = safetyCode(rosterHash(this.roster(g)));
    // A damaged stored package: the view shows the group without its key (the row logged once).
    const pub = g.publicPackage ? this.viewPackage(g) : undefined;
    if (pub) {
      try {
        view.publicKey = bytesToHex(externalPublicKey(pub));
        if (g.scheme === 'taproot') view.internalKey = bytesToHex(taprootInternalKey(pub));
      } catch {
        delete view.publicKey;
        reportBadRow(this.store, groupPackageKey(g.id), 'has an unusable group key', this.log);
      }
    }
    if (g.error) view.error = g.error;
    const imported = this.importedKey(g.id);
    if (imported) view.importedKey = imported;
    if (g.status === 'ready') {
      // Only well-formed newcomers (a real peer id): a damaged row must not break the view.
      const candidates = this.candidates(g.id);
      if (candidates.length)
        view.newcomers = candidates.map((c) => ({
          name: c.name,
          peerId: c.peerId,
          fingerprint: fingerprint(publicKeyFromPeerId(c.peerId)),
        }));
    }
    const exposed = this.store.meta.get(`exposed:${g.id}`);
    if (exposed) view.exposed = exposed;
    // The creator can show the invite again (after a reload) until everyone has joined; it is
    // rebuilt from the stored secret with today's addresses, so it is the same invite, still valid.
    if (g.status === 'forming' && !complete && g.creatorPeerId === this.me.peerId && g.inviteSecret)
      view.invite = this.inviteFor(g, g.inviteSecret, imported);
    return view;
  }

  createGroup(
    input: { name: string; threshold: number; size: number; scheme: SchemeName },
    imported?: { publicKey: string; keyFile: string },
  ) {
    this.refuseTakenName(input.name);
    const id = bytesToHex(nodeRandomBytes(16));
    const secret = bytesToHex(nodeRandomBytes(32));
    const now = Date.now();
    this.store.tx(() => {
      this.store.groups.insert({
        id,
        name: input.name,
        threshold: input.threshold,
        size: input.size,
        scheme: input.scheme,
        status: 'forming',
        creatorPeerId: this.me.peerId,
        inviteSecret: secret,
        epoch: 0,
        createdAt: now,
        updatedAt: now,
      });
      this.store.members.upsert(this.selfMember(id, 1));
      if (imported) this.store.meta.set(`import:${id}`, JSON.stringify(imported));
      this.audit(
        'group.created',
        { name: input.name, threshold: input.threshold, size: input.size, scheme: input.scheme },
        id,
      );
    });
    const g = this.store.groups.get(id)!;
    if (!imported) this.warmFor(id, g.scheme);
    return { ...this.groupView(g), invite: this.inviteFor(g, secret, imported?.publicKey) };
  }

  /** An invite to a group this node created, with the addresses this node listens on now. */
  private inviteFor(g: GroupRow, secret: string, importedKey?: string): string {
    return encodeInvite({
      v: 1,
      groupId: g.id,
      name: g.name,
      threshold: g.threshold,
      size: g.size,
      scheme: g.scheme,
      creator: this.me.peerId,
      addrs: this.host.addrs(),
      secret,
      ...(importedKey ? { importedKey } : {}),
    });
  }

  /**
   * Group names are unique on a node: every name-based command (`--group NAME`) needs to find
   * exactly one group, so a second group of the same name is refused (`except`: the group itself).
   */
  private refuseTakenName(name: string, except?: string): void {
    const other = this.store.groups.findByName(name).find((g) => g.id !== except);
    if (other)
      throw new ApiError(
        'conflict',
        `you already have a group called "${name}" (${other.id}); group names must be unique on this node, ${except ? 'so this invite cannot be joined here: ask its creator for a group of another name' : 'so choose another name'}`,
      );
  }

  private selfMember(groupId: string, index: number): MemberRow {
    return {
      groupId,
      peerId: this.me.peerId,
      name: this.me.name,
      identityKey: bytesToHex(this.me.publicKey),
      fingerprint: fingerprint(this.me.publicKey),
      index,
      addrs: this.host.addrs(),
      confirmed: false,
      joinedAt: Date.now(),
    };
  }

  async joinGroup(inviteText: string): Promise<GroupView> {
    let invite;
    try {
      invite = decodeInvite(inviteText);
    } catch (e) {
      throw new ApiError('bad_input', (e as Error).message);
    }
    if (invite.creator === this.me.peerId)
      throw new ApiError('conflict', 'this is your own invite: share it with the other members');
    const existing = this.store.groups.get(invite.groupId);
    if (existing && existing.status !== 'forming') return this.groupView(existing);
    this.refuseTakenName(invite.name, invite.groupId);
    await this.host.addAddresses(invite.creator, invite.addrs);
    const req: JoinRequest = {
      v: 1,
      type: 'join',
      groupId: invite.groupId,
      token: joinToken(invite.secret, invite.groupId, this.me.peerId),
      name: this.me.name,
      addrs: this.host.addrs(),
    };
    let res: unknown;
    try {
      res = await this.host.request(invite.creator, PROTOCOL.join, req, {
        addrs: invite.addrs,
        timeoutMs: 15_000,
      });
    } catch (e) {
      throw new ApiError(
        'unreachable',
        `could not reach the group's creator (${(e as Error).message}); check that their node is running and reachable, then try again`,
      );
    }
    const o = res as { ok?: boolean; error?: string; roster?: unknown };
    if (!o || o.ok !== true)
      throw new ApiError(
        'conflict',
        `the creator refused to add you: ${o?.error ?? 'no reason given'}`,
      );
    const roster = decodeRoster(o.roster);
    if ((o as { newcomer?: unknown }).newcomer === true)
      return this.acceptNewcomerRoster(
        invite.creator,
        roster,
        (o as { publicPackage?: unknown }).publicPackage,
        (o as { policy?: unknown }).policy,
      );
    if (roster.importedKey !== invite.importedKey)
      throw new ApiError(
        'conflict',
        'the creator answered with another key than the invite announced',
      );
    if (roster.groupId !== invite.groupId || roster.creator !== invite.creator)
      throw new ApiError('conflict', 'the creator answered with another group');
    if (
      roster.threshold !== invite.threshold ||
      roster.size !== invite.size ||
      roster.scheme !== invite.scheme ||
      roster.name !== invite.name
    )
      throw new ApiError('conflict', 'the group parameters differ from the invite');
    this.store.tx(() => {
      if (!this.store.groups.get(roster.groupId)) {
        this.insertGroupFromRoster(roster, 0);
        if (roster.importedKey)
          this.store.meta.set(
            `import:${roster.groupId}`,
            JSON.stringify({ publicKey: roster.importedKey }),
          );
        this.audit(
          'group.joined',
          { name: roster.name, creator: roster.creator, importedKey: roster.importedKey },
          roster.groupId,
        );
      }
      this.applyRoster(roster);
    });
    if (!roster.importedKey) this.warmFor(roster.groupId, roster.scheme);
    return this.groupView(this.store.groups.get(roster.groupId)!);
  }

  rosterMessage(groupId: string): RosterMessage {
    const g = this.store.groups.get(groupId)!;
    return {
      v: 1,
      type: 'roster',
      groupId,
      name: g.name,
      threshold: g.threshold,
      size: g.size,
      scheme: g.scheme,
      creator: g.creatorPeerId,
      createdAt: g.createdAt,
      members: this.store.members
        .list(groupId)
        .sort((a, b) => a.index - b.index)
        .map((m) => ({
          index: m.index,
          peerId: m.peerId,
          name: m.name,
          addrs: m.peerId === this.me.peerId ? this.host.addrs() : m.addrs,
        })),
      ...(this.importedKey(groupId) ? { importedKey: this.importedKey(groupId) } : {}),
    };
  }

  /** Creator side of a join: check the invite token, add the member, tell everyone. */
  async onJoin(from: string, msg: unknown, net: JoinConnection): Promise<unknown> {
    let req: JoinRequest;
    try {
      req = decodeJoinRequest(msg);
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
    // Only the addresses this connection vouches for are kept and later dialled.
    req = { ...req, addrs: this.vouchedAddrs(from, req.addrs, net.remoteAddr) };
    const g = this.store.groups.get(req.groupId);
    if (g && g.status === 'ready') return this.onNewcomerJoin(from, req, g);
    if (!g || g.creatorPeerId !== this.me.peerId || !g.inviteSecret)
      return { ok: false, error: 'unknown group' };
    const expected = Buffer.from(joinToken(g.inviteSecret, g.id, from), 'hex');
    const given = Buffer.from(req.token, 'hex');
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      return { ok: false, error: 'the invite code is not valid for this group' };
    const members = this.store.members.list(g.id);
    if (!members.some((m) => m.peerId === from)) {
      if (g.status !== 'forming' || members.length >= g.size)
        return { ok: false, error: 'the group is already complete' };
      let key: Uint8Array;
      try {
        key = publicKeyFromPeerId(from);
      } catch {
        return { ok: false, error: 'only Ed25519 identities can join' };
      }
      this.store.tx(() => {
        this.store.members.upsert({
          groupId: g.id,
          peerId: from,
          name: req.name,
          identityKey: bytesToHex(key),
          fingerprint: fingerprint(key),
          index: members.length + 1,
          addrs: req.addrs,
          confirmed: false,
          joinedAt: Date.now(),
        });
        this.audit('group.member_joined', { peerId: from, name: req.name }, g.id);
        if (members.length + 1 === g.size)
          this.store.groups.update(g.id, { status: 'confirming', updatedAt: Date.now() });
      });
      if (members.length + 1 === g.size) this.warmFor(g.id, g.scheme);
      await this.host.addAddresses(from, req.addrs);
      this.emit({ type: 'group', id: g.id });
      this.log(`${logSafe(req.name)} (${short(from)}) joined ${logSafe(g.name)}`);
      const roster = this.rosterMessage(g.id);
      for (const m of roster.members)
        if (m.peerId !== this.me.peerId && m.peerId !== from)
          this.sendReliably(m.peerId, roster, 60_000).catch(() => undefined);
    }
    return { ok: true, roster: this.rosterMessage(g.id) };
  }

  /**
   * The group's public key package as groupView shows it: the node's decoded copy when `g` is the
   * stored row (decoding takes tens of ms), else `g`'s own; undefined (logged once) if damaged.
   */
  private viewPackage(g: GroupRow): PublicKeyPackage | undefined {
    if (this.store.groups.get(g.id)?.publicPackage === g.publicPackage)
      return this.publicPackage(g.id);
    const pub = parseStoredPackage(g.publicPackage!);
    if (!pub) reportBadRow(this.store, groupPackageKey(g.id), 'is not a key package', this.log);
    return pub;
  }

  /** An invite for a newcomer to a ready group; the newcomer becomes a member through a reshare. */
  inviteNewcomer(ref: string): { group: string; invite: string } {
    const g = this.findGroup(ref);
    if (g.status !== 'ready')
      throw new ApiError(
        'not_ready',
        `group ${g.name} is ${g.status}; newcomers join a ready group`,
      );
    // What a newcomer joining with it is given: refused here, naming the row, if it is damaged.
    this.newcomerGift(g);
    const secret = bytesToHex(nodeRandomBytes(32));
    const now = Date.now();
    const ttl = newcomerInviteTtlMs();
    // Expired ones are dropped; the latest few are kept (an older one stops working).
    const live = this.newcomerInvites(g.id).filter((i) => !this.inviteExpired(i, now, ttl));
    const list: NewcomerInvite[] = [
      ...live.slice(-(NEWCOMER_INVITES_KEPT - 1)),
      { secret, createdAt: now },
    ];
    this.store.tx(() => {
      this.store.meta.set(`newcomer-invites:${g.id}`, JSON.stringify(list));
      this.audit('group.newcomer_invited', { expiresAt: now + ttl }, g.id);
    });
    return { group: g.id, invite: this.inviteFor(g, secret) };
  }

  /** Inviter side: remember the newcomer as a candidate and hand it the roster and key package. */
  private async onNewcomerJoin(from: string, req: JoinRequest, g: GroupRow): Promise<unknown> {
    const given = Buffer.from(req.token, 'hex');
    const invite = this.newcomerInvites(g.id).find((i) => {
      const expected = Buffer.from(joinToken(i.secret, g.id, from), 'hex');
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
    if (!invite) return { ok: false, error: 'the invite code is not valid for this group' };
    if (this.inviteExpired(invite, Date.now(), newcomerInviteTtlMs()))
      return { ok: false, error: 'invite expired; ask for a new one' };
    if (this.store.members.get(g.id, from))
      return { ok: false, error: 'you are already a member of this group' };
    try {
      publicKeyFromPeerId(from);
    } catch {
      return { ok: false, error: 'only Ed25519 identities can join' };
    }
    // Read before the newcomer is recorded: damaged, the join is refused (the row logged once)
    // rather than answered with a key package or policy this node cannot vouch for.
    let gift: { publicPackage: unknown; policy: GroupPolicy };
    try {
      gift = this.newcomerGift(g);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      return {
        ok: false,
        error: "the inviter's copy of the group is damaged; ask another member for an invite",
      };
    }
    const before = this.candidates(g.id);
    // A join whose connection vouches for no address keeps the addresses known from before.
    const addrs = req.addrs.length
      ? req.addrs
      : (before.find((c) => c.peerId === from)?.addrs ?? []);
    const candidates = before.filter((c) => c.peerId !== from);
    candidates.push({ peerId: from, name: req.name, addrs });
    this.store.meta.set(`candidates:${g.id}`, JSON.stringify(candidates));
    await this.host.addAddresses(from, addrs);
    this.audit('group.newcomer_joined', { peerId: from, name: req.name }, g.id);
    this.emit({ type: 'group', id: g.id });
    const name = logSafe(req.name);
    const group = logSafe(g.name);
    this.log(
      `${name} (${short(from)}) asks to join ${group}; to add them: conclave request reshare --group ${group} --add ${name}; if it replaces a lost device: conclave request repair --group ${group} --member <lost member> --newcomer ${name}`,
    );
    return {
      ok: true,
      newcomer: true,
      roster: this.rosterMessage(g.id),
      ...gift,
    };
  }

  /**
   * What a newcomer is handed with the roster: the group's key package (as stored, checked to
   * decode) and its policy. A damaged row is a typed error naming it (user actions and the join
   * answer refuse on it: a newcomer must not be given the default policy in place of the real one).
   */
  private newcomerGift(g: GroupRow): { publicPackage: unknown; policy: GroupPolicy } {
    // The node's decoded copy: a damaged one reads as none (the row logged once).
    if (!g.publicPackage || !this.publicPackage(g.id))
      throw badRowError(groupPackageKey(g.id), 'a key package');
    let policy: GroupPolicy;
    try {
      policy = requireStoredPolicy(this.store, g.id);
    } catch (e) {
      reportBadRow(this.store, `policy:${g.id}`, 'is not a group policy', this.log);
      throw e;
    }
    return { publicPackage: JSON.parse(g.publicPackage) as unknown, policy };
  }

  /**
   * The newcomer invites of a group as stored: current entries carry their creation time, those
   * from before invites expired are bare secrets. Anything unreadable is left out, never thrown.
   */
  private newcomerInvites(groupId: string): NewcomerInvite[] {
    return readMetaList(this.store, `newcomer-invites:${groupId}`, isStoredInvite, this.log).map(
      (item) => (isSecret(item) ? { secret: item } : item),
    );
  }

  /** An invite without a creation time (stored before invites expired) counts as expired. */
  private inviteExpired(invite: NewcomerInvite, now: number, ttlMs: number): boolean {
    return invite.createdAt === undefined || now - invite.createdAt >= ttlMs;
  }

  /** Newcomer side: store the group's roster and key package, and wait for the reshare. */
  private acceptNewcomerRoster(
    inviter: string,
    roster: RosterMessage,
    pkg: unknown,
    policy?: unknown,
  ): GroupView {
    let pub: PublicKeyPackage;
    try {
      pub = publicPackageFromJSON(pkg as never);
    } catch (e) {
      throw new ApiError(
        'conflict',
        `the inviter sent an invalid key package: ${(e as Error).message}`,
      );
    }
    const now = Date.now();
    this.store.tx(() => {
      if (!this.store.groups.get(roster.groupId)) {
        this.insertGroupFromRoster(
          roster,
          pub.epoch,
          'waiting to be added: a member proposes a reshare that adds you, and the group approves it',
        );
      }
      for (const m of roster.members) {
        const key = publicKeyFromPeerId(m.peerId);
        this.store.members.upsert({
          groupId: roster.groupId,
          peerId: m.peerId,
          name: m.name,
          identityKey: bytesToHex(key),
          fingerprint: fingerprint(key),
          index: m.index,
          addrs: m.addrs,
          confirmed: true,
          joinedAt: now,
        });
      }
      this.store.meta.set(`newcomer:${roster.groupId}`, JSON.stringify({ inviter }));
      // The policy in force, so this member's requests carry the same policy hash as everyone's.
      if (policy !== undefined)
        this.store.meta.set(
          `policy:${roster.groupId}`,
          JSON.stringify(validatePolicy(policy, roster.threshold, roster.size)),
        );
      this.store.meta.set(
        `newcomer-package:${roster.groupId}`,
        JSON.stringify(publicPackageToJSON(pub)),
      );
      this.audit('group.joined_as_newcomer', { name: roster.name, inviter }, roster.groupId);
    });
    for (const m of roster.members) void this.host.addAddresses(m.peerId, m.addrs);
    return this.groupView(this.store.groups.get(roster.groupId)!);
  }

  /** A group this node learns of from a roster (joining by invite), in status 'forming'. */
  private insertGroupFromRoster(roster: RosterMessage, epoch: number, error?: string): void {
    this.store.groups.insert({
      id: roster.groupId,
      name: roster.name,
      threshold: roster.threshold,
      size: roster.size,
      scheme: roster.scheme,
      status: 'forming',
      creatorPeerId: roster.creator,
      epoch,
      createdAt: roster.createdAt,
      updatedAt: Date.now(),
      ...(error ? { error } : {}),
    });
  }

  /** Member side: the creator's roster is the truth about who is in the group. */
  applyRoster(r: RosterMessage): void {
    const g = this.store.groups.get(r.groupId);
    if (!g || g.creatorPeerId !== r.creator) return;
    if (g.status !== 'forming' && g.status !== 'confirming') return;
    const mine = r.members.find((m) => m.peerId === this.me.peerId);
    if (!mine) return;
    for (const m of r.members) {
      const existing = this.store.members.get(r.groupId, m.peerId);
      let key: Uint8Array;
      try {
        key = publicKeyFromPeerId(m.peerId);
      } catch {
        continue;
      }
      this.store.members.upsert({
        groupId: r.groupId,
        peerId: m.peerId,
        name: m.name,
        identityKey: bytesToHex(key),
        fingerprint: fingerprint(key),
        index: m.index,
        addrs: m.peerId === this.me.peerId ? this.host.addrs() : m.addrs,
        confirmed: existing?.confirmed ?? false,
        joinedAt: existing?.joinedAt ?? Date.now(),
      });
      if (m.peerId !== this.me.peerId) void this.host.addAddresses(m.peerId, m.addrs);
    }
    if (r.members.length === r.size && g.status === 'forming') {
      this.store.groups.update(r.groupId, { status: 'confirming', updatedAt: Date.now() });
      this.warmFor(r.groupId, g.scheme);
    }
    this.emit({ type: 'group', id: r.groupId });
    this.maybeStartDkg(r.groupId);
  }

  confirmGroup(ref: string): GroupView {
    const g = this.findGroup(ref);
    if (g.status === 'ready' || g.status === 'dkg') return this.groupView(g);
    if (g.status !== 'confirming')
      throw new ApiError(
        'not_ready',
        `the group has ${this.store.members.list(g.id).length} of ${g.size} members; wait until everyone joined, compare the safety code, then confirm`,
      );
    const hash = rosterHash(this.roster(g));
    this.noteConfirmation(g.id, this.me.peerId, hash);
    this.store.members.update(g.id, this.me.peerId, { confirmed: true });
    this.audit('group.confirmed', { rosterHash: hash, safetyCode: safetyCode(hash) }, g.id);
    // Members of a forming group have mostly met only the creator: each is dialled here, and a
    // confirmation lost under load would hold the key generation until a reconnect (sync.ts).
    this.broadcast(g.id, { v: 1, type: 'confirm', groupId: g.id, rosterHash: hash }, 60_000);
    this.maybeStartDkg(g.id);
    return this.groupView(this.store.groups.get(g.id)!);
  }

  noteConfirmation(groupId: string, peer: string, hash: string): void {
    let m = this.confirmations.get(groupId);
    if (!m) this.confirmations.set(groupId, (m = new Map()));
    m.set(peer, hash);
  }

  /** Schemes rehearsed already by this node: compiled once, the code stays so for the process. */
  private warmed = new Set<string>();

  /**
   * Starts the rehearsal of `scheme` for the coming key generation of `groupId` (warming), the
   * first time only: a second rehearsal would only compete with the key generation for the cores.
   */
  private warmFor(groupId: string, scheme: string): void {
    if (this.warmed.has(scheme) || this.stopped) return;
    this.warmed.add(scheme);
    this.warming.set(groupId, warmThreshold(scheme));
  }

  maybeStartDkg(groupId: string): void {
    const g = this.store.groups.get(groupId);
    if (!g || g.status !== 'confirming') return;
    const members = this.store.members.list(groupId);
    if (members.length !== g.size) return;
    const hash = rosterHash(this.roster(g));
    const conf = this.confirmations.get(groupId);
    if (!conf || conf.get(this.me.peerId) !== hash) return;
    for (const m of members) {
      const h = conf.get(m.peerId);
      if (h === undefined) return;
      if (h !== hash) {
        this.failGroup(
          groupId,
          `${m.name} confirmed a different roster: the members do not see the same group. Do not use this group; create a new one.`,
        );
        return;
      }
    }
    // The key generation (or an import's hand-out) starts now: the rehearsal gives way to it.
    this.warming.get(groupId)?.stop();
    this.warming.delete(groupId);
    // One commit for the roster's marks, not an fsync'd write per member.
    const unmarked = members.filter((m) => !m.confirmed);
    if (unmarked.length)
      this.store.tx(() => {
        for (const m of unmarked) this.store.members.update(groupId, m.peerId, { confirmed: true });
      });
    if (this.importedKey(groupId)) {
      // An imported key: no DKG; the importer hands out the shares once everyone confirmed.
      if (g.creatorPeerId === this.me.peerId) void this.imports.distributeImport(groupId);
      else {
        this.store.groups.update(groupId, {
          status: 'dkg',
          rosterHash: hash,
          updatedAt: Date.now(),
        });
        this.emit({ type: 'group', id: groupId });
      }
      return;
    }
    void this.dkg.runDkg(groupId, hash);
  }

  failGroup(groupId: string, error: string): void {
    this.store.groups.update(groupId, { status: 'failed', error, updatedAt: Date.now() });
    this.emit({ type: 'group', id: groupId });
    this.audit('group.failed', { error }, groupId);
    this.dkg.forget(groupId);
    this.log(`group ${groupId}: ${logSafe(error, 300)}`);
  }
  /** Leaves a group and removes it from this node (group.leave; see leave.ts). */
  leaveGroup(ref: string): Promise<GroupLeft> {
    return this.leaver.leave(ref);
  }

  nameOfIdentifier(groupId: string, idHex: string): string {
    const g = this.store.groups.get(groupId)!;
    try {
      const idx = Number(parseIdentifier(getSuite(g.scheme), idHex));
      const m = this.store.members.list(groupId).find((x) => x.index === idx);
      return m ? `${m.name} (${short(m.peerId)})` : idHex;
    } catch {
      return idHex;
    }
  }
}

function isSecret(v: unknown): v is string {
  return isLowerHex(v, 64);
}

/** A stored newcomer invite: its secret and creation time, or a bare secret (older format). */
function isStoredInvite(v: unknown): v is string | Required<NewcomerInvite> {
  if (isSecret(v)) return true;
  if (typeof v !== 'object' || v === null) return false;
  const { secret, createdAt } = v as { secret?: unknown; createdAt?: unknown };
  return isSecret(secret) && typeof createdAt === 'number' && Number.isFinite(createdAt);
}
