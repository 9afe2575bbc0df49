import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';

/** Keys removed per `deleteMany` (and so per bus message) while clearing one Keyv namespace. */
const CLEAR_BATCH = 1_000;

/** Keyv 5 offers `keyv.iterator()` only for adapters whose `opts.dialect` (or `opts.url`) names one of these. */
const ITERABLE_DIALECTS = ['sqlite', 'postgres', 'mysql', 'mongo', 'redis', 'valkey', 'etcd'];

/**
 * What the adapter needs of a cache: a shape, not the class, so that this module does not depend on the
 * core (a {@link SyncedCache} is one).
 */
export interface KeyvAdapterCache {
  readonly namespace: string;
  /** True when `keys()` and `entries()` can list the store. */
  readonly canList: boolean;
  /** The cache's Keyv, read for the wrapped store's dialect and URL. */
  readonly keyv: { readonly store?: unknown };
  get(key: string): Promise<unknown>;
  getMany(keys: readonly string[]): Promise<unknown[]>;
  set(key: string, value: unknown, options?: { ttl?: number }): Promise<void>;
  setMany(entries: readonly { key: string; value: unknown; ttl?: number }[]): Promise<void>;
  delete(key: string): Promise<boolean>;
  deleteMany(keys: readonly string[]): Promise<boolean>;
  has(key: string): Promise<boolean>;
  clear(): Promise<void>;
  close(): Promise<void>;
  /** `[key, value]` for the keys that begin with `prefix` (all without one), spelled with it. */
  entries(prefix?: string): AsyncIterable<[string, unknown]>;
}

/** What {@link SyncedKeyvStore.opts} holds. Keyv reads `dialect` and `url` to decide whether to offer `iterator()`. */
export interface SyncedKeyvStoreOptions {
  /** The wrapped store's dialect (`'redis'`, `'postgres'`, ...) when it names one, else `'synced-cache'`. */
  dialect: string;
  /**
   * The wrapped store's URL when it has one, else `synced-cache://<namespace>`; when the cache can list
   * its keys but neither names a dialect Keyv 5 knows, the URL carries `?iterator=redis`, since Keyv 5
   * offers `keyv.iterator()` only for the dialects on its list (Keyv 6 asks the adapter).
   */
  url: string;
}

type Entry = [key: string, value: unknown];

function wrappedOpts(cache: KeyvAdapterCache): SyncedKeyvStoreOptions {
  const inner = (cache.keyv.store as { opts?: { dialect?: unknown; url?: unknown } } | undefined)?.opts;
  const dialect = typeof inner?.dialect === 'string' && inner.dialect.length > 0 ? inner.dialect : 'synced-cache';
  const innerUrl = typeof inner?.url === 'string' ? inner.url : undefined;
  const known = ITERABLE_DIALECTS.includes(dialect) || ITERABLE_DIALECTS.some((d) => innerUrl?.includes(d) === true);
  if (innerUrl !== undefined && known) return { dialect, url: innerUrl };
  const url = `synced-cache://${encodeURIComponent(cache.namespace)}`;
  return { dialect, url: cache.canList && !known ? `${url}?iterator=redis` : url };
}

/**
 * A Keyv store adapter over a {@link SyncedCache}: `new Keyv({ store: cache.keyvStore() })` is a Keyv whose
 * reads are served from the synced memory tier and whose writes are announced to every process.
 *
 * Keyv hands the adapter keys already prefixed with its namespace (`keyv:foo`) and values already
 * serialized, so the cache stores Keyv's strings as opaque values; give the adapter a cache of its own.
 *
 * - `clear()` removes the keys of the adapter's Keyv namespace only, as every Keyv adapter does; with no
 *   namespace (or when the cache's store cannot be listed) it clears the whole cache, in every process.
 * - `iterator()` exists when the cache can list its keys (`cache.canList`: every built-in store,
 *   the in-memory default included, and adapters with an iterator such as @keyv/redis and @keyv/postgres).
 * - `disconnect()` closes the cache (its bus connections), never the store you gave the cache.
 * - The adapter emits no events of its own: bus trouble is reported by the cache's `'error'` event, and
 *   store failures reject the call (Keyv then emits them on its own `'error'`).
 */
