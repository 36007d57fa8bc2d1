// The node's context: the components and cross-cutting helpers injected into every service.
import { ApiError, type ApiEvent } from '../../shared/api/index.js';
import { makeEntry, type AuditEntry } from '../../shared/audit/chain.js';
import { SecretShare, type KeyPackage, type PublicKeyPackage } from '../../shared/crypto/keys.js';
import { PROTOCOL, type GroupMessage } from '../../shared/protocol/wire.js';
import { createDropLog, type DropLog } from '../net/drops.js';
import type { Host } from '../net/index.js';
import type { MemberRow, Store } from '../store/index.js';
import type { Vault } from '../vault/index.js';
import type { AuditService } from './audit.js';
import type { BackupService } from './backup.js';
import type { CeremonyService } from './ceremonies/ceremony.js';
import type { ImportService } from './ceremonies/import.js';
import type { ReconstructService } from './ceremonies/reconstruct.js';
import type { RefreshReshareService } from './ceremonies/refresh-reshare.js';
import type { RepairService } from './ceremonies/repair.js';
import type { SettleService } from './ceremonies/settle.js';
import { HONEST, makeTamper, type Tamper } from './adversary.js';
import {
  badRowError,
  groupPackageKey,
  parseStoredPackage,
  reportBadRow,
  shareName,
  short,
  type SignMessage,
} from './common.js';
import type { DkgService } from './dkg.js';
import type { GroupsService } from './groups.js';
import type { Inboxes } from './inbox.js';
import { Membership } from './membership.js';
import type { RequestsService } from './requests.js';
import type { SigningService } from './signing.js';
import type { SyncService } from './sync.js';

/** The custodian's own identity, loaded from the vault at start. */
export interface Identity {
  peerId: string;
  name: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** Signs with the identity key (Ed25519). The seed stays inside this closure. */
  sign(msg: Uint8Array): Uint8Array;
}

export interface CustodianOptions {
  store: Store;
  vault: Vault;
  host: Host;
  identity: Identity;
  log: (line: string) => void;
  /** Deadline for one signing round trip to an approver (ms). */
  signTimeoutMs?: number;
  /** Deadline for a whole refresh, reshare or repair (ms); a ceremony past it aborts. */
  ceremonyTimeoutMs?: number;
  /** Test-only fault injection, honoured only when CONCLAVE_ALLOW_FAULTS=1. */
  fault?: CustodianFault;
  /** At most one dropped-message line per reason per this many ms (default 10 s). */
  dropLogIntervalMs?: number;
  /** Test-only lies in this node's own messages (adversary.ts), honoured only with the gate. */
  tamper?: { kase: string; stateFile: string };
}

/**
 * How long a new entry of this node's group chain waits to be sent to the members with the ones
 * that follow it: replication goes in batches, not one message to every member per entry.
 */
export const AUDIT_BATCH_MS = 250;
/**
 * Entry types that end a request: its entries go out at once, in one batch (after the commit).
 * Not 'request.signed': every member writes one as the outcome reaches it, so sending them at
 * once put a message from each member to each other (N x (N - 1)) on the wire while the members,
 * the approver waiting for the signature among them, were still taking in the outcome. They go
 * with the batch instead (AUDIT_BATCH_MS after the first entry of it).
 */
const AUDIT_SEND_NOW = new Set([
  'request.failed',
  'request.expired',
  'request.denied_final',
  'request.ecdh_done',
]);

/** How often expired entries leave the buffers peers can fill (their TTLs are minutes or more). */
const BUFFER_SWEEP_MS = 10_000;

/** An in-memory buffer a peer can fill (a BoundedMap or BoundedBuckets), as the context sees it. */
export interface SweptBuffer {
  readonly size: number;
  sweep(): number;
}

/**
 * Test-only faults (honoured only with CONCLAVE_ALLOW_FAULTS=1): hang while signing; exit in the
 * middle of a ceremony; exit after dealing to one new member only; exit right after telling one
 * member "done" (the others never hear it).
 */
