// Failure outcomes others can check: a signer's signed share receipt proves a bad share to every
// member, and a failure is accepted only from someone entitled to report it, never blaming on one
// member's word (issue 9, finding 4).
import { hexToBytes } from '@noble/hashes/utils.js';
import type { PublicKeyPackage } from '../crypto/keys.js';
import {
  commitmentFromJSON,
  partKey,
  SigningPackage,
  type PartSpec,
  verifyShare,
  type NonceCommitment,
  type NonceCommitmentJSON,
} from '../crypto/sign.js';
import { getSuite } from '../crypto/suite.js';
import {
  commitmentsHash,
  verifyShareReceipt,
  type Ed25519Verify,
  type FailureEvidence,
  type OutcomeBody,
  type RequestBody,
  type ShareReceipt,
  type SignerCommitment,
} from './wire.js';

/** What a member checks evidence of a bad signature share against: its own view of the request. */
export interface EvidenceContext {
  groupId: string;
  requestId: string;
  /** The request's message bytes (what the group signs), from this node's stored request. */
  message: Uint8Array;
  /**
   * The signatures the request asks for, as this node reads the request (a use may ask for
   * several); absent means one signature of `message`. A receipt's `part` picks one.
   */
  parts?: readonly PartSpec[];
  /** The group's public key package this node holds, or undefined (then nothing can be checked). */
  publicPackage: PublicKeyPackage | undefined;
  /** A member's roster index (its FROST identifier) at the package's epoch, by peer id. */
  indexOf: (peerId: string) => number | undefined;
  /** The raw Ed25519 identity key of a peer id (the node: publicKeyFromPeerId), or undefined. */
  identityKey: (peerId: string) => Uint8Array | undefined;
}

/**
 * What one item of evidence shows: `culprit` (the peer's own signed receipt carries a share that
 * fails verification), `unverified` (an observation, or one this node cannot check: recorded as
 * reported, never as blame) or `disproved` (it is false or forged: its sender is not to be trusted).
 */
export type EvidenceVerdict =
  | { verdict: 'culprit'; peer: string }
  | { verdict: 'unverified'; peer: string; reason: string }
  | { verdict: 'disproved'; peer: string; reason: string };

/** What a coordinator expects of a signer's receipt (see receiptProblem). */
export interface ReceiptExpectation {
  groupId: string;
  requestId: string;
  epoch: number;
  /** The commitment list of the sign message sent to the signer. */
  commitments: readonly SignerCommitment[];
  /** The signer asked (its peer id) and the share hex it returned. */
  signer: string;
  share: string;
  /** Which of the request's signatures was asked for (absent: the first). */
  part?: number;
  identityKey: (peerId: string) => Uint8Array | undefined;
  /** How a receipt's Ed25519 signature is checked (default: noble's strict verify). */
  verify?: Ed25519Verify;
}

/**
 * Why a signer's receipt does not cover the share it returned in this attempt, or undefined. The
 * coordinator checks every answer with it: a share without a valid receipt is treated as no answer
 * (`refused` evidence), so every receipt it later shows as evidence is for this exact attempt.
 */
export function receiptProblem(
  r: ShareReceipt | undefined,
  x: ReceiptExpectation,
): string | undefined {
  if (r === undefined) return 'no share receipt';
  const b = r.body;
  if (b.by !== x.signer) return `the receipt is signed for ${b.by}, not ${x.signer}`;
  if (b.groupId !== x.groupId || b.requestId !== x.requestId)
    return `the receipt is for request ${b.requestId} of group ${b.groupId}`;
  if (b.epoch !== x.epoch) return `the receipt is for epoch ${b.epoch}, not ${x.epoch}`;
  if (b.commitments !== commitmentsHash(x.commitments))
    return 'the receipt covers other commitments than those sent';
  if (b.share !== x.share) return 'the receipt covers another share than the one returned';
  if ((b.part ?? 0) !== (x.part ?? 0))
    return `the receipt is for signature ${(b.part ?? 0) + 1}, not ${(x.part ?? 0) + 1}`;
  const key = x.identityKey(b.by);
  if (key === undefined || !verifyShareReceipt(r, key, x.verify))
    return `the receipt is not signed by ${b.by}`;
  return undefined;
}

