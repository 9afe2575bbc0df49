import type { KeyvStoreAdapter } from 'keyv';
import {
  type Adapter,
  type DriverWrite,
  keyvRedisOf,
  redisCompareAndSet,
  redisSetIfAbsent,
  type StoreDriver,
  withReportedErrors,
} from './driver.js';
import type { KeyRules } from './keys.js';

type Iterate = (namespace?: string) => AsyncIterable<[unknown, unknown]>;

/**
 * The Keyv 5 adapter protocol: Keyv prefixes keys with `namespace:` and sets the adapter's namespace
 * (which @keyv/redis prefixes again and scopes clear() with); ttls are relative milliseconds; adapters
 * answer `true`, nothing, or (a Map) themselves, so only an explicit `false` is a failure.
 */
export class KeyvV5Driver implements StoreDriver {
  readonly generation = 5;
  readonly #adapter: Adapter;
  readonly #keys: KeyRules;

  readonly setIfAbsent?: (write: DriverWrite) => Promise<boolean>;
  readonly compareAndSet?: (write: DriverWrite, expected: unknown) => Promise<boolean>;

  constructor(adapter: Adapter, keys: KeyRules) {
    this.#adapter = adapter;
    this.#keys = keys;
    const redis = keyvRedisOf(adapter);
    if (redis !== undefined) {
      this.setIfAbsent = (write) => redisSetIfAbsent(redis, this.#keys.toStore(write.k), write.stored, write.ttl);
      this.compareAndSet = (write, expected) => redisCompareAndSet(redis, this.#keys.toStore(write.k), expected, write.stored, write.ttl);
    }
  }

  get canList(): boolean {
    return this.#adapter instanceof Map || typeof (this.#adapter as { iterator?: unknown }).iterator === 'function';
  }

  get(k: string): Promise<unknown> {
    return Promise.resolve(this.#adapter.get(this.#keys.toStore(k)));
  }

  async getMany(ks: readonly string[]): Promise<unknown[]> {
    const adapter = this.#adapter;
    const keys = ks.map((k) => this.#keys.toStore(k));
    if (typeof (adapter as KeyvStoreAdapter).getMany === 'function' && !(adapter instanceof Map)) {
      return (adapter as Required<KeyvStoreAdapter>).getMany(keys);
    }
    return Promise.all(keys.map((key) => adapter.get(key)));
  }

  async set(write: DriverWrite): Promise<boolean> {
    return (await this.#adapter.set(this.#keys.toStore(write.k), write.stored, write.ttl)) !== false;
  }

  async setMany(writes: readonly DriverWrite[]): Promise<readonly (boolean | undefined)[]> {
    const adapter = this.#adapter as Required<KeyvStoreAdapter>;
    const results = await adapter.setMany(writes.map((w) => ({ key: this.#keys.toStore(w.k), value: w.stored, ttl: w.ttl })));
    // Some adapters' setMany (@keyv/redis) resolve to nothing; only an explicit false is a failure.
    return Array.isArray(results) ? results.map((r) => r !== false) : writes.map(() => undefined);
  }

  get batchWrites(): boolean {
    const adapter = this.#adapter as KeyvStoreAdapter;
    return !(adapter instanceof Map) && typeof adapter.setMany === 'function';
  }

  async delete(k: string): Promise<boolean> {
    return (await this.#adapter.delete(this.#keys.toStore(k))) !== false;
  }

  async deleteMany(ks: readonly string[]): Promise<boolean> {
    return (await (this.#adapter as Required<KeyvStoreAdapter>).deleteMany(ks.map((k) => this.#keys.toStore(k)))) !== false;
  }

  get batchDeletes(): boolean {
    const adapter = this.#adapter as KeyvStoreAdapter;
    return !(adapter instanceof Map) && typeof adapter.deleteMany === 'function';
  }

  async clear(): Promise<void> {
    const adapter = this.#adapter;
    const prefix = this.#keys.prefix;
    if (adapter instanceof Map) {
      // Keyv's Map store would clear every namespace in the Map; clear only ours.
      if (prefix === undefined) adapter.clear();
      else for (const key of [...adapter.keys()]) if (typeof key === 'string' && key.startsWith(prefix)) adapter.delete(key);
      return;
    }
    // @keyv/redis resolves clear() whatever happened (throwOnErrors notwithstanding) and reports the
    // failure only through its 'error' event.
    await withReportedErrors(adapter, () => Promise.resolve(adapter.clear()));
  }

  iterate(): AsyncIterator<[string, unknown]> {
    const adapter = this.#adapter;
    const keys = this.#keys;
    async function* walk(): AsyncGenerator<[string, unknown], void> {
      const source: AsyncIterable<[unknown, unknown]> | Iterable<[unknown, unknown]> =
        adapter instanceof Map
          ? [...adapter.entries()]
          : (adapter as { iterator: Iterate }).iterator((adapter as { namespace?: string }).namespace);
      for await (const [storeKey, raw] of source) {
        if (typeof storeKey !== 'string') continue;
        const k = keys.fromStore(storeKey);
        if (k !== undefined) yield [k, raw];
      }
    }
    return walk();
  }
}
