// The repair ceremony's payloads (main/node/ceremonies/repair.ts), as a helper or the new device
// sends them: a helper's signed commitments (round1), its part for another helper (echo), its sum
// for the new device with the commitments it was shown (round2), and the new device's proof that
// it holds the share (done). Each is decoded strictly before anything uses it: exact fields, hex of
// exact lengths, one entry per helper, points and scalars decoded; anything else is a
// ProtocolError naming the field. The sender's roster position comes from the authenticated peer,
// never from the payload: a payload claiming another is refused.
import { hexToBytes } from '@noble/hashes/utils.js';
import { RepairPart, type RepairView } from '../crypto/repair.js';
import {
  getSuite,
  identifierHex,
  type GroupPoint,
  type SchemeName,
  type Suite,
} from '../crypto/suite.js';
import { expectHex, expectObject, ProtocolError } from './wire.js';

/** Hex chars of an Ed25519 signature (an identity key's, over a helper's commitments). */
const SIGNATURE_HEX = 128;

/** `from` must be the hex identifier of `sender`, the roster position of the peer who sent it. */
function expectFrom(suite: Suite, v: unknown, sender: bigint): void {
  const from = expectHex(v, 'from', 2 * suite.scalarLength);
  if (from !== identifierHex(suite, sender))
    throw new ProtocolError(
      'malformed',
      'from is not the roster position of the member who sent it',
    );
}

/** A non-zero point of the prime-order subgroup, in hex of its fixed length. */
function expectPoint(suite: Suite, v: unknown, what: string): GroupPoint {
  const hex = expectHex(v, what, 2 * suite.pointLength);
  try {
    return suite.decodePoint(hexToBytes(hex), what);
  } catch (e) {
    throw new ProtocolError('malformed', (e as Error).message.slice(0, 200));
  }
}

/** A scalar below the group order, in hex of its fixed length. */
function expectScalar(suite: Suite, v: unknown, what: string): bigint {
  const hex = expectHex(v, what, 2 * suite.scalarLength);
  try {
    return suite.decodeScalar(hexToBytes(hex), what);
  } catch (e) {
    throw new ProtocolError('malformed', (e as Error).message.slice(0, 200));
  }
}

/**
 * One commitment per helper, keyed by the helper's hex identifier: exactly the helpers, each a
 * point in hex of its fixed length.
 */
function expectCommitments(
  suite: Suite,
  helpers: readonly bigint[],
  v: unknown,
  what: string,
): Map<bigint, GroupPoint> {
  const ids = helpers.map((h) => identifierHex(suite, h));
  const o = expectObject(v, what, ids);
  const out = new Map<bigint, GroupPoint>();
  helpers.forEach((h, k) => {
    const id = ids[k]!;
    if (!Object.hasOwn(o, id))
      throw new ProtocolError('malformed', `${what} has no commitment for helper ${id}`);
    out.set(h, expectPoint(suite, o[id], `${what}.${id}`));
  });
  return out;
}

/** A helper's round-1 payload: its commitments δ_ij·G to every helper's part, and its signature. */
export interface RepairCommitmentsPayload {
  commitments: Map<bigint, GroupPoint>;
  /** Hex of its identity key's Ed25519 signature (not checked here: repairCommitmentsSignedBy). */
  signature: string;
}

/**
 * Decodes helper `sender`'s round-1 payload: exactly `from` (its identifier), `commitments` (one
 * point per helper of `helpers`, keyed by hex identifier) and `signature` (64 bytes of hex).
 */
export function decodeRepairCommitments(
  v: unknown,
  scheme: SchemeName,
  helpers: readonly bigint[],
  sender: bigint,
): RepairCommitmentsPayload {
  const suite = getSuite(scheme);
  const o = expectObject(v, 'payload', ['from', 'commitments', 'signature']);
  expectFrom(suite, o.from, sender);
  const commitments = expectCommitments(suite, helpers, o.commitments, 'commitments');
  const signature = expectHex(o.signature, 'signature', SIGNATURE_HEX);
  return { commitments, signature };
}

/**
 * Decodes helper `sender`'s echo payload, its part for helper `to` (the receiver): exactly `from`,
 * `to` (both identifiers, as the roster says) and `value` (a scalar).
 */
export function decodeRepairPart(
  v: unknown,
  scheme: SchemeName,
  sender: bigint,
  to: bigint,
): RepairPart {
  const suite = getSuite(scheme);
  const o = expectObject(v, 'payload', ['from', 'to', 'value']);
  expectFrom(suite, o.from, sender);
  if (expectHex(o.to, 'to', 2 * suite.scalarLength) !== identifierHex(suite, to))
    throw new ProtocolError('malformed', 'to is not the roster position of this helper');
  return new RepairPart(sender, to, expectScalar(suite, o.value, 'value'));
}

/** A helper's round-2 payload: its sum σ_j for the new device, and the commitments it was shown. */
export interface RepairSumPayload {
  sum: RepairPart;
  /** Every helper's signed commitments as `sender` received them, by helper. */
  views: Map<bigint, RepairView>;
}

/**
 * Decodes helper `sender`'s round-2 payload for the new device of the lost position `lost`:
 * exactly `from`, `to` (the lost position), `value` (a scalar) and `views`: one entry per helper,
 * keyed by hex identifier, each exactly `commitments` (one point per helper) and `signature`.
 */
export function decodeRepairSum(
  v: unknown,
  scheme: SchemeName,
  helpers: readonly bigint[],
  sender: bigint,
  lost: bigint,
): RepairSumPayload {
  const suite = getSuite(scheme);
  const o = expectObject(v, 'payload', ['from', 'to', 'value', 'views']);
  expectFrom(suite, o.from, sender);
  if (expectHex(o.to, 'to', 2 * suite.scalarLength) !== identifierHex(suite, lost))
    throw new ProtocolError('malformed', 'to is not the roster position being repaired');
  const sum = new RepairPart(sender, lost, expectScalar(suite, o.value, 'value'));
  const ids = helpers.map((h) => identifierHex(suite, h));
  const w = expectObject(o.views, 'views', ids);
  const views = new Map<bigint, RepairView>();
  helpers.forEach((h, k) => {
    const id = ids[k]!;
    if (!Object.hasOwn(w, id))
      throw new ProtocolError('malformed', `views has no entry for helper ${id}`);
    const e = expectObject(w[id], `views.${id}`, ['commitments', 'signature']);
    views.set(h, {
      commitments: expectCommitments(suite, helpers, e.commitments, `views.${id}.commitments`),
      signature: expectHex(e.signature, `views.${id}.signature`, SIGNATURE_HEX),
    });
  });
  return { sum, views };
}

/** Bytes of a proof of knowledge (dkg.ts proveKnowledge: R, or x(R) on taproot, then z). */
export function repairProofLength(scheme: SchemeName): number {
  const suite = getSuite(scheme);
  return (suite.evenY ? 32 : suite.pointLength) + suite.scalarLength;
}

/**
 * Decodes the new device's done payload: exactly `proof`, hex of a proof of knowledge of the
 * repaired share (checked by verifyKnowledge, not here).
 */
export function decodeRepairDone(v: unknown, scheme: SchemeName): Uint8Array {
  const o = expectObject(v, 'payload', ['proof']);
  return hexToBytes(expectHex(o.proof, 'proof', 2 * repairProofLength(scheme)));
}
