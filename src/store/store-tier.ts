import type { Keyv, KeyvStoreAdapter } from 'keyv';
import type { Entry } from '../entry/entry.js';
import { StoreError } from '../errors.js';
import type { OpenedStore } from './adapter.js';
import type { StoreCalls, StoreOperation } from './calls.js';
import type { KeyRules } from './keys.js';
import { type Prepared, RecordCodec } from './record.js';

/** One entry of a batch write, prepared. */
export interface StoreWrite<V> {
  k: string;
  prepared: Prepared<V>;
  ttl: number | undefined;
}

type Adapter = KeyvStoreAdapter | Map<unknown, unknown>;
type Iterate = (namespace?: string) => AsyncIterable<[unknown, unknown]>;

function settledFailures(results: PromiseSettledResult<unknown>[], keys: readonly string[]): { keys: string[]; first: unknown } {
  const failed: string[] = [];
  let first: unknown;
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      if (failed.length === 0) first = result.reason;
      failed.push(keys[i] as string);
    } else if (result.value === false) {
      if (failed.length === 0) first = new Error('the store adapter reported that the write was not applied');
      failed.push(keys[i] as string);
    }
  });
  return { keys: failed, first };
}

/**
 * The persistent tier (L2): a facade over the Keyv store adapter, every call through {@link StoreCalls}.
 *
 * It talks to the adapter directly, with Keyv's own key rules and record encoding, rather than through
 * Keyv's API, because of what Keyv does behind a caller's back: its reads delete the expired entries they
 * find (unfenced and unannounced, so a write landing between the read and the delete is lost), its
 * batch writes without adapter batch methods reject on the first failure while the other writes are still
 * in flight, and Keyv 6 swallows adapter errors altogether. Here an expired entry is a miss and nothing
 * else, and a batch settles whole before it reports.
 */
export class StoreTier<V> {
  /** A Keyv over the same adapter and namespace. */
  readonly keyv: Keyv;
  readonly #adapter: Adapter;
  readonly #keys: KeyRules;
  readonly #codec: RecordCodec<V>;
  readonly #calls: StoreCalls;
  readonly #release: () => void;

  constructor(opened: OpenedStore, keys: KeyRules, calls: StoreCalls) {
    this.keyv = opened.keyv;
    this.#adapter = opened.adapter;
    this.#keys = keys;
    this.#codec = new RecordCodec<V>(opened.codec);
    this.#calls = calls;
    this.#release = opened.release;
  }

  /** True when the store can list its keys (`keys()`, `entries()`). */
  get canList(): boolean {
    return this.#adapter instanceof Map || typeof (this.#adapter as { iterator?: unknown }).iterator === 'function';
  }

  /** Encodes `value` for the store and gives back what every process will read; throws a TypeError naming `key`. */
  prepare(key: string, value: V, expires: number | undefined): Promise<Prepared<V>> {
    return this.#codec.prepare(key, value, expires);
  }

  /** The live entry of canonical key `k`, or undefined (absent, expired, or not a value). */
  async get(k: string): Promise<(Entry<V> & { size: number }) | undefined> {
    const raw = await this.#calls.run('get', k, () => this.#adapter.get(this.#keys.toStore(k)));
    return this.#live('get', k, raw, Date.now());
  }

