import { EventEmitter } from 'node:events';
import { Bus } from './bus/bus.js';
import { checkKey, checkKeys } from './check.js';
import { withTimeout } from './clock.js';
import { OutsideChanges } from './coherence/apply.js';
import { Fences } from './coherence/fences.js';
import { Trust } from './coherence/trust.js';
import { BusError, CacheClosedError } from './errors.js';
import { SyncedKeyvStore } from './keyv/keyv-store.js';
import { MemoryTier } from './memory/memory-tier.js';
import { Observer } from './observe/events.js';
import { snapshot } from './observe/stats.js';
import { callTtl, type ReadyOptions, readyTimeout, resolveOptions, type SyncedCacheOptions } from './options.js';
import { GetOrSet, type Loader } from './read/get-or-set.js';
import { ReadThrough } from './read/read-through.js';
import { RedisTransport } from './redis/transport.js';
import { namespaceOf, openStore, type StoreOption, ttlOf } from './store/adapter.js';
import { StoreCalls } from './store/calls.js';
import type { KeyRules } from './store/keys.js';
import { StoreTier } from './store/store-tier.js';
import { type OwnedStore, openStoreUrl } from './store/url.js';
import type { SetManyEntry, SetOptions, SyncedCacheEvents, SyncedCacheStats } from './types.js';
import { type BatchEntry, clearPlan, deleteManyPlan, deletePlan, loadedPlan, setManyPlan, setPlan, type WritePlan } from './write/plans.js';
import { WritePath } from './write/write-path.js';

/**
 * A two-tier cache: an in-process LRU (L1) in front of a shared Keyv store (L2), kept coherent across
 * processes by invalidations on a bus (Redis pub/sub).
 *
 * Coherence rules, in short: writes go to the store first and are then announced; a process drops an
 * announced key from memory at once; a store read never refills memory if its key (or everything) was
 * invalidated while it was in flight; and memory is trusted only while the bus is proven up.
 * This class wires the parts together and delegates; the protocols live in their rooms (`read/`,
 * `write/`, `coherence/`, `store/`, `bus/`, `observe/`).
 */
