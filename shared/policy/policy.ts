// A group's policy: which requests members may propose and how many approvals each needs. Every
// member evaluates the same policy; its hash is bound into each request, so they all agree on it.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJSON } from '../crypto/backup.js';

export type CeremonyKind = 'refresh' | 'reshare' | 'repair' | 'reconstruct' | 'policy';
/**
 * The uses of the key for standard tools. A policy treats them as signing: they are allowed when
 * signing is, need as many approvals as signing, and are refused while `messagePrefixes` limits
 * signing to some texts (they sign other things). `limits[use]` may forbid one (false) or bound it
 * (the use's own limits, checked by its module in shared/requests).
 */
export const USE_KINDS = ['ssh', 'age', 'x509', 'psbt', 'nostr'] as const;
export type UseKind = (typeof USE_KINDS)[number];
export type RequestKindAll = 'sign' | CeremonyKind | UseKind;
/** A use's limits, as canonical JSON, are at most this long. */
export const MAX_LIMITS_CHARS = 4096;

/** The kinds allowedKinds may list, in the order the policy lists them (the uses follow 'sign'). */
export const REQUEST_KINDS: readonly RequestKindAll[] = [
  'sign',
  'refresh',
  'reshare',
  'repair',
  'reconstruct',
  'policy',
];

export const POLICY_VERSION = 1;
/** Same bounds as the API's expiresInSec, so a policy can never promise what a request cannot ask. */
export const MIN_EXPIRY_SEC = 10;
export const MAX_EXPIRY_SEC = 30 * 24 * 3600;
export const MAX_PREFIXES = 32;
export const MAX_PREFIX_CHARS = 200;

export interface GroupPolicy {
  v: 1;
  /** Request kinds members may propose. 'policy' (changing the policy) is always allowed. */
  allowedKinds: RequestKindAll[];
  /** Approvals needed per kind, each ≥ the group threshold T and ≤ N; missing kinds need T. */
  approvals: Partial<Record<RequestKindAll, number>>;
  /** Policy changes need this many approvals: 'threshold' (T) or 'all' (N). */
  policyChange: 'threshold' | 'all';
  /** Default and maximum expiry of a request, seconds. */
  defaultExpirySec: number;
  maxExpirySec: number;
  /** Reconstruction of the key is allowed at all (default false). */
  allowReconstruct: boolean;
  /** For 'sign' requests whose message is UTF-8 text: if non-empty, the text must start with one of these prefixes. */
  messagePrefixes: string[];
  /**
   * After a repair, signing waits until the group has refreshed (a refresh or reshare), because
   * the lost device's share works until then. Absent means false; validatePolicy keeps it only
   * when true and policyHash drops a false one, so groups that never set it keep their hashes.
   */
  refreshAfterRepair?: boolean;
  /**
   * Per use: false forbids it; an object bounds it (checked by the use's module). Absent when
   * empty, so groups that never set it keep their hashes.
   */
  limits?: Partial<Record<UseKind, unknown>>;
}

export interface PolicyVerdict {
  allowed: boolean;
  /** Why not, as a sentence a custodian understands; absent when allowed. */
  reason?: string;
}

/** The payload of a 'policy' request: the hash of the policy it replaces, and the new policy. */
export interface PolicyChange {
  v: 1;
  from: string;
  policy: GroupPolicy;
}

export type PolicyErrorCode = 'bad_policy';

export class PolicyError extends Error {
  readonly code: PolicyErrorCode;
  /** The offending field's path ("approvals.sign", "messagePrefixes[3]"), for a UI to point at. */
  readonly field: string;
  constructor(code: PolicyErrorCode, field: string, message: string) {
    super(message);
    this.name = 'PolicyError';
    this.code = code;
    this.field = field;
  }
}

const FIELDS = [
  'v',
  'allowedKinds',
  'approvals',
  'policyChange',
  'defaultExpirySec',
  'maxExpirySec',
  'allowReconstruct',
  'messagePrefixes',
] as const;
/** Fields a policy may leave out (see GroupPolicy). */
const OPTIONAL_FIELDS = ['refreshAfterRepair', 'limits'] as const;

// Control characters and bidi overrides make a prefix (or a message) display as something else.
// eslint-disable-next-line no-control-regex
const DECEPTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The policy a group gets unless its creator chooses otherwise. */
export function defaultPolicy(): GroupPolicy {
  return {
    v: 1,
    allowedKinds: ['sign', 'refresh', 'reshare', 'repair', 'policy'],
    approvals: {},
    policyChange: 'threshold',
    defaultExpirySec: 24 * 3600,
    maxExpirySec: 30 * 24 * 3600,
    allowReconstruct: false,
    messagePrefixes: [],
  };
}

