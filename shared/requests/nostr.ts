// 'nostr': the group signs a Nostr event (NIP-01) with BIP340 under its untweaked x-only key, or
// opens a NIP-44 conversation with one peer (threshold ECDH; the key goes to the requester only).
// For an event, every approver's node computes the event id itself from the unsigned event, and
// the card shows the kind in words, all of the content, every tag and the time.
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  eventId,
  parseUnsignedEvent,
  signedEvent,
  verifySignedEvent,
  npubEncode,
  NOSTR_LIMITS,
  xOnlyKey,
  type SignedEvent,
  type UnsignedEvent,
} from '../nostr/event.js';
import { isKnownKind, kindName, kindWarning } from '../nostr/kinds.js';
import { peerPoint } from '../nostr/nip44.js';
import { LIMITS } from '../protocol/wire.js';
import { canonicalJSON } from '../crypto/backup.js';
import { isLowerHex } from '../protocol/fields.js';
import { canonicalObject, fail, int, list, memberName, object, show } from './fields.js';
import type {
  CardField,
  RequestCard,
  Execution,
  KindOutput,
  RequestArtifact,
  RequestContext,
  RequestKindModule,
} from './types.js';

/** For the app's "use this key": the npub of a 32-byte x-only key (hex). */
export { npubEncode };

/** Sign one event. */
export interface NostrEventParams {
  event: UnsignedEvent;
  /** The NIP-01 event id, computed here from the event (hex). */
  id: string;
}

/** Open a NIP-44 conversation: s·P for the peer's key, for the requester's client alone. */
export interface NostrConversationParams {
  conversation: {
    /** The peer's x-only key (hex). */
    peer: string;
  };
}

export type NostrParams = NostrEventParams | NostrConversationParams;

export const isEventParams = (p: NostrParams): p is NostrEventParams => 'event' in p;

/** Policy bounds: the event kinds the group signs (absent: any); nip44 false forbids conversations. */
export interface NostrLimits {
  kinds?: number[];
  nip44?: boolean;
}

/** The request message for an unsigned event: canonical JSON `{"event":{…},"v":1}`. */
export function nostrMessage(event: UnsignedEvent): Uint8Array {
  return utf8ToBytes(canonicalJSON({ v: 1, event }));
}

/** The request message for a NIP-44 conversation: `{"conversation":{"peer":…},"v":1}`. */
export function nostrConversationMessage(peer: string): Uint8Array {
  return utf8ToBytes(canonicalJSON({ v: 1, conversation: { peer } }));
}

/**
 * The group's Nostr key (hex x-only, the untweaked key): a taproot group's internal key, a
 * secp256k1 group's key without its parity byte. From the context's raw group key
 * (`publicKey`, 33 bytes compressed) or a taproot group's `internalKey` (32 bytes), when the node
 * puts them there; a 32-byte taproot `publicKey` is the tweaked output key and is never used.
 */
export function groupNostrKey(ctx: RequestContext): string | undefined {
  const { publicKey, internalKey } = ctx as { publicKey?: unknown; internalKey?: unknown };
  if (ctx.scheme === 'taproot' && isLowerHex(internalKey, 64)) return internalKey;
  if (typeof publicKey === 'string' && /^0[23][0-9a-f]{64}$/.test(publicKey))
    return publicKey.slice(2);
  return undefined;
}

function read(message: Uint8Array): NostrParams {
  if (message.length > LIMITS.message)
    fail('message', `must be at most ${LIMITS.message} bytes, got ${message.length}`);
  const m = canonicalObject(message);
  if (Object.hasOwn(m, 'conversation')) {
    const o = object(m, 'message', ['conversation', 'v']);
    int(o.v, 'v', 1, 1);
    const c = object(o.conversation, 'conversation', ['peer']);
    return { conversation: { peer: xOnlyKey(c.peer, 'conversation.peer') } };
  }
  const o = object(m, 'message', ['event', 'v']);
  int(o.v, 'v', 1, 1);
  const event = parseUnsignedEvent(o.event, 'event');
  return { event, id: bytesToHex(eventId(event)) };
}

function parse(message: Uint8Array, ctx: RequestContext): NostrParams {
  const p = read(message);
  if (!isEventParams(p)) return p;
  const key = groupNostrKey(ctx);
  if (key === undefined)
    fail('event.pubkey', `cannot be checked: this node does not know the key of ${ctx.groupName}`);
  if (p.event.pubkey !== key)
    fail(
      'event.pubkey',
      `must be the key of ${ctx.groupName} (${npubEncode(key)}), got ${show(p.event.pubkey)}`,
    );
  return p;
}

