// Human-checkable identity: fingerprints of identity keys, the roster hash and its safety code, and
// the invite code that carries what a newcomer needs to join.
import { base32crockford, base64urlnopad } from '@scure/base';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJSON } from '../crypto/backup.js';
import {
  ProtocolError,
  expectObject,
  expectString,
  expectInt,
  expectHex,
  expectScheme,
} from './wire.js';
import type { SchemeName } from '../crypto/suite.js';
import { logSafe } from './text.js';

/** A short fingerprint of an identity public key, for comparing out of band: XXXX-XXXX-XXXX-XXXX-XXXX. */
export function fingerprint(identityKey: Uint8Array): string {
  const s = base32crockford.encode(sha256(identityKey)).slice(0, 20);
  return s.match(/.{4}/g)!.join('-');
}

export interface RosterMember {
  index: number;
  peerId: string;
  name: string;
}

export interface Roster {
  groupId: string;
  name: string;
  threshold: number;
  size: number;
  scheme: SchemeName;
  creator: string;
  members: RosterMember[];
  /** Hex SerializeElement of the group key when the group shares an imported key (no DKG). */
  importedKey?: string;
}

/** sha256 of the canonical roster: group parameters and every member's position, peer id and name. */
export function rosterHash(r: Roster): string {
  const members = [...r.members]
    .sort((a, b) => a.index - b.index)
    .map((m) => ({ index: m.index, peerId: m.peerId, name: m.name }));
  return bytesToHex(
    sha256(
      utf8ToBytes(
        canonicalJSON({
          v: 1,
          groupId: r.groupId,
          name: r.name,
          threshold: r.threshold,
          size: r.size,
          scheme: r.scheme,
          creator: r.creator,
          members,
          // Present only for imported keys, so the safety code also covers which key is shared.
          ...(r.importedKey ? { importedKey: r.importedKey } : {}),
        }),
      ),
    ),
  );
}

/** Six BIP39 words (66 bits) derived from the roster hash, as Signal's safety numbers are. */
export function safetyCode(hashHex: string): string {
  const h = sha256(utf8ToBytes('conclave/safety-code/v1:' + hashHex));
  let bits = 0n;
  for (const b of h.subarray(0, 9)) bits = (bits << 8n) | BigInt(b);
  const words: string[] = [];
  for (let i = 0; i < 6; i++)
    words.push(wordlist[Number((bits >> BigInt(72 - 11 * (i + 1))) & 2047n)]);
  return words.join(' ');
}

/** What an invite code carries. The secret proves to the creator that the joiner got the invite. */
export interface Invite {
  v: 1;
  groupId: string;
  name: string;
  threshold: number;
  size: number;
  scheme: SchemeName;
  creator: string;
  addrs: string[];
  secret: string;
  /** Set when the creator imports an existing key instead of running a DKG. */
  importedKey?: string;
}

const INVITE_PREFIX = 'conclave-invite:';

export function encodeInvite(i: Invite): string {
  return INVITE_PREFIX + base64urlnopad.encode(utf8ToBytes(canonicalJSON(i)));
}

/** Parses an invite code; throws ProtocolError('bad_invite') with what is wrong. */
export function decodeInvite(text: string): Invite {
  // A caller's odd value (an object with its own toString) is a bad invite, not a TypeError.
  const t = typeof text === 'string' ? text.trim() : '';
  if (!t.startsWith(INVITE_PREFIX))
    throw new ProtocolError('bad_invite', 'an invite code starts with "conclave-invite:"');
  let raw: unknown;
  try {
    raw = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(
        base64urlnopad.decode(t.slice(INVITE_PREFIX.length)),
      ),
    );
  } catch {
    throw new ProtocolError('bad_invite', 'the invite code is damaged (copy it again, whole)');
  }
  try {
    const o = expectObject(raw, 'invite', [
      'v',
      'groupId',
      'name',
      'threshold',
      'size',
      'scheme',
      'creator',
      'addrs',
      'secret',
      'importedKey',
    ]);
    if (o.v !== 1)
      throw new ProtocolError('bad_invite', `unsupported invite version ${logSafe(o.v)}`);
    const size = expectInt(o.size, 'size', 2, 50);
    const addrs = o.addrs;
    if (!Array.isArray(addrs) || addrs.length > 32)
      throw new ProtocolError('bad_invite', 'addrs must be a list');
    const invite: Invite = {
      v: 1,
      groupId: expectHex(o.groupId, 'groupId', 32),
      name: expectString(o.name, 'name', 64),
      threshold: expectInt(o.threshold, 'threshold', 2, size),
      size,
      scheme: expectScheme(o.scheme),
      creator: expectString(o.creator, 'creator', 128),
      addrs: addrs.map((a, k) => expectString(a, `addrs[${k}]`, 512)),
      secret: expectHex(o.secret, 'secret', 64),
    };
    if (o.importedKey !== undefined)
      invite.importedKey = expectHex(o.importedKey, 'importedKey', undefined, 66);
    return invite;
  } catch (e) {
    if (e instanceof ProtocolError) throw new ProtocolError('bad_invite', e.message);
    throw e;
  }
}
