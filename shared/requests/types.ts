// The shape every request kind module has: its strict parameter schema, the card an approver sees,
// and what a group policy may say about it. Pure data in and out, so the node, the CLI, the
// renderer and the tests all use the same code.
import type { SchemeName } from '../crypto/suite.js';
import type { GroupPolicy } from '../policy/policy.js';
import type { RequestBody } from '../protocol/wire.js';

/** Every kind of request that exists (the registry in index.ts has one module per kind). */
export type RequestKind = RequestBody['kind'];

export type RequestParamErrorCode = 'bad_params' | 'bad_request';

/**
 * A request's parameters (or its body) are not exactly what its kind allows. `field` names the
 * offending field ("add[1].peerId", "expiresAt"); the message quotes the offending value, truncated.
 */
export class RequestParamError extends Error {
  readonly code: RequestParamErrorCode;
  readonly field: string;
  constructor(code: RequestParamErrorCode, field: string, message: string) {
    super(message);
    this.name = 'RequestParamError';
    this.code = code;
    this.field = field;
  }
}

/** A member of the group as the node knows it now. */
export interface ContextMember {
  peerId: string;
  name: string;
  /** Roster position (1-based); optional for callers that do not know it. */
  index?: number;
}

/** What validation and decoding need to know about the group, as plain data (shared stays pure). */
export interface GroupContext {
  groupId: string;
  groupName: string;
  scheme: SchemeName;
  threshold: number;
  size: number;
  epoch: number;
  /** The current roster: who may author requests, who may be removed or replaced. */
  members: ContextMember[];
  /** The policy in force on this node (for expiry bounds and a policy change's card). */
  policy: GroupPolicy;
  /** This node's peer id, so a card can say "you". */
  me?: string;
  /** Hex 33-byte key an ECDSA signature from a reconstruction verifies under (non-ed25519 groups). */
  ecdsaKey?: string;
  /**
   * Hex of the group key as its scheme encodes it, once the group has one: 33 bytes compressed
   * for secp256k1 and taproot (for taproot the untweaked internal key), 32 bytes for ed25519.
   */
  publicKey?: string;
}

/** A group context plus what one request's body says about itself. */
export interface RequestContext extends GroupContext {
  /** The request's author (body.createdBy). */
  author: string;
  /** The hex policy hash the request was made under (body.policy). */
  policyHash: string;
}

export type CardFieldKind = 'text' | 'fingerprint' | 'hex' | 'number' | 'epoch' | 'members';

/** A person shown on a card: a name is data from the network, the fingerprint is computed here. */
export interface CardPerson {
  name: string;
  peerId: string;
  fingerprint: string;
  /** What happens to them ('kept' when unchanged). */
  change?: 'added' | 'removed' | 'replaced' | 'requester';
  /** Whether this node knows them as a current member. */
  member: boolean;
}

export interface CardField {
  label: string;
  /** The value in words (a list of people is also given as text, for the CLI). */
  value: string;
  kind?: CardFieldKind;
  /** For kind 'members': the people, one by one. */
  people?: CardPerson[];
}

/** What an approver must see about a request, decoded by their own node from the exact bytes. */
export interface RequestCard {
  /** The request's kind as it claims it (a string: a card may describe an unknown kind). */
  kind: string;
  title: string;
  /** One sentence in plain words. */
  summary: string;
  fields: CardField[];
  /** Approving it exposes the key or otherwise cannot be undone safely. */
  danger?: boolean;
  warnings?: string[];
  /** Set when the request's bytes could not be read: why (the card then shows nothing else). */
  invalid?: string;
}