/**
 * Checks one item of a failure's evidence. A `bad-share` names its signer as a culprit only when
 * the receipt is this request's, signed by that signer's identity key over exactly the evidence's
 * commitments, and the share in it fails RFC 9591 verify_signature_share against this node's own
 * verifying share of the signer, message and commitments. An honest signer only signs the share it
 * computed for those commitments, which always verifies: it cannot be framed.
 */
export function checkFailureEvidence(e: FailureEvidence, ctx: EvidenceContext): EvidenceVerdict {
  if (e.kind !== 'bad-share') return observation(e);
  const r = e.receipt.body;
  const peer = r.by;
  const disproved = (reason: string): EvidenceVerdict => ({ verdict: 'disproved', peer, reason });
  const unverified = (reason: string): EvidenceVerdict => ({ verdict: 'unverified', peer, reason });
  // A coordinator checks each receipt when it gets it (receiptProblem): these cannot fail for an
  // honest one.
  if (r.groupId !== ctx.groupId || r.requestId !== ctx.requestId)
    return disproved(`the receipt is for request ${r.requestId} of group ${r.groupId}`);
  const key = ctx.identityKey(peer);
  if (key === undefined || !verifyShareReceipt(e.receipt, key))
    return disproved(`the receipt is not signed by ${peer}`);
  if (commitmentsHash(e.commitments) !== r.commitments)
    return disproved('the commitments are not those the signer signed for');
  if (!e.commitments.some((c) => c.peerId === peer))
    return disproved('the signer has no commitment in the attempt');
  // From here the receipt is genuine; what this node cannot check is its view, not a lie.
  const pub = ctx.publicPackage;
  if (pub === undefined) return unverified('this node holds no key package to check the share');
  if (pub.epoch !== r.epoch)
    return unverified(`the share is of epoch ${r.epoch}; this node holds epoch ${pub.epoch}`);
  const suite = getSuite(pub.scheme);
  const index = ctx.indexOf(peer);
  const spec: PartSpec | undefined = ctx.parts
    ? ctx.parts[r.part ?? 0]
    : (r.part ?? 0) === 0
      ? { message: ctx.message }
      : undefined;
  if (spec === undefined)
    return unverified(`the request has no signature number ${(r.part ?? 0) + 1}`);
  let pkg: SigningPackage;
  try {
    const commitments: NonceCommitment[] = e.commitments.map((c) => {
      const i = ctx.indexOf(c.peerId);
      const dc = commitmentFromJSON(suite, c.commitment as unknown as NonceCommitmentJSON);
      if (i === undefined || dc.identifier !== BigInt(i))
        throw new Error(`the commitment of ${c.peerId} does not match this node's roster`);
      return dc;
    });
    pkg = new SigningPackage(partKey(pub, spec), commitments, spec.message);
  } catch (err) {
    return unverified(`this node cannot rebuild the signing package: ${(err as Error).message}`);
  }
  let z: bigint;
  try {
    z = suite.decodeScalar(hexToBytes(r.share), 'signature share');
  } catch {
    // The signer signed something that is not a share at all.
    return { verdict: 'culprit', peer };
  }
  // index is defined: the signer's commitment is in the list and matched the roster above.
  if (verifyShare(pkg, BigInt(index!), z)) return disproved(`the share of ${peer} is valid`);
  return { verdict: 'culprit', peer };
}

/** A coordinator's observation (no answer, or no valid one): nothing anyone else can check. */
function observation(e: Exclude<FailureEvidence, { kind: 'bad-share' }>): EvidenceVerdict {
  return e.kind === 'timeout'
    ? { verdict: 'unverified', peer: e.peer, reason: `no answer within ${e.waitedMs} ms` }
    : { verdict: 'unverified', peer: e.peer, reason: `no valid share: ${e.reason}` };
}

/** What this node knows about a request when a failure outcome for it arrives. */
export interface FailureContext {
  kind: RequestBody['kind'];
  /** Peers whose approval of the request this node holds. */
  approvers: readonly string[];
  /**
   * For a ceremony (refresh, reshare, repair, reconstruct): the peers taking part, from the
   * request's parameters (old and new members, the requester). Unused for sign and policy.
   */
  participants?: readonly string[];
  /** What `bad-share` evidence is checked against; without it, evidence is only reported. */
  evidence?: EvidenceContext;
}

