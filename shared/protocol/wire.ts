// The wire protocol between custodian nodes: message types, strict decoders (unknown versions,
// types and fields are rejected), and signed statements (requests, approvals, outcomes).
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJSON } from '../crypto/backup.js';
import { SCHEMES, type SchemeName } from '../crypto/suite.js';
import { isLowerHex } from './fields.js';
import { logSafe } from './text.js';

export const WIRE_VERSION = 1;

/** Protocol ids, versioned. */
export const PROTOCOL = {
  join: '/conclave/join/1.0.0',
  group: '/conclave/group/1.0.0',
} as const;

/** Size limits per protocol (bytes of one JSON message). */
export const LIMITS = {
  join: 16 * 1024,
  group: 512 * 1024,
  message: 64 * 1024,
} as const;

export type ProtocolErrorCode =
  'malformed' | 'bad_invite' | 'unsupported_version' | 'bad_signature';

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

// ---- field validators ----

export function expectObject(
  v: unknown,
  what: string,
  allowed?: readonly string[],
): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new ProtocolError('malformed', `${what} must be an object`);
  if (allowed)
    for (const k of Object.keys(v))
      if (!allowed.includes(k))
        throw new ProtocolError('malformed', `${what} has unknown field "${k}"`);
  return v as Record<string, unknown>;
}
export function expectString(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max)
    throw new ProtocolError('malformed', `${what} must be a string of 1..${max} chars`);
  return v;
}
export function expectInt(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw new ProtocolError('malformed', `${what} must be an integer in ${min}..${max}`);
  return v;
}
/** Lowercase hex; `len` in hex chars when given, else any even length up to `max`. */
export function expectHex(
  v: unknown,
  what: string,
  len?: number,
  max = 2 * LIMITS.message,
): string {
  if (!isLowerHex(v, len) || (len === undefined && v.length > max))
    throw new ProtocolError(
      'malformed',
      `${what} must be ${len !== undefined ? `${len} ` : ''}lowercase hex chars`,
    );
  return v;
}
export function expectScheme(v: unknown): SchemeName {
  if (typeof v !== 'string' || !(SCHEMES as readonly string[]).includes(v))
    throw new ProtocolError('malformed', `unknown scheme ${logSafe(v)}`);
  return v as SchemeName;
}
function expectStrings(v: unknown, what: string, maxItems: number, maxLen: number): string[] {
  if (!Array.isArray(v) || v.length > maxItems)
    throw new ProtocolError('malformed', `${what} must be a list of at most ${maxItems}`);
  return v.map((x, i) => expectString(x, `${what}[${i}]`, maxLen));
}

// ---- signed statements ----

/** Every request kind on the wire: raw signing, the ceremonies, and the uses of the key. */
export const REQUEST_KIND_NAMES = [
  'sign',
  'refresh',
  'reshare',
  'repair',
  'policy',
  'reconstruct',
  'ssh',
  'age',
  'x509',
  'psbt',
  'nostr',
] as const;
export type RequestKindName = (typeof REQUEST_KIND_NAMES)[number];

/** Most signatures one request asks for (a PSBT's inputs of the group). */
export const MAX_SIGN_PARTS = 64;
/**
 * Runs of one group's key generation: a member that restarted mid-way starts the next one (dkg.ts);
 * past this many the group fails for good.
 */
export const MAX_DKG_ATTEMPTS = 8;

/** A request to the group, created and signed by a member. Its id is derived from its content. */
export interface RequestBody {
  v: 1;
  type: 'request';
  groupId: string;
  kind: RequestKindName;
  /** Hex of the bytes to sign; for a ceremony or a use, of its parameters as its kind encodes them. */
  message: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  nonce: string;
  /** Hex sha256 of the group policy the requester holds; members refuse a request under another. */
  policy: string;
}

/** An approval or denial of one request, signed by the member who decided. */
export interface DecisionBody {
  v: 1;
  type: 'decision';
  groupId: string;
  requestId: string;
  requestHash: string;
  decision: 'approve' | 'deny';
  reason?: string;
  by: string;
  at: number;
}

/**
 * The outcome of a request as its coordinator saw it: the signature, or a failure. A failure's
 * `culprits` are the sender's word only; a receiver blames a signer only on `evidence` it can check
 * itself (see shared/protocol/evidence.ts, acceptFailureOutcome).
 */
