// NIP-44 v2's conversation key from a shared point: HKDF-extract(SHA-256, salt "nip44-v2", IKM the
// x coordinate of s·P). The group computes s·P by threshold ECDH; the requester derives the key.
import { extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { fail } from '../requests/fields.js';

const SALT = utf8ToBytes('nip44-v2');

/** The ECDH point for a peer's x-only key: its even-Y lift (02 || x), as the suite encodes it. */
export function peerPoint(peerHex: string): Uint8Array {
  return concatBytes(Uint8Array.of(0x02), hexToBytes(peerHex));
}

/** The NIP-44 v2 conversation key from s·P encoded compressed (33 bytes). */
export function conversationKey(sharedPoint: Uint8Array): Uint8Array {
  if (sharedPoint.length !== 33 || (sharedPoint[0] !== 2 && sharedPoint[0] !== 3))
    fail('ecdh', `must be a 33-byte compressed point, got ${sharedPoint.length} bytes`);
  return extract(sha256, sharedPoint.subarray(1), SALT);
}
