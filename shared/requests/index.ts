// The registry of request kinds: one module per kind (schema, card, policy), and the checks every
// request gets when it is received, before it is stored or shown. Adding a kind means one file in
// this folder and one line in REQUEST_KINDS (plus its executor in the node).
import { hexToBytes } from '@noble/hashes/utils.js';
import { MAX_EXPIRY_SEC, MIN_EXPIRY_SEC } from '../policy/policy.js';
import { isLowerHex } from '../protocol/fields.js';
import type { RequestBody } from '../protocol/wire.js';
import { memberOf, show } from './fields.js';
import { DO_NOT_APPROVE_UNREADABLE } from './words.js';
import { policy, type PolicyParams } from './policy.js';
import { reconstruct, type ReconstructParams } from './reconstruct.js';
import { refresh, type RefreshParams } from './refresh.js';
import { repair, type RepairParams } from './repair.js';
import { reshare, type ReshareParams } from './reshare.js';
import { sign, type SignParams } from './sign.js';
import { ssh, type SshParams } from './ssh.js';
import { age, type AgeParams } from './age.js';
import { x509, type X509Params } from './x509.js';
import { psbt, type PsbtParams } from './psbt.js';
import { nostr, type NostrParams } from './nostr.js';
import {
  RequestParamError,
  type GroupContext,
  type Execution,
  type KindOutput,
  type RequestArtifact,
  type RequestCard,
  type RequestContext,
  type RequestKind,
  type RequestKindModule,
} from './types.js';

export * from './types.js';
export type { SignParams, RefreshParams, ReshareParams, RepairParams, ReconstructParams };
export type { SshParams, AgeParams, X509Params, PsbtParams, NostrParams };
export type { PolicyParams };
export type { Newcomer } from './reshare.js';
/** Checks a newcomer as a reshare or repair will carry it (for the node to check a join with). */
export { newcomer as parseNewcomer } from './reshare.js';
export type { ReconstructOperation } from './reconstruct.js';
export { exposureSummary } from './reconstruct.js';
export { DO_NOT_APPROVE_UNREADABLE, REFRESH_AFTER_REPAIR } from './words.js';
export { fingerprintOf, peerIdKey, MAX_GROUP_SIZE } from './fields.js';

/** Each kind's parameters, by kind. */
export interface ParamsOf {
  sign: SignParams;
  refresh: RefreshParams;
  reshare: ReshareParams;
  repair: RepairParams;
  reconstruct: ReconstructParams;
  policy: PolicyParams;
  ssh: SshParams;
  age: AgeParams;
  x509: X509Params;
  psbt: PsbtParams;
  nostr: NostrParams;
}

/** Parameters of any kind, tagged with their kind. */
export type AnyParams = { [K in RequestKind]: { kind: K; params: ParamsOf[K] } }[RequestKind];

/** The registry: one module per request kind. */
export const REQUEST_KINDS: { readonly [K in RequestKind]: RequestKindModule<ParamsOf[K]> } = {
  sign,
  refresh,
  reshare,
  repair,
  reconstruct,
  policy,
  ssh,
  age,
  x509,
  psbt,
  nostr,
};

/** Every kind, in the order policies list them. */
export const KINDS: readonly RequestKind[] = [
  'sign',
  'refresh',
  'reshare',
  'repair',
  'reconstruct',
  'policy',
  'ssh',
  'age',
  'x509',
  'psbt',
  'nostr',
];

/**
 * The uses of the key beyond signing raw bytes: each signs (or decrypts with) the group's key for
 * one standard tool, so a policy treats them as signing (see shared/policy).
 */
export const USE_KINDS: readonly RequestKind[] = ['ssh', 'age', 'x509', 'psbt', 'nostr'];

/** How far a member's clock may be ahead of this node's before its request is refused. */
/**
 * How many requests one member may have open (not yet done, denied, expired or failed) in a group
 * at a time. Every member stores and shows each request, so a member that floods them is held to
 * this many: the rest are refused on receipt until some close, and its own node refuses to make
 * more. Generous for real use (a batch of certificates), small enough to keep inboxes usable.
 */
export const MAX_OPEN_REQUESTS_PER_MEMBER = 100;

export const CLOCK_SKEW_MS = 5 * 60 * 1000;

export function isRequestKind(k: unknown): k is RequestKind {
  return typeof k === 'string' && Object.hasOwn(REQUEST_KINDS, k);
}

