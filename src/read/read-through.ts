import type { Fences } from '../coherence/fences.js';
import type { Trust } from '../coherence/trust.js';
import { isStale } from '../entry/entry.js';
import { StoreError, StoreTimeoutError, StoreUnavailableError } from '../errors.js';
import type { MemoryTier } from '../memory/memory-tier.js';
import type { Observer } from '../observe/events.js';
import { EXPIRED, type ReadEntry, type StoreTier } from '../store/store-tier.js';
import type { StaleReason } from '../types.js';

/** What a store read found for one key: a fresh value, or a stale one within its grace. */
export interface Found<V> {
  value: V;
  stale: boolean;
  /** The end of its fresh life (`Date.now()` clock), when it has one. */
  until: number | undefined;
}

/** Why a stale value stands in for a store call that failed. */
export function staleReason(error: unknown): StaleReason {
  if (error instanceof StoreTimeoutError) return 'store-timeout';
  if (error instanceof StoreUnavailableError) return 'store-unavailable';
  return 'store-error';
}

/**
 * Reads that missed memory (or could not trust it) go to the store here, and only here: what the store
 * answered is classified in one place (fresh is a hit; stale within grace is a miss for `get`, and what
 * `getOrSet` falls back on; nothing, or a record past its life, is a miss, and the latter, or a memory copy
 * found past its life on the way here, is also an expiry) and put in memory only if it
 * is fresh and nothing invalidated its key, or everything, since the read began. Concurrent readers of
 * one key share one store read, unless an invalidation overtook it: a caller arriving after an
 * invalidation must not get a value read before it. When the store fails, a stale copy kept in memory
 * (within its grace, while memory is trusted) answers instead, and says so.
 */
export class ReadThrough<V> {
  readonly #fences: Fences;
  readonly #memory: MemoryTier<V>;
  readonly #store: StoreTier<V>;
  readonly #trust: Trust;
  readonly #observer: Observer;

  constructor(fences: Fences, memory: MemoryTier<V>, store: StoreTier<V>, trust: Trust, observer: Observer) {
    this.#fences = fences;
    this.#memory = memory;
    this.#store = store;
    this.#trust = trust;
    this.#observer = observer;
  }

  /** The fresh value of canonical key `k` (`key` as the caller gave it, for events), from the store. */
  async read(k: string, key: string): Promise<V | undefined> {
    try {
      const found = await this.find(k, key);
      return found === undefined || found.stale ? undefined : found.value;
    } catch (error) {
      return this.#fallback(k, key, error);
    }
  }

  /** What the store holds for `k`, fresh or stale, through the shared read; rejects when the store fails. */
  find(k: string, key: string): Promise<Found<V> | undefined> {
    // Asked first, before anything else reads memory: the miss that brought us here may have dropped an
    // expired copy. A joined read was started by the reader that dropped it.
    const expired = this.#observer.listening.expire && this.#memory.takeExpired(k);
    const joined = this.#fences.joinableRead(k) as Promise<Found<V> | undefined> | undefined;
    if (joined !== undefined) return joined;
    const since = this.#fences.enter(k);
    const read = this.#store.get(k).then((entry) => this.#settle(k, key, entry, since, expired));
    this.#share(k, read, since);
    return read;
  }

  /** A stale copy from memory, for a call whose fresh data cannot be had, or undefined. */
  staleCopy(k: string): V | undefined {
    return this.#trust.trusted ? this.#memory.stale(k) : undefined;
  }

