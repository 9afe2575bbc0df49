import { EventEmitter } from 'node:events';
import { checkKey, checkKeys } from './check.js';
import { withTimeout } from './clock.js';
import type { Trust } from './coherence/trust.js';
import { BusError, CacheClosedError } from './errors.js';
import { SyncedKeyvStore } from './keyv/keyv-store.js';
import type { MemoryTier } from './memory/memory-tier.js';
import type { Observer } from './observe/events.js';
import { snapshot } from './observe/stats.js';
import { loadSettings, type ReadyOptions, readyTimeout, resolveOptions, type SyncedCacheOptions } from './options.js';
import { buildParts, closeParts, type Parts } from './parts.js';
import type { Loader } from './read/get-or-set.js';
import { INTERNAL_KEY_PREFIX } from './store/keys.js';
import type { StoreTier } from './store/store-tier.js';
import type { GetOrSetOptions, LoaderContext, SetManyEntry, SetOptions, SyncedCacheEvents, SyncedCacheStats } from './types.js';
import { checkWriteKey } from './write/writes.js';

// biome-ignore lint/suspicious/noExplicitAny: the value type of the private parts, erased (see #parts)
type Erased = any;

/**
 * A two-tier cache: an in-process LRU (L1) in front of a shared Keyv store (L2), kept coherent across
 * processes by invalidations on a bus (Redis pub/sub).
 *
 * Coherence rules, in short: writes go to the store first and are then announced; a process drops an
 * announced key from memory at once; a store read never refills memory if its key (or everything) was
 * invalidated while it was in flight; and memory is trusted only while the bus is proven up.
 * This class builds the parts (parts.ts) and delegates; the protocols live in their rooms (`read/`,
 * `write/`, `coherence/`, `store/`, `bus/`, `observe/`). Only the memory hit of get() is written here.
 */
export class SyncedCache<V = unknown> extends EventEmitter<SyncedCacheEvents> {
  /** The namespace: the Keyv namespace of the store and the bus channel `synced-cache:<namespace>`. */
  readonly namespace: string;
  // The parts hold V in both directions (loaders take it, memory gives it), and TypeScript compares
  // private fields across instantiations: typed Parts<V>, a SyncedCache<string> would not be a
  // SyncedCache<unknown>, which is what every integration (cacheResponses, the session store) takes.
  // So V is erased here, and the public methods below restore it.
  readonly #parts: Parts<Erased>;
  // The hot path's parts, held directly: a memory hit reads these and nothing else.
  readonly #memory: MemoryTier<Erased>;
  readonly #trust: Trust;
  /**
   * The hot path's own copies, measured to matter (a memory hit 0.78x -> 0.79-0.81x of an awaited lru-cache get,
   * bench/hot-hit.mjs with BENCH_BASELINE_DIST): the trust flag, mirrored here by the Trust, and the memory
   * hits of get()'s fast path, counted here and added in stats().
   */
  #trusted = false;
  #memoryHits = 0;
  readonly #prefix: string | undefined;
  readonly #observer: Observer;
  readonly #counts: Observer['counts'];
  readonly #listening: Observer['listening'];
  #closing: Promise<void> | undefined;