export class SyncedKeyvStore extends EventEmitter implements KeyvStoreAdapter {
  /**
   * Set by Keyv 5 to its namespace; scopes `clear()` and `iterator()`. Declared, not defined: Keyv 6's
   * bridge hands an adapter that has this property unprefixed keys, and this adapter expects the keys
   * prefixed with the namespace, as Keyv 5 gives them and as the bridge gives them to adapters without it.
   */
  declare namespace: string | undefined;
  /** What Keyv reads to learn about the adapter. */
  readonly opts: SyncedKeyvStoreOptions;
  /**
   * Yields `[key, serialized value]` for the keys of `namespace` (the adapter's by default), as Keyv's
   * `iterator()` expects. Absent when the cache's store cannot be listed.
   */
  readonly iterator?: <Value>(namespace?: string) => AsyncGenerator<Array<string | Awaited<Value> | undefined>, void>;
  /** The cache to read and write; used for Keyv's serialized strings only. */
  readonly cache: KeyvAdapterCache;

  /** @param cache The cache to read and write (a {@link SyncedCache}); used for Keyv's serialized strings only. */
  constructor(cache: KeyvAdapterCache) {
    super();
    this.cache = cache;
    this.opts = wrappedOpts(cache);
    if (cache.canList) {
      this.iterator = async function* (this: SyncedKeyvStore, namespace?: string) {
        yield* this.#entries(namespace);
      } as NonNullable<SyncedKeyvStore['iterator']>;
    }
  }

  /** The serialized value Keyv stored at `key`, or `undefined`. */
  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return (await this.cache.get(key)) as StoredData<Value> | undefined;
  }

  /** Values of `keys`, aligned (`undefined` for misses); one store round trip for the memory misses. */
  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    return (await this.cache.getMany(keys)) as Array<StoredData<Value | undefined>>;
  }

  /**
   * Stores Keyv's serialized `value`. `ttl` in milliseconds; omitted or `0`: the cache's default ttl
   * (no expiry unless the cache has one). Resolves to `true` once stored and announced.
   */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.cache.set(key, value, ttl === undefined || ttl === 0 ? undefined : { ttl });
    return true;
  }

  /** Stores many entries with one store call and one bus message; rejects if any write fails. */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    await this.cache.setMany(
      entries.map((e) => ({ key: e.key, value: e.value, ...(e.ttl === undefined || e.ttl === 0 ? {} : { ttl: e.ttl }) })),
    );
  }

  /** Deletes `key` everywhere; resolves to whether the store held it. */
  delete(key: string): Promise<boolean> {
    return this.cache.delete(key);
  }

  /** Deletes `keys` with one store call and one bus message; resolves to the store's answer. */
  deleteMany(keys: string[]): Promise<boolean> {
    return this.cache.deleteMany(keys);
  }

  /** True when `key` holds a value. */
  has(key: string): Promise<boolean> {
    return this.cache.has(key);
  }

  /** One boolean per key. */
  hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this.cache.has(key)));
  }

  /**
   * Removes the keys of this adapter's Keyv namespace, in the store and in every process's memory.
   * Clears the whole cache when there is no namespace, when the namespace is the cache's own, or when
   * the store cannot be listed (then other Keyv namespaces sharing this cache are cleared too).
   */
  async clear(): Promise<void> {
    const namespace = this.namespace;
    if (namespace === undefined || namespace === '' || namespace === this.cache.namespace || !this.cache.canList) {
      await this.cache.clear();
      return;
    }
    // Collected first: deleting while a store cursor (Redis SCAN) is open may skip keys.
    const keys: string[] = [];
    for await (const [key] of this.#entries(namespace)) keys.push(key);
    for (let i = 0; i < keys.length; i += CLEAR_BATCH) {
      await this.cache.deleteMany(keys.slice(i, i + CLEAR_BATCH));
    }
  }

  /** Closes the cache (stops its bus); the store you gave the cache stays open. */
  disconnect(): Promise<void> {
    return this.cache.close();
  }

  #entries(namespace = this.namespace): AsyncIterable<Entry> {
    return this.cache.entries(namespace === undefined || namespace === '' ? undefined : `${namespace}:`);
  }
}
