// NIP-44 v2's conversation key from a shared point, as the group's threshold ECDH gives it,
// is the one nostr-tools derives from a secret key.
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { decrypt, encrypt, getConversationKey } from 'nostr-tools/nip44';
import { getPublicKey } from 'nostr-tools/pure';
import { describe, expect, it } from 'vitest';
import { conversationKey, peerPoint } from '../../shared/nostr/nip44.js';

describe('NIP-44 conversation key from s·P', () => {
  it('equals nostr-tools getConversationKey, both ways round', () => {
    for (const [a, b] of [
      ['11', '22'],
      ['77', '03'],
    ]) {
      const skA = hexToBytes(a!.repeat(32));
      const skB = hexToBytes(b!.repeat(32));
      const pubB = getPublicKey(skB);
      const shared = secp256k1.Point.fromBytes(peerPoint(pubB)).multiply(
        BigInt(`0x${bytesToHex(skA)}`),
      );
      const key = conversationKey(shared.toBytes(true));
      expect(bytesToHex(key)).toBe(bytesToHex(getConversationKey(skA, pubB)));
      // The peer opens what was sealed with it.
      const sealed = encrypt('hello', key);
      expect(decrypt(sealed, getConversationKey(skB, getPublicKey(skA)))).toBe('hello');
    }
  });

  it('refuses anything but a compressed point', () => {
    expect(() => conversationKey(new Uint8Array(32))).toThrow(/33-byte compressed point/);
  });
});
