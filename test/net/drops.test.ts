// createDropLog: a flood of dropped messages gives one line per reason per interval, then a count.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDropLog } from '../../main/net/index.js';

describe('createDropLog', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-01-02T03:04:05.000Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs the first drop of a reason, counts the rest, and sums them up when the interval ends', () => {
    const lines: string[] = [];
    const drop = createDropLog((l) => lines.push(l), { prefix: 'net: ', intervalMs: 10_000 });
    drop('oversized', 'from A');
    for (let i = 0; i < 1000; i++) drop('oversized', `from B${i}`);
    drop('malformed', 'from C');
    expect(lines).toEqual(['net: dropped (oversized) from A', 'net: dropped (malformed) from C']);
    vi.advanceTimersByTime(10_000);
    expect(lines.slice(2)).toEqual([
      'net: 1000 more dropped (oversized) since 2026-01-02T03:04:05.000Z',
    ]);
    // The summary opened a new interval: what comes in it is counted again, not logged.
    drop('oversized', 'from D');
    drop('oversized', 'from E');
    expect(lines).toHaveLength(3);
    vi.advanceTimersByTime(10_000);
    expect(lines[3]).toBe('net: 2 more dropped (oversized) since 2026-01-02T03:04:15.000Z');
    // A quiet interval ends the window: the next drop is logged in full.
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(4);
    drop('oversized', 'from F');
    expect(lines[4]).toBe('net: dropped (oversized) from F');
  });

  it('flush writes what is pending at once and leaves no timer behind', () => {
    const lines: string[] = [];
    const drop = createDropLog((l) => lines.push(l));
    drop('timeout', 'x');
    drop('timeout', 'y');
    drop('reset', 'z');
    drop.flush();
    expect(lines).toEqual([
      'dropped (timeout) x',
      'dropped (reset) z',
      '1 more dropped (timeout) since 2026-01-02T03:04:05.000Z',
    ]);
    expect(vi.getTimerCount()).toBe(0);
    drop('timeout', 'w');
    expect(lines[3]).toBe('dropped (timeout) w');
  });

  it('a log sink that throws does not break the caller; a bad interval is refused', () => {
    const drop = createDropLog(() => {
      throw new Error('disk full');
    });
    expect(() => drop('malformed', 'x')).not.toThrow();
    expect(() => createDropLog(() => {}, { intervalMs: 0 })).toThrow(/positive number, got 0/);
  });
});
