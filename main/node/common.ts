// Types, constants and small helpers the node's services share (ceremony parameters, wire shapes,
// names).
import { createHmac } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { ApiError, type RequestStatus } from '../../shared/api/index.js';
import {
  publicPackageFromJSON,
  publicPackageToJSON,
  type PublicKeyPackage,
} from '../../shared/crypto/keys.js';
import type { GroupPolicy } from '../../shared/policy/policy.js';
import { decodeSigned, type Signed } from '../../shared/protocol/wire.js';
import { logSafe } from '../../shared/protocol/text.js';
import type { GroupContext } from '../../shared/requests/index.js';
import { isRelayAddr } from '../net/host.js';
import { publicKeyFromPeerId } from '../net/identity.js';
import { vouchForPackage, type GroupRow, type Store } from '../store/index.js';

export const TERMINAL: RequestStatus[] = ['done', 'denied', 'expired', 'failed'];
export const POOL_SIZE = 4;
export const DEFAULT_EXPIRY_SEC = 24 * 3600;

export type DkgInbox = {
  round1: Map<string, unknown>;
  echo: Map<string, unknown>;
  round2: Map<string, unknown>;
  done: Map<string, unknown>;
};

/** Parameters of a ceremony request, carried as canonical JSON in the request's message. */
export type CeremonyParams =
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

export interface Candidate {
  peerId: string;
  name: string;
  addrs: string[];
}

/** A guard for readMetaList: a newcomer as `candidates:<group>` holds it, with a real peer id. */
export function isCandidate(item: unknown): item is Candidate {
  if (typeof item !== 'object' || item === null) return false;
  const c = item as Partial<Record<keyof Candidate, unknown>>;
  return (
    isPeerId(c.peerId) &&
    typeof c.name === 'string' &&
    Array.isArray(c.addrs) &&
    c.addrs.every(isString)
  );
}

/** A peer id this node can take a public key from (a stored one may be anything). */
export function isPeerId(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > 200) return false;
  try {
    publicKeyFromPeerId(v);
    return true;
  } catch {
    return false;
  }
}

