// The API contract between the custodian node and its clients (CLI, desktop UI, browser mode).
// Every operation a client can ask of a node is declared here once; no secret ever crosses it.
import type { RequestArtifact, RequestCard } from '../requests/types.js';
import type { RequestKindName } from '../protocol/wire.js';

export type { CardField, CardPerson, RequestArtifact, RequestCard } from '../requests/types.js';

export const API_VERSION = 1;

export type Scheme = 'ed25519' | 'secp256k1' | 'taproot';
export type GroupStatus = 'forming' | 'confirming' | 'dkg' | 'ready' | 'failed';
export type RequestStatus = 'pending' | 'signing' | 'done' | 'denied' | 'expired' | 'failed';
export type RequestKind = RequestKindName;

export interface NodeStatus {
  peerId: string;
  name: string;
  fingerprint: string;
  /** Multiaddrs this node listens on, each ending in /p2p/<peerId>. */
  addrs: string[];
  vault: 'keychain' | 'file';
  groups: number;
  pendingRequests: number;
  /** Messages dropped at the network boundary, by reason (malformed, oversized, non_member, ...). */
  dropped: Record<string, number>;
  /**
   * Connection slots: open connections to members, open ones from outsiders (capped and
   * short-lived), outsiders refused by a cap and outsiders' connections closed at their lifetime.
   */
  connections?: { members: number; outsiders: number; refused: number; expired: number };
  /**
   * Entries held now in each in-memory buffer peers can fill (out-of-order audit entries, DKG and
   * ceremony inboxes, aborted sessions); each is bounded, and what it evicts counts as dropped.
   */
  buffers?: Record<string, number>;
  version: number;
}

export interface MemberView {
  name: string;
  peerId: string;
  fingerprint: string;
  /** 1-based position in the roster; also the member's FROST identifier. */
  index: number;
  online: boolean;
  confirmed: boolean;
  me: boolean;
}

/** What `group.leave` did: the group is gone from this node; `shareDeleted` when it held a share. */
export interface GroupLeft {
  group: string;
  name: string;
  shareDeleted: boolean;
  /** For a ready group: what leaving means for the others (how many shares are left of T). */
  warning?: string;
}

export interface GroupView {
  id: string;
  name: string;
  threshold: number;
  size: number;
  scheme: Scheme;
  status: GroupStatus;
  /** Hex. ed25519: 32-byte key; secp256k1: 33-byte compressed key; taproot: 32-byte x-only output key. */
  publicKey?: string;
  /** taproot only: the 32-byte x-only BIP341 internal key. */
  internalKey?: string;
  /** Words derived from the hash of the complete roster; compare out of band before confirming. */
  safetyCode?: string;
  epoch: number;
  /** Set once the key was reconstructed: "key exposed on <member> at <time> (<purpose>)". */
  exposed?: string;
  members: MemberView[];
  createdAt: string;
  error?: string;
  /** Set when the group shares an existing key (group import): that key, hex as publicKey. */
  importedKey?: string;
  /**
   * People who joined through this node's invites for a ready group and wait to be added by a
   * reshare or to take a lost member's place by a repair (only on the node that invited them).
   */
  newcomers?: NewcomerView[];
  /**
   * The invite for the other members (also the QR payload): only on the node that created the
   * group, while it is forming and not everyone has joined.
   */
  invite?: string;
}

export interface NewcomerView {
  name: string;
  peerId: string;
  /** Fingerprint of their identity key: compare with them before proposing to add them. */
  fingerprint: string;
}

export interface GroupCreated extends GroupView {
  /** Invite code for the other members (also the QR payload). */
  invite: string;
}

export interface RequestResult {
  id: string;
  kind: RequestKind;
  status: RequestStatus;
  /** Absent until the request is done (or when its kind has no product beyond its signature). */
  artifact?: RequestArtifact;
  /** For an ECDH kind on the requester's node: each s·P, hex (a per-request secret). */
  ecdh?: string[];
}

export interface DecisionView {
  peerId: string;
  name: string;
  at: string;
  reason?: string;
}