function bad(field: string, message: string): never {
  throw new PolicyError('bad_policy', field, message);
}

const show = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : String(v);
};

const isKind = (k: unknown): k is RequestKindAll =>
  typeof k === 'string' && (REQUEST_KINDS as readonly string[]).includes(k);
export const isUseKind = (k: unknown): k is UseKind =>
  typeof k === 'string' && (USE_KINDS as readonly string[]).includes(k);

/** The limits field's shape (each use's module checks its own part when a request arrives). */
function validateLimits(v: unknown): Partial<Record<UseKind, unknown>> | undefined {
  if (v === undefined) return undefined;
  if (!isPlainObject(v)) bad('limits', `limits must be an object, got ${show(v)}`);
  const out: Partial<Record<UseKind, unknown>> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!isUseKind(k)) bad(`limits.${k}`, `limits has unknown use "${k}"`);
    if (x === undefined) continue;
    if (x !== false && !isPlainObject(x))
      bad(`limits.${k}`, `limits.${k} must be false or an object, got ${show(x)}`);
    let json: string;
    try {
      json = canonicalJSON(x);
    } catch (e) {
      bad(`limits.${k}`, `limits.${k} is not plain JSON (${(e as Error).message})`);
    }
    if (json.length > MAX_LIMITS_CHARS)
      bad(`limits.${k}`, `limits.${k} is longer than ${MAX_LIMITS_CHARS} characters`);
    out[k] = JSON.parse(json) as unknown;
  }
  return Object.keys(out).length ? out : undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    bad(field, `${field} must be an integer in ${min}..${max}, got ${show(v)}`);
  return v;
}

function checkGroupSize(t: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) bad('size', `the group size must be ≥ 1, got ${n}`);
  if (!Number.isSafeInteger(t) || t < 1 || t > n)
    bad('threshold', `the group threshold must be an integer in 1..${n}, got ${t}`);
}

/**
 * Strictly checks a policy (from a file, the wire, or a form) for a T-of-N group and returns a
 * fresh copy with `allowedKinds` in REQUEST_KINDS order. Throws PolicyError('bad_policy') naming the
 * first offending field.
 */
