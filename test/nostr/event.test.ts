// The NIP-01 event schema, id and npub computed in shared/nostr, checked against nostr-tools.
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { finalizeEvent, getEventHash, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { npubEncode as toolsNpub } from 'nostr-tools/nip19';
import { describe, expect, it } from 'vitest';
import {
  eventId,
  npubDecode,
  npubEncode,
  parseEventTemplate,
  parseUnsignedEvent,
  serializeEvent,
  signedEvent,
  verifySignedEvent,
  NOSTR_LIMITS,
} from '../../shared/nostr/event.js';
import { isKnownKind, kindName, kindWarning } from '../../shared/nostr/kinds.js';
import { RequestParamError } from '../../shared/requests/types.js';

const SK = hexToBytes('11'.repeat(32));
const PK = getPublicKey(SK);

const event = (over: Record<string, unknown> = {}) => ({
  pubkey: PK,
  created_at: 1_700_000_000,
  kind: 1,
  tags: [
    ['e', 'ab'.repeat(32), 'wss://relay.example', 'root'],
    ['p', PK],
  ],
  content: 'gm ☀️ "quotes" \\ back\nslash\ttab \u0001 and 🦩',
  ...over,
});

function refused(f: () => unknown, field: string): RequestParamError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RequestParamError);
    expect((e as RequestParamError).field).toBe(field);
    return e as RequestParamError;
  }
  throw new Error(`not refused (${field})`);
}

describe('nostr events', () => {
  it('computes the NIP-01 id exactly as nostr-tools does, escapes included', () => {
    const e = parseUnsignedEvent(event());
    expect(bytesToHex(eventId(e))).toBe(getEventHash(e));
    expect(serializeEvent(e)).toBe(JSON.stringify([0, PK, e.created_at, 1, e.tags, e.content]));
    const empty = parseUnsignedEvent(event({ tags: [], content: '' }));
    expect(bytesToHex(eventId(empty))).toBe(getEventHash(empty));
  });

  it('builds a signed event that nostr-tools verifyEvent accepts, and refuses a wrong one', () => {
    const e = parseUnsignedEvent(event());
    const signed = signedEvent(e, schnorr.sign(eventId(e), SK));
    expect(verifySignedEvent(signed)).toBe(true);
    expect(verifyEvent({ ...signed })).toBe(true);
    // Same id as nostr-tools' own signing (BIP340 with aux randomness: the sigs differ).
    expect(signed.id).toBe(finalizeEvent({ ...event(), pubkey: undefined } as never, SK).id);
    expect(verifySignedEvent({ ...signed, content: 'other' })).toBe(false);
    expect(verifySignedEvent({ ...signed, sig: '00'.repeat(64) })).toBe(false);
  });

  it('takes exactly the unsigned event fields, bounded', () => {
    refused(() => parseUnsignedEvent(event({ id: 'ab'.repeat(32) })), 'event');
    refused(() => parseUnsignedEvent({ ...event(), pubkey: undefined }), 'event.pubkey');
    refused(() => parseUnsignedEvent(event({ pubkey: PK.toUpperCase() })), 'event.pubkey');
    refused(() => parseUnsignedEvent(event({ pubkey: 'ff'.repeat(32) })), 'event.pubkey');
    refused(() => parseUnsignedEvent(event({ kind: -1 })), 'event.kind');
    refused(() => parseUnsignedEvent(event({ kind: 65536 })), 'event.kind');
    refused(() => parseUnsignedEvent(event({ kind: 1.5 })), 'event.kind');
    refused(() => parseUnsignedEvent(event({ created_at: '1700000000' })), 'event.created_at');
    refused(() => parseUnsignedEvent(event({ created_at: 2 ** 32 })), 'event.created_at');
    refused(() => parseUnsignedEvent(event({ content: 5 })), 'event.content');
    refused(
      () => parseUnsignedEvent(event({ content: 'x'.repeat(NOSTR_LIMITS.content + 1) })),
      'event.content',
    );
    refused(() => parseUnsignedEvent(event({ content: 'a\ud800b' })), 'event.content');
    refused(() => parseUnsignedEvent(event({ tags: {} })), 'event.tags');
    refused(() => parseUnsignedEvent(event({ tags: [[]] })), 'event.tags[0]');
    refused(() => parseUnsignedEvent(event({ tags: [['p', 1]] })), 'event.tags[0][1]');
    refused(
      () => parseUnsignedEvent(event({ tags: Array.from({ length: 2001 }, () => ['t']) })),
      'event.tags',
    );
    refused(() => parseUnsignedEvent(null), 'event');
  });

  it('takes a template without pubkey, or with one, and never an id or sig', () => {
    const { pubkey: _, ...template } = event();
    expect(parseEventTemplate(template)).toEqual(template);
    expect(parseEventTemplate(event()).pubkey).toBe(PK);
    refused(() => parseEventTemplate({ ...template, sig: '00' }), 'event');
    refused(() => parseEventTemplate({ ...template, pubkey: 'zz' }), 'event.pubkey');
  });

  it('encodes and decodes npub as NIP-19', () => {
    expect(npubEncode(PK)).toBe(toolsNpub(PK));
    expect(npubDecode(npubEncode(PK))).toBe(PK);
    expect(npubDecode(PK)).toBe(PK);
    refused(() => npubDecode('nsec1qqqq'), 'pubkey');
    refused(() => npubDecode('not a key'), 'pubkey');
  });

  it('names the common kinds and warns where signing does more than it seems', () => {
    expect(kindName(1)).toBe('short text note');
    expect(kindName(0)).toMatch(/profile/);
    expect(kindName(3)).toBe('follow list');
    expect(kindName(7)).toBe('reaction');
    expect(kindName(4)).toMatch(/direct message/);
    expect(kindWarning(4)).toMatch(/ciphertext/);
    expect(kindWarning(1)).toBeUndefined();
    expect(kindName(10_123)).toBe('replaceable event');
    expect(kindName(20_001)).toBe('ephemeral event');
    expect(kindName(30_999)).toBe('addressable event');
    expect(kindName(4242)).toBe('unknown kind');
    expect(isKnownKind(4242)).toBe(false);
  });
});