/** What a group policy may say about a kind, and what the kind needs to run. */
export interface KindPolicy {
  /** In words, for policy texts ("signing", "repairing a lost share"). */
  noun: string;
  /** Listed in defaultPolicy().allowedKinds. */
  allowedByDefault: boolean;
  /** A policy may forbid it through allowedKinds (a policy change is always allowed). */
  canBeForbidden: boolean;
  /** A policy may ask for more approvals than T through `approvals[kind]`. */
  approvalsConfigurable: boolean;
  /** Needs `allowReconstruct` in the policy. */
  needsReconstructEnabled: boolean;
  /** Who must be online to carry it out. */
  needsOnline: 'approvers' | 'all-members' | 'helpers-and-newcomer';
  /** Carrying it out exposes the whole key on one device. */
  exposesKey: boolean;
}

/** One signature the group makes for an approved request. */
export interface SignPart {
  message: Uint8Array;
  /**
   * Taproot groups: false signs BIP340 under the untweaked internal key (Nostr); the default
   * (true) signs under the BIP341 key-path output key, the group's bc1p address.
   */
  tweak?: boolean;
  /**
   * secp256k1 or taproot groups: a BIP340 signature (x-only key, even Y) instead of the group
   * scheme's own (Nostr on a secp256k1 group). Never tweaked.
   */
  bip340?: boolean;
}

/** What the group computes once a request is approved. */
export type Execution =
  /** FROST: one signature per part, in order. */
  | { op: 'sign'; parts: SignPart[] }
  /** Threshold ECDH: s·P for each encoded point P, combined by the requester only. */
  | { op: 'ecdh'; points: Uint8Array[] }
  /** refresh, reshare, repair, reconstruct, policy. */
  | { op: 'ceremony' };

/** What came out of an approved request, handed to the kind's result(). */
export type KindOutput = { signatures: Uint8Array[] } | { ecdh: Uint8Array[] };

/** A kind's finished product for the requester (a certificate, a signed PSBT, a signed event…). */
export interface RequestArtifact {
  /** A file name to save it as ("id_ed25519-cert.pub", "signed.psbt"). */
  name: string;
  mediaType: string;
  /** Set when the artifact is text (PEM, JSON, an OpenSSH line); else base64. */
  text?: string;
  base64?: string;
  /** Extra lines to show (the raw transaction hex, a verify command). */
  fields?: { label: string; value: string }[];
}

/** Per-kind bounds a group policy may set (stored in GroupPolicy.limits[kind]). */
export interface KindLimits<P> {
  /** Strictly checks the limits as a policy holds them; throws RequestParamError. */
  validate(v: unknown): unknown;
  /** Why these parameters are beyond the limits (a sentence), or undefined when within. */
  check(params: P, limits: unknown, ctx: RequestContext): string | undefined;
  /** The limits in words, for the policy screen and texts. */
  describe(limits: unknown): string[];
  /**
   * Whether the requester's own approval does not count for this request under these limits
   * (then T approvals of other members are needed, or all N when there are not T others).
   */
  requesterExcluded?(params: P, limits: unknown): boolean;
}

/** One request kind: adding a kind means one such module plus one registry line (and its executor). */
export interface RequestKindModule<P = unknown> {
  kind: RequestKind;
  /** Strictly parses the request's message; throws RequestParamError for anything not exactly right. */
  parse(message: Uint8Array, ctx: RequestContext): P;
  /**
   * The parameters' shape only (no check against the roster or epoch as they are now), for showing
   * a request that was valid when it was made (a finished reshare's removed members are gone).
   */
  read(message: Uint8Array, ctx: RequestContext): P;
  /** The approver's card. Names come from the context; a name in the message is shown as data. */
  decode(params: P, ctx: RequestContext): RequestCard;
  policy: KindPolicy;
  /** Group schemes this kind works for (absent: every scheme); others are refused on parse. */
  schemes?: readonly SchemeName[];
  /** What the group computes once it is approved (absent: a ceremony). */
  execution?(params: P, ctx: RequestContext): Execution;
  /** The requester's finished product, from what the group computed. */
  result?(params: P, output: KindOutput, ctx: RequestContext): RequestArtifact;
  limits?: KindLimits<P>;
}