export interface OutcomeBody {
  v: 1;
  type: 'outcome';
  groupId: string;
  requestId: string;
  signature?: string;
  failure?: string;
  culprits: string[];
  /** Why the signing attempts failed, per signer: what others can check, or what was observed. */
  evidence?: FailureEvidence[];
  /** The last signing attempt: who coordinated it (the sender) and whom it asked. */
  attempt?: SigningAttempt;
  by: string;
  at: number;
}

/** One signing attempt: its coordinator and every signer in it (the coordinator included). */
export interface SigningAttempt {
  coordinator: string;
  signers: string[];
}

/** One signer's nonce commitment as a sign message carries it (the JSON of NonceCommitmentJSON). */
export interface SignerCommitment {
  peerId: string;
  commitment: Record<string, unknown>;
}

/**
 * What a signer states, under its identity key, about the signature share it returns to a
 * coordinator: the coordinator can then show a bad share to every member, who checks it against
 * the group's verifying shares without trusting the coordinator. The signer signs only the share
 * it computed for exactly these commitments, so an honest signer's receipt never shows a bad share.
 */
export interface ShareReceiptBody {
  v: 1;
  type: 'share-receipt';
  groupId: string;
  requestId: string;
  /** The key epoch of the signer's share. */
  epoch: number;
  /** commitmentsHash() of the sign message's commitment list, as the signer received it. */
  commitments: string;
  /** Hex SerializeScalar of the signature share returned. */
  share: string;
  /** The signer's peer id. */
  by: string;
  /** Which of the request's signatures the share is for; absent for the first (index 0). */
  part?: number;
}

/** A ShareReceiptBody with the signer's Ed25519 signature over sha256(canonicalJSON(body)). */
export interface ShareReceipt {
  body: ShareReceiptBody;
  sig: string;
}

/**
 * Why one signer failed an attempt. Only `bad-share` can be checked by others (and then names a
 * culprit); `timeout` (no answer within `waitedMs`) and `refused` (an error, or an answer without
 * a valid receipt) are the coordinator's observation, recorded as "reported by", never as blame.
 */
export type FailureEvidence =
  | { kind: 'bad-share'; receipt: ShareReceipt; commitments: SignerCommitment[] }
  | { kind: 'timeout'; peer: string; waitedMs: number }
  | { kind: 'refused'; peer: string; reason: string };

/** Hex sha256 of a sign message's commitment list (canonical JSON, in the message's order). */
export function commitmentsHash(list: readonly SignerCommitment[]): string {
  return bytesToHex(sha256(utf8ToBytes(canonicalJSON(list))));
}

/** The 32 bytes a share receipt's signature covers. */
export function shareReceiptHash(body: ShareReceiptBody): Uint8Array {
  return sha256(utf8ToBytes(canonicalJSON(body)));
}

/** The signer's receipt for the share it returns (`sign` is its identity key's Ed25519 signer). */
export function signShareReceipt(
  body: ShareReceiptBody,
  sign: (msg: Uint8Array) => Uint8Array,
): ShareReceipt {
  return { body, sig: bytesToHex(sign(shareReceiptHash(body))) };
}

/**
 * Verifies an Ed25519 signature (signature, message, raw public key). Any verifier passed in must
 * answer as noble's strict verify (zip215 off), the default; throwing counts as a bad signature.
 */
export type Ed25519Verify = (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array) => boolean;

const strictVerify: Ed25519Verify = (sig, msg, publicKey) =>
  ed25519.verify(sig, msg, publicKey, { zip215: false });

/** Checks a receipt's signature with the raw Ed25519 identity key of its signer. */
export function verifyShareReceipt(
  r: ShareReceipt,
  signerKey: Uint8Array,
  verify: Ed25519Verify = strictVerify,
): boolean {
  try {
    return verify(hexToBytes(r.sig), shareReceiptHash(r.body), signerKey);
  } catch {
    return false;
  }
}

export type StatementBody = RequestBody | DecisionBody | OutcomeBody;

export interface Signed<B extends StatementBody = StatementBody> {
  body: B;
  /** Hex Ed25519 signature by the author's identity key over sha256(canonicalJSON(body)). */
  sig: string;
}

export function statementHash(body: StatementBody): Uint8Array {
  return sha256(utf8ToBytes(canonicalJSON(body)));
}

/** The request id: the first 16 bytes of the request's hash, so an id always names one content. */
export function requestId(body: RequestBody): string {
  return bytesToHex(statementHash(body)).slice(0, 32);
}

