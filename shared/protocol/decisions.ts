// How approvals and denials decide a request: when denials are final, who coordinates among the
// approvers, and when a request can no longer be signed. Pure functions of what a member knows.

/**
 * Denials are final when so many members denied that the approvals the request needs can no
 * longer come together: more than `size - needed` denials.
 */
export function deniedForGood(denials: number, size: number, needed: number): boolean {
  return denials > size - needed;
}

/**
 * The approver that coordinates the signing or the ceremony: the lowest peer id among the
 * approvers that are reachable (`online`, which is always true for oneself) and not culprits of
 * an earlier attempt. Every approver computes the same from the same knowledge, so only one
 * starts; when that one goes away, the next one takes over.
 */
export function coordinatorOf(
  approvers: readonly string[],
  online: (peer: string) => boolean,
  culprits: readonly string[],
): string | undefined {
  return approvers.filter((p) => online(p) && !culprits.includes(p)).sort()[0];
}

/**
 * A request fails for good when every member has decided and fewer than `threshold` approvers
 * remain that are not culprits of a failed attempt (nobody is left to sign it).
 */
export function failedForGood(input: {
  decisions: readonly { peerId: string; decision: 'approve' | 'deny' }[];
  size: number;
  threshold: number;
  culprits: readonly string[];
}): boolean {
  if (input.decisions.length < input.size) return false;
  const usable = input.decisions.filter(
    (d) => d.decision === 'approve' && !input.culprits.includes(d.peerId),
  ).length;
  return usable < input.threshold;
}
