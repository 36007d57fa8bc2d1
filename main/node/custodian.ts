// The custodian node: composes the vault, the store, the network host and the threshold core, and
// implements the API contract. Group formation, DKG, requests, approvals and signing live here.
import { createHmac, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { writeFile } from 'node:fs/promises';
import { readFile, stat } from 'node:fs/promises';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  ApiError,
  type Api,
  type ApiEvent,
  type AuditEntryView,
  type BackupExported,
  type PolicyView,
  type Settings,
  type DecisionView,
  type GroupView,
  type MemberView,
  type RequestStatus,
  type RequestView,
} from '../../shared/api/index.js';
import {
  entryProblem,
  hashEntry,
  makeEntry,
  verifyEntries,
  type AuditEntry,
} from '../../shared/audit/chain.js';
import {
  dkgEcho,
  proveKnowledge,
  verifyKnowledge,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  DkgRound2Package,
  type DkgEcho,
  type DkgParams,
  type DkgRound1Package,
  type DkgState,
} from '../../shared/crypto/dkg.js';
import { canonicalJSON, exportBackup, importBackup } from '../../shared/crypto/backup.js';
import {
  reshareEcho,
  reshareFinalize,
  reshareRound1,
  reshareRound2,
  type ReshareRound1Package,
} from '../../shared/crypto/reshare.js';
import {
  combineShares,
  scalarFromExistingKey,
  splitExistingKey,
} from '../../shared/crypto/dealer.js';
import { exportKey, openSealed, sealTo, type Sealed } from '../../shared/crypto/exported-key.js';
import {
  repairPartFromWire,
  repairStep1,
  repairStep2,
  repairStep3,
} from '../../shared/crypto/repair.js';
import {
  approvalsNeeded,
  checkRequest,
  defaultPolicy,
  describePolicy,
  policyHash,
  validatePolicy,
  validatePolicyChange,
  type GroupPolicy,
} from '../../shared/policy/policy.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import {
  assertShareMatches,
  externalPublicKey,
  publicPackageFromJSON,
  publicPackageToJSON,
  SecretShare,
  taprootInternalKey,
  type KeyPackage,
  type PublicKeyPackage,
} from '../../shared/crypto/keys.js';
import {
  aggregate,
  commit,
  commitmentFromJSON,
  commitmentToJSON,
  decodeSignatureShare,
  SigningPackage,
  signShare,
  verifySignature,
  type NonceCommitment,
  type SigningNonces,
} from '../../shared/crypto/sign.js';
import { signingKey } from '../../shared/crypto/keys.js';
import {
  getSuite,
  identifierHex,
  parseIdentifier,
  type GroupPoint,
  type SchemeName,
} from '../../shared/crypto/suite.js';
import {
  decodeInvite,
  encodeInvite,
  fingerprint,
  rosterHash,
  safetyCode,
  type Roster,
} from '../../shared/protocol/roster.js';
import {
  authorOf,
  decodeGroupMessage,
  decodeSigned,
  decodeJoinRequest,
  decodeRoster,
  LIMITS,
  PROTOCOL,
  ProtocolError,
  requestId as requestIdOf,
  signStatement,
  statementHash,
  verifyStatement,
  type DecisionBody,
  type GroupMessage,
  type JoinRequest,
  type OutcomeBody,
  type RequestBody,
  type RosterMessage,
  type Signed,
  type CeremonyMessage,
} from '../../shared/protocol/wire.js';
import {
  decideCommit,
  decodeCommitAnswer,
  type CommitAnswer,
} from '../../shared/protocol/commit.js';
import type { Host } from '../net/index.js';
import { NetError, publicKeyFromPeerId } from '../net/index.js';
import type { GroupRow, MemberRow, RequestRow, Store } from '../store/index.js';
import type { Vault } from '../vault/index.js';

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
}

const TERMINAL: RequestStatus[] = ['done', 'denied', 'expired', 'failed'];
const POOL_SIZE = 4;
const DEFAULT_EXPIRY_SEC = 24 * 3600;

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

type DkgInbox = {
  round1: Map<string, unknown>;
  echo: Map<string, unknown>;
  round2: Map<string, unknown>;
  done: Map<string, unknown>;
};

/** Parameters of a ceremony request, carried as canonical JSON in the request's message. */
type CeremonyParams =
  | { ceremony: 'refresh'; group: string; fromEpoch: number }
  | {
      ceremony: 'reshare';
      group: string;
      fromEpoch: number;
      threshold: number;
      size: number;
      add: { peerId: string; name: string; addrs: string[] }[];
      remove: string[];
    }
  | {
      ceremony: 'repair';
      group: string;
      fromEpoch: number;
      /** The member who lost their share, and the fresh identity that takes their place. */
      lost: string;
      newcomer: { peerId: string; name: string; addrs: string[] };
    };

interface ReconstructParams {
  ceremony: 'reconstruct';
  group: string;
  fromEpoch: number;
  purpose: string;
  operation: 'export' | 'ecdsa-sign';
  requester: string;
  /** Hex X25519 public key that exists for this request only; shares are sealed to it. */
  oneTimeKey: string;
  digest?: string;
}

interface Candidate {
  peerId: string;
  name: string;
  addrs: string[];
}

interface PlannedMember {
  peerId: string;
  name: string;
  index: number;
  identityKey: string;
  addrs: string[];
}

/**
 * A refresh or reshare this member has done its part of, kept in the store until it knows how the
 * ceremony ended for everyone (see shared/protocol/commit.ts). `writing`: the new share is being
 * stored; `holding`: stored and "done" sent; `leaving`: a removed member waiting for the outcome.
 */
interface PendingCeremony {
  requestId: string;
  session: string;
  kind: 'refresh' | 'reshare';
  stage: 'writing' | 'holding' | 'leaving';
  fromEpoch: number;
  epoch: number;
  /** SHA-256 of the new public key package's JSON (empty while leaving). */
  digest: string;
  pubJson: string;
  roster: PlannedMember[];
  /** Whether this member held a share at `fromEpoch` (to delete once switched). */
  hadOldShare: boolean;
}

const pendingKey = (groupId: string) => `ceremony-pending:${groupId}`;
/** What a repaired device's proof of knowledge is bound to: the repair request. */
const repairContext = (requestId: string) =>
  sha256(utf8ToBytes(`conclave/repair-done/v1:${requestId}`));
const committedKey = (requestId: string) => `ceremony-committed:${requestId}`;
const formerKey = (groupId: string) => `former-members:${groupId}`;

/** Wire form of the 'sign' message extended with the approvals it relies on. */
interface SignMessage {
  v: 1;
  type: 'sign';
  groupId: string;
  requestId: string;
  commitments: { peerId: string; commitment: Record<string, unknown> }[];
  /** The signers' approvals, so a signer that has not received one yet does not refuse. */
  approvals?: Signed[];
}

