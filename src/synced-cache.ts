import { EventEmitter } from 'node:events';
import { Bus } from './bus/bus.js';
import { checkKey, checkKeys } from './check.js';
import { withTimeout } from './clock.js';
import { OutsideChanges } from './coherence/apply.js';
import { Fences } from './coherence/fences.js';
import { Trust } from './coherence/trust.js';
import { BusError, CacheClosedError, StoreError } from './errors.js';
import { SyncedKeyvStore } from './keyv/keyv-store.js';
import { MemoryTier } from './memory/memory-tier.js';
import { Observer } from './observe/events.js';
import { snapshot } from './observe/stats.js';
import {
  type LoadSettings,
  loadSettings,
  type ReadyOptions,
  readyTimeout,
  resolveOptions,
  type SyncedCacheOptions,
  type WriteSettings,
  writeSettings,
} from './options.js';
import { Background } from './read/background.js';
import { GetOrSet, type Loader } from './read/get-or-set.js';
import { RedisLockStep } from './read/lock-step.js';
import { ReadThrough } from './read/read-through.js';
import { RedisLock } from './redis/lock.js';
import { RedisTransport } from './redis/transport.js';
import { namespaceOf, openStore, type StoreOption, ttlOf } from './store/adapter.js';
import { Breaker } from './store/breaker.js';
import { StoreCalls } from './store/calls.js';
import { INTERNAL_KEY_PREFIX, type KeyRules } from './store/keys.js';
import { StoreTier } from './store/store-tier.js';
import { type OwnedStore, openStoreUrl } from './store/url.js';
import type { GetOrSetOptions, LoaderContext, SetManyEntry, SetOptions, SyncedCacheEvents, SyncedCacheStats } from './types.js';
import { AddGuard } from './write/add.js';
import {
  addPlan,
  type BatchEntry,
  clearPlan,
  deleteManyPlan,
  deletePlan,
  loadedPlan,
  setManyPlan,
  setPlan,
  timing,
  type WritePlan,
} from './write/plans.js';
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
  readonly #breaker: Breaker | undefined;
  readonly #storeTimeout: number;
  readonly #defaults: LoadSettings;
  readonly #background = new Background();
  readonly #lockAvailable: boolean;
  readonly #lock: RedisLock | undefined;
  readonly #adds: AddGuard;
  readonly #maxKeyLength: number;
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
    this.#observer = new Observer(this as EventEmitter, this.namespace, () => this.#bus?.id);
    const breakerOptions = resolved.circuitBreaker;
    this.#breaker =
      breakerOptions === undefined
        ? undefined
        : new Breaker({ ...breakerOptions, clock: resolved.clock, changed: (state) => this.#observer.breaker(state) });
    this.#storeTimeout = resolved.storeTimeout;
    this.#maxKeyLength = resolved.maxKeyLength;
    this.#store = new StoreTier<V>(opened, new StoreCalls({ timeout: resolved.storeTimeout, breaker: this.#breaker }), {
      namespace: this.namespace,
      encryption: resolved.encryption,
      maxValueBytes: resolved.maxValueBytes,
      // Built below; used only when a passphrase's salt is first written.
      exclusive: (k, body) => this.#adds.run(k, body),
    });
    // Stale copies in memory are decided once per cache: only a cache built with grace keeps them.
    this.#memory = new MemoryTier<V>({ ...resolved.memory, clock: resolved.clock, staleCopies: resolved.grace > 0 });
    this.#defaults = {
      ttl: this.#ttl,
      grace: resolved.grace,
      softTimeout: resolved.softTimeout,
      hardTimeout: resolved.hardTimeout,
      refreshAhead: resolved.refreshAhead,
      lock: resolved.lock,
    };
    const fences = new Fences();
    const transport = resolved.transport ?? (resolved.redis === undefined ? undefined : new RedisTransport(resolved.redis));
    this.#lockAvailable = resolved.redis !== undefined;
    // The getOrSet lock lives on the bus's Redis, on a connection of its own opened on first use.
    this.#lock = resolved.redis === undefined ? undefined : new RedisLock(resolved.redis);
    this.#adds = new AddGuard(this.#lock, this.namespace);
    this.#trust = new Trust(transport === undefined ? [] : ['bus']);
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
      memory: this.#memory,
      trust: this.#trust,
      reads: this.#reads,
      observer: this.#observer,
      background: this.#background,
      lock:
        this.#lock === undefined
          ? undefined
          : new RedisLockStep<V>({
              lock: this.#lock,
              namespace: this.namespace,
              reread: (k, key) => this.#reads.find(k, key).then((found) => (found === undefined || found.stale ? undefined : found.value)),
              watch: (k) => outside.watch(k),
              counts: this.#observer.counts.lock,
              report: (error) => this.#observer.error(error),
            }),
      store: (key, value, settings, unchanged) =>
        this.#writes.track(async () => {
          await this.#writes.run(loadedPlan(await this.#setPlan(key, value, settings), unchanged));
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
    checkKey(key, 'get', this.#maxKeyLength);
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
    checkKeys(keys, 'getMany', this.#maxKeyLength);
    this.#open('getMany');
    return this.#reads.readMany(
      keys.map((key) => this.#keys.canon(key)),
      keys,
    );
  }

  /** True when `key` holds a value (in trusted memory, or else a live entry in the store). */
  async has(key: string): Promise<boolean> {
    checkKey(key, 'has', this.#maxKeyLength);
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
      checkKey(key, 'set', this.#maxKeyLength);
      this.#open('set');
      await this.#writes.run(await this.#setPlan(key, value, writeSettings('set', key, options, this.#defaults)));
    });
  }

  async #setPlan(key: string, value: V, settings: WriteSettings): Promise<WritePlan<void, V>> {
    const t = timing(settings.ttl, settings.grace);
    const prepared = await this.#store.prepare(key, value, t.expires, t.fresh);
    return setPlan(this.#store, this.#keys.canon(key), key, prepared, t);
  }

  /**
   * Writes `value` only if `key` holds no fresh value; resolves `true` if it wrote (and then announced it,
   * as `set` does), `false` if the key existed. Of two adds of one key at the same moment, in any
   * processes, exactly one writes: through the store's own set-if-absent where it has one (`@keyv/redis`:
   * `SET NX`), else with a short lock on the bus's Redis; without a bus, only within this process.
   */
  add(key: string, value: V, options?: SetOptions | number): Promise<boolean> {
    return this.#writes.track(async () => {
      checkKey(key, 'add', this.#maxKeyLength);
      this.#open('add');
      const settings = writeSettings('add', key, options, this.#defaults);
      const k = this.#keys.canon(key);
      // The store's own SET NX would see a stale record kept for grace as present: the lock judges by freshness.
      if (this.#store.setsIfAbsent && settings.grace === 0) {
        const t = timing(settings.ttl, 0);
        const prepared = await this.#store.prepare(key, value, t.expires, t.fresh);
        return (await this.#writes.run(addPlan(this.#store, k, key, prepared, t))) === true;
      }
      const plan = await this.#setPlan(key, value, settings);
      return this.#adds.run(k, async () => {
        const found = await this.#reads.find(k, key);
        if (found !== undefined && !found.stale) return false;
        await this.#writes.run(plan);
        return true;
      });
    });
  }

  /** Writes many entries with one store call and one bus message. Nothing is written if any entry is invalid. */
  setMany(entries: readonly SetManyEntry<V>[]): Promise<void> {
    return this.#writes.track(async () => {
      if (!Array.isArray(entries)) throw new TypeError('synced-cache: setMany: entries must be an array of { key, value, ttl?, grace? }');
      this.#open('setMany');
      const batch: BatchEntry<V>[] = [];
      for (const entry of entries) {
        if (typeof entry !== 'object' || entry === null) {
          throw new TypeError('synced-cache: setMany: each entry must be an object { key, value, ttl?, grace? }');
        }
        checkKey(entry.key, 'setMany', this.#maxKeyLength);
        const settings = writeSettings('setMany', entry.key, { ttl: entry.ttl, grace: entry.grace }, this.#defaults);
        const t = timing(settings.ttl, settings.grace);
        const prepared = await this.#store.prepare(entry.key, entry.value, t.expires, t.fresh);
        batch.push({ k: this.#keys.canon(entry.key), key: entry.key, ttl: t.ttl, expires: t.expires, timing: t, prepared });
      }
      if (batch.length > 0) await this.#writes.run(setManyPlan(this.#store, batch));
    });
  }

  /** Deletes `key` everywhere. Resolves to whether the store held it. */
  delete(key: string): Promise<boolean> {
    return this.#writes.track(async () => {
      checkKey(key, 'delete', this.#maxKeyLength);
      this.#open('delete');
      return (await this.#writes.run(deletePlan(this.#store, this.#keys.canon(key), key))) === true;
    });
  }

  /** Deletes many keys with one store call and one bus message. Resolves to true if every key existed. */
  deleteMany(keys: readonly string[]): Promise<boolean> {
    return this.#writes.track(async () => {
      checkKeys(keys, 'deleteMany', this.#maxKeyLength);
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
  getOrSet(key: string, loader: (key: string, context: LoaderContext<V>) => V | Promise<V>, options?: GetOrSetOptions | number): Promise<V>;
  getOrSet(key: string, loader: Loader<V>, options?: GetOrSetOptions | number): Promise<V | undefined>;
  async getOrSet(key: string, loader: Loader<V>, options?: GetOrSetOptions | number): Promise<V | undefined> {
    checkKey(key, 'getOrSet', this.#maxKeyLength);
    if (typeof loader !== 'function') throw new TypeError('synced-cache: getOrSet: loader must be a function');
    const settings = loadSettings(key, options, this.#defaults, this.#lockAvailable);
    this.#open('getOrSet');
    return this.#getOrSet.run(key, this.#keys.canon(key), loader, settings);
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
    return snapshot(this.#counts, this.#bus, this.#memory.size, this.#breaker);
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
          // Writes already under way finish and announce themselves (each store call is bounded by
          // storeTimeout); new ones are refused. A SIGTERM handler must not wait on a store that hangs.
          const idle = await withTimeout(
            this.#writes.idle().then(() => true),
            this.#storeTimeout,
            () => new Error('writes still in flight'),
          ).catch(() => false);
          if (!idle) {
            this.#observer.error(
              new StoreError(
                'close',
                undefined,
                undefined,
                `closed with writes still in flight after ${this.#storeTimeout} ms (storeTimeout): their invalidations may not be sent`,
              ),
            );
          }
          const unpublished = this.#bus?.pendingKeys ?? 0;
          if (unpublished > 0) {
            // Nobody will publish them now: the other processes keep their copies until they expire.
            this.#observer.error(new BusError(`closed with ${unpublished} invalidation(s) not yet published: the bus was down`));
          }
          // Loaders still running in the background are told to stop; their writes get storeTimeout.
          await this.#background.drain(this.#storeTimeout, new CacheClosedError('getOrSet'));
          await this.#bus?.close();
          await this.#lock?.close();
        } finally {
          this.#memory.clear();
          this.#store.release();
          if (this.#owned !== undefined)
            await withTimeout(this.#owned.disconnect(), this.#storeTimeout, () => new Error('store close timed out')).catch(() => {});
        }
      })();
    }
    return this.#closing;
  }

  #open(operation: string): void {
    if (this.#closing !== undefined) throw new CacheClosedError(operation);
  }
}
