import { Keyv, type KeyvStoreAdapter } from 'keyv';
import { StoreError } from './errors.js';
import type { StoreOption } from './options.js';

/** A value read from the store with its absolute expiry time (`Date.now()` clock), if any. */
export interface StoreEntry<V> {
  value: V;
  expires: number | undefined;
}

/** The parts of a Keyv instance we rely on; duck-typed so that a Keyv from another copy of the package works. */
interface KeyvLike {
  store: KeyvStoreAdapter | Map<unknown, unknown>;
  namespace: string | undefined;
  ttl?: number | undefined;
  serialize?: unknown;
  deserialize?: unknown;
  useKeyPrefix?: boolean;
  opts: { compression?: unknown };
  getRaw: unknown;
}

/** True when `store` is a Keyv instance rather than a store adapter. */
export function isKeyv(store: unknown): store is KeyvLike {
  return (
    typeof store === 'object' &&
    store !== null &&
    typeof (store as KeyvLike).getRaw === 'function' &&
    typeof (store as KeyvLike).opts === 'object' &&
    'store' in store
  );
}

type Serialize = (data: unknown) => string | Promise<string>;

let keyvDefaultSerialize: unknown;

/** True when `serialize` is Keyv's own default (JSON, with Buffers written as ':base64:' strings). */
function isKeyvDefaultSerializer(serialize: unknown): boolean {
  keyvDefaultSerialize ??= new Keyv().serialize;
  return serialize === keyvDefaultSerialize;
}

// Keyv writes its namespace onto the adapter, and adapters such as @keyv/redis prefix keys and scope
// clear() with it: one adapter can serve one namespace only. Shared between namespaces, the last cache
// built would silently move every other cache's keys (differently in each process, by construction order).
const adapterNamespaces = new WeakMap<object, { namespace: string; users: number }>();

function claimAdapter(adapter: object, namespace: string): void {
  if (adapter instanceof Map) return;
  const claim = adapterNamespaces.get(adapter);
  if (claim === undefined) {
    adapterNamespaces.set(adapter, { namespace, users: 1 });
  } else if (claim.namespace === namespace) {
    claim.users++;
  } else {
    throw new TypeError(
      `synced-cache: option "store": this Keyv store adapter already serves namespace ${JSON.stringify(claim.namespace)}; ` +
        `Keyv adapters carry one namespace, so create one adapter per namespace (asked for ${JSON.stringify(namespace)})`,
    );
  }
}
type Deserialize = (data: string) => unknown;

/**
 * The persistent tier (L2): a facade over Keyv that surfaces every store failure as a {@link StoreError}.
 *
 * Keyv 5 swallows adapter errors unless `throwOnErrors` is set, so we always run our own Keyv over the
 * adapter with `throwOnErrors: true`. A Keyv instance passed in lends us its adapter and its serializer,
 * compression and key-prefix settings; we never change that instance.
 */
export class StoreTier<V> {
  readonly keyv: Keyv;
  /** Keyv's key prefix (`namespace:`) when it prefixes keys; Keyv leaves keys that already carry it alone. */
  readonly prefix: string | undefined;
  readonly #serialize: Serialize | undefined;
  readonly #deserialize: Deserialize | undefined;
  /** The store's serializer gives back what native JSON gives back (for values without a Buffer). */
  readonly #jsonCompatible: boolean;

  readonly #adapter: object;

  constructor(store: StoreOption | undefined, namespace: string) {
    const adapter = isKeyv(store) ? store.store : store;
    if (adapter !== undefined) {
      claimAdapter(adapter, namespace);
      // Adapters such as @keyv/redis swallow their own errors (emitting 'error', answering as for a
      // miss) unless told otherwise; a failed read that looks like a miss, or a failed write that looks
      // like a success, would break coherence, so we tell them.
      const flags = adapter as { throwOnErrors?: unknown };
      if (flags.throwOnErrors === false) flags.throwOnErrors = true;
    }
    if (isKeyv(store)) {
      this.keyv = new Keyv({
        store: store.store as KeyvStoreAdapter,
        namespace,
        serialize: store.serialize as never,
        deserialize: store.deserialize as never,
        compression: store.opts.compression as never,
        useKeyPrefix: store.useKeyPrefix ?? true,
        throwOnErrors: true,
        emitErrors: false,
      });
    } else {
      this.keyv = new Keyv({
        ...(store === undefined ? {} : { store: store as KeyvStoreAdapter }),
        namespace,
        throwOnErrors: true,
        emitErrors: false,
      });
    }
    this.#adapter = this.keyv.store as object;
    this.prefix = this.keyv.useKeyPrefix ? `${namespace}:` : undefined;
    this.#serialize = this.keyv.serialize as Serialize | undefined;
    this.#deserialize = this.keyv.deserialize as Deserialize | undefined;
    this.#jsonCompatible = isKeyvDefaultSerializer(this.#serialize) && this.keyv.opts.compression === undefined;
  }

