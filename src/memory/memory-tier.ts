import { LRUCache } from 'lru-cache';
import { type Clock, systemClock } from '../clock.js';

export interface MemoryTierOptions {
  max: number;
  maxSize: number | undefined;
  ttl: number | undefined;
  clock: Clock;
}

// lru-cache refuses undefined and nullish value types; we keep any non-undefined value.
// biome-ignore lint/complexity/noBannedTypes: lru-cache's own value bound is `{}`.
type Stored = {};

// lru-cache 11 resets its arrays, all `max` slots of them, when its last entry is deleted and on clear():
// with a large `max` and a small working set that is O(max) work on every write and every invalidation
// received (measured: set() p50 345 -> 700 µs at max 100,000 with one key). This entry is put in before
// the last real entry is deleted, so a delete never empties the cache. It is never returned, and it gives
// its slot up when the cache is full, so that it never costs a real entry its place.
const SENTINEL: unique symbol = Symbol('synced-cache: memory sentinel');

/**
 * The in-process tier (L1): a facade over `lru-cache` that never lets an entry outlive its store copy, and
 * whose writes and drops cost the same whatever `max` is. Values are kept by reference; `null` is a value
 * like any other (lru-cache only refuses `undefined`).
 */
export class MemoryTier<V> {
  readonly #lru: LRUCache<string | symbol, Stored>;
  readonly #ttlCap: number | undefined;
  readonly #sized: boolean;
  readonly #maxSize: number;

  constructor(options: MemoryTierOptions) {
    this.#ttlCap = options.ttl;
    this.#sized = options.maxSize !== undefined;
    this.#maxSize = options.maxSize ?? 0;
    this.#lru = new LRUCache<string | symbol, Stored>({
      max: options.max,
      ...(options.maxSize === undefined ? {} : { maxSize: options.maxSize + 1 }),
      perf: options.clock,
      // lru-cache reuses a reading of the clock for 1 ms of real time; an injected clock is read every
      // time, so a test that moves it sees the effect at once.
      ...(options.clock === systemClock ? {} : { ttlResolution: 0 }),
    });
    this.#guard();
  }

  /** True when `set` needs a `size` (a byte limit is configured). */
  get sized(): boolean {
    return this.#sized;
  }

  get(key: string): V | undefined {
    return this.#lru.get(key) as V | undefined;
  }

  has(key: string): boolean {
    return this.#lru.has(key);
  }

  /**
   * Keeps `value` for at most `remaining` ms (the entry's remaining store lifetime; undefined for none)
   * and at most the memory ttl cap. `size` is required when a byte limit is configured.
   */
  set(key: string, value: V, remaining: number | undefined, size: number): void {
    let ttl = this.#ttlCap;
    if (remaining !== undefined) {
      // Already expired in the store: keeping it here would outlive the store copy.
      if (remaining <= 0) {
        this.delete(key);
        return;
      }
      if (ttl === undefined || remaining < ttl) ttl = remaining;
    }
    if (this.#sized && size > this.#maxSize) {
      // lru-cache would refuse it silently; drop any older copy instead of keeping it.
      this.delete(key);
      return;
    }
    const lru = this.#lru;
    if (lru.size >= lru.max && lru.has(SENTINEL)) lru.delete(SENTINEL);
    lru.set(key, value as Stored, { ttl: ttl ?? 0, ...(this.#sized ? { size: Math.max(1, size) } : {}) });
  }

  delete(key: string): void {
    const lru = this.#lru;
    if (lru.size === 1 && lru.has(key)) this.#guard();
    lru.delete(key);
  }

  /** Drops every entry, in time proportional to the entries held rather than to `max`. */
  clear(): void {
    const lru = this.#lru;
    if (lru.size > lru.max / 4) {
      lru.clear();
    } else {
      // Keys first: deleting while lru-cache walks its own list would skip entries.
      for (const key of [...lru.keys()]) if (key !== SENTINEL) lru.delete(key);
    }
    this.#guard();
  }

  /** Entries held, the sentinel aside. */
  get size(): number {
    const lru = this.#lru;
    return lru.has(SENTINEL) ? lru.size - 1 : lru.size;
  }

  /** Keys currently held (most recently used first); for diagnostics and tests. */
  keys(): string[] {
    const keys: string[] = [];
    for (const key of this.#lru.keys()) if (key !== SENTINEL) keys.push(key as string);
    return keys;
  }

  #guard(): void {
    // Added without refreshing recency of anything else; with no ttl and size 1 it never expires.
    if (!this.#lru.has(SENTINEL)) this.#lru.set(SENTINEL, true, { ttl: 0, ...(this.#sized ? { size: 1 } : {}) });
  }
}
