import { describe, expect, it } from 'vitest';
import {
  decideCommit,
  decodeCommitAnswer,
  type CommitAnswer,
} from '../../shared/protocol/commit.js';

const D = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);
const mine = { epoch: 3, digest: D };
const holding: CommitAnswer = { state: 'holding', epoch: 3, digest: D };
const committed: CommitAnswer = { state: 'committed', epoch: 3, digest: D };

describe('decideCommit', () => {
  it('commits once every other recipient holds the new epoch', () => {
    const answers = new Map([
      ['b', holding],
      ['c', holding],
    ]);
    expect(decideCommit(['b', 'c'], mine, answers)).toEqual({ decision: 'commit' });
  });

  it('commits on one "committed" even while others are unknown', () => {
    const answers = new Map<string, CommitAnswer>([['b', committed]]);
    expect(decideCommit(['b', 'c'], mine, answers)).toEqual({ decision: 'commit' });
  });

  it('rolls back when a recipient never held the new epoch', () => {
    const answers = new Map<string, CommitAnswer>([
      ['b', holding],
      ['c', { state: 'aborted' }],
    ]);
    expect(decideCommit(['b', 'c'], mine, answers)).toEqual({ decision: 'abort', by: 'c' });
  });

  it('waits while a recipient is unknown or still working', () => {
    const answers = new Map<string, CommitAnswer>([
      ['b', holding],
      ['c', { state: 'working' }],
    ]);
    expect(decideCommit(['b', 'c', 'd'], mine, answers)).toEqual({
      decision: 'wait',
      missing: ['c', 'd'],
      mismatched: [],
    });
  });

  it('never acts on an answer about another epoch or key package', () => {
    const answers = new Map<string, CommitAnswer>([
      ['b', { state: 'committed', epoch: 3, digest: OTHER }],
      ['c', { state: 'holding', epoch: 4, digest: D }],
    ]);
    expect(decideCommit(['b', 'c'], mine, answers)).toEqual({
      decision: 'wait',
      missing: ['b', 'c'],
      mismatched: ['b', 'c'],
    });
  });

  it('ignores answers from peers that are not recipients', () => {
    const answers = new Map<string, CommitAnswer>([
      ['removed', { state: 'aborted' }],
      ['b', holding],
    ]);
    expect(decideCommit(['b'], mine, answers)).toEqual({ decision: 'commit' });
  });

  it('commits at once when this member is the only recipient', () => {
    expect(decideCommit([], mine, new Map())).toEqual({ decision: 'commit' });
  });
});

describe('decodeCommitAnswer', () => {
  it('accepts the four states', () => {
    expect(decodeCommitAnswer({ state: 'working' })).toEqual({ state: 'working' });
    expect(decodeCommitAnswer({ state: 'aborted', extra: 1 })).toEqual({ state: 'aborted' });
    expect(decodeCommitAnswer({ state: 'holding', epoch: 3, digest: D })).toEqual(holding);
    expect(decodeCommitAnswer({ state: 'committed', epoch: 3, digest: D })).toEqual(committed);
  });

  it('treats anything malformed as no answer', () => {
    for (const bad of [
      null,
      'holding',
      { ok: true },
      { state: 'holding', epoch: '3', digest: D },
      { state: 'holding', epoch: 3, digest: 'zz' },
      { state: 'committed', epoch: 1.5, digest: D },
      { state: 'done' },
    ])
      expect(decodeCommitAnswer(bad)).toBeUndefined();
  });
});

describe('decideCommit for a member leaving the group (no package of its own)', () => {
  it('leaves once every new member holds the same package', () => {
    const answers = new Map([
      ['b', holding],
      ['c', holding],
    ]);
    expect(decideCommit(['b', 'c'], undefined, answers)).toEqual({ decision: 'commit' });
  });

  it('goes by a committed answer, and stays on an aborted one', () => {
    expect(decideCommit(['b', 'c'], undefined, new Map([['c', committed]]))).toEqual({
      decision: 'commit',
    });
    const aborted = new Map<string, CommitAnswer>([['b', { state: 'aborted' }]]);
    expect(decideCommit(['b', 'c'], undefined, aborted)).toEqual({ decision: 'abort', by: 'b' });
  });

  it('waits when the new members disagree about the package', () => {
    const answers = new Map<string, CommitAnswer>([
      ['b', holding],
      ['c', { state: 'holding', epoch: 3, digest: OTHER }],
    ]);
    expect(decideCommit(['b', 'c'], undefined, answers)).toEqual({
      decision: 'wait',
      missing: ['c'],
      mismatched: ['c'],
    });
  });

  it('waits while it has heard nothing', () => {
    expect(decideCommit(['b'], undefined, new Map())).toEqual({
      decision: 'wait',
      missing: ['b'],
      mismatched: [],
    });
  });
});