  /** The live entries of `ks`, aligned; one adapter call when the adapter has `getMany`. */
  async getMany(ks: readonly string[]): Promise<((Entry<V> & { size: number }) | undefined)[]> {
    const adapter = this.#adapter;
    const storeKeys = ks.map((k) => this.#keys.toStore(k));
    const rows = await this.#calls.run('getMany', ks, () =>
      typeof (adapter as KeyvStoreAdapter).getMany === 'function' && !(adapter instanceof Map)
        ? (adapter as Required<KeyvStoreAdapter>).getMany(storeKeys)
        : Promise.all(storeKeys.map((key) => adapter.get(key))),
    );
    const now = Date.now();
    return Promise.all(ks.map((k, i) => this.#live('getMany', k, (rows as unknown[])[i], now)));
  }

  async #live(operation: StoreOperation, k: string, raw: unknown, now: number): Promise<(Entry<V> & { size: number }) | undefined> {
    let entry: Entry<V> | undefined;
    try {
      entry = await this.#codec.decode(raw);
    } catch (error) {
      throw new StoreError(
        operation,
        k,
        new Error(`the stored value cannot be decoded: ${(error as Error)?.message ?? error}`, { cause: error }),
      );
    }
    if (entry === undefined || (entry.expires !== undefined && entry.expires <= now)) return undefined;
    return { value: entry.value, expires: entry.expires, size: typeof raw === 'string' ? raw.length : 1 };
  }

  /** True when `k` holds a live entry (an expired record the store still keeps is not one). */
  async has(k: string): Promise<boolean> {
    const raw = await this.#calls.run('has', k, () => this.#adapter.get(this.#keys.toStore(k)));
    return (await this.#live('has', k, raw, Date.now())) !== undefined;
  }

  async set(k: string, prepared: Prepared<V>, ttl: number | undefined): Promise<void> {
    const ok = await this.#calls.run('set', k, () => this.#adapter.set(this.#keys.toStore(k), prepared.stored, ttl));
    // Adapters answer true, nothing, or (a Map) themselves; only an explicit false is a failure.
    if (ok === false) throw new StoreError('set', k, new Error('the store adapter reported that the write was not applied'));
  }

  /**
   * Writes every entry; with the adapter's own `setMany` in one call, else one call per entry, all settled
   * before this settles (so that the announcement that follows comes after the last write that may land).
   */
  async setMany(writes: readonly StoreWrite<V>[]): Promise<void> {
    const adapter = this.#adapter as KeyvStoreAdapter;
    const ks = writes.map((w) => w.k);
    if (typeof adapter.setMany === 'function' && !(adapter instanceof Map)) {
      const results = await this.#calls.run('setMany', ks, () =>
        (adapter as Required<KeyvStoreAdapter>).setMany(
          writes.map((w) => ({ key: this.#keys.toStore(w.k), value: w.prepared.stored, ttl: w.ttl })),
        ),
      );
      const failed = Array.isArray(results) ? ks.filter((_, i) => results[i] === false) : [];
      if (failed.length > 0)
        throw new StoreError('setMany', failed, new Error(`the store adapter reported ${failed.length} write(s) not applied`));
      return;
    }
    const results = await Promise.allSettled(
      writes.map((w) => this.#calls.run('set', w.k, () => this.#adapter.set(this.#keys.toStore(w.k), w.prepared.stored, w.ttl))),
    );
    const failed = settledFailures(results, ks);
    if (failed.keys.length > 0) throw new StoreError('setMany', failed.keys, failed.first);
  }

  /** Deletes `k`; resolves to whether the store held it. */
  delete(k: string): Promise<boolean> {
    return this.#calls.run('delete', k, async () => (await this.#adapter.delete(this.#keys.toStore(k))) !== false);
  }

  /** Deletes `ks`, all settled before this settles; resolves to true when every key existed (as Keyv does). */
  async deleteMany(ks: readonly string[]): Promise<boolean> {
    const adapter = this.#adapter as KeyvStoreAdapter;
    const storeKeys = ks.map((k) => this.#keys.toStore(k));
    if (typeof adapter.deleteMany === 'function' && !(adapter instanceof Map)) {
      return this.#calls.run('deleteMany', ks, async () => (await (adapter as Required<KeyvStoreAdapter>).deleteMany(storeKeys)) !== false);
    }
    const results = await Promise.allSettled(storeKeys.map((key, i) => this.#calls.run('delete', ks[i], () => this.#adapter.delete(key))));
    const failed = settledFailures(
      results.map((r) => (r.status === 'fulfilled' ? { status: 'fulfilled', value: true } : r)),
      ks,
    );
    if (failed.keys.length > 0) throw new StoreError('deleteMany', failed.keys, failed.first);
    return results.every((r) => r.status === 'fulfilled' && r.value !== false);
  }

  /**
   * Empties the namespace. An adapter that reports a failed clear only through its 'error' event
   * (@keyv/redis resolves `clear()` whatever happened, `throwOnErrors` notwithstanding) fails the call.
   */
  async clear(): Promise<void> {
    const adapter = this.#adapter;
    const prefix = this.#keys.prefix;
    if (adapter instanceof Map) {
      // Keyv's Map store would clear every namespace in the Map; clear only ours.
      if (prefix === undefined) adapter.clear();
      else for (const key of [...adapter.keys()]) if (typeof key === 'string' && key.startsWith(prefix)) adapter.delete(key);
      return;
    }
    const events = adapter as {
      on?: (event: 'error', listener: (error: unknown) => void) => unknown;
      off?: (event: 'error', listener: (error: unknown) => void) => unknown;
    };
    let reported: unknown;
    let failed = false;
    const listener = (error: unknown) => {
      if (!failed) reported = error;
      failed = true;
    };
    const listening = typeof events.on === 'function' && typeof events.off === 'function';
    if (listening) events.on?.('error', listener);
    try {
      await this.#calls.run('clear', undefined, () => adapter.clear());
    } finally {
      if (listening) events.off?.('error', listener);
    }
    if (failed) throw new StoreError('clear', undefined, reported instanceof Error ? reported : new Error(String(reported)));
  }

  /**
   * The live entries of the namespace, as `[canonical key, entry]`, straight from the adapter (Keyv's own
   * iterator deletes the expired entries it meets). Every step goes through the call chain.
   */
  async *entries(): AsyncGenerator<[string, Entry<V>], void> {
    const adapter = this.#adapter;
    let source: AsyncIterator<[unknown, unknown]> | Iterator<[unknown, unknown]>;
    if (adapter instanceof Map) {
      source = [...adapter.entries()][Symbol.iterator]();
    } else {
      const iterate = (adapter as { iterator?: Iterate }).iterator;
      if (typeof iterate !== 'function')
        throw new TypeError('synced-cache: the store cannot list its keys (its Keyv adapter has no iterator())');
      source = iterate.call(adapter, (adapter as { namespace?: string }).namespace)[Symbol.asyncIterator]();
    }
    for (;;) {
      const step = await this.#calls.run('iterate', undefined, () => source.next());
      if (step.done === true) return;
      const [storeKey, raw] = step.value;
      if (typeof storeKey !== 'string') continue;
      const k = this.#keys.fromStore(storeKey);
      if (k === undefined) continue;
      const entry = await this.#live('iterate', k, raw, Date.now());
      if (entry !== undefined) yield [k, { value: entry.value, expires: entry.expires }];
    }
  }

  /** Gives the adapter up, so that another namespace may use it. */
  release(): void {
    this.#release();
  }
}
