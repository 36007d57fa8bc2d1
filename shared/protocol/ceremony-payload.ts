// The ceremony payloads that carry a participant's words rather than its cryptography: the 'abort'
// of a refresh, reshare or repair (why its sender stopped) and the reconstruction requester's
// 'done' (where and when the key was exposed). Each is decoded strictly before anything records
// it: exact fields, unknown fields refused, bounded text; anything else is a ProtocolError naming
// the field. The text stays its sender's word: whoever shows it names who said it (logSafe).
import { expectObject, expectString } from './wire.js';

/** UTF-16 units of an abort's reason at most; abortReason cuts a longer one to fit. */
export const ABORT_REASON_MAX = 500;

/**
 * UTF-16 units of a reconstruction's exposure note at most: "key exposed on <name> at <time>
 * (<purpose>)" is about 110 units around the purpose, which is at most 500 code points (1000
 * units), so an honest note always fits.
 */
export const EXPOSED_MAX = 1200;

/**
 * `text` as an abort's reason: cut to ABORT_REASON_MAX (never between the halves of a surrogate
 * pair), and never empty. The sender calls it, so its own abort is never refused for its length.
 */
export function abortReason(text: string): string {
  if (text.length === 0) return 'no reason given';
  if (text.length <= ABORT_REASON_MAX) return text;
  let cut = ABORT_REASON_MAX - 1;
  // A high surrogate at the cut would be left alone: cut before it.
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}

/** An 'abort': why its sender stopped the ceremony, in its own words. */
export interface AbortPayload {
  reason: string;
}

/** Decodes an 'abort' payload: exactly `reason`, a string of 1..ABORT_REASON_MAX units. */
export function decodeAbort(v: unknown): AbortPayload {
  const o = expectObject(v, 'payload', ['reason']);
  return { reason: expectString(o.reason, 'reason', ABORT_REASON_MAX) };
}

/** A reconstruction requester's 'done': its note of where and when the key was exposed. */
export interface ReconstructDonePayload {
  exposed: string;
}

/** Decodes a reconstruction's 'done' payload: exactly `exposed`, a string of 1..EXPOSED_MAX units. */
export function decodeReconstructDone(v: unknown): ReconstructDonePayload {
  const o = expectObject(v, 'payload', ['exposed']);
  return { exposed: expectString(o.exposed, 'exposed', EXPOSED_MAX) };
}