export function authorOf(body: StatementBody): string {
  return body.type === 'request' ? body.createdBy : body.by;
}

export function signStatement<B extends StatementBody>(
  body: B,
  sign: (msg: Uint8Array) => Uint8Array,
): Signed<B> {
  return { body, sig: bytesToHex(sign(statementHash(body))) };
}

/** Checks the signature with the author's raw Ed25519 identity key. */
export function verifyStatement(
  s: Signed,
  authorKey: Uint8Array,
  verify: Ed25519Verify = strictVerify,
): boolean {
  try {
    return verify(hexToBytes(s.sig), statementHash(s.body), authorKey);
  } catch {
    return false;
  }
}

const PEER = 128;
/** Most evidence items in one outcome: one per signer of the group, at most. */
export const MAX_EVIDENCE = 50;

/** Strictly decodes a share receipt (shape only; the caller verifies the signature). */
export function decodeShareReceipt(v: unknown): ShareReceipt {
  const o = expectObject(v, 'receipt', ['body', 'sig']);
  const sig = expectHex(o.sig, 'receipt sig', 128);
  const b = expectObject(o.body, 'receipt body', [
    'v',
    'type',
    'groupId',
    'requestId',
    'epoch',
    'commitments',
    'share',
    'by',
    'part',
  ]);
  if (b.v !== WIRE_VERSION)
    throw new ProtocolError('unsupported_version', `receipt version ${logSafe(b.v)}`);
  // Absent means the first part; a 0 is never written, so each receipt has one encoding.
  const part = b.part === undefined ? undefined : expectInt(b.part, 'part', 1, MAX_SIGN_PARTS - 1);
  if (b.type !== 'share-receipt')
    throw new ProtocolError('malformed', `expected a share-receipt, got ${logSafe(b.type)}`);
  return {
    body: {
      v: 1,
      type: 'share-receipt',
      groupId: expectHex(b.groupId, 'groupId', 32),
      requestId: expectHex(b.requestId, 'requestId', 32),
      epoch: expectInt(b.epoch, 'epoch', 0, 2 ** 31),
      commitments: expectHex(b.commitments, 'commitments', 64),
      share: expectHex(b.share, 'share', undefined, 128),
      by: expectString(b.by, 'by', PEER),
      ...(part === undefined ? {} : { part }),
    },
    sig,
  };
}

/** A signer's commitment as evidence carries it: exactly identifier, hiding and binding (hex). */
function decodeSignerCommitment(v: unknown, what: string): SignerCommitment {
  const e = expectObject(v, what, ['peerId', 'commitment']);
  const c = expectObject(e.commitment, `${what}.commitment`, ['identifier', 'hiding', 'binding']);
  return {
    peerId: expectString(e.peerId, `${what}.peerId`, PEER),
    commitment: {
      identifier: expectHex(c.identifier, `${what}.identifier`, undefined, 130),
      hiding: expectHex(c.hiding, `${what}.hiding`, undefined, 130),
      binding: expectHex(c.binding, `${what}.binding`, undefined, 130),
    },
  };
}

/** Strictly decodes one item of an outcome's evidence. */
export function decodeEvidence(v: unknown, what = 'evidence'): FailureEvidence {
  const o = expectObject(v, what);
  switch (o.kind) {
    case 'bad-share': {
      expectObject(o, what, ['kind', 'receipt', 'commitments']);
      if (!Array.isArray(o.commitments) || o.commitments.length === 0 || o.commitments.length > 50)
        throw new ProtocolError('malformed', `${what}.commitments must be a list of 1..50`);
      return {
        kind: 'bad-share',
        receipt: decodeShareReceipt(o.receipt),
        commitments: o.commitments.map((c, i) =>
          decodeSignerCommitment(c, `${what}.commitments[${i}]`),
        ),
      };
    }
    case 'timeout':
      expectObject(o, what, ['kind', 'peer', 'waitedMs']);
      return {
        kind: 'timeout',
        peer: expectString(o.peer, `${what}.peer`, PEER),
        waitedMs: expectInt(o.waitedMs, `${what}.waitedMs`, 0, 2 ** 31),
      };
    case 'refused':
      expectObject(o, what, ['kind', 'peer', 'reason']);
      return {
        kind: 'refused',
        peer: expectString(o.peer, `${what}.peer`, PEER),
        reason: expectString(o.reason, `${what}.reason`, 300),
      };
    default:
      throw new ProtocolError('malformed', `${what} has unknown kind ${logSafe(o.kind)}`);
  }
}

