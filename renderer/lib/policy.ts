// A group's policy as the UI reads it, puts into words, compares and writes. The node checks every
// policy itself (shared/policy, which the renderer may not import); this only has to read the one
// the node reports without trusting its shape, and write a complete one for a proposal.
import type { RequestKind } from '../../shared/api/index.js';

/** Every request kind, in the order the node lists them. */
export const POLICY_KINDS: readonly RequestKind[] = [
  'sign',
  'refresh',
  'reshare',
  'repair',
  'reconstruct',
  'policy',
];

/** The kinds a policy switches on or off one by one (reconstruct has its own switch). */
export const SWITCHABLE: readonly RequestKind[] = ['sign', 'refresh', 'reshare', 'repair'];

export interface PolicyRules {
  v: 1;
  allowedKinds: RequestKind[];
  approvals: Partial<Record<RequestKind, number>>;
  policyChange: 'threshold' | 'all';
  defaultExpirySec: number;
  maxExpirySec: number;
  allowReconstruct: boolean;
  messagePrefixes: string[];
  /** Signing waits, after a repair, until a refresh (the lost device's share still works). */
  refreshAfterRepair?: boolean;
}

/** The uses of the key: they sign (or decrypt) for a standard tool, and a policy treats them as signing. */
export const USES: readonly RequestKind[] = ['ssh', 'age', 'x509', 'psbt', 'nostr'];

/** What each kind of request does, as a custodian would say it. */
export const KIND_LABELS: Record<RequestKind, string> = {
  sign: 'Signing messages',
  refresh: 'Refreshing the shares',
  reshare: 'Changing members or the number of approvals',
  repair: 'Replacing a lost device',
  reconstruct: 'Reconstructing the whole key',
  policy: 'Changing this policy',
  ssh: 'SSH logins, certificates and signatures',
  age: 'Decrypting age files',
  x509: 'Issuing X.509 certificates',
  psbt: 'Signing Bitcoin transactions',
  nostr: 'Signing Nostr events',
};

/** The limits the node applies, so a form can say what is wrong before sending. */
export const POLICY_LIMITS = {
  minExpirySec: 10,
  maxExpirySec: 30 * 24 * 3600,
  maxPrefixes: 32,
  maxPrefixChars: 200,
} as const;

const isKind = (k: unknown): k is RequestKind =>
  typeof k === 'string' && (POLICY_KINDS as readonly string[]).includes(k);

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** The policy the node reported, or undefined when it is not one this UI can read. */
export function readPolicy(raw: unknown): PolicyRules | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const p = raw as Record<string, unknown>;
  if (p.v !== 1 || !Array.isArray(p.allowedKinds) || !p.allowedKinds.every(isKind))
    return undefined;
  if (p.approvals === null || typeof p.approvals !== 'object' || Array.isArray(p.approvals))
    return undefined;
  const approvals: Partial<Record<RequestKind, number>> = {};
  for (const [k, v] of Object.entries(p.approvals as Record<string, unknown>)) {
    if (!isKind(k) || !isCount(v)) return undefined;
    approvals[k] = v;
  }
  if (p.policyChange !== 'threshold' && p.policyChange !== 'all') return undefined;
  if (!isCount(p.defaultExpirySec) || !isCount(p.maxExpirySec)) return undefined;
  if (typeof p.allowReconstruct !== 'boolean') return undefined;
  if (!Array.isArray(p.messagePrefixes) || !p.messagePrefixes.every((x) => typeof x === 'string'))
    return undefined;
  if (p.refreshAfterRepair !== undefined && typeof p.refreshAfterRepair !== 'boolean')
    return undefined;
  return {
    v: 1,
    allowedKinds: POLICY_KINDS.filter((k) => (p.allowedKinds as unknown[]).includes(k)),
    approvals,
    policyChange: p.policyChange,
    defaultExpirySec: p.defaultExpirySec,
    maxExpirySec: p.maxExpirySec,
    allowReconstruct: p.allowReconstruct,
    messagePrefixes: [...(p.messagePrefixes as string[])],
    ...(p.refreshAfterRepair === true ? { refreshAfterRepair: true } : {}),
  };
}