function moduleOf(kind: unknown): RequestKindModule {
  if (!isRequestKind(kind))
    throw new RequestParamError('bad_request', 'kind', `kind: not a request kind: ${show(kind)}`);
  return REQUEST_KINDS[kind] as RequestKindModule;
}

/** The context for one request: the group's, plus its author and the policy hash it names. */
export function requestContext(
  body: Pick<RequestBody, 'createdBy' | 'policy'>,
  group: GroupContext,
): RequestContext {
  return { ...group, author: body.createdBy, policyHash: body.policy };
}

/** Strictly parses a request's message as its kind; throws RequestParamError. */
export function parseRequest<K extends RequestKind>(
  kind: K,
  message: Uint8Array,
  ctx: RequestContext,
): ParamsOf[K];
export function parseRequest(kind: string, message: Uint8Array, ctx: RequestContext): unknown;
export function parseRequest(kind: string, message: Uint8Array, ctx: RequestContext): unknown {
  return guard(() => {
    const mod = moduleOf(kind);
    checkScheme(mod, ctx);
    return mod.parse(message, ctx);
  });
}

/**
 * Why a use's parameters are beyond the limits the group's policy sets for it, or undefined. A
 * policy change's new limits are checked here too, by each use's own schema.
 */
export function beyondLimits(
  kind: string,
  params: unknown,
  ctx: RequestContext,
): string | undefined {
  if (kind === 'policy') {
    const limits = (params as PolicyParams).policy?.limits ?? {};
    for (const [k, v] of Object.entries(limits)) {
      const mod = isRequestKind(k) ? REQUEST_KINDS[k] : undefined;
      if (v === false || !mod?.limits) continue;
      try {
        mod.limits.validate(v);
      } catch (e) {
        // The use's own message already names the field (limits.psbt.maxSendSats: …).
        const why = e instanceof Error ? e.message : String(e);
        return why.startsWith(`limits.${k}`) ? why : `limits.${k}: ${why}`;
      }
    }
    return undefined;
  }
  const limits = (ctx.policy?.limits as Record<string, unknown> | undefined)?.[kind];
  const mod = isRequestKind(kind) ? (REQUEST_KINDS[kind] as RequestKindModule) : undefined;
  if (limits === undefined || limits === false || !mod?.limits) return undefined;
  return mod.limits.check(params, mod.limits.validate(limits), ctx);
}

/**
 * Whether a request's requester may not count towards its approvals: its use's limits say so
 * (an SSH certificate under `limits.ssh.requesterCounts: false`). False when unreadable.
 */
export function requesterExcluded(kind: string, message: Uint8Array, ctx: RequestContext): boolean {
  const limits = (ctx.policy?.limits as Record<string, unknown> | undefined)?.[kind];
  const mod = isRequestKind(kind) ? (REQUEST_KINDS[kind] as RequestKindModule) : undefined;
  if (limits === undefined || limits === false || !mod?.limits?.requesterExcluded) return false;
  try {
    return mod.limits.requesterExcluded(mod.read(message, ctx), mod.limits.validate(limits));
  } catch {
    return false;
  }
}

/** Each use's limits in a policy, in words (one line per bound), for the policy's description. */
export function describeLimits(limits: Record<string, unknown> | undefined): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(limits ?? {})) {
    const mod = isRequestKind(k) ? (REQUEST_KINDS[k] as RequestKindModule) : undefined;
    if (v === false || !mod?.limits) continue;
    try {
      for (const line of mod.limits.describe(mod.limits.validate(v)))
        out.push(`${line[0]!.toUpperCase()}${line.slice(1)}${/[.!?]$/.test(line) ? '' : '.'}`);
    } catch (e) {
      out.push(`The limits for ${mod.policy.noun} cannot be read: ${(e as Error).message}`);
    }
  }
  return out;
}

/** A kind made for other schemes is refused before its bytes are read. */
function checkScheme(mod: RequestKindModule, ctx: RequestContext): void {
  if (mod.schemes && !mod.schemes.includes(ctx.scheme))
    throw new RequestParamError(
      'bad_request',
      'kind',
      `kind: ${mod.policy.noun} needs a ${mod.schemes.join(' or ')} group, and ${ctx.groupName} is ${ctx.scheme}`,
    );
}

