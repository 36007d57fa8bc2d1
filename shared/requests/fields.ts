// Strict field checks for request parameters: each failure is a RequestParamError naming the field
// and quoting the offending value (truncated), so a refused request says exactly what was wrong.
import { ed25519 } from '@noble/curves/ed25519.js';
import { base58 } from '@scure/base';
import { canonicalJSON } from '../crypto/backup.js';
import { isLowerHex } from '../protocol/fields.js';
import { fingerprint } from '../protocol/roster.js';
import { RequestParamError, type ContextMember, type RequestContext } from './types.js';

/** The largest group (same bound as the API's and the roster's). */
export const MAX_GROUP_SIZE = 50;
/** The smallest group and threshold the app creates. */
export const MIN_GROUP_SIZE = 2;
/** Names on the wire (members, newcomers), in UTF-16 units as decodeRoster counts them. */
export const MAX_NAME_CHARS = 64;
/** A reconstruction's purpose, in characters (the API's reason bound). */
export const MAX_PURPOSE_CHARS = 500;
/** Addresses a newcomer brings, and the length of each (the wire's bounds). */
export const MAX_ADDRS = 32;
export const MAX_ADDR_CHARS = 512;

export function fail(field: string, message: string): never {
  throw new RequestParamError('bad_params', field, `${field}: ${message}`);
}

/** The offending value in a message: short, and inert (JSON-quoted, so controls show escaped). */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') {
    const q = JSON.stringify(v);
    return q.length > 42 ? `${q.slice(0, 40)}…"` : q;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  return 'an object';
}

/** Bytes as text, for the message of a request whose parameters are JSON. */
export function utf8(message: Uint8Array, field = 'message'): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(message);
  } catch {
    return fail(field, `is not UTF-8 text (${message.length} bytes)`);
  }
}

/**
 * The message as JSON that is exactly its canonical form (sorted keys, no spaces, no escapes that
 * need not be there), so one set of parameters has one encoding and one request id.
 */
export function canonicalObject(message: Uint8Array): Record<string, unknown> {
  const text = utf8(message);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return fail('message', `is not JSON: ${show(text)}`);
  }
  let canonical: string;
  try {
    canonical = canonicalJSON(v);
  } catch (e) {
    return fail('message', `is not canonical JSON (${(e as Error).message})`);
  }
  if (canonical !== text) fail('message', `is not canonical JSON: ${show(text)}`);
  return object(v, 'message');
}

/** An object with exactly these required fields and no others than the optional ones. */
export function object(
  v: unknown,
  field: string,
  required?: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    fail(field, `must be an object, got ${show(v)}`);
  const o = v as Record<string, unknown>;
  if (required) {
    for (const k of Object.keys(o))
      if (!required.includes(k) && !optional.includes(k))
        fail(field, `has unknown field ${show(k)}`);
    for (const k of required) if (!Object.hasOwn(o, k)) fail(field, `is missing ${show(k)}`);
  }
  return o;
}

export function literal<T extends string>(v: unknown, field: string, want: T): T {
  if (v !== want) fail(field, `must be ${show(want)}, got ${show(v)}`);
  return want;
}

export function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    fail(field, `must be one of ${allowed.map((a) => show(a)).join(', ')}, got ${show(v)}`);
  return v as T;
}

export function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    fail(field, `must be an integer, got ${show(v)}`);
  if (v < min || v > max) fail(field, `must be from ${min} to ${max}, got ${v}`);
  return v;
}

/** An epoch: a safe non-negative integer. */
export function epoch(v: unknown, field: string): number {
  return int(v, field, 0, Number.MAX_SAFE_INTEGER);
}

/** Lowercase hex of exactly `bytes` bytes. */
export function hex(v: unknown, field: string, bytes: number): string {
  if (!isLowerHex(v, 2 * bytes))
    fail(field, `must be ${bytes} bytes as ${2 * bytes} lowercase hex characters, got ${show(v)}`);
  return v;
}

export function list(v: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(v)) fail(field, `must be a list, got ${show(v)}`);
  if (v.length > max) fail(field, `must have at most ${max} items, got ${v.length}`);
  return v;
}

