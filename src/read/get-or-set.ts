import type { Fences } from '../coherence/fences.js';
import { SingleFlight } from './single-flight.js';

/** What a loader is given besides the key. */
export type Loader<V> = (key: string) => V | undefined | Promise<V | undefined>;

/** The parts get-or-set is built from. */
export interface GetOrSetParts<V> {
  fences: Fences;
  /** The cache's own read (memory, then the store). */
  get(key: string): Promise<V | undefined>;
  /**
   * Stores a loader's result for `key`, unless `unchanged()` is false when the write begins. Resolves
   * once stored and announced (or skipped).
   */
  store(key: string, value: V, ttl: number | undefined, unchanged: () => boolean): Promise<void>;
}

/**
 * getOrSet as named steps: fresh (a hit is returned) -> load (once per key per process at a time:
 * concurrent callers share one loader call) -> store the result, unless the key changed while the loader
 * ran. Later steps (refresh-ahead, lock, stale fallback) slot in between.
 */
export class GetOrSet<V> {
  readonly #parts: GetOrSetParts<V>;
  readonly #flights = new SingleFlight<V | undefined>();

  constructor(parts: GetOrSetParts<V>) {
    this.#parts = parts;
  }

  async run(key: string, k: string, loader: Loader<V>, ttl: number | undefined): Promise<V | undefined> {
    const fresh = await this.#parts.get(key);
    if (fresh !== undefined) return fresh;
    return this.#flights.run(k, () => this.#load(key, k, loader, ttl));
  }

  async #load(key: string, k: string, loader: Loader<V>, ttl: number | undefined): Promise<V | undefined> {
    const fences = this.#parts.fences;
    // Entered before the loader runs, so that any change of the key meanwhile (a local write, an
    // invalidation from another process, a flush) is seen when the result is about to be stored.
    const since = fences.enter(k);
    try {
      const value = await loader(key);
      if (value === undefined) return undefined;
      await this.#parts.store(key, value, ttl, () => fences.unchangedSince(k, since));
      return value;
    } finally {
      fences.leave(k);
    }
  }
}