  /** The default ttl of a Keyv instance, so that a cache built on it keeps its expiry policy. */
  static ttlOf(store: StoreOption | undefined): number | undefined {
    return isKeyv(store) && typeof store.ttl === 'number' && store.ttl > 0 ? store.ttl : undefined;
  }

  /** The namespace of a Keyv instance, if `store` is one. */
  static namespaceOf(store: StoreOption | undefined): string | undefined {
    return isKeyv(store) && typeof store.namespace === 'string' && store.namespace.length > 0 ? store.namespace : undefined;
  }

  /**
   * Serializes `value` as the store will, and returns what the store will give back for it, plus the
   * serialized length. Throws whatever the serializer throws.
   */
  async roundTrip(value: V): Promise<{ value: V; size: number }> {
    if (this.#jsonCompatible) {
      // Keyv's default serializer differs from JSON only for Buffers, and native JSON is several times
      // faster than its serializer written in JavaScript; this runs on every write.
      const json = JSON.stringify(value);
      if (json !== undefined && !json.includes('"type":"Buffer"')) return { value: JSON.parse(json) as V, size: json.length };
    }
    if (this.#serialize === undefined) return { value, size: 1 };
    const serialized = await this.#serialize({ value, expires: undefined });
    if (typeof serialized !== 'string') return { value, size: 1 };
    const back = this.#deserialize === undefined ? undefined : ((await this.#deserialize(serialized)) as { value?: V } | undefined);
    return { value: back?.value === undefined ? value : back.value, size: serialized.length };
  }

  async get(key: string): Promise<StoreEntry<V> | undefined> {
    let raw: { value?: V; expires?: number | null } | undefined;
    try {
      raw = (await this.keyv.getRaw(key)) as typeof raw;
    } catch (error) {
      throw new StoreError('get', key, error);
    }
    if (raw === undefined || raw === null || raw.value === undefined) return undefined;
    return { value: raw.value, expires: typeof raw.expires === 'number' ? raw.expires : undefined };
  }

  async getMany(keys: readonly string[]): Promise<(StoreEntry<V> | undefined)[]> {
    // Without an adapter getMany, Keyv's getManyRaw swallows per-key failures (allSettled): read one by one.
    if (typeof (this.keyv.store as KeyvStoreAdapter).getMany !== 'function') {
      return Promise.all(keys.map((key) => this.get(key)));
    }
    let rows: ({ value?: V; expires?: number | null } | undefined)[];
    try {
      rows = (await this.keyv.getManyRaw(keys as string[])) as typeof rows;
    } catch (error) {
      throw new StoreError('getMany', keys, error);
    }
    return keys.map((_, i) => {
      const raw = rows[i];
      if (raw === undefined || raw === null || raw.value === undefined) return undefined;
      return { value: raw.value, expires: typeof raw.expires === 'number' ? raw.expires : undefined };
    });
  }

  async set(key: string, value: V, ttl: number | undefined): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.keyv.set(key, value, ttl ?? 0);
    } catch (error) {
      throw new StoreError('set', key, error);
    }
    if (ok === false) throw new StoreError('set', key, new Error('the store adapter reported that the write was not applied'));
  }

  async setMany(entries: readonly { key: string; value: V; ttl: number | undefined }[]): Promise<void> {
    let results: unknown;
    try {
      results = await this.keyv.setMany(entries.map((e) => ({ key: e.key, value: e.value, ttl: e.ttl ?? 0 })));
    } catch (error) {
      throw new StoreError(
        'setMany',
        entries.map((e) => e.key),
        error,
      );
    }
    // Some adapters' setMany (@keyv/redis) resolve to nothing; only an explicit false is a failure.
    if (!Array.isArray(results)) return;
    const failed = entries.filter((_, i) => results[i] === false).map((e) => e.key);
    if (failed.length > 0) {
      throw new StoreError('setMany', failed, new Error(`the store adapter reported ${failed.length} write(s) not applied`));
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      return await this.keyv.delete(key);
    } catch (error) {
      throw new StoreError('delete', key, error);
    }
  }

  async deleteMany(keys: readonly string[]): Promise<boolean> {
    try {
      return await this.keyv.deleteMany(keys as string[]);
    } catch (error) {
      throw new StoreError('deleteMany', keys, error);
    }
  }

  async has(key: string): Promise<boolean> {
    try {
      return await this.keyv.has(key);
    } catch (error) {
      throw new StoreError('has', key, error);
    }
  }

  /** Gives the adapter up, so that another namespace may use it. */
  release(): void {
    const claim = adapterNamespaces.get(this.#adapter);
    if (claim !== undefined && --claim.users === 0) adapterNamespaces.delete(this.#adapter);
  }

  async clear(): Promise<void> {
    const adapter = this.#adapter;
    if (adapter instanceof Map && this.prefix !== undefined) {
      // Keyv's Map store would clear every namespace in the Map; clear only ours.
      for (const key of [...adapter.keys()]) {
        if (typeof key === 'string' && key.startsWith(this.prefix)) adapter.delete(key);
      }
      return;
    }
    try {
      await this.keyv.clear();
    } catch (error) {
      throw new StoreError('clear', undefined, error);
    }
  }
}
