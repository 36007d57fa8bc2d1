// What a Nostr event kind is, in words, and what an approver should know before signing one
// (the kinds' meanings are from the NIPs named alongside).

interface KindInfo {
  name: string;
  /** What signing this kind does that an approver might not expect. */
  warning?: string;
}

const KINDS: Record<number, KindInfo> = {
  0: {
    name: 'profile (metadata)',
    warning:
      'This replaces the profile of this key everywhere (name, picture, about, NIP-05 address, lightning address): check every field of the content.',
  },
  1: { name: 'short text note' },
  3: {
    name: 'follow list',
    warning:
      'This replaces the whole follow list of this key: anyone not in its "p" tags is unfollowed.',
  },
  4: {
    name: 'encrypted direct message (NIP-04)',
    warning:
      'This is an encrypted direct message: its content is ciphertext, so you cannot see what it says. NIP-04 also shows everyone who is talking to whom.',
  },
  5: {
    name: 'deletion request',
    warning: 'This asks relays to delete the events its "e" and "a" tags name.',
  },
  6: { name: 'repost' },
  7: { name: 'reaction' },
  8: { name: 'badge award' },
  9: { name: 'chat message' },
  13: {
    name: 'seal (NIP-59)',
    warning:
      'This is a sealed, encrypted event: its content is ciphertext, so you cannot see what it says.',
  },
  16: { name: 'generic repost' },
  40: { name: 'channel creation' },
  41: { name: 'channel metadata' },
  42: { name: 'channel message' },
  1063: { name: 'file metadata' },
  1111: { name: 'comment' },
  1984: { name: 'report' },
  9734: {
    name: 'zap request',
    warning: 'A zap request asks a lightning wallet service to make a payment receipt for a zap.',
  },
  9735: { name: 'zap receipt' },
  10000: { name: 'mute list', warning: 'This replaces the whole mute list of this key.' },
  10002: {
    name: 'relay list',
    warning:
      'This replaces the list of relays where others look for this key’s events and send it messages.',
  },
  22242: {
    name: 'relay authentication (NIP-42)',
    warning:
      'This logs in to the relay named in its "relay" tag as this key: that relay then treats the connection as this key’s.',
  },
  23194: {
    name: 'wallet connect request (NIP-47)',
    warning:
      'This is a command to a lightning wallet (it may pay an invoice): its content is encrypted, so you cannot see which.',
  },
  24133: {
    name: 'Nostr Connect message (NIP-46)',
    warning:
      'A remote-signer message is normally signed with a session key, not with the group’s key.',
  },
  27235: {
    name: 'HTTP authorization (NIP-98)',
    warning:
      'This authorizes the HTTP request in its "u" and "method" tags as this key: the server treats it as a login.',
  },
  30000: { name: 'follow set' },
  30023: { name: 'long-form article' },
  30024: { name: 'draft long-form article' },
  30078: { name: 'application-specific data' },
  31922: { name: 'date-based calendar event' },
  31923: { name: 'time-based calendar event' },
};

/** The kind's common name ("short text note"), or its range ("replaceable event") when unknown. */
export function kindName(kind: number): string {
  const known = KINDS[kind]?.name;
  if (known) return known;
  if (kind >= 10_000 && kind < 20_000) return 'replaceable event';
  if (kind >= 20_000 && kind < 30_000) return 'ephemeral event';
  if (kind >= 30_000 && kind < 40_000) return 'addressable event';
  return 'unknown kind';
}

/** Whether this app knows what the kind means (else the card says so). */
export function isKnownKind(kind: number): boolean {
  return KINDS[kind] !== undefined;
}

/** What signing the kind does that an approver should know, if anything. */
export function kindWarning(kind: number): string | undefined {
  return KINDS[kind]?.warning;
}