export class Custodian {
  readonly store: Store;
  readonly vault: Vault;
  readonly host: Host;
  readonly me: Identity;
  private readonly log: (line: string) => void;
  private readonly signTimeoutMs: number;
  private readonly ceremonyTimeoutMs: number;
  /** The stored relays this node started with (settings changes apply at the next start). */
  private readonly startedRelays: string[];
  private readonly fault?: CustodianFault;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void)[] = [];
  /** Waiters for request changes, by request id. */
  private waiters = new Map<string, Set<() => void>>();
  /** Confirmations seen, by group then peer: the roster hash each member confirmed. */
  private confirmations = new Map<string, Map<string, string>>();
  private dkgStates = new Map<string, DkgState>();
  private dkgInbox = new Map<string, DkgInbox>();
  private dkgRunning = new Set<string>();
  /** Key packages of ready groups, loaded from the vault on demand. Memory only. */
  private keys = new Map<string, KeyPackage>();
  /** Nonces this node generated for each coordinator: group → coordinator → commitment key → nonces. */
  private myNonces = new Map<string, Map<string, Map<string, SigningNonces>>>();
  /** Commitments other signers gave this node for when it coordinates: group → signer → list. */
  private pool = new Map<string, Map<string, NonceCommitment[]>>();
  private coordinating = new Set<string>();
  private lastCheckpoint = new Map<string, number>();
  private auditFlush = new Set<string>();
  /** Per own group chain: the last seq broadcast to the members (the rest follows on sync). */
  private auditSent = new Map<string, number>();
  /** Replicated audit entries that arrived before an earlier one of the same chain. */
  private pendingAudit = new Map<string, Map<number, AuditEntry>>();
  /** Commitments received for the next epoch while this node still finishes a ceremony. */
  private futureNonces = new Map<
    string,
    Map<string, { epoch: number; commitments: Record<string, unknown>[] }>
  >();
  private reconnecting = false;
  /** Ceremonies this node takes part in right now (by request id), and sessions aborted by others. */
  private ceremonies = new Set<string>();
  /** Reconstructions this node asked for: the one-time key and the operation's inputs, memory only. */
  private reconstructJobs = new Map<
    string,
    { secretKey: Uint8Array; out?: string; passphrase?: string }
  >();
  /** Reconstructions this node already sent its sealed share for. */
  private sealedSent = new Set<string>();
  private aborted = new Set<string>();
  /** Sessions' 'abort' messages by sender (only a new member's abort can end a ceremony). */
  private abortedBy = new Map<string, Set<string>>();
  /** Why a session was aborted, naming who stopped it (for the request's failure). */
  private abortReasons = new Map<string, string>();
  /** Ceremony sessions this node is running now (answers 'working' when asked). */
  private runningSessions = new Set<string>();
  /** Groups whose ceremony outcome this node is settling. */
  private settling = new Set<string>();
  private listeners = new Set<(e: ApiEvent) => void>();
  /** Messages this node dropped after decoding, by reason (the host counts transport-level drops). */
  private dropped: Record<string, number> = {};

  constructor(opts: CustodianOptions) {
    this.store = opts.store;
    this.vault = opts.vault;
    this.host = opts.host;
    this.me = opts.identity;
    this.log = opts.log;
    this.signTimeoutMs = opts.signTimeoutMs ?? 10_000;
    this.ceremonyTimeoutMs = opts.ceremonyTimeoutMs ?? 90_000;
    this.startedRelays = JSON.parse(this.store.meta.get('relays') || '[]') as string[];
    this.fault = process.env.CONCLAVE_ALLOW_FAULTS === '1' ? opts.fault : undefined;
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    // A new share that was still being stored when the node stopped: "done" was never sent, so
    // nobody can have switched to it.
    for (const g of this.store.groups.list()) {
      const p = this.pendingCeremony(g.id);
      if (p?.stage === 'writing')
        await this.rollbackCeremony(g.id, p, 'this node stopped while storing its new share');
    }
    // A refresh or reshare this node was in the middle of (its state was in memory): it cannot
    // go on, and the others cannot finish without it. It is over here; the group proposes it again.
    for (const r of this.store.requests.list({ statuses: ['signing'] })) {
      if (r.kind !== 'refresh' && r.kind !== 'reshare') continue;
      if (this.pendingCeremony(r.groupId)?.requestId === r.id) continue;
      const epoch = this.store.groups.get(r.groupId)?.epoch ?? 0;
      this.finish(
        r.id,
        {
          status: 'failed',
          failure: `${r.kind} failed: this node stopped in the middle of it; the group stays at epoch ${epoch} and a new ${r.kind} can be proposed`,
        },
        'request.failed',
        { id: r.id, failure: 'this node stopped in the middle of it' },
      );
    }
    await this.host.handle(PROTOCOL.join, (from, msg) => this.onJoin(from, msg), {
      allow: () => true, // newcomers are not members yet; the invite token is checked instead
      maxBytes: LIMITS.join,
      runOnLimitedConnection: true,
    });
    await this.host.handle(
      PROTOCOL.group,
      (from, msg) => this.countDrops(() => this.onGroupMessage(from, msg)),
      {
        allow: (peer) =>
          this.isKnownMember(peer) ||
          this.isAwaitedNewcomer(peer) ||
          this.store.groups.list().some((g) => this.isFormerMember(g.id, peer)),
        maxBytes: LIMITS.group,
        runOnLimitedConnection: true,
      },
    );
    this.unsubscribe.push(this.host.onPeerConnect((peer) => void this.onConnect(peer)));
    this.unsubscribe.push(this.host.onPeerDisconnect((peer) => this.onDisconnect(peer)));
    this.unsubscribe.push(
      this.host.onPeerDiscovered((peer, addrs) => {
        if (this.isKnownMember(peer))
          void this.host.addAddresses(peer, addrs).then(() => this.host.connect(peer));
      }),
    );
    // Remember every member's last known addresses so the host can dial them.
    for (const g of this.store.groups.list())
      for (const m of this.store.members.list(g.id))
        if (m.peerId !== this.me.peerId && m.addrs.length)
          await this.host.addAddresses(m.peerId, m.addrs);
    this.timers.push(setInterval(() => this.sweep(), 1000));
    this.timers.push(setInterval(() => void this.reconnect(), 3000));
    void this.reconnect();
    for (const g of this.store.groups.list()) {
      if (g.status === 'dkg' && this.store.meta.get(`import-held:${g.id}`)) {
        // An imported share held for the importer's word: it comes when the importer reconnects.
      } else if (g.status === 'dkg') {
        // DKG state (and an importer's split) is memory only: a restarted node cannot resume it.
        this.failGroup(g.id, 'the node restarted during key generation; create the group again');
        const result = this.importResult(this.store.groups.get(g.id)!);
        if (result) this.broadcast(g.id, result);
      }
      // A refresh or reshare this node did its part of before it stopped: learn how it ended.
      if (this.pendingCeremony(g.id)) void this.settleCeremony(g.id, Date.now());
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const u of this.unsubscribe) u();
    for (const ws of this.waiters.values()) for (const w of ws) w();
    this.keys.clear();
    this.myNonces.clear();
  }

  private async countDrops<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof DroppedMessage) this.count(e.reason);
      throw e;
    }
  }

  private count(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }

  /** A member removed by a reshare: it may only ask how that reshare ended. */
  private isFormerMember(groupId: string, peer: string): boolean {
    const former = this.store.meta.get(formerKey(groupId));
    return !!former && (JSON.parse(former) as string[]).includes(peer);
  }

  private isKnownMember(peer: string): boolean {
    if (peer === this.me.peerId) return false;
    for (const g of this.store.groups.list()) {
      if (this.store.members.get(g.id, peer)) return true;
      // A newcomer takes part in the reshare that adds it, before it is on the roster.
      if (g.status === 'ready' && this.newcomerInPendingRequest(g.id, peer)) return true;
    }
    return false;
  }

  private sharedGroups(peer: string): GroupRow[] {
    return this.store.groups.list().filter((g) => this.store.members.get(g.id, peer) !== undefined);
  }

  private async reconnect(): Promise<void> {
    if (this.reconnecting || this.stopped) return;
    this.reconnecting = true;
    try {
      const peers = new Map<string, string[]>();
      for (const g of this.store.groups.list()) {
        for (const m of this.store.members.list(g.id))
          if (m.peerId !== this.me.peerId) peers.set(m.peerId, this.allAddrs(m.peerId));
        // Newcomers of pending reshares and repairs: the coordinator must reach them too.
        if (g.status !== 'ready') continue;
        for (const r of this.store.requests.list({
          groupId: g.id,
          statuses: ['pending', 'signing'],
        })) {
          if (r.kind !== 'reshare' && r.kind !== 'repair') continue;
          for (const m of this.plannedRoster(g, this.ceremonyParams(r)))
            if (m.peerId !== this.me.peerId && !peers.has(m.peerId)) peers.set(m.peerId, m.addrs);
        }
      }
      await Promise.all(
        [...peers]
          .filter(([p]) => !this.host.isConnected(p))
          .map(([p, addrs]) => this.host.connect(p, { addrs, timeoutMs: 2500 }).catch(() => false)),
      );
    } finally {
      this.reconnecting = false;
    }
  }

  private allAddrs(peer: string): string[] {
    const out = new Set<string>();
    for (const g of this.store.groups.list())
      for (const a of this.store.members.get(g.id, peer)?.addrs ?? []) out.add(a);
    return [...out];
  }

  /** On every (re)connection: tell the peer where we are, and bring it up to date. */
  private async onConnect(peer: string): Promise<void> {
    if (!this.isKnownMember(peer)) return;
    this.emit({ type: 'peer', peerId: peer, online: true });
    try {
      // A repaired device first proves it holds the share (to a member that missed it, the only
      // message it will take from this device).
      for (const g of this.sharedGroups(peer)) {
        const repaired = this.store.meta.get(`repair-done:${g.id}`);
        if (repaired) {
          const { requestId, proof } = JSON.parse(repaired) as { requestId: string; proof: string };
          await this.send(peer, {
            v: 1,
            type: 'ceremony',
            groupId: g.id,
            requestId,
            session: bytesToHex(repairContext(requestId)),
            step: 'done',
            payload: { proof },
          }).catch(() => undefined);
        }
      }
      await this.send(peer, { v: 1, type: 'hello', addrs: this.host.addrs() });
      for (const g of this.sharedGroups(peer)) {
        if (g.creatorPeerId === this.me.peerId && g.status !== 'failed')
          await this.send(peer, this.rosterMessage(g.id));
        const result = this.importResult(g);
        if (result) await this.send(peer, result);
        const mine = this.confirmations.get(g.id)?.get(this.me.peerId);
        if (mine && (g.status === 'confirming' || g.status === 'dkg'))
          await this.send(peer, { v: 1, type: 'confirm', groupId: g.id, rosterHash: mine });
        if (g.status !== 'forming') void this.syncAudit(peer, g.id).catch(() => undefined);
        if (g.status === 'ready') {
          await this.sendStatements(peer, g.id);
          await this.sendNonces(g.id, peer, true);
        }
      }
      for (const r of this.store.requests.list({ statuses: ['pending', 'signing'] }))
        this.evaluate(r.id);
    } catch (e) {
      this.log(`sync with ${short(peer)} failed: ${(e as Error).message}`);
    }
  }

  private onDisconnect(peer: string): void {
    // Coordination may move to another approver when this one is gone.
    if (!this.isKnownMember(peer)) return;
    this.emit({ type: 'peer', peerId: peer, online: false });
    for (const r of this.store.requests.list({ statuses: ['pending', 'signing'] }))
      this.evaluate(r.id);
  }

  private async send(
    peer: string,
    msg: GroupMessage | SignMessage,
    timeoutMs = 10_000,
  ): Promise<unknown> {
    return this.host.request(peer, PROTOCOL.group, msg, { addrs: this.allAddrs(peer), timeoutMs });
  }

  /** Best effort to every other member of a group, in parallel; failures are logged. */
  /**
   * To every other member of a group, in parallel, retried for a minute; a member offline longer
   * catches up from the sync that runs when it reconnects.
   */
  private broadcast(groupId: string, msg: GroupMessage): void {
    for (const m of this.store.members.list(groupId)) {
      if (m.peerId === this.me.peerId) continue;
      this.sendReliably(m.peerId, msg, this.host.isConnected(m.peerId) ? 60_000 : 5_000).catch(
        (e) => this.log(`send to ${short(m.peerId)} failed: ${(e as Error).message}`),
      );
    }
  }

  /** Retries delivery until the deadline (DKG messages must arrive). */
  private async sendReliably(peer: string, msg: GroupMessage, deadlineMs: number): Promise<void> {
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

  // ---------------------------------------------------------------- audit

  /**
   * Appends to this node's audit chain: one chain per group (author `<peerId>/<groupId>`, shared
   * with that group's members) and one for the node itself (author `<peerId>`, never shared). If
   * the entry cannot be written the caller's transaction fails: no operation goes unrecorded.
   */
  private audit(type: string, body: Record<string, unknown>, group?: string): void {
    const author = group === undefined ? this.me.peerId : `${this.me.peerId}/${group}`;
    const prev = this.store.audit.head(author);
    // Absent optional fields are left out: canonical JSON has no `undefined`.
    const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
    const fields =
      group === undefined
        ? { author, at: Date.now(), type, body: clean }
        : { author, at: Date.now(), type, group, body: clean };
    const entry = makeEntry(prev, fields, (h) => this.me.sign(h));
    this.store.audit.append(entry);
    // Every member holds the group's whole log: send what was committed, once the caller's
    // transaction is over (an entry rolled back with it is never sent).
    if (group !== undefined && !this.auditFlush.has(group)) {
      this.auditFlush.add(group);
      setImmediate(() => this.flushAudit(group, author));
    }
  }

  /** Sends this node's committed entries of a group's chain that were not sent yet, in order. */
  private flushAudit(group: string, author: string): void {
    this.auditFlush.delete(group);
    if (this.stopped) return;
    const after = this.auditSent.get(author) ?? -1;
    const entries = this.store.audit.list({ author, afterSeq: { [author]: after }, limit: 400 });
    if (!entries.length) return;
    this.auditSent.set(author, entries[entries.length - 1]!.seq);
    this.broadcastAudit(group, entries);
  }

  private broadcastAudit(groupId: string, entries: AuditEntry[]): void {
    if (!this.store.groups.get(groupId)) return;
    for (const m of this.store.members.list(groupId)) {
      if (m.peerId === this.me.peerId) continue;
      this.sendReliably(
        m.peerId,
        { v: 1, type: 'audit', groupId, entries: entries as unknown as Record<string, unknown>[] },
        30_000,
      ).catch(() => undefined);
    }
  }

  /** Another member's (or relayed) audit entries of a group: each checked before it is kept. */
  private acceptAudit(from: string, msg: Extract<GroupMessage, { type: 'audit' }>): void {
    const g = this.store.groups.get(msg.groupId);
    if (!g || !this.memberByPeer(g.id, from)) throw new DroppedMessage('non_member');
    for (const raw of msg.entries) {
      if (entryProblem(raw) !== undefined) throw new DroppedMessage('malformed');
      const e = raw as unknown as AuditEntry;
      const [peer, group] = e.author.split('/');
      if (group !== g.id || e.group !== g.id) throw new DroppedMessage('wrong_group');
      if (peer === this.me.peerId) continue; // our own chain is authoritative here
      const { hash: _hash, sig: _sig, ...unsigned } = e;
      let ok: boolean;
      try {
        ok =
          hashEntry(unsigned) === e.hash &&
          ed25519.verify(hexToBytes(e.sig), hexToBytes(e.hash), publicKeyFromPeerId(peer!), {
            zip215: false,
          });
      } catch {
        ok = false;
      }
      if (!ok) throw new DroppedMessage('bad_signature');
      this.appendInOrder(e);
    }
  }

  /**
   * Keeps each replicated chain gap-free: an entry is stored when it is the author's next one;
   * one that overtook an earlier entry in transit waits in memory until the gap is filled.
   */
  private appendInOrder(e: AuditEntry): void {
    const head = this.store.audit.head(e.author);
    const next = head === undefined ? 0 : head.seq + 1;
    if (e.seq > next) {
      let waiting = this.pendingAudit.get(e.author);
      if (!waiting) this.pendingAudit.set(e.author, (waiting = new Map()));
      if (waiting.size < 10_000) waiting.set(e.seq, e);
      return;
    }
    try {
      this.store.audit.append(e);
    } catch {
      // A different entry at the same position: the author forked its chain. Keep the first
      // one; `audit verify` reports the fork from the evidence the other members hold.
      this.count('audit_fork');
      return;
    }
    const waiting = this.pendingAudit.get(e.author);
    const following = waiting?.get(e.seq + 1);
    if (waiting && following) {
      waiting.delete(e.seq + 1);
      this.appendInOrder(following);
    }
  }

  /** Sends a co-member the group's whole log, after a checkpoint of the heads this node holds. */
  /** When a group (re)starts with a new key or roster, every member gets the whole log. */
  private syncAuditWithAll(groupId: string): void {
    for (const m of this.store.members.list(groupId))
      if (m.peerId !== this.me.peerId)
        void this.syncAudit(m.peerId, groupId).catch(() => undefined);
  }

  private async syncAudit(peer: string, groupId: string): Promise<void> {
    const last = this.lastCheckpoint.get(groupId) ?? 0;
    if (Date.now() - last > 60_000) {
      this.lastCheckpoint.set(groupId, Date.now());
      const heads = Object.fromEntries(
        Object.entries(this.store.audit.heads()).filter(([a]) => a.endsWith(`/${groupId}`)),
      );
      this.audit('audit.checkpoint', { heads }, groupId);
    }
    const entries = this.store.audit.list({ group: groupId, limit: 100_000 });
    for (let i = 0; i < entries.length; i += 400)
      await this.sendReliably(
        peer,
        {
          v: 1,
          type: 'audit',
          groupId,
          entries: entries.slice(i, i + 400) as unknown as Record<string, unknown>[],
        },
        60_000,
      );
  }

  // ---------------------------------------------------------------- views

  private findGroup(ref: string): GroupRow {
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
  private importedKey(groupId: string): string | undefined {
    const raw = this.store.meta.get(`import:${groupId}`);
    return raw ? (JSON.parse(raw) as { publicKey: string }).publicKey : undefined;
  }

  private groupView(g: GroupRow): GroupView {
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
    if (g.publicPackage) {
      const pub = publicPackageFromJSON(JSON.parse(g.publicPackage));
      view.publicKey = bytesToHex(externalPublicKey(pub));
      if (g.scheme === 'taproot') view.internalKey = bytesToHex(taprootInternalKey(pub));
    }
    if (g.error) view.error = g.error;
    const imported = this.importedKey(g.id);
    if (imported) view.importedKey = imported;
    if (g.status === 'ready') {
      const candidates = JSON.parse(
        this.store.meta.get(`candidates:${g.id}`) || '[]',
      ) as Candidate[];
      if (candidates.length)
        view.newcomers = candidates.map((c) => ({
          name: c.name,
          peerId: c.peerId,
          fingerprint: fingerprint(publicKeyFromPeerId(c.peerId)),
        }));
    }
    const exposed = this.store.meta.get(`exposed:${g.id}`);
    if (exposed) view.exposed = exposed;
    return view;
  }

  private memberName(groupId: string, peer: string): string {
    return this.store.members.get(groupId, peer)?.name ?? short(peer);
  }

  private requestView(r: RequestRow): RequestView {
    const g = this.store.groups.get(r.groupId)!;
    const decisions = this.store.decisions.list(r.id);
    const dv = (peerId: string, at: number, reason?: string): DecisionView => {
      const v: DecisionView = {
        peerId,
        name: this.memberName(r.groupId, peerId),
        at: new Date(at).toISOString(),
      };
      if (reason) v.reason = reason;
      return v;
    };
    const view: RequestView = {
      id: r.id,
      group: r.groupId,
      groupName: g?.name ?? r.groupId,
      kind: r.kind,
      status: r.status,
      message: bytesToHex(r.message),
      messageSha256: bytesToHex(sha256(r.message)),
      createdBy: dv(r.createdBy, r.createdAt),
      createdAt: new Date(r.createdAt).toISOString(),
      expiresAt: new Date(r.expiresAt).toISOString(),
      approvals: decisions.filter((d) => d.decision === 'approve').map((d) => dv(d.peerId, d.at)),
      denials: decisions
        .filter((d) => d.decision === 'deny')
        .map((d) => dv(d.peerId, d.at, d.reason)),
      culprits: r.culprits,
    };
    const description = this.describe(r);
    if (description) view.description = description;
    if (r.kind === 'reshare' || r.kind === 'repair') {
      const p = this.ceremonyParams(r);
      const newcomers =
        p.ceremony === 'reshare' ? p.add : p.ceremony === 'repair' ? [p.newcomer] : [];
      if (newcomers.length)
        view.fingerprints = Object.fromEntries(
          newcomers.map((m) => [m.peerId, fingerprint(publicKeyFromPeerId(m.peerId))]),
        );
    }
    if (
      (r.kind === 'refresh' || r.kind === 'reshare' || r.kind === 'repair') &&
      r.status === 'pending' &&
      view.approvals.length >= (g?.threshold ?? Infinity)
    ) {
      const { missing } = this.ceremonyPlan(r);
      if (missing.length) view.waitingFor = missing;
    } else {
      const text = printableText(r.message);
      if (text !== undefined) view.messageText = text;
    }
    if (r.signature) view.signature = bytesToHex(r.signature);
    if (r.failure) view.failure = r.failure;
    return view;
  }

  // ---------------------------------------------------------------- groups

  createGroup(
    input: { name: string; threshold: number; size: number; scheme: SchemeName },
    imported?: { publicKey: string; keyFile: string },
  ) {
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
    const invite = encodeInvite({
      v: 1,
      groupId: id,
      name: input.name,
      threshold: input.threshold,
      size: input.size,
      scheme: input.scheme,
      creator: this.me.peerId,
      addrs: this.host.addrs(),
      secret,
      ...(imported ? { importedKey: imported.publicKey } : {}),
    });
    return { ...this.groupView(this.store.groups.get(id)!), invite };
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
    return this.groupView(this.store.groups.get(roster.groupId)!);
  }

  private rosterMessage(groupId: string): RosterMessage {
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
  private async onJoin(from: string, msg: unknown): Promise<unknown> {
    let req: JoinRequest;
    try {
      req = decodeJoinRequest(msg);
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
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
      await this.host.addAddresses(from, req.addrs);
      this.emit({ type: 'group', id: g.id });
      this.log(`${req.name} (${short(from)}) joined ${g.name}`);
      const roster = this.rosterMessage(g.id);
      for (const m of roster.members)
        if (m.peerId !== this.me.peerId && m.peerId !== from)
          this.send(m.peerId, roster).catch(() => undefined);
    }
    return { ok: true, roster: this.rosterMessage(g.id) };
  }

  // ---------------------------------------------------------------- newcomers (joined by reshare)

  /** An invite for a newcomer to a ready group; the newcomer becomes a member through a reshare. */
  inviteNewcomer(ref: string): { group: string; invite: string } {
    const g = this.findGroup(ref);
    if (g.status !== 'ready')
      throw new ApiError(
        'not_ready',
        `group ${g.name} is ${g.status}; newcomers join a ready group`,
      );
    const secret = bytesToHex(nodeRandomBytes(32));
    const list = JSON.parse(this.store.meta.get(`newcomer-invites:${g.id}`) || '[]') as string[];
    this.store.meta.set(`newcomer-invites:${g.id}`, JSON.stringify([...list.slice(-15), secret]));
    this.audit('group.newcomer_invited', {}, g.id);
    const invite = encodeInvite({
      v: 1,
      groupId: g.id,
      name: g.name,
      threshold: g.threshold,
      size: g.size,
      scheme: g.scheme,
      creator: this.me.peerId,
      addrs: this.host.addrs(),
      secret,
    });
    return { group: g.id, invite };
  }

  /** Inviter side: remember the newcomer as a candidate and hand it the roster and key package. */
  private async onNewcomerJoin(from: string, req: JoinRequest, g: GroupRow): Promise<unknown> {
    const secrets = JSON.parse(this.store.meta.get(`newcomer-invites:${g.id}`) || '[]') as string[];
    const given = Buffer.from(req.token, 'hex');
    const ok = secrets.some((sec) => {
      const expected = Buffer.from(joinToken(sec, g.id, from), 'hex');
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
    if (!ok) return { ok: false, error: 'the invite code is not valid for this group' };
    if (this.store.members.get(g.id, from))
      return { ok: false, error: 'you are already a member of this group' };
    try {
      publicKeyFromPeerId(from);
    } catch {
      return { ok: false, error: 'only Ed25519 identities can join' };
    }
    const candidates = (
      JSON.parse(this.store.meta.get(`candidates:${g.id}`) || '[]') as Candidate[]
    ).filter((c) => c.peerId !== from);
    candidates.push({ peerId: from, name: req.name, addrs: req.addrs });
    this.store.meta.set(`candidates:${g.id}`, JSON.stringify(candidates));
    await this.host.addAddresses(from, req.addrs);
    this.audit('group.newcomer_joined', { peerId: from, name: req.name }, g.id);
    this.emit({ type: 'group', id: g.id });
    this.log(
      `${req.name} (${short(from)}) asks to join ${g.name}; to add them: conclave request reshare --group ${g.name} --add ${req.name}; if it replaces a lost device: conclave request repair --group ${g.name} --member <lost member> --newcomer ${req.name}`,
    );
    return {
      ok: true,
      newcomer: true,
      roster: this.rosterMessage(g.id),
      publicPackage: JSON.parse(g.publicPackage!),
      policy: this.policyOf(g.id),
    };
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

  createReshareRequest(input: {
    group: string;
    threshold?: number;
    add?: string[];
    remove?: string[];
    expiresInSec?: number;
  }): RequestView {
    const g = this.findGroup(input.group);
    if (g.status !== 'ready')
      throw new ApiError(
        'not_ready',
        `group ${g.name} is ${g.status}; only a ready group can be reshared`,
      );
    const members = this.store.members.list(g.id);
    const candidates = JSON.parse(this.store.meta.get(`candidates:${g.id}`) || '[]') as Candidate[];
    const add = (input.add ?? []).map((ref) => {
      const found = candidates.filter((c) => c.peerId === ref || c.name === ref);
      if (found.length === 0)
        throw new ApiError(
          'not_found',
          `no newcomer "${ref}" joined through your invites; send them one with: conclave group invite ${g.name}`,
        );
      if (found.length > 1)
        throw new ApiError('ambiguous', `several newcomers are called "${ref}"; use the peer id`);
      return found[0];
    });
    const remove = (input.remove ?? []).map((ref) => {
      const found = members.filter((m) => m.peerId === ref || m.name === ref);
      if (found.length === 0) throw new ApiError('not_found', `no member "${ref}" in ${g.name}`);
      if (found.length > 1)
        throw new ApiError('ambiguous', `several members are called "${ref}"; use the peer id`);
      return found[0].peerId;
    });
    if (
      new Set(add.map((a) => a.peerId)).size !== add.length ||
      new Set(remove).size !== remove.length
    )
      throw new ApiError('bad_input', 'a newcomer or member is named twice');
    const size = members.length - remove.length + add.length;
    const threshold = input.threshold ?? Math.min(g.threshold, size);
    if (threshold < 2 || threshold > size)
      throw new ApiError(
        'bad_input',
        `threshold: must be from 2 to the new size (${size}), got ${threshold}`,
      );
    if (add.length === 0 && remove.length === 0 && threshold === g.threshold)
      throw new ApiError(
        'bad_input',
        'nothing to change: add or remove members, or change the threshold (or propose a refresh)',
      );
    const params: CeremonyParams = {
      ceremony: 'reshare',
      group: g.id,
      fromEpoch: g.epoch,
      threshold,
      size,
      add,
      remove,
    };
    const view = this.createRequest(
      g,
      'reshare',
      utf8ToBytes(canonicalJSON(params)),
      input.expiresInSec,
    );
    return view;
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
  private applyRoster(r: RosterMessage): void {
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
    if (r.members.length === r.size && g.status === 'forming')
      this.store.groups.update(r.groupId, { status: 'confirming', updatedAt: Date.now() });
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
    this.broadcast(g.id, { v: 1, type: 'confirm', groupId: g.id, rosterHash: hash });
    this.maybeStartDkg(g.id);
    return this.groupView(this.store.groups.get(g.id)!);
  }

  private noteConfirmation(groupId: string, peer: string, hash: string): void {
    let m = this.confirmations.get(groupId);
    if (!m) this.confirmations.set(groupId, (m = new Map()));
    m.set(peer, hash);
  }

  private maybeStartDkg(groupId: string): void {
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
    for (const m of members) this.store.members.update(groupId, m.peerId, { confirmed: true });
    if (this.importedKey(groupId)) {
      // An imported key: no DKG; the importer hands out the shares once everyone confirmed.
      if (g.creatorPeerId === this.me.peerId) void this.distributeImport(groupId);
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
    void this.runDkg(groupId, hash);
  }

  // ---------------------------------------------------------------- import of an existing key

  async importGroup(input: {
    name: string;
    threshold: number;
    size: number;
    scheme: SchemeName;
    keyFile: string;
  }) {
    const key = await readKeyFile(input.keyFile);
    let publicKey: string;
    try {
      const suite = getSuite(input.scheme);
      publicKey = bytesToHex(
        suite.encodePoint(suite.G.multiply(scalarFromExistingKey(input.scheme, key))),
      );
    } catch (e) {
      throw new ApiError(
        'bad_input',
        `keyFile: not a ${input.scheme} private key (${(e as Error).message})`,
      );
    } finally {
      key.fill(0);
    }
    const created = this.createGroup(input, { publicKey, keyFile: input.keyFile });
    return {
      ...created,
      warning: `After every member confirmed and the group is ready, destroy ${input.keyFile} and every other copy of the original key: whoever holds it can sign without the group.`,
    };
  }

  /** Importer: split the key and send each member its share over its authenticated channel. */
  private async distributeImport(groupId: string): Promise<void> {
    const g = this.store.groups.get(groupId)!;
    const meta = JSON.parse(this.store.meta.get(`import:${groupId}`)!) as {
      publicKey: string;
      keyFile?: string;
    };
    this.store.groups.update(groupId, { status: 'dkg', updatedAt: Date.now() });
    this.emit({ type: 'group', id: groupId });
    try {
      if (!meta.keyFile) throw new Error('the key file path is not known to this node');
      const key = await readKeyFile(meta.keyFile);
      let keys: KeyPackage[];
      try {
        keys = splitExistingKey(g.scheme, key, g.threshold, g.size);
      } finally {
        key.fill(0);
      }
      const pub = keys[0].public;
      if (bytesToHex(getSuite(g.scheme).encodePoint(pub.groupKey)) !== meta.publicKey)
        throw new Error(`${meta.keyFile} no longer holds the key the group was created for`);
      const suite = getSuite(g.scheme);
      const pubJson = publicPackageToJSON(pub);
      const members = this.store.members.list(groupId);
      const deadline = Date.now() + this.ceremonyTimeoutMs;
      // Every member must hold its share before anyone uses the group: a member that does not
      // answer in time ends the import for all (they drop what they hold).
      const unreached: string[] = [];
      await Promise.all(
        members
          .filter((m) => m.peerId !== this.me.peerId)
          .map(async (m) => {
            const k = keys.find((x) => x.share.identifier === BigInt(m.index))!;
            try {
              await this.sendReliably(
                m.peerId,
                {
                  v: 1,
                  type: 'import-share',
                  groupId,
                  publicPackage: pubJson as unknown as Record<string, unknown>,
                  share: bytesToHex(suite.encodeScalar(k.share.scalar())),
                },
                deadline - Date.now(),
              );
            } catch (e) {
              const why =
                e instanceof NetError && e.code === 'unreachable'
                  ? 'offline'
                  : e instanceof NetError && e.code === 'timeout'
                    ? 'no answer'
                    : (e as Error).message;
              unreached.push(`${m.name} (${why})`);
            }
          }),
      );
      if (unreached.length) {
        for (const k of keys) k.share.wipe();
        throw new Error(
          `${unreached.join(', ')} did not take ${unreached.length > 1 ? 'their shares' : 'its share'} in time; every member drops the share it received. Bring everyone online and import the key again with a new invite`,
        );
      }
      const mine = keys.find(
        (x) =>
          x.share.identifier === BigInt(this.store.members.get(groupId, this.me.peerId)!.index),
      )!;
      await this.becomeReady(groupId, mine, true);
      for (const k of keys) k.share.wipe();
      this.store.meta.set(`import:${groupId}`, JSON.stringify({ publicKey: meta.publicKey }));
      this.audit(
        'group.imported',
        { publicKey: meta.publicKey, notice: 'the original key must be destroyed' },
        groupId,
      );
      this.broadcast(groupId, { v: 1, type: 'import-result', groupId, ok: true });
    } catch (e) {
      const reason = `import failed: ${(e as Error).message}`;
      this.failGroup(groupId, reason);
      this.broadcast(groupId, { v: 1, type: 'import-result', groupId, ok: false, reason });
    }
  }

  /** The importer's result message for a member (sent again whenever the member reconnects). */
  private importResult(g: GroupRow): GroupMessage | undefined {
    if (g.creatorPeerId !== this.me.peerId || !this.importedKey(g.id)) return undefined;
    if (g.status === 'ready') return { v: 1, type: 'import-result', groupId: g.id, ok: true };
    if (g.status === 'failed')
      return {
        v: 1,
        type: 'import-result',
        groupId: g.id,
        ok: false,
        reason: (g.error ?? 'import failed').slice(0, 500),
      };
    return undefined;
  }

  /** Member: the importer says whether every member holds its share (use it) or not (drop it). */
  private async onImportResult(
    from: string,
    msg: Extract<GroupMessage, { type: 'import-result' }>,
  ): Promise<unknown> {
    const g = this.store.groups.get(msg.groupId);
    if (!g || g.creatorPeerId !== from) throw new DroppedMessage('not_creator');
    if (!this.importedKey(g.id)) throw new DroppedMessage('not_an_import');
    const held = this.store.meta.get(`import-held:${g.id}`);
    if (msg.ok) {
      if (g.status === 'ready') return { ok: true };
      if (!held) throw new DroppedMessage('wrong_state');
      const bytes = await this.vault.get(shareName(g.id, 0));
      if (!bytes) {
        this.failGroup(g.id, 'the imported share is missing from the vault');
        return { ok: true };
      }
      const me = this.store.members.get(g.id, this.me.peerId)!;
      const key: KeyPackage = {
        public: publicPackageFromJSON(JSON.parse(held)),
        share: SecretShare.fromBytes(g.scheme, BigInt(me.index), bytes, 0),
      };
      bytes.fill(0);
      await this.becomeReady(g.id, key, true);
      this.store.meta.set(`import-held:${g.id}`, '');
      return { ok: true };
    }
    if (g.status === 'ready' || g.status === 'failed') return { ok: true };
    if (held) await this.vault.delete(shareName(g.id, 0)).catch(() => undefined);
    this.store.meta.set(`import-held:${g.id}`, '');
    this.failGroup(g.id, msg.reason ?? 'import failed');
    return { ok: true };
  }

  /** Member: accept the importer's share after checking it against the package and the announced key. */
  private async onImportShare(
    from: string,
    msg: Extract<GroupMessage, { type: 'import-share' }>,
  ): Promise<unknown> {
    const g = this.store.groups.get(msg.groupId);
    if (!g || g.creatorPeerId !== from) throw new DroppedMessage('not_creator');
    const announced = this.importedKey(g.id);
    if (!announced) throw new DroppedMessage('not_an_import');
    if (g.status === 'ready' || this.store.meta.get(`import-held:${g.id}`)) return { ok: true };
    if (g.status !== 'dkg' && g.status !== 'confirming') throw new DroppedMessage('wrong_state');
    // Test-only: this member goes away as its share arrives.
    if (this.fault === 'exit-mid-ceremony') process.exit(3);
    let key: KeyPackage;
    try {
      const pub = publicPackageFromJSON(msg.publicPackage as never);
      const me = this.store.members.get(g.id, this.me.peerId)!;
      if (
        pub.scheme !== g.scheme ||
        pub.threshold !== g.threshold ||
        pub.verifyingShares.size !== g.size
      )
        throw new Error('the key package does not match the group');
      if (bytesToHex(getSuite(g.scheme).encodePoint(pub.groupKey)) !== announced)
        throw new Error('the key differs from the one announced in the invite');
      key = {
        public: pub,
        share: SecretShare.fromBytes(g.scheme, BigInt(me.index), hexToBytes(msg.share), 0),
      };
      assertShareMatches(pub, key.share);
    } catch (e) {
      this.failGroup(g.id, `the importer sent an invalid share: ${(e as Error).message}`);
      throw new DroppedMessage('bad_share');
    }
    // Held, not used: the group is ready only when the importer says every member holds one.
    await this.vault.put(shareName(g.id, 0), key.share.toBytes());
    key.share.wipe();
    this.store.tx(() => {
      this.store.meta.set(`import-held:${g.id}`, JSON.stringify(publicPackageToJSON(key.public)));
      this.store.groups.update(g.id, { status: 'dkg', updatedAt: Date.now() });
    });
    this.emit({ type: 'group', id: g.id });
    return { ok: true };
  }

  private async becomeReady(groupId: string, key: KeyPackage, imported: boolean): Promise<void> {
    await this.vault.put(shareName(groupId, key.share.epoch), key.share.toBytes());
    const pubJson = JSON.stringify(publicPackageToJSON(key.public));
    this.store.tx(() => {
      this.store.groups.update(groupId, {
        status: 'ready',
        publicPackage: pubJson,
        epoch: key.share.epoch,
        updatedAt: Date.now(),
        inviteSecret: undefined,
      });
      this.audit(
        'group.ready',
        { publicKey: bytesToHex(externalPublicKey(key.public)), epoch: key.share.epoch, imported },
        groupId,
      );
    });
    this.keys.set(groupId, key);
    this.applyEarlyNonces(groupId);
    this.syncAuditWithAll(groupId);
    this.emit({ type: 'group', id: groupId });
    for (const m of this.store.members.list(groupId))
      if (m.peerId !== this.me.peerId && this.host.isConnected(m.peerId))
        void this.sendNonces(groupId, m.peerId, true).catch(() => undefined);
  }

  private failGroup(groupId: string, error: string): void {
    this.store.groups.update(groupId, { status: 'failed', error, updatedAt: Date.now() });
    this.emit({ type: 'group', id: groupId });
    this.audit('group.failed', { error }, groupId);
    this.dkgStates.delete(groupId);
    this.log(`group ${groupId}: ${error}`);
  }

  // ---------------------------------------------------------------- DKG over the network

  private dkgParams(g: GroupRow, hash: string): DkgParams {
    const members = this.store.members.list(g.id).sort((a, b) => a.index - b.index);
    return {
      scheme: g.scheme,
      threshold: g.threshold,
      members: members.map((m) => ({
        identifier: BigInt(m.index),
        identityKey: hexToBytes(m.identityKey),
      })),
      sessionId: sha256(utf8ToBytes('conclave/dkg-session/v1:' + hash)),
    };
  }

  /** Messages of one DKG (keyed by group) or ceremony (keyed by session), by step and sender. */
  private inbox(key: string): DkgInbox {
    let b = this.dkgInbox.get(key);
    if (!b)
      this.dkgInbox.set(
        key,
        (b = { round1: new Map(), echo: new Map(), round2: new Map(), done: new Map() }),
      );
    return b;
  }

  /** Resolves once `n` messages of `step` arrived, or throws on the deadline. */
  private async awaitInbox(
    key: string,
    step: keyof DkgInbox,
    n: number,
    deadline: number,
    check?: () => void,
  ): Promise<Map<string, unknown>> {
    for (;;) {
      const box = this.inbox(key)[step];
      if (box.size >= n) return box;
      if (this.stopped) throw new Error('node stopped');
      check?.();
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${step} messages (${box.size} of ${n})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async runDkg(groupId: string, hash: string): Promise<void> {
    if (this.dkgRunning.has(groupId)) return;
    this.dkgRunning.add(groupId);
    const g = this.store.groups.get(groupId)!;
    const members = this.store.members.list(groupId).sort((a, b) => a.index - b.index);
    const others = members.filter((m) => m.peerId !== this.me.peerId);
    const meIdx = BigInt(members.find((m) => m.peerId === this.me.peerId)!.index);
    this.store.groups.update(groupId, { status: 'dkg', rosterHash: hash, updatedAt: Date.now() });
    this.emit({ type: 'group', id: groupId });
    this.log(`key generation for ${g.name} started`);
    const deadline = Date.now() + 120_000;
    try {
      const params = this.dkgParams(g, hash);
      const { state, package: pkg } = dkgRound1(params, meIdx);
      this.dkgStates.set(groupId, state);
      const session = state.session;
      this.store.groups.update(groupId, { dkgSession: session });
      const sendAll = (step: 'round1' | 'echo', payload: Record<string, unknown>) =>
        Promise.all(
          others.map((m) =>
            this.sendReliably(
              m.peerId,
              { v: 1, type: 'dkg', groupId, session, step, payload },
              deadline - Date.now(),
            ),
          ),
        );
      await sendAll('round1', pkg as unknown as Record<string, unknown>);
      const r1 = await this.awaitInbox(groupId, 'round1', others.length, deadline);
      const echo = dkgEcho(state, [...r1.values()] as DkgRound1Package[]);
      await sendAll('echo', echo as unknown as Record<string, unknown>);
      const echoes = await this.awaitInbox(groupId, 'echo', others.length, deadline);
      const out = dkgRound2(state, [...echoes.values()] as DkgEcho[]);
      const suite = getSuite(g.scheme);
      await Promise.all(
        out.map((p) => {
          const to = members.find((m) => BigInt(m.index) === p.to)!;
          return this.sendReliably(
            to.peerId,
            { v: 1, type: 'dkg', groupId, session, step: 'round2', payload: p.toWire(suite) },
            deadline - Date.now(),
          );
        }),
      );
      const r2 = await this.awaitInbox(groupId, 'round2', others.length, deadline);
      const received = [...r2.values()].map((w) =>
        DkgRound2Package.fromWire(suite, w as Parameters<typeof DkgRound2Package.fromWire>[1]),
      );
      const key = dkgFinalize(state, received);
      await this.vault.put(shareName(groupId, key.share.epoch), key.share.toBytes());
      const pubJson = JSON.stringify(publicPackageToJSON(key.public));
      this.store.tx(() => {
        this.store.groups.update(groupId, {
          status: 'ready',
          publicPackage: pubJson,
          epoch: 0,
          updatedAt: Date.now(),
          inviteSecret: undefined,
        });
        this.audit(
          'group.ready',
          { publicKey: bytesToHex(externalPublicKey(key.public)), epoch: 0 },
          groupId,
        );
      });
      this.keys.set(groupId, key);
      this.applyEarlyNonces(groupId);
      this.syncAuditWithAll(groupId);
      this.syncAuditWithAll(groupId);
      this.emit({ type: 'group', id: groupId });
      this.log(
        `key generation for ${g.name} done: public key ${bytesToHex(externalPublicKey(key.public))}`,
      );
      for (const m of others)
        if (this.host.isConnected(m.peerId))
          void this.sendNonces(groupId, m.peerId, true).catch(() => undefined);
    } catch (e) {
      const msg =
        e instanceof CryptoError && e.culprits.length
          ? `key generation failed (${e.code}): ${e.culprits.map((c) => this.nameOfIdentifier(groupId, c)).join(', ')} misbehaved — ${e.message}`
          : `key generation failed: ${(e as Error).message}`;
      this.failGroup(groupId, msg);
    } finally {
      this.dkgStates.delete(groupId);
      this.dkgInbox.delete(groupId);
      this.dkgRunning.delete(groupId);
    }
  }

  private nameOfIdentifier(groupId: string, idHex: string): string {
    const g = this.store.groups.get(groupId)!;
    try {
      const idx = Number(parseIdentifier(getSuite(g.scheme), idHex));
      const m = this.store.members.list(groupId).find((x) => x.index === idx);
      return m ? `${m.name} (${short(m.peerId)})` : idHex;
    } catch {
      return idHex;
    }
  }

  private memberByPeer(groupId: string, peer: string): MemberRow | undefined {
    return this.store.members.get(groupId, peer);
  }

  // ---------------------------------------------------------------- incoming group messages

  private async onGroupMessage(from: string, raw: unknown): Promise<unknown> {
    let msg: GroupMessage | SignMessage;
    try {
      msg = decodeGroupMessage(raw);
    } catch (e) {
      if (e instanceof ProtocolError) throw new DroppedMessage(e.code);
      throw e;
    }
    // Non-members may only ask how a ceremony ended, or prove a repair finished.
    if (
      !this.isKnownMember(from) &&
      !(msg.type === 'ceremony' && (msg.step === 'status' || msg.step === 'done'))
    )
      throw new DroppedMessage('non_member');
    switch (msg.type) {
      case 'hello':
        for (const g of this.sharedGroups(from))
          this.store.members.update(g.id, from, { addrs: msg.addrs });
        await this.host.addAddresses(from, msg.addrs);
        return { ok: true };
      case 'roster':
        if (
          !this.store.groups.get(msg.groupId) ||
          this.store.groups.get(msg.groupId)!.creatorPeerId !== from
        )
          throw new DroppedMessage('not_creator');
        this.store.tx(() => this.applyRoster(msg as RosterMessage));
        return { ok: true };
      case 'confirm': {
        if (!this.memberByPeer(msg.groupId, from)) throw new DroppedMessage('non_member');
        this.noteConfirmation(msg.groupId, from, msg.rosterHash);
        this.emit({ type: 'group', id: msg.groupId });
        this.maybeStartDkg(msg.groupId);
        return { ok: true };
      }
      case 'dkg': {
        const m = this.memberByPeer(msg.groupId, from);
        const g = this.store.groups.get(msg.groupId);
        if (!m || !g) throw new DroppedMessage('non_member');
        if (g.status !== 'confirming' && g.status !== 'dkg')
          throw new DroppedMessage('wrong_state');
        // The package's claimed sender must be the authenticated peer's roster position.
        const claimed = (msg.payload as { from?: unknown }).from;
        if (claimed !== identifierHex(getSuite(g.scheme), BigInt(m.index)))
          throw new DroppedMessage('spoofed_sender');
        const box = this.inbox(msg.groupId)[msg.step];
        if (!box.has(from)) box.set(from, msg.payload);
        return { ok: true };
      }
      case 'statements':
        for (const s of msg.items) this.acceptStatement(from, s);
        return { ok: true };
      case 'audit':
        this.acceptAudit(from, msg);
        return { ok: true };
      case 'nonces':
        this.acceptNonces(from, msg);
        return { ok: true };
      case 'sign':
        return this.onSign(from, msg as SignMessage);
      case 'ceremony':
        return this.onCeremony(from, msg);
      case 'import-share':
        return this.onImportShare(from, msg);
      case 'import-result':
        return this.onImportResult(from, msg);
    }
  }

  // ---------------------------------------------------------------- requests and decisions

  createSignRequest(input: {
    group: string;
    message: string;
    encoding: 'utf8' | 'hex';
    expiresInSec?: number;
  }): RequestView {
    const g = this.findGroup(input.group);
    if (g.status !== 'ready')
      throw new ApiError('not_ready', `group ${g.name} is ${g.status}, not ready to sign`);
    let bytes: Uint8Array;
    if (input.encoding === 'hex') {
      if (!/^([0-9a-fA-F]{2})*$/.test(input.message))
        throw new ApiError('bad_input', 'message: not valid hex');
      bytes = hexToBytes(input.message.toLowerCase());
    } else bytes = utf8ToBytes(input.message);
    if (bytes.length > LIMITS.message)
      throw new ApiError('bad_input', `message: at most ${LIMITS.message} bytes`);
    return this.createRequest(g, 'sign', bytes, input.expiresInSec);
  }

  private createRequest(
    g: GroupRow,
    kind: RequestBody['kind'],
    bytes: Uint8Array,
    expiresInSec?: number,
  ): RequestView {
    const policy = this.policyOf(g.id);
    const expiry = expiresInSec ?? policy.defaultExpirySec ?? DEFAULT_EXPIRY_SEC;
    const verdict = checkRequest(
      policy,
      { kind, message: bytes, expiresInSec: expiry },
      g.threshold,
      g.size,
    );
    if (!verdict.allowed)
      throw new ApiError('conflict', `the group policy does not allow this: ${verdict.reason}`);
    const now = Date.now();
    const body: RequestBody = {
      v: 1,
      type: 'request',
      groupId: g.id,
      kind,
      message: bytesToHex(bytes),
      createdBy: this.me.peerId,
      createdAt: now,
      expiresAt: now + 1000 * expiry,
      nonce: bytesToHex(nodeRandomBytes(16)),
      policy: policyHash(policy),
    };
    const signed = signStatement(body, (h) => this.me.sign(h));
    this.storeRequest(signed);
    this.broadcast(g.id, { v: 1, type: 'statements', items: [signed] });
    return this.requestView(this.store.requests.get(requestIdOf(body))!);
  }

  private storeRequest(s: Signed<RequestBody>): boolean {
    const id = requestIdOf(s.body);
    const b = s.body;
    const now = Date.now();
    const refused = this.policyRefusal(b);
    return this.store.tx(() => {
      const fresh = this.store.requests.insert({
        id,
        groupId: b.groupId,
        kind: b.kind,
        message: hexToBytes(b.message),
        createdBy: b.createdBy,
        createdAt: b.createdAt,
        expiresAt: b.expiresAt,
        status: b.expiresAt <= now ? 'expired' : refused ? 'failed' : 'pending',
        failure: refused,
        culprits: [],
        envelope: JSON.stringify(s),
        updatedAt: now,
      });
      if (fresh)
        this.audit(
          'request.created',
          {
            id,
            by: b.createdBy,
            kind: b.kind,
            messageSha256: bytesToHex(sha256(hexToBytes(b.message))),
            expiresAt: b.expiresAt,
          },
          b.groupId,
        );
      return fresh;
    });
  }

  private getRequest(id: string): RequestRow {
    const r = this.store.requests.get(id);
    if (!r)
      throw new ApiError(
        'not_found',
        `no request ${id} on this node; see \`conclave request list\``,
      );
    return r;
  }

  decide(id: string, decision: 'approve' | 'deny', reason?: string): RequestView {
    const r = this.getRequest(id);
    this.refreshStatus(r.id);
    const cur = this.store.requests.get(id)!;
    if (TERMINAL.includes(cur.status))
      throw new ApiError('conflict', `request ${id} is already ${cur.status}`);
    const g = this.store.groups.get(r.groupId)!;
    if (!this.store.members.get(g.id, this.me.peerId))
      throw new ApiError('not_member', 'you are not a member of this group');
    const prior = this.store.decisions.list(id).find((d) => d.peerId === this.me.peerId);
    if (prior)
      throw new ApiError(
        'conflict',
        `you already ${prior.decision === 'approve' ? 'approved' : 'denied'} this request`,
      );
    const reqSigned = JSON.parse(r.envelope) as Signed<RequestBody>;
    const body: DecisionBody = {
      v: 1,
      type: 'decision',
      groupId: g.id,
      requestId: id,
      requestHash: bytesToHex(statementHash(reqSigned.body)),
      decision,
      by: this.me.peerId,
      at: Date.now(),
    };
    if (reason) body.reason = reason;
    const signed = signStatement(body, (h) => this.me.sign(h));
    this.storeDecision(signed);
    this.broadcast(g.id, { v: 1, type: 'statements', items: [signed] });
    this.evaluate(id);
    return this.requestView(this.store.requests.get(id)!);
  }

  private storeDecision(s: Signed<DecisionBody>): boolean {
    const b = s.body;
    return this.store.tx(() => {
      const fresh = this.store.decisions.insert({
        requestId: b.requestId,
        peerId: b.by,
        decision: b.decision,
        reason: b.reason,
        statement: JSON.stringify(s),
        at: b.at,
      });
      if (fresh)
        this.audit(
          b.decision === 'approve' ? 'request.approved' : 'request.denied',
          { id: b.requestId, by: b.by, reason: b.reason, statement: s.sig },
          b.groupId,
        );
      return fresh;
    });
  }

  /** A statement received from `from` (who may be relaying another member's statement). */
  private acceptStatement(from: string, s: Signed): void {
    const b = s.body;
    const g = this.store.groups.get(b.groupId);
    if (!g || !this.memberByPeer(b.groupId, from)) throw new DroppedMessage('non_member');
    const author = authorOf(b);
    if (!this.memberByPeer(b.groupId, author)) throw new DroppedMessage('non_member_author');
    if (!verifyStatement(s, publicKeyFromPeerId(author))) throw new DroppedMessage('bad_signature');
    if (b.type === 'request') {
      // A newcomer stores only the reshare that is to add it (it arrives with the start message).
      const newcomer =
        g.status === 'forming' &&
        !!this.store.meta.get(`newcomer:${g.id}`) &&
        (b.kind === 'reshare' || b.kind === 'repair');
      // A member still finishing its DKG answers "not yet": the sender retries (broadcasts do).
      if ((g.status === 'dkg' || g.status === 'confirming') && !newcomer)
        throw new Error('this member is still generating the group key; try again shortly');
      if (g.status !== 'ready' && !newcomer) return;
      if (this.storeRequest(s as Signed<RequestBody>)) this.notify(requestIdOf(b));
      else this.count('duplicate');
      return;
    }
    const r = this.store.requests.get(b.requestId);
    // A decision or outcome can overtake its request: answer "not yet" so the sender retries
    // (broadcasts and syncs do) instead of losing it.
    if (!r) throw new Error('this node does not have that request yet; try again shortly');
    if (r.groupId !== b.groupId) throw new DroppedMessage('wrong_group');
    if (b.type === 'decision') {
      const env = JSON.parse(r.envelope) as Signed<RequestBody>;
      if (b.requestHash !== bytesToHex(statementHash(env.body)))
        throw new DroppedMessage('wrong_request_hash');
      if (this.storeDecision(s as Signed<DecisionBody>)) {
        this.evaluate(r.id);
        this.notify(r.id);
      } else this.count('duplicate');
      return;
    }
    this.acceptOutcome(r, b);
  }

  private acceptOutcome(r: RequestRow, b: OutcomeBody): void {
    if (r.status === 'done') return;
    if (b.signature) {
      const pub = this.publicPackage(r.groupId);
      if (!pub || !verifySignature(pub, r.message, hexToBytes(b.signature)))
        throw new DroppedMessage('bad_result');
      this.finish(r.id, { status: 'done', signature: hexToBytes(b.signature) }, 'request.signed', {
        id: r.id,
        signature: b.signature,
        by: b.by,
      });
      return;
    }
    if (b.failure && !TERMINAL.includes(r.status))
      this.finish(
        r.id,
        { status: 'failed', failure: b.failure, culprits: union(r.culprits, b.culprits) },
        'request.failed',
        { id: r.id, failure: b.failure, culprits: b.culprits, by: b.by },
      );
  }

  private finish(
    id: string,
    patch: Partial<RequestRow>,
    auditType: string,
    auditBody: Record<string, unknown>,
  ): void {
    const r = this.store.requests.get(id)!;
    this.store.tx(() => {
      this.store.requests.update(id, { ...patch, updatedAt: Date.now() });
      this.audit(auditType, auditBody, r.groupId);
    });
    this.notify(id);
  }

  private async sendStatements(peer: string, groupId: string): Promise<void> {
    const items: Signed[] = [];
    for (const r of this.store.requests.list({ groupId }).slice(0, 200)) {
      items.push(JSON.parse(r.envelope) as Signed);
      for (const d of this.store.decisions.list(r.id))
        items.push(JSON.parse(d.statement) as Signed);
      const o = this.outcomeOf(r);
      if (o) items.push(o);
    }
    for (let i = 0; i < items.length; i += 300)
      await this.sendReliably(
        peer,
        { v: 1, type: 'statements', items: items.slice(i, i + 300) },
        60_000,
      );
  }

  private outcomeOf(r: RequestRow): Signed<OutcomeBody> | undefined {
    if (r.status !== 'done' && r.status !== 'failed') return undefined;
    const body: OutcomeBody = {
      v: 1,
      type: 'outcome',
      groupId: r.groupId,
      requestId: r.id,
      culprits: r.culprits,
      by: this.me.peerId,
      at: r.updatedAt,
    };
    if (r.signature) body.signature = bytesToHex(r.signature);
    else if (r.failure) body.failure = r.failure;
    else return undefined;
    return signStatement(body, (h) => this.me.sign(h));
  }

  private notify(id: string): void {
    const ws = this.waiters.get(id);
    if (ws) for (const w of ws) w();
    this.emit({ type: 'request', id });
  }

  /** Subscribes to change events for clients (UI); returns the unsubscribe function. */
  onEvent(cb: (e: ApiEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private emit(e: ApiEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log(`event listener failed: ${(err as Error).message}`);
      }
    }
  }

  /** Expiry and denial, from what this node knows. */
  private refreshStatus(id: string): void {
    const r = this.store.requests.get(id);
    if (!r || TERMINAL.includes(r.status)) return;
    // Expiry ends the wait for approvals, not a ceremony already under way.
    const underWay = () =>
      this.ceremonies.has(id) || this.pendingCeremony(r.groupId)?.requestId === id;
    if (Date.now() >= r.expiresAt && !underWay()) {
      this.finish(id, { status: 'expired' }, 'request.expired', { id });
      return;
    }
    const g = this.store.groups.get(r.groupId)!;
    const denials = this.store.decisions.list(id).filter((d) => d.decision === 'deny').length;
    if (denials > g.size - this.needed(r))
      this.finish(id, { status: 'denied' }, 'request.denied_final', { id, denials });
  }

  private sweep(): void {
    if (this.stopped) return;
    for (const r of this.store.requests.list({ statuses: ['pending', 'signing'] }))
      this.refreshStatus(r.id);
  }

  /** Decides whether this node coordinates signing now, and starts it. */
  private evaluate(id: string): void {
    this.refreshStatus(id);
    const r = this.store.requests.get(id);
    if (!r || TERMINAL.includes(r.status) || this.coordinating.has(id)) return;
    const approvers = this.store.decisions
      .list(id)
      .filter((d) => d.decision === 'approve')
      .map((d) => d.peerId);
    if (approvers.length < this.needed(r)) return;
    if (r.kind === 'policy') {
      this.applyPolicyChange(r);
      return;
    }
    if (r.kind === 'reconstruct') {
      void this.reconstructStep(r).catch((e) =>
        this.log(`reconstruction ${r.id}: ${(e as Error).message}`),
      );
      return;
    }
    if (!approvers.includes(this.me.peerId)) return;
    const candidates = approvers
      .filter((p) => (p === this.me.peerId || this.host.isConnected(p)) && !r.culprits.includes(p))
      .sort();
    if (candidates[0] !== this.me.peerId) return;
    if (r.kind === 'sign') void this.coordinate(id);
    else void this.startCeremony(id);
  }

  // ---------------------------------------------------------------- ceremonies (refresh)

  // ---------------------------------------------------------------- group policy

  /** The policy in force for a group (the default until a policy request changed it). */
  policyOf(groupId: string): GroupPolicy {
    const raw = this.store.meta.get(`policy:${groupId}`);
    return raw ? (JSON.parse(raw) as GroupPolicy) : defaultPolicy();
  }

  /** Approvals a request needs under the group's policy (at least T). */
  private needed(r: RequestRow): number {
    const g = this.store.groups.get(r.groupId)!;
    return approvalsNeeded(this.policyOf(g.id), r.kind, g.threshold, g.size);
  }

  /**
   * Why this node refuses a request under its own copy of the group policy, or undefined: a
   * request made under another policy (hash) or one the policy does not allow is never approved
   * or signed here, so a member with a tampered policy cannot make the others sign.
   */
  private policyRefusal(b: RequestBody): string | undefined {
    const g = this.store.groups.get(b.groupId);
    if (!g) return undefined;
    const policy = this.policyOf(g.id);
    if (b.policy !== policyHash(policy))
      return 'this request was made under another group policy than the one in force here; it cannot be approved';
    const verdict = checkRequest(
      policy,
      {
        kind: b.kind,
        message: hexToBytes(b.message),
        expiresInSec: Math.round((b.expiresAt - b.createdAt) / 1000),
      },
      g.threshold,
      g.size,
    );
    return verdict.allowed ? undefined : `against the group policy: ${verdict.reason}`;
  }

  policyView(ref: string): PolicyView {
    const g = this.findGroup(ref);
    const p = this.policyOf(g.id);
    return {
      group: g.id,
      hash: policyHash(p),
      policy: p as unknown as Record<string, unknown>,
      description: describePolicy(p, g.threshold, g.size),
    };
  }

  createPolicyRequest(input: {
    group: string;
    policy: Record<string, unknown>;
    expiresInSec?: number;
  }): RequestView {
    const g = this.findGroup(input.group);
    if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} is ${g.status}`);
    let next: GroupPolicy;
    try {
      next = validatePolicy(input.policy, g.threshold, g.size);
    } catch (e) {
      throw new ApiError('bad_input', `policy: ${(e as Error).message}`);
    }
    const change = { v: 1, from: policyHash(this.policyOf(g.id)), policy: next };
    return this.createRequest(g, 'policy', utf8ToBytes(canonicalJSON(change)), input.expiresInSec);
  }

  /** Every member applies an approved policy change itself, as soon as it sees enough approvals. */
  private applyPolicyChange(r: RequestRow): void {
    const g = this.store.groups.get(r.groupId)!;
    let next: GroupPolicy;
    try {
      next = validatePolicyChange(
        JSON.parse(new TextDecoder().decode(r.message)),
        this.policyOf(g.id),
        g.threshold,
        g.size,
      );
    } catch (e) {
      this.finish(
        r.id,
        { status: 'failed', failure: `policy change refused: ${(e as Error).message}` },
        'request.failed',
        { id: r.id },
      );
      return;
    }
    this.store.tx(() => {
      this.store.meta.set(`policy:${g.id}`, JSON.stringify(next));
      this.store.requests.update(r.id, { status: 'done', updatedAt: Date.now() });
      this.audit('group.policy_changed', { requestId: r.id, hash: policyHash(next) }, g.id);
    });
    this.notify(r.id);
    this.emit({ type: 'group', id: g.id });
  }

  // ---------------------------------------------------------------- reconstruction (audited)

  createReconstructRequest(input: {
    group: string;
    purpose: string;
    operation: 'export' | 'ecdsa-sign';
    out?: string;
    passphrase?: string;
    digest?: string;
    expiresInSec?: number;
  }): RequestView {
    const g = this.findGroup(input.group);
    if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} is ${g.status}`);
    if (input.operation === 'ecdsa-sign' && g.scheme === 'ed25519')
      throw new ApiError('bad_input', 'operation: ecdsa-sign needs a secp256k1 or taproot group');
    const eph = x25519.keygen();
    const params: ReconstructParams = {
      ceremony: 'reconstruct',
      group: g.id,
      fromEpoch: g.epoch,
      purpose: input.purpose,
      operation: input.operation,
      requester: this.me.peerId,
      oneTimeKey: bytesToHex(eph.publicKey),
      ...(input.digest ? { digest: input.digest.toLowerCase() } : {}),
    };
    const view = this.createRequest(
      g,
      'reconstruct',
      utf8ToBytes(canonicalJSON(params)),
      input.expiresInSec,
    );
    this.reconstructJobs.set(view.id, {
      secretKey: eph.secretKey,
      out: input.out,
      passphrase: input.passphrase,
    });
    return view;
  }

  /**
   * Once enough approvals exist: each approver seals its share to the requester's one-time key;
   * the requester combines T shares in memory, performs the stated operation and wipes the key.
   */
  private async reconstructStep(r: RequestRow): Promise<void> {
    const g = this.store.groups.get(r.groupId)!;
    const p = JSON.parse(new TextDecoder().decode(r.message)) as ReconstructParams;
    const approvers = this.store.decisions
      .list(r.id)
      .filter((d) => d.decision === 'approve')
      .map((d) => d.peerId);
    const session = bytesToHex(sha256(utf8ToBytes(`conclave/reconstruct/v1:${r.id}`)));
    const aad = utf8ToBytes(`conclave/reconstruct/v1:${r.id}`);
    const suite = getSuite(g.scheme);
    if (
      approvers.includes(this.me.peerId) &&
      p.requester !== this.me.peerId &&
      !this.sealedSent.has(r.id)
    ) {
      this.sealedSent.add(r.id);
      // Test-only: this approver goes away before its share leaves.
      if (this.fault === 'exit-mid-ceremony') process.exit(3);
      const key = await this.keyPackage(g.id);
      const sealed = sealTo(hexToBytes(p.oneTimeKey), key.share.toBytes(), aad);
      await this.sendReliably(
        p.requester,
        {
          v: 1,
          type: 'ceremony',
          groupId: g.id,
          requestId: r.id,
          session,
          step: 'round2',
          payload: {
            from: identifierHex(suite, key.share.identifier),
            sealed: sealed as unknown as Record<string, unknown>,
          },
        },
        60_000,
      );
      this.log(
        `sent my sealed share for reconstruction ${r.id} to ${this.memberName(g.id, p.requester)}`,
      );
      return;
    }
    if (p.requester !== this.me.peerId || this.ceremonies.has(r.id)) return;
    const job = this.reconstructJobs.get(r.id);
    if (!job) {
      this.finish(
        r.id,
        {
          status: 'failed',
          failure: 'this node restarted since the request; its one-time key is gone: ask again',
        },
        'request.failed',
        { id: r.id },
      );
      return;
    }
    this.ceremonies.add(r.id);
    this.store.requests.update(r.id, { status: 'signing', updatedAt: Date.now() });
    this.notify(r.id);
    try {
      const pub = this.publicPackage(g.id)!;
      const shares: SecretShare[] = [];
      if (approvers.includes(this.me.peerId)) shares.push((await this.keyPackage(g.id)).share);
      const others = approvers.filter((a) => a !== this.me.peerId);
      const got = await this.awaitInbox(
        session,
        'round2',
        Math.min(others.length, g.threshold - shares.length),
        Date.now() + this.ceremonyTimeoutMs,
      ).catch((e: unknown) => {
        const box = this.inbox(session).round2;
        const missing = others.filter((a) => !box.has(a)).map((a) => this.memberName(g.id, a));
        if (this.stopped || !missing.length) throw e;
        throw new Error(
          `${missing.join(', ')} did not send ${missing.length > 1 ? 'their shares' : 'its share'} in time; nothing was reconstructed and the key is not exposed`,
          { cause: e },
        );
      });
      for (const [peer, raw] of got) {
        const m = this.memberByPeer(g.id, peer)!;
        const bytes = openSealed(job.secretKey, (raw as { sealed: Sealed }).sealed, aad);
        shares.push(SecretShare.fromBytes(g.scheme, BigInt(m.index), bytes, g.epoch));
        bytes.fill(0);
      }
      const secret = combineShares(pub, shares.slice(0, Math.max(g.threshold, shares.length)));
      let signature: Uint8Array | undefined;
      if (p.operation === 'export') {
        await writeFile(job.out!, exportKey(g.scheme, secret, job.passphrase!), {
          mode: 0o600,
          flag: 'wx',
        });
      } else {
        const sk = suite.encodeScalar(secret);
        signature = secp256k1.sign(hexToBytes(p.digest!), sk, { prehash: false, lowS: true });
        sk.fill(0);
      }
      const at = Date.now();
      const exposed = `key exposed on ${this.me.name} at ${new Date(at).toISOString()} (${p.purpose})`;
      this.markExposed(g.id, r.id, exposed, signature);
      for (const m of this.store.members.list(g.id))
        if (m.peerId !== this.me.peerId)
          void this.sendReliably(
            m.peerId,
            {
              v: 1,
              type: 'ceremony',
              groupId: g.id,
              requestId: r.id,
              session,
              step: 'done',
              payload: { exposed },
            },
            60_000,
          ).catch(() => undefined);
    } catch (e) {
      this.finish(
        r.id,
        { status: 'failed', failure: `reconstruction failed: ${(e as Error).message}` },
        'request.failed',
        { id: r.id },
      );
    } finally {
      // The key existed in memory for the operation only (a bigint cannot be wiped; it is
      // dropped here with the one-time key and the passphrase).
      job.secretKey.fill(0);
      if (job.passphrase) job.passphrase = undefined;
      this.reconstructJobs.delete(r.id);
      this.ceremonies.delete(r.id);
      this.dkgInbox.delete(session);
    }
  }

  /** Every member records that the key was reconstructed, by whom and when. */
  private markExposed(
    groupId: string,
    requestId: string,
    exposed: string,
    signature?: Uint8Array,
  ): void {
    this.store.tx(() => {
      this.store.meta.set(`exposed:${groupId}`, exposed);
      this.store.requests.update(requestId, {
        status: 'done',
        ...(signature ? { signature } : {}),
        updatedAt: Date.now(),
      });
      this.audit('group.key_exposed', { requestId, exposed }, groupId);
    });
    this.notify(requestId);
    this.emit({ type: 'group', id: groupId });
  }

  createRefreshRequest(input: { group: string; expiresInSec?: number }): RequestView {
    const g = this.findGroup(input.group);
    if (g.status !== 'ready')
      throw new ApiError(
        'not_ready',
        `group ${g.name} is ${g.status}; only a ready group can be refreshed`,
      );
    const params = { ceremony: 'refresh', group: g.id, fromEpoch: g.epoch };
    return this.createRequest(g, 'refresh', utf8ToBytes(canonicalJSON(params)), input.expiresInSec);
  }

  /** The parameters of a ceremony request (canonical JSON in its message). */
  private ceremonyParams(r: RequestRow): CeremonyParams {
    return JSON.parse(new TextDecoder().decode(r.message)) as CeremonyParams;
  }

  /** What a ceremony request does, in words; undefined for signing requests. */
  private describe(r: RequestRow): string | undefined {
    if (r.kind === 'sign') return undefined;
    if (r.kind === 'reconstruct') {
      const g = this.store.groups.get(r.groupId);
      const p = JSON.parse(new TextDecoder().decode(r.message)) as ReconstructParams;
      const what =
        p.operation === 'export'
          ? 'export it encrypted (to migrate it elsewhere)'
          : `sign the digest ${p.digest} with ECDSA (the signature verifies under the secp256k1 key ${this.ecdsaKeyHex(r.groupId) ?? 'of the group'})`;
      return `RECONSTRUCT the whole key of ${g?.name ?? r.groupId} on ${this.memberName(r.groupId, p.requester)}'s computer to ${what}. Purpose: "${p.purpose}". Approvers send their shares to that computer; afterwards the key must be treated as exposed and funds moved to a new key.`;
    }
    if (r.kind === 'policy') {
      const g = this.store.groups.get(r.groupId);
      const change = JSON.parse(new TextDecoder().decode(r.message)) as { policy: GroupPolicy };
      return `Change the group policy of ${g?.name ?? r.groupId} to: ${describePolicy(change.policy, g?.threshold ?? 2, g?.size ?? 2).join(' ')}`;
    }
    const g = this.store.groups.get(r.groupId);
    const p = this.ceremonyParams(r);
    const name = g?.name ?? r.groupId;
    if (p.ceremony === 'repair')
      return `Repair: rebuild ${this.memberName(r.groupId, p.lost)}'s share on a new device, ${p.newcomer.name} (fingerprint ${fingerprint(publicKeyFromPeerId(p.newcomer.peerId))}), which takes their place; ${this.memberName(r.groupId, p.lost)}'s old identity stops counting. ${g?.threshold ?? 'T'} members help without any of them learning the share; the public key and epoch stay the same.`;
    if (p.ceremony === 'refresh')
      return `Refresh every member's share of ${name} (epoch ${p.fromEpoch} → ${p.fromEpoch + 1}). The public key stays the same; the old shares and their backups stop working. Every member must be online.`;
    const parts: string[] = [];
    for (const a of p.add)
      parts.push(`add ${a.name} (${fingerprint(publicKeyFromPeerId(a.peerId))})`);
    for (const peer of p.remove) parts.push(`remove ${this.memberName(r.groupId, peer)}`);
    if (g && p.threshold !== g.threshold)
      parts.push(`change the threshold from ${g.threshold} to ${p.threshold}`);
    return `Reshare ${name}: ${parts.join(', ') || 'new shares for the same members'} (epoch ${p.fromEpoch} → ${p.fromEpoch + 1}, ${p.threshold} of ${p.size} afterwards). The public key stays the same; removed members' shares stop working.`;
  }

  /**
   * The 33-byte compressed key an ECDSA signature from a reconstruction verifies under: the group
   * key itself (secp256k1) or the taproot internal key with its own parity, not the output key.
   */
  private ecdsaKeyHex(groupId: string): string | undefined {
    const pub = this.publicPackage(groupId);
    return pub && pub.scheme !== 'ed25519' ? bytesToHex(pub.groupKey.toBytes()) : undefined;
  }

  /** The roster after a ceremony: kept members keep their index, newcomers get the next ones. */
  private plannedRoster(g: GroupRow, p: CeremonyParams): PlannedMember[] {
    if (p.ceremony === 'repair')
      return this.store.members.list(g.id).map((m) =>
        m.peerId === p.lost
          ? {
              peerId: p.newcomer.peerId,
              name: p.newcomer.name,
              index: m.index,
              identityKey: bytesToHex(publicKeyFromPeerId(p.newcomer.peerId)),
              addrs: p.newcomer.addrs,
            }
          : {
              peerId: m.peerId,
              name: m.name,
              index: m.index,
              identityKey: m.identityKey,
              addrs: m.addrs,
            },
      );
    const kept = this.store.members
      .list(g.id)
      .filter((m) => !(p.ceremony === 'reshare' && p.remove.includes(m.peerId)))
      .map((m) => ({
        peerId: m.peerId,
        name: m.name,
        index: m.index,
        identityKey: m.identityKey,
        addrs: m.addrs,
      }));
    if (p.ceremony === 'refresh') return kept;
    let next = Math.max(0, ...this.store.members.list(g.id).map((m) => m.index)) + 1;
    for (const a of p.add)
      kept.push({
        peerId: a.peerId,
        name: a.name,
        index: next++,
        identityKey: bytesToHex(publicKeyFromPeerId(a.peerId)),
        addrs: a.addrs,
      });
    return kept;
  }

  /** Who must be online for the coordinator to start: dealers (old members) and every new member. */
  private ceremonyPlan(r: RequestRow): { dealers: string[]; missing: string[] } {
    const g = this.store.groups.get(r.groupId)!;
    const p = this.ceremonyParams(r);
    const online = (peer: string) => peer === this.me.peerId || this.host.isConnected(peer);
    const old = this.store.members.list(g.id).sort((a, b) => a.index - b.index);
    const recipients = this.plannedRoster(g, p);
    const missing = recipients.filter((m) => !online(m.peerId)).map((m) => m.name);
    let dealers: string[];
    if (p.ceremony === 'repair') {
      // T helpers who are online; the lost member is not one of them.
      const helpers = old.filter((m) => m.peerId !== p.lost && online(m.peerId));
      dealers = helpers.slice(0, g.threshold).map((m) => m.peerId);
      const newcomerOnline = online(p.newcomer.peerId);
      const need: string[] = newcomerOnline ? [] : [p.newcomer.name];
      if (dealers.length < g.threshold)
        need.push(
          ...old
            .filter((m) => m.peerId !== p.lost && !online(m.peerId))
            .map((m) => m.name)
            .slice(0, g.threshold - dealers.length),
        );
      return { dealers, missing: need };
    } else if (p.ceremony === 'refresh') dealers = old.map((m) => m.peerId);
    else {
      // Prefer members who stay; removed ones deal only when too few others are online.
      const staying = old.filter((m) => !p.remove.includes(m.peerId) && online(m.peerId));
      const leaving = old.filter((m) => p.remove.includes(m.peerId) && online(m.peerId));
      dealers = [...staying, ...leaving]
        .slice(0, Math.max(g.threshold, staying.length))
        .map((m) => m.peerId);
      if (dealers.length < g.threshold) {
        const offline = old.filter((m) => !online(m.peerId)).map((m) => m.name);
        missing.push(...offline.slice(0, g.threshold - dealers.length));
      }
    }
    if (p.ceremony === 'refresh')
      for (const m of old) if (!online(m.peerId) && !missing.includes(m.name)) missing.push(m.name);
    return { dealers, missing: [...new Set(missing)] };
  }

  /** The coordinator starts the ceremony once everyone it needs is online (pre-flight check). */
  private async startCeremony(id: string): Promise<void> {
    const r = this.store.requests.get(id)!;
    const g = this.store.groups.get(r.groupId)!;
    if (this.ceremonies.has(id)) return;
    const fromEpoch = this.ceremonyParams(r).fromEpoch;
    if (fromEpoch !== g.epoch) {
      this.finish(
        id,
        {
          status: 'failed',
          failure: `${r.kind} failed: it was proposed for epoch ${fromEpoch}, and another ceremony has moved the group to epoch ${g.epoch} since; propose it again if it is still wanted`,
        },
        'request.failed',
        { id, failure: 'stale epoch' },
      );
      this.announceOutcome(id);
      return;
    }
    // One ceremony per group at a time; this one starts when the other has ended.
    const other = this.ceremonyUnderWay(g.id, id);
    if (other) {
      this.log(`${r.kind} ${id} waits for ${other} to end`);
      return;
    }
    const { dealers, missing } = this.ceremonyPlan(r);
    if (missing.length) {
      this.log(`${r.kind} ${id} waits for ${missing.join(', ')} to come online`);
      return;
    }
    if (this.ceremonies.has(id)) return;
    const session = bytesToHex(nodeRandomBytes(32));
    const approvals = this.store.decisions
      .list(id)
      .filter((d) => d.decision === 'approve')
      .map((d) => JSON.parse(d.statement) as Signed);
    const payload = { request: JSON.parse(r.envelope) as Signed, approvals, dealers };
    const participants = new Set([
      ...this.store.members.list(g.id).map((m) => m.peerId),
      ...this.plannedRoster(g, this.ceremonyParams(r)).map((m) => m.peerId),
    ]);
    for (const peer of participants)
      if (peer !== this.me.peerId)
        this.send(peer, {
          v: 1,
          type: 'ceremony',
          groupId: g.id,
          requestId: id,
          session,
          step: 'start',
          payload,
        }).catch((e) =>
          this.log(
            `${r.kind} start to ${this.memberName(g.id, peer)} failed: ${(e as Error).message}`,
          ),
        );
    await this.runCeremony(g.id, id, session, dealers);
  }

  private onCeremony(from: string, msg: CeremonyMessage): unknown {
    const g = this.store.groups.get(msg.groupId);
    if (!g) throw new DroppedMessage('non_member');
    if (msg.step === 'status') {
      const r = this.store.requests.get(msg.requestId);
      if (!r || r.groupId !== g.id || (r.kind !== 'refresh' && r.kind !== 'reshare'))
        throw new DroppedMessage('unknown_request');
      const p = this.pendingCeremony(g.id);
      const asker =
        this.memberByPeer(g.id, from) ||
        this.isFormerMember(g.id, from) ||
        this.newcomerInPendingRequest(g.id, from) ||
        p?.roster.some((m) => m.peerId === from);
      if (!asker) throw new DroppedMessage('non_member');
      return this.ceremonyAnswer(g.id, msg.requestId, msg.session);
    }
    if (msg.step === 'done') {
      const rq = this.store.requests.get(msg.requestId);
      if (rq?.kind === 'repair' && rq.groupId === g.id && !this.ceremonies.has(rq.id))
        return this.lateRepairDone(from, g, rq, msg.payload);
    }
    const m = this.memberByPeer(g.id, from) ?? this.newcomerInPendingRequest(g.id, from);
    if (!m) throw new DroppedMessage('non_member');
    if (msg.step === 'start') {
      if (!this.memberByPeer(g.id, from)) throw new DroppedMessage('non_member');
      const p = msg.payload as { request?: unknown; approvals?: unknown; dealers?: unknown };
      if (p.request) this.acceptStatement(from, decodeSignedSafe(p.request));
      const r = this.store.requests.get(msg.requestId);
      if (!r || r.kind === 'sign' || r.groupId !== g.id)
        throw new DroppedMessage('unknown_request');
      // A request that ended here is never started again, e.g. by a coordinator that stopped in
      // the middle and, restarted, still calls it "signing": the group proposes a new one.
      if (TERMINAL.includes(r.status)) throw new DroppedMessage('request_ended');
      if (Array.isArray(p.approvals))
        for (const a of p.approvals.slice(0, 64)) this.acceptStatement(from, decodeSignedSafe(a));
      const approvers = new Set(
        this.store.decisions
          .list(r.id)
          .filter((d) => d.decision === 'approve')
          .map((d) => d.peerId),
      );
      if (approvers.size < this.needed(r)) throw new DroppedMessage('not_approved');
      if (this.ceremonyParams(r).fromEpoch !== g.epoch) throw new DroppedMessage('wrong_epoch');
      if (this.ceremonyUnderWay(g.id, r.id)) throw new DroppedMessage('ceremony_under_way');
      const dealers = Array.isArray(p.dealers)
        ? p.dealers.filter((x): x is string => typeof x === 'string')
        : [];
      if (dealers.length < g.threshold || dealers.some((d) => !this.memberByPeer(g.id, d)))
        throw new DroppedMessage('bad_dealers');
      void this.runCeremony(g.id, r.id, msg.session, dealers);
      return { ok: true };
    }
    if (msg.step === 'abort') {
      const why = (msg.payload as { reason?: unknown }).reason;
      if (!this.aborted.has(msg.session))
        this.abortReasons.set(
          msg.session,
          `${this.participantName(g.id, from)} stopped it (${typeof why === 'string' ? why.slice(0, 300) : 'no reason given'})`,
        );
      this.aborted.add(msg.session);
      const by = this.abortedBy.get(msg.session) ?? new Set<string>();
      this.abortedBy.set(msg.session, by.add(from));
      return { ok: true };
    }
    const rr = this.store.requests.get(msg.requestId);
    if (rr?.kind === 'reconstruct' && msg.step === 'done') {
      const p = JSON.parse(new TextDecoder().decode(rr.message)) as ReconstructParams;
      if (from !== p.requester) throw new DroppedMessage('not_requester');
      const exposed = (msg.payload as { exposed?: unknown }).exposed;
      if (typeof exposed === 'string' && rr.status !== 'done')
        this.markExposed(g.id, rr.id, exposed.slice(0, 500));
      return { ok: true };
    }
    // Round messages: the claimed dealer must be the authenticated peer's roster position.
    if (msg.step !== 'done') {
      const claimed = (msg.payload as { from?: unknown }).from;
      if (claimed !== identifierHex(getSuite(g.scheme), BigInt(m.index)))
        throw new DroppedMessage('spoofed_sender');
    }
    const box = this.inbox(msg.session)[msg.step];
    if (!box.has(from)) box.set(from, msg.payload);
    return { ok: true };
  }

  createRepairRequest(input: {
    group: string;
    member: string;
    newcomer?: string;
    expiresInSec?: number;
  }): RequestView {
    const g = this.findGroup(input.group);
    if (g.status !== 'ready')
      throw new ApiError(
        'not_ready',
        `group ${g.name} is ${g.status}; only a ready group can repair a share`,
      );
    const members = this.store.members.list(g.id);
    const lost = members.filter((m) => m.peerId === input.member || m.name === input.member);
    if (lost.length !== 1)
      throw new ApiError(
        lost.length ? 'ambiguous' : 'not_found',
        `no single member "${input.member}" in ${g.name}`,
      );
    if (lost[0].peerId === this.me.peerId)
      throw new ApiError(
        'bad_input',
        'member: you cannot repair your own share from this device; ask another member',
      );
    const candidates = JSON.parse(this.store.meta.get(`candidates:${g.id}`) || '[]') as Candidate[];
    const pick = input.newcomer
      ? candidates.filter((c) => c.peerId === input.newcomer || c.name === input.newcomer)
      : candidates;
    if (pick.length !== 1)
      throw new ApiError(
        'not_found',
        pick.length
          ? 'several newcomers joined through your invites: say which one with newcomer'
          : `the new device must first join with an invite from you: conclave group invite ${g.name}`,
      );
    const params: CeremonyParams = {
      ceremony: 'repair',
      group: g.id,
      fromEpoch: g.epoch,
      lost: lost[0].peerId,
      newcomer: pick[0],
    };
    return this.createRequest(g, 'repair', utf8ToBytes(canonicalJSON(params)), input.expiresInSec);
  }

  /**
   * Repair (ZF's repairable threshold scheme): T helpers each split λ_i(r)·s_i into parts for the
   * other helpers, publish commitments to every part, sum what they got and send the sum to the
   * new device, which adds them up into exactly the lost share and checks it against Y_r. Then
   * everyone puts the new identity at the lost member's roster position; nothing else changes.
   */
  private async runRepair(
    groupId: string,
    requestId: string,
    session: string,
    helperPeers: string[],
    p: Extract<CeremonyParams, { ceremony: 'repair' }>,
  ): Promise<void> {
    // A repair runs once per request. Its state is memory only: one this node was in the middle
    // of when it stopped ("signing" here, but no longer running) cannot be resumed, and one that
    // ended (the others failed it, or the lost member was replaced already) must not start again
    // when a restarted member proposes a new session of it. The group proposes a new repair.
    const r = this.store.requests.get(requestId);
    const lost = this.store.members.get(groupId, p.lost);
    if (r?.status !== 'pending' || !lost) {
      const why = lost ? `it is ${r?.status ?? 'unknown'} here` : 'the lost member was replaced';
      this.log(`repair ${requestId} not started again: ${why}`);
      if (r?.status === 'signing')
        this.finish(
          requestId,
          {
            status: 'failed',
            failure: 'repair failed: this node stopped during the repair; it can be proposed again',
          },
          'request.failed',
          { id: requestId, failure: 'this node stopped during the repair' },
        );
      return;
    }
    this.ceremonies.add(requestId);
    const g = this.store.groups.get(groupId)!;
    const suite = getSuite(g.scheme);
    const members = this.store.members.list(groupId);
    const lostIndex = BigInt(lost.index);
    const helpers = helperPeers.map((peer) => ({
      peerId: peer,
      index: BigInt(members.find((m) => m.peerId === peer)!.index),
    }));
    const helperIds = helpers.map((h) => h.index);
    const isHelper = helperPeers.includes(this.me.peerId);
    const isNewcomer = p.newcomer.peerId === this.me.peerId;
    const deadline = Date.now() + this.ceremonyTimeoutMs;
    const send = this.ceremonySender(groupId, requestId, session, deadline);
    const pointsOf = (raw: unknown, from: string): Map<bigint, GroupPoint> => {
      const o = (raw as { commitments?: Record<string, string> }).commitments ?? {};
      const out = new Map<bigint, GroupPoint>();
      for (const [idHex, ptHex] of Object.entries(o))
        out.set(
          parseIdentifier(suite, idHex),
          suite.decodePoint(hexToBytes(ptHex), `repair commitment from ${from}`),
        );
      return out;
    };
    // One message of `step` from each of `peers`; on the deadline the failure names who is missing.
    const awaitFrom = async (step: keyof DkgInbox, peers: string[]) => {
      try {
        return await this.awaitInbox(session, step, peers.length, deadline);
      } catch (e) {
        const box = this.inbox(session)[step];
        const missing = peers.filter((peer) => !box.has(peer));
        if (this.stopped || !missing.length) throw e;
        const what = {
          round1: 'send its commitments',
          echo: 'send its parts',
          round2: 'send its part of the share',
          done: 'confirm that it holds the share',
        }[step];
        const names = missing.map((peer) => this.participantName(groupId, peer)).join(', ');
        throw new Error(`${names} did not ${what} in time`, { cause: e });
      }
    };
    this.store.requests.update(requestId, { status: 'signing', updatedAt: Date.now() });
    this.notify(requestId);
    try {
      if (!isNewcomer) await this.host.addAddresses(p.newcomer.peerId, p.newcomer.addrs);
      const newcomerPackage = this.store.meta.get(`newcomer-package:${groupId}`);
      const pub =
        this.publicPackage(groupId) ??
        (newcomerPackage ? publicPackageFromJSON(JSON.parse(newcomerPackage)) : undefined);
      if (!pub) throw new Error('this node does not know the key package');
      const byIndex = (i: bigint) => helpers.find((h) => h.index === i)!.peerId;
      const commitmentsFrom = async (): Promise<Map<bigint, Map<bigint, GroupPoint>>> => {
        const got = await awaitFrom(
          'round1',
          helperPeers.filter((h) => h !== this.me.peerId),
        );
        const all = new Map<bigint, Map<bigint, GroupPoint>>();
        for (const [peer, raw] of got)
          all.set(
            BigInt(members.find((m) => m.peerId === peer)!.index),
            pointsOf(raw, this.memberName(groupId, peer)),
          );
        return all;
      };
      if (isHelper) {
        const key = await this.keyPackage(groupId);
        const step1 = repairStep1(key, helperIds, lostIndex);
        const myCommitments: Record<string, string> = {};
        for (const [j, pt] of step1.commitments)
          myCommitments[identifierHex(suite, j)] = bytesToHex(suite.encodePoint(pt));
        const from = identifierHex(suite, key.share.identifier);
        await Promise.all(
          [...helperPeers.filter((h) => h !== this.me.peerId), p.newcomer.peerId].map((peer) =>
            send(peer, 'round1', { from, commitments: myCommitments }),
          ),
        );
        await Promise.all(
          [...step1.parts]
            .filter(([j]) => j !== key.share.identifier)
            .map(([j, part]) => send(byIndex(j), 'echo', { ...part.toWire(suite) })),
        );
        const all = await commitmentsFrom();
        all.set(key.share.identifier, new Map(step1.commitments));
        const parts = await awaitFrom(
          'echo',
          helperPeers.filter((h) => h !== this.me.peerId),
        );
        // Test-only: this helper goes away with everything received, before its sum is sent.
        if (this.fault === 'exit-mid-ceremony') process.exit(3);
        const received = [
          step1.parts.get(key.share.identifier)!,
          ...[...parts.values()].map((w) => repairPartFromWire(suite, w as never)),
        ];
        const sigma = repairStep2(pub, helperIds, lostIndex, key.share.identifier, received, all);
        await send(p.newcomer.peerId, 'round2', { ...sigma.toWire(suite) });
      }
      if (isNewcomer) {
        const all = await commitmentsFrom();
        const sums = await awaitFrom('round2', helperPeers);
        const sigmas = [...sums.values()].map((w) => repairPartFromWire(suite, w as never));
        const share = repairStep3(pub, helperIds, lostIndex, sigmas, all);
        const key: KeyPackage = { public: pub, share };
        await this.vault.put(shareName(groupId, share.epoch), share.toBytes());
        // Prove to every member that this device holds the share of that position. The proof is
        // kept: a member that misses it gets it again whenever it connects (see onConnect).
        const proof = bytesToHex(
          proveKnowledge(
            suite,
            lostIndex,
            share.scalar(),
            pub.verifyingShares.get(lostIndex)!,
            repairContext(requestId),
          ),
        );
        this.store.meta.set(`repair-done:${groupId}`, JSON.stringify({ requestId, proof }));
        this.applyRepair(groupId, requestId, p);
        this.keys.set(groupId, key);
        this.store.groups.update(groupId, {
          status: 'ready',
          publicPackage: JSON.stringify(publicPackageToJSON(pub)),
          epoch: pub.epoch,
          error: undefined,
          updatedAt: Date.now(),
        });
        this.store.meta.set(`newcomer:${groupId}`, '');
        this.store.meta.set(`newcomer-package:${groupId}`, '');
        this.emit({ type: 'group', id: groupId });
        const tell = members.filter((m) => m.peerId !== this.me.peerId && m.peerId !== p.lost);
        if (this.fault === 'exit-after-done') {
          // Test-only: one member hears "done", then this device is gone.
          if (tell[0]) await send(tell[0].peerId, 'done', { proof });
          process.exit(3);
        }
        for (const m of tell) void send(m.peerId, 'done', { proof }).catch(() => undefined);
        for (const m of this.store.members.list(groupId))
          if (m.peerId !== this.me.peerId && this.host.isConnected(m.peerId))
            void this.sendNonces(groupId, m.peerId, true).catch(() => undefined);
        return;
      }
      // Every other member: switch the roster once the new device proves it holds the share.
      const dones = await awaitFrom('done', [p.newcomer.peerId]);
      const proof = (dones.get(p.newcomer.peerId) as { proof?: unknown } | undefined)?.proof;
      if (typeof proof !== 'string' || !/^[0-9a-f]+$/.test(proof))
        throw new Error('the new device did not confirm');
      verifyKnowledge(
        suite,
        lostIndex,
        pub.verifyingShares.get(lostIndex)!,
        hexToBytes(proof),
        repairContext(requestId),
      );
      this.applyRepair(groupId, requestId, p);
    } catch (e) {
      const reason =
        e instanceof CryptoError && e.culprits.length
          ? `${e.code}: ${e.culprits.map((c) => this.nameOfIdentifier(groupId, c)).join(', ')} misbehaved`
          : (e as Error).message;
      this.log(`repair in ${g.name} failed: ${reason}`);
      if (isNewcomer) await this.vault.delete(shareName(groupId, g.epoch)).catch(() => undefined);
      // Should the new device have finished after all, its proof still switches this member.
      else
        this.store.meta.set(
          `repair-awaiting:${groupId}`,
          JSON.stringify({ requestId, newcomer: p.newcomer.peerId }),
        );
      this.finish(
        requestId,
        { status: 'failed', failure: `repair failed: ${reason}; it can be proposed again` },
        'request.failed',
        { id: requestId, failure: reason },
      );
    } finally {
      this.dkgInbox.delete(session);
      this.ceremonies.delete(requestId);
    }
  }

  /**
   * A repaired device's proof that reached this member after its repair had ended here (it missed
   * it, or restarted): the device does hold the lost member's share, so the roster switches too.
   */
  private lateRepairDone(from: string, g: GroupRow, r: RequestRow, payload: unknown): unknown {
    if (r.status === 'done') return { ok: true };
    const p = this.ceremonyParams(r);
    if (p.ceremony !== 'repair' || from !== p.newcomer.peerId)
      throw new DroppedMessage('not_newcomer');
    const lost = this.store.members.get(g.id, p.lost);
    const approvals = this.store.decisions.list(r.id).filter((d) => d.decision === 'approve');
    if (!lost || g.epoch !== p.fromEpoch || approvals.length < this.needed(r))
      throw new DroppedMessage('wrong_state');
    const proof = (payload as { proof?: unknown }).proof;
    if (typeof proof !== 'string' || !/^[0-9a-f]{1,256}$/.test(proof))
      throw new DroppedMessage('malformed');
    const pub = this.publicPackage(g.id)!;
    try {
      verifyKnowledge(
        getSuite(g.scheme),
        BigInt(lost.index),
        pub.verifyingShares.get(BigInt(lost.index))!,
        hexToBytes(proof),
        repairContext(r.id),
      );
    } catch {
      throw new DroppedMessage('bad_proof');
    }
    this.log(`repair ${r.id}: ${p.newcomer.name} proved it holds the share; switching the roster`);
    this.store.meta.set(`repair-awaiting:${g.id}`, '');
    this.applyRepair(g.id, r.id, p);
    return { ok: true };
  }

  /** The newcomer of a repair that failed here, whose late proof is still welcome. */
  private isAwaitedNewcomer(peer: string): boolean {
    return this.store.groups.list().some((g) => {
      const raw = this.store.meta.get(`repair-awaiting:${g.id}`);
      return !!raw && (JSON.parse(raw) as { newcomer: string }).newcomer === peer;
    });
  }

  /** The new identity takes the lost member's roster position (same index, same share). */
  private applyRepair(
    groupId: string,
    requestId: string,
    p: Extract<CeremonyParams, { ceremony: 'repair' }>,
  ): void {
    const lost = this.store.members.get(groupId, p.lost);
    const key = publicKeyFromPeerId(p.newcomer.peerId);
    this.store.tx(() => {
      if (lost) this.store.members.delete(groupId, p.lost);
      this.store.members.upsert({
        groupId,
        peerId: p.newcomer.peerId,
        name: p.newcomer.name,
        identityKey: bytesToHex(key),
        fingerprint: fingerprint(key),
        index: lost?.index ?? this.store.members.get(groupId, p.newcomer.peerId)!.index,
        addrs: p.newcomer.peerId === this.me.peerId ? this.host.addrs() : p.newcomer.addrs,
        confirmed: true,
        joinedAt: Date.now(),
      });
      this.store.requests.update(requestId, { status: 'done', updatedAt: Date.now() });
      this.audit(
        'group.repaired',
        { requestId, lost: p.lost, replacedBy: p.newcomer.peerId },
        groupId,
      );
      const candidates = JSON.parse(
        this.store.meta.get(`candidates:${groupId}`) || '[]',
      ) as Candidate[];
      this.store.meta.set(
        `candidates:${groupId}`,
        JSON.stringify(candidates.filter((c) => c.peerId !== p.newcomer.peerId)),
      );
    });
    this.pool.get(groupId)?.delete(p.lost);
    this.myNonces.get(groupId)?.delete(p.lost);
    this.applyEarlyNonces(groupId);
    this.syncAuditWithAll(groupId);
    if (p.newcomer.peerId !== this.me.peerId && this.store.groups.get(groupId)?.status === 'ready')
      void this.sendNonces(groupId, p.newcomer.peerId, true).catch(() => undefined);
    this.notify(requestId);
    this.emit({ type: 'group', id: groupId });
  }

  /** This member was removed by a reshare: the group is over for it, and its share is deleted. */
  private leaveGroup(groupId: string, requestId: string, epoch: number, name: string): void {
    this.store.tx(() => {
      this.store.groups.update(groupId, {
        status: 'failed',
        error: `you were removed from ${name} by reshare ${requestId}`,
        updatedAt: Date.now(),
      });
      this.store.requests.update(requestId, { status: 'done', updatedAt: Date.now() });
      this.store.meta.set(pendingKey(groupId), '');
      this.audit('group.left', { requestId, epoch }, groupId);
    });
    void this.vault.delete(shareName(groupId, epoch)).catch(() => undefined);
    this.keys.delete(groupId);
    this.log(`removed from ${name} by reshare ${requestId}`);
    this.notify(requestId);
    this.emit({ type: 'group', id: groupId });
  }

  /** A newcomer named by a pending reshare of this group, with its planned roster position. */
  private newcomerInPendingRequest(
    groupId: string,
    peer: string,
  ): { index: number; name: string } | undefined {
    const g = this.store.groups.get(groupId);
    if (!g) return undefined;
    for (const r of this.store.requests.list({ groupId, statuses: ['pending', 'signing'] })) {
      if (r.kind !== 'reshare' && r.kind !== 'repair') continue;
      const planned = this.plannedRoster(g, this.ceremonyParams(r)).find((m) => m.peerId === peer);
      if (planned) return planned;
    }
    return undefined;
  }

  /** Sends one step of a ceremony to a participant, retried until the ceremony's deadline. */
  private ceremonySender(groupId: string, requestId: string, session: string, deadline: number) {
    return (peer: string, step: CeremonyMessage['step'], payload: Record<string, unknown>) =>
      this.sendReliably(
        peer,
        { v: 1, type: 'ceremony', groupId, requestId, session, step, payload },
        deadline - Date.now(),
      ).catch((e: unknown) => {
        // The transport's message names a peer id and an address; the request's failure names
        // the participant, so the members know who to ask to come back online.
        const name = this.participantName(groupId, peer);
        if (e instanceof NetError && (e.code === 'unreachable' || e.code === 'timeout'))
          throw new Error(`${name} could not be reached (${e.code})`, { cause: e });
        throw new Error(`${name} did not take the ${step} message: ${(e as Error).message}`, {
          cause: e,
        });
      });
  }

  /** A member's name, or a pending newcomer's, else a short peer id. */
  private participantName(groupId: string, peer: string): string {
    return (
      this.store.members.get(groupId, peer)?.name ??
      this.newcomerInPendingRequest(groupId, peer)?.name ??
      short(peer)
    );
  }

  /**
   * Every participant of a refresh or reshare: dealers re-deal their Lagrange-weighted shares to
   * the new roster; recipients keep both shares until every recipient confirmed the new key
   * package, then switch epoch and delete the old share.
   */
  private async runCeremony(
    groupId: string,
    requestId: string,
    session: string,
    dealerPeers: string[],
  ): Promise<void> {
    if (this.ceremonies.has(requestId)) return;
    const params = this.ceremonyParams(this.store.requests.get(requestId)!);
    if (params.ceremony === 'repair')
      return this.runRepair(groupId, requestId, session, dealerPeers, params);
    this.ceremonies.add(requestId);
    const g = this.store.groups.get(groupId)!;
    const r = this.store.requests.get(requestId)!;
    const p = this.ceremonyParams(r);
    const suite = getSuite(g.scheme);
    const oldMembers = this.store.members.list(groupId);
    const roster = this.plannedRoster(g, p);
    const indexOf = new Map<string, number>([
      ...oldMembers.map((m) => [m.peerId, m.index] as const),
      ...roster.map((m) => [m.peerId, m.index] as const),
    ]);
    const dealers = dealerPeers.map((peer) => ({ peerId: peer, index: indexOf.get(peer)! }));
    const participants = [...new Set([...dealerPeers, ...roster.map((m) => m.peerId)])];
    const others = participants.filter((peer) => peer !== this.me.peerId);
    const meIsDealer = dealerPeers.includes(this.me.peerId);
    const meIsRecipient = roster.some((m) => m.peerId === this.me.peerId);
    const deadline = Date.now() + this.ceremonyTimeoutMs;
    const fromEpoch = g.epoch;
    let newEpochWritten = false;
    let sentDone = false;
    for (const m of roster)
      if (m.peerId !== this.me.peerId && m.addrs.length)
        await this.host.addAddresses(m.peerId, m.addrs);
    this.store.requests.update(requestId, { status: 'signing', updatedAt: Date.now() });
    this.notify(requestId);
    const removedPeers = oldMembers
      .map((m) => m.peerId)
      .filter((peer) => !roster.some((x) => x.peerId === peer));
    const pending: PendingCeremony = {
      requestId,
      session,
      kind: r.kind === 'refresh' ? 'refresh' : 'reshare',
      stage: 'leaving',
      fromEpoch,
      epoch: fromEpoch + 1,
      digest: '',
      pubJson: '',
      roster,
      hadOldShare: oldMembers.some((m) => m.peerId === this.me.peerId),
    };
    this.runningSessions.add(session);
    // A member leaving the group records that at once: should it stop in the middle, it learns
    // after a restart whether the new members went ahead without it.
    if (!meIsRecipient) this.store.meta.set(pendingKey(groupId), JSON.stringify(pending));
    if (!meIsDealer && !meIsRecipient) {
      // A removed member that does not deal: it only learns the outcome from the new members.
      try {
        await this.settleCeremony(groupId, deadline);
      } finally {
        this.runningSessions.delete(session);
        this.dkgInbox.delete(session);
        this.ceremonies.delete(requestId);
      }
      return;
    }
    let dealtAll = false;
    try {
      const newcomerPackage = this.store.meta.get(`newcomer-package:${groupId}`);
      const old =
        this.publicPackage(groupId) ??
        (newcomerPackage ? publicPackageFromJSON(JSON.parse(newcomerPackage)) : undefined);
      if (!old) throw new Error('this node does not know the current key package');
      const key = meIsDealer ? await this.keyPackage(groupId) : undefined;
      const params = {
        old,
        dealers: dealers.map((d) => BigInt(d.index)),
        members: roster.map((m) => ({
          identifier: BigInt(m.index),
          identityKey: hexToBytes(m.identityKey),
        })),
        threshold: p.ceremony === 'reshare' ? p.threshold : g.threshold,
        sessionId: hexToBytes(session),
      };
      const myIndex = BigInt(indexOf.get(this.me.peerId)!);
      const check = () => {
        if (this.aborted.has(session))
          throw new Error(this.abortReasons.get(session) ?? 'another member stopped the ceremony');
      };
      const send = this.ceremonySender(groupId, requestId, session, deadline);
      const r1 = reshareRound1(params, myIndex, key);
      if (r1.package)
        await Promise.all(
          others.map((peer) =>
            send(peer, 'round1', r1.package as unknown as Record<string, unknown>),
          ),
        );
      const dealerOthers = dealerPeers.filter((d) => d !== this.me.peerId);
      const got1 = await this.awaitInbox(session, 'round1', dealerOthers.length, deadline, check);
      // Test-only: this member goes away in the middle of the ceremony.
      if (this.fault === 'exit-mid-ceremony') process.exit(3);
      const echo = reshareEcho(r1.state, [...got1.values()] as ReshareRound1Package[]);
      await Promise.all(
        others.map((peer) => send(peer, 'echo', echo as unknown as Record<string, unknown>)),
      );
      const echoes = await this.awaitInbox(session, 'echo', others.length, deadline, check);
      const out = reshareRound2(r1.state, [...echoes.values()] as DkgEcho[]);
      if (this.fault === 'exit-during-round2') {
        // Test-only: one new member gets this dealer's part, then this member is gone.
        const first = out.find((pkg) => pkg.to !== myIndex);
        const to = first && roster.find((m) => BigInt(m.index) === first.to);
        if (first && to) await send(to.peerId, 'round2', first.toWire(suite));
        process.exit(3);
      }
      await Promise.all(
        out.map((pkg) => {
          const to = roster.find((m) => BigInt(m.index) === pkg.to)!;
          return send(to.peerId, 'round2', pkg.toWire(suite));
        }),
      );
      const got2 = await this.awaitInbox(
        session,
        'round2',
        meIsRecipient ? dealerOthers.length : 0,
        deadline,
        check,
      );
      const received = [...got2.values()].map((w) =>
        DkgRound2Package.fromWire(suite, w as Parameters<typeof DkgRound2Package.fromWire>[1]),
      );
      dealtAll = true;
      const next = reshareFinalize(r1.state, received);
      if (!next) {
        // A dealer leaving the group: its part is done once the new members hold the new epoch.
        await this.settleCeremony(groupId, deadline);
        return;
      }
      pending.pubJson = JSON.stringify(publicPackageToJSON(next.public));
      pending.digest = bytesToHex(sha256(utf8ToBytes(pending.pubJson)));
      pending.stage = 'writing';
      this.store.meta.set(pendingKey(groupId), JSON.stringify(pending));
      newEpochWritten = true;
      await this.vault.put(shareName(groupId, next.share.epoch), next.share.toBytes());
      next.share.wipe();
      // From here on this member never rolls back on its own: only when a new member says it will
      // never hold the new epoch (shared/protocol/commit.ts).
      pending.stage = 'holding';
      this.store.meta.set(pendingKey(groupId), JSON.stringify(pending));
      sentDone = true;
      const recipientOthers = roster.map((m) => m.peerId).filter((peer) => peer !== this.me.peerId);
      const done = { epoch: pending.epoch, digest: pending.digest };
      if (this.fault === 'exit-after-done') {
        // Test-only: one member hears "done", then this member is gone.
        if (recipientOthers[0]) await send(recipientOthers[0], 'done', done);
        process.exit(3);
      }
      // Removed members hear the outcome too, so they know their share no longer counts.
      for (const peer of [...recipientOthers, ...removedPeers])
        send(peer, 'done', done).catch(() => undefined);
      await this.settleCeremony(groupId, deadline);
    } catch (e) {
      const reason =
        e instanceof CryptoError && e.culprits.length
          ? `${e.code}: ${e.culprits.map((c) => this.nameOfIdentifier(groupId, c)).join(', ')} misbehaved`
          : (e as Error).message;
      this.log(`${r.kind} of ${g.name} failed: ${reason}`);
      if (!meIsRecipient && dealtAll) {
        // A leaving dealer that delivered its part: the new members decide; learn what they did.
        void this.settleCeremony(groupId, deadline);
      } else if (!sentDone) {
        // Nobody can have switched yet: drop the half-made share, keep the old epoch, allow a retry.
        if (newEpochWritten)
          await this.vault.delete(shareName(groupId, fromEpoch + 1)).catch(() => undefined);
        this.store.meta.set(pendingKey(groupId), '');
        for (const peer of others)
          this.send(peer, {
            v: 1,
            type: 'ceremony',
            groupId,
            requestId,
            session,
            step: 'abort',
            payload: { reason },
          }).catch(() => undefined);
        this.finish(
          requestId,
          {
            status: 'failed',
            failure: `${r.kind} failed: ${reason}; the group stays at epoch ${fromEpoch} and a new ${r.kind} can be proposed`,
          },
          'request.failed',
          { id: requestId, failure: reason },
        );
        this.announceOutcome(requestId);
      }
    } finally {
      this.runningSessions.delete(session);
      this.dkgInbox.delete(session);
      this.ceremonies.delete(requestId);
    }
  }

  /**
   * Tells every member how a request ended here, so that members that never took part in it (it
   * was refused, or they were busy) end it too instead of keeping it approved and pending.
   */
  private announceOutcome(requestId: string): void {
    const r = this.store.requests.get(requestId);
    const outcome = r && this.outcomeOf(r);
    if (outcome) this.broadcast(r.groupId, { v: 1, type: 'statements', items: [outcome] });
  }

  /** Another ceremony of this group running or unsettled here (its request id), if any. */
  private ceremonyUnderWay(groupId: string, except: string): string | undefined {
    const pending = this.pendingCeremony(groupId)?.requestId;
    if (pending && pending !== except) return pending;
    for (const id of this.ceremonies) {
      const r = id === except ? undefined : this.store.requests.get(id);
      // One that has just ended (its cleanup still to run) no longer counts.
      if (r?.groupId === groupId && !TERMINAL.includes(r.status)) return id;
    }
    return undefined;
  }

  /** After a ceremony ended: approved requests of the group that waited for it may start. */
  private evaluateGroup(groupId: string): void {
    for (const r of this.store.requests.list({ groupId, statuses: ['pending'] }))
      if (r.kind !== 'sign') this.evaluate(r.id);
  }

  private pendingCeremony(groupId: string): PendingCeremony | undefined {
    const raw = this.store.meta.get(pendingKey(groupId));
    return raw ? (JSON.parse(raw) as PendingCeremony) : undefined;
  }

  /**
   * After this member's part of a refresh or reshare: switch to the new epoch (or leave the group)
   * once every new member holds it, or roll back once one of them never will. Until one of the two
   * is known, this member keeps both shares and asks the members it has not heard from, with
   * growing pauses, for as long as it takes (also after a restart, from the stored record).
   */
  private async settleCeremony(groupId: string, deadline: number): Promise<void> {
    if (this.settling.has(groupId)) return;
    this.settling.add(groupId);
    try {
      const answers = new Map<string, CommitAnswer>();
      // What a member said only moves forward: working, then holding, then committed or aborted.
      const rank = { working: 0, holding: 1, committed: 2, aborted: 2 } as const;
      const note = (peer: string, a: CommitAnswer) => {
        const had = answers.get(peer);
        if (!had || rank[a.state] > rank[had.state]) answers.set(peer, a);
      };
      let nextQuery = deadline;
      let pause = 1000;
      let told = false;
      while (!this.stopped) {
        const p = this.pendingCeremony(groupId);
        if (!p || p.stage === 'writing') return;
        const recipients = p.roster.map((m) => m.peerId).filter((peer) => peer !== this.me.peerId);
        for (const [peer, d] of this.inbox(p.session).done) {
          const a = decodeCommitAnswer({ ...(d as object), state: 'holding' });
          if (a) note(peer, a);
        }
        for (const peer of this.abortedBy.get(p.session) ?? []) note(peer, { state: 'aborted' });
        const mine = p.stage === 'leaving' ? undefined : { epoch: p.epoch, digest: p.digest };
        const d = decideCommit(recipients, mine, answers);
        try {
          if (d.decision === 'commit') return await this.commitCeremony(groupId, p);
          if (d.decision === 'abort')
            return await this.rollbackCeremony(
              groupId,
              p,
              `${this.memberName(groupId, d.by)} did not finish it`,
            );
        } catch (e) {
          // The vault or the store failed: nothing was switched; try again after a pause.
          this.log(`${p.kind} of ${groupId}: ${(e as Error).message}; trying again`);
          await new Promise((r) => setTimeout(r, pause));
          pause = Math.min(pause * 2, 15_000);
          continue;
        }
        if (d.decision === 'wait' && Date.now() >= nextQuery) {
          if (!told) {
            told = true;
            this.log(
              `${p.kind} ${p.requestId}: waiting to hear from ${d.missing.map((x) => this.memberName(groupId, x)).join(', ')}; keeping the epoch ${p.fromEpoch} share until every new member holds epoch ${p.epoch}` +
                (d.mismatched.length
                  ? ` (${d.mismatched.map((x) => this.memberName(groupId, x)).join(', ')} reported a different key package)`
                  : ''),
            );
          }
          for (const m of p.roster)
            if (m.peerId !== this.me.peerId && m.addrs.length)
              await this.host.addAddresses(m.peerId, m.addrs).catch(() => undefined);
          // A member that said "holding" may have switched since: ask it again too.
          const ask = recipients.filter((peer) => answers.get(peer)?.state !== 'aborted');
          await Promise.all(
            ask.map(async (peer) => {
              try {
                const a = decodeCommitAnswer(
                  await this.send(
                    peer,
                    {
                      v: 1,
                      type: 'ceremony',
                      groupId,
                      requestId: p.requestId,
                      session: p.session,
                      step: 'status',
                      payload: {},
                    },
                    3000,
                  ),
                );
                if (a) note(peer, a);
              } catch {
                // Offline or not answering: asked again after the pause.
              }
            }),
          );
          nextQuery = Date.now() + pause;
          pause = Math.min(pause * 2, 15_000);
          continue;
        }
        await new Promise((r) => setTimeout(r, Date.now() < deadline ? 50 : 250));
      }
    } finally {
      this.settling.delete(groupId);
    }
  }

  /** What this member can say about a ceremony session (asked by a member that missed a "done"). */
  private ceremonyAnswer(groupId: string, requestId: string, session: string): CommitAnswer {
    const p = this.pendingCeremony(groupId);
    if (p?.session === session)
      return p.stage === 'holding'
        ? { state: 'holding', epoch: p.epoch, digest: p.digest }
        : { state: 'working' };
    const c = this.store.meta.get(committedKey(requestId));
    if (c) {
      const o = JSON.parse(c) as { session: string; epoch: number; digest: string };
      if (o.session === session) return { state: 'committed', epoch: o.epoch, digest: o.digest };
    }
    if (this.runningSessions.has(session)) return { state: 'working' };
    // Never held this session's share and never will: the session is over for this member.
    this.aborted.add(session);
    return { state: 'aborted' };
  }

  /** Every new member holds the new epoch: switch roster and key package, drop the old share. */
  private async commitCeremony(groupId: string, p: PendingCeremony): Promise<void> {
    const g = this.store.groups.get(groupId)!;
    if (p.stage === 'leaving') {
      this.leaveGroup(groupId, p.requestId, p.fromEpoch, g.name);
      return;
    }
    const me = p.roster.find((m) => m.peerId === this.me.peerId)!;
    const bytes = await this.vault.get(shareName(groupId, p.epoch));
    if (!bytes)
      throw new Error(
        `this node's epoch ${p.epoch} share is missing from the vault; it cannot switch`,
      );
    const next: KeyPackage = {
      public: publicPackageFromJSON(JSON.parse(p.pubJson)),
      share: SecretShare.fromBytes(g.scheme, BigInt(me.index), bytes, p.epoch),
    };
    bytes.fill(0);
    const oldMembers = this.store.members.list(groupId);
    const roster = p.roster;
    const removed = oldMembers.filter((m) => !roster.some((x) => x.peerId === m.peerId));
    this.store.tx(() => {
      for (const m of removed) this.store.members.delete(groupId, m.peerId);
      for (const m of roster) {
        const existing = this.store.members.get(groupId, m.peerId);
        this.store.members.upsert({
          groupId,
          peerId: m.peerId,
          name: m.name,
          identityKey: m.identityKey,
          fingerprint: fingerprint(hexToBytes(m.identityKey)),
          index: m.index,
          addrs:
            m.peerId === this.me.peerId
              ? this.host.addrs()
              : m.addrs.length
                ? m.addrs
                : (existing?.addrs ?? []),
          confirmed: true,
          joinedAt: existing?.joinedAt ?? Date.now(),
        });
      }
      this.store.groups.update(groupId, {
        publicPackage: p.pubJson,
        epoch: p.epoch,
        threshold: next.public.threshold,
        size: roster.length,
        status: 'ready',
        error: undefined,
        updatedAt: Date.now(),
      });
      this.store.requests.update(p.requestId, {
        status: 'done',
        failure: undefined,
        updatedAt: Date.now(),
      });
      this.audit(
        p.kind === 'refresh' ? 'group.refreshed' : 'group.reshared',
        {
          requestId: p.requestId,
          fromEpoch: p.fromEpoch,
          epoch: p.epoch,
          threshold: next.public.threshold,
          members: roster.map((m) => m.peerId),
          publicKey: bytesToHex(externalPublicKey(next.public)),
        },
        groupId,
      );
      this.store.meta.set(pendingKey(groupId), '');
      this.store.meta.set(
        committedKey(p.requestId),
        JSON.stringify({ session: p.session, epoch: p.epoch, digest: p.digest }),
      );
      if (removed.length) {
        // Removed members may still ask how the reshare ended (and only that).
        const former = JSON.parse(this.store.meta.get(formerKey(groupId)) || '[]') as string[];
        this.store.meta.set(
          formerKey(groupId),
          JSON.stringify([...new Set([...former, ...removed.map((m) => m.peerId)])]),
        );
      }
      this.store.meta.set(`newcomer:${groupId}`, '');
      this.store.meta.set(`newcomer-package:${groupId}`, '');
      const candidates = JSON.parse(
        this.store.meta.get(`candidates:${groupId}`) || '[]',
      ) as Candidate[];
      this.store.meta.set(
        `candidates:${groupId}`,
        JSON.stringify(candidates.filter((c) => !roster.some((m) => m.peerId === c.peerId))),
      );
    });
    this.keys.set(groupId, next);
    this.myNonces.delete(groupId);
    this.pool.delete(groupId);
    this.applyEarlyNonces(groupId);
    this.syncAuditWithAll(groupId);
    for (const m of roster)
      if (m.peerId !== this.me.peerId && this.host.isConnected(m.peerId))
        void this.sendNonces(groupId, m.peerId, true).catch(() => undefined);
    // Only now that the pools are rebuilt for the new epoch (no await above), drop the old share.
    if (p.hadOldShare && p.fromEpoch !== p.epoch)
      await this.vault.delete(shareName(groupId, p.fromEpoch)).catch(() => undefined);
    this.log(
      `${p.kind} of ${g.name} done: epoch ${p.epoch}, ${next.public.threshold} of ${roster.length}`,
    );
    this.notify(p.requestId);
    this.emit({ type: 'group', id: groupId });
    this.evaluateGroup(groupId);
  }

  /** A new member never held the new epoch: nobody switched; drop the new share, keep the old. */
  private async rollbackCeremony(
    groupId: string,
    p: PendingCeremony,
    reason: string,
  ): Promise<void> {
    if (p.stage !== 'leaving')
      await this.vault.delete(shareName(groupId, p.epoch)).catch(() => undefined);
    this.store.meta.set(pendingKey(groupId), '');
    this.log(`${p.kind} ${p.requestId} rolled back: ${reason}`);
    const r = this.store.requests.get(p.requestId);
    if (r && r.status !== 'failed')
      this.finish(
        p.requestId,
        {
          status: 'failed',
          failure: `${p.kind} failed: ${reason}; the group stays at epoch ${p.fromEpoch} and a new ${p.kind} can be proposed`,
        },
        'request.failed',
        { id: p.requestId, failure: reason },
      );
    this.announceOutcome(p.requestId);
    this.emit({ type: 'group', id: groupId });
    this.evaluateGroup(groupId);
  }

  // ---------------------------------------------------------------- signing (coordinator)

  private publicPackage(groupId: string): PublicKeyPackage | undefined {
    const g = this.store.groups.get(groupId);
    return g?.publicPackage ? publicPackageFromJSON(JSON.parse(g.publicPackage)) : undefined;
  }

  private async keyPackage(groupId: string): Promise<KeyPackage> {
    const cached = this.keys.get(groupId);
    if (cached) return cached;
    const g = this.store.groups.get(groupId)!;
    const pub = this.publicPackage(groupId);
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
    this.keys.set(groupId, key);
    return key;
  }

  private async coordinate(id: string): Promise<void> {
    this.coordinating.add(id);
    // How often each signer said its commitment was stale (a few times at most, then a failure).
    const staleTimes = new Map<string, number>();
    try {
      for (let attempt = 0; attempt < 8 && !this.stopped; attempt++) {
        const r = this.store.requests.get(id)!;
        if (TERMINAL.includes(r.status)) return;
        const g = this.store.groups.get(r.groupId)!;
        const key = await this.keyPackage(g.id);
        const approvers = this.store.decisions
          .list(id)
          .filter((d) => d.decision === 'approve')
          .map((d) => d.peerId);
        const pool = this.pool.get(g.id) ?? new Map<string, NonceCommitment[]>();
        const others = approvers
          .filter(
            (p) =>
              p !== this.me.peerId &&
              !r.culprits.includes(p) &&
              this.host.isConnected(p) &&
              (pool.get(p)?.length ?? 0) > 0,
          )
          .sort()
          .slice(0, g.threshold - 1);
        if (others.length < g.threshold - 1) {
          this.store.requests.update(id, { status: 'pending', updatedAt: Date.now() });
          this.maybeFailForGood(id);
          return;
        }
        this.store.requests.update(id, { status: 'signing', updatedAt: Date.now() });
        this.notify(id);
        const suite = getSuite(g.scheme);
        const mine = commit(key);
        const chosen = new Map<string, NonceCommitment>();
        for (const p of others) chosen.set(p, pool.get(p)!.shift()!);
        const commitments = [mine.commitment, ...chosen.values()];
        const pkg = new SigningPackage(signingKey(key.public), commitments, r.message);
        const msg: SignMessage = {
          v: 1,
          type: 'sign',
          groupId: g.id,
          requestId: id,
          commitments: [
            {
              peerId: this.me.peerId,
              commitment: commitmentToJSON(suite, mine.commitment) as unknown as Record<
                string,
                unknown
              >,
            },
            ...[...chosen].map(([p, c]) => ({
              peerId: p,
              commitment: commitmentToJSON(suite, c) as unknown as Record<string, unknown>,
            })),
          ],
          approvals: this.store.decisions
            .list(id)
            .filter(
              (d) => d.decision === 'approve' && [this.me.peerId, ...others].includes(d.peerId),
            )
            .map((d) => JSON.parse(d.statement) as Signed),
        };
        const shares = new Map<bigint, bigint>();
        shares.set(key.share.identifier, signShare(key, mine, pkg));
        const failed: string[] = [];
        const stale: string[] = [];
        await Promise.all(
          others.map(async (p) => {
            const idx = BigInt(this.store.members.get(g.id, p)!.index);
            try {
              const res = (await this.send(
                p,
                msg as unknown as GroupMessage,
                this.signTimeoutMs,
              )) as {
                share?: unknown;
                refill?: unknown;
                error?: string;
                stale?: unknown;
                nonces?: unknown;
              };
              const staleCount = staleTimes.get(p) ?? 0;
              if (res?.stale === true && Array.isArray(res.nonces) && staleCount < 3) {
                // Not a fault (it restarted, or its pool here was out of date): ask again with one
                // of the fresh commitments it sent along.
                staleTimes.set(p, staleCount + 1);
                this.addToPool(
                  g,
                  p,
                  res.nonces.slice(0, POOL_SIZE) as Record<string, unknown>[],
                  true,
                );
                this.log(`signer ${this.memberName(g.id, p)} had no such nonce; asking again`);
                stale.push(p);
                return;
              }
              if (typeof res?.share !== 'string' || !/^[0-9a-f]+$/.test(res.share))
                throw new Error(res?.error ?? 'no share');
              shares.set(idx, decodeSignatureShare(suite, idx, hexToBytes(res.share)));
              if (res.refill && typeof res.refill === 'object')
                this.addToPool(g, p, [res.refill as Record<string, unknown>], false);
            } catch (e) {
              this.log(
                `signer ${this.memberName(g.id, p)} failed for request ${id}: ${(e as Error).message}`,
              );
              failed.push(p);
            }
          }),
        );
        if (failed.length === 0 && stale.length > 0) continue;
        if (failed.length === 0) {
          try {
            const sig = aggregate(pkg, shares);
            const outcome = signStatement<OutcomeBody>(
              {
                v: 1,
                type: 'outcome',
                groupId: g.id,
                requestId: id,
                signature: bytesToHex(sig),
                culprits: r.culprits,
                by: this.me.peerId,
                at: Date.now(),
              },
              (h) => this.me.sign(h),
            );
            this.finish(id, { status: 'done', signature: sig }, 'request.signed', {
              id,
              signature: bytesToHex(sig),
              signers: [this.me.peerId, ...others],
            });
            this.broadcast(g.id, { v: 1, type: 'statements', items: [outcome] });
            this.log(`request ${id} signed`);
            return;
          } catch (e) {
            if (!(e instanceof CryptoError)) throw e;
            for (const c of e.culprits) {
              const idx = Number(parseIdentifier(suite, c));
              const m = this.store.members.list(g.id).find((x) => x.index === idx);
              if (m) failed.push(m.peerId);
            }
          }
        }
        const culprits = union(this.store.requests.get(id)!.culprits, failed);
        this.store.tx(() => {
          this.store.requests.update(id, { culprits, status: 'pending', updatedAt: Date.now() });
          this.audit('request.signing_attempt_failed', { id, culprits: failed }, g.id);
        });
        this.notify(id);
      }
    } catch (e) {
      this.log(`signing ${id} stopped: ${(e as Error).message}`);
    } finally {
      this.coordinating.delete(id);
    }
  }

  /** A request fails for good when every member decided and too few non-culprit approvers remain. */
  private maybeFailForGood(id: string): void {
    const r = this.store.requests.get(id)!;
    const g = this.store.groups.get(r.groupId)!;
    const decisions = this.store.decisions.list(id);
    if (decisions.length < g.size) return;
    const usable = decisions.filter(
      (d) => d.decision === 'approve' && !r.culprits.includes(d.peerId),
    ).length;
    if (usable >= g.threshold) return;
    const names = r.culprits.map((p) => this.memberName(g.id, p)).join(', ');
    const failure = `not enough approvers could sign${names ? `; failed: ${names}` : ''}`;
    this.finish(id, { status: 'failed', failure }, 'request.failed', {
      id,
      failure,
      culprits: r.culprits,
    });
    this.announceOutcome(id);
  }

  // ---------------------------------------------------------------- signing (signer) and nonce pools

  private async sendNonces(groupId: string, coordinator: string, replace: boolean): Promise<void> {
    const g = this.store.groups.get(groupId);
    if (!g || g.status !== 'ready') return;
    const fresh = await this.freshNonces(groupId, coordinator, replace);
    if (fresh.length)
      await this.send(coordinator, {
        v: 1,
        type: 'nonces',
        groupId,
        epoch: g.epoch,
        replace,
        commitments: fresh,
      });
  }

  /** Fills this node's pool of nonces for `coordinator` (a new pool if `replace`); the new ones. */
  private async freshNonces(
    groupId: string,
    coordinator: string,
    replace: boolean,
  ): Promise<Record<string, unknown>[]> {
    const g = this.store.groups.get(groupId)!;
    const key = await this.keyPackage(groupId);
    const suite = getSuite(g.scheme);
    let perGroup = this.myNonces.get(groupId);
    if (!perGroup) this.myNonces.set(groupId, (perGroup = new Map()));
    let mine = perGroup.get(coordinator);
    if (!mine || replace) perGroup.set(coordinator, (mine = new Map()));
    const fresh: Record<string, unknown>[] = [];
    for (let i = mine.size; i < POOL_SIZE; i++) {
      const n = commit(key);
      const wire = commitmentToJSON(suite, n.commitment);
      mine.set(wire.hiding, n);
      fresh.push(wire as unknown as Record<string, unknown>);
    }
    return fresh;
  }

  private acceptNonces(from: string, msg: Extract<GroupMessage, { type: 'nonces' }>): void {
    const g = this.store.groups.get(msg.groupId);
    if (!g || !(this.memberByPeer(g.id, from) || this.newcomerInPendingRequest(g.id, from)))
      throw new DroppedMessage('non_member');
    if (
      msg.epoch === g.epoch + 1 ||
      (msg.epoch === g.epoch && (g.status !== 'ready' || !this.memberByPeer(g.id, from)))
    ) {
      // The sender finished the DKG, a refresh or a reshare before this node did: keep them
      // until this node is there too (applyEarlyNonces).
      let perGroup = this.futureNonces.get(g.id);
      if (!perGroup) this.futureNonces.set(g.id, (perGroup = new Map()));
      perGroup.set(from, { epoch: msg.epoch, commitments: msg.commitments });
      return;
    }
    if (g.status !== 'ready' || msg.epoch !== g.epoch || !this.memberByPeer(g.id, from)) return;
    this.addToPool(g, from, msg.commitments, msg.replace);
    // Pools go both ways: answer a peer that has none of ours yet.
    if (!this.myNonces.get(g.id)?.get(from)?.size)
      void this.sendNonces(g.id, from, true).catch(() => undefined);
    for (const r of this.store.requests.list({ groupId: g.id, statuses: ['pending'] }))
      this.evaluate(r.id);
  }

  /** Once this node reached the group's current epoch: use the commitments that came early. */
  private applyEarlyNonces(groupId: string): void {
    const early = this.futureNonces.get(groupId);
    this.futureNonces.delete(groupId);
    const g = this.store.groups.get(groupId)!;
    for (const [peer, batch] of early ?? [])
      if (batch.epoch === g.epoch && this.memberByPeer(groupId, peer))
        this.addToPool(g, peer, batch.commitments, true);
  }

  private addToPool(
    g: GroupRow,
    from: string,
    wire: Record<string, unknown>[],
    replace: boolean,
  ): void {
    const suite = getSuite(g.scheme);
    const idx = BigInt(this.memberByPeer(g.id, from)!.index);
    const decoded = wire
      .map((w) => commitmentFromJSON(suite, w as never))
      .filter((c) => c.identifier === idx);
    let perGroup = this.pool.get(g.id);
    if (!perGroup) this.pool.set(g.id, (perGroup = new Map()));
    const list = replace ? [] : (perGroup.get(from) ?? []);
    perGroup.set(from, [...list, ...decoded].slice(-POOL_SIZE * 2));
  }

  /** Signer side: only ever signs a request this custodian approved, with a nonce used once. */
  private async onSign(from: string, msg: SignMessage): Promise<unknown> {
    const g = this.store.groups.get(msg.groupId);
    if (!g || g.status !== 'ready' || !this.memberByPeer(g.id, from))
      throw new DroppedMessage('non_member');
    const r = this.store.requests.get(msg.requestId);
    if (!r || r.groupId !== g.id) return { error: 'unknown request' };
    if (r.kind !== 'sign') return { error: `a ${r.kind} request is never signed` };
    if (TERMINAL.includes(r.status)) return { error: `request is ${r.status}` };
    // Approvals the coordinator relies on may still be on their way here: check and keep them.
    for (const a of msg.approvals ?? []) {
      try {
        if (a.body.type === 'decision' && a.body.requestId === r.id) this.acceptStatement(from, a);
      } catch {
        return { error: 'the coordinator sent an invalid approval' };
      }
    }
    const decisions = this.store.decisions.list(r.id);
    const approvers = new Set(
      decisions.filter((d) => d.decision === 'approve').map((d) => d.peerId),
    );
    if (r.status === 'failed' || this.policyRefusal(JSON.parse(r.envelope).body as RequestBody))
      return { error: "the request is against this node's group policy" };
    if (approvers.size < this.needed(r))
      return { error: 'not enough approvals under the group policy' };
    if (!approvers.has(this.me.peerId))
      return { error: 'this custodian did not approve the request' };
    if (!approvers.has(from)) return { error: 'the coordinator did not approve the request' };
    const signers = msg.commitments.map((c) => c.peerId);
    if (new Set(signers).size !== signers.length || signers.length < g.threshold)
      return { error: 'bad signer set' };
    for (const p of signers)
      if (!approvers.has(p))
        return {
          error: `${this.memberName(g.id, p)} has not approved (as far as this node knows)`,
        };
    if (this.fault === 'hang-sign') await new Promise(() => undefined);
    const suite = getSuite(g.scheme);
    const key = await this.keyPackage(g.id);
    const commitments: NonceCommitment[] = [];
    for (const c of msg.commitments) {
      const m = this.memberByPeer(g.id, c.peerId);
      if (!m) return { error: 'signer is not a member' };
      const dc = commitmentFromJSON(suite, c.commitment as never);
      if (dc.identifier !== BigInt(m.index))
        return { error: 'commitment identifier does not match its signer' };
      commitments.push(dc);
    }
    const myWire = msg.commitments.find((c) => c.peerId === this.me.peerId);
    if (!myWire) return { error: 'no commitment for this signer' };
    const pool = this.myNonces.get(g.id)?.get(from);
    const nonces = pool?.get(String((myWire.commitment as { hiding?: unknown }).hiding));
    if (!nonces) {
      // This node restarted (its nonces live in memory only) or the pools drifted apart: the
      // answer carries fresh commitments that replace the old ones.
      return {
        error: 'unknown or already used nonce commitment',
        stale: true,
        nonces: await this.freshNonces(g.id, from, true),
      };
    }
    pool!.delete(String((myWire.commitment as { hiding?: unknown }).hiding));
    const pkg = new SigningPackage(signingKey(key.public), commitments, r.message);
    const z = signShare(key, nonces, pkg);
    // Refill the coordinator's pool with one fresh commitment.
    const n = commit(key);
    const refill = commitmentToJSON(suite, n.commitment);
    pool!.set(refill.hiding, n);
    this.store.requests.update(r.id, {
      status: r.status === 'pending' ? 'signing' : r.status,
      updatedAt: Date.now(),
    });
    this.notify(r.id);
    return { share: bytesToHex(suite.encodeScalar(z)), refill };
  }

  // ---------------------------------------------------------------- API

  async waitRequest(id: string, timeoutSec: number): Promise<RequestView> {
    this.getRequest(id);
    const until = Date.now() + timeoutSec * 1000;
    for (;;) {
      this.refreshStatus(id);
      const r = this.store.requests.get(id)!;
      if (TERMINAL.includes(r.status) || Date.now() >= until || this.stopped)
        return this.requestView(r);
      await new Promise<void>((resolve) => {
        let ws = this.waiters.get(id);
        if (!ws) this.waiters.set(id, (ws = new Set()));
        const done = () => {
          clearTimeout(t);
          ws!.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(1000, Math.max(0, until - Date.now())));
        ws.add(done);
      });
    }
  }

  private authorName(e: AuditEntry): string | undefined {
    const peer = e.author.split('/')[0]!;
    if (peer === this.me.peerId) return this.me.name;
    return e.group ? this.store.members.get(e.group, peer)?.name : undefined;
  }

  auditList(input: { group?: string; limit?: number }): AuditEntryView[] {
    const group = input.group ? this.findGroup(input.group).id : undefined;
    const entries = this.store.audit.list({ group, limit: input.limit ?? 1000 });
    return entries.map((e) => ({
      author: e.author,
      authorName: this.authorName(e),
      seq: e.seq,
      at: new Date(e.at).toISOString(),
      type: e.type,
      group: e.group,
      summary: summarize(e),
      hash: e.hash,
    }));
  }

  /**
   * Checks every chain this node holds (its own and the group members'), with the heads the
   * members' checkpoints attest to, so removed last entries show up as truncation too.
   */
  auditVerify() {
    const entries = this.store.audit.all();
    const heads: Record<string, { seq: number; hash: string }> = {};
    for (const e of entries) {
      if (e.type !== 'audit.checkpoint') continue;
      const h = (e.body as { heads?: Record<string, { seq: number; hash: string }> }).heads ?? {};
      for (const [author, head] of Object.entries(h))
        if (typeof head?.seq === 'number' && (!heads[author] || heads[author].seq < head.seq))
          heads[author] = head;
    }
    return verifyEntries(
      entries,
      (author) => {
        try {
          return publicKeyFromPeerId(author.split('/')[0]!);
        } catch {
          return undefined;
        }
      },
      { heads },
    );
  }

  // ---------------------------------------------------------------- backups

  async exportShareBackup(ref: string, passphrase: string): Promise<BackupExported> {
    const g = this.findGroup(ref);
    if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} has no key yet`);
    const key = await this.keyPackage(g.id);
    const file = exportBackup(
      key,
      {
        memberName: this.me.name,
        memberIdentity: this.me.peerId,
        groupId: g.id,
        groupName: g.name,
      },
      passphrase,
    );
    this.audit('backup.exported', { epoch: g.epoch }, g.id);
    return { group: g.id, groupName: g.name, epoch: g.epoch, file };
  }

  async restoreShareBackup(file: string, passphrase: string): Promise<GroupView> {
    let header;
    try {
      header = JSON.parse(file) as { groupId?: unknown };
    } catch {
      throw new ApiError('bad_input', 'this is not a Conclave share backup file');
    }
    const g =
      typeof header?.groupId === 'string' ? this.store.groups.get(header.groupId) : undefined;
    if (!g || g.status !== 'ready' || !g.publicPackage)
      throw new ApiError(
        'not_found',
        'the backup belongs to a group this node is not part of (to rebuild a lost share on a new device, ask the group for a repair)',
      );
    const me = this.store.members.get(g.id, this.me.peerId);
    let restored;
    try {
      restored = importBackup(file, passphrase, {
        expectEpoch: g.epoch,
        expectGroupKey: bytesToHex(
          getSuite(g.scheme).encodePoint(this.publicPackage(g.id)!.groupKey),
        ),
      });
    } catch (e) {
      if (e instanceof CryptoError) {
        const words: Record<string, string> = {
          wrong_passphrase: 'wrong passphrase, or the file was modified',
          backup_tampered: 'the backup file was modified; it cannot be trusted',
          stale_backup: `this backup is out of date: ${e.message.replace(/^stale_backup: /, '')}. A refresh replaced that share; it no longer works`,
          key_mismatch: 'the backup belongs to another key',
          epoch_mismatch: e.message.replace(/^epoch_mismatch: /, ''),
        };
        throw new ApiError('bad_input', words[e.code] ?? e.message);
      }
      throw e;
    }
    if (!me || restored.key.share.identifier !== BigInt(me.index))
      throw new ApiError('conflict', "the backup is another member's share");
    await this.vault.put(shareName(g.id, g.epoch), restored.key.share.toBytes());
    this.keys.delete(g.id);
    this.audit('backup.restored', { epoch: g.epoch }, g.id);
    return this.groupView(g);
  }

  // ---------------------------------------------------------------- settings

  settings(): Settings {
    const relays = JSON.parse(this.store.meta.get('relays') || '[]') as string[];
    return {
      name: this.me.name,
      relays,
      notifications: this.store.meta.get('notifications') !== '0',
      restartNeeded: JSON.stringify(relays) !== JSON.stringify(this.startedRelays),
    };
  }

  updateSettings(input: { name?: string; relays?: string[]; notifications?: boolean }): Settings {
    this.store.tx(() => {
      if (input.name !== undefined && input.name !== this.me.name) {
        this.store.meta.set('name', input.name);
        this.audit('identity.renamed', { from: this.me.name, to: input.name });
        this.me.name = input.name;
      }
      if (input.relays !== undefined) this.store.meta.set('relays', JSON.stringify(input.relays));
      if (input.notifications !== undefined)
        this.store.meta.set('notifications', input.notifications ? '1' : '0');
    });
    return this.settings();
  }

  /** The API contract served to the CLI, the UI and browser mode (entry points add the rest). */
  api(): Omit<Api, 'identity.init' | 'sandbox.start' | 'sandbox.members' | 'sandbox.decide'> {
    const status = () => {
      const pending = this.store.requests.list({ statuses: ['pending', 'signing'] }).length;
      return {
        peerId: this.me.peerId,
        name: this.me.name,
        fingerprint: fingerprint(this.me.publicKey),
        addrs: this.host.addrs(),
        vault: this.vault.kind,
        groups: this.store.groups.list().length,
        pendingRequests: pending,
        dropped: { ...this.host.stats().dropped, ...this.dropped },
        version: 1,
      };
    };
    return {
      'node.status': async () => status(),
      'settings.get': async () => this.settings(),
      'settings.update': async (i) => this.updateSettings(i),
      'group.create': async (i) => this.createGroup(i),
      'group.join': async (i) => this.joinGroup(i.invite),
      'group.import': async (i) => this.importGroup(i),
      'group.invite': async (i) => this.inviteNewcomer(i.group),
      'request.reshare': async (i) => this.createReshareRequest(i),
      'request.repair': async (i) => this.createRepairRequest(i),
      'group.list': async () => this.store.groups.list().map((g) => this.groupView(g)),
      'group.show': async (i) => this.groupView(this.findGroup(i.group)),
      'group.confirm': async (i) => this.confirmGroup(i.group),
      'request.sign': async (i) => this.createSignRequest(i),
      'request.refresh': async (i) => this.createRefreshRequest(i),
      'group.policy': async (i) => this.policyView(i.group),
      'request.reconstruct': async (i) => this.createReconstructRequest(i),
      'request.policy': async (i) => this.createPolicyRequest(i),
      'request.list': async (i) => {
        const groupId = i.group ? this.findGroup(i.group).id : undefined;
        for (const r of this.store.requests.list({ groupId, statuses: ['pending', 'signing'] }))
          this.refreshStatus(r.id);
        const rows = this.store.requests.list({
          groupId,
          statuses: i.pending ? ['pending', 'signing'] : undefined,
        });
        return rows.map((r) => this.requestView(r));
      },
      'request.show': async (i) => {
        this.refreshStatus(this.getRequest(i.id).id);
        return this.requestView(this.store.requests.get(i.id)!);
      },
      'request.approve': async (i) => this.decide(i.id, 'approve'),
      'request.deny': async (i) => this.decide(i.id, 'deny', i.reason),
      'request.wait': async (i) => this.waitRequest(i.id, i.timeoutSec),
      'audit.list': async (i) => this.auditList(i),
      'audit.verify': async () => this.auditVerify(),
      'backup.export': async (i) => this.exportShareBackup(i.group, i.passphrase),
      'backup.restore': async (i) => this.restoreShareBackup(i.file, i.passphrase),
    };
  }
}

/** Reads a 32-byte private key: a file of 64 hex characters (whitespace ignored) or 32 raw bytes. */
async function readKeyFile(path: string): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    const info = await stat(path);
    if (!info.isFile() || info.size > 1024) throw new Error('not a small regular file');
    raw = await readFile(path);
  } catch (e) {
    throw new ApiError(
      'bad_input',
      `keyFile: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  try {
    const text = raw.toString('utf8').replace(/\s+/g, '').replace(/^0x/i, '');
    if (/^[0-9a-fA-F]{64}$/.test(text)) return hexToBytes(text.toLowerCase());
    if (raw.length === 32) return new Uint8Array(raw);
    throw new ApiError(
      'bad_input',
      `keyFile: ${path} must hold 32 bytes, as 64 hex characters or raw`,
    );
  } finally {
    raw.fill(0);
  }
}

function decodeSignedSafe(v: unknown): Signed {
  try {
    return decodeSigned(v);
  } catch {
    throw new DroppedMessage('malformed');
  }
}

/** Thrown by a message handler to make the host drop and count the message. */
export class DroppedMessage extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(`dropped: ${reason}`);
    this.reason = reason;
  }
}

export function shareName(groupId: string, epoch: number): string {
  return `share/${groupId}/${epoch}`;
}

function joinToken(secretHex: string, groupId: string, peerId: string): string {
  return createHmac('sha256', Buffer.from(secretHex, 'hex'))
    .update(`conclave/join/v1\n${groupId}\n${peerId}`)
    .digest('hex');
}

function short(peer: string): string {
  return peer.length > 12 ? `…${peer.slice(-8)}` : peer;
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

/** UTF-8 text without control characters (other than newline and tab), else undefined. */
export function printableText(bytes: Uint8Array): string | undefined {
  try {
    const s = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    // eslint-disable-next-line no-control-regex
    return /[\u0000-\u0008\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/.test(s) ? undefined : s;
  } catch {
    return undefined;
  }
}

function summarize(e: AuditEntry): string {
  const b = e.body as Record<string, unknown>;
  switch (e.type) {
    case 'identity.created':
      return `identity created: ${String(b.name)}`;
    case 'group.created':
      return `created group ${String(b.name)} (${String(b.threshold)}-of-${String(b.size)}, ${String(b.scheme)})`;
    case 'group.ready':
      return `group key ready: ${String(b.publicKey)}`;
    case 'request.created':
      return `request ${String(b.id)} created by ${short(String(b.by))}`;
    case 'request.approved':
      return `request ${String(b.id)} approved by ${short(String(b.by))}`;
    case 'request.denied':
      return `request ${String(b.id)} denied by ${short(String(b.by))}${b.reason ? `: ${String(b.reason)}` : ''}`;
    case 'request.signed':
      return `request ${String(b.id)} signed`;
    default:
      return e.type;
  }
}