  /**
   * Many values, aligned with `ks`: memory first, then reads in flight joined as `find()` joins them, then
   * one store call for the rest, whose per-key results `find()` may join in turn. When the store fails,
   * stale copies answer if every key still wanting a value has one; otherwise the call fails.
   */
  async readMany(ks: readonly string[], keys: readonly string[]): Promise<(V | undefined)[]> {
    const result: (V | undefined)[] = Array.from({ length: ks.length }, () => undefined);
    const trusted = this.#trust.trusted;
    const pending: Promise<unknown>[] = [];
    const batch: string[] = [];
    const batchKeys: string[] = [];
    const batchExpired: boolean[] = [];
    const listening = this.#observer.listening;
    const waiting = new Map<string, number[]>();
    const answered = new Set<string>();
    const take = (k: string, found: Found<V> | undefined) => {
      answered.add(k);
      for (const i of waiting.get(k) ?? []) result[i] = found === undefined || found.stale ? undefined : found.value;
    };
    for (let i = 0; i < ks.length; i++) {
      const k = ks[i] as string;
      const value = trusted ? this.#memory.get(k) : undefined;
      if (value !== undefined) {
        this.#observer.hit(keys[i] as string, 'memory');
        result[i] = value;
        continue;
      }
      const expired = trusted && listening.expire && this.#memory.takeExpired(k);
      const slots = waiting.get(k);
      if (slots !== undefined) {
        slots.push(i);
        continue;
      }
      waiting.set(k, [i]);
      const joined = this.#fences.joinableRead(k) as Promise<Found<V> | undefined> | undefined;
      if (joined !== undefined) {
        pending.push(joined.then((found) => take(k, found)));
        continue;
      }
      batch.push(k);
      batchKeys.push(keys[i] as string);
      batchExpired.push(expired);
    }
    if (batch.length > 0) {
      const since = batch.map((k) => this.#fences.enter(k));
      const load = this.#store.getMany(batch);
      batch.forEach((k, j) => {
        const read = load.then((entries) =>
          this.#settle(k, batchKeys[j] as string, entries[j], since[j] as number, batchExpired[j] === true),
        );
        this.#share(k, read, since[j] as number);
        pending.push(read.then((found) => take(k, found)));
      });
    }
    const settled = await Promise.allSettled(pending);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure !== undefined) {
      const error: unknown = failure.reason;
      // Every key still wanting a value needs a stale copy, or the whole call fails: no silent misses.
      const fallback = [...waiting].filter(([k]) => !answered.has(k)).map(([k, slots]) => [slots, this.staleCopy(k)] as const);
      if (!(error instanceof StoreError) || fallback.some(([, stale]) => stale === undefined)) throw error;
      const reason = staleReason(error);
      for (const [slots, stale] of fallback) {
        for (const i of slots) {
          result[i] = stale;
          this.#observer.stale(keys[i] as string, reason);
        }
      }
    }
    return result;
  }

  #fallback(k: string, key: string, error: unknown): V {
    const stale = error instanceof StoreError ? this.staleCopy(k) : undefined;
    if (stale === undefined) throw error;
    this.#observer.stale(key, staleReason(error));
    return stale;
  }

  #share(k: string, read: Promise<Found<V> | undefined>, since: number): void {
    this.#fences.shareRead(k, read, since);
    // Registered before any caller's await, so the fence is released after memory was filled and before
    // callers resume; leave() matches this very read, never a newer one shared since.
    const release = () => this.#fences.leave(k, read);
    read.then(release, release);
  }

  /**
   * What a store read found: fresh is a hit, filled into memory if nothing changed since `since`; anything
   * else a miss. An expiry is a record past its life, or, when the store has nothing, the copy memory
   * dropped as past its life (`memoryExpired`); a memory copy that outlived a cap (`memory.ttl`) while
   * the store still has the entry is not one.
   */
  #settle(
    k: string,
    key: string,
    entry: ReadEntry<V> | typeof EXPIRED | undefined,
    since: number,
    memoryExpired: boolean,
  ): Found<V> | undefined {
    if (entry === undefined || entry === EXPIRED) {
      if (entry === EXPIRED || memoryExpired) this.#observer.expired(key);
      this.#observer.miss(key);
      return undefined;
    }
    const now = Date.now();
    const end = entry.fresh ?? entry.expires;
    if (isStale(entry, now)) {
      this.#observer.miss(key);
      return { value: entry.value, stale: true, until: end };
    }
    this.#observer.hit(key, 'store');
    if (this.#trust.trusted && this.#fences.unchangedSince(k, since)) {
      const grace = entry.fresh === undefined || entry.expires === undefined ? 0 : entry.expires - entry.fresh;
      this.#memory.set(k, entry.value, end === undefined ? undefined : end - now, entry.size, grace);
    }
    return { value: entry.value, stale: false, until: end };
  }
}