// Shown escaped, so nothing on the card reads differently than what is signed: control
// characters (other than newline and tab), direction overrides and invisible format characters.
const HIDDEN =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb]/g;

function visible(s: string): { text: string; escaped: boolean } {
  let escaped = false;
  const text = s.replace(HIDDEN, (c) => {
    escaped = true;
    return `\\u{${c.codePointAt(0)!.toString(16).padStart(4, '0')}}`;
  });
  return { text, escaped };
}

function when(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${d.toISOString().replace('.000Z', 'Z')} (${seconds})`;
}

function decodeConversation(p: NostrConversationParams, ctx: RequestContext): RequestCard {
  const peer = npubEncode(p.conversation.peer);
  const key = groupNostrKey(ctx);
  const own = key !== undefined ? npubEncode(key) : `the key of ${ctx.groupName}`;
  const who = memberName(ctx, ctx.author);
  const warnings = [
    `${who}'s device gets the NIP-44 conversation key between ${ctx.groupName} and ${peer}: with it, it can read every NIP-44 message between the two, past and future, and write new ones as ${ctx.groupName}, without asking the group again.`,
  ];
  if (key === p.conversation.peer)
    warnings.push(
      `The peer is ${ctx.groupName} itself: this opens what the key encrypts to itself (private lists, drafts, NIP-17 copies of its own messages).`,
    );
  return {
    kind: 'nostr',
    title: `Open a NIP-44 conversation between “${ctx.groupName}” and ${peer.slice(0, 16)}…`,
    summary: `Let ${who} encrypt and decrypt NIP-44 messages between ${ctx.groupName} (${own.slice(0, 16)}…) and ${peer}.`,
    fields: [
      { label: 'With', value: peer },
      { label: 'With (hex)', value: p.conversation.peer, kind: 'hex' },
      { label: 'As', value: own },
      { label: 'Key goes to', value: who },
    ],
    warnings,
  };
}

function decode(p: NostrParams, ctx: RequestContext): RequestCard {
  if (!isEventParams(p)) return decodeConversation(p, ctx);
  const { event } = p;
  const name = kindName(event.kind);
  const content = visible(event.content);
  // One line per tag, each as its JSON; after the tag's own line, unlabelled lines continue it.
  const tags = event.tags.map((t) => visible(JSON.stringify(t)));
  const npub = npubEncode(event.pubkey);
  const n = event.tags.length;
  const fields: CardField[] = [
    { label: 'Event kind', value: `${event.kind} (${name})` },
    {
      label: 'Content',
      value: event.content === '' ? '(empty)' : content.text,
      kind: 'text',
    },
    { label: 'Created at', value: when(event.created_at) },
    { label: 'Signed as', value: npub },
    { label: 'Public key (hex)', value: event.pubkey, kind: 'hex' },
    { label: 'Event id (computed here)', value: p.id, kind: 'hex' },
    ...(n === 0
      ? [{ label: 'Tags (0)', value: '(none)' }]
      : tags.map((t, i) => ({
          label: i === 0 ? `Tags (${n})` : '',
          value: t.text,
          kind: 'text' as const,
        }))),
  ];
  const warnings: string[] = [];
  const known = kindWarning(event.kind);
  if (known) warnings.push(known);
  if (!isKnownKind(event.kind))
    warnings.push(
      `Kind ${event.kind} is not one this app knows (${name}): approve only if you know what it does.`,
    );
  if (content.escaped || tags.some((t) => t.escaped))
    warnings.push(
      'The content or tags hold invisible or control characters, shown here as \\u{…}: they may make the text read differently elsewhere.',
    );
  const key = groupNostrKey(ctx);
  if (key !== undefined && key !== event.pubkey)
    warnings.push(`This event is not for the key of ${ctx.groupName}: it cannot be signed.`);
  return {
    kind: 'nostr',
    title: `Sign a Nostr ${name} as “${ctx.groupName}”`,
    summary: `Sign a Nostr event of kind ${event.kind} (${name}) with the key of ${ctx.groupName}; once signed, anyone can publish it as ${npub.slice(0, 16)}…`,
    fields,
    ...(warnings.length ? { warnings } : {}),
  };
}