/**
 * Approvals a request of this kind needs: the policy's number, else T, always within T..N (the
 * node's rule, so what the UI says matches what the node enforces).
 */
export function approvalsNeeded(p: PolicyRules, kind: RequestKind, t: number, n: number): number {
  const want = kind === 'policy' ? (p.policyChange === 'all' ? n : t) : (p.approvals[kind] ?? t);
  return Math.min(n, Math.max(t, want));
}

export function allows(p: PolicyRules, kind: RequestKind): boolean {
  if (kind === 'policy') return true;
  if (kind === 'reconstruct') return p.allowReconstruct && p.allowedKinds.includes('reconstruct');
  return p.allowedKinds.includes(kind);
}

/** "1 day", "8 hours", "30 days", "90 seconds". */
export function duration(sec: number): string {
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of units)
    if (sec >= size && sec % size === 0) {
      const k = sec / size;
      return `${k} ${name}${k === 1 ? '' : 's'}`;
    }
  return `${sec} second${sec === 1 ? '' : 's'}`;
}

const quote = (xs: readonly string[]) => xs.map((x) => `“${x}”`).join(', ');

export interface PolicyRow {
  id: string;
  rule: string;
  value: string;
  /** True where the rule lets the whole key be put together: shown in the danger style. */
  danger?: boolean;
}

/** The policy as a table of rules, for a T-of-N group. */
export function policyRows(p: PolicyRules, t: number, n: number): PolicyRow[] {
  const of = (k: number) => (k === n ? `all ${n} members` : `${k} of ${n} members`);
  const rows: PolicyRow[] = SWITCHABLE.map((kind) => ({
    id: kind,
    rule: KIND_LABELS[kind],
    value: allows(p, kind) ? `Allowed; needs ${of(approvalsNeeded(p, kind, t, n))}` : 'Not allowed',
  }));
  const reconstruct = allows(p, 'reconstruct');
  rows.push({
    id: 'reconstruct',
    rule: KIND_LABELS.reconstruct,
    value: reconstruct
      ? `Allowed; needs ${of(approvalsNeeded(p, 'reconstruct', t, n))}. The key is exposed afterwards`
      : 'Not allowed',
    danger: reconstruct,
  });
  rows.push({
    id: 'policy',
    rule: KIND_LABELS.policy,
    value: `Needs ${of(approvalsNeeded(p, 'policy', t, n))}`,
  });
  rows.push({
    id: 'expiry',
    rule: 'Time to approve a request',
    value: `${duration(p.defaultExpirySec)} unless the proposer chooses otherwise; at most ${duration(p.maxExpirySec)}`,
  });
  rows.push({
    id: 'refresh-after-repair',
    rule: 'After a lost device is replaced',
    value: p.refreshAfterRepair
      ? 'Signing waits until the shares are refreshed (the lost device’s share stops working then)'
      : 'Signing goes on; a refresh is recommended (until then the lost device’s share still works)',
  });
  rows.push({
    id: 'prefixes',
    rule: 'Messages that may be signed',
    value:
      p.messagePrefixes.length === 0
        ? 'Any message'
        : `Only text starting with ${quote(p.messagePrefixes)}`,
  });
  return rows;
}

export interface PolicyChangeRow {
  id: string;
  rule: string;
  from: string;
  to: string;
  danger?: boolean;
}

/** The rules that read differently under `next` than under `current`. */
export function policyDiff(
  current: PolicyRules,
  next: PolicyRules,
  t: number,
  n: number,
): PolicyChangeRow[] {
  const before = policyRows(current, t, n);
  const after = policyRows(next, t, n);
  const out: PolicyChangeRow[] = [];
  for (const a of after) {
    const b = before.find((x) => x.id === a.id);
    if (b && b.value !== a.value)
      out.push({ id: a.id, rule: a.rule, from: b.value, to: a.value, danger: a.danger });
  }
  return out;
}
