// The 'nostr' request kind: its message schema, the card an approver sees, what the group signs
// (BIP340 under the untweaked key) and the signed event nostr-tools accepts.
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { getEventHash, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { describe, expect, it } from 'vitest';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import { npubEncode, type UnsignedEvent } from '../../shared/nostr/event.js';
import {
  nostr,
  nostrConversationMessage,
  nostrMessage,
  type NostrEventParams,
} from '../../shared/requests/nostr.js';
import { RequestParamError, type RequestContext } from '../../shared/requests/types.js';
import { ctx } from './fixtures.js';

const SK = hexToBytes('22'.repeat(32));
const PK = getPublicKey(SK);
const COMPRESSED = bytesToHex(secp256k1.getPublicKey(SK, true));

/** A context whose group key is PK: a taproot group's internal key, or a secp256k1 group's key. */
function nctx(scheme: 'taproot' | 'secp256k1' = 'taproot'): RequestContext {
  const c = { ...ctx({ scheme }), publicKey: COMPRESSED };
  return c;
}

const event = (over: Partial<UnsignedEvent> = {}): UnsignedEvent => ({
  pubkey: PK,
  created_at: 1_700_000_000,
  kind: 1,
  tags: [['t', 'conclave']],
  content: 'Hello from a threshold key.\nSecond line.',
  ...over,
});

const parseEvent = (m: Uint8Array, c: RequestContext) => nostr.parse(m, c) as NostrEventParams;

function refused(f: () => unknown, field: string, text?: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RequestParamError);
    expect((e as RequestParamError).field).toBe(field);
    if (text) expect((e as Error).message).toMatch(text);
    return;
  }
  throw new Error(`not refused (${field})`);
}