function execution(p: NostrParams, ctx: RequestContext): Execution {
  // s·P for the peer's even-Y point: its x coordinate is what NIP-44 derives the key from.
  if (!isEventParams(p)) return { op: 'ecdh', points: [peerPoint(p.conversation.peer)] };
  const message = eventId(p.event);
  // A taproot group's Nostr key is its internal key (BIP340 as is, not the BIP341 output key);
  // a secp256k1 group signs BIP340 instead of its own ECDSA-like FROST signature.
  return {
    op: 'sign',
    parts: [ctx.scheme === 'taproot' ? { message, tweak: false } : { message, bip340: true }],
  };
}

function result(p: NostrParams, output: KindOutput): RequestArtifact {
  if (!isEventParams(p)) {
    if (!('ecdh' in output) || output.ecdh.length !== 1)
      fail('ecdh', 'a NIP-44 conversation takes exactly one shared point');
    // The shared point itself goes to the requester's client beside this (never in a file).
    const peer = npubEncode(p.conversation.peer);
    return {
      name: 'nip44-conversation.txt',
      mediaType: 'text/plain',
      text: `NIP-44 conversation with ${peer} opened for this device's client.`,
      fields: [{ label: 'With', value: peer }],
    };
  }
  if (!('signatures' in output) || output.signatures.length !== 1)
    fail('signatures', 'a Nostr event takes exactly one signature');
  const sig = output.signatures[0]!;
  if (sig.length !== 64) fail('signatures[0]', `must be 64 bytes (BIP340), got ${sig.length}`);
  const signed: SignedEvent = signedEvent(p.event, sig);
  if (!verifySignedEvent(signed))
    fail('signatures[0]', `does not verify under ${signed.pubkey} for event ${signed.id}`);
  return {
    name: `nostr-event-${signed.id.slice(0, 12)}.json`,
    mediaType: 'application/json',
    text: JSON.stringify(signed),
    fields: [
      { label: 'Event id', value: signed.id },
      { label: 'Signed as', value: npubEncode(signed.pubkey) },
    ],
  };
}

const MAX_LIMIT_KINDS = 100;

function validateLimits(v: unknown): NostrLimits {
  const o = object(v, 'limits.nostr', [], ['kinds', 'nip44']);
  const out: NostrLimits = {};
  if (o.nip44 !== undefined) {
    if (typeof o.nip44 !== 'boolean')
      fail('limits.nostr.nip44', `must be true or false, got ${show(o.nip44)}`);
    out.nip44 = o.nip44;
  }
  if (o.kinds === undefined) return out;
  const kinds = list(o.kinds, 'limits.nostr.kinds', MAX_LIMIT_KINDS).map((k, i) =>
    int(k, `limits.nostr.kinds[${i}]`, 0, NOSTR_LIMITS.kind),
  );
  if (new Set(kinds).size !== kinds.length) fail('limits.nostr.kinds', 'lists a kind twice');
  return { ...out, kinds };
}

function kindList(kinds: number[]): string {
  return kinds.map((k) => `${k} (${kindName(k)})`).join(', ');
}

export const nostr: RequestKindModule<NostrParams> = {
  kind: 'nostr',
  parse,
  read,
  decode,
  schemes: ['taproot', 'secp256k1'],
  execution,
  result,
  limits: {
    validate: validateLimits,
    check(p, limits) {
      const { kinds, nip44 } = validateLimits(limits);
      if (!isEventParams(p))
        return nip44 === false
          ? "The group's policy does not allow opening NIP-44 conversations."
          : undefined;
      if (kinds && !kinds.includes(p.event.kind))
        return `The group's policy signs only Nostr events of kind ${kindList(kinds)}; this one is kind ${p.event.kind} (${kindName(p.event.kind)}).`;
      return undefined;
    },
    describe(limits) {
      const { kinds, nip44 } = validateLimits(limits);
      return [
        ...(kinds
          ? [
              kinds.length
                ? `Nostr events may be signed only of kind ${kindList(kinds)}.`
                : 'No Nostr event may be signed.',
            ]
          : []),
        ...(nip44 === false ? ['No NIP-44 conversation may be opened with the Nostr key.'] : []),
      ];
    },
  },
  policy: {
    noun: 'signing Nostr events',
    allowedByDefault: true,
    canBeForbidden: true,
    approvalsConfigurable: true,
    needsReconstructEnabled: false,
    needsOnline: 'approvers',
    exposesKey: false,
  },
};
