// The audit log format: per-author hash chains of entries, each signed with the author's identity key.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { AuditReport } from '../api/index.js';
import { isLowerHex } from '../protocol/fields.js';
import { logSafe } from '../protocol/text.js';

export type { AuditReport };

export const AUDIT_VERSION = 1;
/** `prev` of an author's first entry (seq 0). */
export const GENESIS_PREV = '0'.repeat(64);
/** Upper bound on the canonical encoding of one entry; entries travel between members. */
export const MAX_ENTRY_BYTES = 64 * 1024;

/**
 * One event, written by one custodian. `hash` is sha256 over the canonical JSON of every other field
 * except `sig`; `sig` is the author's Ed25519 signature over the 32 hash bytes. Entries of one author
 * form a chain through `seq` and `prev`; authors' chains are independent (no global order).
 */
export interface AuditEntry {
  v: typeof AUDIT_VERSION;
  /** libp2p peer id string of the author. */
  author: string;
  /** 0, 1, 2, … per author. */
  seq: number;
  /** Hex sha256 of the author's previous entry, or GENESIS_PREV for seq 0. */
  prev: string;
  /** ms since the epoch, the author's clock. */
  at: number;
  /** e.g. 'group.created', 'request.approved'. */
  type: string;
  group?: string;
  /** JSON-safe (see canonicalJSON) and free of secrets: every member receives it. */
  body: Record<string, unknown>;
  hash: string;
  sig: string;
}

/** What the author chooses; the chain fields (v, seq, prev, hash, sig) are derived. */
export interface AuditFields {
  author: string;
  at: number;
  type: string;
  group?: string;
  body: Record<string, unknown>;
}

export type AuditErrorCode = 'not_canonical' | 'bad_entry';

export class AuditError extends Error {
  readonly code: AuditErrorCode;
  constructor(code: AuditErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'AuditError';
    this.code = code;
  }
}

// ---- canonical JSON ----

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Deterministic JSON: object keys sorted by UTF-16 code units, no whitespace, numbers only as safe
 * integers (float formatting differs between languages). Throws `not_canonical` on anything
 * JSON.parse(JSON.stringify(x)) would not give back unchanged: undefined, bigint, NaN, functions,
 * symbols, class instances (Date, Map, Uint8Array), sparse arrays and cycles. For every value that
 * shared/crypto/backup.ts's canonicalJSON also accepts, the output is the same; that one lets class
 * instances through (a Date encodes as `{}`), which would break a hash after a store round trip.
 */
export function canonicalJSON(value: unknown): string {
  const seen = new Set<object>();
  // Where the encoder is (keys and indexes below the root): made into a `$.a[0]` path only for an
  // error, never on the way (this runs on every received audit entry).
  const at: (string | number)[] = [];
  const fail = (what: string): never => {
    let path = '$';
    for (const p of at) path += typeof p === 'number' ? `[${p}]` : `.${p}`;
    throw new AuditError('not_canonical', `${path} ${what}`);
  };
  const enc = (v: unknown): string => {
    if (typeof v === 'string' || typeof v === 'boolean' || v === null) return JSON.stringify(v);
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) fail(`must be a safe integer, got ${v}`);
      return String(v);
    }
    if (typeof v !== 'object') return fail(`is a ${typeof v}`);
    if (seen.has(v)) fail('is a cycle');
    seen.add(v);
    let out: string;
    if (Array.isArray(v)) {
      out = '[';
      for (let i = 0; i < v.length; i++) {
        at.push(i);
        if (!(i in v)) fail('is a hole');
        out += (i === 0 ? '' : ',') + enc(v[i]);
        at.pop();
      }
      out += ']';
    } else if (isPlainObject(v)) {
      const keys = Object.keys(v).sort();
      out = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        at.push(k);
        out += (i === 0 ? '' : ',') + JSON.stringify(k) + ':' + enc(v[k]);
        at.pop();
      }
      out += '}';
    } else {
      const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      return fail(`is a ${name}, not a plain object`);
    }
    seen.delete(v);
    return out;
  };
  return enc(value);
}