/** How a receiver takes a failure outcome. */
export interface FailureDecision {
  /** Whether to mark the request failed. */
  accept: boolean;
  /** Peers proven to have returned a bad share: the only ones to blame. */
  culprits: string[];
  /** What the sender said about others without proof, to show as "reported by", never as blame. */
  reported: { peer: string; reason: string }[];
  /** Why the outcome was refused. */
  reason?: string;
}

const refuse = (reason: string): FailureDecision => ({
  accept: false,
  culprits: [],
  reported: [],
  reason,
});

/**
 * Decides what a received failure outcome does here. The sender (`outcome.by`, whose signature the
 * caller has verified) must be entitled to end the request:
 * - sign: an approver (only approvers coordinate, and the coordinator of an attempt is the one who
 *   saw it fail); `attempt`, when given, must name the sender as coordinator and only approvers as
 *   signers. Culprits are exactly the signers whose bad share the evidence proves here; timeouts,
 *   refusals, evidence this node cannot check and names in `culprits` without proof are reports.
 *   Evidence shown to be false or forged refuses the whole outcome.
 * - refresh, reshare, repair, reconstruct: a participant of the ceremony (one who could have ended
 *   it anyway by aborting); a ceremony failure never blames anyone here, whatever it names.
 * - policy: refused; every member applies a policy change itself.
 * An approver can still end a sign request it approved (as it could by not signing): the outcome is
 * signed by it and recorded under its name, and the request can be made again.
 */
/** Kinds carried out by FROST signing: raw messages and the uses that sign (their failures are alike). */
const SIGNING_KINDS: readonly string[] = ['sign', 'ssh', 'x509', 'psbt', 'nostr'];

export function acceptFailureOutcome(outcome: OutcomeBody, ctx: FailureContext): FailureDecision {
  if (outcome.failure === undefined || outcome.signature !== undefined)
    return refuse('not a failure outcome');
  const by = outcome.by;
  const reported: FailureDecision['reported'] = [];
  const report = (peer: string, reason: string) => {
    if (!reported.some((x) => x.peer === peer && x.reason === reason))
      reported.push({ peer, reason });
  };
  const unproven = (culprits: readonly string[]) => {
    for (const p of culprits) report(p, `named by ${by} without evidence`);
  };
  if (ctx.kind === 'policy') return refuse('every member applies a policy change itself');
  if (!SIGNING_KINDS.includes(ctx.kind)) {
    if (!(ctx.participants ?? []).includes(by))
      return refuse(`${by} does not take part in this ${ctx.kind}`);
    unproven(outcome.culprits);
    for (const e of outcome.evidence ?? [])
      report(e.kind === 'bad-share' ? e.receipt.body.by : e.peer, `reported by ${by}: ${e.kind}`);
    return { accept: true, culprits: [], reported };
  }
  if (!ctx.approvers.includes(by)) return refuse(`${by} has not approved this request`);
  if (outcome.attempt !== undefined) {
    if (outcome.attempt.coordinator !== by)
      return refuse(`the attempt was coordinated by ${outcome.attempt.coordinator}, not ${by}`);
    const stranger = outcome.attempt.signers.find((p) => !ctx.approvers.includes(p));
    if (stranger !== undefined)
      return refuse(`the attempt asked ${stranger}, who has not approved`);
  }
  const culprits: string[] = [];
  for (const e of outcome.evidence ?? []) {
    const v: EvidenceVerdict =
      e.kind !== 'bad-share'
        ? observation(e)
        : ctx.evidence !== undefined
          ? checkFailureEvidence(e, ctx.evidence)
          : { verdict: 'unverified', peer: e.receipt.body.by, reason: 'this node cannot check it' };
    if (v.verdict === 'disproved') return refuse(`false evidence against ${v.peer}: ${v.reason}`);
    if (v.verdict === 'culprit') {
      if (!culprits.includes(v.peer)) culprits.push(v.peer);
    } else report(v.peer, `reported by ${by}: ${v.reason}`);
  }
  unproven(outcome.culprits.filter((p) => !culprits.includes(p)));
  return { accept: true, culprits, reported };
}
