// Test fixtures for request kinds: real Ed25519 peer ids, a group context, and the exact messages
// the node's createXRequest methods write (canonical JSON of their parameters).
import { ed25519 } from '@noble/curves/ed25519.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import { defaultPolicy, policyHash } from '../../shared/policy/policy.js';
import type { RequestBody } from '../../shared/protocol/wire.js';
import type { GroupContext, RequestContext } from '../../shared/requests/index.js';

/** A peer id (`12D3KooW…`) for a fixed seed: the identity multihash of the Ed25519 key. */
export function peer(seed: number): string {
  const pub = ed25519.getPublicKey(new Uint8Array(32).fill(seed));
  return base58.encode(Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...pub]));
}

/** Peer id form, but its 32 bytes are not a point on the curve (so not an Ed25519 key). */
export function offCurvePeer(): string {
  for (let i = 0; ; i++) {
    const key = new Uint8Array(32).fill(i);
    try {
      ed25519.Point.fromBytes(key);
    } catch {
      return base58.encode(Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...key]));
    }
  }
}

export const ALICE = peer(1);
export const BOB = peer(2);
export const CAROL = peer(3);
export const DAVE = peer(4); // a newcomer
export const ERIN = peer(5); // another newcomer
export const MALLORY = peer(9); // not in the group

export const GROUP = 'ab'.repeat(16);
export const OTHER_GROUP = 'cd'.repeat(16);

export function group(over: Partial<GroupContext> = {}): GroupContext {
  return {
    groupId: GROUP,
    groupName: 'Treasury',
    scheme: 'secp256k1',
    threshold: 2,
    size: 3,
    epoch: 4,
    members: [
      { peerId: ALICE, name: 'Alice', index: 1 },
      { peerId: BOB, name: 'Bob', index: 2 },
      { peerId: CAROL, name: 'Carol', index: 3 },
    ],
    policy: defaultPolicy(),
    me: BOB,
    ...over,
  };
}

export function ctx(over: Partial<RequestContext> = {}): RequestContext {
  return { ...group(), author: ALICE, policyHash: policyHash(defaultPolicy()), ...over };
}

/** The canonical JSON bytes of parameters, as the node writes them (undefined fields left out). */
export const json = (v: unknown): Uint8Array =>
  utf8ToBytes(canonicalJSON(JSON.parse(JSON.stringify(v)) as unknown));
/** Bytes of a text exactly as written (for non-canonical and non-JSON cases). */
export const raw = (s: string): Uint8Array => utf8ToBytes(s);

export const refreshParams = (over: Record<string, unknown> = {}) => ({
  ceremony: 'refresh',
  group: GROUP,
  fromEpoch: 4,
  ...over,
});

export const newcomer = (peerId = DAVE, name = 'Dave') => ({
  peerId,
  name,
  addrs: ['/ip4/127.0.0.1/tcp/4001'],
});

export const reshareParams = (over: Record<string, unknown> = {}) => ({
  ceremony: 'reshare',
  group: GROUP,
  fromEpoch: 4,
  threshold: 2,
  size: 3,
  add: [newcomer()],
  remove: [CAROL],
  ...over,
});

export const repairParams = (over: Record<string, unknown> = {}) => ({
  ceremony: 'repair',
  group: GROUP,
  fromEpoch: 4,
  lost: CAROL,
  newcomer: newcomer(),
  ...over,
});

export const reconstructParams = (over: Record<string, unknown> = {}) => ({
  ceremony: 'reconstruct',
  group: GROUP,
  fromEpoch: 4,
  purpose: 'migrate to the new wallet',
  operation: 'ecdsa-sign',
  requester: ALICE,
  oneTimeKey: '11'.repeat(32),
  digest: '22'.repeat(32),
  ...over,
});

export const policyParams = (over: Record<string, unknown> = {}) => ({
  v: 1,
  from: policyHash(defaultPolicy()),
  policy: { ...defaultPolicy(), defaultExpirySec: 3600 },
  ...over,
});

export const NOW = 1_800_000_000_000;

export function body(over: Partial<RequestBody> = {}): RequestBody {
  return {
    v: 1,
    type: 'request',
    groupId: GROUP,
    kind: 'refresh',
    message: Buffer.from(json(refreshParams())).toString('hex'),
    createdBy: ALICE,
    createdAt: NOW,
    expiresAt: NOW + 3600_000,
    nonce: '00'.repeat(16),
    policy: policyHash(defaultPolicy()),
    ...over,
  };
}