// ---- making entries ----

const TYPE = /^[a-z][a-z0-9_.-]{0,63}$/;
const MAX_ID = 256;
const FIELDS = new Set([
  'v',
  'author',
  'seq',
  'prev',
  'at',
  'type',
  'group',
  'body',
  'hash',
  'sig',
]);

type Unsigned = Omit<AuditEntry, 'hash' | 'sig'>;

/** The signed pre-image: every field but hash and sig, `group` left out when absent. */
function preimage(e: Unsigned): Uint8Array {
  const o: Record<string, unknown> = {
    v: e.v,
    author: e.author,
    seq: e.seq,
    prev: e.prev,
    at: e.at,
    type: e.type,
    body: e.body,
  };
  if (e.group !== undefined) o.group = e.group;
  const bytes = utf8ToBytes(canonicalJSON(o));
  if (bytes.length > MAX_ENTRY_BYTES)
    throw new AuditError('bad_entry', `entry is ${bytes.length} bytes, limit ${MAX_ENTRY_BYTES}`);
  return bytes;
}

/** Hex sha256 of the entry's canonical encoding (the value its `hash` must have). */
export function hashEntry(e: Unsigned): string {
  return bytesToHex(sha256(preimage(e)));
}

/** A received value in a refusal: a JSON object with its own toString must not make String() throw. */
const shown = (v: unknown): string =>
  v !== null && typeof v === 'object' ? logSafe(v) : String(v);

/** Why `x` is not a well-formed entry, or undefined. Checks shape only, not hash or signature. */
export function entryProblem(x: unknown): string | undefined {
  const p = encodedOrProblem(x);
  return typeof p === 'string' ? p : undefined;
}

/**
 * entryProblem and hashEntry of a received value at once, its canonical encoding made once: why it
 * is not a well-formed entry, or the hash its `hash` field must have (not compared here).
 */
export function checkEntry(x: unknown): { problem: string } | { hash: string } {
  const p = encodedOrProblem(x);
  return typeof p === 'string' ? { problem: p } : { hash: bytesToHex(sha256(p)) };
}

/** The signed pre-image of a well-formed entry, or why `x` is not one. */
function encodedOrProblem(x: unknown): Uint8Array | string {
  const problem = shapeProblem(x);
  if (problem !== undefined) return problem;
  try {
    return preimage(x as unknown as Unsigned);
  } catch (err) {
    return err instanceof AuditError ? err.message : String(err);
  }
}

/** entryProblem's checks of each field, before the entry's encoding is made. */
function shapeProblem(x: unknown): string | undefined {
  if (!isPlainObject(x)) return 'not an object';
  for (const k of Object.keys(x)) if (!FIELDS.has(k)) return `unknown field ${JSON.stringify(k)}`;
  if (x.v !== AUDIT_VERSION) return `unsupported version ${shown(x.v)}`;
  if (typeof x.author !== 'string' || x.author.length === 0 || x.author.length > MAX_ID)
    return 'author must be a non-empty string';
  if (!Number.isSafeInteger(x.seq) || (x.seq as number) < 0)
    return `seq must be a non-negative integer, got ${shown(x.seq)}`;
  if (!isLowerHex(x.prev, 64)) return 'prev must be 64 hex digits';
  if (!Number.isSafeInteger(x.at) || (x.at as number) < 0)
    return `at must be a non-negative integer, got ${shown(x.at)}`;
  if (typeof x.type !== 'string' || !TYPE.test(x.type))
    return `type must match ${TYPE.source}, got ${JSON.stringify(x.type)}`;
  if (
    'group' in x &&
    (typeof x.group !== 'string' || x.group.length === 0 || x.group.length > MAX_ID)
  )
    return 'group must be a non-empty string when present';
  if (!isPlainObject(x.body)) return 'body must be a plain object';
  if (!isLowerHex(x.hash, 64)) return 'hash must be 64 hex digits';
  if (!isLowerHex(x.sig, 128)) return 'sig must be 128 hex digits';
  return undefined;
}

