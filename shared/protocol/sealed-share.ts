// The reconstruction ceremony's round-2 payload: an approver's share sealed to the requester's
// one-time key. Decoded strictly (exact fields, exact lengths) before anything opens it, then
// opened and checked against the approver's verifying share, so a bad one names its sender.
import { openSealed, type Sealed } from '../crypto/exported-key.js';
import { assertShareMatches, SecretShare, type PublicKeyPackage } from '../crypto/keys.js';
import { getSuite, identifierHex, type SchemeName } from '../crypto/suite.js';
import { expectHex, expectObject, ProtocolError } from './wire.js';

/** X25519 public key, XChaCha20 nonce and Poly1305 tag, in bytes (exported-key.ts sealTo). */
const EPK_BYTES = 32;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;

/** What an approver sends the requester: its identifier and its share sealed to the one-time key. */
export interface SealedSharePayload {
  /** Hex identifier of the sender's roster position (SerializeScalar). */
  from: string;
  sealed: Sealed;
}

/**
 * Decodes a peer's round-2 payload of a reconstruction: exactly `from` and `sealed`, `sealed`
 * exactly `epk`, `nonce` and `ct` in lowercase hex of their fixed lengths (`ct` holds one
 * scalar of `scheme` and its tag). Anything else is a ProtocolError naming the field.
 */
export function decodeSealedShare(v: unknown, scheme: SchemeName): SealedSharePayload {
  const suite = getSuite(scheme);
  const o = expectObject(v, 'payload', ['from', 'sealed']);
  const from = expectHex(o.from, 'from', 2 * suite.scalarLength);
  const s = expectObject(o.sealed, 'sealed', ['epk', 'nonce', 'ct']);
  return {
    from,
    sealed: {
      epk: expectHex(s.epk, 'sealed.epk', 2 * EPK_BYTES),
      nonce: expectHex(s.nonce, 'sealed.nonce', 2 * NONCE_BYTES),
      ct: expectHex(s.ct, 'sealed.ct', 2 * (suite.scalarLength + TAG_BYTES)),
    },
  };
}

/** Whose share a round-2 payload must hold, and how to open it. */
export interface SealedShareContext {
  /** The group's public key package (its scheme, epoch and verifying shares). */
  pub: PublicKeyPackage;
  /** The sender's identifier (its roster position), from the authenticated peer, not the payload. */
  identifier: bigint;
  /** The requester's one-time X25519 secret key. */
  secretKey: Uint8Array;
  /** The associated data the share was sealed with (binds it to the request). */
  aad: Uint8Array;
}

/**
 * A peer's round-2 payload decoded, opened and checked: the share of `ctx.identifier` whose
 * s·G is that member's verifying share. Throws ProtocolError for a malformed payload (or one that
 * claims another position), CryptoError when it does not open or is not that member's share.
 */
export function openSealedShare(v: unknown, ctx: SealedShareContext): SecretShare {
  const { pub } = ctx;
  const p = decodeSealedShare(v, pub.scheme);
  if (p.from !== identifierHex(getSuite(pub.scheme), ctx.identifier))
    throw new ProtocolError(
      'malformed',
      'from is not the roster position of the member who sent it',
    );
  const bytes = openSealed(ctx.secretKey, p.sealed, ctx.aad);
  let share: SecretShare | undefined;
  try {
    share = SecretShare.fromBytes(pub.scheme, ctx.identifier, bytes, pub.epoch);
    assertShareMatches(pub, share);
    return share;
  } catch (e) {
    share?.wipe();
    throw e;
  } finally {
    bytes.fill(0);
  }
}