export interface RequestView {
  id: string;
  group: string;
  groupName: string;
  kind: RequestKind;
  status: RequestStatus;
  /** The bytes to sign, hex (for a ceremony: its parameters as canonical JSON). */
  message: string;
  /** For a ceremony, what it does, in words (shown instead of the message). */
  description?: string;
  /**
   * What the approver must see, decoded by this node from the request's exact bytes through the
   * request-kind registry (shared/requests): title, one-sentence summary, fields, warnings.
   */
  card?: RequestCard;
  /** The message as text when it is valid UTF-8 without control characters. */
  messageText?: string;
  messageSha256: string;
  createdBy: DecisionView;
  createdAt: string;
  expiresAt: string;
  approvals: DecisionView[];
  denials: DecisionView[];
  /** Approvals the request needs under the group's policy in force (at least the threshold). */
  approvalsNeeded?: number;
  /** Members who can approve: the group's size. */
  groupSize?: number;
  /**
   * Hex signature once done; verifies under the group's publicKey with the scheme's verifier. A
   * reconstruct ecdsa-sign request gives a 64-byte ECDSA signature of the raw digest instead: for
   * secp256k1 under publicKey; for taproot under the internal key with its own parity (not the
   * output key), which the x-only internalKey does not tell.
   */
  signature?: string;
  failure?: string;
  /**
   * For a reshare or repair: the fingerprint of each newcomer's identity key, by peer id, to
   * compare with the newcomer in person before approving.
   */
  fingerprints?: Record<string, string>;
  /** For a ceremony waiting to start: the members it needs who are offline now. */
  waitingFor?: string[];
  /** Peer ids of members who failed to answer or sent a bad share during signing. */
  culprits: string[];
}

export interface BackupExported {
  group: string;
  groupName: string;
  epoch: number;
  /** The backup file's text (JSON); the share inside is encrypted under the passphrase. */
  file: string;
}

export interface PolicyView {
  group: string;
  /** Hex sha256 of the canonical policy; bound into every request. */
  hash: string;
  policy: Record<string, unknown>;
  /** The policy in sentences. */
  description: string[];
}

export interface Settings {
  name: string;
  /** Relay multiaddrs (ending in /p2p/<relay peer id>) this node uses, besides `--relay`. */
  relays: string[];
  notifications: boolean;
  /** True when relays changed since this node started: they apply at the next start. */
  restartNeeded: boolean;
}

export interface SandboxMember {
  name: string;
  peerId: string;
  /** Ids of requests this simulated custodian has not decided yet. */
  pending: string[];
}

export interface AuditEntryView {
  author: string;
  authorName?: string;
  seq: number;
  at: string;
  type: string;
  group?: string;
  summary: string;
  hash: string;
}

export interface AuditReport {
  ok: boolean;
  entries: number;
  authors: number;
  problems: { author: string; seq: number; problem: string }[];
}