/** What the group computes for a request (its signatures, an ECDH, or a ceremony); throws RequestParamError. */
export function executionOf(kind: string, message: Uint8Array, ctx: RequestContext): Execution {
  return guard(() => {
    const mod = moduleOf(kind);
    if (!mod.execution) return { op: 'ceremony' } as const;
    return mod.execution(mod.read(message, ctx), ctx);
  });
}

/** How a kind is carried out, without reading a request ('sign' for raw signing and the uses). */
export function opOfKind(kind: string): Execution['op'] {
  if (!isRequestKind(kind)) return 'ceremony';
  if (kind === 'sign' || kind === 'ssh' || kind === 'x509' || kind === 'psbt' || kind === 'nostr')
    return 'sign';
  if (kind === 'age') return 'ecdh';
  return 'ceremony';
}

/**
 * How one request is carried out: its kind's way, except that a 'nostr' request is an ECDH when
 * its bytes open a NIP-44 conversation (and a signature when they hold an event).
 */
export function opOfRequest(
  kind: string,
  message: Uint8Array,
  ctx: RequestContext,
): Execution['op'] {
  const op = opOfKind(kind);
  if (kind !== 'nostr') return op;
  try {
    return executionOf(kind, message, ctx).op;
  } catch {
    return op;
  }
}

/** The requester's finished product of a done request; throws RequestParamError. */
export function resultOf(
  kind: string,
  message: Uint8Array,
  output: KindOutput,
  ctx: RequestContext,
): RequestArtifact | undefined {
  return guard(() => {
    const mod = moduleOf(kind);
    return mod.result ? mod.result(mod.read(message, ctx), output, ctx) : undefined;
  });
}

/**
 * The parameters' shape only, without checking them against the roster as it is now (for showing
 * or running a request that was valid when received); throws RequestParamError.
 */
export function readRequest<K extends RequestKind>(
  kind: K,
  message: Uint8Array,
  ctx: RequestContext,
): ParamsOf[K];
export function readRequest(kind: string, message: Uint8Array, ctx: RequestContext): unknown;
export function readRequest(kind: string, message: Uint8Array, ctx: RequestContext): unknown {
  return guard(() => moduleOf(kind).read(message, ctx));
}

/** Anything unexpected from a check (a bug, odd context) is still a RequestParamError. */
function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RequestParamError) throw e;
    throw new RequestParamError(
      'bad_params',
      'message',
      `message: cannot be read (${String((e as Error)?.message ?? e).slice(0, 200)})`,
    );
  }
}

function maxExpirySec(ctx: GroupContext): number {
  const m = (ctx.policy as { maxExpirySec?: unknown } | undefined)?.maxExpirySec;
  return typeof m === 'number' &&
    Number.isSafeInteger(m) &&
    m >= MIN_EXPIRY_SEC &&
    m <= MAX_EXPIRY_SEC
    ? m
    : MAX_EXPIRY_SEC;
}

function refuse(field: string, message: string): never {
  throw new RequestParamError('bad_request', field, `${field}: ${message}`);
}

/**
 * Checks every kind shares, on the body: its group, a current member as author, and an expiry
 * that cannot outlive the policy's maximum whatever `createdAt` claims (measured from when this
 * node received it). Throws RequestParamError('bad_request').
 */
export function checkRequestBody(
  body: RequestBody,
  ctx: GroupContext & { receivedAt: number },
): void {
  if (body.groupId !== ctx.groupId)
    refuse('groupId', `must be ${ctx.groupId}, got ${show(body.groupId)}`);
  if (!isRequestKind(body.kind)) refuse('kind', `not a request kind: ${show(body.kind)}`);
  if (!memberOf(ctx, body.createdBy))
    refuse('createdBy', `${show(body.createdBy)} is not a member of ${ctx.groupName}`);
  const { createdAt, expiresAt } = body;
  for (const [f, v] of [
    ['createdAt', createdAt],
    ['expiresAt', expiresAt],
  ] as const)
    if (!Number.isSafeInteger(v) || v < 0) refuse(f, `must be a time in ms, got ${show(v)}`);
  if (expiresAt <= createdAt)
    refuse('expiresAt', `must be after createdAt (${createdAt}), got ${expiresAt}`);
  if (createdAt > ctx.receivedAt + CLOCK_SKEW_MS)
    refuse(
      'createdAt',
      `is ${Math.round((createdAt - ctx.receivedAt) / 1000)} s in the future (${createdAt})`,
    );
  const max = maxExpirySec(ctx);
  const latest = ctx.receivedAt + max * 1000 + CLOCK_SKEW_MS;
  if (expiresAt > latest)
    refuse(
      'expiresAt',
      `${expiresAt} is more than the policy's ${max} s after this request arrived (${ctx.receivedAt})`,
    );
  if (!isLowerHex(body.message)) refuse('message', 'must be lowercase hex');
}

