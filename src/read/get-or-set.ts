import type { Fences } from '../coherence/fences.js';
import type { Trust } from '../coherence/trust.js';
import { LoaderTimeoutError, StoreError } from '../errors.js';
import type { MemoryTier } from '../memory/memory-tier.js';
import type { Observer } from '../observe/events.js';
import type { LoadSettings } from '../options.js';
import type { Background } from './background.js';
import { type Loader, runLoader, SOFT, softDeadline } from './loader.js';
import { type ReadThrough, staleReason } from './read-through.js';
import { SingleFlight } from './single-flight.js';

export type { Loader } from './loader.js';

/** How a load goes through the lock across processes: not at all, or the outcome of taking it. */
export interface LockStep<V> {
  /**
   * Runs `load` holding the key's lock, or waits (at most the lock's `wait`) for the process holding it
   * and returns what it stored (re-read from the store), or runs `load` anyway when the wait ran out.
   */
  around(key: string, k: string, lock: { ttl: number; wait: number }, load: () => Promise<V | undefined>): Promise<V | undefined>;
}

/** One load, as its steps pass it on. */
interface LoadCall<V> {
  /** The key as the caller gave it, and its canonical form. */
  key: string;
  k: string;
  loader: Loader<V>;
  settings: LoadSettings;
  /** The stale value within grace, if any: given to the loader, and the fallback. */
  stale: V | undefined;
  /** The store read failed: answer as soon as the loader does, and write in the background. */
  storeFailed: boolean;
}

/** The parts get-or-set is built from. */
export interface GetOrSetParts<V> {
  fences: Fences;
  memory: MemoryTier<V>;
  trust: Trust;
  reads: ReadThrough<V>;
  observer: Observer;
  background: Background;
  /** The lock step, when the cache has a Redis bus. */
  lock: LockStep<V> | undefined;
  /**
   * Stores a loader's result for `key`, unless `unchanged()` is false when the write begins. Resolves
   * once stored and announced (or skipped); rejects as a write does.
   */
  store(key: string, value: V, settings: LoadSettings, unchanged: () => boolean): Promise<void>;
}

/**
 * getOrSet as named steps:
 * 1. fresh: a memory hit, or a fresh store entry, is the answer (and, past `refreshAhead` of its ttl,
 *    refreshed in the background, once per key per process); when the store fails, a stale copy kept in
 *    memory answers;
 * 2. lock: across processes, only the lock's holder loads; the others wait for its result;
 * 3. load: the loader, once per key per process at a time (concurrent callers share the call), given
 *    `{ signal, stale }`; past `softTimeout` a stale value answers and the load goes on in the background;
 *    past `hardTimeout` its signal is aborted;
 * 4. store: the result is written unless the key changed while the loader ran (the change wins); a store
 *    that fails does not fail the call (the source answered), and memory does not keep what the store
 *    may not have;
 * 5. stale fallback: when the loader fails or times out, a stale value within grace answers, and says so.
 */
export class GetOrSet<V> {
  readonly #parts: GetOrSetParts<V>;
  readonly #flights = new SingleFlight<V | undefined>();

  constructor(parts: GetOrSetParts<V>) {
    this.#parts = parts;
  }

  async run(key: string, k: string, loader: Loader<V>, settings: LoadSettings): Promise<V | undefined> {
    const { memory, trust, reads, observer } = this.#parts;
    // 1. fresh
    if (trust.trusted) {
      const hit = memory.get(k);
      if (hit !== undefined) {
        observer.hit(key, 'memory');
        this.#refreshAhead(key, k, loader, settings, memory.remaining(k));
        return hit;
      }
    }
    let stale: V | undefined;
    let storeFailed = false;
    try {
      const found = await reads.find(k, key);
      if (found !== undefined && !found.stale) {
        this.#refreshAhead(key, k, loader, settings, found.until === undefined ? undefined : found.until - Date.now());
        return found.value;
      }
      stale = found?.value;
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      // The store is down: a stale copy kept in memory answers at once; without one, the source may be
      // up, so load (its value is returned even if it cannot be stored).
      const copy = reads.staleCopy(k);
      if (copy !== undefined) {
        observer.stale(key, staleReason(error));
        return copy;
      }
      storeFailed = true;
    }
    return this.#flights.run(k, () => this.#locked({ key, k, loader, settings, stale, storeFailed }));
  }