export interface PlannedMember {
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
export interface PendingCeremony {
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

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

/** A guard for a stored PendingCeremony (its roster's members included). */
export function isPendingCeremony(v: unknown): v is PendingCeremony {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Partial<Record<keyof PendingCeremony, unknown>>;
  return (
    typeof p.requestId === 'string' &&
    typeof p.session === 'string' &&
    (p.kind === 'refresh' || p.kind === 'reshare') &&
    (p.stage === 'writing' || p.stage === 'holding' || p.stage === 'leaving') &&
    isInt(p.fromEpoch) &&
    isInt(p.epoch) &&
    typeof p.digest === 'string' &&
    typeof p.pubJson === 'string' &&
    Array.isArray(p.roster) &&
    p.roster.every(isPlannedMember) &&
    typeof p.hadOldShare === 'boolean'
  );
}

function isPlannedMember(v: unknown): v is PlannedMember {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Partial<Record<keyof PlannedMember, unknown>>;
  return (
    typeof m.peerId === 'string' &&
    typeof m.name === 'string' &&
    isInt(m.index) &&
    typeof m.identityKey === 'string' &&
    Array.isArray(m.addrs) &&
    m.addrs.every(isString)
  );
}

/** What `ceremony-committed:<request>` records: how a ceremony this member held ended. */
export interface CommittedCeremony {
  session: string;
  epoch: number;
  digest: string;
}

export function isCommittedCeremony(v: unknown): v is CommittedCeremony {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Partial<Record<keyof CommittedCeremony, unknown>>;
  return typeof o.session === 'string' && isInt(o.epoch) && typeof o.digest === 'string';
}

/** What `import:<group>` holds: the imported group key (hex), and on the importer its file. */
export interface ImportRecord {
  publicKey: string;
  keyFile?: string;
}

export function isImportRecord(v: unknown): v is ImportRecord {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Partial<Record<keyof ImportRecord, unknown>>;
  return (
    typeof o.publicKey === 'string' &&
    /^[0-9a-fA-F]{1,200}$/.test(o.publicKey) &&
    (o.keyFile === undefined || typeof o.keyFile === 'string')
  );
}

export const pendingKey = (groupId: string) => `ceremony-pending:${groupId}`;
/** What a repaired device's proof of knowledge is bound to: the repair request. */
export const repairContext = (requestId: string) =>
  sha256(utf8ToBytes(`conclave/repair-done/v1:${requestId}`));
export const committedKey = (requestId: string) => `ceremony-committed:${requestId}`;
export const formerKey = (groupId: string) => `former-members:${groupId}`;

/** Wire form of the 'sign' message extended with the approvals it relies on. */
export interface SignMessage {
  v: 1;
  type: 'sign';
  groupId: string;
  requestId: string;
  commitments: { peerId: string; commitment: Record<string, unknown> }[];
  /** The signers' approvals, so a signer that has not received one yet does not refuse. */
  approvals?: Signed[];
  /** Which of the request's signatures this is (absent: the first). */
  part?: number;
}

export function decodeSignedSafe(v: unknown): Signed {
  try {
    return decodeSigned(v);
  } catch {
    throw new DroppedMessage('malformed');
  }
}

/**
 * A signed statement kept in the store as JSON (a request's envelope, an approval), if it still
 * decodes as one; else undefined. The stored value itself is returned, as it was signed.
 */
export function parseStoredSigned(json: string): Signed | undefined {
  try {
    const v: unknown = JSON.parse(json);
    decodeSigned(v);
    return v as Signed;
  } catch {
    return undefined;
  }
}

/** How log lines and errors name a group's stored public key package (its groups row). */
export const groupPackageKey = (groupId: string) => `public key package of group ${groupId}`;

/**
 * Public packages this process built itself from checked points (a key generation's result, a
 * ceremony's new package decoded from its text), by their exact JSON text: parseStoredPackage
 * serves one for that text instead of decoding it (every verifying share a strictly checked
 * point: tens of ms for a large group), and it is what the text decodes to. Any other text is
 * decoded. A few runs' worth, shared by the nodes of a process (the practice group's): the same
 * text is the same package for each of them.
 */
const ownPackages = new Map<string, PublicKeyPackage>();
const MAX_OWN_PACKAGES = 8;

/**
 * Hands a package this node built from checked points, with the exact text it stores it as (by
 * default its JSON), to parseStoredPackage, and vouches for that text to the store: hand it over
 * before the store write, which then takes the text without decoding it again (every member
 * writes its new package at once, as its last step).
 */
export function rememberOwnPackage(
  pub: PublicKeyPackage,
  json = JSON.stringify(publicPackageToJSON(pub)),
): void {
  vouchForPackage(json);
  ownPackages.delete(json);
  if (ownPackages.size >= MAX_OWN_PACKAGES) ownPackages.delete(ownPackages.keys().next().value!);
  ownPackages.set(json, pub);
}

/** A public key package kept as JSON (a group's, a newcomer's), decoded; undefined if it does not. */
export function parseStoredPackage(json: string): PublicKeyPackage | undefined {
  const own = ownPackages.get(json);
  if (own) return own;
  try {
    return publicPackageFromJSON(JSON.parse(json));
  } catch {
    return undefined;
  }
}

/**
 * The public key package kept in the store's meta under `key`, for a ceremony: undefined when
 * missing; there but unreadable, a typed error naming the key, which the ceremony fails with.
 */
export function requireMetaPackage(store: Store, key: string): PublicKeyPackage | undefined {
  const raw = store.meta.get(key);
  if (!raw) return undefined;
  const pub = parseStoredPackage(raw);
  if (!pub) throw badRowError(key, 'a key package');
  return pub;
}

/** What a repaired device keeps under `repair-done:<group>`, to prove it holds the share again. */
export interface RepairDone {
  requestId: string;
  /** Hex proof of knowledge of the repaired share (what lateRepairDone accepts). */
  proof: string;
  /** The repair's session (absent in records written before it was kept). */
  session?: string;
}

export const repairDoneKey = (groupId: string) => `repair-done:${groupId}`;

export function isRepairDone(v: unknown): v is RepairDone {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Partial<Record<keyof RepairDone, unknown>>;
  return (
    typeof o.requestId === 'string' &&
    o.requestId.length > 0 &&
    o.requestId.length <= 200 &&
    typeof o.proof === 'string' &&
    /^[0-9a-f]{1,256}$/.test(o.proof) &&
    (o.session === undefined ||
      (typeof o.session === 'string' && /^[0-9a-f]{1,256}$/.test(o.session)))
  );
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

export function joinToken(secretHex: string, groupId: string, peerId: string): string {
  return createHmac('sha256', Buffer.from(secretHex, 'hex'))
    .update(`conclave/join/v1\n${groupId}\n${peerId}`)
    .digest('hex');
}

export function short(peer: string): string {
  return peer.length > 12 ? `…${peer.slice(-8)}` : peer;
}

export function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

/** What parseMeta returns for a value that is there but not JSON. */
const NOT_JSON = Symbol('not JSON');

/** The JSON value under `key` in the store's meta: undefined when missing or empty. */
function parseMeta(store: Store, key: string): unknown {
  const raw = store.meta.get(key);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** The items of a stored list that `guard` accepts; the others are reported (once per key). */
function keepItems<T>(
  store: Store,
  key: string,
  list: unknown[],
  guard: (item: unknown) => item is T,
  log?: (line: string) => void,
): T[] {
  const kept = list.filter(guard);
  if (kept.length !== list.length)
    reportBadRow(store, key, `has ${list.length - kept.length} unreadable item(s)`, log);
  return kept;
}

/**
 * A JSON list kept in the store's meta under `key`, keeping only the items `guard` accepts. A
 * missing, unreadable or non-list value reads as an empty list, never a throw: these are read on
 * timers and in views, where hostile or stale stored data must not stop the node.
 */
export function readMetaList<T>(
  store: Store,
  key: string,
  guard: (item: unknown) => item is T,
  log?: (line: string) => void,
): T[] {
  const list = parseMeta(store, key) ?? [];
  if (!Array.isArray(list)) {
    reportBadRow(store, key, list === NOT_JSON ? 'is not JSON' : 'is not a list', log);
    return [];
  }
  return keepItems(store, key, list, guard, log);
}

/**
 * readMetaList for a user action: a value that is there but not a JSON list is a typed error
 * naming the key (the action cannot be done on it), not an empty list; unreadable items are
 * still dropped.
 */
export function requireMetaList<T>(
  store: Store,
  key: string,
  guard: (item: unknown) => item is T,
  log?: (line: string) => void,
): T[] {
  const list = parseMeta(store, key) ?? [];
  if (!Array.isArray(list)) throw badRowError(key, 'a list');
  return keepItems(store, key, list, guard, log);
}

/**
 * A JSON value kept in the store's meta under `key`, if `guard` accepts it. Missing or empty:
 * undefined; there but unreadable: also undefined, logged once (for views, timers and message
 * handlers, which must not throw on stored data).
 */
export function readMetaValue<T>(
  store: Store,
  key: string,
  guard: (v: unknown) => v is T,
  log?: (line: string) => void,
): T | undefined {
  const v = parseMeta(store, key);
  if (v === undefined) return undefined;
  if (v !== NOT_JSON && guard(v)) return v;
  reportBadRow(store, key, v === NOT_JSON ? 'is not JSON' : 'is not of the stored shape', log);
  return undefined;
}

/** readMetaValue for a user action: a value there but unreadable is a typed error naming it. */
export function requireMetaValue<T>(
  store: Store,
  key: string,
  guard: (v: unknown) => v is T,
  what: string,
): T | undefined {
  const v = parseMeta(store, key);
  if (v === undefined) return undefined;
  if (v === NOT_JSON || !guard(v)) throw badRowError(key, what);
  return v;
}

/** The typed error of a user action (or a start) that found the stored `key` unreadable. */
export function badRowError(key: string, what: string): ApiError {
  return new ApiError(
    'internal',
    `the stored ${logSafe(key, 200)} is unreadable (not ${what}); this node's store is damaged`,
  );
}

/** Keys already reported as unreadable, per store: a view or a timer logs each one once. */
const reportedRows = new WeakMap<Store, Set<string>>();

/**
 * Logs that the stored `key` is unreadable, once per store and key (the key only, never its
 * value): for views, timers and handlers that read a damaged row as absent.
 */
export function reportBadRow(
  store: Store,
  key: string,
  why: string,
  log?: (line: string) => void,
): void {
  if (!log) return;
  let seen = reportedRows.get(store);
  if (!seen) reportedRows.set(store, (seen = new Set()));
  if (seen.has(key)) return;
  seen.add(key);
  // The key only (group or request ids), never the value: it may hold anything.
  log(`stored ${logSafe(key, 200)} ${why}; read as absent`);
}

/** Where the settings keep the relays this node listens through (set by settings.update). */
export const RELAYS_KEY = 'relays';
/** As many as the settings take (shared/api/schema.ts). */
export const MAX_RELAYS = 16;

/**
 * The relays in the settings, each a relay multiaddr the host takes; the others, and any past
 * MAX_RELAYS, are left out and the key logged once. Read at start, in the settings view and for
 * the addresses given to peers: a damaged row must neither stop the node starting nor throw.
 */
export function readRelays(store: Store, log?: (line: string) => void): string[] {
  const relays = readMetaList(store, RELAYS_KEY, isRelayAddr, log);
  if (relays.length <= MAX_RELAYS) return relays;
  reportBadRow(store, RELAYS_KEY, `lists more than ${MAX_RELAYS} relays`, log);
  return relays.slice(0, MAX_RELAYS);
}

/** A guard for readMetaList: a string item. */
export const isString = (item: unknown): item is string => typeof item === 'string';

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

/**
 * What the request-kind registry needs to know about a group as this node knows it now: the
 * current roster and policy, so a check made with it says whether a request fits the group as it
 * is, not as it was when received.
 */
export function groupContextOf(
  store: Store,
  g: GroupRow,
  policy: GroupPolicy,
  me: string,
): GroupContext {
  return {
    groupId: g.id,
    groupName: g.name,
    scheme: g.scheme,
    threshold: g.threshold,
    size: g.size,
    epoch: g.epoch,
    members: store.members
      .list(g.id)
      .map((m) => ({ peerId: m.peerId, name: m.name, index: m.index })),
    policy,
    me,
    ...groupKeyOf(g),
  };
}

/** The group key as its public package holds it (hex), for the uses that check it. */
function groupKeyOf(g: GroupRow): { publicKey?: string } {
  if (!g.publicPackage) return {};
  try {
    const k = (JSON.parse(g.publicPackage) as { groupKey?: unknown }).groupKey;
    return typeof k === 'string' && /^[0-9a-f]+$/.test(k) ? { publicKey: k } : {};
  } catch {
    return {};
  }
}