function decodeAttempt(v: unknown): SigningAttempt {
  const o = expectObject(v, 'attempt', ['coordinator', 'signers']);
  return {
    coordinator: expectString(o.coordinator, 'attempt.coordinator', PEER),
    signers: expectStrings(o.signers, 'attempt.signers', 50, PEER),
  };
}

/** Strictly decodes a signed statement (shape only; the caller verifies the signature and membership). */
export function decodeSigned(v: unknown): Signed {
  const o = expectObject(v, 'statement', ['body', 'sig']);
  const sig = expectHex(o.sig, 'sig', 128);
  const b = expectObject(o.body, 'body');
  if (b.v !== WIRE_VERSION)
    throw new ProtocolError('unsupported_version', `statement version ${logSafe(b.v)}`);
  switch (b.type) {
    case 'request': {
      expectObject(b, 'request', [
        'v',
        'type',
        'groupId',
        'kind',
        'message',
        'createdBy',
        'createdAt',
        'expiresAt',
        'nonce',
        'policy',
      ]);
      if (!(REQUEST_KIND_NAMES as readonly string[]).includes(b.kind as string))
        throw new ProtocolError('malformed', `unknown request kind ${logSafe(b.kind)}`);
      const body: RequestBody = {
        v: 1,
        type: 'request',
        groupId: expectHex(b.groupId, 'groupId', 32),
        kind: b.kind as RequestBody['kind'],
        message: expectHex(b.message, 'message', undefined, 2 * LIMITS.message),
        createdBy: expectString(b.createdBy, 'createdBy', PEER),
        createdAt: expectInt(b.createdAt, 'createdAt', 0, 2 ** 52),
        expiresAt: expectInt(b.expiresAt, 'expiresAt', 0, 2 ** 52),
        nonce: expectHex(b.nonce, 'nonce', 32),
        policy: expectHex(b.policy, 'policy', 64),
      };
      return { body, sig };
    }
    case 'decision': {
      expectObject(b, 'decision', [
        'v',
        'type',
        'groupId',
        'requestId',
        'requestHash',
        'decision',
        'reason',
        'by',
        'at',
      ]);
      if (b.decision !== 'approve' && b.decision !== 'deny')
        throw new ProtocolError('malformed', 'decision must be approve or deny');
      const body: DecisionBody = {
        v: 1,
        type: 'decision',
        groupId: expectHex(b.groupId, 'groupId', 32),
        requestId: expectHex(b.requestId, 'requestId', 32),
        requestHash: expectHex(b.requestHash, 'requestHash', 64),
        decision: b.decision,
        by: expectString(b.by, 'by', PEER),
        at: expectInt(b.at, 'at', 0, 2 ** 52),
      };
      if (b.reason !== undefined) body.reason = expectString(b.reason, 'reason', 500);
      return { body, sig };
    }
    case 'outcome': {
      expectObject(b, 'outcome', [
        'v',
        'type',
        'groupId',
        'requestId',
        'signature',
        'failure',
        'culprits',
        'evidence',
        'attempt',
        'by',
        'at',
      ]);
      const body: OutcomeBody = {
        v: 1,
        type: 'outcome',
        groupId: expectHex(b.groupId, 'groupId', 32),
        requestId: expectHex(b.requestId, 'requestId', 32),
        culprits: expectStrings(b.culprits, 'culprits', 64, PEER),
        by: expectString(b.by, 'by', PEER),
        at: expectInt(b.at, 'at', 0, 2 ** 52),
      };
      if (b.signature !== undefined)
        body.signature = expectHex(b.signature, 'signature', undefined, 256);
      if (b.failure !== undefined) body.failure = expectString(b.failure, 'failure', 500);
      if (b.evidence !== undefined) {
        if (!Array.isArray(b.evidence) || b.evidence.length > MAX_EVIDENCE)
          throw new ProtocolError(
            'malformed',
            `evidence must be a list of at most ${MAX_EVIDENCE}`,
          );
        body.evidence = b.evidence.map((e, i) => decodeEvidence(e, `evidence[${i}]`));
      }
      if (b.attempt !== undefined) body.attempt = decodeAttempt(b.attempt);
      return { body, sig };
    }
    default:
      throw new ProtocolError('malformed', `unknown statement type ${logSafe(b.type)}`);
  }
}