export function validatePolicy(p: unknown, t: number, n: number): GroupPolicy {
  checkGroupSize(t, n);
  if (!isPlainObject(p)) bad('policy', `a policy must be an object, got ${show(p)}`);
  for (const k of Object.keys(p))
    if (![...FIELDS, ...OPTIONAL_FIELDS].includes(k as never))
      bad(k, `policy has unknown field "${k}"`);
  for (const k of FIELDS) if (p[k] === undefined) bad(k, `policy is missing "${k}"`);

  if (p.v !== POLICY_VERSION)
    bad('v', `policy version must be ${POLICY_VERSION}, got ${show(p.v)}`);

  if (!Array.isArray(p.allowedKinds))
    bad('allowedKinds', `allowedKinds must be a list, got ${show(p.allowedKinds)}`);
  const kinds = new Set<RequestKindAll>();
  p.allowedKinds.forEach((k: unknown, i: number) => {
    if (!isKind(k))
      bad(`allowedKinds[${i}]`, `allowedKinds[${i}] is not a request kind: ${show(k)}`);
    if (kinds.has(k)) bad(`allowedKinds[${i}]`, `allowedKinds lists "${k}" twice`);
    kinds.add(k);
  });
  // Said explicitly rather than implied, so what members read is what applies.
  if (!kinds.has('policy'))
    bad('allowedKinds', 'allowedKinds must include "policy": a group can always change its policy');

  if (!isPlainObject(p.approvals))
    bad('approvals', `approvals must be an object, got ${show(p.approvals)}`);
  const approvals: Partial<Record<RequestKindAll, number>> = {};
  for (const [k, v] of Object.entries(p.approvals)) {
    if (!isKind(k)) bad(`approvals.${k}`, `approvals has unknown request kind "${k}"`);
    // One rule for policy changes, not two that could disagree.
    if (k === 'policy')
      bad('approvals.policy', 'approvals.policy is not allowed: set policyChange instead');
    if (v === undefined) continue; // `{ sign: undefined }` is TypeScript for "missing"
    approvals[k] = int(v, `approvals.${k}`, t, n);
  }

  if (p.policyChange !== 'threshold' && p.policyChange !== 'all')
    bad('policyChange', `policyChange must be "threshold" or "all", got ${show(p.policyChange)}`);

  const maxExpirySec = int(p.maxExpirySec, 'maxExpirySec', MIN_EXPIRY_SEC, MAX_EXPIRY_SEC);
  const defaultExpirySec = int(
    p.defaultExpirySec,
    'defaultExpirySec',
    MIN_EXPIRY_SEC,
    MAX_EXPIRY_SEC,
  );
  if (defaultExpirySec > maxExpirySec)
    bad(
      'defaultExpirySec',
      `defaultExpirySec (${defaultExpirySec}) must not exceed maxExpirySec (${maxExpirySec})`,
    );

  if (typeof p.allowReconstruct !== 'boolean')
    bad(
      'allowReconstruct',
      `allowReconstruct must be true or false, got ${show(p.allowReconstruct)}`,
    );
  // Two switches for one decision must agree, or members could read the policy differently.
  if (p.allowReconstruct && !kinds.has('reconstruct'))
    bad(
      'allowReconstruct',
      'allowReconstruct is true but allowedKinds does not list "reconstruct"',
    );
  if (!p.allowReconstruct && kinds.has('reconstruct'))
    bad('allowedKinds', 'allowedKinds lists "reconstruct" but allowReconstruct is false');

  if (!Array.isArray(p.messagePrefixes))
    bad('messagePrefixes', `messagePrefixes must be a list, got ${show(p.messagePrefixes)}`);
  if (p.messagePrefixes.length > MAX_PREFIXES)
    bad(
      'messagePrefixes',
      `messagePrefixes may list at most ${MAX_PREFIXES}, got ${p.messagePrefixes.length}`,
    );
  const prefixes: string[] = [];
  p.messagePrefixes.forEach((x: unknown, i: number) => {
    const f = `messagePrefixes[${i}]`;
    if (typeof x !== 'string' || x.length === 0 || x.length > MAX_PREFIX_CHARS)
      bad(f, `${f} must be a string of 1..${MAX_PREFIX_CHARS} chars, got ${show(x)}`);
    // A lone surrogate has no UTF-8 form, so no message could ever match it.
    if (LONE_SURROGATE.test(x)) bad(f, `${f} is not valid Unicode text`);
    if (DECEPTIVE.test(x)) bad(f, `${f} contains control or direction-changing characters`);
    if (prefixes.includes(x)) bad(f, `messagePrefixes lists ${show(x)} twice`);
    prefixes.push(x);
  });

  if (p.refreshAfterRepair !== undefined && typeof p.refreshAfterRepair !== 'boolean')
    bad(
      'refreshAfterRepair',
      `refreshAfterRepair must be true or false, got ${show(p.refreshAfterRepair)}`,
    );

  const limits = validateLimits(p.limits);

  return {
    v: 1,
    allowedKinds: REQUEST_KINDS.filter((k) => kinds.has(k)),
    approvals,
    policyChange: p.policyChange,
    defaultExpirySec,
    maxExpirySec,
    allowReconstruct: p.allowReconstruct,
    messagePrefixes: prefixes,
    // Only when true: false and absent are one policy with one hash.
    ...(p.refreshAfterRepair === true ? { refreshAfterRepair: true } : {}),
    ...(limits ? { limits } : {}),
  };
}

/**
 * Hex SHA-256 of the policy's canonical JSON. Bound into every request: members whose policies
 * differ in any field compute different hashes and refuse each other's requests. `allowedKinds` is
 * taken in REQUEST_KINDS order and undefined approvals are dropped, so the hash names what the
 * policy says, not the order someone typed it in.
 */
export function policyHash(p: GroupPolicy): string {
  const approvals: Record<string, number> = {};
  for (const [k, v] of Object.entries(p.approvals)) if (v !== undefined) approvals[k] = v;
  const { refreshAfterRepair, limits, ...rest } = p;
  const canonical = {
    ...rest,
    ...(limits && Object.keys(limits).length ? { limits } : {}),
    ...(refreshAfterRepair === true ? { refreshAfterRepair } : {}),
    allowedKinds: REQUEST_KINDS.filter((k) => p.allowedKinds.includes(k)),
    approvals,
  };
  return bytesToHex(sha256(utf8ToBytes(canonicalJSON(canonical))));
}

/** Approvals a policy change needs, under the policy being replaced. */
export function policyChangeNeeds(old: GroupPolicy, t: number, n: number): number {
  return old.policyChange === 'all' ? n : t;
}

/**
 * Approvals a request of this kind needs: the policy's number, else T; always within T..N, so a
 * policy written for a larger group (before a reshare) can neither lock the group out nor go below T.
 */