describe("the 'nostr' request kind", () => {
  it('parses its canonical message and computes the event id itself', () => {
    for (const scheme of ['taproot', 'secp256k1'] as const) {
      const p = parseEvent(nostrMessage(event()), nctx(scheme));
      expect(p.event).toEqual(event());
      expect(p.id).toBe(getEventHash(event()));
    }
  });

  it("refuses an event whose pubkey is not the group's", () => {
    const other = getPublicKey(hexToBytes('33'.repeat(32)));
    refused(
      () => nostr.parse(nostrMessage(event({ pubkey: other })), nctx()),
      'event.pubkey',
      /must be the key of Treasury \(npub1/,
    );
    // The card of such a request (read shows it) says it cannot be signed.
    const card = nostr.decode(nostr.read(nostrMessage(event({ pubkey: other })), nctx()), nctx());
    expect(card.warnings?.join(' ')).toMatch(/not for the key of Treasury/);
    // A node that does not know the group key cannot check it: refused too.
    refused(() => nostr.parse(nostrMessage(event()), ctx({ scheme: 'taproot' })), 'event.pubkey');
    // A taproot group's internal key is its Nostr key; a 32-byte publicKey (the tweaked output
    // key, as the group view shows it) is never taken for it.
    const internal = { ...ctx({ scheme: 'taproot' }), internalKey: PK, publicKey: other };
    expect(parseEvent(nostrMessage(event()), internal).event.pubkey).toBe(PK);
    const output = { ...ctx({ scheme: 'taproot' }), publicKey: PK };
    refused(() => nostr.parse(nostrMessage(event()), output), 'event.pubkey');
  });

  it('refuses malformed messages with a clear error', () => {
    const c = nctx();
    const bad = (v: unknown) => utf8ToBytes(canonicalJSON(v));
    refused(() => nostr.parse(utf8ToBytes('not json'), c), 'message', /not JSON/);
    refused(() => nostr.parse(new Uint8Array([0xff, 0xfe]), c), 'message', /UTF-8/);
    // Not canonical (spaces, key order): one event has one encoding and one request id.
    refused(
      () => nostr.parse(utf8ToBytes(JSON.stringify({ v: 1, event: event() }, null, 1)), c),
      'message',
      /canonical/,
    );
    refused(() => nostr.parse(bad({ v: 2, event: event() }), c), 'v');
    refused(() => nostr.parse(bad({ v: 1 }), c), 'message', /missing "event"/);
    refused(() => nostr.parse(bad({ v: 1, event: event(), extra: 1 }), c), 'message');
    refused(
      () => nostr.parse(bad({ v: 1, event: { ...event(), id: 'ab'.repeat(32) } }), c),
      'event',
      /unknown field "id"/,
    );
    refused(() => nostr.parse(bad({ v: 1, event: event({ kind: 70000 }) }), c), 'event.kind');
    refused(
      () => nostr.parse(new Uint8Array(64 * 1024 + 1).fill(0x20), c),
      'message',
      /at most 65536 bytes/,
    );
  });

  it('shows the kind in words, all of the content, every tag and the time', () => {
    const long = 'x'.repeat(5000) + ' the end';
    const c = nctx();
    const card = nostr.decode(nostr.parse(nostrMessage(event({ content: long })), c), c);
    const field = (l: RegExp) => card.fields.find((f) => l.test(f.label))?.value;
    expect(card.title).toBe('Sign a Nostr short text note as “Treasury”');
    expect(field(/^Event kind/)).toBe('1 (short text note)');
    expect(field(/^Content/)).toBe(long);
    expect(field(/^Tags \(1\)/)).toBe('["t","conclave"]');
    expect(field(/^Created at/)).toBe('2023-11-14T22:13:20Z (1700000000)');
    expect(field(/^Signed as/)).toBe(npubEncode(PK));
    expect(field(/^Event id/)).toBe(getEventHash(event({ content: long })));
    expect(card.warnings).toBeUndefined();
    // Several tags: one line each, in order, the first under the label and the rest continuing it.
    const tags = [
      ['p', PK, 'wss://relay.example'],
      ['e', 'ab'.repeat(32)],
      ['t', 'x'],
    ];
    const many = nostr.decode(nostr.parse(nostrMessage(event({ tags })), c), c);
    const at = many.fields.findIndex((f) => f.label === 'Tags (3)');
    expect(many.fields.slice(at).map((f) => [f.label, f.value])).toEqual([
      ['Tags (3)', JSON.stringify(tags[0])],
      ['', JSON.stringify(tags[1])],
      ['', JSON.stringify(tags[2])],
    ]);
    const none = nostr.decode(nostr.parse(nostrMessage(event({ tags: [] })), c), c);
    expect(none.fields.find((f) => f.label === 'Tags (0)')?.value).toBe('(none)');
  });

  it('warns about kinds that do more than post, unknown kinds and hidden characters', () => {
    const c = nctx();
    const warn = (e: UnsignedEvent) =>
      (nostr.decode(nostr.parse(nostrMessage(e), c), c).warnings ?? []).join(' ');
    expect(warn(event({ kind: 4, content: 'c2VjcmV0?iv=abc' }))).toMatch(/cannot see what it says/);
    expect(warn(event({ kind: 0, content: '{"name":"x"}' }))).toMatch(/replaces the profile/);
    expect(warn(event({ kind: 3, tags: [] }))).toMatch(/unfollowed/);
    expect(warn(event({ kind: 27235 }))).toMatch(/HTTP request/);
    expect(warn(event({ kind: 4242 }))).toMatch(/not one this app knows/);
    const hidden = event({ content: 'pay \u202ebob\u202c now', tags: [['x', 'a\u200bb']] });
    expect(warn(hidden)).toMatch(/invisible or control characters/);
    const card = nostr.decode(nostr.parse(nostrMessage(hidden), c), c);
    expect(card.fields.find((f) => f.label === 'Content')?.value).toBe(
      'pay \\u{202e}bob\\u{202c} now',
    );
    expect(card.fields.find((f) => f.label.startsWith('Tags'))?.value).toBe('["x","a\\u{200b}b"]');
    expect(
      nostr.decode(nostr.parse(nostrMessage(event({ kind: 0, content: '' })), c), c).fields[1]
        ?.value,
    ).toBe('(empty)');
  });

  it('signs the 32-byte id: untweaked on taproot groups, BIP340 on secp256k1 groups', () => {
    const id = hexToBytes(getEventHash(event()));
    const tr = nostr.execution!(nostr.parse(nostrMessage(event()), nctx('taproot')), nctx());
    expect(tr).toEqual({ op: 'sign', parts: [{ message: id, tweak: false }] });
    const k1 = nctx('secp256k1');
    expect(nostr.execution!(nostr.parse(nostrMessage(event()), k1), k1)).toEqual({
      op: 'sign',
      parts: [{ message: id, bip340: true }],
    });
    expect(nostr.schemes).toEqual(['taproot', 'secp256k1']);
  });

  it('returns the signed event, which nostr-tools verifyEvent accepts', () => {
    const c = nctx();
    const p = parseEvent(nostrMessage(event()), c);
    const sig = schnorr.sign(hexToBytes(p.id), SK);
    const artifact = nostr.result!(p, { signatures: [sig] }, c);
    expect(artifact.mediaType).toBe('application/json');
    const signed = JSON.parse(artifact.text!) as Record<string, unknown>;
    expect(signed).toEqual({ ...event(), id: p.id, sig: bytesToHex(sig) });
    expect(verifyEvent(signed as never)).toBe(true);
    // A signature that does not verify is never handed out as a signed event.
    const wrong = schnorr.sign(hexToBytes(p.id), hexToBytes('44'.repeat(32)));
    refused(() => nostr.result!(p, { signatures: [wrong] }, c), 'signatures[0]', /does not verify/);
    refused(() => nostr.result!(p, { signatures: [] }, c), 'signatures');
    refused(() => nostr.result!(p, { ecdh: [sig] }, c), 'signatures');
  });

  it('policy limits bound the event kinds', () => {
    const limits = nostr.limits!;
    const c = nctx();
    const p = nostr.parse(nostrMessage(event({ kind: 0, content: '{}' })), c);
    expect(limits.validate({ kinds: [1, 7] })).toEqual({ kinds: [1, 7] });
    expect(limits.check(p, { kinds: [1, 7] }, c)).toMatch(
      /only Nostr events of kind 1 \(short text note\), 7 \(reaction\); this one is kind 0/,
    );
    expect(limits.check(p, { kinds: [0] }, c)).toBeUndefined();
    expect(limits.check(p, {}, c)).toBeUndefined();
    expect(limits.describe({ kinds: [1] })).toEqual([
      'Nostr events may be signed only of kind 1 (short text note).',
    ]);
    refused(() => limits.validate({ kinds: [1, 1] }), 'limits.nostr.kinds');
    refused(() => limits.validate({ kinds: [-1] }), 'limits.nostr.kinds[0]');
    refused(() => limits.validate({ maxAmount: 1 }), 'limits.nostr');
  });

  it('opens a NIP-44 conversation: threshold ECDH with the peer, the card says who gets the key', () => {
    const c = nctx();
    const peer = getPublicKey(hexToBytes('66'.repeat(32)));
    const p = nostr.parse(nostrConversationMessage(peer), c);
    expect(p).toEqual({ conversation: { peer } });
    expect(nostr.execution!(p, c)).toEqual({
      op: 'ecdh',
      points: [hexToBytes(`02${peer}`)],
    });
    const card = nostr.decode(p, c);
    expect(card.title).toMatch(/^Open a NIP-44 conversation between “Treasury” and npub1/);
    expect(card.fields.find((f) => f.label === 'With')?.value).toBe(npubEncode(peer));
    expect(card.fields.find((f) => f.label === 'Key goes to')?.value).toBe('Alice');
    expect(card.warnings?.[0]).toMatch(
      /read every NIP-44 message between the two, past and future/,
    );
    // The product names the peer and never holds the shared point.
    const shared = secp256k1.Point.fromBytes(hexToBytes(`02${peer}`))
      .multiply(7n)
      .toBytes(true);
    const artifact = nostr.result!(p, { ecdh: [shared] }, c);
    expect(artifact.text).toContain(npubEncode(peer));
    expect(JSON.stringify(artifact)).not.toContain(bytesToHex(shared).slice(2));
    refused(() => nostr.result!(p, { signatures: [new Uint8Array(64)] }, c), 'ecdh');
    // A peer that is not a key, or more than the peer, is refused.
    const bad = (v: unknown) => utf8ToBytes(canonicalJSON(v));
    refused(
      () => nostr.parse(bad({ v: 1, conversation: { peer: 'ff'.repeat(32) } }), c),
      'conversation.peer',
    );
    refused(
      () => nostr.parse(bad({ v: 1, conversation: { peer, plaintext: 'x' } }), c),
      'conversation',
    );
    refused(() => nostr.parse(bad({ v: 1, conversation: { peer }, event: event() }), c), 'message');
    // A policy may forbid conversations while events are still signed.
    expect(nostr.limits!.check(p, { nip44: false }, c)).toMatch(/does not allow opening NIP-44/);
    expect(nostr.limits!.check(p, { kinds: [1] }, c)).toBeUndefined();
    expect(nostr.limits!.describe({ nip44: false })).toEqual([
      'No NIP-44 conversation may be opened with the Nostr key.',
    ]);
  });
});