// ---- messages ----

export interface JoinRequest {
  v: 1;
  type: 'join';
  groupId: string;
  /** hex HMAC-SHA256(invite secret, "conclave/join/v1" || groupId || joiner peer id). */
  token: string;
  name: string;
  addrs: string[];
}

export interface RosterEntry {
  index: number;
  peerId: string;
  name: string;
  addrs: string[];
}

export interface RosterMessage {
  v: 1;
  type: 'roster';
  groupId: string;
  name: string;
  threshold: number;
  size: number;
  scheme: SchemeName;
  creator: string;
  createdAt: number;
  members: RosterEntry[];
  /** Hex of the group key when the creator imports an existing key instead of a DKG. */
  importedKey?: string;
}

export type GroupMessage =
  | RosterMessage
  | { v: 1; type: 'hello'; addrs: string[] }
  | { v: 1; type: 'confirm'; groupId: string; rosterHash: string }
  | {
      v: 1;
      type: 'dkg';
      groupId: string;
      session: string;
      step: 'round1' | 'echo' | 'round2' | 'done';
      payload: Record<string, unknown>;
      /** Which run of the key generation (absent: the first); see MAX_DKG_ATTEMPTS. */
      attempt?: number;
    }
  | { v: 1; type: 'statements'; items: Signed[] }
  | {
      v: 1;
      type: 'nonces';
      groupId: string;
      epoch: number;
      replace: boolean;
      commitments: Record<string, unknown>[];
    }
  | {
      v: 1;
      type: 'sign';
      groupId: string;
      requestId: string;
      commitments: { peerId: string; commitment: Record<string, unknown> }[];
      /** The signers' approval statements, each verified by the signer itself. */
      approvals?: Signed[];
      /** Which of the request's signatures this is (absent: the first). */
      part?: number;
    }
  | EcdhMessage
  | CeremonyMessage
  | ImportShareMessage
  | ImportResultMessage
  | { v: 1; type: 'audit'; groupId: string; entries: Record<string, unknown>[] }
  /** Asks a co-member which entries of the group's chains it holds (answered with AuditHeads). */
  | { v: 1; type: 'audit-heads'; groupId: string }
  /**
   * Asks a co-member for the entries of the group's log the asker lacks: the asker holds entries
   * whose earlier ones never came. Answered `{ ok: true }` at once; the entries follow as a sync
   * ('audit-heads', then 'audit' messages).
   */
  | { v: 1; type: 'audit-want'; groupId: string };

/** Most chain heads an 'audit-heads' answer carries (a group's current and former members). */
export const MAX_AUDIT_HEADS = 256;

/** The last entry a member holds of one chain of a group's log. */
export interface AuditHead {
  /** `<peerId>/<groupId>`. */
  author: string;
  seq: number;
  /** Hex sha256 of the entry (it binds every entry before it through `prev`). */
  hash: string;
}

/**
 * The answer to 'audit-heads': per chain of the group the answerer holds, its last entry. At most
 * MAX_AUDIT_HEADS, each author once; a chain left out is one the answerer holds nothing of.
 */
export interface AuditHeadsAnswer {
  heads: AuditHead[];
}

/** Strictly decodes an 'audit-heads' answer (shape only: the asker trusts it for nothing but its own sends). */
export function decodeAuditHeadsAnswer(v: unknown): AuditHeadsAnswer {
  const o = expectObject(v, 'audit-heads answer', ['heads']);
  if (!Array.isArray(o.heads) || o.heads.length > MAX_AUDIT_HEADS)
    throw new ProtocolError('malformed', `heads must be a list of at most ${MAX_AUDIT_HEADS}`);
  const seen = new Set<string>();
  return {
    heads: o.heads.map((x, i) => {
      const h = expectObject(x, `heads[${i}]`, ['author', 'seq', 'hash']);
      const author = expectString(h.author, `heads[${i}].author`, 200);
      if (seen.has(author)) throw new ProtocolError('malformed', `heads[${i}]: author twice`);
      seen.add(author);
      return {
        author,
        seq: expectInt(h.seq, `heads[${i}].seq`, 0, Number.MAX_SAFE_INTEGER),
        hash: expectHex(h.hash, `heads[${i}].hash`, 64),
      };
    }),
  };
}