/** Checks the shape of a received entry (e.g. parsed JSON from a peer); throws `bad_entry`. */
export function parseEntry(x: unknown): AuditEntry {
  const problem = entryProblem(x);
  if (problem !== undefined) throw new AuditError('bad_entry', problem);
  return x as AuditEntry;
}

/**
 * The author's next entry after `prev` (their current head, or undefined for their first entry).
 * `sign` is the author's Ed25519 signature over the 32 hash bytes.
 */
export function makeEntry(
  prev: Pick<AuditEntry, 'author' | 'seq' | 'hash'> | undefined,
  fields: AuditFields,
  sign: (hash: Uint8Array) => Uint8Array,
): AuditEntry {
  if (prev !== undefined && prev.author !== fields.author)
    throw new AuditError(
      'bad_entry',
      `prev belongs to ${prev.author}, not to the author ${fields.author}`,
    );
  const unsigned: Unsigned = {
    v: AUDIT_VERSION,
    author: fields.author,
    seq: prev === undefined ? 0 : prev.seq + 1,
    prev: prev === undefined ? GENESIS_PREV : prev.hash,
    at: fields.at,
    type: fields.type,
    ...(fields.group !== undefined ? { group: fields.group } : {}),
    body: fields.body,
  };
  const hash = sha256(preimage(unsigned));
  const sig = sign(hash);
  if (!(sig instanceof Uint8Array) || sig.length !== 64)
    throw new AuditError(
      'bad_entry',
      `sign must return a 64-byte Ed25519 signature, got ${sig?.length} bytes`,
    );
  const entry: AuditEntry = { ...unsigned, hash: bytesToHex(hash), sig: bytesToHex(sig) };
  // Its encoding was made (and its size checked) for the hash above.
  const problem = shapeProblem(entry);
  if (problem !== undefined) throw new AuditError('bad_entry', problem);
  return entry;
}

// ---- verification ----

export interface VerifyOptions {
  /**
   * Each author's last entry as known from elsewhere (e.g. announced by the author or seen by
   * another member). The chain alone cannot show that its last entries were removed; with a known
   * head, a chain that stops short is reported as truncated and a different entry at the head's seq
   * as a fork.
   */
  heads?: Record<string, { seq: number; hash: string }>;
  /**
   * Who may write to this log. Without it every author whose key is known passes, and anyone can
   * make a peer id and so a key: a non-member's forged entry would verify. With it, every entry of
   * an author outside the set is reported as `unknown_author` (one problem per entry, naming its
   * type), whatever its hash and signature.
   */
  authors?: AcceptedAuthors;
  /**
   * Checks an entry's Ed25519 signature (sig, the 32 hash bytes, the author's raw public key). It
   * must answer as noble's strict verify does (`strictEd25519Verify`, the default); the node passes
   * one that is faster on valid signatures. Throwing counts as a bad signature.
   */
  verify?: Ed25519Verify;
}

/** Verifies an Ed25519 signature: (signature, message, raw 32-byte public key) → valid. */
export type Ed25519Verify = (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array) => boolean;

/** RFC 8032 strict verification (noble, zip215 off), as the threshold core's Ed25519 verifier. */
export const strictEd25519Verify: Ed25519Verify = (sig, msg, publicKey) =>
  ed25519.verify(sig, msg, publicKey, { zip215: false });

/** The authors a log may hold (see `VerifyOptions.authors`). */
export interface AcceptedAuthors {
  /**
   * The peer ids of a group's current and former members, or undefined for a group this log does
   * not know (then none of its entries is accepted).
   */
  members: (groupId: string) => Iterable<string> | undefined;
  /** Peer ids whose personal chain (author without a group, never replicated) may be here. */
  personal?: Iterable<string>;
}

/** Problem code of an entry whose author may not write to the log (see `authorProblem`). */
export const UNKNOWN_AUTHOR = 'unknown_author';

/**
 * The parts of an author id: `<peerId>/<groupId>` for a group chain (replicated to the group's
 * members), `<peerId>` for a node's personal chain. Undefined when it is neither.
 */
