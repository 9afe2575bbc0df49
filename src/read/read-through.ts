import type { Fences } from '../coherence/fences.js';
import type { Trust } from '../coherence/trust.js';
import type { Entry } from '../entry/entry.js';
import type { MemoryTier } from '../memory/memory-tier.js';
import type { Observer } from '../observe/events.js';
import type { StoreTier } from '../store/store-tier.js';

type Read<V> = Entry<V> & { size: number };

/**
 * Reads that missed memory (or could not trust it) go to the store here, and only here: what the store
 * answered is classified in one place (a live entry is a hit; nothing, or an expired record, a miss) and
 * put in memory only if nothing invalidated its key, or everything, since the read began. Concurrent
 * readers of one key share one store read, unless an invalidation overtook it: a caller arriving after
 * an invalidation must not get a value read before it.
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

  /** The value of canonical key `k` (`key` as the caller gave it, for events), from the store. */
  read(k: string, key: string): Promise<V | undefined> {
    const joined = this.#fences.joinableRead(k) as Promise<V | undefined> | undefined;
    if (joined !== undefined) return joined;
    const since = this.#fences.enter(k);
    const read = this.#store.get(k).then((entry) => this.#settle(k, key, entry, since));
    this.#share(k, read, since);
    return read;
  }

  /**
   * Many values, aligned with `ks`: memory first, then reads in flight joined as `read()` joins them, then
   * one store call for the rest, whose per-key results `read()` may join in turn.
   */
  async readMany(ks: readonly string[], keys: readonly string[]): Promise<(V | undefined)[]> {
    const result: (V | undefined)[] = Array.from({ length: ks.length }, () => undefined);
    const trusted = this.#trust.trusted;
    const pending: Promise<unknown>[] = [];
    const batch: string[] = [];
    const batchKeys: string[] = [];
    const waiting = new Map<string, number[]>();
    for (let i = 0; i < ks.length; i++) {
      const k = ks[i] as string;
      const value = trusted ? this.#memory.get(k) : undefined;
      if (value !== undefined) {
        this.#observer.hit(keys[i] as string, 'memory');
        result[i] = value;
        continue;
      }
      const slots = waiting.get(k);
      if (slots !== undefined) {
        slots.push(i);
        continue;
      }
      const joined = this.#fences.joinableRead(k) as Promise<V | undefined> | undefined;
      if (joined !== undefined) {
        pending.push(joined.then((v) => (result[i] = v)));
        continue;
      }
      waiting.set(k, [i]);
      batch.push(k);
      batchKeys.push(keys[i] as string);
    }
    if (batch.length > 0) {
      const since = batch.map((k) => this.#fences.enter(k));
      const load = this.#store.getMany(batch);
      batch.forEach((k, j) => {
        const read = load.then((entries) => this.#settle(k, batchKeys[j] as string, entries[j], since[j] as number));
        this.#share(k, read, since[j] as number);
        pending.push(
          read.then((v) => {
            for (const i of waiting.get(k) ?? []) result[i] = v;
          }),
        );
      });
    }
    await Promise.all(pending);
    return result;
  }

  #share(k: string, read: Promise<V | undefined>, since: number): void {
    this.#fences.shareRead(k, read, since);
    // Registered before any caller's await, so the fence is released after memory was filled and before
    // callers resume; leave() matches this very read, never a newer one shared since.
    const release = () => this.#fences.leave(k, read);
    read.then(release, release);
  }

  /** What a store read found: a hit is filled into memory if nothing changed since `since`; else a miss. */
  #settle(k: string, key: string, entry: Read<V> | undefined, since: number): V | undefined {
    if (entry === undefined) {
      this.#observer.miss(key);
      return undefined;
    }
    this.#observer.hit(key, 'store');
    if (this.#trust.trusted && this.#fences.unchangedSince(k, since)) {
      this.#memory.set(k, entry.value, entry.expires === undefined ? undefined : entry.expires - Date.now(), entry.size);
    }
    return entry.value;
  }
}
