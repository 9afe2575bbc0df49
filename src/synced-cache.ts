import { EventEmitter } from 'node:events';
import { Bus, type BusStatus } from './bus/bus.js';
import { channels } from './diagnostics.js';
import { BusError, CacheClosedError } from './errors.js';
import { Fences } from './fences.js';
import { SyncedKeyvStore } from './keyv-store.js';
import { MemoryTier } from './memory-tier.js';
import { checkTtl, resolveOptions, type SyncedCacheOptions } from './options.js';
import { RedisTransport } from './redis/transport.js';
import { StoreTier } from './store-tier.js';
import type { BusState, SetManyEntry, SetOptions, SyncedCacheEvents, SyncedCacheStats } from './types.js';

type Listened = 'hit' | 'miss' | 'set' | 'delete' | 'invalidate';

function checkKey(key: unknown, operation: string): asserts key is string {
  if (typeof key !== 'string') {
    throw new TypeError(`synced-cache: ${operation}: key must be a string, got ${key === null ? 'null' : typeof key}`);
  }
  if (key.length === 0) throw new TypeError(`synced-cache: ${operation}: key must not be empty`);
}

function checkKeys(keys: unknown, operation: string): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) throw new TypeError(`synced-cache: ${operation}: keys must be an array of strings`);
  for (const key of keys) checkKey(key, operation);
}

function quote(key: string): string {
  return key.length > 80 ? `${JSON.stringify(key.slice(0, 80))}...` : JSON.stringify(key);
}

/**
 * A two-tier cache: an in-process LRU (L1) in front of a shared Keyv store (L2), kept coherent across
 * processes by invalidations on a bus (Redis pub/sub).
 *
 * Coherence rules, in short: writes go to the store first and are then announced; a process drops an
 * announced key from memory at once; a store read never refills memory if its key (or everything) was
 * invalidated while it was in flight; and memory is trusted only while the bus is proven up.
 */
export class SyncedCache<V = unknown> extends EventEmitter<SyncedCacheEvents> {
  /** The namespace: the Keyv namespace of the store and the bus channel `synced-cache:<namespace>`. */
  readonly namespace: string;
  readonly #memory: MemoryTier<V>;
  readonly #store: StoreTier<V>;
  readonly #fences = new Fences();
  readonly #bus: Bus | undefined;
  readonly #ttl: number | undefined;
  readonly #prefix: string | undefined;
  readonly #loaders = new Map<string, Promise<V | undefined>>();

  /** Memory is consulted and filled only while this is true: no bus, or a bus proven up. */
  #trusted: boolean;
  /** Whether the bus was ever up: only then is coming up again a reconnect. */
  #wasUp = false;
  /** Writes in flight, which close() lets finish so that their invalidations go out. */
  #writing = 0;
  #idle: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  // Hot-path switches: an event is built and emitted only while someone listens to it.
  readonly #listening: Record<Listened, boolean> = { hit: false, miss: false, set: false, delete: false, invalidate: false };
  #memoryHits = 0;
  #storeHits = 0;
  #misses = 0;
  #sets = 0;
  #deletes = 0;
  readonly #flushes = { reconnect: 0, gap: 0, clear: 0 };