/**
 * The importer's word on an import once every member answered its share: `ok` (every member holds
 * one: start using the group) or not (drop the share you hold; the import is over).
 */
/** Most points one ECDH request multiplies (an age header's X25519 recipients). */
export const MAX_ECDH_POINTS = 32;

/**
 * The requester of an ECDH request (age decryption, NIP-44) asks an approver for its partials
 * s_i·P; each approver computes the points from its own reading of the stored request.
 */
export interface EcdhMessage {
  v: 1;
  type: 'ecdh';
  groupId: string;
  requestId: string;
  /** The approvals the requester relies on, so an approver that has not received one yet does not refuse. */
  approvals?: Signed[];
}

/** An approver's answer: one partial (with its DLEQ proof) per point, in order, or why not. */
export type EcdhAnswer =
  | {
      partials: {
        identifier: string;
        partial: string;
        proof: { c: string; z: string };
      }[];
    }
  | { error: string };

/** Strictly decodes an approver's answer to an ECDH message (shape only; proofs checked after). */
export function decodeEcdhAnswer(v: unknown): EcdhAnswer {
  const o = expectObject(v, 'ecdh answer');
  if (o.error !== undefined) {
    expectObject(o, 'ecdh answer', ['error']);
    return { error: expectString(o.error, 'error', 300) };
  }
  expectObject(o, 'ecdh answer', ['partials']);
  if (!Array.isArray(o.partials) || o.partials.length === 0 || o.partials.length > MAX_ECDH_POINTS)
    throw new ProtocolError('malformed', `partials must be a list of 1..${MAX_ECDH_POINTS}`);
  return {
    partials: o.partials.map((x, i) => {
      const e = expectObject(x, `partials[${i}]`, ['identifier', 'partial', 'proof']);
      const proof = expectObject(e.proof, `partials[${i}].proof`, ['c', 'z']);
      return {
        identifier: expectHex(e.identifier, `partials[${i}].identifier`, undefined, 64),
        partial: expectHex(e.partial, `partials[${i}].partial`, undefined, 66),
        proof: {
          c: expectHex(proof.c, `partials[${i}].proof.c`, undefined, 64),
          z: expectHex(proof.z, `partials[${i}].proof.z`, undefined, 64),
        },
      };
    }),
  };
}

export interface ImportResultMessage {
  v: 1;
  type: 'import-result';
  groupId: string;
  ok: boolean;
  reason?: string;
}

/** The importer's split of an existing key: this member's share, sent over the encrypted channel. */
export interface ImportShareMessage {
  v: 1;
  type: 'import-share';
  groupId: string;
  /** The group's public key package (JSON form). */
  publicPackage: Record<string, unknown>;
  /** Hex SerializeScalar of the member's share. */
  share: string;
}

/** One step of a key ceremony (refresh) that every member runs once the request is approved. */
export interface CeremonyMessage {
  v: 1;
  type: 'ceremony';
  groupId: string;
  requestId: string;
  /** Hex of 32 random bytes chosen by the member who starts it. */
  session: string;
  /** `status` asks a participant where it stands on the session (see shared/protocol/commit.ts). */
  step: 'start' | 'round1' | 'echo' | 'round2' | 'done' | 'abort' | 'status';
  payload: Record<string, unknown>;
}

export function decodeRoster(v: unknown): RosterMessage {
  const o = expectObject(v, 'roster', [
    'v',
    'type',
    'groupId',
    'name',
    'threshold',
    'size',
    'scheme',
    'creator',
    'createdAt',
    'members',
    'importedKey',
  ]);
  const size = expectInt(o.size, 'size', 2, 50);
  if (!Array.isArray(o.members) || o.members.length > size)
    throw new ProtocolError('malformed', 'members must be a list of at most size');
  const roster: RosterMessage = {
    v: 1,
    type: 'roster',
    groupId: expectHex(o.groupId, 'groupId', 32),
    name: expectString(o.name, 'name', 64),
    threshold: expectInt(o.threshold, 'threshold', 2, size),
    size,
    scheme: expectScheme(o.scheme),
    creator: expectString(o.creator, 'creator', PEER),
    createdAt: expectInt(o.createdAt, 'createdAt', 0, 2 ** 52),
    members: o.members.map((m, i) => {
      const e = expectObject(m, `members[${i}]`, ['index', 'peerId', 'name', 'addrs']);
      return {
        index: expectInt(e.index, 'index', 1, size),
        peerId: expectString(e.peerId, 'peerId', PEER),
        name: expectString(e.name, 'name', 64),
        addrs: expectStrings(e.addrs, 'addrs', 32, 512),
      };
    }),
  };
  if (o.importedKey !== undefined)
    roster.importedKey = expectHex(o.importedKey, 'importedKey', undefined, 66);
  return roster;
}