export type IncomingVerdict =
  | { ok: true; params: AnyParams }
  | { ok: false; code: RequestParamError['code']; field: string; message: string };

/**
 * The single check a node runs on a request it receives, before storing or showing it: the
 * body-level checks and the kind's strict schema against the group as it is now. Never throws.
 */
export function validateIncomingRequest(
  body: RequestBody,
  ctx: GroupContext & { receivedAt: number },
): IncomingVerdict {
  try {
    checkRequestBody(body, ctx);
    const rctx = requestContext(body, ctx);
    const params = parseRequest(body.kind, hexToBytes(body.message), rctx);
    const beyond = guard(() => beyondLimits(body.kind, params, rctx));
    if (beyond !== undefined)
      throw new RequestParamError('bad_request', 'policy', `policy: ${beyond}`);
    return { ok: true, params: { kind: body.kind, params } as AnyParams };
  } catch (e) {
    if (e instanceof RequestParamError)
      return { ok: false, code: e.code, field: e.field, message: e.message };
    return {
      ok: false,
      code: 'bad_request',
      field: 'request',
      message: `request: cannot be checked (${String((e as Error)?.message ?? e).slice(0, 200)})`,
    };
  }
}

export interface DecodeOptions {
  /**
   * Also check the request against the group as it is now (default true): a pending request that
   * no longer fits (its epoch passed, a member it removes is gone) gets a warning saying why. Pass
   * false for finished requests, whose roster has since changed as they intended.
   */
  current?: boolean;
}

/** The card of a request that cannot be shown. */
export function invalidCard(kind: string, groupName: string, reason: string): RequestCard {
  const k = isRequestKind(kind) ? kind : 'request';
  return {
    kind: String(kind).slice(0, 40),
    title: `A ${k} request for “${groupName}” that cannot be shown`,
    summary: `This request cannot be shown: ${reason}`,
    fields: [],
    danger: true,
    invalid: reason,
    warnings: [DO_NOT_APPROVE_UNREADABLE],
  };
}

/**
 * What the approver must see, decoded from the request's exact bytes. Never throws: bad data gives
 * a card saying "this request cannot be shown: <reason>".
 */
export function decodeRequest(
  kind: string,
  message: Uint8Array,
  ctx: RequestContext,
  options: DecodeOptions = {},
): RequestCard {
  const groupName = typeof ctx?.groupName === 'string' ? ctx.groupName : 'this group';
  try {
    const mod = moduleOf(kind);
    const params = mod.read(message, ctx);
    const card = mod.decode(params, ctx);
    if (options.current ?? true) {
      const warnings = [...(card.warnings ?? [])];
      try {
        mod.parse(message, ctx);
      } catch (e) {
        warnings.unshift(
          `It does not fit the group as it is now: ${e instanceof RequestParamError ? e.message : String(e)}`,
        );
      }
      const from = (params as { fromEpoch?: unknown }).fromEpoch;
      if (typeof from === 'number' && from !== ctx.epoch)
        warnings.unshift(
          `It was made for epoch ${from}, but the group is at epoch ${ctx.epoch} now: it cannot run.`,
        );
      if (warnings.length) card.warnings = warnings;
    }
    return card;
  } catch (e) {
    const reason = e instanceof RequestParamError ? e.message : `cannot be read (${String(e)})`;
    return invalidCard(String(kind), groupName, reason.slice(0, 300));
  }
}

/** decodeRequest for a signed request body (message in hex). Never throws. */
export function decodeRequestBody(
  body: RequestBody,
  group: GroupContext,
  options: DecodeOptions = {},
): RequestCard {
  try {
    return decodeRequest(body.kind, hexToBytes(body.message), requestContext(body, group), options);
  } catch (e) {
    return invalidCard(
      String(body?.kind),
      group?.groupName ?? 'this group',
      String(e).slice(0, 300),
    );
  }
}