export type CustodianFault =
  'hang-sign' | 'exit-mid-ceremony' | 'exit-during-round2' | 'exit-after-done';
export const CUSTODIAN_FAULTS: readonly CustodianFault[] = [
  'hang-sign',
  'exit-mid-ceremony',
  'exit-during-round2',
  'exit-after-done',
];

/** The services a custodian is composed of, by the name each service knows the others by. */
export interface NodeServices {
  groups: GroupsService;
  dkg: DkgService;
  inboxes: Inboxes;
  requests: RequestsService;
  signing: SigningService;
  auditLog: AuditService;
  sync: SyncService;
  backup: BackupService;
  ceremony: CeremonyService;
  reshare: RefreshReshareService;
  repair: RepairService;
  reconstruct: ReconstructService;
  imports: ImportService;
  settle: SettleService;
}

/**
 * The components every service shares (store, vault, host, identity, options) and the helpers that
 * cut across them: sending to members, events and request waiters, drop counters, the audit
 * appender, member lookups and the key packages of ready groups.
 */
export class NodeContext {
  readonly store: Store;
  readonly vault: Vault;
  readonly host: Host;
  readonly me: Identity;
  readonly log: (line: string) => void;
  readonly signTimeoutMs: number;
  readonly ceremonyTimeoutMs: number;
  readonly fault?: CustodianFault;
  /** What this node's outgoing messages and answers go through: HONEST unless the test gate. */
  readonly tamper: Tamper;
  stopped = false;
  /** Waiters for request changes, by request id. */
  waiters = new Map<string, Set<() => void>>();
  /** Key packages of ready groups, loaded from the vault on demand. Memory only. */
  keys = new Map<string, KeyPackage>();
  /**
   * Who is a member of what, for the lookups of every incoming message: read from the store again
   * only after a write to its groups, members or meta (membership.ts).
   */
  readonly membership: Membership;
  /** Per group: the pending send of this node's new entries of its chain, and whether it is due now. */
  private auditFlush = new Map<string, { timer: NodeJS.Timeout; now: boolean }>();
  /** Per own group chain: the last seq broadcast to the members (the rest follows on sync). */
  private auditSent = new Map<string, number>();
  private listeners = new Set<(e: ApiEvent) => void>();
  /** Messages this node dropped after decoding, by reason (the host counts transport-level drops). */
  dropped: Record<string, number> = {};
  /** One log line per drop reason per interval, with a count of the rest (a flood stays quiet). */
  private readonly dropLog: DropLog;
  /** The in-memory buffers peers can fill, by name: swept on a timer, their sizes in the status. */
  private readonly buffers = new Map<string, SweptBuffer>();
  private sweeper?: NodeJS.Timeout;

  constructor(opts: CustodianOptions) {
    this.store = opts.store;
    this.vault = opts.vault;
    this.host = opts.host;
    this.me = opts.identity;
    this.log = opts.log;
    this.membership = new Membership(this.store, this.log);
    this.signTimeoutMs = opts.signTimeoutMs ?? 10_000;
    this.ceremonyTimeoutMs = opts.ceremonyTimeoutMs ?? 90_000;
    this.fault = process.env.CONCLAVE_ALLOW_FAULTS === '1' ? opts.fault : undefined;
    this.tamper =
      process.env.CONCLAVE_ALLOW_FAULTS === '1' && opts.tamper
        ? makeTamper(opts.tamper.kase, {
            me: this.me,
            members: (g) => this.store.members.list(g).sort((a, b) => a.index - b.index),
            scheme: (g) => this.store.groups.get(g)!.scheme,
            stateFile: opts.tamper.stateFile,
            log: this.log,
          })
        : HONEST;
    this.dropLog = createDropLog(opts.log, {
      prefix: 'node: ',
      intervalMs: opts.dropLogIntervalMs,
    });
  }