/** Every operation, its input and its result. */
export interface ApiOperations {
  'node.status': { input: Record<string, never>; output: NodeStatus };
  /** This custodian's preferences. */
  'settings.get': { input: Record<string, never>; output: Settings };
  /**
   * Changes preferences. A new name is shown in groups formed or joined afterwards (an existing
   * group's roster, and so its safety code, keeps the name it was confirmed with). Relays take
   * effect at the next start. Notifications are the desktop app's new-request notifications.
   */
  'settings.update': {
    input: { name?: string; relays?: string[]; notifications?: boolean };
    output: Settings;
  };
  /**
   * First run: creates this custodian's identity, then the node starts. Only answered by a node
   * that has no identity yet (browser mode and the desktop app show the first-run screen then;
   * every other operation answers `not_ready` until it is done). The passphrase is only for the
   * file vault, chosen explicitly instead of the OS keychain.
   */
  'identity.init': {
    input: { name: string; vault: 'keychain' | 'file'; passphrase?: string };
    output: NodeStatus;
  };
  /**
   * Unlocks a node whose file vault waits for its passphrase (browser mode started without one:
   * every other operation answers `locked` until then); the node starts. A wrong passphrase is
   * `vault`, and each wrong attempt makes the next one wait a little longer.
   */
  'vault.unlock': { input: { passphrase: string }; output: NodeStatus };
  /**
   * "Try it alone": a local 2-of-3 group with two simulated co-custodians that run the real
   * protocol in this process. Idempotent: returns the sandbox group if it exists.
   */
  'sandbox.start': { input: Record<string, never>; output: GroupView };
  /** The simulated co-custodians, each with the requests still waiting for its decision. */
  'sandbox.members': { input: Record<string, never>; output: SandboxMember[] };
  /** A simulated co-custodian approves or denies a request (its button appears in the UI). */
  'sandbox.decide': {
    input: { member: string; id: string; decision: 'approve' | 'deny'; reason?: string };
    output: RequestView;
  };
  'group.create': {
    input: { name: string; threshold: number; size: number; scheme: Scheme };
    output: GroupCreated;
  };
  'group.join': { input: { invite: string }; output: GroupView };
  /**
   * A group that shares a key the user already has (trusted-dealer split) instead of a new one.
   * `keyFile` is a path on the node's machine, so the key itself never crosses this API.
   */
  'group.import': {
    input: { name: string; threshold: number; size: number; scheme: Scheme; keyFile: string };
    output: GroupCreated & { warning: string };
  };
  'group.list': { input: Record<string, never>; output: GroupView[] };
  /** `group` is a group id or a unique group name. */
  'group.show': { input: { group: string }; output: GroupView };
  'group.confirm': { input: { group: string }; output: GroupView };
  /** An invite for a newcomer to a ready group; they become a member through a reshare. */
  'group.invite': { input: { group: string }; output: { group: string; invite: string } };
  /**
   * Leaves a group and removes it from this node. A group not ready yet holds no key: nothing is
   * lost. A ready group: this node's share is deleted from the vault, so with fewer than T members
   * left holding shares the key is lost for everyone. The caller must show that and send
   * `confirm: true` (else 'confirmation_required').
   */
  'group.leave': { input: { group: string; confirm: true }; output: GroupLeft };
  /**
   * A request of any use kind (ssh, age, x509, psbt, nostr): `message` is the hex of the bytes
   * its kind parses (each use's encoding); every member decodes them itself. Refused like every
   * request when its bytes do not parse as its kind or the policy does not allow it.
   */
  'request.create': {
    input: {
      group: string;
      kind: RequestKind;
      message: string;
      expiresInSec?: number;
      approve?: boolean;
    };
    output: RequestView;
  };
  /**
   * What a done request produced, as its kind builds it (a certificate, a signed PSBT, a signed
   * event…). An ECDH kind's result exists only on the requester's node, in memory.
   */
  'request.result': { input: { id: string }; output: RequestResult };
  /** `approve`: the requester's own approval, signed and sent with the request. */
  'request.sign': {
    input: {
      group: string;
      message: string;
      encoding: 'utf8' | 'hex';
      expiresInSec?: number;
      approve?: boolean;
    };
    output: RequestView;
  };
  /**
   * Proposes a reshare: add newcomers (who joined with a `group.invite` invite; by name or peer
   * id), remove members, and/or change the threshold, keeping the public key; epoch + 1.
   */
  'request.reshare': {
    input: {
      group: string;
      threshold?: number;
      add?: string[];
      remove?: string[];
      expiresInSec?: number;
    };
    output: RequestView;
  };
  /**
   * Proposes a repair: `member` lost their device; the newcomer (their fresh identity, joined with
   * a `group.invite` invite) gets exactly their share back from T helpers, none of whom learns it.
   */
  'request.repair': {
    input: { group: string; member: string; newcomer?: string; expiresInSec?: number };
    output: RequestView;
  };
  /**
   * Proposes reconstructing the key on this node, for one stated operation: `export` writes it
   * encrypted under `passphrase` to `out` (a path on this node's machine); `ecdsa-sign` signs the
   * 32-byte `digest` with ECDSA secp256k1. Only when the group policy allows reconstruction; the
   * key exists in this node's memory only for the operation, and the group is marked exposed.
   */
  'request.reconstruct': {
    input: {
      group: string;
      purpose: string;
      operation: 'export' | 'ecdsa-sign';
      out?: string;
      passphrase?: string;
      digest?: string;
      expiresInSec?: number;
    };
    output: RequestView;
  };
  /** The group's policy in force: which requests are allowed and how many approvals each needs. */
  'group.policy': { input: { group: string }; output: PolicyView };
  /** Proposes a new group policy (it takes effect once approved as the current policy demands). */
  'request.policy': {
    input: {
      group: string;
      policy: Record<string, unknown>;
      expiresInSec?: number;
      approve?: boolean;
    };
    output: RequestView;
  };
  /** Proposes a refresh: new shares for every member, same public key, epoch + 1. */
  'request.refresh': { input: { group: string; expiresInSec?: number }; output: RequestView };
  'request.list': { input: { group?: string; pending?: boolean }; output: RequestView[] };
  'request.show': { input: { id: string }; output: RequestView };
  'request.approve': { input: { id: string }; output: RequestView };
  'request.deny': { input: { id: string; reason?: string }; output: RequestView };
  /** Resolves when the request is done, denied, expired or failed, or when the timeout passes. */
  'request.wait': { input: { id: string; timeoutSec: number }; output: RequestView };
  'audit.list': { input: { group?: string; limit?: number }; output: AuditEntryView[] };
  /**
   * This member's share as a passphrase-encrypted backup file (the share never leaves encrypted).
   * The passphrase is the one secret a client sends; nothing secret is ever returned. Whoever holds
   * the file and the passphrase can act as this custodian in the group, so the caller must show
   * that and send `confirm: true` once the custodian agreed (else 'confirmation_required').
   */
  'backup.export': {
    input: { group: string; passphrase: string; confirm: true };
    output: BackupExported;
  };
  /** Puts a backup's share back into this node's vault; a stale (older epoch) backup is refused. */
  'backup.restore': { input: { file: string; passphrase: string }; output: GroupView };
  'audit.verify': { input: Record<string, never>; output: AuditReport };
}

