// Size- and time-bounded in-memory maps for everything a peer can fill (out-of-order audit entries,
// ceremony inboxes, abort maps): a flood of keys evicts old entries instead of growing memory.

/** Why an entry left the map without being deleted by its owner. */
export type EvictionReason = 'full' | 'expired';

export interface BoundedOptions<K, V> {
  /** Most entries held at once (≥ 1); adding one more evicts the oldest. */
  maxSize: number;
  /** How long an entry lives after it was last set, in ms (> 0). */
  ttlMs: number;
  /** The clock (ms); injected so tests can move time. Defaults to Date.now. */
  now?: () => number;
  /** Told about every eviction (not about `delete`), e.g. to count or log it once. */
  onEvict?: (key: K, value: V, reason: EvictionReason) => void;
}

export class BoundedError extends Error {
  readonly code = 'bad_bound';
  constructor(message: string) {
    super(message);
    this.name = 'BoundedError';
  }
}

function checkBound(what: string, n: number, min: number): void {
  if (!Number.isSafeInteger(n) || n < min)
    throw new BoundedError(`${what} must be an integer ≥ ${min}, got ${n}`);
}

interface Slot<V> {
  value: V;
  expires: number;
}

/**
 * A Map with a maximum size and a time to live per entry. Entries are kept in the order they were
 * last set, so the oldest is evicted first when the map is full; an expired entry is never
 * returned and is dropped when it is looked at or by `sweep()`. `get` does not extend the life of
 * an entry; `set` (even of the same key) and `touch` do.
 */
export class BoundedMap<K, V> {
  readonly maxSize: number;
  readonly ttlMs: number;
  readonly #now: () => number;
  readonly #onEvict?: (key: K, value: V, reason: EvictionReason) => void;
  readonly #slots = new Map<K, Slot<V>>();
  readonly #evictions: Record<EvictionReason, number> = { full: 0, expired: 0 };

  constructor(opts: BoundedOptions<K, V>) {
    checkBound('maxSize', opts.maxSize, 1);
    checkBound('ttlMs', opts.ttlMs, 1);
    this.maxSize = opts.maxSize;
    this.ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
    this.#onEvict = opts.onEvict;
  }

  /** Entries held now, expired ones not yet swept included (call `sweep()` first for a live count). */
  get size(): number {
    return this.#slots.size;
  }

  /** Evictions so far, by reason. */
  get evictions(): Readonly<Record<EvictionReason, number>> {
    return { ...this.#evictions };
  }

  #evict(key: K, slot: Slot<V>, reason: EvictionReason): void {
    this.#slots.delete(key);
    this.#evictions[reason]++;
    this.#onEvict?.(key, slot.value, reason);
  }

