// The custodian's libp2p identity: an Ed25519 key, its peer id, and the conversions the node needs
// to keep the key in the OS keychain and to verify identity signatures from a peer id alone.
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import {
  peerIdFromPrivateKey as libp2pPeerIdFromPrivateKey,
  peerIdFromString,
} from '@libp2p/peer-id';
import type { Ed25519PrivateKey, PrivateKey } from '@libp2p/interface';
import { IdentityError } from './errors.js';

export interface Identity {
  privateKey: Ed25519PrivateKey;
  /** Base58btc peer id (`12D3KooW…`), derived from the public key. */
  peerId: string;
  /** The raw 32-byte Ed25519 public key. */
  publicKeyRaw: Uint8Array;
}

/** Narrows a key to Ed25519, the only type a custodian identity may have. */
export function assertEd25519(key: PrivateKey): Ed25519PrivateKey {
  if (key.type !== 'Ed25519') {
    throw new IdentityError('unsupported_key_type', `expected an Ed25519 key, got ${key.type}`);
  }
  return key;
}

export function identityFromPrivateKey(key: PrivateKey): Identity {
  const privateKey = assertEd25519(key);
  return {
    privateKey,
    peerId: libp2pPeerIdFromPrivateKey(privateKey).toString(),
    publicKeyRaw: privateKey.publicKey.raw.slice(),
  };
}

export async function generateIdentity(): Promise<Identity> {
  return identityFromPrivateKey(await generateKeyPair('Ed25519'));
}

export function peerIdFromPrivateKey(key: PrivateKey): string {
  return libp2pPeerIdFromPrivateKey(assertEd25519(key)).toString();
}

/** The key as libp2p's protobuf encoding (what `privateKeyFromBytes` reads back). Secret bytes. */
export function privateKeyToBytes(key: PrivateKey): Uint8Array {
  return privateKeyToProtobuf(assertEd25519(key));
}

export function privateKeyFromBytes(bytes: Uint8Array): Ed25519PrivateKey {
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (err) {
    // The underlying message may quote key bytes: keep it out of ours.
    throw new IdentityError(
      'bad_key',
      `not a protobuf-encoded private key (${bytes.length} bytes)`,
      {
        cause: err instanceof Error ? err.name : undefined,
      },
    );
  }
  return assertEd25519(key);
}

/** Public keys of the peer ids decoded last (base58 decoding showed in the profile). */
const PEER_KEYS_KEPT = 4096;
const peerKeys = new Map<string, Uint8Array>();

/**
 * The raw 32-byte Ed25519 public key embedded in an Ed25519 peer id (identity multihash), so an
 * identity signature can be checked with nothing but the signer's peer id. A fresh copy each call.
 */
export function publicKeyFromPeerId(peerId: string): Uint8Array {
  const known = peerKeys.get(peerId);
  if (known !== undefined) return known.slice();
  const key = decodePeerKey(peerId);
  // Bounded: past the limit the oldest goes. Only ids that decoded are kept.
  if (peerKeys.size >= PEER_KEYS_KEPT) peerKeys.delete(peerKeys.keys().next().value!);
  peerKeys.set(peerId, key.slice());
  return key;
}

function decodePeerKey(peerId: string): Uint8Array {
  let parsed: ReturnType<typeof peerIdFromString>;
  try {
    parsed = peerIdFromString(peerId);
  } catch (err) {
    throw new IdentityError(
      'bad_peer_id',
      `not a peer id: ${JSON.stringify(peerId.slice(0, 80))}`,
      {
        cause: err,
      },
    );
  }
  if (parsed.type !== 'Ed25519') {
    throw new IdentityError(
      'unsupported_key_type',
      `peer id ${peerId} is ${parsed.type}, not Ed25519`,
    );
  }
  return parsed.publicKey.raw.slice();
}