export type ApiMethod = keyof ApiOperations;
export type ApiInput<M extends ApiMethod> = ApiOperations[M]['input'];
export type ApiOutput<M extends ApiMethod> = ApiOperations[M]['output'];

/** What a node implements and what every transport (control socket, IPC, HTTP) serves. */
export type Api = { [M in ApiMethod]: (input: ApiInput<M>) => Promise<ApiOutput<M>> };

/** Pushed to clients when something they may be showing changed; they re-read what they need. */
export type ApiEvent =
  | { type: 'group'; id: string }
  | { type: 'request'; id: string }
  | { type: 'peer'; peerId: string; online: boolean };

/** Error codes a client can show in plain words. */
/** Every error code, in one place (the transports check received codes against it). */
export const API_ERROR_CODES = [
  'bad_input',
  'not_found',
  'ambiguous',
  'conflict',
  'not_member',
  'not_ready',
  'unreachable',
  'timeout',
  'vault',
  'internal',
  /** The operation has consequences the custodian must agree to first (`confirm: true`). */
  'confirmation_required',
  /** No OS keychain service runs on this computer (no Secret Service): use the file vault. */
  'keychain_unavailable',
  /** The node's file vault is locked: `vault.unlock` with its passphrase starts the node. */
  'locked',
] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

/**
 * Rebuilds an ApiError from its wire form `{ code, message }` (from the node, the HTTP server or
 * the IPC envelope); an unknown code becomes 'internal', a missing message `fallback`.
 */
export function apiErrorFrom(wire: unknown, fallback: string): ApiError {
  const { code, message } = (typeof wire === 'object' && wire !== null ? wire : {}) as {
    code?: unknown;
    message?: unknown;
  };
  const known = API_ERROR_CODES.find((c) => c === code) ?? 'internal';
  return new ApiError(known, typeof message === 'string' ? message : fallback);
}