export function splitAuthor(author: string): { peer: string; group?: string } | undefined {
  const parts = author.split('/');
  if (parts.some((p) => p.length === 0)) return undefined;
  if (parts.length === 1) return { peer: parts[0]! };
  if (parts.length === 2) return { peer: parts[0]!, group: parts[1]! };
  return undefined;
}

const has = (xs: Iterable<string> | undefined, x: string): boolean => {
  if (xs === undefined) return false;
  if (xs instanceof Set) return xs.has(x);
  for (const y of xs) if (y === x) return true;
  return false;
};

/**
 * Why `entry`'s author may not write it, or undefined when it may: a group chain's entry must be
 * of that group (its `group` field equals the author's group part) and its author a current or
 * former member of that group; a personal chain's only in `authors.personal`. The message starts
 * with `unknown_author:` and names the author, the group and the entry's type.
 */
export function authorProblem(
  entry: Pick<AuditEntry, 'author' | 'group' | 'type'>,
  authors: AcceptedAuthors,
): string | undefined {
  const a = splitAuthor(entry.author);
  const what = `(entry ${JSON.stringify(entry.type)})`;
  if (a === undefined)
    return `${UNKNOWN_AUTHOR}: ${JSON.stringify(entry.author)} is not <peer> or <peer>/<group> ${what}`;
  if (a.group === undefined) {
    if (entry.group !== undefined)
      return `${UNKNOWN_AUTHOR}: a personal chain holds an entry of group ${entry.group} ${what}`;
    return has(authors.personal, a.peer)
      ? undefined
      : `${UNKNOWN_AUTHOR}: personal chain of ${a.peer}, which is not this node ${what}`;
  }
  if (entry.group !== a.group)
    return `${UNKNOWN_AUTHOR}: the chain of group ${a.group} holds an entry of group ${String(entry.group)} ${what}`;
  return has(authors.members(a.group), a.peer)
    ? undefined
    : `${UNKNOWN_AUTHOR}: ${a.peer} is not a current or former member of group ${a.group} ${what}`;
}

/**
 * Whether a node may keep a replicated entry of a group: its author is `<peer>/<group>` with
 * `group` the entry's own, and `peer` one of `members` (the group's current and former members'
 * peer ids). Call it when an entry is received, before it is stored or waits for a gap to close.
 */
export function acceptableAuthor(
  entry: Pick<AuditEntry, 'author' | 'group' | 'type'>,
  members: Iterable<string>,
): boolean {
  const a = splitAuthor(entry.author);
  if (a?.group === undefined) return false;
  return (
    authorProblem(entry, { members: (g) => (g === a.group ? members : undefined) }) === undefined
  );
}

type Problem = AuditReport['problems'][number];

interface Variant {
  entry: AuditEntry;
  /** Hash matches the content and, for a known author, the signature verifies. */
  authentic: boolean;
}

function verifySig(e: AuditEntry, publicKey: Uint8Array, verify: Ed25519Verify): boolean {
  try {
    return verify(hexToBytes(e.sig), hexToBytes(e.hash), publicKey);
  } catch {
    return false;
  }
}

const range = (from: number, to: number): string => `${from}..${to}`;

/**
 * Checks every author's chain: seq continuity from 0, prev links, hashes, signatures, and forks
 * (two different entries at one seq). Input order does not matter; identical copies count once.
 * Each problem names the author and seq where it is; for a gap, the first missing seq. A problem at
 * an entry does not repeat as a broken link at the next one.
 *
 * With `opts.authors`, every entry whose author may not write to the log is reported too
 * (`unknown_author`, see `authorProblem`).
 *
 * Limitation: removing an author's last entries leaves a valid shorter chain; only `opts.heads` (a
 * head known from elsewhere) reveals it.
 */
