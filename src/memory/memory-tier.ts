import { LRUCache } from 'lru-cache';
import { type Clock, systemClock } from '../clock.js';

export interface MemoryTierOptions {
  max: number;
  maxSize: number | undefined;
  ttl: number | undefined;
  clock: Clock;
  /**
   * Keep entries written with grace past their fresh life, for `stale()`. Decided once per cache: with it,
   * lru-cache keeps stale entries it finds (instead of deleting them) and tells us when one goes.
   */
  staleCopies: boolean;
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
  readonly #clock: Clock;
  /** When the stale copy of an entry written with grace may no longer be served (memory clock); only with staleCopies. */
  readonly #graceUntil: Map<string, number> | undefined;
  /**
   * The last key lru-cache dropped because a read found it past its life, for {@link takeExpired}. One
   * slot, written by lru-cache's dispose, which runs only when an entry goes (never on a hit), so a read
   * pays nothing for it.
   */
  #expired: string | undefined;

  constructor(options: MemoryTierOptions) {
    this.#ttlCap = options.ttl;
    this.#sized = options.maxSize !== undefined;
    this.#maxSize = options.maxSize ?? 0;
    this.#clock = options.clock;
    const graceUntil = options.staleCopies ? new Map<string, number>() : undefined;
    this.#graceUntil = graceUntil;
    this.#lru = new LRUCache<string | symbol, Stored>({
      max: options.max,
      ...(options.maxSize === undefined ? {} : { maxSize: options.maxSize + 1 }),
      // An entry past its fresh life stays (get() still misses it) until evicted, deleted or overwritten,
      // and the grace deadline goes with it.
      // With stale copies, an entry past its fresh life is kept for grace, not dropped when read, so no
      // read ever finds one "expired" here: its end is the store's to tell.
      ...(graceUntil === undefined
        ? {
            noDisposeOnSet: true,
            dispose: (_value: Stored, key: string | symbol, reason: LRUCache.DisposeReason) => {
              if (reason === 'expire') this.#expired = key as string;
            },
          }
        : { noDeleteOnStaleGet: true, dispose: (_value: Stored, key: string | symbol) => void graceUntil.delete(key as string) }),
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

  /**
   * True when the read of `key` that just missed found it past its memory lifetime (and dropped it);
   * forgets it either way. Ask at once after the miss, before anything else reads memory.
   */
  takeExpired(key: string): boolean {
    const expired = this.#expired === key;
    this.#expired = undefined;
    return expired;
  }

  has(key: string): boolean {
    return this.#lru.has(key);
  }

  /** Milliseconds `key` has left to live fresh in memory; undefined when absent or without an end. */
  remaining(key: string): number | undefined {
    const left = this.#lru.getRemainingTTL(key);
    return left > 0 && Number.isFinite(left) ? left : undefined;
  }

  /**
   * Keeps `value` for at most `remaining` ms (the entry's remaining fresh lifetime in the store; undefined
   * for none) and at most the memory ttl cap, and, with stale copies on, `grace` ms longer as a stale copy
   * for `stale()`. `size` is required when a byte limit is configured.
   */
  set(key: string, value: V, remaining: number | undefined, size: number, grace = 0): void {
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
    if (this.#graceUntil !== undefined && grace > 0 && remaining !== undefined) {
      this.#graceUntil.set(key, this.#clock.now() + remaining + grace);
    }
  }

  /**
   * The value of `key` if memory holds it as a stale copy still within its grace (or fresh): for answers
   * when fresh data cannot be had. Never refreshes recency.
   */
  stale(key: string): V | undefined {
    const until = this.#graceUntil?.get(key);
    if (until === undefined || until <= this.#clock.now()) return undefined;
    return this.#lru.peek(key, { allowStale: true }) as V | undefined;
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
      // Stale entries first (lru-cache's key listing skips them); the sentinel never goes stale.
      lru.purgeStale();
      for (const key of [...lru.keys()]) if (key !== SENTINEL) lru.delete(key);
    }
    this.#graceUntil?.clear();
    // purgeStale() reports what it drops as expired; nobody read those.
    this.#expired = undefined;
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