  constructor(options: SyncedCacheOptions = {}) {
    super();
    const parts = buildParts<V>(resolveOptions(options), this as EventEmitter, () => this.#closing !== undefined);
    this.#parts = parts;
    this.namespace = parts.namespace;
    this.#memory = parts.memory;
    this.#trust = parts.trust;
    parts.trust.mirror((trusted) => {
      this.#trusted = trusted;
    });
    this.#prefix = parts.keys.prefix;
    this.#observer = parts.observer;
    this.#counts = parts.observer.counts;
    this.#listening = parts.observer.listening;
  }

  /** This instance's id: in every event's `instance`, and its sender id on the bus. A random UUID. */
  get instanceId(): string {
    return this.#parts.instanceId;
  }

  /** A Keyv over the cache's store adapter and namespace. Writes made through it are not announced. */
  get keyv(): StoreTier<V>['keyv'] {
    return this.#parts.store.keyv;
  }

  /** True when {@link keys} and {@link entries} can list the store (the in-memory default, Redis, PostgreSQL, ...). */
  get canList(): boolean {
    return this.#parts.store.canList;
  }

  /**
   * True when every event is also published on the bus's events channel (`events: { bus: true }` with
   * a bus), so an event is worth building even when no listener is attached in this process.
   */
  get streamsEvents(): boolean {
    return this.#parts.events !== undefined;
  }

  /** The value of `key`, or `undefined`. Served from memory when it is there and memory is trusted. */
  get(key: string): Promise<V | undefined> {
    // The memory hit: a plain method and a resolved promise, no async frame, one lookup. Memory is never
    // trusted once close() has begun, so a hit needs no other check; anything else takes the slow path.
    if (this.#trusted && typeof key === 'string') {
      const prefix = this.#prefix;
      const value = this.#memory.get(prefix !== undefined && key.startsWith(prefix) ? key.slice(prefix.length) : key);
      if (value !== undefined) {
        this.#memoryHits++;
        if (this.#listening.hit) return this.#observer.hitAsync(key, value);
        return Promise.resolve(value);
      }
    }
    return this.#getSlow(key);
  }

  async #getSlow(key: string): Promise<V | undefined> {
    checkKey(key, 'get', this.#parts.maxKeyLength);
    this.#open('get');
    return this.#parts.reads.read(this.#parts.keys.canon(key), key);
  }

  /**
   * The value of `key` if this process's memory holds it and memory is trusted, synchronously; else
   * `undefined`. Never reads the store: for hot paths that can fall back to `get()` themselves.
   */
  peek(key: string): V | undefined {
    if (!this.#trust.trusted || typeof key !== 'string') return undefined;
    const value = this.#memory.get(this.#parts.keys.canon(key));
    if (value !== undefined) this.#observer.hit(key, 'memory');
    return value;
  }

  /** Many values at once, aligned with `keys` (`undefined` for misses); one store round trip for the misses. */
  async getMany(keys: readonly string[]): Promise<(V | undefined)[]> {
    checkKeys(keys, 'getMany', this.#parts.maxKeyLength);
    this.#open('getMany');
    return this.#parts.reads.readMany(
      keys.map((key) => this.#parts.keys.canon(key)),
      keys,
    );
  }

  /** True when `key` holds a fresh value (in trusted memory, or else in the store). */
  async has(key: string): Promise<boolean> {
    checkKey(key, 'has', this.#parts.maxKeyLength);
    this.#open('has');
    const k = this.#parts.keys.canon(key);
    if (this.#trust.trusted && this.#memory.has(k)) return true;
    return this.#parts.store.has(k);
  }

  /**
   * Writes `value` to the store, then announces it to the other processes. Resolves once the store is
   * written and the invalidation is published (or, while the bus is down, queued for the reconnect).
   * Rejects with a TypeError, changing nothing, when the value cannot be stored faithfully.
   * `options` may be a number: the ttl in milliseconds, as in Keyv.
   */
  set(key: string, value: V, options?: SetOptions | number): Promise<void> {
    return this.#parts.writes.set(key, value, options);
  }

  /**
   * Writes `value` only if `key` holds no fresh value; resolves `true` if it wrote (and then announced it,
   * as `set` does), `false` if the key existed. Of two adds of one key at the same moment, in any
   * processes, exactly one writes: through the store's own set-if-absent where it has one (`@keyv/redis`:
   * `SET NX`), else with a short lock on the bus's Redis; without a bus, only within this process.
   */
  add(key: string, value: V, options?: SetOptions | number): Promise<boolean> {
    return this.#parts.writes.add(key, value, options);
  }

  /**
   * Reads `key` from the store (never from memory), calls `updater` with its fresh value (or undefined),
   * and writes what it returns only if the store still holds what was read: a compare-and-set, retried
   * when another write got in between. `updater` returning undefined writes nothing. Resolves the value
   * written, or undefined. Atomic where the store compares and sets itself (`@keyv/redis`, one script);
   * elsewhere updates of a key take its guard (the bus's Redis, or this process without a bus), and a
   * plain `set` may still land between an update's check and its write.
   */
  update(
    key: string,
    updater: (current: V | undefined) => V | undefined | Promise<V | undefined>,
    options?: SetOptions | number,
  ): Promise<V | undefined> {
    return this.#parts.writes.update(key, updater, options);
  }

  /** Writes many entries with one store call and one bus message. Nothing is written if any entry is invalid. */
  setMany(entries: readonly SetManyEntry<V>[]): Promise<void> {
    return this.#parts.writes.setMany(entries);
  }

  /** Deletes `key` everywhere. Resolves to whether the store held it. */
  delete(key: string): Promise<boolean> {
    return this.#parts.writes.delete(key);
  }

  /** Deletes many keys with one store call and one bus message. Resolves to true if every key existed. */
  deleteMany(keys: readonly string[]): Promise<boolean> {
    return this.#parts.writes.deleteMany(keys);
  }

  /** Empties this namespace: the store, this process's memory, and every other process's memory. */
  clear(): Promise<void> {
    return this.#parts.writes.clear();
  }

  /**
   * The value of `key`; on a miss, calls `loader(key, { signal, stale })` (once per key per process at a
   * time, and with `lock` once across processes), stores what it returns and returns it. The result is
   * not stored if the key changed (a delete or a set, here or in another process) while the loader ran:
   * the change wins. A loader result of `undefined` is returned but not stored. With `grace`, a stale
   * value answers when the store or the loader fails or times out; see the options for the timeouts.
   */
  getOrSet(key: string, loader: (key: string, context: LoaderContext<V>) => V | Promise<V>, options?: GetOrSetOptions | number): Promise<V>;
  getOrSet(key: string, loader: Loader<V>, options?: GetOrSetOptions | number): Promise<V | undefined>;
  async getOrSet(key: string, loader: Loader<V>, options?: GetOrSetOptions | number): Promise<V | undefined> {
    checkWriteKey(key, 'getOrSet', this.#parts);
    if (typeof loader !== 'function') throw new TypeError('synced-cache: getOrSet: loader must be a function');
    const parts = this.#parts;
    const settings = loadSettings(key, options, parts.defaults, parts.lockAvailable);
    this.#open('getOrSet');
    return parts.getOrSet.run(key, parts.keys.canon(key), loader, settings);
  }

  /**
   * The keys of the namespace, read from the store (expired entries skipped), in the store's order;
   * needs {@link canList}. With `prefix`, only the keys that begin with it, spelled with it.
   */
  async *keys(prefix?: string): AsyncGenerator<string, void> {
    for await (const [key] of this.entries(prefix)) yield key;
  }

  /**
   * `[key, value]` for every fresh entry of the namespace, read from the store; needs {@link canList}.
   * Keys come without the namespace's own `namespace:` where Keyv treats it as implied (Keyv 5). With
   * `prefix`, only the keys that begin with it, spelled with it as given.
   */
  async *entries(prefix?: string): AsyncGenerator<[string, V], void> {
    if (prefix !== undefined && typeof prefix !== 'string') throw new TypeError('synced-cache: entries: prefix must be a string');
    this.#open('entries');
    const { store, keys } = this.#parts;
    if (!store.canList) {
      throw new TypeError(
        `synced-cache: the store of namespace ${JSON.stringify(this.namespace)} cannot list its keys (its Keyv adapter has no iterator())`,
      );
    }
    const from = prefix === undefined ? '' : keys.canon(prefix);
    for await (const [k, entry] of store.entries()) {
      if (k.startsWith(INTERNAL_KEY_PREFIX)) continue;
      if (prefix === undefined) yield [k, entry.value];
      else if (k.startsWith(from)) yield [prefix + k.slice(from.length), entry.value];
    }
  }

  /**
   * A Keyv store adapter over this cache: `new Keyv({ store: cache.keyvStore() })` reads through the synced
   * memory tier. Give the adapter a cache of its own: it stores Keyv's serialized strings as values.
   */
  keyvStore(): SyncedKeyvStore {
    return new SyncedKeyvStore(this as SyncedCache<unknown>);
  }

  /**
   * Resolves once memory is trusted: at once without a bus, else when the bus is proven up (its first
   * heartbeat came back). Rejects with a {@link BusError} naming what failed last (ECONNREFUSED, an AUTH
   * failure) if that takes longer than `timeout` ms, and with {@link CacheClosedError} if the cache closes
   * first. The cache works meanwhile, reading around memory.
   */
  async ready(options: ReadyOptions = {}): Promise<void> {
    const timeout = readyTimeout(options);
    this.#open('ready');
    const wait = this.#trust.whenTrusted();
    try {
      await withTimeout(wait.promise, timeout, () => {
        const failure = this.#parts.bus?.failure;
        const message = `the bus of namespace ${JSON.stringify(this.namespace)} did not come up within ${timeout} ms`;
        return failure === undefined ? new BusError(message) : new BusError(`${message}: ${failure.message}`, { cause: failure });
      });
    } finally {
      wait.cancel();
    }
  }

  /** Counters since creation, and the bus state. */
  stats(): SyncedCacheStats {
    const parts = this.#parts;
    return snapshot(this.#counts, parts.bus, this.#memory.size, parts.breaker, parts.events, this.#memoryHits);
  }

  /** Emits like EventEmitter's; an event the event stream carries (`events: { bus: true }`) also goes there. */
  override emit<K>(event: K | keyof SyncedCacheEvents, ...args: K extends keyof SyncedCacheEvents ? SyncedCacheEvents[K] : never): boolean {
    // Undefined while the constructor builds the observer, which emits 'newListener' as it hooks in.
    (this.#observer as Observer | undefined)?.tap(event as string, args[0]);
    return super.emit(event, ...(args as never));
  }

  /** Removes listeners like EventEmitter's, and keeps the hooks that the hot-path switches depend on. */
  override removeAllListeners(event?: keyof SyncedCacheEvents): this {
    super.removeAllListeners(event);
    this.#observer.attach();
    return this;
  }

  /**
   * Stops timers and closes the connections this cache opened: its bus connections, and a store it built
   * from a URL (never a Redis client or a store you passed). Writes in flight are let finish and announce
   * themselves, each step bounded by `storeTimeout`. Idempotent; later operations reject with
   * {@link CacheClosedError}.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      // From now on memory is neither read nor filled: reads take the slow path and are refused.
      this.#trust.close(new CacheClosedError('ready'));
      this.#closing = closeParts(this.#parts);
    }
    return this.#closing;
  }

  #open(operation: string): void {
    if (this.#closing !== undefined) throw new CacheClosedError(operation);
  }
}