export function approvalsNeeded(
  p: GroupPolicy,
  kind: RequestKindAll,
  t: number,
  n: number,
): number {
  const as = isUseKind(kind) ? 'sign' : kind;
  const want = as === 'policy' ? policyChangeNeeds(p, t, n) : (p.approvals[as] ?? t);
  return Math.min(n, Math.max(t, want));
}

const KIND_NOUN: Record<RequestKindAll, string> = {
  sign: 'signing',
  refresh: 'refreshing the shares',
  reshare: 'resharing (changing custodians or threshold)',
  repair: 'repairing a lost share',
  reconstruct: 'reconstructing the key',
  policy: 'changing the policy',
  ssh: 'SSH signing (logins, certificates, SSHSIG)',
  age: 'decrypting age files',
  x509: 'issuing X.509 certificates',
  psbt: 'signing Bitcoin transactions',
  nostr: 'signing Nostr events',
};

/** A use in two or three words, for policy texts. */
const USE_NAME: Record<UseKind, string> = {
  ssh: 'SSH',
  age: 'age decryption',
  x509: 'X.509 certificates',
  psbt: 'Bitcoin transactions',
  nostr: 'Nostr events',
};

function listWords(xs: string[]): string {
  return xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`;
}

function quoteList(xs: string[]): string {
  const q = xs.map((x) => JSON.stringify(x));
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} or ${q.at(-1)}`;
}

/** A duration in the largest whole unit: "24 hours", "30 days", "90 seconds" (a day reads as 24 hours). */
export function describeDuration(sec: number): string {
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of units)
    if (sec >= size && sec % size === 0 && !(name === 'day' && sec === size)) {
      const k = sec / size;
      return `${k} ${name}${k === 1 ? '' : 's'}`;
    }
  return `${sec} second${sec === 1 ? '' : 's'}`;
}

/** The message as text when it is valid UTF-8 without deceptive characters, else undefined. */
function messageText(message: Uint8Array): string | undefined {
  try {
    // ignoreBOM keeps a leading BOM in the text, so it cannot hide in front of a prefix.
    const s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(message);
    return DECEPTIVE.test(s) ? undefined : s;
  } catch {
    return undefined;
  }
}

/**
 * Whether the policy lets a member propose this request. Every member runs it on every request it
 * receives. A policy that is not valid for this T-of-N group (say, after a reshare shrank the group
 * below one of its approval counts) allows only a policy change, so the group can repair it but do
 * nothing else under rules that no longer fit.
 */
export function checkRequest(
  p: GroupPolicy,
  req: { kind: RequestKindAll; message: Uint8Array; expiresInSec: number },
  t: number,
  n: number,
): PolicyVerdict {
  const { kind } = req;
  if (!isKind(kind) && !isUseKind(kind))
    return { allowed: false, reason: `"${String(kind)}" is not a kind of request this app knows.` };
  try {
    checkGroupSize(t, n);
  } catch (e) {
    return { allowed: false, reason: `This group's size is not valid (${(e as Error).message}).` };
  }
  let policy: GroupPolicy;
  try {
    policy = validatePolicy(p, t, n);
  } catch (e) {
    if (kind !== 'policy') {
      const why = e instanceof PolicyError ? ` (${e.message})` : '';
      return {
        allowed: false,
        reason: `The group's policy is not valid for this group${why}; the group must approve a policy change first.`,
      };
    }
    policy = { ...defaultPolicy(), maxExpirySec: MAX_EXPIRY_SEC };
  }
  if (kind === 'reconstruct' && !policy.allowReconstruct)
    return {
      allowed: false,
      reason:
        "The group's policy does not allow reconstructing the key; the group must first approve a policy change that allows it.",
    };
  if (isUseKind(kind)) {
    if (!policy.allowedKinds.includes('sign'))
      return {
        allowed: false,
        reason: `The group's policy does not allow signing, so it does not allow ${KIND_NOUN[kind]}.`,
      };
    if (policy.limits?.[kind] === false)
      return { allowed: false, reason: `The group's policy does not allow ${KIND_NOUN[kind]}.` };
    if (policy.messagePrefixes.length > 0)
      return {
        allowed: false,
        reason: `The group's policy only allows signing text messages that start with ${quoteList(policy.messagePrefixes)}, so it does not allow ${KIND_NOUN[kind]}.`,
      };
  }
  // validatePolicy guarantees 'policy' is listed; a policy change is never refused for its kind.
  else if (!policy.allowedKinds.includes(kind))
    return { allowed: false, reason: `The group's policy does not allow ${KIND_NOUN[kind]}.` };
  const exp = req.expiresInSec;
  if (!Number.isSafeInteger(exp) || exp < MIN_EXPIRY_SEC)
    return {
      allowed: false,
      reason: `A request must stay open for at least ${MIN_EXPIRY_SEC} seconds.`,
    };
  if (exp > policy.maxExpirySec)
    return {
      allowed: false,
      reason: `The group's policy lets a request stay open for at most ${describeDuration(policy.maxExpirySec)}; this one asks for ${describeDuration(exp)}.`,
    };
  if (kind === 'sign' && policy.messagePrefixes.length > 0) {
    const allowed = quoteList(policy.messagePrefixes);
    const text = messageText(req.message);
    if (text === undefined)
      return {
        allowed: false,
        reason: `The group's policy only allows signing text messages that start with ${allowed}; this message is not plain text.`,
      };
    if (!policy.messagePrefixes.some((x) => text.startsWith(x)))
      return {
        allowed: false,
        reason: `The group's policy only allows signing messages that start with ${allowed}.`,
      };
  }
  return { allowed: true };
}

