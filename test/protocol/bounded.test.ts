// Bounded maps for peer-filled buffers: size bounds, time to live, eviction order and counts.
import { describe, expect, it } from 'vitest';
import { BoundedBuckets, BoundedError, BoundedMap } from '../../shared/protocol/bounded.js';

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('BoundedMap', () => {
  it('never holds more than maxSize under a flood of keys and counts the evictions', () => {
    const c = clock();
    const evicted: number[] = [];
    const m = new BoundedMap<number, string>({
      maxSize: 100,
      ttlMs: 60_000,
      now: c.now,
      onEvict: (k) => evicted.push(k),
    });
    for (let i = 0; i < 10_000; i++) {
      m.set(i, `v${i}`);
      expect(m.size).toBeLessThanOrEqual(100);
    }
    expect(m.size).toBe(100);
    expect(m.evictions).toEqual({ full: 9_900, expired: 0 });
    // The oldest went first: the newest 100 remain, in order.
    expect(m.keys()).toEqual(Array.from({ length: 100 }, (_, i) => 9_900 + i));
    expect(evicted.slice(0, 3)).toEqual([0, 1, 2]);
  });

  it('never returns an expired entry and drops it when looked at', () => {
    const c = clock();
    const m = new BoundedMap<string, number>({ maxSize: 10, ttlMs: 1_000, now: c.now });
    m.set('a', 1);
    c.advance(999);
    expect(m.get('a')).toBe(1);
    c.advance(1);
    expect(m.has('a')).toBe(false);
    expect(m.get('a')).toBeUndefined();
    expect(m.size).toBe(0);
    expect(m.evictions).toEqual({ full: 0, expired: 1 });
  });

  it('sweep evicts every expired entry, and a full map drops expired ones before live ones', () => {
    const c = clock();
    const m = new BoundedMap<string, number>({ maxSize: 3, ttlMs: 1_000, now: c.now });
    m.set('old1', 1).set('old2', 2);
    c.advance(600);
    m.set('live', 3);
    c.advance(500); // old1, old2 expired; live has 500 ms left
    m.set('new', 4);
    expect(m.keys()).toEqual(['live', 'new']);
    expect(m.evictions).toEqual({ full: 0, expired: 2 });
    c.advance(500);
    expect(m.sweep()).toBe(1);
    expect(m.keys()).toEqual(['new']);
  });

  it('set and touch renew an entry and make it the newest; get does not', () => {
    const c = clock();
    const m = new BoundedMap<string, number>({ maxSize: 2, ttlMs: 1_000, now: c.now });
    m.set('a', 1).set('b', 2);
    c.advance(900);
    expect(m.get('a')).toBe(1);
    expect(m.touch('a')).toBe(true);
    m.set('c', 3); // full: b is now the oldest
    expect(m.keys()).toEqual(['a', 'c']);
    c.advance(900);
    expect(m.get('a')).toBe(1); // renewed at 900, so alive at 1800
    expect(m.touch('gone')).toBe(false);
  });

  it('getOrSet creates once, delete and clear are not evictions', () => {
    const m = new BoundedMap<string, number[]>({ maxSize: 4, ttlMs: 1_000 });
    const a = m.getOrSet('a', () => []);
    a.push(1);
    expect(m.getOrSet('a', () => [9])).toEqual([1]);
    expect(m.delete('a')).toBe(true);
    m.set('b', []);
    m.clear();
    expect(m.size).toBe(0);
    expect(m.evictions).toEqual({ full: 0, expired: 0 });
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new BoundedMap({ maxSize: 0, ttlMs: 1 })).toThrow(BoundedError);
    expect(() => new BoundedMap({ maxSize: 1, ttlMs: Number.NaN })).toThrow(/ttlMs/);
  });
});

describe('BoundedBuckets', () => {
  it('keeps one bucket within maxPerBucket, dropping its own oldest first', () => {
    const c = clock();
    const b = new BoundedBuckets<string, number, string>({
      maxSize: 1_000,
      maxPerBucket: 5,
      ttlMs: 60_000,
      now: c.now,
    });
    b.set('other', 0, 'keep');
    for (let seq = 1; seq <= 50; seq++) b.set('chain', seq, `e${seq}`);
    expect(b.bucket('chain').map(([k]) => k)).toEqual([46, 47, 48, 49, 50]);
    expect(b.get('other', 0)).toBe('keep');
    expect(b.evictions.full).toBe(45);
  });

  it('never holds more than maxSize over all buckets under a flood of buckets and keys', () => {
    const c = clock();
    const b = new BoundedBuckets<string, number, number>({
      maxSize: 200,
      maxPerBucket: 50,
      ttlMs: 60_000,
      now: c.now,
    });
    for (let i = 0; i < 20_000; i++) {
      b.set(`author${i % 997}`, i, i);
      expect(b.size).toBeLessThanOrEqual(200);
    }
    expect(b.size).toBe(200);
    expect(b.buckets).toBeLessThanOrEqual(200);
    // The survivors are the newest 200.
    expect(b.get(`author${19_999 % 997}`, 19_999)).toBe(19_999);
    expect(b.get(`author${19_799 % 997}`, 19_799)).toBeUndefined();
    expect(b.evictions).toEqual({ full: 19_800, expired: 0 });
  });

  it('expires entries, take removes a live one, and emptied buckets are forgotten', () => {
    const c = clock();
    const evicted: string[] = [];
    const b = new BoundedBuckets<string, number, string>({
      maxSize: 10,
      maxPerBucket: 10,
      ttlMs: 1_000,
      now: c.now,
      onEvict: (bucket, key, _v, reason) => evicted.push(`${bucket}:${key}:${reason}`),
    });
    b.set('a', 1, 'x').set('a', 2, 'y');
    c.advance(500);
    b.set('b', 1, 'z');
    expect(b.take('a', 1)).toBe('x');
    expect(b.take('a', 1)).toBeUndefined();
    c.advance(500);
    expect(b.take('a', 2)).toBeUndefined(); // expired
    expect(b.buckets).toBe(1);
    expect(b.sizeOf('b')).toBe(1);
    c.advance(500);
    expect(b.sweep()).toBe(1);
    expect(b.size).toBe(0);
    expect(evicted).toEqual(['a:2:expired', 'b:1:expired']);
  });

  it('deleteBucket forgets a whole bucket without counting evictions', () => {
    const b = new BoundedBuckets<string, string, number>({
      maxSize: 10,
      maxPerBucket: 5,
      ttlMs: 1_000,
    });
    b.set('s', 'p1', 1).set('s', 'p2', 2).set('t', 'p1', 3);
    expect(b.deleteBucket('s')).toBe(2);
    expect(b.size).toBe(1);
    expect(b.bucket('s')).toEqual([]);
    // Global order stays consistent: filling up evicts t's entry first, not a ghost of s.
    for (let i = 0; i < 10; i++) b.set('u', `k${i % 5}`, i);
    expect(b.size).toBe(6);
    expect(b.evictions).toEqual({ full: 0, expired: 0 });
  });
});