  /** Background refresh of a hit past `refreshAhead` of its ttl; once per key per process at a time. */
  #refreshAhead(key: string, k: string, loader: Loader<V>, settings: LoadSettings, remaining: number | undefined): void {
    const { refreshAhead, ttl } = settings;
    if (refreshAhead === undefined || ttl === undefined || remaining === undefined) return;
    if (remaining > (1 - refreshAhead) * ttl || this.#flights.running(k)) return;
    this.#parts.observer.counts.refreshes++;
    const call: LoadCall<V> = { key, k, loader, settings: { ...settings, softTimeout: undefined }, stale: undefined, storeFailed: false };
    const refresh = this.#flights.run(k, () => this.#locked(call));
    this.#parts.background.add(refresh.catch((error: unknown) => this.#parts.observer.error(asError(error))));
  }

  /** 2. lock */
  #locked(call: LoadCall<V>): Promise<V | undefined> {
    const lock = this.#parts.lock;
    const settings = call.settings.lock;
    if (lock === undefined || settings === undefined) return this.#load(call);
    return lock.around(call.key, call.k, settings, () => this.#load(call));
  }

  /**
   * 3. load, 4. store, 5. stale fallback. When the store read failed (`storeFailed`), the value is
   * answered as soon as the loader returns, and its write (bounded by storeTimeout, and likely to fail
   * too) goes on in the background: the call takes storeTimeout plus the loader's time, never twice.
   */
  async #load(call: LoadCall<V>): Promise<V | undefined> {
    const { key, k, loader, settings, stale, storeFailed } = call;
    const { fences, observer, background } = this.#parts;
    // Entered before the loader runs, so that any change of the key meanwhile (a local write, an
    // invalidation from another process, a flush) is seen when the result is about to be stored.
    const since = fences.enter(k);
    const { controller, release } = background.controller();
    let loaderFailed = false;
    const loaded = runLoader(loader, key, stale, settings.hardTimeout, controller).catch((error: unknown) => {
      loaderFailed = true;
      throw error;
    });
    const written = loaded
      .then(async (value) => {
        if (value !== undefined) await this.#store(key, value, settings, () => fences.unchangedSince(k, since));
        return value;
      })
      .finally(() => {
        release();
        fences.leave(k);
      });
    let stored = written;
    if (storeFailed) {
      background.add(written.catch((error: unknown) => (loaderFailed ? undefined : observer.error(asError(error)))));
      stored = loaded;
    }
    if (settings.softTimeout !== undefined && stale !== undefined) {
      const deadline = softDeadline(settings.softTimeout);
      const first = await Promise.race([stored, deadline.promise]).catch(() => undefined);
      deadline.cancel();
      if (first === SOFT) {
        // The loader goes on; its result is stored and announced when it settles.
        background.add(stored.catch((error: unknown) => observer.error(asError(error))));
        observer.stale(key, 'loader-timeout');
        return stale;
      }
    }
    try {
      return await stored;
    } catch (error) {
      if (!loaderFailed || stale === undefined) throw error;
      observer.stale(key, error instanceof LoaderTimeoutError ? 'loader-timeout' : 'loader-error');
      return stale;
    }
  }

  /** 4. store: a failing store does not fail the call; the value is returned all the same. */
  async #store(key: string, value: V, settings: LoadSettings, unchanged: () => boolean): Promise<void> {
    try {
      await this.#parts.store(key, value, settings, unchanged);
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      this.#parts.observer.error(error);
    }
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