  /**
   * Counts a dropped message (or a buffered one evicted) and logs it, rate limited. `reason` is a
   * fixed code; anything in `detail` that came from the network must be wrapped in logSafe.
   */
  count(reason: string, detail = ''): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
    this.dropLog(reason, detail);
  }

  /** Sweeps the tracked buffers every 10 s, until `stopSweeping`. */
  startSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = setInterval(() => this.sweepBuffers(), BUFFER_SWEEP_MS);
    this.sweeper.unref?.();
  }

  /** Stops the sweeps and writes the held-back drop summaries now (when the node stops). */
  stopSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.dropLog.flush();
  }

  /** Registers a buffer peers can fill, so that it is swept and its size shown in the status. */
  trackBuffer(name: string, buffer: SweptBuffer): void {
    this.buffers.set(name, buffer);
  }

  /** Evicts the expired entries of every tracked buffer (each eviction counts as a drop). */
  sweepBuffers(): void {
    for (const [name, b] of this.buffers) {
      try {
        b.sweep();
      } catch (e) {
        this.log(`sweeping ${name} failed: ${(e as Error).message}`);
      }
    }
  }

  /** Entries each tracked buffer holds now. */
  bufferSizes(): Record<string, number> {
    return Object.fromEntries([...this.buffers].map(([name, b]) => [name, b.size]));
  }

  allAddrs(peer: string): string[] {
    const out = new Set<string>();
    for (const g of this.membership.groupsOf(peer))
      for (const a of this.membership.member(g.id, peer)?.addrs ?? []) out.add(a);
    return [...out];
  }

  async send(peer: string, msg: GroupMessage | SignMessage, timeoutMs = 10_000): Promise<unknown> {
    const out = this.tamper.out(peer, msg);
    if (out === undefined) return { ok: true }; // withheld by the test-only adversary
    return this.host.request(peer, PROTOCOL.group, out, { addrs: this.allAddrs(peer), timeoutMs });
  }

  /**
   * To every other member of a group, in parallel, retried for a minute; a member offline longer
   * catches up from the sync that runs when it reconnects. A member not connected now is tried for
   * `unconnectedMs` only (5 s: an offline member is not dialled over and over for every message),
   * unless the message must reach members that were never dialled yet (group formation).
   */
  broadcast(groupId: string, msg: GroupMessage, unconnectedMs = 5_000, except?: string): void {
    const members = this.membership.members(groupId);
    // Sent on the next turn of the event loop: what the caller starts right after (a coordinator's
    // sign requests after its approval) goes out first, not behind a message to every member.
    setImmediate(() => {
      for (const m of members) {
        if (m.peerId === this.me.peerId || m.peerId === except) continue;
        this.sendReliably(
          m.peerId,
          msg,
          this.host.isConnected(m.peerId) ? 60_000 : unconnectedMs,
        ).catch((e) => this.log(`send to ${short(m.peerId)} failed: ${(e as Error).message}`));
      }
    });
  }

  /** Retries delivery until the deadline (DKG messages must arrive). */
  async sendReliably(peer: string, msg: GroupMessage, deadlineMs: number): Promise<void> {
    const until = Date.now() + deadlineMs;
    for (let delay = 200; !this.stopped; delay = Math.min(delay * 2, 3000)) {
      try {
        await this.send(peer, msg, Math.max(1000, Math.min(10_000, until - Date.now())));
        return;
      } catch (e) {
        if (Date.now() + delay > until) throw e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * Appends to this node's audit chain: one chain per group (author `<peerId>/<groupId>`, shared
   * with that group's members) and one for the node itself (author `<peerId>`, never shared). If
   * the entry cannot be written the caller's transaction fails: no operation goes unrecorded.
   */
  audit(type: string, body: Record<string, unknown>, group?: string): void {
    const author = group === undefined ? this.me.peerId : `${this.me.peerId}/${group}`;
    const link = this.store.audit.headLink(author);
    const prev = link && { author, ...link };
    // Absent optional fields are left out: canonical JSON has no `undefined`.
    const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
    const fields =
      group === undefined
        ? { author, at: Date.now(), type, body: clean }
        : { author, at: Date.now(), type, group, body: clean };
    const entry = makeEntry(prev, fields, (h) => this.me.sign(h));
    // In a durable transaction of its own (a savepoint in the caller's): the store refuses it
    // inside a txNoSync, so this node's own entries are never committed without an fsync.
    this.store.tx(() => this.store.audit.append(entry));
    // Every member holds the group's whole log: what was committed is sent once the caller's
    // transaction is over (an entry rolled back with it is never sent), in batches: a request's
    // entries when it ends, any other after AUDIT_BATCH_MS. The entry itself is already written.
    if (group !== undefined) this.scheduleAuditFlush(group, author, AUDIT_SEND_NOW.has(type));
  }

  private scheduleAuditFlush(group: string, author: string, now: boolean): void {
    const pending = this.auditFlush.get(group);
    if (pending && (pending.now || !now)) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => this.flushAudit(group, author), now ? 0 : AUDIT_BATCH_MS);
    this.auditFlush.set(group, { timer, now });
  }

  /** Sends this node's committed entries of a group's chain that were not sent yet, in order. */
  private flushAudit(group: string, author: string): void {
    this.auditFlush.delete(group);
    if (this.stopped) return;
    for (;;) {
      const after = this.auditSent.get(author) ?? -1;
      const entries = this.store.audit.list({ author, afterSeq: { [author]: after }, limit: 400 });
      if (!entries.length) return;
      this.auditSent.set(author, entries[entries.length - 1]!.seq);
      this.broadcastAudit(group, entries);
      if (entries.length < 400) return;
    }
  }

  private broadcastAudit(groupId: string, entries: AuditEntry[]): void {
    // Empty for a group no longer on this node.
    for (const m of this.membership.members(groupId)) {
      if (m.peerId === this.me.peerId) continue;
      this.sendReliably(
        m.peerId,
        { v: 1, type: 'audit', groupId, entries: entries as unknown as Record<string, unknown>[] },
        30_000,
      ).catch(() => undefined);
    }
  }

  memberName(groupId: string, peer: string): string {
    return this.membership.member(groupId, peer)?.name ?? short(peer);
  }

  /** This peer's row on a group's roster (frozen: shared by every caller until it changes). */
  memberByPeer(groupId: string, peer: string): Readonly<MemberRow> | undefined {
    return this.membership.member(groupId, peer);
  }

  notify(id: string): void {
    const ws = this.waiters.get(id);
    if (ws) for (const w of ws) w();
    this.emit({ type: 'request', id });
  }

  /** Subscribes to change events for clients (UI); returns the unsubscribe function. */
  onEvent(cb: (e: ApiEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  emit(e: ApiEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log(`event listener failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Decoded public packages, by group: decoding one (every verifying share a point) takes tens of
   * ms and every outcome is checked against it, so it is decoded once per group and epoch. The
   * stored text is compared too, so any change to it (a new epoch, a repair, a leave) decodes anew.
   */
  private publicPackages = new Map<
    string,
    { epoch: number; json: string; pub: PublicKeyPackage }
  >();

  publicPackage(groupId: string): PublicKeyPackage | undefined {
    const g = this.store.groups.get(groupId);
    if (!g?.publicPackage) {
      this.publicPackages.delete(groupId);
      return undefined;
    }
    const cached = this.publicPackages.get(groupId);
    if (cached && cached.epoch === g.epoch && cached.json === g.publicPackage) return cached.pub;
    // Read in views, timers and handlers: a damaged package reads as none (the row logged once);
    // keyPackage, which user actions call, names it instead.
    const pub = parseStoredPackage(g.publicPackage);
    if (!pub) {
      this.publicPackages.delete(groupId);
      reportBadRow(this.store, groupPackageKey(groupId), 'is not a key package', this.log);
      return undefined;
    }
    this.publicPackages.set(groupId, { epoch: g.epoch, json: g.publicPackage, pub });
    return pub;
  }

  async keyPackage(groupId: string): Promise<KeyPackage> {
    const cached = this.keys.get(groupId);
    if (cached) return cached;
    const g = this.store.groups.get(groupId)!;
    const pub = this.publicPackage(groupId);
    if (!pub && g.publicPackage) throw badRowError(groupPackageKey(groupId), 'a key package');
    if (!pub) throw new ApiError('not_ready', 'the group has no key yet');
    const bytes = await this.vault.get(shareName(groupId, g.epoch));
    if (!bytes)
      throw new ApiError(
        'vault',
        `this node's share of ${g.name} is missing from the ${this.vault.kind === 'keychain' ? 'OS keychain' : 'file vault'}`,
      );
    const me = this.store.members.get(groupId, this.me.peerId)!;
    const key = {
      public: pub,
      share: SecretShare.fromBytes(g.scheme, BigInt(me.index), bytes, g.epoch),
    };
    bytes.fill(0);
    // The vault read is slow (a keychain): the group may have switched epochs meanwhile (settle.ts
    // caches the new key). A key of the epoch it left must not replace that one: its shares no
    // longer match the package the others verify with (found by crash-ceremony.test.ts).
    const newer = this.keys.get(groupId);
    if (newer) return newer;
    if (this.store.groups.get(groupId)?.epoch !== g.epoch) return this.keyPackage(groupId);
    this.keys.set(groupId, key);
    return key;
  }
}

/**
 * What every service is built on: the node's shared components and helpers, reached through the
 * context it was given (so a service can be built alone, with an in-memory store and fakes).
 */
export abstract class NodeService {
  constructor(protected readonly ctx: NodeContext) {}

  protected get store(): Store {
    return this.ctx.store;
  }
  protected get vault(): Vault {
    return this.ctx.vault;
  }
  protected get host(): Host {
    return this.ctx.host;
  }
  protected get me(): Identity {
    return this.ctx.me;
  }
  protected get log(): (line: string) => void {
    return this.ctx.log;
  }
  protected get signTimeoutMs(): number {
    return this.ctx.signTimeoutMs;
  }
  protected get ceremonyTimeoutMs(): number {
    return this.ctx.ceremonyTimeoutMs;
  }
  protected get fault(): CustodianFault | undefined {
    return this.ctx.fault;
  }
  protected get stopped(): boolean {
    return this.ctx.stopped;
  }
  protected get keys(): Map<string, KeyPackage> {
    return this.ctx.keys;
  }
  protected count(reason: string, detail?: string): void {
    this.ctx.count(reason, detail);
  }
  protected emit(e: ApiEvent): void {
    this.ctx.emit(e);
  }
  protected notify(id: string): void {
    this.ctx.notify(id);
  }
  protected send(
    peer: string,
    msg: GroupMessage | SignMessage,
    timeoutMs?: number,
  ): Promise<unknown> {
    return this.ctx.send(peer, msg, timeoutMs);
  }
  protected broadcast(
    groupId: string,
    msg: GroupMessage,
    unconnectedMs?: number,
    except?: string,
  ): void {
    this.ctx.broadcast(groupId, msg, unconnectedMs, except);
  }
  protected sendReliably(peer: string, msg: GroupMessage, deadlineMs: number): Promise<void> {
    return this.ctx.sendReliably(peer, msg, deadlineMs);
  }
  protected allAddrs(peer: string): string[] {
    return this.ctx.allAddrs(peer);
  }
  protected audit(type: string, body: Record<string, unknown>, group?: string): void {
    this.ctx.audit(type, body, group);
  }
  protected memberByPeer(groupId: string, peer: string): Readonly<MemberRow> | undefined {
    return this.ctx.memberByPeer(groupId, peer);
  }
  protected memberName(groupId: string, peer: string): string {
    return this.ctx.memberName(groupId, peer);
  }
  protected publicPackage(groupId: string): PublicKeyPackage | undefined {
    return this.ctx.publicPackage(groupId);
  }
  protected keyPackage(groupId: string): Promise<KeyPackage> {
    return this.ctx.keyPackage(groupId);
  }
}
