// Nostr events (NIP-01), computed here rather than trusted: the strict schema of an unsigned
// event, its id (sha256 of the NIP-01 serialization), npub (NIP-19) and the BIP340 check of a
// signed one. Pure: the node, the CLI, the bunker and every approver's card share this code.
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { bech32 } from '@scure/base';
import { isLowerHex } from '../protocol/fields.js';
import { fail, show } from '../requests/fields.js';

/** Bounds on an event (the whole request message is also bounded by the wire's LIMITS.message). */
export const NOSTR_LIMITS = {
  /** Content, in UTF-16 units (a long-form article fits; a request message is at most 64 KiB). */
  content: 60_000,
  /** Tags on one event (a follow list of 1000 people fits). */
  tags: 2_000,
  /** Strings in one tag. */
  tagItems: 32,
  /** One tag string, in UTF-16 units. */
  tagItem: 4_096,
  /** Kinds are 16-bit (NIP-01: 0..65535). */
  kind: 65_535,
  /** created_at, in seconds: up to the year 2106 (unsigned 32-bit, as relays store it). */
  createdAt: 0xffff_ffff,
} as const;

/** An event as it is signed: everything but id and sig. */
export interface UnsignedEvent {
  /** Hex x-only public key (32 bytes). */
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
}

/** What a client asks to have signed (NIP-46 sign_event): an event without id and sig. */
export interface EventTemplate {
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
  /** Optional in a template; when given, it must be the signer's key. */
  pubkey?: string;
}

export interface SignedEvent extends UnsignedEvent {
  id: string;
  sig: string;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function string(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string') fail(field, `must be text, got ${show(v)}`);
  if (v.length > max) fail(field, `must be at most ${max} characters, got ${v.length}`);
  // JSON.stringify writes a lone surrogate as an escape; relays and clients disagree on its id.
  if (LONE_SURROGATE.test(v)) fail(field, `is not valid Unicode text: ${show(v)}`);
  return v;
}

function integer(v: unknown, field: string, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    fail(field, `must be an integer, got ${show(v)}`);
  if (v < 0 || v > max) fail(field, `must be from 0 to ${max}, got ${v}`);
  return v;
}

/** Lowercase hex of a 32-byte x-only key that is a point on secp256k1. */
export function xOnlyKey(v: unknown, field: string): string {
  if (!isLowerHex(v, 64))
    fail(field, `must be a 32-byte key as 64 lowercase hex characters, got ${show(v)}`);
  try {
    schnorr.utils.lift_x(BigInt(`0x${v}`));
  } catch {
    fail(field, `is not a public key on secp256k1: ${show(v)}`);
  }
  return v;
}

function tags(v: unknown, field: string): string[][] {
  if (!Array.isArray(v)) fail(field, `must be a list, got ${show(v)}`);
  if (v.length > NOSTR_LIMITS.tags)
    fail(field, `must have at most ${NOSTR_LIMITS.tags} tags, got ${v.length}`);
  return v.map((t: unknown, i) => {
    const f = `${field}[${i}]`;
    if (!Array.isArray(t)) fail(f, `must be a list of text, got ${show(t)}`);
    if (t.length === 0) fail(f, 'must not be empty (a tag has at least its name)');
    if (t.length > NOSTR_LIMITS.tagItems)
      fail(f, `must have at most ${NOSTR_LIMITS.tagItems} items, got ${t.length}`);
    return t.map((s: unknown, j) => string(s, `${f}[${j}]`, NOSTR_LIMITS.tagItem));
  });
}

function fields(
  v: unknown,
  field: string,
  required: readonly string[],
  optional: readonly string[],
): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    fail(field, `must be an object, got ${show(v)}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!required.includes(k) && !optional.includes(k)) fail(field, `has unknown field ${show(k)}`);
  for (const k of required) if (!Object.hasOwn(o, k)) fail(field, `is missing ${show(k)}`);
  return o;
}

function body(o: Record<string, unknown>, field: string): Omit<EventTemplate, 'pubkey'> {
  return {
    created_at: integer(o.created_at, `${field}.created_at`, NOSTR_LIMITS.createdAt),
    kind: integer(o.kind, `${field}.kind`, NOSTR_LIMITS.kind),
    tags: tags(o.tags, `${field}.tags`),
    content: string(o.content, `${field}.content`, NOSTR_LIMITS.content),
  };
}

/** Exactly an unsigned event: pubkey, created_at, kind, tags, content and nothing else. */
export function parseUnsignedEvent(v: unknown, field = 'event'): UnsignedEvent {
  const o = fields(v, field, ['content', 'created_at', 'kind', 'pubkey', 'tags'], []);
  return { pubkey: xOnlyKey(o.pubkey, `${field}.pubkey`), ...body(o, field) };
}

/**
 * What a client asks to have signed: created_at, kind, tags and content; a pubkey may come along
 * (checked by the caller against the signer's key). An id or sig in it is refused: the id is
 * computed here, never taken.
 */
export function parseEventTemplate(v: unknown, field = 'event'): EventTemplate {
  const o = fields(v, field, ['content', 'created_at', 'kind', 'tags'], ['pubkey']);
  const t = body(o, field);
  return o.pubkey === undefined ? t : { ...t, pubkey: xOnlyKey(o.pubkey, `${field}.pubkey`) };
}

/** The NIP-01 serialization whose sha256 is the event id: [0,pubkey,created_at,kind,tags,content]. */
export function serializeEvent(e: UnsignedEvent): string {
  return JSON.stringify([0, e.pubkey, e.created_at, e.kind, e.tags, e.content]);
}

/** The event id: sha256 of the UTF-8 NIP-01 serialization (32 bytes). */
export function eventId(e: UnsignedEvent): Uint8Array {
  return sha256(utf8ToBytes(serializeEvent(e)));
}

/** Whether a signed event's id is its own and its sig a BIP340 signature of that id by pubkey. */
export function verifySignedEvent(e: SignedEvent): boolean {
  try {
    const id = bytesToHex(eventId(e));
    if (e.id !== id || !isLowerHex(e.sig, 128)) return false;
    return schnorr.verify(hexToBytes(e.sig), hexToBytes(id), hexToBytes(e.pubkey));
  } catch {
    return false;
  }
}

/** The signed event, with its fields in the order clients write them. */
export function signedEvent(e: UnsignedEvent, sig: Uint8Array): SignedEvent {
  return {
    id: bytesToHex(eventId(e)),
    pubkey: e.pubkey,
    created_at: e.created_at,
    kind: e.kind,
    tags: e.tags,
    content: e.content,
    sig: bytesToHex(sig),
  };
}

/** NIP-19 npub of an x-only key given in hex. */
export function npubEncode(pubkeyHex: string): string {
  return bech32.encode('npub', bech32.toWords(hexToBytes(pubkeyHex)), 1000);
}

/** The hex x-only key of an npub (or of 64 hex characters); throws RequestParamError. */
export function npubDecode(v: string, field = 'pubkey'): string {
  if (isLowerHex(v, 64)) return xOnlyKey(v, field);
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32.decode(v as `${string}1${string}`, 1000);
  } catch {
    return fail(field, `is not an npub or a hex key: ${show(v)}`);
  }
  if (decoded.prefix !== 'npub') fail(field, `must be an npub, got ${show(decoded.prefix)}`);
  const bytes = bech32.fromWords(decoded.words);
  if (bytes.length !== 32) fail(field, `must hold 32 bytes, got ${bytes.length}`);
  return xOnlyKey(bytesToHex(bytes), field);
}