export class SyncedCache<V = unknown> extends EventEmitter<SyncedCacheEvents> {
  /** The namespace: the Keyv namespace of the store and the bus channel `synced-cache:<namespace>`. */
  readonly namespace: string;
  readonly #memory: MemoryTier<V>;
  readonly #store: StoreTier<V>;
  readonly #keys: KeyRules;
  readonly #prefix: string | undefined;
  readonly #trust: Trust;
  readonly #observer: Observer;
  readonly #counts: Observer['counts'];
  readonly #listening: Observer['listening'];
  readonly #bus: Bus | undefined;
  readonly #reads: ReadThrough<V>;
  readonly #writes: WritePath<V>;
  readonly #getOrSet: GetOrSet<V>;
  readonly #ttl: number | undefined;
  readonly #owned: OwnedStore | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: SyncedCacheOptions = {}) {
    super();
    const resolved = resolveOptions(options);
    const given = typeof resolved.store === 'string' ? undefined : resolved.store;
    this.namespace = resolved.namespaceExplicit ? resolved.namespace : (namespaceOf(given) ?? resolved.namespace);
    this.#ttl = resolved.ttl ?? ttlOf(given);
    // A store named by a URL is built here, and closed by close().
    this.#owned = typeof resolved.store === 'string' ? openStoreUrl(resolved.store) : undefined;
    const opened = openStore(this.#owned?.adapter ?? (resolved.store as StoreOption | undefined), this.namespace);
    this.#keys = opened.keys;
    this.#prefix = this.#keys.prefix;
    this.#store = new StoreTier<V>(opened, new StoreCalls());
    this.#memory = new MemoryTier<V>({ ...resolved.memory, clock: resolved.clock });
    const fences = new Fences();
    const transport = resolved.transport ?? (resolved.redis === undefined ? undefined : new RedisTransport(resolved.redis));
    this.#trust = new Trust(transport === undefined ? [] : ['bus']);
    this.#observer = new Observer(this as EventEmitter, this.namespace, () => this.#bus?.id);
    this.#counts = this.#observer.counts;
    this.#listening = this.#observer.listening;
    const outside = new OutsideChanges(fences, this.#memory, this.#trust, this.#observer);
    if (transport !== undefined) {
      const observer = this.#observer;
      this.#bus = new Bus(
        transport,
        {
          namespace: this.namespace,
          heartbeat: resolved.heartbeat,
          maxPendingKeys: resolved.maxPendingKeys,
          maxMessageBytes: resolved.maxMessageBytes,
          publishTimeout: resolved.publishTimeout,
          clock: resolved.clock,
          signer: resolved.signer,
        },
        {
          invalidate: (keys, origin) => outside.changed(keys, origin),
          gap: () => outside.lost(),
          status: (status, previous, reason) => {
            observer.bus(status, previous, reason);
            if (status === 'up') {
              outside.up('bus');
              if (this.#closing !== undefined) this.#trust.close();
              observer.emitSafely('bus:up');
            } else if (status === 'down') {
              outside.down('bus');
              if (reason !== undefined) observer.error(reason);
              observer.emitSafely('bus:down', { reason });
            } else if (status === 'closed') {
              this.#trust.down('bus');
            }
          },
          error: (error) => observer.error(error),
          notUp: (reason) => observer.notUp(reason),
        },
      );
    }
    const bus = this.#bus;
    this.#reads = new ReadThrough(fences, this.#memory, this.#store, this.#trust, this.#observer);
    this.#writes = new WritePath(fences, this.#memory, this.#trust, this.#observer, (keys) => {
      if (bus === undefined) return Promise.resolve();
      this.#observer.published(keys);
      return bus.publish(keys);
    });
    this.#getOrSet = new GetOrSet<V>({
      fences,
      get: (key) => this.get(key),
      store: (key, value, ttl, unchanged) =>
        this.#writes.track(async () => {
          await this.#writes.run(loadedPlan(await this.#setPlan(key, value, ttl), unchanged));
        }),
    });
  }

  /** This instance's id on the bus (`undefined` without a bus). */
  get instanceId(): string | undefined {
    return this.#bus?.id;
  }

  /** A Keyv over the cache's store adapter and namespace. Writes made through it are not announced. */
  get keyv(): StoreTier<V>['keyv'] {
    return this.#store.keyv;
  }

  /** True when {@link keys} and {@link entries} can list the store (the in-memory default, Redis, PostgreSQL, ...). */
  get canList(): boolean {
    return this.#store.canList;
  }

  /** The value of `key`, or `undefined`. Served from memory when it is there and memory is trusted. */
  get(key: string): Promise<V | undefined> {
    // The memory hit: a plain method and a resolved promise, no async frame, one lookup. Memory is never
    // trusted once close() has begun, so a hit needs no other check; anything else takes the slow path.
    if (this.#trust.trusted && typeof key === 'string') {
      const prefix = this.#prefix;
      const value = this.#memory.get(prefix !== undefined && key.startsWith(prefix) ? key.slice(prefix.length) : key);
      if (value !== undefined) {
        this.#counts.memoryHits++;
        if (this.#listening.hit) return this.#observer.hitAsync(key, value);
        return Promise.resolve(value);
      }
    }
    return this.#getSlow(key);
  }

  async #getSlow(key: string): Promise<V | undefined> {
    checkKey(key, 'get');
    this.#open('get');
    return this.#reads.read(this.#keys.canon(key), key);
  }

  /**
   * The value of `key` if this process's memory holds it and memory is trusted, synchronously; else
   * `undefined`. Never reads the store: for hot paths that can fall back to `get()` themselves.
   */
  peek(key: string): V | undefined {
    if (!this.#trust.trusted || typeof key !== 'string') return undefined;
    const value = this.#memory.get(this.#keys.canon(key));
    if (value !== undefined) this.#observer.hit(key, 'memory');
    return value;
  }

  /** Many values at once, aligned with `keys` (`undefined` for misses); one store round trip for the misses. */
  async getMany(keys: readonly string[]): Promise<(V | undefined)[]> {
    checkKeys(keys, 'getMany');
    this.#open('getMany');
    return this.#reads.readMany(
      keys.map((key) => this.#keys.canon(key)),
      keys,
    );
  }

  /** True when `key` holds a value (in trusted memory, or else a live entry in the store). */
  async has(key: string): Promise<boolean> {
    checkKey(key, 'has');
    this.#open('has');
    const k = this.#keys.canon(key);
    if (this.#trust.trusted && this.#memory.has(k)) return true;
    return this.#store.has(k);
  }

  /**
   * Writes `value` to the store, then announces it to the other processes. Resolves once the store is
   * written and the invalidation is published (or, while the bus is down, queued for the reconnect).
   * Rejects with a TypeError, changing nothing, when the value cannot be stored faithfully.
   * `options` may be a number: the ttl in milliseconds, as in Keyv.
   */
  set(key: string, value: V, options?: SetOptions | number): Promise<void> {
    return this.#writes.track(async () => {
      checkKey(key, 'set');
      this.#open('set');
      await this.#writes.run(await this.#setPlan(key, value, callTtl('set', key, options, this.#ttl)));
    });
  }

  async #setPlan(key: string, value: V, ttl: number | undefined): Promise<WritePlan<void, V>> {
    // Computed before the write, as Keyv does, so that memory never outlives the store copy.
    const expires = ttl === undefined ? undefined : Date.now() + ttl;
    const prepared = await this.#store.prepare(key, value, expires);
    return setPlan(this.#store, this.#keys.canon(key), key, prepared, ttl, expires);
  }

  /** Writes many entries with one store call and one bus message. Nothing is written if any entry is invalid. */
  setMany(entries: readonly SetManyEntry<V>[]): Promise<void> {
    return this.#writes.track(async () => {
      if (!Array.isArray(entries)) throw new TypeError('synced-cache: setMany: entries must be an array of { key, value, ttl? }');
      this.#open('setMany');
      const batch: BatchEntry<V>[] = [];
      for (const entry of entries) {
        if (typeof entry !== 'object' || entry === null) {
          throw new TypeError('synced-cache: setMany: each entry must be an object { key, value, ttl? }');
        }
        checkKey(entry.key, 'setMany');
        const ttl = callTtl('setMany', entry.key, entry.ttl === undefined ? undefined : { ttl: entry.ttl }, this.#ttl);
        const expires = ttl === undefined ? undefined : Date.now() + ttl;
        batch.push({
          k: this.#keys.canon(entry.key),
          key: entry.key,
          ttl,
          expires,
          prepared: await this.#store.prepare(entry.key, entry.value, expires),
        });
      }
      if (batch.length > 0) await this.#writes.run(setManyPlan(this.#store, batch));
    });
  }

  /** Deletes `key` everywhere. Resolves to whether the store held it. */
  delete(key: string): Promise<boolean> {
    return this.#writes.track(async () => {
      checkKey(key, 'delete');
      this.#open('delete');
      return (await this.#writes.run(deletePlan(this.#store, this.#keys.canon(key), key))) === true;
    });
  }

  /** Deletes many keys with one store call and one bus message. Resolves to true if every key existed. */
  deleteMany(keys: readonly string[]): Promise<boolean> {
    return this.#writes.track(async () => {
      checkKeys(keys, 'deleteMany');
      this.#open('deleteMany');
      if (keys.length === 0) return true;
      const ks = keys.map((key) => this.#keys.canon(key));
      return (await this.#writes.run(deleteManyPlan(this.#store, ks, keys))) === true;
    });
  }

  /** Empties this namespace: the store, this process's memory, and every other process's memory. */
  clear(): Promise<void> {
    return this.#writes.track(async () => {
      this.#open('clear');
      await this.#writes.run(clearPlan(this.#store));
    });
  }

  /**
   * The value of `key`; on a miss, calls `loader` (once per key per process at a time: concurrent callers
   * share the call), stores what it returns and returns it. The result is not stored if the key changed
   * (a delete or a set, here or in another process) while the loader ran: the change wins. A loader
   * result of `undefined` is returned but not stored. Rejects if the loader or the store fails.
   */
  getOrSet(key: string, loader: (key: string) => V | Promise<V>, options?: SetOptions | number): Promise<V>;
  getOrSet(key: string, loader: Loader<V>, options?: SetOptions | number): Promise<V | undefined>;
  async getOrSet(key: string, loader: Loader<V>, options?: SetOptions | number): Promise<V | undefined> {
    checkKey(key, 'getOrSet');
    if (typeof loader !== 'function') throw new TypeError('synced-cache: getOrSet: loader must be a function');
    const ttl = callTtl('getOrSet', key, options, this.#ttl);
    this.#open('getOrSet');
    return this.#getOrSet.run(key, this.#keys.canon(key), loader, ttl);
  }

  /**
   * The keys of the namespace, read from the store (expired entries skipped), in the store's order;
   * needs {@link canList}. With `prefix`, only the keys that begin with it, spelled with it.
   */
  async *keys(prefix?: string): AsyncGenerator<string, void> {
    for await (const [key] of this.entries(prefix)) yield key;
  }

  /**
   * `[key, value]` for every live entry of the namespace, read from the store; needs {@link canList}.
   * Keys come without the namespace's own `namespace:` (which Keyv treats as implied, so both spellings
   * name one entry). With `prefix`, only the keys that begin with it, spelled with it as given.
   */
  async *entries(prefix?: string): AsyncGenerator<[string, V], void> {
    if (prefix !== undefined && typeof prefix !== 'string') throw new TypeError('synced-cache: entries: prefix must be a string');
    this.#open('entries');
    if (!this.#store.canList) {
      throw new TypeError(
        `synced-cache: the store of namespace ${JSON.stringify(this.namespace)} cannot list its keys (its Keyv adapter has no iterator())`,
      );
    }
    const from = prefix === undefined ? '' : this.#keys.canon(prefix);
    for await (const [k, entry] of this.#store.entries()) {
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
        const failure = this.#bus?.failure;
        return new BusError(
          `the bus of namespace ${JSON.stringify(this.namespace)} did not come up within ${timeout} ms${failure === undefined ? '' : `: ${failure.message}`}`,
          failure === undefined ? undefined : { cause: failure },
        );
      });
    } finally {
      wait.cancel();
    }
  }

  /** Counters since creation, and the bus state. */
  stats(): SyncedCacheStats {
    return snapshot(this.#counts, this.#bus, this.#memory.size);
  }

  /** Removes listeners like EventEmitter's, and keeps the hooks that the hot-path switches depend on. */
  override removeAllListeners(event?: keyof SyncedCacheEvents): this {
    super.removeAllListeners(event);
    this.#observer.attach();
    return this;
  }

  /**
   * Stops timers and closes the connections this cache opened: its bus connections, and a store it built
   * from a URL (never a Redis client or a store you passed).
   * Invalidations in flight are sent first. Idempotent; later operations reject with {@link CacheClosedError}.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      // From now on memory is neither read nor filled: reads take the slow path and are refused.
      this.#trust.close(new CacheClosedError('ready'));
      this.#closing = (async () => {
        try {
          // Writes already under way finish and announce themselves; new ones are refused.
          await this.#writes.idle();
          const unpublished = this.#bus?.pendingKeys ?? 0;
          if (unpublished > 0) {
            // Nobody will publish them now: the other processes keep their copies until they expire.
            this.#observer.error(new BusError(`closed with ${unpublished} invalidation(s) not yet published: the bus was down`));
          }
          await this.#bus?.close();
        } finally {
          this.#memory.clear();
          this.#store.release();
          await this.#owned?.disconnect();
        }
      })();
    }
    return this.#closing;
  }

  #open(operation: string): void {
    if (this.#closing !== undefined) throw new CacheClosedError(operation);
  }
}