// Control characters and direction overrides make a name display as something else.
// eslint-disable-next-line no-control-regex
const DECEPTIVE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Text shown to people: 1..max characters (code points, and at most `maxUnits` UTF-16 units),
 * no surrounding spaces, no control or direction-changing characters, valid Unicode.
 */
export function text(v: unknown, field: string, max: number, maxUnits = Infinity): string {
  if (typeof v !== 'string') fail(field, `must be text, got ${show(v)}`);
  if (v.length === 0 || v.trim() === '') fail(field, 'must not be empty');
  if (v !== v.trim()) fail(field, `must not start or end with spaces, got ${show(v)}`);
  if (LONE_SURROGATE.test(v)) fail(field, `is not valid Unicode text: ${show(v)}`);
  if (DECEPTIVE.test(v))
    fail(field, `must not contain control or direction-changing characters: ${show(v)}`);
  const n = codePoints(v);
  if (n > max || v.length > maxUnits) fail(field, `must be at most ${max} characters, got ${n}`);
  return v;
}

/** A person's name as the wire carries it. */
export function name(v: unknown, field: string): string {
  return text(v, field, MAX_NAME_CHARS, MAX_NAME_CHARS);
}

/** Addresses a newcomer can be reached at (multiaddrs; dialled, never shown as trusted). */
export function addrs(v: unknown, field: string): string[] {
  return list(v, field, MAX_ADDRS).map((a, i) => {
    const f = `${field}[${i}]`;
    if (typeof a !== 'string' || a.length === 0 || a.length > MAX_ADDR_CHARS)
      fail(f, `must be an address of 1..${MAX_ADDR_CHARS} characters, got ${show(a)}`);
    if (DECEPTIVE.test(a) || LONE_SURROGATE.test(a) || a !== a.trim())
      fail(f, `is not an address: ${show(a)}`);
    return a;
  });
}

// The bytes of an Ed25519 libp2p peer id: identity multihash (0x00, 36 bytes) of the protobuf
// PublicKey { Type = Ed25519 (1), Data = 32 bytes }.
const ED25519_PEER_PREFIX = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/**
 * The raw Ed25519 public key in a libp2p peer id (`12D3KooW…`), or undefined when the text is not
 * exactly such a peer id (base58btc, identity multihash, a key that is a point on the curve).
 */
export function peerIdKey(peerId: string): Uint8Array | undefined {
  if (peerId.length < 46 || peerId.length > 60) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(peerId);
  } catch {
    return undefined;
  }
  if (bytes.length !== 38 || ED25519_PEER_PREFIX.some((b, i) => bytes[i] !== b)) return undefined;
  if (base58.encode(bytes) !== peerId) return undefined;
  const key = bytes.slice(6);
  try {
    ed25519.Point.fromBytes(key);
  } catch {
    return undefined;
  }
  return key;
}

export function peerId(v: unknown, field: string): string {
  if (typeof v !== 'string' || peerIdKey(v) === undefined)
    fail(field, `must be an Ed25519 peer id (12D3KooW…), got ${show(v)}`);
  return v;
}

/** The fingerprint people compare out of band, computed from the peer id itself (never taken). */
export function fingerprintOf(peer: string): string {
  const key = peerIdKey(peer);
  return key ? fingerprint(key) : 'not a valid peer id';
}

export function memberOf(
  ctx: { members: ContextMember[] },
  peer: string,
): ContextMember | undefined {
  return ctx.members.find((m) => m.peerId === peer);
}

/** The group id the parameters name must be the request's own group. */
export function sameGroup(v: unknown, ctx: RequestContext): string {
  if (v !== ctx.groupId)
    fail('group', `must be this request's group ${ctx.groupId}, got ${show(v)}`);
  return v;
}

/** A member as a card names them: their name here, else a short peer id (never a name from the message). */
export function memberName(ctx: { members: ContextMember[] }, peer: string): string {
  return memberOf(ctx, peer)?.name ?? (peer.length > 12 ? `…${peer.slice(-8)}` : peer);
}
