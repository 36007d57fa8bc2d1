// The abort and reconstruction-done payloads are decoded strictly: exact fields, bounded text, a
// ProtocolError naming the field for anything else; a sender's own reason always fits.
import { describe, expect, it } from 'vitest';
import {
  ABORT_REASON_MAX,
  abortReason,
  decodeAbort,
  decodeReconstructDone,
  EXPOSED_MAX,
} from '../../shared/protocol/ceremony-payload.js';
import { ProtocolError } from '../../shared/protocol/wire.js';

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('decodeAbort', () => {
  it('accepts exactly a reason', () => {
    expect(decodeAbort({ reason: 'equivocation: bob misbehaved' })).toEqual({
      reason: 'equivocation: bob misbehaved',
    });
    expect(decodeAbort({ reason: 'x'.repeat(ABORT_REASON_MAX) }).reason).toHaveLength(
      ABORT_REASON_MAX,
    );
  });

  it('refuses an unknown field, naming it', () => {
    expect(refusal(() => decodeAbort({ reason: 'r', culprits: ['bob'] }))).toMatch(
      'unknown field "culprits"',
    );
  });

  it('refuses a missing, empty, non-string or too long reason', () => {
    for (const reason of [undefined, '', 7, ['r'], { r: 1 }, 'x'.repeat(ABORT_REASON_MAX + 1)])
      expect(refusal(() => decodeAbort({ reason }))).toMatch(/^reason must be a string of 1\.\./);
  });

  it('refuses a payload that is not an object', () => {
    for (const v of [null, 'stop', ['reason'], 3])
      expect(refusal(() => decodeAbort(v))).toBeTruthy();
  });
});

describe('abortReason (what a sender puts in its abort)', () => {
  it('leaves a reason that fits as it is', () => {
    expect(abortReason('bob could not be reached (timeout)')).toBe(
      'bob could not be reached (timeout)',
    );
  });

  it('cuts a long reason to fit, marking the cut, never between the halves of a surrogate pair', () => {
    const long = 'a'.repeat(ABORT_REASON_MAX - 2) + '🔑'.repeat(10);
    const cut = abortReason(long);
    expect(cut.length).toBeLessThanOrEqual(ABORT_REASON_MAX);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(decodeAbort({ reason: cut }).reason).toBe(cut);
  });

  it('gives an empty reason words', () => {
    expect(decodeAbort({ reason: abortReason('') }).reason).toBe('no reason given');
  });
});

describe('decodeReconstructDone', () => {
  it("accepts exactly the exposure note, as long as an honest requester's can be", () => {
    // 500 code points of purpose, each two UTF-16 units, and the longest name.
    const exposed = `key exposed on ${'n'.repeat(64)} at +010000-01-01T00:00:00.000Z (${'🔑'.repeat(500)})`;
    expect(exposed.length).toBeLessThanOrEqual(EXPOSED_MAX);
    expect(decodeReconstructDone({ exposed })).toEqual({ exposed });
  });

  it('refuses an unknown field, naming it', () => {
    expect(refusal(() => decodeReconstructDone({ exposed: 'x', signature: 'ab' }))).toMatch(
      'unknown field "signature"',
    );
  });

  it('refuses a missing, empty, non-string or too long note', () => {
    for (const exposed of [undefined, '', false, ['x'], 'x'.repeat(EXPOSED_MAX + 1)])
      expect(refusal(() => decodeReconstructDone({ exposed }))).toMatch(
        /^exposed must be a string of 1\.\./,
      );
  });
});
