// The bench's paired ratios: the sides timed in alternating blocks, so a slow spell of the machine
// that falls on one round moves that round's timings together and the ratio stays put.
import { describe, expect, it } from 'vitest';
import { alternated, middle, pairedRatio } from '../../bench/crypto.js';

describe('alternated and pairedRatio', () => {
  it('alternates the sides and takes the median of the per-round ratios', () => {
    const calls: string[] = [];
    // The machine slows down 3x for rounds 2 and 3 (of 5): every side sees it.
    const slow = [1, 1, 3, 3, 1];
    let ra = 0;
    let rb = 0;
    let rc = 0;
    const [a, b, c] = alternated(
      [
        () => (calls.push('a'), 2 * slow[ra++]!),
        () => (calls.push('b'), 10 * slow[rb++]!),
        () => (calls.push('c'), 4 * slow[rc++]!),
      ],
      5,
    ) as [number[], number[], number[]];
    expect(calls).toEqual('abcabcabcabcabc'.split(''));
    expect(pairedRatio(a, b)).toBe(0.2);
    expect(pairedRatio(c, b)).toBe(0.4);
    expect(middle(a)).toBe(2);
    expect(middle(b)).toBe(10);
  });

  it('is not moved by one side alone having a slow round', () => {
    expect(pairedRatio([2, 2, 6, 2, 2], [10, 10, 10, 10, 10])).toBe(0.2);
  });
});
