// The bench's paired ratio: both sides timed in alternating blocks, so a slow spell of the machine
// that falls on one round moves that round's two timings together and the ratio stays put.
import { describe, expect, it } from 'vitest';
import { pairedRatio } from '../../bench/crypto.js';

describe('pairedRatio', () => {
  it('alternates the two sides and takes the median of the per-round ratios', () => {
    const calls: string[] = [];
    // The machine slows down 3x for rounds 2 and 3 (of 5): both sides see it.
    const slow = [1, 1, 3, 3, 1];
    let ra = 0;
    let rb = 0;
    const r = pairedRatio(
      () => (calls.push('a'), 2 * slow[ra++]!),
      () => (calls.push('b'), 10 * slow[rb++]!),
      5,
    );
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(r.ratio).toBe(0.2);
    expect(r.a).toBe(2);
    expect(r.b).toBe(10);
  });

  it('is not moved by one side alone having a slow round', () => {
    const a = [2, 2, 6, 2, 2];
    let i = 0;
    let j = 0;
    const r = pairedRatio(
      () => a[i++]!,
      () => [10, 10, 10, 10, 10][j++]!,
      5,
    );
    expect(r.ratio).toBe(0.2);
  });
});