export function verifyEntries(
  entries: AuditEntry[],
  publicKeyOf: (author: string) => Uint8Array | undefined,
  opts: VerifyOptions = {},
): AuditReport {
  const verify = opts.verify ?? strictEd25519Verify;
  const problems: Problem[] = [];
  const byAuthor = new Map<string, Map<number, Map<string, AuditEntry>>>();
  let count = 0;
  for (const e of entries as unknown[]) {
    const shape = entryProblem(e);
    const r = (isPlainObject(e) ? e : {}) as Partial<AuditEntry>;
    const author = typeof r.author === 'string' ? r.author : '?';
    const seq = Number.isSafeInteger(r.seq) ? (r.seq as number) : -1;
    if (shape !== undefined) {
      problems.push({ author, seq, problem: `malformed: ${shape}` });
      continue;
    }
    const entry = e as AuditEntry;
    let seqs = byAuthor.get(author);
    if (seqs === undefined) byAuthor.set(author, (seqs = new Map()));
    let variants = seqs.get(seq);
    if (variants === undefined) seqs.set(seq, (variants = new Map()));
    const key = canonicalJSON(entry);
    if (!variants.has(key)) {
      variants.set(key, entry);
      count++;
      const who = opts.authors && authorProblem(entry, opts.authors);
      if (who !== undefined) problems.push({ author, seq, problem: who });
    }
  }

  for (const [author, seqs] of byAuthor) {
    const publicKey = publicKeyOf(author);
    const order = [...seqs.keys()].sort((a, b) => a - b);
    if (publicKey === undefined)
      problems.push({ author, seq: order[0] ?? 0, problem: 'unknown author' });
    let expected = 0;
    // Hashes of the authentic entries at seq - 1; undefined when there is nothing to link to.
    let prevHashes: Set<string> | undefined;
    for (const seq of order) {
      if (seq > expected) {
        problems.push({
          author,
          seq: expected,
          problem: `missing entries ${range(expected, seq - 1)}`,
        });
        prevHashes = undefined;
      }
      const variants: Variant[] = [];
      for (const entry of seqs.get(seq)!.values()) {
        let authentic = true;
        if (hashEntry(entry) !== entry.hash) {
          problems.push({ author, seq, problem: 'hash mismatch' });
          authentic = false;
        } else if (publicKey !== undefined && !verifySig(entry, publicKey, verify)) {
          problems.push({ author, seq, problem: 'bad signature' });
          authentic = false;
        }
        variants.push({ entry, authentic });
      }
      const good = variants.filter((x) => x.authentic);
      for (const { entry } of good) {
        if (seq === 0 && entry.prev !== GENESIS_PREV)
          problems.push({ author, seq, problem: 'broken link: seq 0 must have prev 00…00' });
        else if (seq > 0 && prevHashes !== undefined && !prevHashes.has(entry.prev))
          problems.push({
            author,
            seq,
            problem: `broken link: prev ${entry.prev.slice(0, 12)}… is not the hash of entry ${seq - 1}`,
          });
      }
      const hashes = new Set(good.map((x) => x.entry.hash));
      if (hashes.size > 1)
        problems.push({
          author,
          seq,
          problem: `conflicting entries (fork): ${hashes.size} signed versions (${[...hashes]
            .map((h) => `${h.slice(0, 12)}…`)
            .join(', ')})`,
        });
      prevHashes = hashes.size > 0 ? hashes : undefined;
      expected = seq + 1;
    }
  }

  for (const [author, head] of Object.entries(opts.heads ?? {})) {
    const seqs = byAuthor.get(author);
    const last = seqs === undefined ? -1 : Math.max(...seqs.keys());
    if (last < head.seq) {
      problems.push({
        author,
        seq: last + 1,
        problem: `truncated: missing entries ${range(last + 1, head.seq)} (known head is seq ${head.seq})`,
      });
      continue;
    }
    const atHead = [...(seqs!.get(head.seq)?.values() ?? [])];
    if (atHead.length > 0 && !atHead.some((e) => e.hash === head.hash))
      problems.push({
        author,
        seq: head.seq,
        problem: `conflicting entries (fork): the known head is ${head.hash.slice(0, 12)}…`,
      });
  }

  problems.sort((a, b) => (a.author < b.author ? -1 : a.author > b.author ? 1 : a.seq - b.seq));
  return { ok: problems.length === 0, entries: count, authors: byAuthor.size, problems };
}
