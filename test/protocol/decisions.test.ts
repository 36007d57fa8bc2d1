import { describe, expect, it } from 'vitest';
import { coordinatorOf, deniedForGood, failedForGood } from '../../shared/protocol/decisions.js';

describe('deniedForGood', () => {
  it('is final once the needed approvals can no longer come together', () => {
    // 2 of 3: one denial leaves two members who could approve; two denials do not.
    expect(deniedForGood(1, 3, 2)).toBe(false);
    expect(deniedForGood(2, 3, 2)).toBe(true);
    // A policy needing all three: a single denial ends it.
    expect(deniedForGood(1, 3, 3)).toBe(true);
    expect(deniedForGood(0, 3, 3)).toBe(false);
  });
});

describe('coordinatorOf', () => {
  const online = (p: string) => p !== 'b';
  it('picks the lowest reachable approver that is not a culprit', () => {
    expect(coordinatorOf(['c', 'a', 'd'], online, [])).toBe('a');
    expect(coordinatorOf(['c', 'a', 'd'], online, ['a'])).toBe('c');
  });
  it('skips approvers that are offline', () => {
    expect(coordinatorOf(['b', 'c'], online, [])).toBe('c');
  });
  it('is undefined when nobody can coordinate', () => {
    expect(coordinatorOf(['b'], online, [])).toBeUndefined();
    expect(coordinatorOf([], online, [])).toBeUndefined();
  });
});

describe('failedForGood', () => {
  const approve = (peerId: string) => ({ peerId, decision: 'approve' as const });
  const deny = (peerId: string) => ({ peerId, decision: 'deny' as const });
  it('waits while a member has not decided', () => {
    expect(
      failedForGood({ decisions: [approve('a'), deny('b')], size: 3, threshold: 2, culprits: [] }),
    ).toBe(false);
  });
  it('fails when every member decided and too few usable approvers remain', () => {
    const decisions = [approve('a'), approve('b'), deny('c')];
    expect(failedForGood({ decisions, size: 3, threshold: 2, culprits: [] })).toBe(false);
    expect(failedForGood({ decisions, size: 3, threshold: 2, culprits: ['b'] })).toBe(true);
  });
});
