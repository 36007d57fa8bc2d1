// Ending a refresh or reshare without leaving the group split across epochs.
//
// A recipient writes its new share, then tells the others "done" (it holds the new epoch). It may
// switch to the new epoch only when it knows every recipient holds it; until then it keeps both
// shares. When a "done" goes missing (a crash, a lost connection), the members ask each other where
// they stand and apply the rules below, which never let one member switch while another rolls back:
//
// - a recipient answers "aborted" only if it never sent "done" for that session and never will;
// - a recipient answers "committed" only after it knew that every recipient held the new epoch;
// - so "aborted" and "committed" cannot both be true for one session, and "holding" from every
//   recipient is the same knowledge as one "committed".
//
// This assumes members do not lie about their own state: a member that lies can at worst make the
// group unable to sign at the new epoch, which it could also do by withholding its share.

import { isLowerHex } from './fields.js';

/** What a recipient reports about one ceremony session. */
export type CommitAnswer =
  | { state: 'holding'; epoch: number; digest: string }
  | { state: 'committed'; epoch: number; digest: string }
  | { state: 'working' }
  | { state: 'aborted' };

/** Validates an answer received from a peer; anything else counts as no answer. */
export function decodeCommitAnswer(v: unknown): CommitAnswer | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.state === 'working' || o.state === 'aborted') return { state: o.state };
  if (
    (o.state === 'holding' || o.state === 'committed') &&
    Number.isSafeInteger(o.epoch) &&
    isLowerHex(o.digest, 64)
  )
    return { state: o.state, epoch: o.epoch as number, digest: o.digest };
  return undefined;
}

export type CommitDecision =
  | { decision: 'commit' }
  | { decision: 'abort'; by: string }
  | { decision: 'wait'; missing: string[]; mismatched: string[] };

/**
 * Decides from the answers known so far (a received "done" counts as "holding"). `recipients` are
 * the other members of the new roster; answers from anyone else are ignored, and so are answers
 * about a different epoch or key package than `own` (reported as `mismatched`, never acted on).
 * `own` is undefined for a member that is leaving the group and holds no new share.
 */
export function decideCommit(
  recipients: readonly string[],
  own: { epoch: number; digest: string } | undefined,
  answers: ReadonlyMap<string, CommitAnswer>,
): CommitDecision {
  // A member leaving the group has no package of its own: it goes by the first one reported.
  const mine = own ??
    [...answers.values()].find(
      (a): a is Extract<CommitAnswer, { epoch: number }> => a.state === 'committed',
    ) ??
    [...answers.values()].find(
      (a): a is Extract<CommitAnswer, { epoch: number }> => a.state === 'holding',
    ) ?? { epoch: -1, digest: '' };
  const missing: string[] = [];
  const mismatched: string[] = [];
  let committed = false;
  let abortedBy: string | undefined;
  for (const peer of recipients) {
    const a = answers.get(peer);
    if (!a || a.state === 'working') {
      missing.push(peer);
      continue;
    }
    if (a.state === 'aborted') {
      abortedBy ??= peer;
      continue;
    }
    if (a.epoch !== mine.epoch || a.digest !== mine.digest) {
      mismatched.push(peer);
      missing.push(peer);
      continue;
    }
    if (a.state === 'committed') committed = true;
  }
  // Both at once means some member broke the rules above; once anyone has switched, rolling back
  // would split the group, so "committed" wins.
  if (committed) return { decision: 'commit' };
  if (abortedBy !== undefined) return { decision: 'abort', by: abortedBy };
  if (missing.length === 0) return { decision: 'commit' };
  return { decision: 'wait', missing, mismatched };
}