  constructor(options: SyncedCacheOptions = {}) {
    super();
    const resolved = resolveOptions(options);
    this.namespace = resolved.namespaceExplicit ? resolved.namespace : (StoreTier.namespaceOf(resolved.store) ?? resolved.namespace);
    this.#ttl = resolved.ttl ?? StoreTier.ttlOf(resolved.store);
    this.#memory = new MemoryTier<V>({ ...resolved.memory, clock: resolved.clock });
    this.#store = new StoreTier<V>(resolved.store, this.namespace);
    this.#prefix = this.#store.prefix;

    const emitter = this as EventEmitter;
    emitter.on('newListener', (event: string | symbol) => this.#listen(event, 1));
    emitter.on('removeListener', (event: string | symbol) => this.#listen(event, 0));

    const transport = resolved.transport ?? (resolved.redis === undefined ? undefined : new RedisTransport(resolved.redis));
    this.#trusted = transport === undefined;
    if (transport !== undefined) {
      this.#bus = new Bus(
        transport,
        {
          namespace: this.namespace,
          heartbeat: resolved.heartbeat,
          maxPendingKeys: resolved.maxPendingKeys,
          maxMessageBytes: resolved.maxMessageBytes,
          publishTimeout: resolved.publishTimeout,
          clock: resolved.clock,
        },
        {
          invalidate: (keys, origin) => this.#applyInvalidation(keys, origin),
          gap: () => this.#flush('gap'),
          status: (status, previous, reason) => this.#busStatus(status, previous, reason),
          error: (error) => this.#error(error),
        },
      );
    }
  }

  /** This instance's id on the bus (`undefined` without a bus). */
  get instanceId(): string | undefined {
    return this.#bus?.id;
  }

  /** The Keyv instance this cache reads and writes (errors surface as exceptions). */
  get keyv(): StoreTier<V>['keyv'] {
    return this.#store.keyv;
  }

  /** The value of `key`, or `undefined`. Served from memory when it is there and memory is trusted. */
  get(key: string): Promise<V | undefined> {
    // The memory hit: a plain method and a resolved promise, no async frame. Memory is never trusted
    // once close() has begun, so a hit needs no other check; anything else takes the slow path.
    if (this.#trusted && typeof key === 'string') {
      const value = this.#memory.get(this.#prefix !== undefined && key.startsWith(this.#prefix) ? key.slice(this.#prefix.length) : key);
      if (value !== undefined) {
        this.#memoryHits++;
        if (this.#listening.hit) return this.#hitEmitted(key, value);
        return Promise.resolve(value);
      }
    }
    return this.#getSlow(key);
  }

  /** The memory hit with a 'hit' listener: a listener that throws rejects the get, as in the async path. */
  async #hitEmitted(key: string, value: V): Promise<V> {
    this.emit('hit', { key, tier: 'memory' });
    return value;
  }

  async #getSlow(key: string): Promise<V | undefined> {
    checkKey(key, 'get');
    if (this.#closing !== undefined) throw new CacheClosedError('get');
    return this.#readThrough(this.#canon(key), key);
  }

  /**
   * The value of `key` if this process's memory holds it and memory is trusted, synchronously; else
   * `undefined`. Never reads the store: for hot paths that can fall back to `get()` themselves.
   */
  peek(key: string): V | undefined {
    if (!this.#trusted || typeof key !== 'string') return undefined;
    const value = this.#memory.get(this.#canon(key));
    if (value !== undefined) {
      this.#memoryHits++;
      if (this.#listening.hit) this.emit('hit', { key, tier: 'memory' });
    }
    return value;
  }

  /** Reads `k` from the store, joining a read already in flight that no invalidation has overtaken. */
  #readThrough(k: string, key: string): Promise<V | undefined> {
    const joined = this.#fences.joinableRead(k) as Promise<V | undefined> | undefined;
    if (joined !== undefined) return joined;
    const since = this.#fences.enter(k);
    const read = this.#load(k, key, since);
    this.#fences.shareRead(k, read, since);
    // Registered before any caller's await, so the fence is released after #load has filled memory and
    // before callers resume; leave() matches this very read, never a newer one shared since.
    const release = () => this.#fences.leave(k, read);
    read.then(release, release);
    return read;
  }

  async #load(k: string, key: string, since: number): Promise<V | undefined> {
    const entry = await this.#store.get(k);
    if (entry === undefined) {
      this.#misses++;
      if (this.#listening.miss) this.emit('miss', { key });
      return undefined;
    }
    this.#storeHits++;
    if (this.#listening.hit) this.emit('hit', { key, tier: 'store' });
    this.#fill(k, entry.value, entry.expires, since);
    return entry.value;
  }

  /** Puts a value read from the store into memory, unless something invalidated it since `since`. */
  #fill(k: string, value: V, expires: number | undefined, since: number): void {
    if (!this.#trusted || !this.#fences.unchangedSince(k, since)) return;
    let size = 1;
    if (this.#memory.sized) {
      try {
        size = JSON.stringify(value)?.length ?? 1;
      } catch {
        size = 1;
      }
    }
    this.#memory.set(k, value, expires === undefined ? undefined : expires - Date.now(), size);
  }

  /** Many values at once, aligned with `keys` (`undefined` for misses); one store round trip for the misses. */
  async getMany(keys: readonly string[]): Promise<(V | undefined)[]> {
    checkKeys(keys, 'getMany');
    if (this.#closing !== undefined) throw new CacheClosedError('getMany');
    const ks = keys.map((key) => this.#canon(key));
    const result: (V | undefined)[] = Array.from({ length: ks.length }, () => undefined);
    const missing: number[] = [];
    for (let i = 0; i < ks.length; i++) {
      const value = this.#trusted ? this.#memory.get(ks[i] as string) : undefined;
      if (value === undefined) missing.push(i);
      else {
        this.#memoryHits++;
        if (this.#listening.hit) this.emit('hit', { key: keys[i] as string, tier: 'memory' });
        result[i] = value;
      }
    }
    if (missing.length === 0) return result;
    const missingKeys = missing.map((i) => ks[i] as string);
    const since = missingKeys.map((k) => this.#fences.enter(k));
    try {
      const entries = await this.#store.getMany(missingKeys);
      for (let j = 0; j < missing.length; j++) {
        const i = missing[j] as number;
        const entry = entries[j];
        if (entry === undefined) {
          this.#misses++;
          if (this.#listening.miss) this.emit('miss', { key: keys[i] as string });
          continue;
        }
        this.#storeHits++;
        if (this.#listening.hit) this.emit('hit', { key: keys[i] as string, tier: 'store' });
        this.#fill(missingKeys[j] as string, entry.value, entry.expires, since[j] as number);
        result[i] = entry.value;
      }
    } finally {
      for (const k of missingKeys) this.#fences.leave(k);
    }
    return result;
  }

  /** True when `key` holds a value (in trusted memory, or else in the store). */
  async has(key: string): Promise<boolean> {
    checkKey(key, 'has');
    if (this.#closing !== undefined) throw new CacheClosedError('has');
    const k = this.#canon(key);
    if (this.#trusted && this.#memory.has(k)) return true;
    return this.#store.has(k);
  }

  /**
   * Writes `value` to the store, then announces it to the other processes. Resolves once the store is
   * written and the invalidation is published (or, while the bus is down, queued for the reconnect).
   * Rejects with a TypeError, changing nothing, when the value cannot be stored.
   */
  set(key: string, value: V, options?: SetOptions): Promise<void> {
    return this.#write(() => this.#set(key, value, options));
  }

  async #set(key: string, value: V, options?: SetOptions): Promise<void> {
    checkKey(key, 'set');
    if (this.#closing !== undefined) throw new CacheClosedError('set');
    const ttl = this.#ttlFor(options?.ttl, key);
    const prepared = await this.#prepare(key, value);
    const k = this.#canon(key);
    // Computed before the write, as Keyv does, so that memory never outlives the store copy.
    const expires = ttl === undefined ? undefined : Date.now() + ttl;
    const start = this.#fences.beginWrite(k);
    this.#memory.delete(k);
    const began = channels.write.hasSubscribers ? performance.now() : 0;
    let written = false;
    try {
      await this.#store.set(k, value, ttl);
      written = true;
    } catch (error) {
      this.#traceWrite('set', [k], began, error);
      throw error;
    } finally {
      const alone = this.#fences.endWrite(k, start);
      this.#memory.delete(k);
      if (written && alone && this.#trusted) {
        this.#memory.set(k, prepared.value, expires === undefined ? undefined : expires - Date.now(), prepared.size);
      }
      // Announced even when the store failed: the write may have landed before the error.
      await this.#announce([k]);
    }
    this.#traceWrite('set', [k], began, undefined);
    this.#sets++;
    if (this.#listening.set) this.emit('set', { key });
  }

  /** Writes many entries with one store call and one bus message. Nothing is written if any entry is invalid. */
  setMany(entries: readonly SetManyEntry<V>[]): Promise<void> {
    return this.#write(() => this.#setMany(entries));
  }

  async #setMany(entries: readonly SetManyEntry<V>[]): Promise<void> {
    if (!Array.isArray(entries)) throw new TypeError('synced-cache: setMany: entries must be an array of { key, value, ttl? }');
    if (this.#closing !== undefined) throw new CacheClosedError('setMany');
    const prepared: { k: string; key: string; value: V; ttl: number | undefined; memo: { value: V; size: number } }[] = [];
    for (const entry of entries) {
      if (typeof entry !== 'object' || entry === null)
        throw new TypeError('synced-cache: setMany: each entry must be an object { key, value, ttl? }');
      checkKey(entry.key, 'setMany');
      const ttl = this.#ttlFor(entry.ttl, entry.key);
      prepared.push({
        k: this.#canon(entry.key),
        key: entry.key,
        value: entry.value,
        ttl,
        memo: await this.#prepare(entry.key, entry.value),
      });
    }
    if (prepared.length === 0) return;
    const now = Date.now();
    const starts = prepared.map((p) => this.#fences.beginWrite(p.k));
    for (const p of prepared) this.#memory.delete(p.k);
    let written = false;
    try {
      await this.#store.setMany(prepared.map((p) => ({ key: p.k, value: p.value, ttl: p.ttl })));
      written = true;
    } finally {
      const alone = prepared.map((p, i) => this.#fences.endWrite(p.k, starts[i] as number));
      for (const p of prepared) this.#memory.delete(p.k);
      if (written && this.#trusted) {
        const seen = new Set<string>();
        prepared.forEach((p, i) => {
          // A key given twice in one batch: the store's final value is the adapter's business.
          if (seen.has(p.k)) this.#memory.delete(p.k);
          else if (alone[i]) this.#memory.set(p.k, p.memo.value, p.ttl === undefined ? undefined : now + p.ttl - Date.now(), p.memo.size);
          seen.add(p.k);
        });
      }
      await this.#announce(prepared.map((p) => p.k));
    }
    this.#sets += prepared.length;
    if (this.#listening.set) for (const p of prepared) this.emit('set', { key: p.key });
  }

  /** Deletes `key` everywhere. Resolves to whether the store held it. */
  delete(key: string): Promise<boolean> {
    return this.#write(() => this.#delete(key));
  }

  async #delete(key: string): Promise<boolean> {
    checkKey(key, 'delete');
    if (this.#closing !== undefined) throw new CacheClosedError('delete');
    const k = this.#canon(key);
    const start = this.#fences.beginWrite(k);
    this.#memory.delete(k);
    const began = channels.write.hasSubscribers ? performance.now() : 0;
    let existed: boolean;
    try {
      existed = await this.#store.delete(k);
    } catch (error) {
      this.#traceWrite('delete', [k], began, error);
      throw error;
    } finally {
      this.#fences.endWrite(k, start);
      this.#memory.delete(k);
      await this.#announce([k]);
    }
    this.#traceWrite('delete', [k], began, undefined);
    this.#deletes++;
    if (this.#listening.delete) this.emit('delete', { key });
    return existed;
  }

  /** Deletes many keys with one store call and one bus message. Resolves to Keyv's answer (true if all existed). */
  deleteMany(keys: readonly string[]): Promise<boolean> {
    return this.#write(() => this.#deleteMany(keys));
  }

  async #deleteMany(keys: readonly string[]): Promise<boolean> {
    checkKeys(keys, 'deleteMany');
    if (this.#closing !== undefined) throw new CacheClosedError('deleteMany');
    if (keys.length === 0) return true;
    const ks = keys.map((key) => this.#canon(key));
    const starts = ks.map((k) => this.#fences.beginWrite(k));
    for (const k of ks) this.#memory.delete(k);
    let result: boolean;
    try {
      result = await this.#store.deleteMany(ks);
    } finally {
      ks.forEach((k, i) => {
        this.#fences.endWrite(k, starts[i] as number);
        this.#memory.delete(k);
      });
      await this.#announce(ks);
    }
    this.#deletes += ks.length;
    if (this.#listening.delete) for (const key of keys) this.emit('delete', { key });
    return result;
  }

  /** Empties this namespace: the store, this process's memory, and every other process's memory. */
  clear(): Promise<void> {
    return this.#write(() => this.#clear());
  }

  async #clear(): Promise<void> {
    if (this.#closing !== undefined) throw new CacheClosedError('clear');
    this.#fences.invalidateAll();
    this.#memory.clear();
    const began = channels.write.hasSubscribers ? performance.now() : 0;
    try {
      await this.#store.clear();
    } catch (error) {
      this.#traceWrite('clear', '*', began, error);
      throw error;
    } finally {
      this.#fences.invalidateAll();
      this.#memory.clear();
      await this.#announce('*');
    }
    this.#traceWrite('clear', '*', began, undefined);
    this.#flushes.clear++;
    this.emit('clear');
  }

  /**
   * The value of `key`; on a miss, calls `loader` (once per key per process at a time: concurrent callers
   * share the call), stores what it returns and returns it. A loader result of `undefined` is returned
   * but not stored. Rejects if the loader or the store fails.
   */
  async getOrSet(
    key: string,
    loader: (key: string) => V | undefined | Promise<V | undefined>,
    options?: SetOptions,
  ): Promise<V | undefined> {
    checkKey(key, 'getOrSet');
    if (typeof loader !== 'function') throw new TypeError('synced-cache: getOrSet: loader must be a function');
    if (options?.ttl !== undefined) this.#ttlFor(options.ttl, key);
    const cached = await this.get(key);
    if (cached !== undefined) return cached;
    const k = this.#canon(key);
    let loading = this.#loaders.get(k);
    if (loading === undefined) {
      loading = this.#runLoader(key, loader, options);
      this.#loaders.set(k, loading);
      const release = () => {
        if (this.#loaders.get(k) === loading) this.#loaders.delete(k);
      };
      loading.then(release, release);
    }
    return loading;
  }

  async #runLoader(
    key: string,
    loader: (key: string) => V | undefined | Promise<V | undefined>,
    options: SetOptions | undefined,
  ): Promise<V | undefined> {
    const value = await loader(key);
    if (value === undefined) return undefined;
    await this.set(key, value, options);
    return value;
  }

  /**
   * A Keyv store adapter over this cache: `new Keyv({ store: cache.keyvStore() })` reads through the synced
   * memory tier. Give the adapter a cache of its own: it stores Keyv's serialized strings as values.
   */
  keyvStore(): SyncedKeyvStore {
    return new SyncedKeyvStore(this as SyncedCache<unknown>);
  }

  /** Counters since creation, and the bus state. */
  stats(): SyncedCacheStats {
    const bus = this.#bus;
    return {
      hits: { memory: this.#memoryHits, store: this.#storeHits },
      misses: this.#misses,
      sets: this.#sets,
      deletes: this.#deletes,
      invalidations: { sent: bus?.sent ?? 0, received: bus?.received ?? 0, ignored: bus?.ignored ?? 0 },
      lag: bus?.lag() ?? { count: 0, p50: 0, p99: 0, max: 0 },
      flushes: { ...this.#flushes },
      bus: this.#busState(),
      memorySize: this.#memory.size,
      pendingInvalidations: bus?.pendingKeys ?? 0,
    };
  }

  /**
   * Stops timers and closes the connections this cache opened (never a Redis client or store you passed).
   * Invalidations in flight are sent first. Idempotent; later operations reject with {@link CacheClosedError}.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      // From now on memory is neither read nor filled: reads take the slow path and are refused.
      this.#trusted = false;
      this.#closing = (async () => {
        try {
          // Writes already under way finish and announce themselves; new ones are refused.
          if (this.#writing > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
          const unpublished = this.#bus?.pendingKeys ?? 0;
          if (unpublished > 0) {
            // Nobody will publish them now: the other processes keep their copies until they expire.
            this.#error(new BusError(`closed with ${unpublished} invalidation(s) not yet published: the bus was down`));
          }
          await this.#bus?.close();
        } finally {
          this.#trusted = false;
          this.#memory.clear();
          this.#store.release();
        }
      })();
    }
    return this.#closing;
  }

  /** Runs a write, counted so that close() can wait for it. */
  async #write<T>(operation: () => Promise<T>): Promise<T> {
    this.#writing++;
    try {
      return await operation();
    } finally {
      if (--this.#writing === 0 && this.#idle !== undefined) {
        this.#idle();
        this.#idle = undefined;
      }
    }
  }

  #busState(): BusState {
    const status = this.#bus?.status;
    if (status === undefined || status === 'closed') return 'off';
    return status === 'up' ? 'up' : 'down';
  }

  #canon(key: string): string {
    // Keyv leaves a key that already starts with "namespace:" unprefixed, so "ns:a" and "a" are one
    // store entry; memory and the bus must agree with the store on that.
    return this.#prefix !== undefined && key.startsWith(this.#prefix) ? key.slice(this.#prefix.length) : key;
  }

  #ttlFor(ttl: unknown, key: string): number | undefined {
    if (ttl === undefined) return this.#ttl;
    try {
      return checkTtl('ttl', ttl);
    } catch (error) {
      throw new (error instanceof RangeError ? RangeError : TypeError)(
        `synced-cache: invalid ttl for key ${quote(key)}: ${(error as Error).message.replace('synced-cache: option "ttl" ', '')}`,
      );
    }
  }

  /** Checks that the store can hold `value`, and returns what the store will give back for it. */
  async #prepare(key: string, value: V): Promise<{ value: V; size: number }> {
    const type = typeof value;
    if (value === undefined) {
      throw new TypeError(`synced-cache: cannot set key ${quote(key)}: undefined is not a value (use delete() to remove a key)`);
    }
    if (type === 'function' || type === 'symbol' || type === 'bigint') {
      throw new TypeError(`synced-cache: cannot set key ${quote(key)}: a ${type} cannot be stored`);
    }
    if (type === 'number' && !Number.isFinite(value as number)) {
      throw new TypeError(`synced-cache: cannot set key ${quote(key)}: ${String(value)} cannot be stored faithfully`);
    }
    try {
      return await this.#store.roundTrip(value);
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      const reason = error instanceof RangeError || /circular/i.test(message) ? 'it is circular or too deeply nested' : message;
      throw new TypeError(`synced-cache: cannot set key ${quote(key)}: the store cannot serialize the value (${reason})`, { cause: error });
    }
  }

  #announce(keys: readonly string[] | '*'): Promise<void> {
    if (this.#bus === undefined) return Promise.resolve();
    if (channels.publish.hasSubscribers) channels.publish.publish({ namespace: this.namespace, instanceId: this.#bus.id, keys });
    return this.#bus.publish(keys);
  }

  #traceWrite(operation: 'set' | 'delete' | 'clear', keys: readonly string[] | '*', began: number, error: unknown): void {
    if (!channels.write.hasSubscribers || began === 0) return;
    channels.write.publish({
      namespace: this.namespace,
      operation,
      keys,
      durationMs: performance.now() - began,
      ...(error === undefined ? {} : { error }),
    });
  }

  #applyInvalidation(keys: readonly string[] | '*', origin: string): void {
    if (keys === '*') {
      this.#flush('clear');
    } else {
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        this.#fences.invalidate(k);
        this.#memory.delete(k);
      }
    }
    if (this.#listening.invalidate) this.#emitSafely('invalidate', { keys, origin });
    if (channels.invalidate.hasSubscribers)
      channels.invalidate.publish({ namespace: this.namespace, instanceId: this.instanceId, origin, keys });
  }

  #flush(cause: 'reconnect' | 'gap' | 'clear'): void {
    this.#fences.invalidateAll();
    this.#memory.clear();
    this.#flushes[cause]++;
    if (channels.flush.hasSubscribers) channels.flush.publish({ namespace: this.namespace, instanceId: this.instanceId, cause });
  }

  #busStatus(status: BusStatus, previous: BusStatus, reason: Error | undefined): void {
    if (channels.bus.hasSubscribers) {
      channels.bus.publish({
        namespace: this.namespace,
        instanceId: this.instanceId,
        status,
        previous,
        ...(reason === undefined ? {} : { reason }),
      });
    }
    if (status === 'up') {
      // Anything may have been missed while we were not subscribed: start from an empty memory.
      if (this.#wasUp) this.#flush('reconnect');
      else {
        this.#fences.invalidateAll();
        this.#memory.clear();
      }
      this.#wasUp = true;
      this.#trusted = this.#closing === undefined;
      this.#emitSafely('bus:up');
    } else if (status === 'down') {
      this.#trusted = false;
      this.#fences.invalidateAll();
      this.#memory.clear();
      if (reason !== undefined) this.#error(reason);
      this.#emitSafely('bus:down', { reason });
    } else if (status === 'closed') {
      this.#trusted = false;
    }
  }

  #error(error: Error): void {
    // An 'error' event with no listener would throw; errors here are reports, never fatal.
    if (this.listenerCount('error') > 0) this.#emitSafely('error', error);
  }

  /**
   * Emits an event raised by the bus. A listener that throws must not leave the bus half-way through a
   * state change (a batch never finished would hold every later write), so its error is reported
   * instead: on 'error' when someone listens there, else as a process warning.
   */
  #emitSafely<E extends keyof SyncedCacheEvents>(event: E, ...args: SyncedCacheEvents[E]): void {
    try {
      (this.emit as (event: E, ...args: SyncedCacheEvents[E]) => boolean)(event, ...args);
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      if (event !== 'error' && this.listenerCount('error') > 0) {
        try {
          this.emit('error', error);
          return;
        } catch {
          // Reported below.
        }
      }
      process.emitWarning(`a '${String(event)}' listener of a SyncedCache threw: ${error.message}`, {
        type: 'SyncedCacheWarning',
        code: 'SYNCED_CACHE_LISTENER_THREW',
      });
    }
  }

  #listen(event: string | symbol, adding: 0 | 1): void {
    if (event === 'hit' || event === 'miss' || event === 'set' || event === 'delete' || event === 'invalidate') {
      // 'newListener' fires before the listener is added, 'removeListener' after it is removed.
      this.#listening[event] = this.listenerCount(event) + adding > 0;
    }
  }
}
