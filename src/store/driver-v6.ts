import * as keyvModule from 'keyv';
import { type DriverWrite, keyvRedisOf, redisCompareAndSet, redisSetIfAbsent, type StoreDriver, withReportedErrors } from './driver.js';

const Bridge = (keyvModule as unknown as { KeyvBridgeAdapter?: new (...args: never[]) => object }).KeyvBridgeAdapter;

/** The Keyv 6 storage adapter protocol, as `keyv.store` of a Keyv 6 speaks it (native, bridged or in memory). */
interface V6Adapter {
  get(key: string): Promise<unknown>;
  getMany(keys: string[]): Promise<unknown[]>;
  set(key: string, value: unknown, expires?: number): Promise<boolean>;
  setMany(entries: { key: string; value: unknown; expires?: number }[]): Promise<boolean[] | undefined>;
  delete(key: string): Promise<boolean>;
  deleteMany(keys: string[]): Promise<boolean[] | boolean>;
  clear(): Promise<void>;
  iterator?(): AsyncIterable<[unknown, unknown]>;
  /** What the store behind a bridge (or memory adapter) can do. */
  readonly capabilities?: { methods?: { iterator?: { exists?: boolean } } };
}

/** Keys removed per adapter call when clearing the namespace. */
const CLEAR_BATCH = 1_000;

/**
 * The Keyv 6 protocol: the adapter prefixes keys with its namespace itself (`namespace::key`), takes an
 * absolute expiry, and answers booleans. Keyv 6's bridge over a Keyv 5 adapter reports some failures
 * only through its 'error' event (its key-by-key deleteMany), and @keyv/redis 6's clear() swallows its
 * own: batch deletes listen there, and clear() lists and deletes the namespace's keys when it can.
 */
export class KeyvV6Driver implements StoreDriver {
  readonly generation = 6;
  // Every Keyv 6 storage adapter has both; the bridge over a Keyv 5 adapter writes key by key in order.
  readonly batchWrites = true;
  readonly batchDeletes = true;
  readonly #adapter: V6Adapter;
  readonly canList: boolean;
  readonly setIfAbsent?: (write: DriverWrite) => Promise<boolean>;
  readonly compareAndSet?: (write: DriverWrite, expected: unknown) => Promise<boolean>;

  constructor(adapter: unknown) {
    this.#adapter = adapter as V6Adapter;
    const redis = keyvRedisOf(adapter);
    if (redis !== undefined) {
      this.setIfAbsent = (write) => redisSetIfAbsent(redis, write.k, write.stored, write.ttl);
      this.compareAndSet = (write, expected) => redisCompareAndSet(redis, write.k, expected, write.stored, write.ttl);
    }
    // Keyv 6's bridge over a Keyv 5 adapter always has iterator(), listing nothing when the adapter
    // behind it cannot; its capabilities say which (they describe that adapter).
    const bridged = Bridge !== undefined && this.#adapter instanceof Bridge;
    this.canList =
      typeof this.#adapter.iterator === 'function' && (!bridged || this.#adapter.capabilities?.methods?.iterator?.exists === true);
  }

  get(k: string): Promise<unknown> {
    return this.#adapter.get(k);
  }

  getMany(ks: readonly string[]): Promise<unknown[]> {
    return withReportedErrors(this.#adapter, () => this.#adapter.getMany([...ks]));
  }

  set(write: DriverWrite): Promise<boolean> {
    return this.#adapter.set(write.k, write.stored, write.expires);
  }

  async setMany(writes: readonly DriverWrite[]): Promise<readonly (boolean | undefined)[]> {
    const results = await withReportedErrors(this.#adapter, () =>
      this.#adapter.setMany(writes.map((w) => ({ key: w.k, value: w.stored, ...(w.expires === undefined ? {} : { expires: w.expires }) }))),
    );
    return Array.isArray(results) ? results : writes.map(() => undefined);
  }

  delete(k: string): Promise<boolean> {
    return this.#adapter.delete(k);
  }

  async deleteMany(ks: readonly string[]): Promise<boolean> {
    const results = await withReportedErrors(this.#adapter, () => this.#adapter.deleteMany([...ks]));
    return Array.isArray(results) ? results.every(Boolean) : results !== false;
  }

  async clear(): Promise<void> {
    const adapter = this.#adapter;
    if (!this.canList) {
      await withReportedErrors(adapter, () => adapter.clear());
      return;
    }
    // Collected first: deleting while a store cursor (Redis SCAN) is open may skip keys.
    const keys: string[] = [];
    for await (const [key] of adapter.iterator?.() ?? []) if (typeof key === 'string') keys.push(key);
    for (let i = 0; i < keys.length; i += CLEAR_BATCH) await this.deleteMany(keys.slice(i, i + CLEAR_BATCH));
  }

  iterate(): AsyncIterator<[string, unknown]> {
    const adapter = this.#adapter;
    async function* walk(): AsyncGenerator<[string, unknown], void> {
      for await (const [key, raw] of adapter.iterator?.() ?? []) if (typeof key === 'string') yield [key, raw];
    }
    return walk();
  }
}