  #live(key: K): Slot<V> | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.expires <= this.#now()) {
      this.#evict(key, slot, 'expired');
      return undefined;
    }
    return slot;
  }

  get(key: K): V | undefined {
    return this.#live(key)?.value;
  }

  has(key: K): boolean {
    return this.#live(key) !== undefined;
  }

  /**
   * Adds or replaces an entry; it becomes the newest and lives `ttlMs` from now. Expired entries
   * go first, then the oldest ones while the map is full.
   */
  set(key: K, value: V): this {
    this.#slots.delete(key);
    if (this.#slots.size >= this.maxSize) this.#sweepFront();
    while (this.#slots.size >= this.maxSize) {
      const [oldest, slot] = this.#slots.entries().next().value as [K, Slot<V>];
      this.#evict(oldest, slot, 'full');
    }
    this.#slots.set(key, { value, expires: this.#now() + this.ttlMs });
    return this;
  }

  /** The entry for `key`, made with `make` when absent (and counted like a `set`). */
  getOrSet(key: K, make: () => V): V {
    const slot = this.#live(key);
    if (slot !== undefined) return slot.value;
    const value = make();
    this.set(key, value);
    return value;
  }

  /** Extends a live entry's life by `ttlMs` from now and makes it the newest; false if absent. */
  touch(key: K): boolean {
    const slot = this.#live(key);
    if (slot === undefined) return false;
    this.set(key, slot.value);
    return true;
  }

  /** Removes an entry (not counted as an eviction). */
  delete(key: K): boolean {
    return this.#slots.delete(key);
  }

  clear(): void {
    this.#slots.clear();
  }

  /**
   * Evicts expired entries from the oldest on, up to the first live one: with one TTL for all and
   * a clock that does not go back, exactly the expired ones, at a cost of what it evicts (a flood
   * of `set`s on a full map stays linear).
   */
  #sweepFront(): void {
    const now = this.#now();
    for (const [key, slot] of this.#slots) {
      if (slot.expires > now) return;
      this.#evict(key, slot, 'expired');
    }
  }

  /** Evicts every expired entry; returns how many. */
  sweep(): number {
    const now = this.#now();
    let n = 0;
    for (const [key, slot] of [...this.#slots])
      if (slot.expires <= now) {
        this.#evict(key, slot, 'expired');
        n++;
      }
    return n;
  }

  /** Live entries, oldest first (expired ones are swept first). */
  entries(): [K, V][] {
    this.sweep();
    return [...this.#slots].map(([k, s]) => [k, s.value]);
  }

  keys(): K[] {
    return this.entries().map(([k]) => k);
  }

  values(): V[] {
    return this.entries().map(([, v]) => v);
  }
}

export interface BoundedBucketsOptions<B, K, V> {
  /** Most entries over all buckets (≥ 1): the global bound. */
  maxSize: number;
  /** Most entries in one bucket (≥ 1): one chain or session cannot take the whole budget. */
  maxPerBucket: number;
  /** Time to live of each entry after it was set, in ms. */
  ttlMs: number;
  now?: () => number;
  onEvict?: (bucket: B, key: K, value: V, reason: EvictionReason) => void;
}

/**
 * Entries grouped in buckets (e.g. pending audit entries: bucket = chain author, key = seq; or a
 * ceremony's messages: bucket = session, key = sender), with a global bound, a per-bucket bound
 * and a time to live. When the bucket is full its own oldest entry goes; when the whole is full
 * the oldest entry of any bucket goes. An emptied bucket is forgotten.
 */
export class BoundedBuckets<B, K, V> {
  readonly maxSize: number;
  readonly maxPerBucket: number;
  readonly ttlMs: number;
  readonly #now: () => number;
  readonly #onEvict?: (bucket: B, key: K, value: V, reason: EvictionReason) => void;
  /** bucket → key → entry, each bucket in insertion order. */
  readonly #buckets = new Map<B, Map<K, { value: V; expires: number; serial: number }>>();
  /** Every entry in insertion order over all buckets, by a serial number. */
  readonly #order = new Map<number, { bucket: B; key: K }>();
  #serial = 0;
  readonly #evictions: Record<EvictionReason, number> = { full: 0, expired: 0 };

  constructor(opts: BoundedBucketsOptions<B, K, V>) {
    checkBound('maxSize', opts.maxSize, 1);
    checkBound('maxPerBucket', opts.maxPerBucket, 1);
    checkBound('ttlMs', opts.ttlMs, 1);
    this.maxSize = opts.maxSize;
    this.maxPerBucket = opts.maxPerBucket;
    this.ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
    this.#onEvict = opts.onEvict;
  }

  /** Entries over all buckets (expired ones not yet swept included). */
  get size(): number {
    return this.#order.size;
  }

  /** Buckets holding at least one entry. */
  get buckets(): number {
    return this.#buckets.size;
  }

  get evictions(): Readonly<Record<EvictionReason, number>> {
    return { ...this.#evictions };
  }

  #remove(bucket: B, key: K): { value: V; expires: number; serial: number } | undefined {
    const b = this.#buckets.get(bucket);
    const slot = b?.get(key);
    if (b === undefined || slot === undefined) return undefined;
    b.delete(key);
    if (b.size === 0) this.#buckets.delete(bucket);
    this.#order.delete(slot.serial);
    return slot;
  }

  #evict(bucket: B, key: K, reason: EvictionReason): void {
    const slot = this.#remove(bucket, key);
    if (slot === undefined) return;
    this.#evictions[reason]++;
    this.#onEvict?.(bucket, key, slot.value, reason);
  }

  #live(bucket: B, key: K): V | undefined {
    const slot = this.#buckets.get(bucket)?.get(key);
    if (slot === undefined) return undefined;
    if (slot.expires <= this.#now()) {
      this.#evict(bucket, key, 'expired');
      return undefined;
    }
    return slot.value;
  }

  get(bucket: B, key: K): V | undefined {
    return this.#live(bucket, key);
  }

  has(bucket: B, key: K): boolean {
    return this.#live(bucket, key) !== undefined;
  }

  /** Adds or replaces an entry, evicting expired entries, then the oldest, to stay in bounds. */
  set(bucket: B, key: K, value: V): this {
    this.#remove(bucket, key);
    const b = this.#buckets.get(bucket);
    if ((b?.size ?? 0) >= this.maxPerBucket || this.#order.size >= this.maxSize) this.#sweepFront();
    for (let mine = this.#buckets.get(bucket); mine && mine.size >= this.maxPerBucket;) {
      const oldest = mine.keys().next().value as K;
      this.#evict(bucket, oldest, 'full');
      mine = this.#buckets.get(bucket);
    }
    while (this.#order.size >= this.maxSize) {
      const oldest = this.#order.values().next().value as { bucket: B; key: K };
      this.#evict(oldest.bucket, oldest.key, 'full');
    }
    let into = this.#buckets.get(bucket);
    if (into === undefined) this.#buckets.set(bucket, (into = new Map()));
    const serial = this.#serial++;
    into.set(key, { value, expires: this.#now() + this.ttlMs, serial });
    this.#order.set(serial, { bucket, key });
    return this;
  }

  /** Removes an entry and returns it when it was live (e.g. the next audit entry of a chain). */
  take(bucket: B, key: K): V | undefined {
    const value = this.#live(bucket, key);
    if (value !== undefined) this.#remove(bucket, key);
    return value;
  }

  delete(bucket: B, key: K): boolean {
    return this.#remove(bucket, key) !== undefined;
  }

  /** Forgets a whole bucket (e.g. a finished session); returns how many entries it held. */
  deleteBucket(bucket: B): number {
    const b = this.#buckets.get(bucket);
    if (b === undefined) return 0;
    for (const slot of b.values()) this.#order.delete(slot.serial);
    this.#buckets.delete(bucket);
    return b.size;
  }

  /** A bucket's live entries, oldest first. */
  bucket(bucket: B): [K, V][] {
    const b = this.#buckets.get(bucket);
    if (b === undefined) return [];
    const now = this.#now();
    for (const [key, slot] of [...b]) if (slot.expires <= now) this.#evict(bucket, key, 'expired');
    return [...(this.#buckets.get(bucket) ?? [])].map(([k, s]) => [k, s.value]);
  }

  /** Live entries in a bucket. */
  sizeOf(bucket: B): number {
    return this.bucket(bucket).length;
  }

  /** Evicts expired entries from the oldest on, up to the first live one (see BoundedMap). */
  #sweepFront(): void {
    const now = this.#now();
    for (const { bucket, key } of this.#order.values()) {
      const slot = this.#buckets.get(bucket)?.get(key);
      if (slot !== undefined && slot.expires > now) return;
      this.#evict(bucket, key, 'expired');
    }
  }

  /** Evicts every expired entry; returns how many. */
  sweep(): number {
    const now = this.#now();
    let n = 0;
    for (const [bucket, b] of [...this.#buckets])
      for (const [key, slot] of [...b])
        if (slot.expires <= now) {
          this.#evict(bucket, key, 'expired');
          n++;
        }
    return n;
  }

  clear(): void {
    this.#buckets.clear();
    this.#order.clear();
  }
}
