// The parameters of a key-lifecycle request (refresh, reshare, repair, policy, reconstruct), read
// from the exact bytes every member approves, so the inbox can show what the request changes. A
// node that sends the card it decoded (RequestView.card, from shared/requests) is shown through
// that card instead; this reading remains for a policy change's rule-by-rule comparison and for
// views without a card. It only reads for display: the node validates with the registry.
import type { RequestView } from '../../shared/api/index.js';
import { readPolicy, type PolicyRules } from './policy.js';

export interface Newcomer {
  peerId: string;
  name: string;
}

export type Ceremony =
  | { kind: 'refresh'; fromEpoch: number }
  | {
      kind: 'reshare';
      fromEpoch: number;
      threshold: number;
      size: number;
      add: Newcomer[];
      /** Peer ids of the members removed. */
      remove: string[];
    }
  | { kind: 'repair'; fromEpoch: number; lost: string; newcomer: Newcomer }
  | {
      kind: 'reconstruct';
      fromEpoch: number;
      purpose: string;
      operation: 'export' | 'ecdsa-sign';
      requester: string;
      digest?: string;
    }
  | { kind: 'policy'; from: string; policy: PolicyRules };

function hexToText(hex: string): string | undefined {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) return undefined;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (_) {
    return undefined;
  }
}

const str = (v: unknown): v is string => typeof v === 'string';
const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const newcomer = (v: unknown): v is Newcomer =>
  v !== null && typeof v === 'object' && str((v as Newcomer).peerId) && str((v as Newcomer).name);

/** The request's parameters as JSON text, indented, or undefined when the message is not JSON. */
export function paramsText(r: RequestView): string | undefined {
  const text = hexToText(r.message);
  if (text === undefined) return undefined;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return undefined;
  }
}

/**
 * What a lifecycle request changes, read from its message; undefined for a signing request or a
 * message this UI cannot read (the card then shows the node's description and the raw bytes).
 */
export function readCeremony(r: RequestView): Ceremony | undefined {
  if (r.kind === 'sign') return undefined;
  const text = hexToText(r.message);
  if (text === undefined) return undefined;
  let p: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    p = parsed as Record<string, unknown>;
  } catch (_) {
    return undefined;
  }
  if (r.kind === 'policy') {
    const policy = readPolicy(p.policy);
    return policy && str(p.from) ? { kind: 'policy', from: p.from, policy } : undefined;
  }
  if (p.ceremony !== r.kind || !int(p.fromEpoch)) return undefined;
  const fromEpoch = p.fromEpoch;
  switch (r.kind) {
    case 'refresh':
      return { kind: 'refresh', fromEpoch };
    case 'reshare':
      if (!int(p.threshold) || !int(p.size)) return undefined;
      if (!Array.isArray(p.add) || !p.add.every(newcomer)) return undefined;
      if (!Array.isArray(p.remove) || !p.remove.every(str)) return undefined;
      return {
        kind: 'reshare',
        fromEpoch,
        threshold: p.threshold,
        size: p.size,
        add: p.add.map((a) => ({ peerId: a.peerId, name: a.name })),
        remove: [...p.remove],
      };
    case 'repair':
      if (!str(p.lost) || !newcomer(p.newcomer)) return undefined;
      return {
        kind: 'repair',
        fromEpoch,
        lost: p.lost,
        newcomer: { peerId: p.newcomer.peerId, name: p.newcomer.name },
      };
    case 'reconstruct':
      if (!str(p.purpose) || !str(p.requester)) return undefined;
      if (p.operation !== 'export' && p.operation !== 'ecdsa-sign') return undefined;
      return {
        kind: 'reconstruct',
        fromEpoch,
        purpose: p.purpose,
        operation: p.operation,
        requester: p.requester,
        ...(str(p.digest) ? { digest: p.digest } : {}),
      };
  }
  return undefined;
}