/** The policy in words, one line per rule, for the UI and the CLI. */
export function describePolicy(p: GroupPolicy, t: number, n: number): string[] {
  const of = (k: number) => (k === n ? `all ${n} members` : `${k} of ${n} members`);
  const lines: string[] = [];
  for (const kind of REQUEST_KINDS) {
    if (kind === 'policy' || kind === 'reconstruct' || !p.allowedKinds.includes(kind)) continue;
    const noun = KIND_NOUN[kind];
    lines.push(
      `${noun[0]!.toUpperCase()}${noun.slice(1)} needs the approval of ${of(approvalsNeeded(p, kind, t, n))}.`,
    );
  }
  const off = REQUEST_KINDS.filter(
    (k) => k !== 'reconstruct' && k !== 'policy' && !p.allowedKinds.includes(k),
  );
  if (off.length > 0) lines.push(`Not allowed: ${off.map((k) => KIND_NOUN[k]).join(', ')}.`);
  lines.push(
    p.allowReconstruct
      ? `Reconstructing the key is allowed with the approval of ${of(approvalsNeeded(p, 'reconstruct', t, n))}; it exposes the whole key on one device.`
      : 'Reconstructing the key is not allowed.',
  );
  lines.push(
    `Changing this policy needs the approval of ${of(policyChangeNeeds(p, t, n))}${p.policyChange === 'all' ? '' : ' (the threshold)'}.`,
  );
  lines.push(
    `Requests expire after ${describeDuration(p.defaultExpirySec)} unless the proposer chooses otherwise, at most ${describeDuration(p.maxExpirySec)}.`,
  );
  lines.push(
    p.messagePrefixes.length > 0
      ? `Only text messages that start with ${quoteList(p.messagePrefixes)} may be signed.`
      : 'Any message may be signed.',
  );
  // The uses follow signing (see USE_KINDS): said once, in short names.
  const forbidden = USE_KINDS.filter((k) => p.limits?.[k] === false);
  const open = USE_KINDS.filter((k) => !forbidden.includes(k));
  const bounded = open.filter((k) => p.limits?.[k] !== undefined);
  if (p.allowedKinds.includes('sign') && p.messagePrefixes.length === 0 && open.length > 0)
    lines.push(
      `Using the key for ${listWords(open.map((k) => USE_NAME[k]))} needs the same approvals as signing${bounded.length ? `, within the limits set for ${listWords(bounded.map((k) => USE_NAME[k]))}` : ''}.`,
    );
  if (forbidden.length > 0)
    lines.push(`Not allowed: using the key for ${listWords(forbidden.map((k) => USE_NAME[k]))}.`);
  if (p.refreshAfterRepair === true)
    lines.push(
      'After a repair, nothing is signed until the group has refreshed its shares (the lost device’s share works until then).',
    );
  return lines;
}

/**
 * Strictly checks the payload of a 'policy' request against the policy in force: it must name the
 * current policy's hash (so a change proposed against a stale policy is refused) and carry a valid
 * new policy. Returns the new policy; throws PolicyError('bad_policy').
 */
export function validatePolicyChange(
  v: unknown,
  current: GroupPolicy,
  t: number,
  n: number,
): GroupPolicy {
  if (!isPlainObject(v)) bad('change', `a policy change must be an object, got ${show(v)}`);
  for (const k of Object.keys(v))
    if (k !== 'v' && k !== 'from' && k !== 'policy')
      bad(k, `policy change has unknown field "${k}"`);
  if (v.v !== POLICY_VERSION)
    bad('v', `policy change version must be ${POLICY_VERSION}, got ${show(v.v)}`);
  if (v.from !== policyHash(current))
    bad('from', 'the policy change was proposed against a different policy than the one in force');
  return validatePolicy(v.policy, t, n);
}
