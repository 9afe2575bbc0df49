import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
// Type-only: the core imports this module, so a value import would be a cycle.
import type { SyncedCache } from './synced-cache.js';

/** Keys removed per `deleteMany` (and so per bus message) while clearing one Keyv namespace. */
const CLEAR_BATCH = 1_000;

/** Keyv 5 offers `keyv.iterator()` only for adapters whose `opts.dialect` (or `opts.url`) names one of these. */
const ITERABLE_DIALECTS = ['sqlite', 'postgres', 'mysql', 'mongo', 'redis', 'valkey', 'etcd'];

/** What {@link SyncedKeyvStore.opts} holds. Keyv reads `dialect` and `url` to decide whether to offer `iterator()`. */
export interface SyncedKeyvStoreOptions {
  /** The wrapped store's dialect (`'redis'`, `'postgres'`, ...) when it names one, else `'synced-cache'`. */
  dialect: string;
  /** The wrapped store's URL when it has one, else `synced-cache://<namespace>`. */
  url: string;
}

type Entry = [key: string, value: unknown];

function wrappedOpts(cache: SyncedCache<unknown>): SyncedKeyvStoreOptions {
  const inner = (cache.keyv.store as { opts?: { dialect?: unknown; url?: unknown } } | undefined)?.opts;
  const dialect = typeof inner?.dialect === 'string' && inner.dialect.length > 0 ? inner.dialect : 'synced-cache';
  const url =
    typeof inner?.url === 'string' && ITERABLE_DIALECTS.some((d) => (inner.url as string).includes(d))
      ? inner.url
      : `synced-cache://${cache.namespace}`;
  return { dialect, url };
}

/**
 * A Keyv store adapter over a {@link SyncedCache}: `new Keyv({ store: cache.keyvStore() })` is a Keyv whose
 * reads are served from the synced memory tier and whose writes are announced to every process.
 *
 * Keyv hands the adapter keys already prefixed with its namespace (`keyv:foo`) and values already
 * serialized, so the cache stores Keyv's strings as opaque values; give the adapter a cache of its own.
 *
 * - `clear()` removes the keys of the adapter's Keyv namespace only, as every Keyv adapter does; with no
 *   namespace (or when the cache's store cannot be iterated) it clears the whole cache, in every process.
 * - `iterator()` exists only when the cache's store can be iterated (`cache.keyv.iterator`); Keyv exposes
 *   it as `keyv.iterator()` only when the wrapped store is one Keyv knows to be iterable (Redis, Postgres, ...).
 * - `disconnect()` closes the cache (its bus connections), never the store you gave the cache.
 * - The adapter emits no events of its own: bus trouble is reported by the cache's `'error'` event, and
 *   store failures reject the call (Keyv then emits them on its own `'error'`).
 */
export class SyncedKeyvStore extends EventEmitter implements KeyvStoreAdapter {
  /** Set by Keyv to its namespace; scopes `clear()` and `iterator()`. */
  namespace: string | undefined;
  /** What Keyv reads to learn about the adapter. */
  readonly opts: SyncedKeyvStoreOptions;
  /**
   * Yields `[key, serialized value]` for the keys of `namespace` (the adapter's by default), as Keyv's
   * `iterator()` expects. Absent when the cache's store cannot be iterated.
   */
  readonly iterator?: <Value>(namespace?: string) => AsyncGenerator<Array<string | Awaited<Value> | undefined>, void>;

  /** @param cache The cache to read and write; used for Keyv's serialized strings only. */
  constructor(readonly cache: SyncedCache<unknown>) {
    super();
    this.opts = wrappedOpts(cache);
    if (typeof cache.keyv.iterator === 'function') {
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
   * the store cannot be iterated (then other Keyv namespaces sharing this cache are cleared too).
   */
  async clear(): Promise<void> {
    const namespace = this.namespace;
    if (namespace === undefined || namespace === '' || namespace === this.cache.namespace || this.iterator === undefined) {
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

  async *#entries(namespace = this.namespace): AsyncGenerator<Entry, void> {
    const iterate = this.cache.keyv.iterator;
    if (typeof iterate !== 'function') {
      throw new TypeError(
        `synced-cache: the store of cache namespace "${this.cache.namespace}" cannot be iterated (its Keyv has no iterator())`,
      );
    }
    const prefix = namespace === undefined || namespace === '' ? undefined : `${namespace}:`;
    // The cache strips its own "namespace:" from keys (as Keyv does), so when Keyv's namespace is the
    // cache's, the store gives keys back without it and every key of the cache belongs to it.
    const restore = prefix !== undefined && namespace === this.cache.namespace;
    for await (const [key, value] of iterate.call(this.cache.keyv, undefined) as AsyncIterable<Entry>) {
      if (typeof key !== 'string') continue;
      if (restore) yield [`${prefix}${key}`, value];
      else if (prefix === undefined || key.startsWith(prefix)) yield [key, value];
    }
  }
}
