import { LRUCache } from 'lru-cache';
import { type Clock, systemClock } from './clock.js';

export interface MemoryTierOptions {
  max: number;
  maxSize: number | undefined;
  ttl: number | undefined;
  clock: Clock;
}

/**
 * The in-process tier (L1): a facade over `lru-cache` that never lets an entry outlive its store copy.
 * Values are kept by reference; `null` is a value like any other (lru-cache only refuses `undefined`).
 */
// lru-cache refuses undefined and nullish value types; we keep any non-undefined value.
// biome-ignore lint/complexity/noBannedTypes: lru-cache's own value bound is `{}`.
type Stored = {};

export class MemoryTier<V> {
  readonly #lru: LRUCache<string, Stored>;
  readonly #ttlCap: number | undefined;
  readonly #sized: boolean;

  constructor(options: MemoryTierOptions) {
    this.#ttlCap = options.ttl;
    this.#sized = options.maxSize !== undefined;
    this.#lru = new LRUCache<string, Stored>({
      max: options.max,
      ...(options.maxSize === undefined ? {} : { maxSize: options.maxSize }),
      perf: options.clock,
      // lru-cache reuses a reading of the clock for 1 ms of real time; an injected clock is read every
      // time, so a test that moves it sees the effect at once.
      ...(options.clock === systemClock ? {} : { ttlResolution: 0 }),
    });
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
        this.#lru.delete(key);
        return;
      }
      if (ttl === undefined || remaining < ttl) ttl = remaining;
    }
    if (this.#sized && size > (this.#lru.maxSize ?? 0)) {
      // lru-cache would refuse it silently; drop any older copy instead of keeping it.
      this.#lru.delete(key);
      return;
    }
    this.#lru.set(key, value as Stored, { ttl: ttl ?? 0, ...(this.#sized ? { size: Math.max(1, size) } : {}) });
  }

  delete(key: string): void {
    this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Keys currently held (least recently used last); for diagnostics and tests. */
  keys(): string[] {
    return [...this.#lru.keys()];
  }
}