/** Strictly decodes a message on the group protocol. */
export function decodeGroupMessage(v: unknown): GroupMessage {
  const o = expectObject(v, 'message');
  if (o.v !== WIRE_VERSION)
    throw new ProtocolError('unsupported_version', `message version ${logSafe(o.v)}`);
  switch (o.type) {
    case 'roster':
      return decodeRoster(o);
    case 'hello':
      expectObject(o, 'hello', ['v', 'type', 'addrs']);
      return { v: 1, type: 'hello', addrs: expectStrings(o.addrs, 'addrs', 32, 512) };
    case 'confirm':
      expectObject(o, 'confirm', ['v', 'type', 'groupId', 'rosterHash']);
      return {
        v: 1,
        type: 'confirm',
        groupId: expectHex(o.groupId, 'groupId', 32),
        rosterHash: expectHex(o.rosterHash, 'rosterHash', 64),
      };
    case 'dkg': {
      expectObject(o, 'dkg', ['v', 'type', 'groupId', 'session', 'step', 'payload', 'attempt']);
      if (o.step !== 'round1' && o.step !== 'echo' && o.step !== 'round2' && o.step !== 'done')
        throw new ProtocolError('malformed', 'unknown dkg step');
      const dkg: Extract<GroupMessage, { type: 'dkg' }> = {
        v: 1,
        type: 'dkg',
        groupId: expectHex(o.groupId, 'groupId', 32),
        session: expectHex(o.session, 'session', 64),
        step: o.step,
        payload: expectObject(o.payload, 'payload'),
      };
      if (o.attempt !== undefined)
        dkg.attempt = expectInt(o.attempt, 'attempt', 0, MAX_DKG_ATTEMPTS - 1);
      return dkg;
    }
    case 'statements':
      expectObject(o, 'statements', ['v', 'type', 'items']);
      if (!Array.isArray(o.items) || o.items.length > 1000)
        throw new ProtocolError('malformed', 'items must be a list of at most 1000');
      return { v: 1, type: 'statements', items: o.items.map(decodeSigned) };
    case 'nonces': {
      expectObject(o, 'nonces', ['v', 'type', 'groupId', 'epoch', 'replace', 'commitments']);
      if (!Array.isArray(o.commitments) || o.commitments.length > 64)
        throw new ProtocolError('malformed', 'too many commitments');
      if (typeof o.replace !== 'boolean')
        throw new ProtocolError('malformed', 'replace must be a boolean');
      return {
        v: 1,
        type: 'nonces',
        groupId: expectHex(o.groupId, 'groupId', 32),
        epoch: expectInt(o.epoch, 'epoch', 0, 2 ** 31),
        replace: o.replace,
        commitments: o.commitments.map((c, i) => expectObject(c, `commitments[${i}]`)),
      };
    }
    case 'sign': {
      expectObject(o, 'sign', [
        'v',
        'type',
        'groupId',
        'requestId',
        'commitments',
        'approvals',
        'part',
      ]);
      if (!Array.isArray(o.commitments) || o.commitments.length > 50)
        throw new ProtocolError('malformed', 'too many commitments');
      if (o.approvals !== undefined && (!Array.isArray(o.approvals) || o.approvals.length > 50))
        throw new ProtocolError('malformed', 'too many approvals');
      const sign: Extract<GroupMessage, { type: 'sign' }> = {
        v: 1,
        type: 'sign',
        groupId: expectHex(o.groupId, 'groupId', 32),
        requestId: expectHex(o.requestId, 'requestId', 32),
        commitments: o.commitments.map((c, i) => {
          const e = expectObject(c, `commitments[${i}]`, ['peerId', 'commitment']);
          return {
            peerId: expectString(e.peerId, 'peerId', PEER),
            commitment: expectObject(e.commitment, 'commitment'),
          };
        }),
      };
      if (Array.isArray(o.approvals)) sign.approvals = o.approvals.map(decodeSigned);
      if (o.part !== undefined) sign.part = expectInt(o.part, 'part', 1, MAX_SIGN_PARTS - 1);
      return sign;
    }
    case 'ecdh': {
      expectObject(o, 'ecdh', ['v', 'type', 'groupId', 'requestId', 'approvals']);
      if (o.approvals !== undefined && (!Array.isArray(o.approvals) || o.approvals.length > 50))
        throw new ProtocolError('malformed', 'too many approvals');
      const ecdh: EcdhMessage = {
        v: 1,
        type: 'ecdh',
        groupId: expectHex(o.groupId, 'groupId', 32),
        requestId: expectHex(o.requestId, 'requestId', 32),
      };
      if (Array.isArray(o.approvals)) ecdh.approvals = o.approvals.map(decodeSigned);
      return ecdh;
    }
    case 'audit':
      expectObject(o, 'audit', ['v', 'type', 'groupId', 'entries']);
      if (!Array.isArray(o.entries) || o.entries.length > 500)
        throw new ProtocolError('malformed', 'entries must be a list of at most 500');
      return {
        v: 1,
        type: 'audit',
        groupId: expectHex(o.groupId, 'groupId', 32),
        entries: o.entries.map((e, i) => expectObject(e, `entries[${i}]`)),
      };
    case 'audit-heads':
      expectObject(o, 'audit-heads', ['v', 'type', 'groupId']);
      return { v: 1, type: 'audit-heads', groupId: expectHex(o.groupId, 'groupId', 32) };
    case 'audit-want':
      expectObject(o, 'audit-want', ['v', 'type', 'groupId']);
      return { v: 1, type: 'audit-want', groupId: expectHex(o.groupId, 'groupId', 32) };
    case 'import-result': {
      expectObject(o, 'import-result', ['v', 'type', 'groupId', 'ok', 'reason']);
      if (typeof o.ok !== 'boolean') throw new ProtocolError('malformed', 'ok must be a boolean');
      if (o.reason !== undefined && (typeof o.reason !== 'string' || o.reason.length > 500))
        throw new ProtocolError('malformed', 'reason must be a string of at most 500 characters');
      const out: ImportResultMessage = {
        v: 1,
        type: 'import-result',
        groupId: expectHex(o.groupId, 'groupId', 32),
        ok: o.ok,
      };
      if (o.reason !== undefined) out.reason = o.reason as string;
      return out;
    }
    case 'import-share':
      expectObject(o, 'import-share', ['v', 'type', 'groupId', 'publicPackage', 'share']);
      return {
        v: 1,
        type: 'import-share',
        groupId: expectHex(o.groupId, 'groupId', 32),
        publicPackage: expectObject(o.publicPackage, 'publicPackage'),
        share: expectHex(o.share, 'share', undefined, 64),
      };
    case 'ceremony': {
      expectObject(o, 'ceremony', [
        'v',
        'type',
        'groupId',
        'requestId',
        'session',
        'step',
        'payload',
      ]);
      const steps = ['start', 'round1', 'echo', 'round2', 'done', 'abort', 'status'];
      if (typeof o.step !== 'string' || !steps.includes(o.step))
        throw new ProtocolError('malformed', 'unknown ceremony step');
      return {
        v: 1,
        type: 'ceremony',
        groupId: expectHex(o.groupId, 'groupId', 32),
        requestId: expectHex(o.requestId, 'requestId', 32),
        session: expectHex(o.session, 'session', 64),
        step: o.step as CeremonyMessage['step'],
        payload: expectObject(o.payload, 'payload'),
      };
    }
    default:
      throw new ProtocolError('malformed', `unknown message type ${logSafe(o.type)}`);
  }
}

export function decodeJoinRequest(v: unknown): JoinRequest {
  const o = expectObject(v, 'join', ['v', 'type', 'groupId', 'token', 'name', 'addrs']);
  if (o.v !== WIRE_VERSION)
    throw new ProtocolError('unsupported_version', `join version ${logSafe(o.v)}`);
  if (o.type !== 'join') throw new ProtocolError('malformed', 'expected a join message');
  return {
    v: 1,
    type: 'join',
    groupId: expectHex(o.groupId, 'groupId', 32),
    token: expectHex(o.token, 'token', 64),
    name: expectString(o.name, 'name', 64),
    addrs: expectStrings(o.addrs, 'addrs', 32, 512),
  };
}
